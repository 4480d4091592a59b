//! The operator material in `deploy/monitoring/` names only metrics the service exports: every
//! PromQL expression of the alerting rules and of the Grafana dashboard is read, its `vtenrich_*`
//! names are extracted, and each must appear in `/metrics` of a running service after traffic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::helpers::{Options, spawn_app_with};

const PREFIX: &str = "vtenrich_";

fn monitoring_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/monitoring")
        .join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The `expr:` values of a Prometheus rules file: plain, quoted, or block scalars (`|`, `>`).
/// Text parsing is enough for the rule files' shape and needs no YAML dependency.
fn rule_expressions(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let key_at = line.len() - line.trim_start().len();
        let Some(rest) = line
            .trim_start()
            .trim_start_matches("- ")
            .strip_prefix("expr:")
        else {
            i += 1;
            continue;
        };
        let rest = rest.trim();
        i += 1;
        if rest.starts_with('|') || rest.starts_with('>') {
            let mut block = Vec::new();
            while i < lines.len() {
                let next = lines[i];
                let indent = next.len() - next.trim_start().len();
                if !next.trim().is_empty() && indent <= key_at {
                    break;
                }
                block.push(next.trim());
                i += 1;
            }
            exprs.push(block.join("\n").trim().to_owned());
        } else {
            let unquoted = rest
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .map(|r| r.replace("\\\"", "\"").replace("\\\\", "\\"))
                .or_else(|| {
                    rest.strip_prefix('\'')
                        .and_then(|r| r.strip_suffix('\''))
                        .map(|r| r.replace("''", "'"))
                })
                .unwrap_or_else(|| rest.to_owned());
            exprs.push(unquoted);
        }
    }
    exprs
}

/// Every `expr` string anywhere in a Grafana dashboard (panel targets, nested rows).
fn dashboard_expressions(dashboard: &Value) -> Vec<String> {
    let mut exprs = Vec::new();
    let mut stack = vec![dashboard];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(expr)) = map.get("expr") {
                    exprs.push(expr.clone());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    exprs
}

/// The `vtenrich_[a-z0-9_]+` identifiers of an expression, as written (suffixes kept).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    for (at, _) in expr.match_indices(PREFIX) {
        if expr[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let name: String = expr[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

/// Metric family name -> type, from the `# TYPE` lines of an exposition.
fn families(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let (name, kind) = rest.split_once(' ')?;
            Some((name.to_owned(), kind.trim().to_owned()))
        })
        .collect()
}

/// Whether a series name is exported: a family itself, or a histogram's `_bucket`/`_sum`/`_count`.
fn is_exported(name: &str, families: &BTreeMap<String, String>) -> bool {
    if families.contains_key(name) {
        return true;
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        name.strip_suffix(suffix)
            .and_then(|family| families.get(family))
            .is_some_and(|kind| kind == "histogram")
    })
}

/// Starts the service in front of the simulator, drives traffic that creates every labelled
/// family the material uses (a miss, a hit, a size eviction, a batch with every kind of
/// entry), and returns the exposition.
async fn exposition_after_traffic() -> String {
    let app = spawn_app_with(Options::default().configure(|s| {
        s.virustotal.rate_per_minute = 4;
        // One entry: the second address evicts for size, so the evictions family exists.
        s.cache.max_entries = 1;
    }))
    .await;
    for _ in 0..2 {
        assert_eq!(app.get("/v1/ip/8.8.8.8").await.0, 200);
    }
    app.enrich_ok(
        json!([
            "1.1.1.1",
            "9.9.9.9",
            "8.8.4.4",
            "208.67.222.222",
            "10.0.0.1",
            "nope"
        ]),
        0,
    )
    .await;
    assert_eq!(app.get("/no/such/route").await.0, 404);
    let exposition = app.get("/metrics").await.1;
    app.stop().await;
    exposition
}

/// Asserts every expression names at least one vtenrich metric and every name is exported.
async fn assert_all_exported(source: &str, exprs: &[String]) {
    assert!(!exprs.is_empty(), "no expressions found in {source}");
    let exported = families(&exposition_after_traffic().await);
    let mut missing = BTreeSet::new();
    for expr in exprs {
        let names = metric_names(expr);
        // The one exception: Prometheus' own `up` series of the vtenrich job (target down).
        assert!(
            !names.is_empty() || expr.contains(r#"up{job="vtenrich"}"#),
            "{source}: no vtenrich metric in `{expr}`"
        );
        missing.extend(names.into_iter().filter(|n| !is_exported(n, &exported)));
    }
    assert!(
        missing.is_empty(),
        "{source} names metrics the service does not export: {missing:?}"
    );
}

fn alert_expressions() -> Vec<String> {
    rule_expressions(&read(&monitoring_file("alerts.yaml")))
}

fn panel_expressions() -> Vec<String> {
    let text = read(&monitoring_file("grafana-dashboard.json"));
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    dashboard_expressions(&dashboard)
}

fn names_in(exprs: &[String]) -> BTreeSet<String> {
    exprs.iter().flat_map(|e| metric_names(e)).collect()
}

#[tokio::test]
async fn every_metric_named_by_an_alert_rule_is_exported() {
    let exprs = alert_expressions();

    assert_all_exported("alerts.yaml", &exprs).await;
}

#[tokio::test]
async fn every_metric_named_by_a_dashboard_panel_is_exported() {
    let exprs = panel_expressions();

    assert_all_exported("grafana-dashboard.json", &exprs).await;
}

#[test]
fn the_alert_rules_watch_quota_blocking_upstream_errors_staleness_and_drops() {
    let names = names_in(&alert_expressions());

    for needed in [
        "vtenrich_quota_used",
        "vtenrich_quota_limit",
        "vtenrich_quota_blocked_until_timestamp_seconds",
        "vtenrich_upstream_requests_total",
        "vtenrich_cache_hits_total",
        "vtenrich_deferred_dropped_total",
    ] {
        assert!(names.contains(needed), "no alert uses {needed}");
    }
}

#[test]
fn the_dashboard_shows_quota_cache_upstream_deferred_queue_http_and_top_callers() {
    let names = names_in(&panel_expressions());

    for needed in [
        "vtenrich_quota_used",
        "vtenrich_quota_limit",
        "vtenrich_cache_hits_total",
        "vtenrich_cache_requests_total",
        "vtenrich_upstream_requests_total",
        "vtenrich_upstream_request_duration_seconds_bucket",
        "vtenrich_deferred_queue_depth",
        "vtenrich_deferred_dropped_total",
        "vtenrich_http_requests_total",
        "vtenrich_http_request_duration_seconds_bucket",
        "vtenrich_caller_upstream_calls_total",
    ] {
        assert!(names.contains(needed), "no panel uses {needed}");
    }
}

#[test]
fn a_block_scalar_expression_is_read_to_its_end() {
    let yaml = "rules:\n  - alert: A\n    expr: |\n      sum(vtenrich_a_total)\n        / sum(vtenrich_b_total)\n    for: 1m\n  - alert: B\n    expr: \"vtenrich_c > 0\"\n";

    let exprs = rule_expressions(yaml);

    assert_eq!(
        exprs,
        vec![
            "sum(vtenrich_a_total)\n/ sum(vtenrich_b_total)".to_owned(),
            "vtenrich_c > 0".to_owned()
        ]
    );
}

#[test]
fn a_histogram_series_resolves_to_its_family_and_a_counter_suffix_does_not() {
    let exported = families(
        "# TYPE vtenrich_wait_seconds histogram\n# TYPE vtenrich_calls counter\nvtenrich_calls 1\n",
    );

    assert!(is_exported("vtenrich_wait_seconds_bucket", &exported));
    assert!(is_exported("vtenrich_wait_seconds_count", &exported));
    assert!(!is_exported("vtenrich_calls_count", &exported));
    assert!(!is_exported("vtenrich_missing", &exported));
}

#[test]
fn metric_names_are_whole_identifiers() {
    let names = metric_names(
        r#"rate(vtenrich_x_total{kind="stale"}[5m]) / my_vtenrich_y + vtenrich_z_bucket"#,
    );

    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["vtenrich_x_total", "vtenrich_z_bucket"]
    );
}

/// The value of one series in an exposition, by its exact name and label text.
fn series_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[tokio::test]
async fn a_fresh_server_exports_the_closed_label_counters_at_zero() {
    // No store (the harness runs with DATA_DIR=none) and no traffic yet: every series below
    // exists only because it is created at start, so an alert's `increase()` sees the first
    // eviction, store error or upstream failure.
    let app = spawn_app_with(Options::default()).await;

    let exposition = app.get("/metrics").await.1;
    // The routes' label values must be the router's: one request each, then their 2xx twins.
    assert_eq!(app.get("/v1/ip/8.8.8.8").await.0, 200);
    app.enrich_ok(json!(["8.8.8.8"]), 0).await;
    assert_eq!(app.get("/v1/quota").await.0, 200);
    let after_traffic = app.get("/metrics").await.1;
    app.stop().await;

    let routes = [
        ("/v1/enrich", "POST"),
        ("/v1/ip/{ip}", "GET"),
        ("/v1/quota", "GET"),
    ];
    for (route, method) in routes {
        let labels = format!(r#"{{method="{method}",route="{route}",status_class="#);
        assert_eq!(
            series_value(
                &exposition,
                &format!(r#"vtenrich_http_requests_total{labels}"5xx"}}"#)
            ),
            Some(0.0),
            "no 5xx series at 0 for {method} {route}"
        );
        assert!(
            series_value(
                &after_traffic,
                &format!(r#"vtenrich_http_requests_total{labels}"2xx"}}"#)
            )
            .is_some_and(|n| n >= 1.0),
            "{method} {route} is not the route label the router counts under"
        );
    }
    let series = [
        r#"vtenrich_cache_evictions_total{cause="expired"}"#,
        r#"vtenrich_cache_evictions_total{cause="size"}"#,
        r#"vtenrich_store_errors_total{op="read"}"#,
        r#"vtenrich_store_errors_total{op="write"}"#,
        r#"vtenrich_store_errors_total{op="purge"}"#,
        r#"vtenrich_store_errors_total{op="open"}"#,
        r#"vtenrich_cache_hits_total{kind="fresh"}"#,
        r#"vtenrich_cache_hits_total{kind="stale"}"#,
        r#"vtenrich_upstream_requests_total{outcome="ok",type="ip"}"#,
        r#"vtenrich_upstream_requests_total{outcome="auth",type="ip"}"#,
        r#"vtenrich_upstream_requests_total{outcome="server_error",type="ip"}"#,
        r#"vtenrich_upstream_requests_total{outcome="timeout",type="ip"}"#,
        r#"vtenrich_quota_decisions_total{decision="denied",reason="blocked"}"#,
        r#"vtenrich_quota_decisions_total{decision="granted",reason="interactive"}"#,
        r#"vtenrich_observables_total{source="none",status="deferred",type="ip"}"#,
        r#"vtenrich_observables_total{source="virustotal",status="error",type="ip"}"#,
    ];
    let missing: Vec<&str> = series
        .iter()
        .copied()
        .filter(|s| series_value(&exposition, s) != Some(0.0))
        .collect();
    assert!(
        missing.is_empty(),
        "not exported at 0 on a fresh server: {missing:?}"
    );
}

/// GitHub's anchor of a Markdown heading: lower case, spaces as `-`, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_alert_links_its_own_section_of_the_readme_runbook() {
    let rules = read(&monitoring_file("alerts.yaml"));
    let readme = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let runbook = readme
        .split_once("\n## Runbook\n")
        .expect("README.md has a Runbook section")
        .1;
    let runbook = runbook.split("\n## ").next().unwrap_or(runbook);
    let sections: BTreeSet<String> = runbook
        .lines()
        .filter_map(|line| line.strip_prefix("### "))
        .map(anchor)
        .collect();

    let mut alert = None;
    let mut linked = Vec::new();
    for line in rules.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert:") {
            assert!(alert.is_none(), "{alert:?} has no runbook_url");
            alert = Some(name.trim().to_owned());
        } else if let Some(url) = line.strip_prefix("runbook_url:") {
            let name = alert.take().expect("a runbook_url belongs to an alert");
            assert_eq!(
                url.trim(),
                format!("README.md#{}", anchor(&name)),
                "{name} links another section than its own"
            );
            linked.push(anchor(&name));
        }
    }
    assert!(alert.is_none(), "{alert:?} has no runbook_url");

    assert!(linked.len() >= 13, "only {} alerts found", linked.len());
    let missing: Vec<&String> = linked.iter().filter(|a| !sections.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "alerts without a Runbook section: {missing:?}"
    );
}

#[test]
fn the_alert_rules_watch_the_target_server_errors_and_redis() {
    let names = names_in(&alert_expressions());

    for needed in [
        "vtenrich_quota_backend_up",
        "vtenrich_quota_fallback_active",
        "vtenrich_http_requests_total",
    ] {
        assert!(names.contains(needed), "no alert uses {needed}");
    }
    let rules = read(&monitoring_file("alerts.yaml"));
    assert!(
        rules.contains(r#"absent(up{job="vtenrich"})"#),
        "no alert fires when the target is absent"
    );
}

#[test]
fn every_route_whose_5xx_series_starts_at_0_is_a_documented_operation() {
    let doc = serde_json::to_value(vtenrich::http::openapi()).unwrap();

    for (route, method) in vtenrich::metrics::labels::API_ROUTES {
        assert!(
            doc["paths"][route][method.to_lowercase()].is_object(),
            "{method} {route} is not an operation of the API"
        );
    }
}
