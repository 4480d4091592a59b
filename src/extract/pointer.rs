//! Walking a JSON document's string values with their RFC 6901 JSON Pointers.

use serde_json::Value;

/// Calls `visit(pointer, string)` for every string value of `doc` (object keys are names, not
/// values, and are not visited; numbers, booleans and null hold no observable). Arrays are
/// walked in order, object members in the order the parsed document holds them (by name).
pub(super) fn each_string(doc: &Value, visit: &mut impl FnMut(&str, &str)) {
    let mut pointer = String::new();
    walk(doc, &mut pointer, visit);
}

// Recursion is bounded: serde_json refuses documents nested deeper than 128 levels.
fn walk(value: &Value, pointer: &mut String, visit: &mut impl FnMut(&str, &str)) {
    match value {
        Value::String(text) => visit(pointer, text),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                walk(item, pointer, visit);
                pointer.truncate(len);
            }
        }
        Value::Object(members) => {
            for (name, item) in members {
                let len = pointer.len();
                pointer.push('/');
                escape_into(name, pointer);
                walk(item, pointer, visit);
                pointer.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// RFC 6901 §3: `~` is written `~0` and `/` is written `~1`.
fn escape_into(token: &str, pointer: &mut String) {
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn strings(doc: &Value) -> Vec<(String, String)> {
        let mut all = Vec::new();
        each_string(doc, &mut |pointer, text| {
            all.push((pointer.to_owned(), text.to_owned()))
        });
        all
    }

    #[test]
    fn every_string_value_is_visited_with_its_pointer() {
        let doc = json!({"a": ["x", {"b": "y"}, 3, null, true], "c": "z", "n": 1.5});

        assert_eq!(
            strings(&doc),
            [
                ("/a/0".to_owned(), "x".to_owned()),
                ("/a/1/b".to_owned(), "y".to_owned()),
                ("/c".to_owned(), "z".to_owned()),
            ]
        );
    }

    #[test]
    fn tilde_and_slash_in_names_are_escaped_and_a_root_string_has_the_empty_pointer() {
        let doc = json!({"a/b": {"m~n": "v"}, "": "w"});

        assert_eq!(
            strings(&doc),
            [
                ("/".to_owned(), "w".to_owned()),
                ("/a~1b/m~0n".to_owned(), "v".to_owned()),
            ]
        );
        assert_eq!(
            strings(&json!("root")),
            [(String::new(), "root".to_owned())]
        );
    }

    #[test]
    fn a_pointer_resolves_to_the_string_it_names() {
        let doc = json!({"x/y": [{"~": "one"}, "two"], "k": {"": "three"}});

        for (pointer, text) in strings(&doc) {
            assert_eq!(
                doc.pointer(&pointer),
                Some(&Value::String(text)),
                "{pointer}"
            );
        }
    }
}
