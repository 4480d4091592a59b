//! Tests of `metrics`.

use super::labels;
use crate::quota::DenyReason;
use crate::virustotal::VtError;

#[test]
fn every_upstream_failure_outcome_is_exported_from_the_start() {
    let failures = [
        VtError::QuotaExceeded,
        VtError::TooManyRequests { retry_after: None },
        VtError::Auth {
            status: 401,
            code: String::new(),
        },
        VtError::Client {
            status: 400,
            code: String::new(),
        },
        VtError::Server {
            status: 500,
            code: String::new(),
        },
        VtError::Timeout,
        VtError::Transport(String::new()),
        VtError::Malformed(String::new()),
    ];

    for failure in failures {
        assert!(
            labels::UPSTREAM_OUTCOMES.contains(&failure.outcome()),
            "outcome {:?} is not initialised at 0",
            failure.outcome()
        );
    }
}

#[test]
fn every_denial_reason_is_exported_from_the_start() {
    let reasons = [
        DenyReason::Minute,
        DenyReason::Day,
        DenyReason::Month,
        DenyReason::Blocked,
        DenyReason::Closed,
    ];

    for reason in reasons {
        assert!(
            labels::QUOTA_DECISIONS.contains(&("denied", reason.as_str())),
            "denial {:?} is not initialised at 0",
            reason.as_str()
        );
    }
}
