//! Pure mapping of VirusTotal answer bodies into our domain types; every shape problem is `Malformed`.
//!
//! The parts every object type shares (envelope, reputation facts, timestamps) live here; each
//! type's own fields are mapped in `normalize/{domain,url,file}.rs`.

mod domain;
mod file;
mod url;

pub use domain::parse_domain_report;
pub use file::parse_file_report;
pub use url::parse_url_report;

use chrono::{DateTime, Utc};

use super::VtError;
use super::wire;
use crate::quota::SyncedUsage;
use crate::report::{Analysis, AnalysisStats, Code2, IpReport, Votes};

/// Longest piece of upstream-derived text (a parser message or an error code) we repeat.
const MAX_ECHO_CHARS: usize = 100;

/// Parses a 200 body of `GET /ip_addresses/{id}` into the normalised report.
pub fn parse_ip_report(body: &[u8]) -> Result<IpReport, VtError> {
    // An object without attributes is a known IP with nothing recorded, not an error.
    let Some(a) = object::<wire::IpAttributes>(body, "ip_address")? else {
        return Ok(IpReport::default());
    };
    let Analysis {
        stats,
        community_score,
        votes,
        tags,
        last_analysis_at,
    } = analysis(
        a.last_analysis_stats,
        a.reputation,
        a.total_votes,
        a.tags,
        a.last_analysis_date,
    )?;
    Ok(IpReport {
        stats,
        community_score,
        votes,
        tags,
        last_analysis_at,
        country: code2(a.country, "country")?,
        continent: code2(a.continent, "continent")?,
        asn: a.asn,
        as_owner: non_empty(a.as_owner),
        cidr: non_empty(a.network),
        rir: non_empty(a.regional_internet_registry),
    })
}

/// The attributes of a 200 body holding one object of type `kind`; `None` when it has none.
fn object<A: serde::de::DeserializeOwned>(body: &[u8], kind: &str) -> Result<Option<A>, VtError> {
    let envelope: wire::Envelope<A> = serde_json::from_slice(body).map_err(json_error)?;
    let object = envelope
        .data
        .ok_or_else(|| VtError::Malformed("no `data` object".to_owned()))?;
    if object.kind.as_deref() != Some(kind) {
        return Err(VtError::Malformed(format!("`data.type` is not \"{kind}\"")));
    }
    Ok(object.attributes)
}

/// The reputation facts every object type carries, from their wire fields.
fn analysis(
    stats: Option<wire::Stats>,
    reputation: Option<i64>,
    votes: Option<wire::Votes>,
    tags: Option<Vec<Box<str>>>,
    last_analysis_date: Option<i64>,
) -> Result<Analysis, VtError> {
    Ok(Analysis {
        stats: stats.map(self::stats),
        community_score: reputation,
        votes: votes.map(|v| Votes {
            harmless: v.harmless.unwrap_or(0),
            malicious: v.malicious.unwrap_or(0),
        }),
        tags: tags.map(|tags| non_empty_list(&tags).collect()),
        last_analysis_at: last_analysis_date
            .map(|t| timestamp(t, "last_analysis_date"))
            .transpose()?,
    })
}

/// Parses a 200 body of `GET /users/{id}/overall_quotas` into the key owner's used counts.
pub(super) fn parse_overall_quotas(body: &[u8]) -> Result<SyncedUsage, VtError> {
    let envelope: wire::QuotasEnvelope = serde_json::from_slice(body).map_err(json_error)?;
    Ok(SyncedUsage {
        day_used: envelope.data.api_requests_daily.user.used,
        month_used: envelope.data.api_requests_monthly.user.used,
    })
}

/// The `error.code` of a VirusTotal error body, or `""` when the body is anything else.
///
/// Only short identifier-like codes are kept: a wrong base URL can answer with an HTML page
/// whose text must not end up in our errors and logs.
pub(super) fn error_code(body: &[u8]) -> String {
    let Ok(envelope) = serde_json::from_slice::<wire::ErrorEnvelope>(body) else {
        return String::new();
    };
    let code = envelope.error.code;
    let plausible = code.len() <= MAX_ECHO_CHARS
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if plausible {
        code.into_string()
    } else {
        String::new()
    }
}

fn stats(s: wire::Stats) -> AnalysisStats {
    // VirusTotal omits zero buckets in some historical answers; absent means none.
    AnalysisStats {
        malicious: s.malicious.unwrap_or(0),
        suspicious: s.suspicious.unwrap_or(0),
        harmless: s.harmless.unwrap_or(0),
        undetected: s.undetected.unwrap_or(0),
        timeout: s.timeout.unwrap_or(0),
    }
}

fn timestamp(secs: i64, field: &str) -> Result<DateTime<Utc>, VtError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| VtError::Malformed(format!("`{field}` is out of range")))
}

/// The list without empty strings (VirusTotal pads some lists with them).
fn non_empty_list(values: &[Box<str>]) -> impl Iterator<Item = &str> {
    values.iter().map(|v| &**v).filter(|v| !v.is_empty())
}

fn code2(value: Option<Box<str>>, field: &str) -> Result<Option<Code2>, VtError> {
    match non_empty(value) {
        None => Ok(None),
        // A non-code means the format changed; dropping it silently would hide that.
        Some(s) => Code2::parse(&s)
            .map(Some)
            .ok_or_else(|| VtError::Malformed(format!("`{field}` is not a two-letter code"))),
    }
}

fn non_empty(value: Option<Box<str>>) -> Option<Box<str>> {
    value.filter(|s| !s.is_empty())
}

/// serde_json's message names the field and position; its echo of upstream text is capped.
fn json_error(e: serde_json::Error) -> VtError {
    let message = e.to_string();
    let capped: String = message.chars().take(MAX_ECHO_CHARS).collect();
    let ellipsis = if capped.len() < message.len() {
        "…"
    } else {
        ""
    };
    VtError::Malformed(format!("{capped}{ellipsis}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_body(attributes: &str) -> Vec<u8> {
        format!(r#"{{"data":{{"id":"8.8.8.8","type":"ip_address","attributes":{attributes}}}}}"#)
            .into_bytes()
    }

    fn is_malformed(result: Result<IpReport, VtError>) -> bool {
        matches!(result, Err(VtError::Malformed(_)))
    }

    #[test]
    fn wrong_types_are_malformed_not_panics_or_defaults() {
        let cases = [
            r#"{"asn":"15169"}"#,
            r#"{"asn":-1}"#,
            r#"{"asn":1.5}"#,
            r#"{"last_analysis_stats":"x"}"#,
            r#"{"last_analysis_stats":{"malicious":-2}}"#,
            r#"{"last_analysis_stats":{"harmless":2.5}}"#,
            r#"{"total_votes":{"malicious":"3"}}"#,
            r#"{"reputation":"high"}"#,
            r#"{"tags":"a"}"#,
            r#"{"tags":[1]}"#,
            r#"{"country":"USA"}"#,
            r#"{"continent":7}"#,
            r#"{"last_analysis_date":99999999999999999}"#,
            r#""not an object""#,
        ];
        for attributes in cases {
            assert!(
                is_malformed(parse_ip_report(&ip_body(attributes))),
                "{attributes}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_an_ip_object_is_malformed() {
        let cases: [&[u8]; 5] = [
            b"<html>not json</html>",
            b"{}",
            br#"{"data":{"type":"domain","attributes":{}}}"#,
            br#"{"data":{"attributes":{}}}"#,
            br#"{"data":"x"}"#,
        ];
        for body in cases {
            assert!(is_malformed(parse_ip_report(body)));
        }
    }

    #[test]
    fn missing_or_null_attributes_and_empty_strings_become_none() {
        let empty = parse_ip_report(br#"{"data":{"type":"ip_address"}}"#).unwrap();
        let nulls = parse_ip_report(&ip_body(
            r#"{"asn":null,"country":null,"as_owner":"","network":"","continent":"","tags":["", "x"]}"#,
        ))
        .unwrap();

        assert_eq!(empty, IpReport::default());
        assert_eq!(nulls.asn, None);
        assert_eq!(nulls.country, None);
        assert_eq!(nulls.continent, None);
        assert_eq!(nulls.as_owner, None);
        assert_eq!(nulls.cidr, None);
        assert_eq!(
            nulls
                .tags
                .map(|t| t.iter().map(str::to_owned).collect::<Vec<_>>()),
            Some(vec!["x".to_owned()])
        );
    }

    #[test]
    fn absent_counters_inside_present_stats_count_as_zero() {
        let report =
            parse_ip_report(&ip_body(r#"{"last_analysis_stats":{"malicious":4}}"#)).unwrap();

        assert_eq!(
            report.stats,
            Some(AnalysisStats {
                malicious: 4,
                ..AnalysisStats::default()
            })
        );
    }

    #[test]
    fn parser_messages_do_not_echo_long_upstream_text() {
        let long = "A".repeat(5000);
        let Err(VtError::Malformed(message)) =
            parse_ip_report(&ip_body(&format!(r#"{{"asn":"{long}"}}"#)))
        else {
            panic!("expected Malformed");
        };

        assert!(message.chars().count() <= MAX_ECHO_CHARS + 1, "{message}");
    }

    #[test]
    fn only_identifier_like_error_codes_are_kept() {
        assert_eq!(
            error_code(br#"{"error":{"code":"NotFoundError","message":"x"}}"#),
            "NotFoundError"
        );
        assert_eq!(error_code(b"<html>404 Not Found</html>"), "");
        assert_eq!(error_code(br#"{"error":{"code":"has spaces <b>"}}"#), "");
        let long = format!(r#"{{"error":{{"code":"{}"}}}}"#, "E".repeat(500));
        assert_eq!(error_code(long.as_bytes()), "");
    }
}
