// Callers: the members table with filters, create (the key shown once, with a copy button),
// change cap/role/priority, rotate the key, delete with a confirmation, CSV export.

import { call } from "./api.js";
import { el, show, table, utc, exportLink } from "./ui.js";

const ROLES = ["user", "admin"];
const KINDS = ["service", "person"];
const PRIORITIES = ["interactive", "bulk"];

function choice(name, values, selected, blank) {
  return el("select", { name, id: name },
    blank ? el("option", { value: "" }, blank) : null,
    values.map((v) => el("option", { value: v, selected: v === selected }, v)));
}

function capValue(text) {
  const trimmed = text.trim();
  return trimmed === "" ? null : Number(trimmed);
}

/** A modal dialog holding `content`; resolves when it closes, with its return value. */
function dialog(id, content) {
  const box = el("dialog", { id }, content);
  document.body.append(box);
  box.addEventListener("close", () => box.remove());
  box.showModal();
  return box;
}

function keyPanel(title, caller, key) {
  const copy = el("button", { type: "button", id: "copy-key" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(key);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select the key and copy it";
    }
  });
  return el("div", { class: "note", id: "new-key-panel", role: "status" },
    el("strong", {}, `${title} ${caller}. `),
    "The key is shown this once; store it now.",
    el("div", { class: "row" }, el("code", { class: "key", id: "new-key" }, key), copy));
}

export async function callers() {
  const list = await call("GET", "/v1/admin/callers");
  const notice = el("div", { id: "callers-notice" });
  const text = el("input", { id: "caller-filter", type: "search", placeholder: "id or description" });
  const role = choice("role-filter", ROLES, "", "any role");
  const kind = choice("kind-filter", KINDS, "", "any kind");
  const body = el("tbody");

  const refresh = async (message) => {
    const fresh = await call("GET", "/v1/admin/callers");
    list.callers = fresh.callers;
    render();
    notice.replaceChildren(message || "");
  };

  const row = (c) => el("tr", { id: `caller-${c.id}`, dataset: { id: c.id } },
    el("td", {}, c.id, c.description ? el("div", { class: "muted" }, c.description) : null),
    el("td", {}, c.kind),
    el("td", { class: "role" }, c.role),
    el("td", {}, c.priority),
    el("td", { class: "num cap" }, c.daily_cap ?? "none"),
    el("td", { class: "num used" }, c.used_today),
    el("td", {}, utc(c.last_seen_at)),
    el("td", { class: "actions" }, c.source === "config"
      ? el("span", { class: "muted" }, "from config")
      : [
        el("button", { type: "button", class: "edit", onclick: () => edit(c) }, "Change"),
        el("button", { type: "button", class: "rotate", onclick: () => rotate(c) }, "Rotate key"),
        el("button", { type: "button", class: "danger delete", onclick: () => remove(c) }, "Delete"),
      ]));

  const render = () => {
    const needle = text.value.trim().toLowerCase();
    const shown = list.callers.filter((c) =>
      (!needle || c.id.includes(needle) || (c.description || "").toLowerCase().includes(needle))
      && (!role.value || c.role === role.value)
      && (!kind.value || c.kind === kind.value));
    body.replaceChildren(...shown.map(row));
  };

  const edit = (c) => {
    const cap = el("input", { name: "daily_cap", id: "edit-cap", inputmode: "numeric", value: c.daily_cap ?? "" });
    const r = choice("edit-role", ROLES, c.role);
    const p = choice("edit-priority", PRIORITIES, c.priority);
    const error = el("div");
    const form = el("form", { method: "dialog", class: "row" },
      el("h2", {}, `Change ${c.id}`),
      el("label", {}, "Daily cap (empty: none)", cap),
      el("label", {}, "Role", r),
      el("label", {}, "Priority", p),
      el("button", { class: "primary", id: "save-caller", value: "save" }, "Save"),
      el("button", { value: "cancel", formnovalidate: true }, "Cancel"),
      error);
    const box = dialog("edit-dialog", form);
    form.addEventListener("submit", async (event) => {
      if (event.submitter && event.submitter.value === "cancel") return;
      event.preventDefault();
      try {
        await call("PATCH", `/v1/admin/callers/${encodeURIComponent(c.id)}`,
          { daily_cap: capValue(cap.value), role: r.value, priority: p.value });
        box.close();
        await refresh(el("div", { class: "note", role: "status" }, `Saved ${c.id}.`));
      } catch (e) {
        error.replaceChildren(el("div", { class: "alert", role: "alert" }, `${e.code}: ${e.message}`));
      }
    });
    cap.focus();
  };

  const confirmThen = (id, question, label, act) => {
    const form = el("form", { method: "dialog" },
      el("p", {}, question),
      el("div", { class: "row" },
        el("button", { class: "danger", id: `${id}-confirm`, value: "yes" }, label),
        el("button", { value: "no", autofocus: true }, "Cancel")));
    const box = dialog(id, form);
    box.addEventListener("close", () => { if (box.returnValue === "yes") act(); });
  };

  const rotate = (c) => confirmThen("rotate-dialog", `Rotate the key of ${c.id}? Its current key stops working now.`,
    "Rotate", async () => {
      try {
        const answer = await call("POST", `/v1/admin/callers/${encodeURIComponent(c.id)}/keys`);
        await refresh(keyPanel("New key for", c.id, answer.key));
      } catch (e) {
        notice.replaceChildren(el("div", { class: "alert", role: "alert" }, `${e.code}: ${e.message}`));
      }
    });

  const remove = (c) => confirmThen("delete-dialog", `Delete ${c.id}? Its keys stop working now.`,
    "Delete", async () => {
      try {
        await call("DELETE", `/v1/admin/callers/${encodeURIComponent(c.id)}`);
        await refresh(el("div", { class: "note", role: "status" }, `Deleted ${c.id}.`));
      } catch (e) {
        notice.replaceChildren(el("div", { class: "alert", role: "alert" }, `${e.code}: ${e.message}`));
      }
    });

  const newId = el("input", { name: "id", id: "new-id", required: true, pattern: "[a-z0-9][a-z0-9_.\\-]{0,63}" });
  const newCap = el("input", { name: "daily_cap", id: "new-cap", inputmode: "numeric" });
  const newRole = choice("new-role", ROLES, "user");
  const newKind = choice("new-kind", KINDS, "service");
  const newPriority = choice("new-priority", PRIORITIES, "interactive");
  const create = el("form", { id: "create-caller", class: "row panel" },
    el("label", {}, "Id", newId),
    el("label", {}, "Role", newRole),
    el("label", {}, "Kind", newKind),
    el("label", {}, "Priority", newPriority),
    el("label", {}, "Daily cap", newCap),
    el("button", { class: "primary", id: "create-button" }, "Create caller"));
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await call("POST", "/v1/admin/callers", {
        id: newId.value.trim(), role: newRole.value, kind: newKind.value,
        priority: newPriority.value, daily_cap: capValue(newCap.value),
      });
      create.reset();
      await refresh(keyPanel("Created", answer.caller.id, answer.key));
    } catch (e) {
      notice.replaceChildren(el("div", { class: "alert", role: "alert" }, `${e.code}: ${e.message}`));
    }
  });

  for (const input of [text, role, kind]) {
    input.addEventListener("input", render);
    input.addEventListener("change", render);
  }
  render();
  show(
    el("h1", {}, "Callers"),
    create,
    notice,
    el("div", { class: "row" },
      el("label", {}, "Filter", text), el("label", {}, "Role", role), el("label", {}, "Kind", kind),
      exportLink("export-callers", "/v1/admin/callers?format=csv", "Export CSV", "callers.csv")),
    table("callers-table", [["Id"], ["Kind"], ["Role"], ["Priority"], ["Daily cap", "num"],
      ["Used today", "num"], ["Last seen (UTC)"], ["Actions"]], []));
  document.querySelector("#callers-table tbody").replaceWith(body);
}
