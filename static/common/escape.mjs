// HTML escaping for the few places that build markup as text (the live table's rows, the
// monitor's tables and topology drawing): every value from a report or a view row goes
// through it, since rows and reports may carry any text.

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}
