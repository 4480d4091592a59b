//! The fast way to write result objects in the default format: an answered item is its few
//! per-request fields around the entry's pre-rendered answer part
//! ([`crate::answer::Prerendered`], rendered on the entry's first answer from the cache); every
//! other item, a new entry's first answer, and an entry rendered under another verdict policy
//! are written the slow way. Either way the bytes are exactly what serde_json
//! writes for [`ResultBody::render`] (a test holds them to it for every fixture and status).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{ItemErrorBody, MAX_ECHO_CHARS, ResultBody, Summary};
use crate::answer::Entry;
use crate::enrich::{BatchResult, ItemResult, Outcome, Source};
use crate::observable::{InvalidObservable, NotRoutable, Observable};
use crate::report::VerdictPolicy;
use crate::virustotal::write_gui_link;

/// A typical result object's size, to size a batch's buffer once.
const TYPICAL_RESULT_BYTES: usize = 768;

/// The result object of `item`, as JSON.
pub fn result_json(item: ItemResult, policy: &VerdictPolicy) -> Vec<u8> {
    let mut out = Vec::with_capacity(TYPICAL_RESULT_BYTES);
    write_result(&mut out, item, policy, &mut LocalTails::default());
    out
}

/// The answer of `POST /v1/enrich` for `batch`, as JSON: the bytes of [`EnrichResponse`].
pub fn batch_json(batch: BatchResult, policy: &VerdictPolicy) -> Vec<u8> {
    let summary = Summary::of(&batch);
    let mut out = Vec::with_capacity(64 + batch.items.len() * TYPICAL_RESULT_BYTES);
    out.extend_from_slice(b"{\"results\":[");
    let mut tails = LocalTails::default();
    for (i, item) in batch.items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_result(&mut out, item, policy, &mut tails);
    }
    out.extend_from_slice(b"],\"summary\":");
    serde_json::to_writer(&mut out, &summary).expect("a summary serialises");
    out.push(b'}');
    out
}

/// A 200 answer carrying `json`, with the content type `axum::Json` sets.
pub fn json_response(json: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

/// Appends the result object of `item` to `out`; `tails` keeps the rendered ends of local
/// answers (not routable, invalid) for the rest of a batch.
pub fn write_result(
    out: &mut Vec<u8>,
    item: ItemResult,
    policy: &VerdictPolicy,
    tails: &mut LocalTails,
) {
    if write_local(out, &item, tails) {
        return;
    }
    if let (
        Outcome::Answered {
            entry,
            source,
            stale,
            reason,
        },
        Some(observable),
    ) = (&item.outcome, &item.observable)
        && let Some(part) = match source {
            // Asked again: worth keeping rendered.
            Source::Cache => entry
                .rendered
                .get_or_render(policy, || answer_part(entry, policy)),
            // The first answer of a new entry may stay the only one: not worth the memory yet.
            _ => entry.rendered.get(policy),
        }
    {
        write_head(out, &item, *source, *stale);
        out.extend_from_slice(part.as_bytes());
        // A link is ASCII without quotes or backslashes (names in A-labels, hex ids, address
        // digits): nothing to escape.
        out.extend_from_slice(b",\"link\":\"");
        write_gui_link(out, observable);
        out.push(b'"');
        out.extend_from_slice(b",\"error\":");
        match reason {
            Some(reason) => {
                let body = ItemErrorBody {
                    code: reason.code,
                    message: reason.message.clone(),
                };
                serde_json::to_writer(&mut *out, &body).expect("an error serialises");
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"retry_after_secs\":null}");
        return;
    }
    serde_json::to_writer(out, &ResultBody::render(item, policy)).expect("a result serialises");
}

/// The ends of local answers' result objects (`"fetched_at":…` to the closing brace), by error
/// code and message: a batch's not-routable and invalid items share a handful of reasons, and
/// rendering each whole result the slow way made a batch with some of them markedly slower than
/// one of cache hits.
#[derive(Default)]
pub struct LocalTails(Vec<(LocalReason, Box<[u8]>)>);

/// What a local answer's error says, compared as a value: formatting each item's message just
/// to look its tail up cost more than writing the rest of the item.
#[derive(PartialEq)]
enum LocalReason {
    NotRoutable(NotRoutable),
    Invalid(InvalidObservable),
}

impl LocalReason {
    /// The reason of a local outcome, with the error its answer carries; `None` for any other.
    fn of(outcome: &Outcome) -> Option<(Self, ItemErrorBody)> {
        Some(match outcome {
            Outcome::NotRoutable(why) => (
                LocalReason::NotRoutable(why.clone()),
                ItemErrorBody {
                    code: "not_routable",
                    message: why.to_string(),
                },
            ),
            Outcome::Invalid(invalid) => (
                LocalReason::Invalid(invalid.clone()),
                ItemErrorBody {
                    code: "invalid_observable",
                    message: invalid.reason().to_owned(),
                },
            ),
            _ => return None,
        })
    }

    fn matches(&self, outcome: &Outcome) -> bool {
        match (self, outcome) {
            (LocalReason::NotRoutable(a), Outcome::NotRoutable(b)) => a == b,
            (LocalReason::Invalid(a), Outcome::Invalid(b)) => a == b,
            _ => false,
        }
    }
}

impl LocalTails {
    /// The end of a local answer with this error (everything after `"stale":false,`), or
    /// `None` for an outcome that is not answered locally.
    fn get(&mut self, outcome: &Outcome) -> Option<&[u8]> {
        if let Some(i) = self
            .0
            .iter()
            .position(|(reason, _)| reason.matches(outcome))
        {
            return Some(&self.0[i].1);
        }
        let (reason, error) = LocalReason::of(outcome)?;
        let mut body = ResultBody::blank();
        body.error = Some(error);
        let json = serde_json::to_string(&body).expect("a result serialises");
        let tail = json.as_bytes()[fetched_at(&json)..].into();
        self.0.push((reason, tail));
        self.0.last().map(|(_, tail)| &**tail)
    }
}

/// Writes a not-routable or invalid item the quick way (its fields, then its error's rendered
/// end); false for any other outcome.
fn write_local(out: &mut Vec<u8>, item: &ItemResult, tails: &mut LocalTails) -> bool {
    let Some(tail) = tails.get(&item.outcome) else {
        return false;
    };
    write_head(out, item, Source::Local, false);
    out.extend_from_slice(tail);
    true
}

/// The per-request opening of a result object, `{"observable":…` up to `"stale":…,`.
fn write_head(out: &mut Vec<u8>, item: &ItemResult, source: Source, stale: bool) {
    out.extend_from_slice(b"{\"observable\":");
    match &item.observable {
        Some(observable) => write_observable(out, observable),
        None => write_str(out, echoed(item.input.trim())),
    }
    out.extend_from_slice(b",\"input\":");
    write_str(out, echoed(&item.input));
    match &item.observable {
        Some(observable) => {
            out.extend_from_slice(b",\"type\":\"");
            out.extend_from_slice(observable.kind().as_str().as_bytes());
            out.extend_from_slice(b"\",\"status\":\"");
        }
        None => out.extend_from_slice(b",\"type\":null,\"status\":\""),
    }
    out.extend_from_slice(item.outcome.status().as_str().as_bytes());
    out.extend_from_slice(b"\",\"source\":\"");
    out.extend_from_slice(source.as_str().as_bytes());
    out.extend_from_slice(if stale {
        b"\",\"stale\":true,"
    } else {
        b"\",\"stale\":false,"
    });
}

/// The answer's part of a result object, `"fetched_at":…` up to the type's own block, rendered
/// the slow way and cut out: the fields around it are empty, so the cut cannot go wrong.
fn answer_part(entry: &Entry, policy: &VerdictPolicy) -> Box<str> {
    let mut body = ResultBody::blank();
    body.fill_answer(entry, policy);
    let json = serde_json::to_string(&body).expect("a result serialises");
    // Inside a JSON string a quote is escaped, so this can only be the object's own key.
    let end = json.rfind(",\"link\":").expect("a result has link");
    json[fetched_at(&json)..end].into()
}

/// Where a rendered result's `"fetched_at":` key starts: the per-request fields end there.
fn fetched_at(json: &str) -> usize {
    // Inside a JSON string a quote is escaped, so this can only be the object's own key.
    json.find("\"fetched_at\":")
        .expect("a result has fetched_at")
}

/// The canonical observable as a JSON string, without building it as a `String` first.
fn write_observable(out: &mut Vec<u8>, observable: &Observable) {
    match observable {
        // Digits, hex letters, dots and colons: nothing to escape.
        Observable::Ip(_) => {
            out.push(b'"');
            observable.write_canonical(out);
            out.push(b'"');
        }
        Observable::Domain(name) => write_str(out, name.as_str()),
        Observable::Url(url) => write_str(out, url.as_str()),
        Observable::File(hash) => write_str(out, hash.as_str()),
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("a string serialises");
}

/// The caller's text as `input` echoes it: its first [`MAX_ECHO_CHARS`] characters.
fn echoed(input: &str) -> &str {
    // A text of no more bytes than that has no more characters either.
    if input.len() <= MAX_ECHO_CHARS {
        return input;
    }
    match input.char_indices().nth(MAX_ECHO_CHARS) {
        Some((cut, _)) => &input[..cut],
        None => input,
    }
}
