//! RFC 7386 JSON Merge Patch over `serde_json::Value`.

use serde_json::{Map, Value};

/// Merges `patch` into a copy of `doc`.
pub(super) fn apply(doc: &Value, patch: &Value) -> Value {
    let mut target = doc.clone();
    merge_into(&mut target, patch);
    target
}

/// Merges `patch` into `target` in place (RFC 7386 section 2, `MergePatch(Target, Patch)`).
fn merge_into(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            // `shift_remove` keeps the order of the remaining members.
            target.shift_remove(key);
        } else if let Some(existing) = target.get_mut(key) {
            merge_into(existing, value);
        } else {
            let mut added = Value::Null;
            merge_into(&mut added, value);
            target.insert(key.clone(), added);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_should_give_the_results_of_the_rfc_7386_appendix() {
        // (original, patch, result), RFC 7386 appendix A in order.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (original, patch, want) in cases {
            assert_eq!(merge_patch(&original, &patch), want, "{original} + {patch}");
        }
    }

    #[test]
    fn merge_patch_should_apply_the_rfc_7386_section_3_example() {
        let original = json!({
            "title": "Goodbye!",
            "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"],
            "content": "This will be unchanged"
        });
        let patch = json!({
            "title": "Hello!",
            "phoneNumber": "+01-123-456-7890",
            "author": {"familyName": null},
            "tags": ["example"]
        });
        let want = json!({
            "title": "Hello!",
            "author": {"givenName": "John"},
            "tags": ["example"],
            "content": "This will be unchanged",
            "phoneNumber": "+01-123-456-7890"
        });
        assert_eq!(merge_patch(&original, &patch), want);
    }

    #[test]
    fn merge_patch_should_keep_existing_members_in_place_and_append_new_ones() {
        let out = merge_patch(&json!({"a": 1, "b": 2, "c": 3}), &json!({"d": 4, "a": null, "b": 5}));
        let keys: Vec<&String> = out.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["b", "c", "d"]);
        assert_eq!(out, json!({"b": 5, "c": 3, "d": 4}));
    }

    #[test]
    fn merge_patch_should_replace_lists_of_a_kubernetes_object_wholesale() {
        let pod = json!({"metadata": {"labels": {"app": "web", "tier": "x"}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let patch = json!({"metadata": {"labels": {"tier": null}}, "spec": {"containers": [{"name": "c"}]}});
        let want = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(merge_patch(&pod, &patch), want);
    }
}
