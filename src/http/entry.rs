//! One entry of a batch's `observables` as the caller sent it, and how it becomes a parsed
//! item: strings have their type inferred, `{"type", "value"}` objects are parsed as that type,
//! and every other shape is a per-item `invalid`, so one bad entry never fails a batch.

use std::fmt;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::enrich::ParsedItem;
use crate::observable::{InvalidObservable, Observable, ObservableType};

/// Longest `input` echoed back for an entry that is not a string.
const MAX_INPUT_CHARS: usize = 256;

/// One entry of `observables`: its JSON value and, for an object, the first key it repeated.
///
/// serde_json's maps keep only the last of repeated keys, so `{"type": "ip", "value": "1.1.1.1",
/// "value": "8.8.8.8"}` would silently be `8.8.8.8`. The body's own fields are refused when
/// repeated (serde's derive); entries are held to the same rule, as per-item `invalid`.
#[derive(Debug, Clone)]
pub struct Entry {
    value: Value,
    repeated_key: Option<String>,
}

impl From<Value> for Entry {
    fn from(value: Value) -> Self {
        Self {
            value,
            repeated_key: None,
        }
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

/// Builds the entry's value as serde_json would, except that an object notes a repeated key.
struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Entry, E> {
        Ok(Value::Bool(v).into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Entry, E> {
        Ok(Value::from(v).into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Entry, E> {
        Ok(Value::from(v).into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Entry, E> {
        Ok(Value::from(v).into())
    }

    fn visit_str<E>(self, v: &str) -> Result<Entry, E> {
        Ok(Value::String(v.to_owned()).into())
    }

    fn visit_string<E>(self, v: String) -> Result<Entry, E> {
        Ok(Value::String(v).into())
    }

    fn visit_unit<E>(self) -> Result<Entry, E> {
        Ok(Value::Null.into())
    }

    fn visit_none<E>(self) -> Result<Entry, E> {
        Ok(Value::Null.into())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        Entry::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Entry, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Entry::from)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut object = Map::new();
        let mut repeated_key = None;
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            if repeated_key.is_none() && object.contains_key(&key) {
                repeated_key = Some(key.clone());
            }
            object.insert(key, value);
        }
        Ok(Entry {
            value: Value::Object(object),
            repeated_key,
        })
    }
}

impl Entry {
    /// The parsed item; shapes we cannot use become per-item `invalid`.
    pub(super) fn into_item(self) -> ParsedItem {
        match self.value {
            Value::String(text) => ParsedItem {
                parsed: Observable::infer(&text),
                input: text,
            },
            Value::Object(map) => object_item(map, self.repeated_key.as_deref()),
            other => ParsedItem {
                input: compact(&other),
                parsed: Err(InvalidObservable::new(
                    "an observable is a string or an object {\"type\", \"value\"}",
                )),
            },
        }
    }
}

/// An object entry: exactly `type` and `value`, each once, both strings.
fn object_item(map: Map<String, Value>, repeated_key: Option<&str>) -> ParsedItem {
    let kind = map.get("type").and_then(Value::as_str);
    let value = map.get("value").and_then(Value::as_str);
    let parsed = match (repeated_key, kind, value) {
        (Some("type"), ..) => Err(InvalidObservable::new(
            "the observable object repeats the key `type`; give it once",
        )),
        (Some("value"), ..) => Err(InvalidObservable::new(
            "the observable object repeats the key `value`; give it once",
        )),
        (Some(_), ..) => Err(InvalidObservable::new(
            "the observable object repeats a key; it has exactly the fields `type` and `value`",
        )),
        _ if map.len() != 2 => Err(InvalidObservable::new(
            "an observable object has exactly the fields `type` and `value`",
        )),
        (None, Some(kind), Some(value)) => match kind.parse::<ObservableType>() {
            Ok(kind) => Observable::parse(kind, value),
            Err(unknown) => Err(unknown),
        },
        _ => Err(InvalidObservable::new(
            "`type` and `value` of an observable object must be strings",
        )),
    };
    // A repeated key makes `value` ambiguous, so the whole object is echoed instead.
    let input = match value {
        Some(value) if repeated_key.is_none() => value.to_owned(),
        _ => compact(&Value::Object(map)),
    };
    ParsedItem { input, parsed }
}

/// The entry as compact JSON, cut to [`MAX_INPUT_CHARS`] bytes on a character boundary.
fn compact(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > MAX_INPUT_CHARS {
        let cut = (0..=MAX_INPUT_CHARS)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> ParsedItem {
        serde_json::from_str::<Entry>(json)
            .expect("any JSON is an entry")
            .into_item()
    }

    #[test]
    fn a_repeated_value_or_type_is_invalid_and_named() {
        for (json, key) in [
            (
                r#"{"type":"ip","value":"1.1.1.1","value":"8.8.8.8"}"#,
                "`value`",
            ),
            (r#"{"type":"ip","type":"ip","value":"8.8.8.8"}"#, "`type`"),
        ] {
            let item = item(json);
            let reason = item.parsed.expect_err(json).reason().to_owned();
            assert!(reason.contains(key), "{json}: {reason}");
            assert!(
                item.input.starts_with('{'),
                "the object is echoed: {}",
                item.input
            );
        }
    }

    #[test]
    fn a_plain_object_and_a_string_still_parse() {
        assert!(item(r#"{"type":"ip","value":"8.8.8.8"}"#).parsed.is_ok());
        assert_eq!(item(r#"{"type":"ip","value":"8.8.8.8"}"#).input, "8.8.8.8");
        assert!(item(r#""8.8.8.8""#).parsed.is_ok());
    }

    #[test]
    fn other_shapes_are_invalid_with_their_json_echoed() {
        for json in ["null", "42", "1.5", "true", r#"[["8.8.8.8"]]"#] {
            let item = item(json);
            assert!(item.parsed.is_err(), "{json}");
            assert_eq!(
                item.input,
                serde_json::from_str::<Value>(json).unwrap().to_string()
            );
        }
    }
}
