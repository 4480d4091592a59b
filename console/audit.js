// Audit log: the entries with the seed's columns, filters by date range, actor, action and
// target, details on demand, pages, and CSV / JSON Lines exports of the current filters.

import { call, query } from "./api.js";
import { el, show, table, utc, exportLink } from "./ui.js";

/** A `datetime-local` value (read as UTC) as RFC 3339, or "". */
function rfc3339(value) {
  return value ? `${value.length === 16 ? `${value}:00` : value}Z` : "";
}

function input(id, label, props = {}) {
  const field = el("input", { id, name: id, ...props });
  return [field, el("label", {}, label, field)];
}

export async function audit() {
  const [from, fromLabel] = input("audit-from", "From (UTC)", { type: "datetime-local" });
  const [to, toLabel] = input("audit-to", "To (UTC)", { type: "datetime-local" });
  const [actor, actorLabel] = input("audit-actor", "Actor");
  const [action, actionLabel] = input("audit-action", "Action", { placeholder: "caller.updated" });
  const [targetType, targetTypeLabel] = input("audit-target-type", "Target type");
  const [targetId, targetIdLabel] = input("audit-target-id", "Target id");
  const csv = exportLink("export-audit-csv", "#", "Export CSV", "audit.csv");
  const jsonl = exportLink("export-audit-jsonl", "#", "Export JSON Lines", "audit.jsonl");
  const body = el("tbody");
  const status = el("p", { class: "muted", id: "audit-status", role: "status" });
  const more = el("button", { type: "button", id: "audit-more", hidden: true }, "Older entries");
  let cursor = null;

  const filters = () => ({
    from: rfc3339(from.value), to: rfc3339(to.value), actor: actor.value.trim(),
    action: action.value.trim(), target_type: targetType.value.trim(), target_id: targetId.value.trim(),
  });

  const row = (e) => {
    const details = el("pre", { class: "details", hidden: true }, JSON.stringify(e.details, null, 2));
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false" }, "Details");
    toggle.addEventListener("click", () => {
      details.hidden = !details.hidden;
      toggle.setAttribute("aria-expanded", String(!details.hidden));
    });
    return el("tr", { dataset: { action: e.action, target: e.target_id || "" } },
      el("td", {}, utc(e.timestamp)), el("td", { class: "actor" }, e.actor), el("td", {}, e.source_ip || "–"),
      el("td", {}, e.target_type || "–"), el("td", { class: "target" }, e.target_id || "–"),
      el("td", { class: "action" }, e.action), el("td", {}, toggle, details));
  };

  const load = async (append) => {
    const asked = filters();
    csv.href = `/v1/admin/audit${query({ ...asked, limit: 1000, format: "csv" })}`;
    jsonl.href = `/v1/admin/audit${query({ ...asked, limit: 1000, format: "jsonl" })}`;
    const page = await call("GET", `/v1/admin/audit${query({ ...asked, cursor: append ? cursor : "" })}`);
    const rows = page.entries.map(row);
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = `${body.children.length} entries shown${cursor ? "; older ones on the next page" : ""}.`;
  };

  const form = el("form", { id: "audit-filters", class: "row panel" },
    fromLabel, toLabel, actorLabel, actionLabel, targetTypeLabel, targetIdLabel,
    el("button", { class: "primary", id: "audit-apply" }, "Apply"));
  const error = el("div");
  const guarded = (append) => load(append).then(() => error.replaceChildren(), (e) => {
    if (e.status === 401) window.dispatchEvent(new Event("console-expired"));
    else error.replaceChildren(el("div", { class: "alert", role: "alert" }, `${e.code}: ${e.message}`));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(false);
  });
  more.addEventListener("click", () => guarded(true));

  await load(false);
  show(
    el("h1", {}, "Audit log"),
    form, error,
    el("div", { class: "row" }, csv, jsonl),
    status,
    table("audit-table", [["Time (UTC)"], ["Actor"], ["Source IP"], ["Target type"], ["Target id"],
      ["Action"], ["Details"]], []),
    more);
  document.querySelector("#audit-table tbody").replaceWith(body);
}
