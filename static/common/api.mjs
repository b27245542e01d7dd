// fetch with the session cookie and Django's CSRF token; answers come back as
// {ok, status, data} so callers can show the server's own error text.

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta?.content) return meta.content;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function request(method, url, body) {
  const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    return { ok: false, status: 0, data: { detail: `Network error: ${error.message}` } };
  }
  let data = null;
  const text = await response.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 500) };
  }
  return { ok: response.ok, status: response.status, data };
}

/** The server's error as one readable line (ninja detail string or field error list). */
export function errorText(result) {
  const detail = result?.data?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${d.path ?? (d.loc ?? []).join(".")}: ${d.msg}`).join("; ");
  if (result?.data?.issues?.length) return result.data.issues.map((i) => i.message).join("; ");
  return `HTTP ${result?.status}`;
}
