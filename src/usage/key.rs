//! What usage is counted by: the vtenrich route a request came in on, the VirusTotal endpoint
//! an observable needs, and the counters kept for each (day, caller, route, endpoint).
//!
//! Each is a closed set with a fixed text form, so the stored field names stay readable and
//! a new observable type or route extends one list here.

use crate::caller::{Caller, CallerId};
use crate::enrich::{CALLER_QUOTA_EXCEEDED, Outcome, Source};
use crate::quota::DenyReason;

/// The vtenrich routes that enrich, by their route templates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `POST /v1/enrich`.
    Enrich,
    /// `GET /v1/ip/{ip}`.
    Ip,
    /// `GET`, `POST` or `PUT /v1/lookup` (Dynatrace's shapes).
    Lookup,
    /// `POST /query` (the misp-modules protocol).
    MispQuery,
    /// `GET /v1/domain/{domain}`.
    Domain,
    /// `GET /v1/file/{hash}`.
    File,
    /// `GET /v1/url`.
    Url,
    /// `POST /v1/extract`.
    Extract,
    /// Enrichment no route started (tools and tests driving the enricher directly).
    #[default]
    Other,
}

impl Route {
    /// Every route, in documentation order.
    pub const ALL: [Route; 9] = [
        Route::Enrich,
        Route::Ip,
        Route::Domain,
        Route::File,
        Route::Url,
        Route::Extract,
        Route::Lookup,
        Route::MispQuery,
        Route::Other,
    ];

    /// The route template (`other` for [`Route::Other`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Enrich => "/v1/enrich",
            Route::Ip => "/v1/ip/{ip}",
            Route::Lookup => "/v1/lookup",
            Route::MispQuery => "/query",
            Route::Domain => "/v1/domain/{domain}",
            Route::File => "/v1/file/{hash}",
            Route::Url => "/v1/url",
            Route::Extract => "/v1/extract",
            Route::Other => "other",
        }
    }
}

pub use crate::virustotal::Endpoint;

/// The stored and reported name of what usage is counted under: the VirusTotal endpoint's
/// own name (as in its usage reports), `none` for input that is not an observable (decided
/// locally, VirusTotal never asked).
pub fn endpoint_name(endpoint: Option<Endpoint>) -> &'static str {
    endpoint.map_or("none", Endpoint::name)
}

/// Every endpoint usage is counted under, `none` first.
fn every_endpoint() -> impl Iterator<Item = Option<Endpoint>> {
    std::iter::once(None).chain(Endpoint::ALL.map(Some))
}

/// One counter of a (day, caller, route, endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// Requests that asked for at least one observable of the endpoint.
    Requests,
    /// Input entries.
    Observables,
    /// VirusTotal calls started (consuming quota; retries included, calls that never reached
    /// VirusTotal given back).
    VirusTotalCalls,
    /// Answers from the cache, fresh or stale (not consuming).
    Cache,
    /// Answers decided without VirusTotal: special-purpose addresses, invalid input (not
    /// consuming).
    Local,
    /// Answers from a VirusTotal call, this request's or one it joined.
    FromVirusTotal,
    /// No quota slot within the wait (minute rate, fleet lock); queued for a background fill.
    Deferred,
    /// Refused by the caller's daily cap.
    RefusedCap,
    /// Refused by the key's quota: day or month spent, the interactive reserve, or
    /// VirusTotal's block (queued for a background fill all the same).
    RefusedQuota,
    /// VirusTotal failed and no stale answer was at hand.
    UpstreamErrors,
}

impl Counter {
    /// Every counter, in report order.
    pub const ALL: [Counter; 10] = [
        Counter::Requests,
        Counter::Observables,
        Counter::VirusTotalCalls,
        Counter::Cache,
        Counter::Local,
        Counter::FromVirusTotal,
        Counter::Deferred,
        Counter::RefusedCap,
        Counter::RefusedQuota,
        Counter::UpstreamErrors,
    ];

    /// The stored name (also the CSV column).
    pub fn as_str(self) -> &'static str {
        match self {
            Counter::Requests => "requests",
            Counter::Observables => "observables",
            Counter::VirusTotalCalls => "virustotal_calls",
            Counter::Cache => "cache",
            Counter::Local => "local",
            Counter::FromVirusTotal => "from_virustotal",
            Counter::Deferred => "deferred",
            Counter::RefusedCap => "refused_cap",
            Counter::RefusedQuota => "refused_quota",
            Counter::UpstreamErrors => "upstream_errors",
        }
    }

    /// Whether it counts quota VirusTotal charged.
    pub fn is_consuming(self) -> bool {
        self == Counter::VirusTotalCalls
    }

    /// The counter an item's outcome adds to.
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Answered {
                source: Source::VirusTotal,
                ..
            } => Counter::FromVirusTotal,
            Outcome::Answered { .. } => Counter::Cache,
            Outcome::NotRoutable(_) | Outcome::Invalid(_) => Counter::Local,
            Outcome::Deferred { reason, .. } => match reason {
                DenyReason::Minute | DenyReason::Closed => Counter::Deferred,
                DenyReason::Day | DenyReason::Month | DenyReason::Reserve | DenyReason::Blocked => {
                    Counter::RefusedQuota
                }
            },
            Outcome::Error { error, .. } if error.code == CALLER_QUOTA_EXCEEDED => {
                Counter::RefusedCap
            }
            Outcome::Error { .. } => Counter::UpstreamErrors,
        }
    }
}

/// Who used what: the caller, the route it came in on and the VirusTotal endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    pub caller: CallerId,
    pub route: Route,
    /// `None` for input that is not an observable.
    pub endpoint: Option<Endpoint>,
}

/// Separates the parts of a stored field; no caller id, route or counter holds it.
const SEPARATOR: char = '|';

impl UsageKey {
    /// `caller`'s use of `endpoint` on the route its request came in on.
    pub fn of(caller: &Caller, endpoint: impl Into<Option<Endpoint>>) -> Self {
        Self {
            caller: caller.id().clone(),
            route: caller.route(),
            endpoint: endpoint.into(),
        }
    }

    /// The stored name of `counter` of this key: `caller|route|endpoint|counter` (a Redis
    /// hash field, the durable store's key text).
    pub fn field(&self, counter: Counter) -> String {
        format!(
            "{}{SEPARATOR}{}{SEPARATOR}{}{SEPARATOR}{}",
            self.caller,
            self.route.as_str(),
            endpoint_name(self.endpoint),
            counter.as_str()
        )
    }

    /// Reads a stored field back; `None` for one this version does not know (a newer
    /// replica's route or counter), which is skipped rather than misread.
    pub fn parse_field(field: &str) -> Option<(Self, Counter)> {
        let mut parts = field.split(SEPARATOR);
        let caller = CallerId::parse(parts.next()?).ok()?;
        let route = parts.next()?;
        let route = Route::ALL.into_iter().find(|r| r.as_str() == route)?;
        let endpoint = parts.next()?;
        let endpoint = every_endpoint().find(|e| endpoint_name(*e) == endpoint)?;
        let counter = parts.next()?;
        let counter = Counter::ALL.into_iter().find(|c| c.as_str() == counter)?;
        parts.next().is_none().then_some((
            Self {
                caller,
                route,
                endpoint,
            },
            counter,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_reads_back_as_written_and_strangers_are_skipped() {
        for route in Route::ALL {
            for endpoint in every_endpoint() {
                for counter in Counter::ALL {
                    let key = UsageKey {
                        caller: CallerId::parse("soar.prod-2").unwrap(),
                        route,
                        endpoint,
                    };
                    let field = key.field(counter);
                    assert_eq!(
                        UsageKey::parse_field(&field),
                        Some((key, counter)),
                        "{field}"
                    );
                }
            }
        }
        for stranger in [
            "soar|/v1/hash|ip_addresses|requests",
            "soar|/v1/enrich|ip_address|requests",
            "soar|/v1/enrich|ip_addresses|bytes",
            "Soar|/v1/enrich|ip_addresses|requests",
            "soar|/v1/enrich|ip_addresses|requests|x",
            "soar|/v1/enrich",
        ] {
            assert_eq!(UsageKey::parse_field(stranger), None, "{stranger}");
        }
    }

    #[test]
    fn only_virustotal_calls_consume() {
        let consuming: Vec<_> = Counter::ALL
            .into_iter()
            .filter(|c| c.is_consuming())
            .collect();
        assert_eq!(consuming, [Counter::VirusTotalCalls]);
    }
}
