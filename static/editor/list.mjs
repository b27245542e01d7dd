import { request, errorText } from "../common/api.mjs";

const form = document.getElementById("new-topology");
form?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = document.getElementById("new-topology-name").value.trim();
  const result = await request("POST", "/api/topologies/", { name });
  if (!result.ok) {
    document.getElementById("new-topology-error").textContent = errorText(result);
    return;
  }
  window.location.href = `/topologies/${result.data.id}/edit/`;
});
