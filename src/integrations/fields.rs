//! `fields=`: trims each result object to the dotted paths a caller names, so a large batch fits
//! where answers are size-limited (a Dynatrace workflow task fails on a result over 1 MB).
//!
//! Paths are checked against the result object's OpenAPI schema, so every documented field is
//! accepted and a typo is a 422 naming it rather than a silently empty answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::{Map, Value};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::http::{ApiError, ResultBody};

/// Most paths one `fields` value may hold (the schema has fewer).
const MAX_PATHS: usize = 64;

/// The fields to keep, as a tree of path segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSet(BTreeMap<String, Node>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// Keep the whole value.
    Whole,
    /// Keep only these members of an object.
    Part(FieldSet),
}

impl FieldSet {
    /// Parses a comma list of dotted paths, each one the result schema documents.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let paths: Vec<&str> = text.split(',').map(str::trim).collect();
        if paths.len() > MAX_PATHS {
            return Err(ApiError::unprocessable(
                "invalid_fields",
                format!("`fields` names {} paths; at most {MAX_PATHS}", paths.len()),
            ));
        }
        let mut set = FieldSet(BTreeMap::new());
        for path in paths {
            if !KNOWN_PATHS.contains(path) {
                let shown: String = path.chars().take(80).collect();
                return Err(ApiError::unprocessable(
                    "invalid_fields",
                    format!(
                        "`fields` names `{shown}`, which is not a field of the result object; \
                         use dotted paths such as `reputation.verdict` (see the ResultBody schema)"
                    ),
                ));
            }
            set.insert(&path.split('.').collect::<Vec<_>>());
        }
        Ok(set)
    }

    fn insert(&mut self, segments: &[&str]) {
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        let node = self.0.entry((*first).to_owned());
        if rest.is_empty() {
            // The whole value wins over any part of it asked for too.
            *node.or_insert(Node::Whole) = Node::Whole;
            return;
        }
        match node.or_insert_with(|| Node::Part(FieldSet(BTreeMap::new()))) {
            Node::Whole => {}
            Node::Part(children) => children.insert(rest),
        }
    }

    /// The members of `value` this set names, nested as in `value`; absent or null members
    /// are null, so every result of a batch has the same keys.
    pub fn trim(&self, value: &Value) -> Value {
        let mut kept = Map::new();
        for (name, node) in &self.0 {
            let member = value.get(name).unwrap_or(&Value::Null);
            let trimmed = match (node, member) {
                (Node::Whole, _) | (_, Value::Null) => member.clone(),
                (Node::Part(children), member) => children.trim(member),
            };
            kept.insert(name.clone(), trimmed);
        }
        Value::Object(kept)
    }
}

/// Every dotted path of the result schema, read once from its OpenAPI schema (not from the
/// whole document, which documents `fields` with these very paths).
static KNOWN_PATHS: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
    let mut components = Vec::new();
    ResultBody::schemas(&mut components);
    let mut schemas = Map::new();
    for (name, schema) in components {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or_default());
    }
    let root = serde_json::to_value(ResultBody::schema()).unwrap_or_default();
    let schemas = Value::Object(schemas);
    let mut paths = BTreeSet::new();
    collect_paths(&schemas, &root, "", &mut paths);
    paths
});

/// One path `fields` may name, for the documentation: the enumeration of every path.
pub struct FieldPath;

impl PartialSchema for FieldPath {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(KNOWN_PATHS.iter().cloned()))
            .into()
    }
}

impl ToSchema for FieldPath {}

/// Adds the paths under `schema` (following `$ref`s and `oneOf` variants) to `out`.
fn collect_paths(schemas: &Value, schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return collect_paths(schemas, &schemas[name], prefix, out);
    }
    for variant in ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|key| schema[key].as_array())
        .flatten()
    {
        collect_paths(schemas, variant, prefix, out);
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            collect_paths(schemas, property, &path, out);
            out.insert(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_documented_path_is_known_nested_ones_included() {
        for path in [
            "observable",
            "status",
            "reputation.verdict",
            "reputation.votes.malicious",
            "geo.country.iso_code",
            "network.asn",
            "error.code",
        ] {
            assert!(FieldSet::parse(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn an_unknown_path_is_a_422_that_names_it() {
        let err = FieldSet::parse("observable,reputation.verdikt").unwrap_err();

        assert_eq!(err.status.as_u16(), 422);
        assert_eq!(err.code, "invalid_fields");
        assert!(
            err.message.contains("`reputation.verdikt`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn empty_segments_are_not_paths() {
        for bad in ["", "observable,", "reputation.", ".status", "geo..country"] {
            assert!(FieldSet::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn trimming_keeps_the_named_paths_nested_and_nulls_what_is_missing() {
        let set = FieldSet::parse("observable,reputation.verdict,geo.country.iso_code,geo")
            .expect("known paths");
        let result = json!({
            "observable": "8.8.8.8", "status": "ok",
            "reputation": {"verdict": "harmless", "malicious": 0},
            "geo": {"country": {"iso_code": "US", "name": "United States"}},
        });

        assert_eq!(
            set.trim(&result),
            json!({"observable": "8.8.8.8", "reputation": {"verdict": "harmless"},
                   "geo": {"country": {"iso_code": "US", "name": "United States"}}})
        );
        let not_ok = json!({"observable": "10.0.0.1", "reputation": null});
        assert_eq!(
            set.trim(&not_ok),
            json!({"observable": "10.0.0.1", "reputation": null, "geo": null})
        );
    }
}
