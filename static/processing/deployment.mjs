// One deployment's page: the buttons call the REST API (the only write path) and the page
// re-renders from the API's answer, then keeps polling it so status changes made by the
// supervisor show up without a reload.
import { request } from "../common/api.mjs";

const POLL_MS = 2000;
const root = document.getElementById("deployment");
const apiUrl = root.dataset.apiUrl;
const message = document.getElementById("action-message");
const buttons = [...document.querySelectorAll("#deployment-actions button[data-action]")];
const scaleInput = document.getElementById("scale-instances");

/** The API's refusal ({code, message, field}) or ninja's validation detail, as one line. */
function errorText(result) {
  const data = result.data || {};
  if (typeof data.message === "string" && data.message) return data.field ? `${data.field}: ${data.message}` : data.message;
  if (typeof data.detail === "string") return data.detail;
  if (Array.isArray(data.detail)) return data.detail.map((d) => `${(d.loc || []).slice(-1)[0] ?? ""}: ${d.msg}`).join("; ");
  return `HTTP ${result.status}`;
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function badge(status) {
  const span = document.createElement("span");
  span.className = `badge status-${status}`;
  span.dataset.status = status;
  span.textContent = status;
  return span;
}

function emptyRow(columns, text) {
  const tr = document.createElement("tr");
  tr.className = "empty";
  const td = cell(text, "muted");
  td.colSpan = columns;
  tr.append(td);
  return tr;
}

function instanceRow(instance) {
  const tr = document.createElement("tr");
  tr.dataset.slot = instance.slot;
  const status = document.createElement("td");
  status.append(badge(instance.status));
  const partitions = instance.partitions.length ? instance.partitions.map(([t, p]) => `${t}-${p}`).join(" ") : "none";
  const age = instance.heartbeat_age_seconds == null ? "—" : `${instance.heartbeat_age_seconds} s`;
  tr.append(
    cell(String(instance.slot)),
    cell(String(instance.epoch)),
    status,
    cell(instance.worker_host || "—"),
    cell(instance.pid == null ? "—" : String(instance.pid)),
    cell(partitions, "partitions"),
    cell(age, "heartbeat-age"),
    cell(instance.error || "", "error"),
  );
  return tr;
}

function eventRow(event) {
  const tr = document.createElement("tr");
  const when = document.createElement("td");
  const time = document.createElement("time");
  time.dateTime = event.at;
  time.textContent = new Date(event.at).toISOString().replace("T", " ").slice(0, 19);
  when.append(time);
  tr.append(when, cell(event.kind), cell(event.actor ?? "supervisor"), cell(event.message));
  return tr;
}

function render(d) {
  document.getElementById("deployment-status").replaceChildren(badge(d.status));
  document.getElementById("desired-state").textContent = d.desired_state;
  document.getElementById("wanted-count").textContent = d.instances;
  document.getElementById("running-count").textContent = d.instance_list.filter((i) => i.live && i.status === "running").length;
  document.getElementById("restart-count").textContent = d.restart_count;
  const lastError = document.getElementById("last-error");
  lastError.textContent = d.last_error;
  lastError.hidden = !d.last_error;
  const warning = document.getElementById("parallelism-warning");
  warning.textContent = d.parallelism.warning || "";
  warning.hidden = !d.parallelism.warning;
  const instances = d.instance_list.map(instanceRow);
  document.getElementById("instance-rows").replaceChildren(...(instances.length ? instances : [emptyRow(8, "No instances yet.")]));
  const events = d.events.map(eventRow);
  document.getElementById("event-rows").replaceChildren(...(events.length ? events : [emptyRow(4, "No events.")]));
  root.dataset.status = d.status;
  root.dataset.desiredState = d.desired_state;
}

function say(kind, text) {
  message.dataset.kind = kind;
  message.textContent = text;
  message.hidden = false;
}

async function act(action) {
  const body = action === "scale" ? { instances: Number(scaleInput.value) } : undefined;
  buttons.forEach((b) => (b.disabled = true));
  const result = await request("POST", `${apiUrl}/${action}`, body ?? {});
  buttons.forEach((b) => (b.disabled = false));
  if (!result.ok) {
    say("error", errorText(result));
    return;
  }
  say("ok", `${action}: done`);
  render(result.data);
}

let polling = false;
async function poll() {
  if (polling || document.hidden) return;
  polling = true;
  try {
    const result = await request("GET", apiUrl);
    if (result.ok) render(result.data);
  } finally {
    polling = false;
  }
}

buttons.forEach((button) => button.addEventListener("click", () => act(button.dataset.action)));
setInterval(poll, POLL_MS);
root.dataset.ready = "true";
