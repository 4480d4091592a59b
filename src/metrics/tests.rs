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

#[test]
fn every_observable_type_is_exported_from_the_start() {
    use crate::observable::ObservableType;
    let all = [
        ObservableType::Ip,
        ObservableType::Domain,
        ObservableType::Url,
        ObservableType::File,
    ];
    for kind in all {
        // A new variant fails to compile here until it is listed above and in the labels.
        match kind {
            ObservableType::Ip
            | ObservableType::Domain
            | ObservableType::Url
            | ObservableType::File => {}
        }
        assert!(
            labels::OBSERVABLE_TYPES.contains(&kind.as_str()),
            "type {kind} is not initialised at 0"
        );
        assert_ne!(kind.as_str(), labels::UNKNOWN_TYPE);
    }
}
