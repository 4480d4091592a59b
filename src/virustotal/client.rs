//! The HTTP side of the VirusTotal client: one GET per call, bounded in time and size, every status classified.

use std::time::Duration;

use anyhow::Context;
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Response, StatusCode, redirect};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::normalize::{
    error_code, parse_domain_report, parse_file_report, parse_ip_report, parse_overall_quotas,
    parse_url_report,
};
use super::{Endpoint, Target, VtError};
use crate::observable::Observable;
use crate::quota::SyncedUsage;
use crate::report::Report;

const USER_AGENT: &str = concat!("vtenrich/", env!("CARGO_PKG_VERSION"));
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-apikey");
/// VirusTotal error bodies are ~100 bytes; anything larger is not one of them.
const ERROR_BODY_LIMIT: usize = 16 * 1024;
/// Declared lengths are only trusted this far when reserving memory up front.
const MAX_PREALLOCATION: usize = 1024 * 1024;

/// How to reach VirusTotal.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// API root, e.g. `https://www.virustotal.com/api/v3` (a trailing `/` is optional).
    pub base_url: Url,
    /// The `x-apikey` value.
    pub api_key: SecretString,
    /// Limit for establishing the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Limit for the whole call, reading the body included.
    pub request_timeout: Duration,
    /// Larger answers are rejected as `Malformed` before they are buffered.
    pub max_body_bytes: usize,
}

/// A VirusTotal API v3 client; cloning shares the connection pool.
///
/// It never retries: every call may cost quota, so retrying is the caller's decision.
#[derive(Clone)]
pub struct VtClient {
    http: reqwest::Client,
    base_url: Url,
    max_body_bytes: usize,
}

impl std::fmt::Debug for VtClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VtClient")
            .field("base_url", &self.base_url.as_str())
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// What came back, before it is turned into a result.
enum Answer {
    /// 200 with its (size-checked) body.
    Ok(Vec<u8>),
    /// Any other status, with VirusTotal's error code when the body carried one.
    Failed {
        status: StatusCode,
        code: String,
        retry_after: Option<Duration>,
    },
}

impl VtClient {
    /// Builds the client; fails when the base URL cannot take a path or the key is not a header value.
    pub fn new(settings: ClientSettings) -> anyhow::Result<Self> {
        let base_url = settings.base_url;
        anyhow::ensure!(
            matches!(base_url.scheme(), "http" | "https") && !base_url.cannot_be_a_base(),
            "the VirusTotal base URL must be an http(s) URL"
        );
        // The error must not quote the key, so the parser's own error is dropped.
        let mut key = HeaderValue::from_str(settings.api_key.expose_secret()).map_err(|_| {
            anyhow::anyhow!("the VirusTotal API key contains characters not allowed in a header")
        })?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(API_KEY_HEADER, key);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(USER_AGENT)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // `x-apikey` is not a header reqwest strips on redirect, and VirusTotal never redirects.
            .redirect(redirect::Policy::none())
            .build()
            .context("building the VirusTotal HTTP client")?;
        Ok(Self {
            http,
            base_url,
            max_body_bytes: settings.max_body_bytes,
        })
    }

    /// One `GET` at the observable's endpoint (see [`Target`]). `Ok(None)` means VirusTotal
    /// does not know it. The caller decides first whether it may be sent at all.
    pub async fn lookup(&self, observable: &Observable) -> Result<Option<Report>, VtError> {
        let target = Target::of(observable);
        let path = [target.endpoint.name(), target.id.as_str()];
        match target.endpoint {
            Endpoint::IpAddresses => self.object(&path, parse_ip_report).await,
            Endpoint::Domains => self.object(&path, parse_domain_report).await,
            Endpoint::Urls => self.object(&path, parse_url_report).await,
            Endpoint::Files => self.object(&path, parse_file_report).await,
        }
    }

    /// One `GET` of an object, parsed on 200; a 404 NotFoundError is `Ok(None)`.
    async fn object<T, R>(
        &self,
        segments: &[&str],
        parse: fn(&[u8]) -> Result<T, VtError>,
    ) -> Result<Option<R>, VtError>
    where
        R: From<T>,
    {
        let url = self.endpoint(segments)?;
        match self.get(url).await? {
            Answer::Ok(body) => parse(&body).map(|report| Some(R::from(report))),
            Answer::Failed { status, code, .. }
                if status == StatusCode::NOT_FOUND && code == "NotFoundError" =>
            {
                Ok(None)
            }
            Answer::Failed {
                status,
                code,
                retry_after,
            } => Err(classify(status, code, retry_after)),
        }
    }

    /// One `GET {base}/users/{id}/overall_quotas`: the used daily and monthly counts of the key's user.
    pub async fn overall_quotas(&self, user_id: &str) -> Result<SyncedUsage, VtError> {
        let url = self.endpoint(&["users", user_id, "overall_quotas"])?;
        match self.get(url).await? {
            Answer::Ok(body) => parse_overall_quotas(&body),
            Answer::Failed {
                status,
                code,
                retry_after,
            } => Err(classify(status, code, retry_after)),
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url, VtError> {
        let mut url = self.base_url.clone();
        // Checked in `new`; kept typed rather than unwrapped.
        url.path_segments_mut()
            .map_err(|()| VtError::Transport("the base URL cannot take a path".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get(&self, url: Url) -> Result<Answer, VtError> {
        let mut response = self.http.get(url).send().await.map_err(request_error)?;
        let status = response.status();
        if status == StatusCode::OK {
            return read_bounded(&mut response, self.max_body_bytes)
                .await
                .map(Answer::Ok);
        }
        let retry_after = retry_after(response.headers());
        // The status alone still classifies the answer when its body is unreadable.
        let limit = self.max_body_bytes.min(ERROR_BODY_LIMIT);
        let code = match read_bounded(&mut response, limit).await {
            Ok(body) => error_code(&body),
            Err(_) => String::new(),
        };
        Ok(Answer::Failed {
            status,
            code,
            retry_after,
        })
    }
}

/// Reads the body, refusing (without buffering) anything over `limit` bytes.
async fn read_bounded(response: &mut Response, limit: usize) -> Result<Vec<u8>, VtError> {
    let too_big = || VtError::Malformed(format!("body exceeds {limit} bytes"));
    let declared = response.content_length();
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_big());
    }
    let reserve = declared.map_or(0, |len| usize::try_from(len).unwrap_or(usize::MAX));
    let mut body = Vec::with_capacity(reserve.min(limit).min(MAX_PREALLOCATION));
    // Chunked answers declare no length, so the limit is also enforced while streaming.
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if chunk.len() > limit - body.len() {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Classifies a non-200 status (404 NotFoundError is handled by the caller that expects it).
fn classify(status: StatusCode, code: String, retry_after: Option<Duration>) -> VtError {
    let status = status.as_u16();
    match status {
        429 if code == "QuotaExceededError" => VtError::QuotaExceeded,
        429 => VtError::TooManyRequests { retry_after },
        401 | 403 => VtError::Auth { status, code },
        400..=499 => VtError::Client { status, code },
        500..=599 => VtError::Server { status, code },
        // 1xx/2xx/3xx other than 200: VirusTotal sends none of them.
        _ => VtError::Malformed(format!("unexpected HTTP status {status}")),
    }
}

/// `Retry-After` in delay-seconds form; the HTTP-date form is not used by VirusTotal.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Maps a reqwest failure, keeping the cause chain (useful) but never the URL.
///
/// Connect errors come first: a connect timeout is also a timeout, but one before anything
/// was sent, and that difference decides whether the quota slot is given back.
fn request_error(e: reqwest::Error) -> VtError {
    let connect = e.is_connect();
    if e.is_timeout() && !connect {
        return VtError::Timeout;
    }
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if connect {
        VtError::Connect(message)
    } else {
        VtError::Transport(message)
    }
}
