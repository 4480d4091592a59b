//! What the simulator answers, and the faults tests can inject into those answers.

use std::net::IpAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use super::{generate, objects};
use crate::virustotal::Endpoint;

/// A broken answer the simulator gives instead of the normal one (see [`super::Simulator::inject`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That HTTP status with VirusTotal's error body `{"error":{"code","message"}}`.
    Status {
        /// HTTP status, e.g. 503.
        status: u16,
        /// VirusTotal error code, e.g. "TransientError".
        code: String,
        /// Human-readable message.
        message: String,
    },
    /// Wait this long (real time), then answer normally.
    Delay(Duration),
    /// 200 with an HTML page instead of JSON.
    NotJson,
    /// 200 with a well-formed object whose `asn` (IP) or `reputation` (other types) is a string.
    WrongTypes,
    /// Promise a long body, send part of it, then drop the connection.
    Reset,
    /// 429 TooManyRequestsError.
    TooManyRequests,
}

/// The answer decided for one request, cheap to build under the state lock; the body is
/// rendered afterwards so the lock never covers JSON generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub answer: Answer,
    pub delay: Option<Duration>,
    /// Cut the body short and abort the connection.
    pub cut: bool,
}

/// The status and body of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Error {
        status: u16,
        code: String,
        message: String,
    },
    Object {
        ip: IpAddr,
        wrong_types: bool,
    },
    /// A domain, URL or file object, named by its canonical name, URL or file seed.
    Typed {
        endpoint: Endpoint,
        key: String,
        wrong_types: bool,
    },
    NotJson,
    /// A relationship listing with no items (the simulator knows no relationships).
    EmptyList,
}

impl Answer {
    /// A VirusTotal error answer.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Answer::Error {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// What VirusTotal answers for `raw` when nothing goes wrong.
    pub fn normal(raw: &str) -> Self {
        match raw.parse::<IpAddr>() {
            Err(_) => Answer::error(
                400,
                "InvalidArgumentError",
                format!("\"{raw}\" is not a valid IP address"),
            ),
            Ok(ip) if !generate::is_known(ip) => Answer::error(
                404,
                "NotFoundError",
                format!("IP address \"{raw}\" not found"),
            ),
            Ok(ip) => Answer::Object {
                ip,
                wrong_types: false,
            },
        }
    }

    /// The HTTP status this answer carries.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Error { status, .. } => *status,
            Answer::Object { .. } | Answer::Typed { .. } | Answer::NotJson | Answer::EmptyList => {
                200
            }
        }
    }

    fn body(&self) -> (&'static str, Bytes) {
        let json = match self {
            Answer::NotJson => return ("text/html", Bytes::from_static(b"<html>oops</html>")),
            Answer::Error { code, message, .. } => {
                json!({"error": {"code": code, "message": message}})
            }
            Answer::EmptyList => json!({"data": [], "meta": {"count": 0}, "links": {}}),
            Answer::Object { ip, wrong_types } => {
                let mut object = generate::build(*ip);
                if *wrong_types {
                    let asn = &mut object["attributes"]["asn"];
                    *asn = match asn.as_u64() {
                        Some(n) => Value::String(n.to_string()),
                        None => Value::String("15169".into()),
                    };
                }
                json!({ "data": object })
            }
            Answer::Typed {
                endpoint,
                key,
                wrong_types,
            } => {
                let mut object = objects::build(*endpoint, key);
                if *wrong_types {
                    object["attributes"]["reputation"] = Value::String("high".into());
                }
                json!({ "data": object })
            }
        };
        ("application/json", Bytes::from(json.to_string()))
    }
}

impl Plan {
    /// The plan for a request whose normal answer is `normal`, under an optional fault.
    pub fn new(normal: Answer, fault: Option<Fault>) -> Self {
        let plan = |answer| Plan {
            answer,
            delay: None,
            cut: false,
        };
        match fault {
            None => plan(normal),
            Some(Fault::Status {
                status,
                code,
                message,
            }) => plan(Answer::error(status, &code, message)),
            Some(Fault::TooManyRequests) => plan(Answer::error(
                429,
                "TooManyRequestsError",
                "Too many requests",
            )),
            Some(Fault::NotJson) => plan(Answer::NotJson),
            Some(Fault::WrongTypes) => match normal {
                // Broken types need an object to break; an unparseable address keeps its 400.
                Answer::Object { ip, .. } => plan(Answer::Object {
                    ip,
                    wrong_types: true,
                }),
                Answer::Typed { endpoint, key, .. } => plan(Answer::Typed {
                    endpoint,
                    key,
                    wrong_types: true,
                }),
                other => plan(other),
            },
            Some(Fault::Delay(delay)) => Plan {
                delay: Some(delay),
                ..plan(normal)
            },
            Some(Fault::Reset) => Plan {
                cut: true,
                ..plan(normal)
            },
        }
    }

    /// Renders the HTTP response (after the delay, if any).
    pub async fn into_response(self) -> Response {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let status = StatusCode::from_u16(self.answer.status()).unwrap_or(StatusCode::OK);
        let (content_type, body) = self.answer.body();
        let mut response = if self.cut {
            cut_short(body)
        } else {
            Response::new(Body::from(body))
        };
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}

/// A response that announces more bytes than it sends: the stream fails after the first part,
/// which makes hyper abort the connection, so the client sees a reset mid-body.
fn cut_short(body: Bytes) -> Response {
    let promised = body.len() * 4 + 4096;
    let half = body.slice(..body.len() / 2);
    let sent = futures::stream::once(async move { Ok::<_, std::io::Error>(half) });
    let failed = futures::stream::once(async {
        // Without this pause hyper sees the failure before flushing anything, and the client
        // would get no status line at all instead of a body cut short.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated reset",
        ))
    });
    let mut response = Body::from_stream(sent.chain(failed)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(promised));
    response
}
