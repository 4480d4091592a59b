//! How a VirusTotal call failed, classified by what callers branch on.

use std::time::Duration;

/// A failed VirusTotal call. Never carries the API key or the request URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VtError {
    /// 429 QuotaExceededError: the daily/monthly budget is spent.
    #[error("VirusTotal quota exceeded")]
    QuotaExceeded,
    /// 429 TooManyRequestsError (or a 429 without a known code): too fast.
    #[error("VirusTotal rate limit hit (too many requests)")]
    TooManyRequests {
        /// `Retry-After` when VirusTotal sent one.
        retry_after: Option<Duration>,
    },
    /// 401 / 403: the key is wrong, inactive or not allowed.
    #[error("VirusTotal rejected the API key ({code})")]
    Auth { status: u16, code: String },
    /// Another 4xx (e.g. 400 InvalidArgumentError).
    #[error("VirusTotal rejected the request: {status} {code}")]
    Client { status: u16, code: String },
    /// 5xx (503 TransientError, 504 DeadlineExceededError, 500 ...).
    #[error("VirusTotal failed: {status} {code}")]
    Server { status: u16, code: String },
    /// No complete answer within the request timeout.
    #[error("VirusTotal did not answer in time")]
    Timeout,
    /// The connection never opened (DNS failure, connection refused, blocked egress, connect
    /// timeout, TLS handshake failure): the request was never sent, so VirusTotal did not
    /// count it.
    #[error("could not connect to VirusTotal: {0}")]
    Connect(String),
    /// The connection failed after the request may have been sent (reset, body cut short).
    #[error("could not reach VirusTotal: {0}")]
    Transport(String),
    /// 200 with a body that is not the expected JSON, or over the size limit.
    #[error("VirusTotal sent a malformed answer: {0}")]
    Malformed(String),
}

impl VtError {
    /// Stable label for metrics (`vtenrich_upstream_requests_total{outcome}`).
    pub fn outcome(&self) -> &'static str {
        match self {
            VtError::QuotaExceeded => "quota_exceeded",
            VtError::TooManyRequests { .. } => "too_many_requests",
            VtError::Auth { .. } => "auth",
            VtError::Client { .. } => "client_error",
            VtError::Server { .. } => "server_error",
            VtError::Timeout => "timeout",
            VtError::Connect(_) | VtError::Transport(_) => "transport",
            VtError::Malformed(_) => "malformed",
        }
    }

    /// The per-item `error.code` in our API.
    pub fn api_code(&self) -> &'static str {
        match self {
            VtError::QuotaExceeded | VtError::TooManyRequests { .. } => "upstream_quota",
            VtError::Auth { .. } => "upstream_auth",
            VtError::Client { .. } => "upstream_rejected",
            VtError::Server { .. } | VtError::Connect(_) | VtError::Transport(_) => {
                "upstream_unavailable"
            }
            VtError::Timeout => "upstream_timeout",
            VtError::Malformed(_) => "upstream_malformed",
        }
    }

    /// Worth retrying within the caller's wait (5xx and transport trouble only).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            VtError::Server { .. } | VtError::Connect(_) | VtError::Transport(_) | VtError::Timeout
        )
    }

    /// True when the request provably never reached VirusTotal (its connection never
    /// opened), so the quota slot it used can be given back. A timeout is not: the request
    /// may have arrived and been counted.
    pub fn never_reached_virustotal(&self) -> bool {
        matches!(self, VtError::Connect(_))
    }
}
