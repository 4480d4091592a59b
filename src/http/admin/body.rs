//! The admin API's request bodies: parsed by hand from JSON into the registry's domain types,
//! so every refusal names the field at fault (serde's messages name a line and column). The
//! structs here only document the shapes in the OpenAPI document.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::caller::CallerId;
use crate::callers::{CallerChange, NewCaller};
use crate::http::error::ApiError;

/// Longest grace a rotated key can get: 30 days.
pub(super) const MAX_GRACE_SECS: u64 = 30 * 24 * 3600;

/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 1024;

/// Body of `POST /v1/admin/callers`.
// Documents the shape only: the body is parsed by hand, to name a bad field.
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "soar-playbooks", "role": "user", "kind": "service", "priority": "bulk", "daily_cap": 300, "description": "SOAR enrichment playbooks"}))]
pub struct CreateCallerBody {
    /// `[a-z0-9][a-z0-9_.-]{0,63}`; not `anonymous` (the implicit caller).
    #[schema(pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")]
    pub id: String,
    /// `admin` or `user` (default).
    #[schema(value_type = String, required = false, example = "user", pattern = "^(admin|user)$")]
    pub role: Option<String>,
    /// `service` (default) or `person`.
    #[schema(value_type = String, required = false, example = "service", pattern = "^(service|person)$")]
    pub kind: Option<String>,
    /// `interactive` (default) or `bulk`.
    #[schema(value_type = String, required = false, example = "interactive", pattern = "^(interactive|bulk)$")]
    pub priority: Option<String>,
    /// VirusTotal calls per UTC day, at least 1; absent or null: no own cap.
    #[schema(minimum = 1)]
    pub daily_cap: Option<u64>,
    /// Free text, at most 1,024 characters.
    #[schema(max_length = 1024)]
    pub description: Option<String>,
}

/// Body of `PATCH /v1/admin/callers/{id}`: the fields to change (others stay), or
/// VirusTotal's own user payload for the daily cap.
// Documents the shape only: the body is parsed by hand, to name a bad field.
#[allow(dead_code)]
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PatchCallerBody {
    /// Any of `role`, `kind`, `priority`, `daily_cap` (null removes the cap),
    /// `description` (null removes it).
    Fields(PatchFields),
    /// `{"data": {"type": "user", "attributes": {"quotas": {"api_requests_daily": {"allowed": 300}}}}}`,
    /// as sent to VirusTotal's `PATCH /users/{id}`: sets the daily cap.
    VirusTotal(VtUserPatch),
}

/// The fields a patch may change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, example = json!({"priority": "interactive", "daily_cap": 500}))]
pub struct PatchFields {
    #[schema(value_type = String, required = false, example = "admin", pattern = "^(admin|user)$")]
    pub role: Option<String>,
    #[schema(value_type = String, required = false, example = "person", pattern = "^(service|person)$")]
    pub kind: Option<String>,
    #[schema(value_type = String, required = false, example = "bulk", pattern = "^(interactive|bulk)$")]
    pub priority: Option<String>,
    #[schema(minimum = 1)]
    pub daily_cap: Option<u64>,
    pub description: Option<String>,
}

/// VirusTotal's user patch, as far as vtenrich reads it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": {"type": "user", "attributes": {"quotas": {"api_requests_daily": {"allowed": 300}}}}}))]
#[serde(deny_unknown_fields)]
pub struct VtUserPatch {
    pub data: VtUserData,
}

/// VirusTotal's user object, as far as the patch reads it. (`id` is also accepted when it is
/// the caller's own id; the document leaves it out, as it must match the path.)
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VtUserData {
    /// `user` when given.
    #[serde(rename = "type")]
    #[schema(value_type = String, required = false, pattern = "^user$")]
    pub kind: Option<String>,
    pub attributes: VtUserAttributes,
}

/// `attributes` of [`VtUserData`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VtUserAttributes {
    pub quotas: VtUserQuotas,
}

/// `attributes.quotas` of [`VtUserData`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VtUserQuotas {
    pub api_requests_daily: VtDailyQuota,
}

/// `attributes.quotas.api_requests_daily` of [`VtUserData`]: the daily cap.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VtDailyQuota {
    #[schema(minimum = 1)]
    pub allowed: u64,
}

/// Body of `POST /v1/admin/callers/{id}/keys` (optional).
// Documents the shape only: the body is parsed by hand, to name a bad field.
#[allow(dead_code)]
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"grace_secs": 3600}))]
pub struct RotateBody {
    /// How long the current keys stay valid, in seconds (default 0: they stop at once; at
    /// most 2,592,000, 30 days).
    #[schema(minimum = 0, maximum = 2592000)]
    pub grace_secs: Option<u64>,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::unprocessable("invalid_request", format!("`{field}`: {why}"))
}

fn object(value: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::unprocessable(
            "invalid_request",
            format!("{what} must be a JSON object"),
        )),
    }
}

fn only(map: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(invalid(
            &format!("{prefix}{unknown}"),
            format!("unknown field; expected one of {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A closed-set field (`role`, `kind`, `priority`); `None` when absent.
fn choice<T: DeserializeOwned>(
    map: &Map<String, Value>,
    field: &str,
    allowed: &str,
) -> Result<Option<T>, ApiError> {
    match map.get(field) {
        None => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|_| invalid(field, format!("must be one of {allowed}, not {value}"))),
    }
}

/// A non-negative whole number, also when written with a zero fraction (`300.0`): JSON Schema's
/// `integer`, which the OpenAPI document promises.
fn whole(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(f))
            // In range and whole: the conversion is exact.
            .map(|f| f as u64)
    })
}

/// A daily cap: a whole number of at least 1; null: no cap.
fn cap(value: &Value, field: &str) -> Result<Option<u64>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match whole(n) {
            Some(cap) if cap >= 1 => Ok(Some(cap)),
            _ => Err(invalid(
                field,
                format!("must be a whole number of at least 1 (or null for no cap), not {n}"),
            )),
        },
        other => Err(invalid(
            field,
            format!("must be a whole number of at least 1 (or null for no cap), not {other}"),
        )),
    }
}

fn description(value: &Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= MAX_DESCRIPTION => Ok(Some(s.clone())),
        Value::String(_) => Err(invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        )),
        other => Err(invalid(
            "description",
            format!("must be a string or null, not {other}"),
        )),
    }
}

/// A caller id from a path or body; malformed is 422 naming `id`.
pub(super) fn caller_id(text: &str) -> Result<CallerId, ApiError> {
    CallerId::parse(text).map_err(|err| invalid("id", err))
}

const ROLES: &str = "admin, user";
const KINDS: &str = "service, person";
const PRIORITIES: &str = "interactive, bulk";

/// Parses a create body.
pub(super) fn new_caller(value: Value) -> Result<NewCaller, ApiError> {
    let map = object(value, "the body")?;
    only(
        &map,
        "",
        &["id", "role", "kind", "priority", "daily_cap", "description"],
    )?;
    let id = match map.get("id") {
        Some(Value::String(id)) => caller_id(id)?,
        Some(other) => return Err(invalid("id", format!("must be a string, not {other}"))),
        None => return Err(invalid("id", "is required")),
    };
    Ok(NewCaller {
        id,
        role: choice(&map, "role", ROLES)?.unwrap_or_default(),
        kind: choice(&map, "kind", KINDS)?.unwrap_or_default(),
        priority: choice(&map, "priority", PRIORITIES)?.unwrap_or_default(),
        daily_cap: map
            .get("daily_cap")
            .map(|v| cap(v, "daily_cap"))
            .transpose()?
            .flatten(),
        description: map
            .get("description")
            .map(description)
            .transpose()?
            .flatten(),
    })
}

/// Parses a patch body: our fields, or VirusTotal's user payload (recognised by `data`).
pub(super) fn change(value: Value, id: &CallerId) -> Result<CallerChange, ApiError> {
    let map = object(value, "the body")?;
    if map.contains_key("data") {
        return virustotal_change(map, id);
    }
    only(
        &map,
        "",
        &["role", "kind", "priority", "daily_cap", "description"],
    )?;
    if map.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_request",
            "the body names no field to change: role, kind, priority, daily_cap or description",
        ));
    }
    Ok(CallerChange {
        role: choice(&map, "role", ROLES)?,
        kind: choice(&map, "kind", KINDS)?,
        priority: choice(&map, "priority", PRIORITIES)?,
        daily_cap: map
            .get("daily_cap")
            .map(|v| cap(v, "daily_cap"))
            .transpose()?,
        description: map.get("description").map(description).transpose()?,
    })
}

/// `{"data": {"type": "user", "attributes": {"quotas": {"api_requests_daily": {"allowed": N}}}}}`.
fn virustotal_change(map: Map<String, Value>, id: &CallerId) -> Result<CallerChange, ApiError> {
    only(&map, "", &["data"])?;
    let mut at = String::from("data");
    let data = object(map["data"].clone(), &format!("`{at}`"))?;
    only(&data, "data.", &["type", "id", "attributes"])?;
    if let Some(kind) = data.get("type")
        && kind != "user"
    {
        return Err(invalid(
            "data.type",
            format!("must be \"user\", not {kind}"),
        ));
    }
    if let Some(given) = data.get("id")
        && given.as_str() != Some(id.as_str())
    {
        return Err(invalid(
            "data.id",
            format!("must be the caller's id {:?} when given", id.as_str()),
        ));
    }
    let mut level = data;
    for name in ["attributes", "quotas", "api_requests_daily"] {
        let next = level
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(&format!("{at}.{name}"), "is required"))?;
        at = format!("{at}.{name}");
        level = object(next, &format!("`{at}`"))?;
        let expected = match name {
            "attributes" => "quotas",
            "quotas" => "api_requests_daily",
            _ => "allowed",
        };
        only(&level, &format!("{at}."), &[expected])?;
    }
    let field = format!("{at}.allowed");
    let allowed = level
        .get("allowed")
        .ok_or_else(|| invalid(&field, "is required"))?;
    Ok(CallerChange {
        daily_cap: Some(cap(allowed, &field)?),
        ..CallerChange::default()
    })
}

/// Parses a rotate body (an empty body is the default: no grace).
pub(super) fn grace(body: &[u8]) -> Result<Duration, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Duration::ZERO);
    }
    let value: Value = serde_json::from_slice(body).map_err(super::super::extract::json_error)?;
    if value.is_null() {
        // The document allows a null body (the body is optional): the same as none.
        return Ok(Duration::ZERO);
    }
    let map = object(value, "the body")?;
    only(&map, "", &["grace_secs"])?;
    let secs = match map.get("grace_secs") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if whole(n).is_some_and(|s| s <= MAX_GRACE_SECS) => {
            whole(n).unwrap_or(0)
        }
        Some(other) => {
            return Err(invalid(
                "grace_secs",
                format!(
                    "must be a whole number of seconds from 0 to {MAX_GRACE_SECS}, not {other}"
                ),
            ));
        }
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests;
