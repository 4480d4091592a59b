//! The OpenAPI document's frame: title, tags, and the caller-key security schemes that the
//! protected operations name, so tools importing the document (SOAR platforms, Swagger UI's
//! "Authorize") learn how to authenticate. Paths come from the route registrations.

use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Said of every scheme: keys are checked only when callers are configured.
const WHEN: &str = "Checked only when the server has callers configured (`[[callers]]` in its \
                    configuration); without callers the API is open.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "vtenrich",
        description = "Enriches security observables (IP addresses) with VirusTotal reputation, verdict, geo and network fields, from a TTL cache or from one VirusTotal call per new observable, under a quota-aware limiter.\n\nAuthentication: when the server has callers configured, the enrichment and quota operations need a caller key, sent in any one of three ways (the `bearer`, `api_key` and `basic` schemes are alternatives); `/metrics` needs one only when the server sets `VTENRICH_METRICS_OPEN=false`. The admin operations always need the key of a caller with the `admin` role (401 without one, 403 for a `user` caller). Health, `/openapi.json`, `/docs` and MISP's `/modules` are always open; MISP's `/query`, as MISP sends no headers, also takes the key from its body's module config (`caller_key`). Every non-2xx answer has the `ErrorBody` shape.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    modifiers(&CallerKeys),
    tags(
        (name = "enrichment", description = "Look observables up."),
        (name = "operations", description = "Health, quota and metrics."),
        (name = "usage", description = "Who spent the quota, on what: per day, caller, route and VirusTotal endpoint (admins see every caller, a `user` caller itself)."),
        (name = "admin", description = "Manage callers at runtime (callers with the `admin` role only)."),
        (name = "administration", description = "For admin callers: the audit log, cache purges."),
        (name = "integrations", description = "The misp-modules protocol, for MISP (see also `/v1/lookup` and `format`/`fields` for Dynatrace and Elastic)."),
        (name = "console", description = "The web console's sign-in: a caller's key exchanged for a session cookie that stands for the caller on every API route (state-changing calls also send the session's CSRF token in `X-CSRF-Token`)."),
    )
)]
pub(super) struct ApiDoc;

/// Adds the three ways a caller can present its key (see `auth.rs`) as security schemes.
struct CallerKeys;

impl Modify for CallerKeys {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(format!("`Authorization: Bearer <key>`. {WHEN}")))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key".to_owned(),
                format!("`X-API-Key: <key>`. {WHEN}"),
            ))),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(format!(
                        "Basic auth with the key as the password (any user name), for webhook \
                         senders that only offer user and password. {WHEN}"
                    )))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "vtenrich_session",
                "The console's session cookie, set by `POST /console/session`. Accepted wherever \
                 a caller key is, as that caller; a state-changing request with it also sends \
                 the session's CSRF token in `X-CSRF-Token`.",
            ))),
        );
    }
}
