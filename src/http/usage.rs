//! `GET /v1/usage`: VirusTotal calls and answers per UTC day, caller, route and endpoint,
//! consuming quota or not, as JSON or CSV. Admins see every caller; a `user` caller itself.

use axum::Extension;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use utoipa::IntoParams;

mod view;

use view::{UsageReport, csv, report};

use super::AppState;
use super::auth::require_admin;
use super::error::{ApiError, ErrorBody, INTERNAL};
use super::extract::query_params;
use crate::caller::{Caller, CallerId};
use crate::usage::{MAX_REPORT_DAYS, RETAINED_DAYS, oldest_kept};

/// VirusTotal's date form in its usage API, used for parameters and answers alike.
pub(super) const DATE: &str = "%Y%m%d";

/// The query parameters (documentation; parsed by hand so that unknown and repeated ones are
/// refused by name).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct UsageQuery {
    /// First UTC day, `YYYYMMDD`, within the last 60 days (default: 29 days before `end_date`).
    #[param(example = "20261101", pattern = "^[0-9]{8}$")]
    start_date: Option<String>,
    /// Last UTC day, `YYYYMMDD`, not after today and at most 29 days after `start_date`
    /// (default: today).
    #[param(example = "20261130", pattern = "^[0-9]{8}$")]
    end_date: Option<String>,
    /// Only this caller. An admin may name any; a `user` caller only itself.
    #[param(pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")]
    caller: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
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
        (status = 200, description = "The usage of the range (JSON; `text/csv` with `format=csv`).", content(
            (UsageReport = "application/json"),
            (String = "text/csv"),
        )),
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
        Format::Json => Json(report(asked.from, asked.to, &rows)).into_response(),
        Format::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&rows),
        )
            .into_response(),
    })
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
