//! What VirusTotal answered for one observable, and how long that answer may be served.
//!
//! A domain type of its own because every tier holds it: the memory cache, the durable store,
//! Redis, and the results the API renders.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::report::{Report, VerdictPolicy};

/// What VirusTotal answered; both are worth caching (a 404 costs quota too).
///
/// 16 bytes: every [`Report`] is boxed, so a not-found answer costs no report's size.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// VirusTotal knows the observable.
    Found(Report),
    /// VirusTotal does not know the observable.
    NotFound,
}

/// A cached answer with its deadlines.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub answer: Answer,
    /// When VirusTotal answered.
    pub fetched_at: DateTime<Utc>,
    /// Served as fresh until then.
    pub fresh_until: DateTime<Utc>,
    /// Served as stale (only when the upstream fails or the quota is out) until then.
    pub stale_until: DateTime<Utc>,
    /// The answer's part of the API's result object, rendered on first use (see
    /// [`Prerendered`]).
    pub rendered: Prerendered,
}

impl Entry {
    /// An entry whose result JSON is not rendered yet.
    pub fn new(
        answer: Answer,
        fetched_at: DateTime<Utc>,
        fresh_until: DateTime<Utc>,
        stale_until: DateTime<Utc>,
    ) -> Self {
        Self {
            answer,
            fetched_at,
            fresh_until,
            stale_until,
            rendered: Prerendered::default(),
        }
    }
}

/// The part of the API's result object that depends only on the answer and the verdict policy
/// (`fetched_at` up to the type's own block), rendered once per entry by the HTTP layer and
/// spliced between the per-request fields of every answer served from it: cached answers are
/// most of the traffic, and rendering them again each time was most of their cost.
///
/// Rendered lazily, on the first answer served from the cache, so entries nobody asks for twice
/// cost no memory for it. It remembers the policy it was rendered under; under another one it is not
/// used (the caller renders the slow way), so a policy change can never serve a stale verdict.
/// It is not part of the answer: clones start empty and equality ignores it.
///
/// The pair is boxed so an entry nobody asked for twice pays 16 bytes for the slot, not 32:
/// held inline it would make [`Entry`] 88 bytes, and its `Arc` allocation 104, one size class
/// (112) above the 96 it fits now; that is 16 bytes more in every entry to save the pair's
/// 24-byte box in the rendered ones.
#[derive(Default)]
pub struct Prerendered(OnceLock<Box<(VerdictPolicy, Box<str>)>>);

impl Prerendered {
    /// The part rendered under `policy`, rendering it with `render` when this is the first use;
    /// `None` when it was rendered under another policy.
    pub fn get_or_render(
        &self,
        policy: &VerdictPolicy,
        render: impl FnOnce() -> Box<str>,
    ) -> Option<&str> {
        let (rendered_under, json) = &**self.0.get_or_init(|| Box::new((*policy, render())));
        (rendered_under == policy).then_some(&**json)
    }

    /// The part, when it was rendered under `policy`.
    pub fn get(&self, policy: &VerdictPolicy) -> Option<&str> {
        self.0.get().and_then(|rendered| {
            let (rendered_under, json) = &**rendered;
            (rendered_under == policy).then_some(&**json)
        })
    }

    /// Whether the part has been rendered.
    pub fn is_rendered(&self) -> bool {
        self.0.get().is_some()
    }
}

impl Clone for Prerendered {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Prerendered {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Prerendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_rendered() {
            "Prerendered(rendered)"
        } else {
            "Prerendered(empty)"
        })
    }
}
