// The two DOM helpers every editor module uses: one definition so the attribute rules
// (text, on* listeners, boolean attributes) cannot drift between panels.

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}
