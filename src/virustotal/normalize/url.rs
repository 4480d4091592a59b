//! `GET /urls/{id}` answers into [`UrlReport`].

use super::{analysis, non_empty, object, wire};
use crate::report::UrlReport;
use crate::virustotal::VtError;

/// Parses a 200 body of `GET /urls/{id}` into the normalised report.
pub fn parse_url_report(body: &[u8]) -> Result<UrlReport, VtError> {
    let Some(a) = object::<wire::UrlAttributes>(body, "url")? else {
        return Ok(UrlReport::default());
    };
    Ok(UrlReport {
        analysis: analysis(
            a.last_analysis_stats,
            a.reputation,
            a.total_votes,
            a.tags,
            a.last_analysis_date,
        )?,
        final_url: non_empty(a.last_final_url),
        http_status: a.last_http_response_code,
        title: non_empty(a.title),
        categories: a.categories.map(Into::into),
        tld: non_empty(a.tld),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_that_is_not_an_http_status_number_is_malformed() {
        for attributes in [
            r#"{"last_http_response_code":"200"}"#,
            r#"{"last_http_response_code":70000}"#,
        ] {
            let body = format!(r#"{{"data":{{"type":"url","attributes":{attributes}}}}}"#);
            assert!(
                matches!(
                    parse_url_report(body.as_bytes()),
                    Err(VtError::Malformed(_))
                ),
                "{attributes}"
            );
        }
    }
}
