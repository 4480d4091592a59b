//! The API's result object and batch summary, rendered from enrichment outcomes.
//!
//! These DTOs are the public contract (documented in the OpenAPI schema); domain types stay
//! free to change behind them.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use crate::cache::Answer;
use crate::enrich::{BatchResult, ItemError, ItemResult, Outcome, Source, Status};
use crate::observable::Observable;
use crate::report::{IpReport, VerdictPolicy};

/// Longest slice of caller text echoed back in `input`.
const MAX_ECHO_CHARS: usize = 256;

/// Serialises timestamps as RFC 3339 with a `Z` and whole seconds.
fn rfc3339<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => s.serialize_none(),
    }
}

/// The enrichment result for one observable.
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
    /// Observable type (`ip`); null when the input could not be typed.
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

/// Verdict and the engine counts behind it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reputation {
    /// `malicious`, `suspicious`, `harmless` or `unknown`.
    #[schema(value_type = String, example = "harmless")]
    pub verdict: &'static str,
    /// The verdict policy's reason, in words.
    pub verdict_reason: String,
    pub malicious: Option<u32>,
    pub suspicious: Option<u32>,
    pub harmless: Option<u32>,
    pub undetected: Option<u32>,
    pub timeout: Option<u32>,
    /// VirusTotal's community reputation score (may be negative).
    pub community_score: Option<i64>,
    pub votes: Option<VotesBody>,
    pub tags: Option<Vec<String>>,
    /// When VirusTotal last analysed the address.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_analysis_at: Option<DateTime<Utc>>,
}

/// Community votes.
#[derive(Debug, Serialize, ToSchema)]
pub struct VotesBody {
    pub harmless: u32,
    pub malicious: u32,
}

/// Country and continent; names are derived locally from the ISO codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Geo {
    pub country: Option<Country>,
    pub continent: Option<Continent>,
}

/// An ISO 3166-1 country.
#[derive(Debug, Serialize, ToSchema)]
pub struct Country {
    #[schema(example = "US")]
    pub iso_code: String,
    /// ISO 3166 English short name; null for codes outside ISO 3166-1.
    pub name: Option<&'static str>,
}

/// A continent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Continent {
    #[schema(example = "NA")]
    pub code: String,
    pub name: Option<&'static str>,
}

/// Autonomous system and allocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Network {
    pub asn: Option<u32>,
    pub as_owner: Option<String>,
    pub cidr: Option<String>,
    /// Regional Internet Registry.
    pub rir: Option<String>,
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
        let mut by_status: BTreeMap<&'static str, usize> =
            Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        let mut by_source: BTreeMap<&'static str, usize> =
            [Source::Cache, Source::VirusTotal, Source::Local]
                .iter()
                .map(|s| (s.as_str(), 0))
                .collect();
        for item in &batch.items {
            *by_status.entry(item.outcome.status().as_str()).or_default() += 1;
            if let Some(source) = item.outcome.source() {
                *by_source.entry(source.as_str()).or_default() += 1;
            }
        }
        Self {
            total: batch.items.len(),
            by_status,
            by_source,
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
    /// Renders one item.
    pub fn render(item: ItemResult, policy: &VerdictPolicy) -> Self {
        let status = item.outcome.status().as_str();
        let source = item.outcome.source().map(Source::as_str);
        let observable = match &item.observable {
            Some(obs) => obs.canonical(),
            None => echo(item.input.trim()),
        };
        let link = match item.observable {
            Some(Observable::Ip(ip)) if !matches!(item.outcome, Outcome::NotRoutable(_)) => {
                Some(format!("https://www.virustotal.com/gui/ip-address/{ip}"))
            }
            _ => None,
        };
        let mut body = ResultBody {
            observable,
            input: echo(&item.input),
            kind: item.observable.as_ref().map(|o| o.kind().as_str()),
            status,
            source,
            stale: false,
            fetched_at: None,
            reputation: None,
            geo: None,
            network: None,
            link,
            error: None,
            retry_after_secs: None,
        };
        match item.outcome {
            Outcome::Answered {
                entry,
                stale,
                reason,
                ..
            } => {
                body.stale = stale;
                body.fetched_at = Some(entry.fetched_at);
                body.error = reason.as_ref().map(error_body);
                if let Answer::Found(report) = &entry.answer {
                    body.reputation = Some(reputation(report, policy));
                    body.geo = Some(geo(report));
                    body.network = Some(network(report));
                }
            }
            Outcome::NotRoutable(range) => {
                body.error = Some(ItemErrorBody {
                    code: "not_routable",
                    message: format!("{} ({}): never sent to VirusTotal", range.name, range.cidr),
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

fn reputation(report: &IpReport, policy: &VerdictPolicy) -> Reputation {
    let (verdict, verdict_reason) = policy.judge(report.stats.as_ref());
    let stats = report.stats;
    Reputation {
        verdict: verdict.as_str(),
        verdict_reason,
        malicious: stats.map(|s| s.malicious),
        suspicious: stats.map(|s| s.suspicious),
        harmless: stats.map(|s| s.harmless),
        undetected: stats.map(|s| s.undetected),
        timeout: stats.map(|s| s.timeout),
        community_score: report.community_score,
        votes: report.votes.map(|v| VotesBody {
            harmless: v.harmless,
            malicious: v.malicious,
        }),
        tags: report
            .tags
            .as_ref()
            .map(|tags| tags.iter().map(|t| t.to_string()).collect()),
        last_analysis_at: report.last_analysis_at,
    }
}

fn geo(report: &IpReport) -> Geo {
    Geo {
        country: report.country.map(|c| Country {
            iso_code: c.as_str().to_owned(),
            name: c.country_name(),
        }),
        continent: report.continent.map(|c| Continent {
            code: c.as_str().to_owned(),
            name: c.continent_name(),
        }),
    }
}

fn network(report: &IpReport) -> Network {
    Network {
        asn: report.asn,
        as_owner: report.as_owner.as_deref().map(str::to_owned),
        cidr: report.cidr.as_deref().map(str::to_owned),
        rir: report.rir.as_deref().map(str::to_owned),
    }
}
