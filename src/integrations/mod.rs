//! Adapters for the platforms analysts already run (MISP, Cortex/TheHive, Elastic, Dynatrace):
//! each translates a platform's request into parsed items for the same [`Enricher`] call the
//! `/v1/enrich` handler makes, and the rendered results into the platform's shape. Nothing here
//! looks up, caches or charges anything itself.
//!
//! Every adapter names the platform's observable types in one table beside it, each mapped to
//! an [`ObservableType`] or to `None` ("not supported yet"), so a new observable type is one
//! table entry per adapter.
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
/// vtenrich type it becomes, `None` while vtenrich cannot enrich that kind yet.
pub type TypeRow = (&'static str, Option<ObservableType>);

/// What a platform type name means to vtenrich.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    /// A type vtenrich enriches.
    Supported(ObservableType),
    /// A type the platform has and vtenrich will enrich later.
    NotYet,
    /// A name the platform table does not hold.
    Unknown,
}

/// Looks `name` up in an adapter's type table.
pub fn typed(table: &[TypeRow], name: &str) -> Typed {
    match table.iter().find(|(known, _)| *known == name) {
        Some((_, Some(kind))) => Typed::Supported(*kind),
        Some((_, None)) => Typed::NotYet,
        None => Typed::Unknown,
    }
}

/// The platform names in `table` that vtenrich enriches today, in table order.
pub fn supported(table: &[TypeRow]) -> impl Iterator<Item = &'static str> + '_ {
    table
        .iter()
        .filter(|(_, kind)| kind.is_some())
        .map(|(name, _)| *name)
}
