// Overview: the VirusTotal quota windows as gauges with their resets, the block state, the
// deferred queue, the cache (from /metrics) and whether counts are shared by a fleet.

import { call } from "./api.js";
import { el, show, utc } from "./ui.js";

function gauge(name, w) {
  const limit = w.limit ?? 0;
  return el("div", { class: "panel gauge", id: `gauge-${name}` },
    el("div", {}, el("strong", {}, name), ` ${w.used} of ${limit} used`),
    el("meter", { min: 0, max: Math.max(1, limit), value: w.used, low: limit * 0.7, high: limit * 0.9, optimum: 0,
      "aria-label": `${name} window used` }),
    el("div", { class: "muted" }, `${w.remaining} left; resets ${utc(w.resets_at)} UTC`));
}

/** One series of the Prometheus text, summed over its labels. */
function metric(text, name) {
  let sum = null;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum = (sum ?? 0) + Number(line.split(" ").pop());
  }
  return sum;
}

export async function overview() {
  const quota = await call("GET", "/v1/quota");
  let metrics = "";
  try {
    const response = await fetch("/metrics", { credentials: "same-origin", cache: "no-store" });
    if (response.ok) metrics = await response.text();
  } catch { /* the cache panel says unknown */ }
  const entries = metric(metrics, "vtenrich_cache_entries");
  const hits = metric(metrics, "vtenrich_cache_hits_total");
  const lookups = metric(metrics, "vtenrich_cache_requests_total");
  const ratio = hits !== null && lookups ? `${Math.round((100 * hits) / lookups)}%` : "–";
  const fleet = quota.counts_source === "redis" ? "fleet (Redis)" : `single node (${quota.counts_source})`;
  show(
    el("h1", {}, "Overview"),
    el("div", { class: "gauges" },
      gauge("minute", quota.windows.minute), gauge("day", quota.windows.day), gauge("month", quota.windows.month)),
    el("div", { class: "gauges" },
      el("div", { class: "panel", id: "block-state" }, el("div", {}, "VirusTotal block"),
        el("div", { class: "stat" }, quota.blocked ? `blocked until ${utc(quota.blocked_until)}` : "not blocked")),
      el("div", { class: "panel" }, el("div", {}, "Deferred queue"), el("div", { class: "stat", id: "deferred-depth" }, quota.deferred_queue_depth)),
      el("div", { class: "panel" }, el("div", {}, "Cache entries / hit ratio since start"),
        el("div", { class: "stat" }, `${entries ?? "–"} / ${ratio}`)),
      el("div", { class: "panel" }, el("div", {}, "Mode"), el("div", { class: "stat", id: "fleet-mode" }, fleet))));
}
