//! RFC 6902 JSON Patch over `serde_json::Value`, with RFC 6901 JSON pointers.

use super::PatchError;
use serde_json::{Map, Value};

/// Applies `patch` (an array of operations) to a copy of `doc`.
pub(super) fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Some(ops) = patch.as_array() else {
        return Err(PatchError::malformed("", "a json patch must be a json array of operations"));
    };
    // Kubernetes decodes every operation before applying any: a patch with an element that is
    // not an object is refused as a whole (400) before anything else is looked at.
    let mut objects = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match op.as_object() {
            Some(op) => objects.push(op),
            None => return Err(PatchError::malformed("", format!("operation {i} is not a json object"))),
        }
    }
    let mut doc = doc.clone();
    for (i, op) in objects.into_iter().enumerate() {
        apply_operation(&mut doc, i, op)?;
    }
    Ok(doc)
}

fn apply_operation(doc: &mut Value, i: usize, op: &Map<String, Value>) -> Result<(), PatchError> {
    let path = match op.get("path") {
        Some(Value::String(path)) => path.as_str(),
        Some(_) => return Err(PatchError::invalid("", format!("operation {i}: \"path\" must be a string"))),
        None => return Err(PatchError::invalid("", format!("operation {i}: missing \"path\""))),
    };
    let name = match op.get("op") {
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(PatchError::invalid(path, format!("operation {i}: \"op\" must be a string"))),
        None => return Err(PatchError::invalid(path, format!("operation {i}: missing \"op\""))),
    };
    let fail = |message: String| PatchError::invalid(path, format!("operation {i} ({name}): {message}"));
    let tokens = parse_pointer(path).map_err(&fail)?;
    let value = || op.get("value").cloned().ok_or_else(|| fail("missing \"value\"".to_string()));
    let from = || match op.get("from") {
        Some(Value::String(from)) => Ok(from.as_str()),
        Some(_) => Err(fail("\"from\" must be a string".to_string())),
        None => Err(fail("missing \"from\"".to_string())),
    };
    match name {
        "add" => add(doc, &tokens, value()?).map_err(&fail),
        "remove" => remove(doc, &tokens).map(drop).map_err(&fail),
        "replace" => replace(doc, &tokens, value()?).map_err(&fail),
        "move" => {
            let from = from()?;
            let from_tokens = parse_pointer(from).map_err(|m| fail(format!("from: {m}")))?;
            if from == path {
                // Moving a value onto itself changes nothing, but the value must exist.
                return get(doc, &from_tokens).map(drop).ok_or_else(|| fail(format!("no value at from {from:?}")));
            }
            if tokens.len() > from_tokens.len() && tokens.starts_with(&from_tokens) {
                return Err(fail(format!("cannot move {from:?} into one of its own children")));
            }
            let moved = remove(doc, &from_tokens).map_err(|m| fail(format!("from {from:?}: {m}")))?;
            add(doc, &tokens, moved).map_err(&fail)
        }
        "copy" => {
            let from = from()?;
            let from_tokens = parse_pointer(from).map_err(|m| fail(format!("from: {m}")))?;
            let copied = get(doc, &from_tokens).cloned().ok_or_else(|| fail(format!("no value at from {from:?}")))?;
            add(doc, &tokens, copied).map_err(&fail)
        }
        "test" => {
            let expected = value()?;
            match get(doc, &tokens) {
                Some(actual) if json_equal(actual, &expected) => Ok(()),
                Some(actual) => {
                    Err(PatchError::conflict(path, format!("operation {i}: value is {actual}, expected {expected}")))
                }
                None => Err(PatchError::conflict(path, format!("operation {i}: no value exists at this path"))),
            }
        }
        other => Err(PatchError::invalid(path, format!("operation {i}: unknown op {other:?}"))),
    }
}

/// Splits an RFC 6901 pointer into its unescaped reference tokens ("" is the whole document).
fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("json pointer {pointer:?} must be empty or start with \"/\""));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(format!("json pointer {pointer:?} has a \"~\" not followed by \"0\" or \"1\"")),
                }
            }
            Ok(out)
        })
        .collect()
}

/// An array index as RFC 6901 spells it: "0" or digits without a leading zero.
fn parse_index(token: &str) -> Option<usize> {
    let digits_only = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens.iter().try_fold(doc, |value, token| match value {
        Value::Object(map) => map.get(token),
        Value::Array(list) => parse_index(token).and_then(|i| list.get(i)),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens.iter().try_fold(doc, |value, token| match value {
        Value::Object(map) => map.get_mut(token),
        Value::Array(list) => parse_index(token).and_then(move |i| list.get_mut(i)),
        _ => None,
    })
}

/// The container a non-root path's last token is looked up in.
fn parent_mut<'a>(doc: &'a mut Value, tokens: &'a [String]) -> Result<(&'a mut Value, &'a str), String> {
    let Some((last, parents)) = tokens.split_last() else {
        return Err("the document root has no parent".to_string());
    };
    let parent = get_mut(doc, parents).ok_or_else(|| "the parent of the target location does not exist".to_string())?;
    Ok((parent, last.as_str()))
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    if tokens.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_mut(doc, tokens)?;
    match parent {
        Value::Object(map) => {
            map.insert(last.to_string(), value);
            Ok(())
        }
        Value::Array(list) if last == "-" => {
            list.push(value);
            Ok(())
        }
        Value::Array(list) => match parse_index(last) {
            Some(i) if i <= list.len() => {
                list.insert(i, value);
                Ok(())
            }
            Some(i) => Err(format!("index {i} is out of bounds for an array of length {}", list.len())),
            None => Err(format!("{last:?} is not an array index")),
        },
        _ => Err("the parent of the target location is neither an object nor an array".to_string()),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, String> {
    if tokens.is_empty() {
        return Err("cannot remove the document root".to_string());
    }
    let (parent, last) = parent_mut(doc, tokens)?;
    match parent {
        Value::Object(map) => map.shift_remove(last).ok_or_else(|| "no value exists at this path".to_string()),
        Value::Array(list) => match parse_index(last) {
            Some(i) if i < list.len() => Ok(list.remove(i)),
            Some(i) => Err(format!("index {i} is out of bounds for an array of length {}", list.len())),
            None => Err(format!("{last:?} is not an array index")),
        },
        _ => Err("no value exists at this path".to_string()),
    }
}

fn replace(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    let target = get_mut(doc, tokens).ok_or_else(|| "no value exists at this path".to_string())?;
    *target = value;
    Ok(())
}

/// JSON equality as RFC 6902 `test` defines it: numbers compare by value (`1` equals `1.0`),
/// objects regardless of member order, arrays item by item.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{json_patch, PatchError};
    use serde_json::{json, Value};

    fn applied(doc: Value, patch: Value) -> Value {
        match json_patch(&doc, &patch) {
            Ok(v) => v,
            Err(e) => panic!("patch {patch} on {doc} failed: {e}"),
        }
    }

    fn failed(doc: Value, patch: Value) -> PatchError {
        match json_patch(&doc, &patch) {
            Ok(v) => panic!("patch {patch} on {doc} should fail, gave {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn json_patch_should_apply_the_rfc_6902_appendix_examples() {
        // (name, document, patch, result)
        let cases = [
            (
                "A.1 adding an object member",
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux"}]),
                json!({"baz": "qux", "foo": "bar"}),
            ),
            (
                "A.2 adding an array element",
                json!({"foo": ["bar", "baz"]}),
                json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
                json!({"foo": ["bar", "qux", "baz"]}),
            ),
            (
                "A.3 removing an object member",
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "remove", "path": "/baz"}]),
                json!({"foo": "bar"}),
            ),
            (
                "A.4 removing an array element",
                json!({"foo": ["bar", "qux", "baz"]}),
                json!([{"op": "remove", "path": "/foo/1"}]),
                json!({"foo": ["bar", "baz"]}),
            ),
            (
                "A.5 replacing a value",
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
                json!({"baz": "boo", "foo": "bar"}),
            ),
            (
                "A.6 moving a value",
                json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
                json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
                json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
            ),
            (
                "A.7 moving an array element",
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
                json!({"foo": ["all", "cows", "eat", "grass"]}),
            ),
            (
                "A.8 testing a value: success",
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
                json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}]),
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            ),
            (
                "A.10 adding a nested member object",
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
                json!({"foo": "bar", "child": {"grandchild": {}}}),
            ),
            (
                "A.11 ignoring unrecognized elements",
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
                json!({"foo": "bar", "baz": "qux"}),
            ),
            (
                "A.14 ~ escape ordering",
                json!({"/": 9, "~1": 10}),
                json!([{"op": "test", "path": "/~01", "value": 10}]),
                json!({"/": 9, "~1": 10}),
            ),
            (
                "A.16 adding an array value",
                json!({"foo": ["bar"]}),
                json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
                json!({"foo": ["bar", ["abc", "def"]]}),
            ),
        ];
        for (name, doc, patch, want) in cases {
            assert_eq!(applied(doc, patch), want, "{name}");
        }
    }

    #[test]
    fn json_patch_should_apply_the_operations_beyond_the_appendix() {
        // (name, document, patch, result)
        let cases = [
            (
                "escaped slash in a key",
                json!({"a/b": 1}),
                json!([{"op": "replace", "path": "/a~1b", "value": 2}]),
                json!({"a/b": 2}),
            ),
            (
                "append with -",
                json!({"l": [1]}),
                json!([{"op": "add", "path": "/l/-", "value": 2}]),
                json!({"l": [1, 2]}),
            ),
            (
                "add at the end index",
                json!({"l": [1]}),
                json!([{"op": "add", "path": "/l/1", "value": 2}]),
                json!({"l": [1, 2]}),
            ),
            (
                "add replaces an existing member",
                json!({"a": 1}),
                json!([{"op": "add", "path": "/a", "value": 2}]),
                json!({"a": 2}),
            ),
            (
                "replace the whole document",
                json!({"a": 1}),
                json!([{"op": "replace", "path": "", "value": [1]}]),
                json!([1]),
            ),
            (
                "add the whole document",
                json!({"a": 1}),
                json!([{"op": "add", "path": "", "value": {"b": 2}}]),
                json!({"b": 2}),
            ),
            (
                "copy a subtree",
                json!({"a": {"x": [1]}}),
                json!([{"op": "copy", "from": "/a", "path": "/b"}]),
                json!({"a": {"x": [1]}, "b": {"x": [1]}}),
            ),
            ("move onto itself", json!({"a": 1}), json!([{"op": "move", "from": "/a", "path": "/a"}]), json!({"a": 1})),
            (
                "test numbers by value",
                json!({"n": 1}),
                json!([{"op": "test", "path": "/n", "value": 1.0}]),
                json!({"n": 1}),
            ),
            (
                "test objects regardless of order",
                json!({"o": {"a": 1, "b": 2}}),
                json!([{"op": "test", "path": "/o", "value": {"b": 2, "a": 1}}]),
                json!({"o": {"a": 1, "b": 2}}),
            ),
            ("test null", json!({"n": null}), json!([{"op": "test", "path": "/n", "value": null}]), json!({"n": null})),
            ("empty patch", json!({"a": 1}), json!([]), json!({"a": 1})),
            (
                "operations apply in order",
                json!({"metadata": {"labels": {"a": "1"}}}),
                json!([
                    {"op": "add", "path": "/metadata/labels/b", "value": "2"},
                    {"op": "remove", "path": "/metadata/labels/a"},
                    {"op": "test", "path": "/metadata/labels", "value": {"b": "2"}}
                ]),
                json!({"metadata": {"labels": {"b": "2"}}}),
            ),
        ];
        for (name, doc, patch, want) in cases {
            assert_eq!(applied(doc, patch), want, "{name}");
        }
    }

    #[test]
    fn json_patch_should_keep_the_order_of_members_it_does_not_touch() {
        let out = applied(
            json!({"a": 1, "b": 2, "c": 3}),
            json!([{"op": "remove", "path": "/a"}, {"op": "add", "path": "/d", "value": 4}]),
        );
        let keys: Vec<&String> = out.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["b", "c", "d"]);
    }

    #[test]
    fn json_patch_should_fail_with_a_conflict_when_a_test_operation_does_not_match() {
        // (name, document, patch, failing path)
        let cases = [
            (
                "A.9 testing a value: error",
                json!({"baz": "qux"}),
                json!([{"op": "test", "path": "/baz", "value": "bar"}]),
                "/baz",
            ),
            (
                "A.15 comparing strings and numbers",
                json!({"/": 9, "~1": 10}),
                json!([{"op": "test", "path": "/~01", "value": "10"}]),
                "/~01",
            ),
            ("test of a missing path", json!({}), json!([{"op": "test", "path": "/a", "value": null}]), "/a"),
            ("array order matters", json!({"l": [1, 2]}), json!([{"op": "test", "path": "/l", "value": [2, 1]}]), "/l"),
        ];
        for (name, doc, patch, path) in cases {
            let error = failed(doc, patch);
            assert!(matches!(&error, PatchError::Conflict { .. }), "{name}: {error:?}");
            assert_eq!(error.path(), Some(path), "{name}");
            assert_eq!(error.status_code(), 422, "{name}");
        }
    }

    #[test]
    fn json_patch_should_fail_as_invalid_when_an_operation_cannot_be_applied() {
        // (name, document, patch, failing path)
        let cases = [
            (
                "A.12 adding to a nonexistent target",
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
                "/baz/bat",
            ),
            ("remove of a missing member", json!({"a": 1}), json!([{"op": "remove", "path": "/b"}]), "/b"),
            ("remove of a missing array index", json!({"l": [1]}), json!([{"op": "remove", "path": "/l/1"}]), "/l/1"),
            ("remove with -", json!({"l": [1]}), json!([{"op": "remove", "path": "/l/-"}]), "/l/-"),
            ("remove of the root", json!({"a": 1}), json!([{"op": "remove", "path": ""}]), ""),
            (
                "replace of a missing member",
                json!({"a": 1}),
                json!([{"op": "replace", "path": "/b", "value": 1}]),
                "/b",
            ),
            (
                "pointer without a leading slash",
                json!({"a": 1}),
                json!([{"op": "replace", "path": "a", "value": 2}]),
                "a",
            ),
            ("pointer with a bad escape", json!({"a": 1}), json!([{"op": "add", "path": "/a~2", "value": 2}]), "/a~2"),
            (
                "array index with a leading zero",
                json!({"l": [1, 2]}),
                json!([{"op": "replace", "path": "/l/01", "value": 3}]),
                "/l/01",
            ),
            (
                "negative array index",
                json!({"l": [1, 2]}),
                json!([{"op": "replace", "path": "/l/-1", "value": 3}]),
                "/l/-1",
            ),
            (
                "add past the end of an array",
                json!({"l": [1]}),
                json!([{"op": "add", "path": "/l/5", "value": 2}]),
                "/l/5",
            ),
            ("add into a scalar", json!({"a": 1}), json!([{"op": "add", "path": "/a/b", "value": 2}]), "/a/b"),
            (
                "move into its own child",
                json!({"a": {"b": 1}}),
                json!([{"op": "move", "from": "/a", "path": "/a/b/c"}]),
                "/a/b/c",
            ),
            ("move from a missing path", json!({"a": 1}), json!([{"op": "move", "from": "/x", "path": "/y"}]), "/y"),
            ("copy from a missing path", json!({"a": 1}), json!([{"op": "copy", "from": "/x", "path": "/y"}]), "/y"),
            ("unknown op", json!({"a": 1}), json!([{"op": "frobnicate", "path": "/a"}]), "/a"),
            ("missing op", json!({"a": 1}), json!([{"path": "/a"}]), "/a"),
            ("missing path", json!({"a": 1}), json!([{"op": "remove"}]), ""),
            ("missing value", json!({"a": 1}), json!([{"op": "add", "path": "/b"}]), "/b"),
            ("missing from", json!({"a": 1}), json!([{"op": "copy", "path": "/b"}]), "/b"),
        ];
        for (name, doc, patch, path) in cases {
            let error = failed(doc, patch);
            assert!(matches!(&error, PatchError::Invalid { .. }), "{name}: {error:?}");
            assert_eq!(error.path(), Some(path), "{name}");
            assert_eq!(error.status_code(), 422, "{name}");
        }
    }

    #[test]
    fn json_patch_should_apply_nothing_when_a_later_operation_fails() {
        let doc = json!({"a": 1});
        let patch = json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}]);
        assert!(json_patch(&doc, &patch).is_err());
        assert_eq!(doc, json!({"a": 1}));
    }

    #[test]
    fn json_patch_should_be_malformed_when_it_is_not_an_array_of_objects() {
        let cases = [
            json!({"op": "add", "path": "/a", "value": 1}),
            json!("add"),
            json!([{"op": "test", "path": "/a", "value": 1}, 3]),
        ];
        for patch in cases {
            let error = failed(json!({"a": 1}), patch.clone());
            assert!(matches!(&error, PatchError::Malformed { .. }), "{patch}: {error:?}");
            assert_eq!(error.status_code(), 400);
        }
    }

    #[test]
    fn json_patch_error_messages_should_name_the_operation_and_path() {
        let error = failed(
            json!({"a": 1}),
            json!([{"op": "test", "path": "/a", "value": 1}, {"op": "remove", "path": "/missing"}]),
        );
        assert_eq!(
            error.to_string(),
            "cannot apply patch at \"/missing\": operation 1 (remove): no value exists at this path"
        );
    }
}
