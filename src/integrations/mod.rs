//! Adapters for the platforms analysts already run (MISP, Cortex/TheHive, Elastic, Dynatrace):
//! each translates a platform's request into parsed items for the same [`Enricher`] call the
//! `/v1/enrich` handler makes, and the rendered results into the platform's shape. Nothing here
//! looks up, caches or charges anything itself.
//!
//! Every adapter names the platform's observable types in one table beside it, each mapped to
//! the [`ObservableType`] it becomes, so a new platform name is one table entry.
//!
//! - `dynatrace`: `/v1/lookup` (GET, POST, PUT) for Security Enrichment custom connections.
//! - `ecs`: Elastic Common Schema threat indicator documents (`format=ecs`).
//! - `fields`: the `fields=` trimming of results (Dynatrace workflows' 1 MB result limit).
//! - `misp`: the misp-modules protocol (`/modules`, `/query`).
//! - `output`: the `format` and `fields` query parameters and rendering under them.

pub mod dynatrace;
pub mod ecs;
pub mod fields;
pub mod misp;
pub mod output;

use std::time::Duration;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::enrich::{BatchResult, Caller, ParsedItem};
use crate::http::AppState;
use crate::observable::ObservableType;

/// The routes the adapters add to the API.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            dynatrace::lookup_get,
            dynatrace::lookup_post,
            dynatrace::lookup_put
        ))
        .merge(misp_routes())
}

/// The misp-modules routes alone, for the optional MISP listener.
pub fn misp_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(misp::modules))
        .routes(routes!(misp::query))
}

/// Enriches `items` for `caller` (carrying its route, for usage) exactly as `POST /v1/enrich`
/// does, usage included.
pub(crate) async fn enrich(
    state: &AppState,
    caller: Caller,
    items: Vec<ParsedItem>,
    wait: Duration,
) -> BatchResult {
    let batch = state.enricher.enrich(caller.clone(), items, wait).await;
    state.usage.record(&caller, &batch);
    crate::http::record_on_span(&batch);
    batch
}

/// One row of an adapter's type table: the platform's name for a kind of observable and the
/// vtenrich type it becomes.
pub type TypeRow = (&'static str, ObservableType);

/// The vtenrich type of the platform type `name`; `None` when the table does not hold it.
pub fn typed(table: &[TypeRow], name: &str) -> Option<ObservableType> {
    table
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, kind)| *kind)
}

/// The platform names in `table`, in table order.
pub fn names(table: &[TypeRow]) -> impl Iterator<Item = &'static str> + '_ {
    table.iter().map(|(name, _)| *name)
}
