//! `GET /files/{hash}` answers into [`FileReport`].

use super::{analysis, non_empty, non_empty_list, object, timestamp, wire};
use crate::report::{FileReport, MAX_NAMES, ThreatClassification, ThreatCount};
use crate::virustotal::VtError;

/// Parses a 200 body of `GET /files/{hash}` into the normalised report.
pub fn parse_file_report(body: &[u8]) -> Result<FileReport, VtError> {
    let Some(a) = object::<wire::FileAttributes>(body, "file")? else {
        return Ok(FileReport::default());
    };
    Ok(FileReport {
        analysis: analysis(
            a.last_analysis_stats,
            a.reputation,
            a.total_votes,
            a.tags,
            a.last_analysis_date,
        )?,
        md5: hex(a.md5, 32, "md5")?,
        sha1: hex(a.sha1, 40, "sha1")?,
        sha256: hex(a.sha256, 64, "sha256")?,
        size: a.size,
        type_description: non_empty(a.type_description),
        meaningful_name: non_empty(a.meaningful_name),
        names: a
            .names
            .map(|names| non_empty_list(&names).take(MAX_NAMES).collect()),
        threat: a.popular_threat_classification.map(threat).map(Box::new),
        first_submitted_at: a
            .first_submission_date
            .map(|t| timestamp(t, "first_submission_date"))
            .transpose()?,
    })
}

/// A hash the entry will be found by: anything but lower-case hex of the right length means
/// the format changed, and caching under it would make the entry unreachable.
fn hex(value: Option<Box<str>>, len: usize, field: &str) -> Result<Option<Box<str>>, VtError> {
    match non_empty(value) {
        None => Ok(None),
        Some(h) if h.len() == len && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(h.to_ascii_lowercase().into()))
        }
        Some(_) => Err(VtError::Malformed(format!(
            "`{field}` is not {len} hex digits"
        ))),
    }
}

fn threat(t: wire::file::ThreatClassification) -> ThreatClassification {
    let counts = |list: Option<Vec<wire::file::ThreatCount>>| {
        list.unwrap_or_default()
            .into_iter()
            .map(|c| ThreatCount {
                value: c.value,
                count: c.count,
            })
            .collect()
    };
    ThreatClassification {
        suggested_label: non_empty(t.suggested_threat_label),
        categories: counts(t.popular_threat_category),
        names: counts(t.popular_threat_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(attributes: &str) -> Vec<u8> {
        format!(r#"{{"data":{{"type":"file","attributes":{attributes}}}}}"#).into_bytes()
    }

    #[test]
    fn only_the_first_ten_names_are_kept() {
        let names: Vec<String> = (0..25).map(|i| format!("\"n{i}\"")).collect();

        let report =
            parse_file_report(&body(&format!(r#"{{"names":[{}]}}"#, names.join(",")))).unwrap();

        let kept = report.names.unwrap();
        assert_eq!(kept.len(), MAX_NAMES);
        assert_eq!(
            (kept.iter().next(), kept.iter().nth(9)),
            (Some("n0"), Some("n9"))
        );
    }

    #[test]
    fn hashes_are_lower_cased_and_bad_ones_are_malformed() {
        let upper =
            parse_file_report(&body(r#"{"md5":"44D88612FEA8A8F36DE82E1278ABB02F"}"#)).unwrap();

        assert_eq!(
            upper.md5.as_deref(),
            Some("44d88612fea8a8f36de82e1278abb02f")
        );
        for attributes in [
            r#"{"md5":"xyz"}"#,
            r#"{"sha256":"44d88612fea8a8f36de82e1278abb02f"}"#,
            r#"{"size":-1}"#,
        ] {
            assert!(
                matches!(
                    parse_file_report(&body(attributes)),
                    Err(VtError::Malformed(_))
                ),
                "{attributes}"
            );
        }
    }
}
