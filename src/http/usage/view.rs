//! What `GET /v1/usage` answers: the JSON report (per day, caller, route and endpoint, with
//! totals) and the CSV rows, both made from the same ordered rows.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::DATE;
use crate::caller::CallerId;
use crate::usage::{Counter, Counts, Row, endpoint_name};

/// The usage of a range of days.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    /// First day, `YYYYMMDD`.
    #[schema(example = "20261101")]
    pub start_date: String,
    /// Last day, `YYYYMMDD`.
    #[schema(example = "20261130")]
    pub end_date: String,
    /// Days with any usage, oldest first.
    pub days: Vec<UsageDay>,
    /// Each caller's totals over the range.
    pub callers: Vec<CallerTotals>,
    /// Everything in the range.
    pub totals: UsageCounts,
}

/// One day's usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDay {
    /// The UTC day, `YYYYMMDD`.
    #[schema(example = "20261130")]
    pub date: String,
    /// Callers with usage that day, by id.
    pub callers: Vec<CallerDay>,
    /// The day's totals.
    pub totals: UsageCounts,
}

/// One caller's usage of one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallerDay {
    #[schema(example = "soar-playbooks")]
    pub caller: String,
    /// Per route and endpoint.
    pub usage: Vec<UsageRow>,
}

/// One caller's totals over the range.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallerTotals {
    #[schema(example = "soar-playbooks")]
    pub caller: String,
    pub totals: UsageCounts,
}

/// The usage of one route and VirusTotal endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRow {
    /// The vtenrich route template (`other`: enrichment no route started).
    #[schema(example = "/v1/enrich")]
    pub route: String,
    /// The VirusTotal endpoint (`none`: input that is not an observable).
    #[schema(example = "ip_addresses")]
    pub endpoint: String,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// The counters of a row or a total.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UsageCounts {
    /// Requests answered (one per endpoint a request asked for).
    pub requests: u64,
    /// Input entries.
    pub observables: u64,
    /// What spent VirusTotal quota.
    pub consuming: Consuming,
    /// Answers that spent none.
    pub not_consuming: NotConsuming,
    /// Answers from a VirusTotal call, this request's or one it joined (the call is counted
    /// once, under the caller that started it).
    pub from_virustotal: u64,
    /// No quota slot within the wait (minute rate); queued for a background fill.
    pub deferred: u64,
    /// Refused new observables.
    pub refused: Refused,
    /// VirusTotal failed and no stale answer was at hand.
    pub upstream_errors: u64,
}

/// Quota-consuming counts.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Consuming {
    /// VirusTotal calls started, retries included; calls that never reached VirusTotal are
    /// not counted.
    pub virustotal_calls: u64,
}

/// Answers that spent no quota.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct NotConsuming {
    /// From the cache, fresh or stale.
    pub cache: u64,
    /// Decided without VirusTotal: special-purpose addresses, invalid input.
    pub local: u64,
}

/// Refusals of new observables.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Refused {
    /// By the caller's `daily_cap`.
    pub cap: u64,
    /// By the key's quota: day or month spent, the interactive reserve, VirusTotal's block.
    pub quota: u64,
}

impl From<&Counts> for UsageCounts {
    fn from(c: &Counts) -> Self {
        Self {
            requests: c.get(Counter::Requests),
            observables: c.get(Counter::Observables),
            consuming: Consuming {
                virustotal_calls: c.get(Counter::VirusTotalCalls),
            },
            not_consuming: NotConsuming {
                cache: c.get(Counter::Cache),
                local: c.get(Counter::Local),
            },
            from_virustotal: c.get(Counter::FromVirusTotal),
            deferred: c.get(Counter::Deferred),
            refused: Refused {
                cap: c.get(Counter::RefusedCap),
                quota: c.get(Counter::RefusedQuota),
            },
            upstream_errors: c.get(Counter::UpstreamErrors),
        }
    }
}

/// The rows (ordered by day, caller, route, endpoint) as the JSON report.
pub(super) fn report(from: NaiveDate, to: NaiveDate, rows: &[Row]) -> UsageReport {
    let mut days: Vec<UsageDay> = Vec::new();
    let mut day_totals: Vec<Counts> = Vec::new();
    let mut callers: std::collections::BTreeMap<&CallerId, Counts> = Default::default();
    let mut totals = Counts::default();
    for row in rows {
        let date = row.day.format(DATE).to_string();
        if days.last().is_none_or(|d| d.date != date) {
            days.push(UsageDay {
                date,
                callers: Vec::new(),
                totals: UsageCounts::default(),
            });
            day_totals.push(Counts::default());
        }
        let (day, day_total) = (
            days.last_mut().expect("just pushed"),
            day_totals.last_mut().expect("just pushed"),
        );
        if day
            .callers
            .last()
            .is_none_or(|c| c.caller != row.key.caller.as_str())
        {
            day.callers.push(CallerDay {
                caller: row.key.caller.to_string(),
                usage: Vec::new(),
            });
        }
        day.callers
            .last_mut()
            .expect("just pushed")
            .usage
            .push(UsageRow {
                route: row.key.route.as_str().to_owned(),
                endpoint: endpoint_name(row.key.endpoint).to_owned(),
                counts: UsageCounts::from(&row.counts),
            });
        day_total.add_all(&row.counts);
        callers
            .entry(&row.key.caller)
            .or_default()
            .add_all(&row.counts);
        totals.add_all(&row.counts);
    }
    for (day, total) in days.iter_mut().zip(&day_totals) {
        day.totals = UsageCounts::from(total);
    }
    UsageReport {
        start_date: from.format(DATE).to_string(),
        end_date: to.format(DATE).to_string(),
        days,
        callers: callers
            .into_iter()
            .map(|(caller, counts)| CallerTotals {
                caller: caller.to_string(),
                totals: UsageCounts::from(&counts),
            })
            .collect(),
        totals: UsageCounts::from(&totals),
    }
}

/// The CSV columns after date, caller, route and endpoint, in the JSON's terms.
const CSV_COUNTERS: [(&str, Counter); 10] = [
    ("requests", Counter::Requests),
    ("observables", Counter::Observables),
    ("consuming_virustotal_calls", Counter::VirusTotalCalls),
    ("not_consuming_cache", Counter::Cache),
    ("not_consuming_local", Counter::Local),
    ("from_virustotal", Counter::FromVirusTotal),
    ("deferred", Counter::Deferred),
    ("refused_cap", Counter::RefusedCap),
    ("refused_quota", Counter::RefusedQuota),
    ("upstream_errors", Counter::UpstreamErrors),
];

/// One row per day × caller × route × endpoint, with a header row.
pub(super) fn csv(rows: &[Row]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = ["date", "caller", "route", "endpoint"]
        .into_iter()
        .chain(CSV_COUNTERS.iter().map(|(name, _)| *name));
    let _ = out.write_record(header);
    for row in rows {
        let fixed = [
            row.day.format(DATE).to_string(),
            row.key.caller.to_string(),
            row.key.route.as_str().to_owned(),
            endpoint_name(row.key.endpoint).to_owned(),
        ];
        let counts = CSV_COUNTERS
            .iter()
            .map(|(_, counter)| row.counts.get(*counter).to_string());
        let _ = out.write_record(fixed.into_iter().chain(counts));
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}
