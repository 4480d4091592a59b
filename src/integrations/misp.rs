//! The misp-modules protocol, so MISP uses vtenrich as an enrichment server: `GET /modules`
//! lists one expansion module, `vtenrich`; `POST /query` enriches one attribute and answers
//! in the MISP standard format (`{"results": {"Attribute": [...], "Object": [...]}}`) or
//! `{"error": "..."}`, which MISP shows to the analyst.
//!
//! MISP gives up on a hover after 5 s, so a query never waits longer than [`MISP_DEADLINE`]: what
//! is not in the cache by then is answered "deferred, retry" while its lookup goes on and fills
//! the cache for the next hover.

mod objects;

use std::time::Duration;

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::{Extension, Json};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{TypeRow, names, typed};
use crate::audit::SourceIp;
use crate::enrich::{Caller, ParsedItem};
use crate::http::{ApiError, AppState, ErrorBody, KeyInBody, ResultBody, UNAUTHORIZED, who};
use crate::observable::{InvalidObservable, Observable, ObservableType};
use crate::usage::Route;

/// The module's name in MISP (`Plugin.Enrichment_vtenrich_enabled`).
pub const MODULE: &str = "vtenrich";

/// The module config key that carries the caller key, since MISP cannot send headers.
pub const CALLER_KEY: &str = "caller_key";

/// MISP's attribute types and what each becomes (those misp-modules' `virustotal_public`
/// module takes). A hash type also names the digest: an `md5` attribute must hold an MD5.
pub const TYPES: [TypeRow; 8] = [
    ("ip-src", ObservableType::Ip),
    ("ip-dst", ObservableType::Ip),
    ("domain", ObservableType::Domain),
    ("hostname", ObservableType::Domain),
    ("url", ObservableType::Url),
    ("md5", ObservableType::File),
    ("sha1", ObservableType::File),
    ("sha256", ObservableType::File),
];

/// Longest a query takes: under MISP's 5 s hover timeout, with room for the network.
pub const MISP_DEADLINE: Duration = Duration::from_millis(4_000);

/// Longest a query waits for a quota slot, so a granted call still ends before the deadline.
const QUOTA_WAIT: Duration = Duration::from_millis(2_500);

/// List the misp-modules expansion module.
///
/// MISP reads this at `{Plugin.Enrichment_services_url}:{port}/modules` to show the `vtenrich`
/// module, the attribute types it takes and its config keys.
#[utoipa::path(
    get,
    path = "/modules",
    tag = "integrations",
    responses(
        (status = 200, description = "The modules (one: `vtenrich`) in misp-modules' listing format.", body = Vec<Object>, example = json!([{"name": "vtenrich", "type": "expansion",
            "mispattributes": {"input": ["ip-src", "ip-dst", "domain", "hostname", "url", "md5", "sha1", "sha256"], "format": "misp_standard"},
            "meta": {"name": "vtenrich", "module-type": ["expansion", "hover"], "config": ["caller_key"]}}])),
    )
)]
pub async fn modules() -> Json<Value> {
    let input: Vec<&str> = names(&TYPES).collect();
    Json(json!([{
        "name": MODULE,
        "type": "expansion",
        "mispattributes": {"input": input, "format": "misp_standard"},
        "meta": {
            "name": "vtenrich",
            "version": env!("CARGO_PKG_VERSION"),
            "author": "vtenrich",
            "description": "VirusTotal reputation of IPs, domains, URLs and file hashes through \
                            vtenrich: cached, one VirusTotal call per new observable, within the \
                            shared key's quota",
            "module-type": ["expansion", "hover"],
            "config": [CALLER_KEY],
            "input": format!("An attribute of type {}.", input.join(", ")),
            "output": "A virustotal-report object and, referring to it, the observable's own \
                       object: domain-ip for an IP (with an asn object) or a domain (with its \
                       resolved addresses), url for a URL, file for a hash (its three hashes, \
                       size and name).",
            "features": "Answers from vtenrich's cache when it can; a new observable costs one \
                         VirusTotal call, or is answered 'deferred, retry' when the quota is busy.",
            "requirements": ["A vtenrich caller key (config `caller_key`) when vtenrich has callers"],
        },
    }]))
}

/// Enrich one MISP attribute.
///
/// Body: `{"module": "vtenrich", "attribute": {"type": "ip-src", "value": "8.8.8.8", "uuid":
/// "..."}, "config": {"caller_key": "..."}}`, or the legacy `{"module": "vtenrich", "ip-src":
/// "8.8.8.8"}`. Attribute types: `ip-src`, `ip-dst`, `domain`, `hostname`, `url`, `md5`,
/// `sha1`, `sha256`. Answers within 4 s. Errors are `{"error": "..."}` with status 200, as
/// misp-modules answers them, so MISP shows them; the caller key comes from a header or from
/// the module config `caller_key`.
#[utoipa::path(
    post,
    path = "/query",
    tag = "integrations",
    request_body(content = Object, description = "A misp-modules query.", example = json!({"module": "vtenrich", "attribute": {"type": "ip-src", "value": "8.8.8.8", "uuid": "5f2b7c4e-1111-4c3e-9a55-0c4a5d3e2b10"}, "config": {"caller_key": "..."}})),
    security((), ("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "`{\"results\": {\"Attribute\": [], \"Object\": [...]}}` in the MISP standard format, or `{\"error\": \"...\"}` (unsupported type, invalid value, no report, deferred, wrong caller key).", body = Object),
        (status = 400, description = "The body is not a JSON object (`invalid_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than the server's `VTENRICH_BODY_LIMIT` (`body_too_large`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
    )
)]
pub async fn query(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    key_in_body: Option<Extension<KeyInBody>>,
    source: Option<Extension<SourceIp>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    // Any content type: misp-modules servers read the body whatever MISP labels it.
    let body = body.map_err(ApiError::from)?;
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return Err(ApiError::bad_request(
            "invalid_json",
            "a misp-modules query is a JSON object",
        ));
    };
    let caller = match (caller, key_in_body) {
        (Some(caller), _) => who(Some(caller)),
        (None, Some(_)) => {
            let key = request["config"][CALLER_KEY].as_str().unwrap_or_default();
            match state.registry.identify(key).filter(|_| !key.is_empty()) {
                Some(caller) => {
                    tracing::Span::current().record("caller", caller.as_str());
                    caller
                }
                None => {
                    state.audit.auth_failed(source.and_then(|s| s.0.0));
                    return Ok(error(
                        "vtenrich refused the query: set the module's caller_key to a valid \
                         vtenrich caller key",
                    ));
                }
            }
        }
        (None, None) => who(None),
    };
    Ok(answer(&state, caller, &request).await)
}

fn error(message: impl Into<String>) -> Json<Value> {
    Json(json!({ "error": message.into() }))
}

/// The attribute's type and value: from `attribute`, else from the legacy `"<type>": value`.
fn attribute_of(request: &Map<String, Value>) -> Option<(&str, &str)> {
    if let Some(attribute) = request.get("attribute").and_then(Value::as_object) {
        return Some((
            attribute.get("type")?.as_str()?,
            attribute.get("value")?.as_str()?,
        ));
    }
    TYPES.iter().find_map(|(name, _)| {
        request
            .get(*name)
            .and_then(Value::as_str)
            .map(|value| (*name, value))
    })
}

async fn answer(state: &AppState, caller: Caller, request: &Map<String, Value>) -> Json<Value> {
    let Some((kind, value)) = attribute_of(request) else {
        return error(
            "the query needs an attribute: {\"attribute\": {\"type\", \"value\", \"uuid\"}} \
             or the legacy {\"<type>\": value}",
        );
    };
    // misp-modules' wording, which MISP users know.
    let Some(observable_type) = typed(&TYPES, kind) else {
        return error("Unsupported attribute type.");
    };
    let parsed = Observable::parse(observable_type, value).and_then(|o| digest_matches(kind, o));
    let item = ParsedItem {
        input: value.to_owned(),
        parsed,
    };
    let wait = state.limits.wait(None).min(QUOTA_WAIT);
    let enriched = tokio::time::timeout(
        MISP_DEADLINE,
        super::enrich(state, caller.on(Route::MispQuery), vec![item], wait),
    )
    .await;
    let Ok(batch) = enriched else {
        return error(
            "deferred: vtenrich is still fetching this from VirusTotal; retry in a few seconds",
        );
    };
    match batch.items.into_iter().next() {
        Some(item) => render(ResultBody::render(item, &state.verdict), kind),
        None => error("vtenrich returned no result"),
    }
}

/// The observable, unless `kind` names a digest other than the hash's (MISP types hashes by
/// digest; the hash's length says which it is).
fn digest_matches(kind: &str, observable: Observable) -> Result<Observable, InvalidObservable> {
    match &observable {
        Observable::File(hash) if hash.kind().as_str() != kind => Err(InvalidObservable::new(
            "the hash's length does not match the attribute's digest type",
        )),
        _ => Ok(observable),
    }
}

/// The MISP answer for one result.
fn render(result: ResultBody, kind: &str) -> Json<Value> {
    let reason = result
        .error
        .as_ref()
        .map_or_else(String::new, |e| e.message.clone());
    match result.status {
        "ok" => Json(json!({"results": objects::standard(&result, kind)})),
        "not_found" => error(format!(
            "VirusTotal has no report for {}",
            result.observable
        )),
        "invalid" => error(format!("not a valid {kind} value: {reason}")),
        "deferred" => error(format!(
            "deferred: no VirusTotal quota slot yet, vtenrich fetches it in the background; \
             retry in {} s",
            result.retry_after_secs.unwrap_or(1)
        )),
        "not_routable" => error(format!("{}: {reason}", result.observable)),
        _ => error(format!("the VirusTotal lookup failed: {reason}")),
    }
}
