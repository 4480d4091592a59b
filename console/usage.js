// Usage: VirusTotal calls per day for the last 30 days stacked by caller (an SVG drawn from
// the data, no chart library), consumption by endpoint for a chosen day, consuming vs not
// consuming, CSV export. A `user` caller's answer holds only itself.

import { call } from "./api.js";
import { el, show, table, exportLink } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
// Distinguishable in light and dark mode alike.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** VirusTotal calls of a row (its counters are flattened into it) or of a total. */
function calls(counts) {
  return counts.consuming.virustotal_calls;
}

/** Every UTC day from `start` to `end` (`YYYYMMDD`), so days without calls still get a slot. */
function dates(start, end) {
  const parse = (d) => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)));
  const out = [];
  for (let t = parse(start); t <= parse(end); t += 86400000) {
    out.push(new Date(t).toISOString().slice(0, 10).replaceAll("-", ""));
  }
  return out;
}

function chart(report, colors) {
  const width = 900, height = 260, left = 40, bottom = 24;
  const byDate = new Map(report.days.map((day) => [day.date, day]));
  const days = dates(report.start_date, report.end_date);
  const perDay = days.map((date) => (byDate.get(date)?.callers || [])
    .map((c) => [c.caller, c.usage.reduce((n, u) => n + calls(u), 0)]));
  const top = Math.max(1, ...perDay.map((d) => d.reduce((n, [, v]) => n + v, 0)));
  const slot = (width - left) / Math.max(1, days.length);
  const bars = [];
  days.forEach((date, i) => {
    let y = height - bottom;
    for (const [caller, value] of perDay[i]) {
      if (!value) continue;
      const h = ((height - bottom - 10) * value) / top;
      y -= h;
      bars.push(svg("rect", { x: left + i * slot + 1, y, width: Math.max(1, slot - 2), height: h, fill: colors.get(caller) },
        svg("title", {}, `${date} ${caller}: ${value} calls`)));
    }
  });
  const labels = days.map((date, i) => (i % 5 === 0 || i === days.length - 1)
    ? svg("text", { x: left + i * slot, y: height - 6, "font-size": 11, fill: "currentColor" }, `${date.slice(4, 6)}-${date.slice(6)}`)
    : null).filter(Boolean);
  return svg("svg", { class: "chart", id: "usage-chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `VirusTotal calls per day, stacked by caller; highest day ${top}` },
  svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "currentColor" }),
  svg("text", { x: 0, y: 14, "font-size": 11, fill: "currentColor" }, String(top)),
  ...bars, ...labels);
}

export async function usage(session) {
  const report = await call("GET", "/v1/usage");
  const colors = new Map(report.callers.map((c, i) => [c.caller, PALETTE[i % PALETTE.length]]));
  const legend = el("div", { class: "legend" }, report.callers.map((c) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colors.get(c.caller);
    return el("span", {}, swatch, `${c.caller}: ${calls(c.totals)}`);
  }));
  const day = el("select", { id: "usage-day" },
    [...report.days].reverse().map((d) => el("option", { value: d.date }, d.date)));
  const body = el("tbody");
  const renderDay = () => {
    const chosen = report.days.find((d) => d.date === day.value);
    const rows = [];
    for (const c of chosen ? chosen.callers : []) {
      for (const u of c.usage) {
        rows.push(el("tr", {}, el("td", {}, c.caller), el("td", {}, u.route), el("td", {}, u.endpoint),
          el("td", { class: "num" }, calls(u)),
          el("td", { class: "num" }, u.not_consuming.cache + u.not_consuming.local),
          el("td", { class: "num" }, u.refused.cap + u.refused.quota)));
      }
    }
    body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "Nothing that day."))]));
  };
  day.addEventListener("change", renderDay);
  renderDay();
  const t = report.totals;
  show(
    el("h1", {}, session.role === "admin" ? "Usage" : `Usage of ${session.caller}`),
    el("p", { class: "muted" }, `${report.start_date} to ${report.end_date} (UTC days).`),
    el("div", { class: "gauges" },
      el("div", { class: "panel" }, el("div", {}, "Consuming (VirusTotal calls)"), el("div", { class: "stat", id: "usage-consuming" }, calls(t))),
      el("div", { class: "panel" }, el("div", {}, "Not consuming (cache, local)"), el("div", { class: "stat", id: "usage-not-consuming" }, t.not_consuming.cache + t.not_consuming.local)),
      el("div", { class: "panel" }, el("div", {}, "Refused (cap, quota)"), el("div", { class: "stat" }, t.refused.cap + t.refused.quota))),
    el("h2", {}, "VirusTotal calls per day, by caller"),
    chart(report, colors), legend,
    el("h2", {}, "By endpoint for one day"),
    el("div", { class: "row" }, el("label", {}, "Day", day),
      exportLink("export-usage", `/v1/usage?start_date=${report.start_date}&end_date=${report.end_date}&format=csv`, "Export CSV", "usage.csv")),
    table("usage-table", [["Caller"], ["Route"], ["Endpoint"], ["VirusTotal calls", "num"], ["Not consuming", "num"], ["Refused", "num"]], []));
  document.querySelector("#usage-table tbody").replaceWith(body);
}
