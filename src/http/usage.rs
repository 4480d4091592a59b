//! `GET /v1/usage`: VirusTotal calls and answers per UTC day, caller, route and endpoint,
//! consuming quota or not, as JSON or CSV. Admins see every caller; a `user` caller itself.

use axum::Extension;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::require_admin;
use super::error::{ApiError, ErrorBody, INTERNAL};
use super::extract::query_params;
use crate::caller::{Caller, CallerId};
use crate::usage::{Counter, Counts, MAX_REPORT_DAYS, RETAINED_DAYS, Row, oldest_kept};

/// VirusTotal's date form in its usage API, used for parameters and answers alike.
const DATE: &str = "%Y%m%d";

/// The query parameters (documentation; parsed by hand so that unknown and repeated ones are
/// refused by name).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct UsageQuery {
    /// First UTC day, `YYYYMMDD`, within the last 60 days (default: 29 days before `end_date`).
    #[param(example = "20261101")]
    start_date: Option<String>,
    /// Last UTC day, `YYYYMMDD`, not after today and at most 29 days after `start_date`
    /// (default: today).
    #[param(example = "20261130")]
    end_date: Option<String>,
    /// Only this caller. An admin may name any; a `user` caller only itself.
    caller: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// What a valid query asks for.
#[derive(Debug, PartialEq, Eq)]
struct Asked {
    from: NaiveDate,
    to: NaiveDate,
    caller: Option<CallerId>,
    format: Format,
}

fn date(parameter: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let bad = || ApiError::invalid_parameter(parameter, "not a date of the form YYYYMMDD");
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    NaiveDate::parse_from_str(text, DATE).map_err(|_| bad())
}

fn parse(query: Option<&str>, today: NaiveDate) -> Result<Asked, ApiError> {
    let (mut start, mut end, mut caller, mut format) = (None, None, None, Format::Json);
    for (name, text) in query_params(query)? {
        match name.as_str() {
            "start_date" => start = Some(date(&name, &text)?),
            "end_date" => end = Some(date(&name, &text)?),
            "caller" => {
                caller = Some(
                    CallerId::parse(&text)
                        .map_err(|err| ApiError::invalid_parameter("caller", err))?,
                );
            }
            "format" => {
                format = match text.as_str() {
                    "json" => Format::Json,
                    "csv" => Format::Csv,
                    _ => return Err(ApiError::invalid_parameter("format", "one of json, csv")),
                }
            }
            other => {
                return Err(ApiError::invalid_parameter(
                    other,
                    "unknown; known are start_date, end_date, caller, format",
                ));
            }
        }
    }
    let span = Days::new(MAX_REPORT_DAYS - 1);
    let (from, to) = match (start, end) {
        (Some(from), Some(to)) => (from, to),
        (Some(from), None) => (from, (from + span).min(today)),
        (None, Some(to)) => ((to - span).max(oldest_kept(today)).min(to), to),
        (None, None) => (today - span, today),
    };
    let earliest = oldest_kept(today);
    if to > today {
        return Err(ApiError::invalid_parameter(
            "end_date",
            format!("after today ({} UTC)", today.format(DATE)),
        ));
    }
    if from < earliest {
        return Err(ApiError::invalid_parameter(
            "start_date",
            format!(
                "before the last {RETAINED_DAYS} days, which are all that is kept (the earliest \
                 is {})",
                earliest.format(DATE)
            ),
        ));
    }
    if from > to {
        return Err(ApiError::invalid_parameter(
            "end_date",
            "before `start_date` (a reversed range)",
        ));
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_REPORT_DAYS as i64 {
        return Err(ApiError::invalid_parameter(
            "end_date",
            format!(
                "{days} days from `start_date`; at most {MAX_REPORT_DAYS} per request (ask \
                 for the rest separately)"
            ),
        ));
    }
    Ok(Asked {
        from,
        to,
        caller,
        format,
    })
}

/// Usage per day, caller, route and VirusTotal endpoint.
///
/// Requests, observables, VirusTotal calls (consuming quota), answers from the cache or
/// decided locally (not consuming), deferrals, refusals and upstream errors, per UTC day ×
/// caller × vtenrich route × VirusTotal endpoint, with totals; the last 60 days are kept, at
/// most 30 per request. An admin sees every caller (`caller` filters); a `user` caller sees
/// itself. `format=csv` gives one row per day × caller × route × endpoint with a header row,
/// the same numbers as the JSON.
#[utoipa::path(
    get,
    path = "/v1/usage",
    tag = "usage",
    params(UsageQuery),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The usage of the range (JSON; `text/csv` with `format=csv`).", body = UsageReport),
        (status = 401, description = "A caller key was missing or wrong, or another caller's usage was asked for without one (`unauthorized`).", body = ErrorBody),
        (status = 403, description = "A `user` caller asked for another caller's usage (`forbidden`).", body = ErrorBody),
        (status = 422, description = "A bad query parameter, named in the message (`invalid_parameter`): unknown or repeated, a date not `YYYYMMDD`, `end_date` before `start_date` or after today, `start_date` before the last 60 days, more than 30 days, an invalid caller id, an unknown `format`.", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = "The usage counts cannot be read (`usage_unavailable`).", body = ErrorBody),
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let asked = parse(query.as_deref(), state.usage.today())?;
    let caller = caller.map(|Extension(c)| c);
    let is_admin = require_admin(caller.as_ref()).is_ok();
    let only = match (&asked.caller, &caller) {
        (Some(wanted), Some(me)) if wanted == me.id() => Some(wanted.clone()),
        (Some(wanted), _) => {
            require_admin(caller.as_ref())?;
            Some(wanted.clone())
        }
        (None, _) if is_admin => None,
        (None, Some(me)) => Some(me.id().clone()),
        (None, None) => return Err(super::auth::unauthorized()),
    };
    let rows = state
        .usage
        .report(asked.from, asked.to, only.as_ref())
        .await
        .map_err(|err| {
            tracing::warn!(error = format!("{err:#}"), "cannot read the usage counts");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "usage_unavailable",
                "the usage counts cannot be read right now; try again",
            )
        })?;
    Ok(match asked.format {
        Format::Json => Json(report(&asked, &rows)).into_response(),
        Format::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&rows),
        )
            .into_response(),
    })
}

/// The rows (ordered by day, caller, route, endpoint) as the JSON report.
fn report(asked: &Asked, rows: &[Row]) -> UsageReport {
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
                endpoint: row.key.endpoint.as_str().to_owned(),
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
        start_date: asked.from.format(DATE).to_string(),
        end_date: asked.to.format(DATE).to_string(),
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
fn csv(rows: &[Row]) -> String {
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
            row.key.endpoint.as_str().to_owned(),
        ];
        let counts = CSV_COUNTERS
            .iter()
            .map(|(_, counter)| row.counts.get(*counter).to_string());
        let _ = out.write_record(fixed.into_iter().chain(counts));
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, DATE).unwrap()
    }

    #[test]
    fn every_bad_parameter_is_refused_by_name() {
        for (query, named) in [
            ("start_date=2026-11-01", "`start_date`"),
            ("start_date=2026111", "`start_date`"),
            ("start_date=+2026111", "`start_date`"),
            ("end_date=20261131", "`end_date`"),
            ("start_date=20261120&end_date=20261110", "`end_date`"),
            ("end_date=20261201", "`end_date`"),
            ("start_date=20261001", "`start_date`"),
            ("start_date=20261031&end_date=20261130", "`end_date`"),
            ("caller=Not%20An%20Id", "`caller`"),
            ("format=xml", "`format`"),
            ("colour=red", "`colour`"),
            ("caller=a&caller=b", "`caller`"),
        ] {
            let err = parse(Some(query), today()).expect_err(query);
            assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert!(err.message.contains(named), "{query}: {}", err.message);
        }
    }

    #[test]
    fn the_default_is_the_last_30_days_and_the_window_holds_60() {
        let asked = parse(None, today()).unwrap();
        assert_eq!((asked.from, asked.to), (day("20261101"), today()));
        assert_eq!(asked.format, Format::Json);

        // 30 days, the first of them the oldest kept: allowed.
        let oldest = parse(Some("start_date=20261002&end_date=20261031"), today()).unwrap();
        assert_eq!(oldest.from, oldest_kept(today()));
        // One day earlier is the 61st day back: refused.
        assert!(parse(Some("start_date=20261001&end_date=20261030"), today()).is_err());
        // An end alone starts 29 days before it; a start alone ends 29 days after it.
        let ended = parse(Some("end_date=20261110"), today()).unwrap();
        assert_eq!(ended.from, day("20261012"));
        let started = parse(Some("start_date=20261120&format=csv"), today()).unwrap();
        assert_eq!((started.to, started.format), (today(), Format::Csv));
    }
}
