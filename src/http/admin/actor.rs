//! Who is asking an admin operation: the `Admin` extractor (401/403 otherwise), the audit of
//! the changes it makes, and how a registry refusal is answered.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::view::CallerBody;
use crate::caller::Caller;
use crate::callers::RegistryError;
use crate::http::AppState;
use crate::http::auth::require_admin;
use crate::http::error::ApiError;

/// A request from an admin: 401 without a valid key, 403 for a `user` caller. Carries who
/// asked and from where, for the audit log.
pub struct Admin {
    id: String,
    source_ip: Option<std::net::IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let caller = parts.extensions.get::<Caller>();
        require_admin(caller)?;
        Ok(Admin {
            id: caller.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            source_ip: parts
                .extensions
                .get::<crate::audit::SourceIp>()
                .and_then(|s| s.0),
        })
    }
}

/// A caller as the API shows it, if it exists (the `before` of an audited change).
pub(super) fn shown(state: &AppState, id: &crate::caller::CallerId) -> Option<CallerBody> {
    let listed = state.registry.get(id).ok()?;
    Some(CallerBody::new(&listed, state.daily_use.as_ref()))
}

impl Admin {
    /// Records a change to caller `target` with its before and after (callers as the API
    /// shows them: never a key or a hash).
    pub(super) fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: &str,
        before: Option<&CallerBody>,
        after: Option<&CallerBody>,
    ) {
        let json = |body: Option<&CallerBody>| body.and_then(|b| serde_json::to_value(b).ok());
        state.audit.record_admin(
            &self.id,
            self.source_ip,
            action,
            "caller",
            target,
            json(before),
            json(after),
        );
    }
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        let message = err.to_string();
        match err {
            RegistryError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "caller_not_found", message)
            }
            RegistryError::Duplicate(_) => {
                ApiError::new(StatusCode::CONFLICT, "duplicate_id", message)
            }
            RegistryError::Reserved(_) => ApiError::unprocessable("invalid_request", message),
            RegistryError::TooMany(_) => ApiError::unprocessable("too_many_callers", message),
            RegistryError::FromConfig(_) => {
                ApiError::new(StatusCode::CONFLICT, "caller_from_config", message)
            }
            RegistryError::LastAdmin(_) => {
                ApiError::new(StatusCode::CONFLICT, "last_admin", message)
            }
            RegistryError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "a caller change could not be saved");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "callers_unavailable",
                    "the change could not be saved (durable store or Redis failing); nothing \
                     changed, try again",
                )
            }
        }
    }
}
