// Small DOM helpers shared by the views: building elements without innerHTML (so no markup
// from data is ever parsed), tables, and the refusal and error notices.

/** An element `tag` with attributes/properties `props` and children (strings become text). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A table with header `columns` ([label, class]) and `rows` (arrays of cells). */
export function table(id, columns, rows) {
  return el("div", { class: "table-wrap" },
    el("table", { id },
      el("thead", {}, el("tr", {}, columns.map(([label, cls]) => el("th", { scope: "col", class: cls }, label)))),
      el("tbody", {}, rows)));
}

/** Replaces the main area with `children`, focusing it so keyboard users start there. */
export function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
}

/** The notice an error deserves: a refusal page for 403, the message otherwise. */
export function failure(error) {
  if (error.status === 403) {
    return el("div", { class: "alert", id: "refused", role: "alert" },
      el("strong", {}, "Refused. "),
      "This page needs a caller with the admin role. ",
      el("span", { class: "muted" }, `(${error.code}: ${error.message})`));
  }
  return el("div", { class: "alert", role: "alert", id: "error" }, `${error.code || "error"}: ${error.message}`);
}

/** A UTC timestamp as `YYYY-MM-DD HH:MM:SS`. */
export function utc(text) {
  return text ? text.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "–";
}

/** An export link carrying the session cookie (a same-origin GET), downloaded as `file`. */
export function exportLink(id, href, label, file) {
  return el("a", { id, class: "button", href, download: file }, label);
}
