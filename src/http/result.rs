//! The API's result object and batch summary, rendered from enrichment outcomes.
//!
//! These DTOs are the public contract (documented in the OpenAPI schema); domain types stay
//! free to change behind them.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use crate::answer::{Answer, Entry};
use crate::enrich::{BatchResult, ItemError, ItemResult, Outcome, Source, Status};
use crate::report::{DomainBody, FileBody, Report, UrlBody, VerdictPolicy};
use crate::virustotal::gui_link;

mod prerender;
mod report;
mod typed;

pub use typed::{AnyResult, DomainResult, FileResult, IpResult, UrlResult};

pub use prerender::{LocalTails, batch_json, json_response, result_json, write_result};

use report::{Geo, Network, Reputation};
use report::{geo, network, reputation};

/// Longest slice of caller text echoed back in `input`.
const MAX_ECHO_CHARS: usize = 256;

/// Serialises timestamps as RFC 3339 with a `Z` and whole seconds.
fn rfc3339<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => s.serialize_none(),
    }
}

/// The enrichment result for one observable: every field any result may carry. The
/// documentation narrows it per type (`IpResult`, `DomainResult`, ...; see `typed`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "observable": "8.8.8.8", "input": "8.8.8.8", "type": "ip", "status": "ok", "source": "virustotal", "stale": false,
    "fetched_at": "2026-11-22T01:00:00Z",
    "reputation": {"verdict": "harmless", "verdict_reason": "0 of 94 engines flagged it; 62 harmless",
        "malicious": 0, "suspicious": 0, "harmless": 62, "undetected": 32, "timeout": 0,
        "community_score": 542, "votes": {"harmless": 200, "malicious": 30}, "tags": [],
        "last_analysis_at": "2026-07-29T10:11:12Z"},
    "geo": {"country": {"iso_code": "US", "name": "United States of America"},
        "continent": {"code": "NA", "name": "North America"}},
    "network": {"asn": 15169, "as_owner": "GOOGLE", "cidr": "8.8.8.0/24", "rir": "ARIN"},
    "link": "https://www.virustotal.com/gui/ip-address/8.8.8.8", "error": null, "retry_after_secs": null
}))]
pub struct ResultBody {
    /// The canonical observable (compressed lower-case IPv6, IPv4-mapped IPv6 as IPv4); the
    /// trimmed input when it did not parse.
    pub observable: String,
    /// The caller's text as sent (at most 256 characters).
    pub input: String,
    /// Observable type (`ip`, `domain`, `url` or `file`); null when the input could not be
    /// typed.
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, example = "ip")]
    pub kind: Option<&'static str>,
    /// `ok`, `not_found`, `not_routable`, `invalid`, `deferred` or `error`.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
    /// `cache`, `virustotal` or `local`; null while deferred.
    #[schema(value_type = Option<String>, example = "cache")]
    pub source: Option<&'static str>,
    /// True when an expired entry is served because the upstream failed or the quota is out.
    pub stale: bool,
    /// When VirusTotal answered (UTC).
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub fetched_at: Option<DateTime<Utc>>,
    /// Reputation (status `ok` only).
    pub reputation: Option<Reputation>,
    /// Location (status `ok` only).
    pub geo: Option<Geo>,
    /// Network ownership (status `ok` only).
    pub network: Option<Network>,
    /// What VirusTotal knows of a domain (type `domain`, status `ok` only; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainBody>,
    /// What VirusTotal knows of a URL (type `url`, status `ok` only; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<UrlBody>,
    /// What VirusTotal knows of a file (type `file`, status `ok` only; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileBody>,
    /// The VirusTotal GUI page for the observable.
    pub link: Option<String>,
    /// Why the item is not `ok`, or why a stale entry was served. `error.code`
    /// `caller_quota_exceeded` (status `error`): this caller's `daily_cap` is spent; cached
    /// answers still come, new observables get this until the next UTC midnight
    /// (`retry_after_secs`), and are never deferred.
    pub error: Option<ItemErrorBody>,
    /// For `deferred`, rate-limited errors and `caller_quota_exceeded`: ask again after this
    /// many seconds.
    pub retry_after_secs: Option<u64>,
}

/// A per-item error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemErrorBody {
    /// `invalid_observable`, `not_routable`, `quota_wait_exceeded`, `upstream_timeout`,
    /// `upstream_unavailable`, `upstream_auth`, `upstream_malformed`, `upstream_quota`,
    /// `upstream_rejected`.
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
}

/// Counts over a batch's results.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"total": 3, "by_status": {"ok": 2, "not_found": 0, "not_routable": 1, "invalid": 0, "deferred": 0, "error": 0},
    "by_source": {"cache": 1, "virustotal": 1, "local": 1}, "upstream_calls": 1}))]
pub struct Summary {
    /// Number of results (= number of input entries).
    pub total: usize,
    /// Results per status (every status present, zero when none).
    pub by_status: BTreeMap<&'static str, usize>,
    /// Results per source (deferred results have none).
    pub by_source: BTreeMap<&'static str, usize>,
    /// VirusTotal calls this request caused (retries included).
    pub upstream_calls: u32,
}

/// Answer of `POST /v1/enrich`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrichResponse {
    /// One result per input entry, in input order.
    #[schema(value_type = Vec<AnyResult>)]
    pub results: Vec<ResultBody>,
    pub summary: Summary,
}

impl EnrichResponse {
    /// Renders a batch under the verdict policy.
    pub fn render(batch: BatchResult, policy: &VerdictPolicy) -> Self {
        let summary = Summary::of(&batch);
        let results = batch
            .items
            .into_iter()
            .map(|item| ResultBody::render(item, policy))
            .collect();
        Self { results, summary }
    }
}

impl Summary {
    fn of(batch: &BatchResult) -> Self {
        // Tallied by position first: one map entry per item was a visible share of a batch.
        const SOURCES: [Source; 3] = [Source::Cache, Source::VirusTotal, Source::Local];
        let mut statuses = [0usize; Status::ALL.len()];
        let mut sources = [0usize; SOURCES.len()];
        for item in &batch.items {
            let status = item.outcome.status();
            if let Some(i) = Status::ALL.iter().position(|s| *s == status) {
                statuses[i] += 1;
            }
            if let Some(i) = item
                .outcome
                .source()
                .and_then(|source| SOURCES.iter().position(|s| *s == source))
            {
                sources[i] += 1;
            }
        }
        Self {
            total: batch.items.len(),
            by_status: Status::ALL
                .iter()
                .zip(statuses)
                .map(|(s, n)| (s.as_str(), n))
                .collect(),
            by_source: SOURCES
                .iter()
                .zip(sources)
                .map(|(s, n)| (s.as_str(), n))
                .collect(),
            upstream_calls: batch.upstream_calls,
        }
    }
}

fn error_body(error: &ItemError) -> ItemErrorBody {
    ItemErrorBody {
        code: error.code,
        message: error.message.clone(),
    }
}

fn echo(input: &str) -> String {
    input.chars().take(MAX_ECHO_CHARS).collect()
}

impl ResultBody {
    /// A result with nothing but its mandatory fields, empty.
    fn blank() -> Self {
        ResultBody {
            observable: String::new(),
            input: String::new(),
            kind: None,
            status: "",
            source: None,
            stale: false,
            fetched_at: None,
            reputation: None,
            geo: None,
            network: None,
            domain: None,
            url: None,
            file: None,
            link: None,
            error: None,
            retry_after_secs: None,
        }
    }

    /// Sets the fields that come from the answer alone (`fetched_at` up to the type's block):
    /// what [`crate::answer::Prerendered`] holds rendered.
    fn fill_answer(&mut self, entry: &Entry, policy: &VerdictPolicy) {
        self.fetched_at = Some(entry.fetched_at);
        if let Answer::Found(report) = &entry.answer {
            self.reputation = Some(reputation(&report.analysis(), policy));
            match report {
                Report::Ip(ip) => {
                    self.geo = Some(geo(ip));
                    self.network = Some(network(ip));
                }
                Report::Domain(domain) => self.domain = Some((&**domain).into()),
                Report::Url(url) => self.url = Some((&**url).into()),
                Report::File(file) => self.file = Some((&**file).into()),
            }
        }
    }

    /// Renders one item.
    pub fn render(item: ItemResult, policy: &VerdictPolicy) -> Self {
        let status = item.outcome.status().as_str();
        let source = item.outcome.source().map(Source::as_str);
        let observable = match &item.observable {
            Some(obs) => obs.canonical(),
            None => echo(item.input.trim()),
        };
        // A not-routable observable was never sent: no VirusTotal page is worth opening.
        let link = match item.outcome {
            Outcome::NotRoutable(_) => None,
            _ => item.observable.as_ref().map(gui_link),
        };
        let mut body = ResultBody {
            observable,
            input: echo(&item.input),
            kind: item.observable.as_ref().map(|o| o.kind().as_str()),
            status,
            source,
            link,
            ..Self::blank()
        };
        match item.outcome {
            Outcome::Answered {
                entry,
                stale,
                reason,
                ..
            } => {
                body.stale = stale;
                body.error = reason.as_ref().map(error_body);
                body.fill_answer(&entry, policy);
            }
            Outcome::NotRoutable(why) => {
                body.error = Some(ItemErrorBody {
                    code: "not_routable",
                    message: why.to_string(),
                });
            }
            Outcome::Invalid(invalid) => {
                body.error = Some(ItemErrorBody {
                    code: "invalid_observable",
                    message: invalid.reason().to_owned(),
                });
            }
            Outcome::Deferred {
                error,
                retry_after_secs,
                ..
            } => {
                body.retry_after_secs = Some(retry_after_secs);
                body.error = Some(error_body(&error));
            }
            Outcome::Error {
                error,
                retry_after_secs,
            } => {
                body.error = Some(error_body(&error));
                body.retry_after_secs = retry_after_secs;
            }
        }
        body
    }
}
