use super::*;
use serde_json::json;

fn msgs(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(FieldError::message).collect()
}

/// A CRD-style root schema whose `spec` has the given properties.
fn spec_schema(props: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": props}
        }
    })
}

fn cr(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

/// (name, spec properties, spec value, expected messages in order)
/// Note: messages are Kubernetes' verbatim, including quirks such as the empty field path of
/// `anyOf`/`oneOf`/`allOf`/`not` failures (`<nil>`) and the double space after a nameless default path.
type Case = (&'static str, Value, Value, Vec<&'static str>);

fn run(cases: Vec<Case>) {
    for (name, props, spec, want) in cases {
        let errs = validate(&cr(spec), &spec_schema(props));
        assert_eq!(msgs(&errs), want, "case {name}");
    }
}

#[test]
fn integer_field_should_reject_a_string_with_kubernetes_message() {
    run(vec![
        (
            "string for integer",
            json!({"replicas": {"type": "integer"}}),
            json!({"replicas": "3"}),
            vec![r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#],
        ),
        ("integral float is an integer", json!({"replicas": {"type": "integer"}}), json!({"replicas": 3.0}), vec![]),
        (
            "fractional float for integer",
            json!({"replicas": {"type": "integer"}}),
            json!({"replicas": 3.5}),
            vec![r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#],
        ),
        ("integer for number", json!({"ratio": {"type": "number"}}), json!({"ratio": 3}), vec![]),
        (
            "boolean for string",
            json!({"name": {"type": "string"}}),
            json!({"name": true}),
            vec![r#"spec.name: Invalid value: "boolean": spec.name in body must be of type string: "boolean""#],
        ),
        (
            "array for object",
            json!({"cfg": {"type": "object"}}),
            json!({"cfg": [1]}),
            vec![r#"spec.cfg: Invalid value: "array": spec.cfg in body must be of type object: "array""#],
        ),
        (
            "object for array",
            json!({"list": {"type": "array", "items": {"type": "string"}}}),
            json!({"list": {"a": 1}}),
            vec![r#"spec.list: Invalid value: "object": spec.list in body must be of type array: "object""#],
        ),
        ("empty string is a string", json!({"name": {"type": "string"}}), json!({"name": ""}), vec![]),
    ]);
}

#[test]
fn nulls_are_rejected_unless_nullable() {
    run(vec![
        (
            "null for string",
            json!({"name": {"type": "string"}}),
            json!({"name": null}),
            vec![r#"spec.name: Invalid value: "null": spec.name in body must be of type string: "null""#],
        ),
        ("nullable string", json!({"name": {"type": "string", "nullable": true}}), json!({"name": null}), vec![]),
        ("untyped preserved field", json!({"any": {"x-kubernetes-preserve-unknown-fields": true}}), json!({"any": null}), vec![]),
    ]);
}

#[test]
fn required_fields_are_reported_as_required_values() {
    run(vec![
        ("missing", json!({"size": {"type": "integer"}}), json!({}), vec![]),
    ]);
    let schema = json!({
        "type": "object",
        "required": ["spec"],
        "properties": {"spec": {"type": "object", "required": ["size", "mode"], "properties": {"size": {"type": "integer"}, "mode": {"type": "string"}}}}
    });
    let errs = validate(&json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}, "spec": {"mode": "x"}}), &schema);
    assert_eq!(msgs(&errs), vec!["spec.size: Required value"]);
    let errs = validate(&json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}}), &schema);
    assert_eq!(msgs(&errs), vec!["spec: Required value"]);
    assert_eq!(errs[0].cause()["reason"], "FieldValueRequired");
}

#[test]
fn enums_report_unsupported_values_with_every_allowed_value() {
    run(vec![
        (
            "string enum",
            json!({"mode": {"type": "string", "enum": ["a", "b"]}}),
            json!({"mode": "x"}),
            vec![r#"spec.mode: Unsupported value: "x": supported values: "a", "b""#],
        ),
        ("string enum ok", json!({"mode": {"type": "string", "enum": ["a", "b"]}}), json!({"mode": "b"}), vec![]),
        (
            "integer enum",
            json!({"n": {"type": "integer", "enum": [1, 2]}}),
            json!({"n": 3}),
            vec![r#"spec.n: Unsupported value: 3: supported values: "1", "2""#],
        ),
        ("integer enum matches integral float", json!({"n": {"type": "integer", "enum": [1, 2]}}), json!({"n": 2.0}), vec![]),
        (
            "object enum",
            json!({"o": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "enum": [{"a": 1}]}}),
            json!({"o": {"a": 2}}),
            vec![r#"spec.o: Unsupported value: map[string]interface {}{"a":2}: supported values: "{\"a\":1}""#],
        ),
        (
            "null never matches an enum",
            json!({"mode": {"type": "string", "nullable": true, "enum": ["a"]}}),
            json!({"mode": null}),
            vec![r#"spec.mode: Unsupported value: null: supported values: "a""#],
        ),
    ]);
    let errs = validate(&cr(json!({"mode": "x"})), &spec_schema(json!({"mode": {"type": "string", "enum": ["a"]}})));
    assert_eq!(errs[0].cause()["reason"], "FieldValueNotSupported");
}

#[test]
fn numeric_bounds_and_multiples_follow_kube_openapi() {
    run(vec![
        (
            "minimum",
            json!({"replicas": {"type": "integer", "minimum": 0}}),
            json!({"replicas": -1}),
            vec!["spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"],
        ),
        (
            "exclusive minimum",
            json!({"replicas": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}}),
            json!({"replicas": 0}),
            vec!["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than 0"],
        ),
        (
            "maximum",
            json!({"replicas": {"type": "integer", "maximum": 10}}),
            json!({"replicas": 11}),
            vec!["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"],
        ),
        (
            "exclusive maximum",
            json!({"replicas": {"type": "integer", "maximum": 10, "exclusiveMaximum": true}}),
            json!({"replicas": 10}),
            vec!["spec.replicas: Invalid value: 10: spec.replicas in body should be less than 10"],
        ),
        (
            "float maximum",
            json!({"ratio": {"type": "number", "maximum": 1.5}}),
            json!({"ratio": 2.25}),
            vec!["spec.ratio: Invalid value: 2.25: spec.ratio in body should be less than or equal to 1.5"],
        ),
        (
            "integer multipleOf",
            json!({"n": {"type": "integer", "multipleOf": 5}}),
            json!({"n": 7}),
            vec!["spec.n: Invalid value: 7: spec.n in body should be a multiple of 5"],
        ),
        ("integer multipleOf ok", json!({"n": {"type": "integer", "multipleOf": 5}}), json!({"n": 15}), vec![]),
        (
            "float multipleOf",
            json!({"f": {"type": "number", "multipleOf": 0.5}}),
            json!({"f": 0.75}),
            vec!["spec.f: Invalid value: 0.75: spec.f in body should be a multiple of 0.5"],
        ),
        ("float multipleOf ok", json!({"f": {"type": "number", "multipleOf": 0.1}}), json!({"f": 0.3}), vec![]),
        (
            "int32 overflow",
            json!({"n": {"type": "integer", "format": "int32"}}),
            json!({"n": 2147483648_i64}),
            vec![r#"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.n"#],
        ),
        ("int32 max", json!({"n": {"type": "integer", "format": "int32"}}), json!({"n": 2147483647}), vec![]),
        ("int64 max", json!({"n": {"type": "integer", "format": "int64"}}), json!({"n": 9223372036854775807_i64}), vec![]),
    ]);
}

#[test]
fn string_lengths_count_characters_and_patterns_use_go_regexp() {
    run(vec![
        ("max length", json!({"s": {"type": "string", "maxLength": 3}}), json!({"s": "abcd"}), vec!["spec.s: Too long: may not be more than 3 bytes"]),
        ("max length counts characters", json!({"s": {"type": "string", "maxLength": 3}}), json!({"s": "héé"}), vec![]),
        ("max length one", json!({"s": {"type": "string", "maxLength": 1}}), json!({"s": "ab"}), vec!["spec.s: Too long: may not be more than 1 bytes"]),
        (
            "min length",
            json!({"s": {"type": "string", "minLength": 2}}),
            json!({"s": "a"}),
            vec![r#"spec.s: Invalid value: "a": spec.s in body should be at least 2 chars long"#],
        ),
        (
            "pattern",
            json!({"s": {"type": "string", "pattern": "^[a-z]+$"}}),
            json!({"s": "ABC"}),
            vec![r#"spec.s: Invalid value: "ABC": spec.s in body should match '^[a-z]+$'"#],
        ),
        ("unanchored pattern matches anywhere", json!({"s": {"type": "string", "pattern": "[0-9]"}}), json!({"s": "ab1"}), vec![]),
        (
            "only the first string failure is reported",
            json!({"s": {"type": "string", "maxLength": 2, "pattern": "^x$"}}),
            json!({"s": "abc"}),
            vec!["spec.s: Too long: may not be more than 2 bytes"],
        ),
    ]);
}

#[test]
fn formats_kubernetes_checks_are_enforced_and_others_ignored() {
    run(vec![
        (
            "date-time",
            json!({"ts": {"type": "string", "format": "date-time"}}),
            json!({"ts": "notadate"}),
            vec![r#"spec.ts: Invalid value: "notadate": spec.ts in body must be of type date-time: "notadate""#],
        ),
        ("date-time ok", json!({"ts": {"type": "string", "format": "date-time"}}), json!({"ts": "2024-05-01T10:00:00Z"}), vec![]),
        (
            "date",
            json!({"d": {"type": "string", "format": "date"}}),
            json!({"d": "2024-02-30"}),
            vec![r#"spec.d: Invalid value: "2024-02-30": spec.d in body must be of type date: "2024-02-30""#],
        ),
        (
            "uuid",
            json!({"id": {"type": "string", "format": "uuid"}}),
            json!({"id": "nope"}),
            vec![r#"spec.id: Invalid value: "nope": spec.id in body must be of type uuid: "nope""#],
        ),
        (
            "byte",
            json!({"b": {"type": "string", "format": "byte"}}),
            json!({"b": "%%%"}),
            vec![r#"spec.b: Invalid value: "%%%": spec.b in body must be of type byte: "%%%""#],
        ),
        ("unknown format ignored", json!({"x": {"type": "string", "format": "my-format"}}), json!({"x": "anything"}), vec![]),
        (
            "string format on an integer value",
            json!({"ts": {"type": "string", "format": "date-time"}}),
            json!({"ts": 5}),
            vec![r#"spec.ts: Invalid value: "int64": spec.ts in body must be of type date-time: "int64""#],
        ),
    ]);
}

#[test]
fn arrays_check_items_sizes_and_uniqueness() {
    run(vec![
        (
            "item paths",
            json!({"items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}),
            json!({"items": [{"name": "a"}, {"name": "b"}, {"name": 1}]}),
            vec![r#"spec.items[2].name: Invalid value: "integer": spec.items[2].name in body must be of type string: "integer""#],
        ),
        (
            "min items",
            json!({"items": {"type": "array", "minItems": 1, "items": {"type": "string"}}}),
            json!({"items": []}),
            vec!["spec.items: Invalid value: 0: spec.items in body should have at least 1 items"],
        ),
        (
            "max items",
            json!({"items": {"type": "array", "maxItems": 2, "items": {"type": "integer"}}}),
            json!({"items": [1, 2, 3]}),
            vec!["spec.items: Too many: 3: must have at most 2 items"],
        ),
        (
            "unique items",
            json!({"items": {"type": "array", "uniqueItems": true, "items": {"type": "integer"}}}),
            json!({"items": [1, 2, 1]}),
            vec![r#"spec.items: Invalid value: "": spec.items in body shouldn't contain duplicates"#],
        ),
    ]);
}

#[test]
fn objects_check_property_counts_and_additional_properties() {
    run(vec![
        (
            "min properties",
            json!({"labels": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}}),
            json!({"labels": {}}),
            vec!["spec.labels: Invalid value: 0: spec.labels in body should have at least 1 properties"],
        ),
        (
            "max properties",
            json!({"labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}}}),
            json!({"labels": {"a": "1", "b": "2"}}),
            vec!["spec.labels: Too many: 2: must have at most 1 items"],
        ),
        (
            "additionalProperties schema",
            json!({"labels": {"type": "object", "additionalProperties": {"type": "string"}}}),
            json!({"labels": {"a": 1}}),
            vec![r#"spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer""#],
        ),
        (
            "additionalProperties false",
            json!({"empty": {"type": "object", "additionalProperties": false}}),
            json!({"empty": {"x": 1}}),
            vec![r#"spec.empty: Invalid value: "x": spec.empty.x in body is a forbidden property"#],
        ),
        ("additionalProperties true", json!({"any": {"type": "object", "additionalProperties": true}}), json!({"any": {"x": 1}}), vec![]),
    ]);
}

#[test]
fn int_or_string_accepts_both_and_nothing_else() {
    let props = json!({"port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}});
    run(vec![
        ("int", props.clone(), json!({"port": 80}), vec![]),
        ("string", props.clone(), json!({"port": "http"}), vec![]),
        (
            "bool",
            props.clone(),
            json!({"port": true}),
            vec![
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
                r#"<nil>: Invalid value: "": "spec.port" must validate at least one schema (anyOf)"#,
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean""#,
            ],
        ),
    ]);
}

#[test]
fn composition_keywords_report_like_kube_openapi() {
    run(vec![
        (
            "anyOf keeps the first best failure",
            json!({"n": {"type": "integer", "anyOf": [{"minimum": 5}, {"maximum": 1}]}}),
            json!({"n": 3}),
            vec![
                r#"<nil>: Invalid value: "": "spec.n" must validate at least one schema (anyOf)"#,
                "spec.n: Invalid value: 3: spec.n in body should be greater than or equal to 5",
            ],
        ),
        ("anyOf passes", json!({"n": {"type": "integer", "anyOf": [{"minimum": 5}, {"maximum": 1}]}}), json!({"n": 0}), vec![]),
        (
            "oneOf with two matches",
            json!({"n": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]}}),
            json!({"n": 3}),
            vec![r#"<nil>: Invalid value: "": "spec.n" must validate one and only one schema (oneOf). Found 2 valid alternatives"#],
        ),
        (
            "oneOf with none",
            json!({"n": {"type": "integer", "oneOf": [{"minimum": 5}, {"maximum": 1}]}}),
            json!({"n": 3}),
            vec![
                r#"<nil>: Invalid value: "": "spec.n" must validate one and only one schema (oneOf). Found none valid"#,
                "spec.n: Invalid value: 3: spec.n in body should be greater than or equal to 5",
            ],
        ),
        (
            "allOf",
            json!({"n": {"type": "integer", "allOf": [{"minimum": 0}, {"maximum": 10}]}}),
            json!({"n": 11}),
            vec![
                "spec.n: Invalid value: 11: spec.n in body should be less than or equal to 10",
                r#"<nil>: Invalid value: "": "spec.n" must validate all the schemas (allOf)"#,
            ],
        ),
        (
            "not",
            json!({"s": {"type": "string", "not": {"enum": ["forbidden"]}}}),
            json!({"s": "forbidden"}),
            vec![r#"<nil>: Invalid value: "": "spec.s" must not validate the schema (not)"#],
        ),
        (
            "identical messages are reported once",
            json!({"n": {"type": "integer", "minimum": 5, "allOf": [{"minimum": 5}]}}),
            json!({"n": 1}),
            vec![
                "spec.n: Invalid value: 1: spec.n in body should be greater than or equal to 5",
                r#"<nil>: Invalid value: "": "spec.n" must validate all the schemas (allOf). None validated"#,
            ],
        ),
        (
            "required alternatives",
            json!({"src": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}}),
            json!({"src": {}}),
            vec![r#"<nil>: Invalid value: "": "spec.src" must validate one and only one schema (oneOf). Found none valid"#, "spec.src.a: Required value"],
        ),
    ]);
}

#[test]
fn list_type_set_reports_each_first_repeat() {
    run(vec![
        (
            "strings",
            json!({"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}),
            json!({"tags": ["a", "b", "a", "a", "b"]}),
            vec![r#"spec.tags[2]: Duplicate value: "a""#, r#"spec.tags[4]: Duplicate value: "b""#],
        ),
        (
            "integers and floats differ",
            json!({"nums": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "number"}}}),
            json!({"nums": [1, 1.0, 1]}),
            vec!["spec.nums[2]: Duplicate value: 1"],
        ),
        (
            "objects",
            json!({"objs": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object", "x-kubernetes-map-type": "atomic", "x-kubernetes-preserve-unknown-fields": true}}}),
            json!({"objs": [{"a": 1}, {"a": 1}]}),
            vec![r#"spec.objs[1]: Duplicate value: map[string]interface {}{"a":1}"#],
        ),
    ]);
    let errs = validate(
        &cr(json!({"tags": ["a", "a"]})),
        &spec_schema(json!({"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}})),
    );
    assert_eq!(errs[0].cause()["reason"], "FieldValueDuplicate");
}

#[test]
fn list_type_map_reports_duplicate_keys_as_go_maps() {
    let ports = json!({"ports": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}
    }});
    let two_keys = json!({"ports": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
        "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}}
    }});
    run(vec![
        (
            "single key",
            ports.clone(),
            json!({"ports": [{"name": "a", "port": 1}, {"name": "b"}, {"name": "a", "port": 2}]}),
            vec![r#"spec.ports[2]: Duplicate value: map[string]interface {}{"name":"a"}"#],
        ),
        ("distinct", ports.clone(), json!({"ports": [{"name": "a"}, {"name": "b"}]}), vec![]),
        (
            "two keys",
            two_keys,
            json!({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}]}),
            vec![r#"spec.ports[2]: Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}"#],
        ),
        (
            "non-object item",
            ports,
            json!({"ports": [{"name": "a"}, "x"]}),
            vec![
                r#"spec.ports[1]: Invalid value: "string": spec.ports[1] in body must be of type object: "string""#,
                r#"spec.ports[1]: Invalid value: "x": must be an object for an array of list-type map"#,
            ],
        ),
    ]);
}

#[test]
fn embedded_resources_validate_api_version_kind_and_metadata() {
    let props = json!({"template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}});
    run(vec![
        ("valid", props.clone(), json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}}), vec![]),
        (
            "missing type meta and bad name",
            props.clone(),
            json!({"template": {"metadata": {"name": "a/b"}}}),
            vec!["spec.template.apiVersion: Required value: must not be empty", "spec.template.kind: Required value: must not be empty", "spec.template.metadata.name: Invalid value: \"a/b\": may not contain '/'"],
        ),
        (
            "bad api version and kind",
            props.clone(),
            json!({"template": {"apiVersion": "a/b/c", "kind": "my_kind"}}),
            vec![
                r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#,
                "spec.template.kind: Invalid value: \"my_kind\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            ],
        ),
        (
            "non-string kind",
            props.clone(),
            json!({"template": {"apiVersion": "v1", "kind": 5}}),
            vec!["spec.template.kind: Invalid value: 5: must be a string"],
        ),
        (
            "metadata of the wrong shape",
            props.clone(),
            json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": 1}}}}),
            vec!["spec.template.metadata: Invalid value: map[string]interface {}{\"labels\":map[string]interface {}{\"a\":1}}: json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string"],
        ),
        (
            "bad label value",
            props,
            json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "-x"}}}}),
            vec!["spec.template.metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"],
        ),
    ]);
}

#[test]
fn metadata_name_rules_from_the_schema_apply() {
    let schema = json!({
        "type": "object",
        "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}}}
    });
    let errs = validate(&json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "toolong", "labels": {"x": "y"}}}), &schema);
    assert_eq!(msgs(&errs), vec!["metadata.name: Too long: may not be more than 5 bytes"]);
    let errs = validate(&json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "ok"}}), &schema);
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn unknown_fields_are_pruned_unless_preserved() {
    let schema = json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {
                "known": {"type": "string"},
                "nested": {"type": "object", "properties": {"a": {"type": "string"}}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"typed": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}}
            }}
        }
    });
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "bogus": 1, "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "n", "uid": "u", "extra": true}]},
        "spec": {
            "known": "k", "unknown": 1,
            "nested": {"a": "x", "b": "y"},
            "items": [{"name": "n", "extra": 1}],
            "free": {"anything": {"goes": 1}, "typed": {"x": "1", "y": 2}},
            "labels": {"one": {"v": "1", "w": 2}}
        },
        "status": {"ready": true}
    });
    let removed = prune(&mut obj, &schema);
    assert_eq!(
        removed,
        vec![
            "metadata.bogus",
            "metadata.ownerReferences[0].extra",
            "spec.free.typed.y",
            "spec.items[0].extra",
            "spec.labels.one.w",
            "spec.nested.b",
            "spec.unknown",
            "status",
        ]
    );
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "n", "uid": "u"}]},
            "spec": {
                "known": "k",
                "nested": {"a": "x"},
                "items": [{"name": "n"}],
                "free": {"anything": {"goes": 1}, "typed": {"x": "1"}},
                "labels": {"one": {"v": "1"}}
            }
        })
    );
}

#[test]
fn pruning_keeps_type_meta_and_metadata_at_the_root_and_in_embedded_resources() {
    let schema = json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}
        }}}
    });
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1}, "spec": {"a": "1", "b": 2}, "other": 3}}
    });
    let removed = prune(&mut obj, &schema);
    assert_eq!(removed, vec!["spec.template.other", "spec.template.spec.b", "spec.template.metadata.junk"]);
    assert_eq!(obj["spec"]["template"], json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"a": "1"}}));
    assert_eq!(obj["apiVersion"], "example.com/v1");
}

#[test]
fn additional_properties_true_keeps_keys_but_prunes_their_object_contents() {
    // apiextensions prunes values under a schema-less additionalProperties as if nothing were declared.
    let schema = spec_schema(json!({"any": {"type": "object", "additionalProperties": true}}));
    let mut obj = cr(json!({"any": {"a": "x", "b": {"c": 1}}}));
    let removed = prune(&mut obj, &schema);
    assert_eq!(removed, vec!["spec.any.b.c"]);
    assert_eq!(obj["spec"]["any"], json!({"a": "x", "b": {}}));
}

#[test]
fn pruning_drops_non_nullable_nulls_without_defaults() {
    let schema = spec_schema(json!({
        "plain": {"type": "string"},
        "nullable": {"type": "string", "nullable": true},
        "defaulted": {"type": "string", "default": "d"}
    }));
    let mut obj = cr(json!({"plain": null, "nullable": null, "defaulted": null}));
    let removed = prune(&mut obj, &schema);
    assert!(removed.is_empty());
    assert_eq!(obj["spec"], json!({"nullable": null, "defaulted": null}));
    apply_defaults(&mut obj, &schema);
    assert_eq!(obj["spec"], json!({"nullable": null, "defaulted": "d"}));
}

#[test]
fn defaults_fill_missing_nested_fields() {
    let schema = json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "default": {},
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "mode": {"type": "string", "default": "auto"},
                "tls": {"type": "object", "default": {"enabled": false}, "properties": {"enabled": {"type": "boolean"}, "port": {"type": "integer", "default": 443}}},
                "ports": {"type": "array", "items": {"type": "object", "properties": {"protocol": {"type": "string", "default": "TCP"}}}},
                "limits": {"type": "object", "additionalProperties": {"type": "object", "properties": {"max": {"type": "integer", "default": 10}}}},
                "opt": {"type": "string", "nullable": true, "default": "x"}
            }
        }}
    });
    let mut obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}});
    apply_defaults(&mut obj, &schema);
    assert_eq!(obj["spec"], json!({"replicas": 1, "mode": "auto", "tls": {"enabled": false, "port": 443}, "opt": "x"}));

    let mut obj = json!({"spec": {"replicas": 3, "ports": [{"protocol": "UDP"}, {}], "limits": {"cpu": {}}, "opt": null, "mode": null}});
    apply_defaults(&mut obj, &schema);
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(obj["spec"]["ports"], json!([{"protocol": "UDP"}, {"protocol": "TCP"}]));
    assert_eq!(obj["spec"]["limits"], json!({"cpu": {"max": 10}}));
    assert_eq!(obj["spec"]["opt"], Value::Null, "nullable nulls stay null");
    assert_eq!(obj["spec"]["mode"], "auto", "non-nullable nulls are defaulted");
}

const BASE: &str = "spec.versions[0].schema.openAPIV3Schema";

fn structural_msgs(schema: Value) -> Vec<String> {
    msgs(&validate_structural(&schema, BASE))
}

#[test]
fn a_typical_crd_schema_is_structural() {
    let schema = json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 0, "default": 1},
                    "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                    "name": {"type": "string", "pattern": "^[a-z]+$"},
                    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"}
                },
                "anyOf": [{"required": ["size"]}, {"required": ["name"]}]
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }
    });
    assert_eq!(structural_msgs(schema), Vec::<String>::new());
}

#[test]
fn non_structural_schemas_are_rejected_with_kubernetes_paths() {
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        (
            "missing type",
            json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}}),
            vec![format!("{BASE}.properties[spec].type: Required value: must not be empty for specified object fields")],
        ),
        (
            "root additionalProperties",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            vec![format!("{BASE}.additionalProperties: Forbidden: must not be used at the root")],
        ),
        (
            "array without items",
            json!({"type": "object", "properties": {"list": {"type": "array"}}}),
            vec![format!("{BASE}.properties[list].items: Required value: must be specified")],
        ),
        (
            "properties with additionalProperties",
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}}}),
            vec![format!("{BASE}.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive")],
        ),
        (
            "uniqueItems",
            json!({"type": "object", "properties": {"l": {"type": "array", "uniqueItems": true, "items": {"type": "string"}}}}),
            vec![format!("{BASE}.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic")],
        ),
        (
            "$ref",
            json!({"type": "object", "properties": {"r": {"type": "object", "$ref": "#/definitions/x"}}}),
            vec![format!("{BASE}.properties[r].$ref: Forbidden: $ref is not supported")],
        ),
        (
            "metadata beyond name",
            json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}),
            vec![format!("{BASE}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified")],
        ),
        (
            "metadata default",
            json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {"name": "x"}}}}),
            vec![format!("{BASE}.properties[metadata].default: Forbidden: must not be set in top-level metadata")],
        ),
        (
            "nullable root",
            json!({"type": "object", "nullable": true}),
            vec![format!("{BASE}.nullable: Forbidden: nullable cannot be true at the root")],
        ),
        (
            "root type",
            json!({"type": "string"}),
            vec![format!("{BASE}.type: Invalid value: \"string\": must be object at the root")],
        ),
        (
            "bad type name",
            json!({"type": "object", "properties": {"a": {"type": "int"}}}),
            vec![format!("{BASE}.properties[a].type: Unsupported value: \"int\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"")],
        ),
        (
            "nested type in anyOf",
            json!({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}}),
            vec![format!("{BASE}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural")],
        ),
        (
            "value validation of an undeclared property",
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
                "anyOf": [{"properties": {"spec": {"properties": {"x": {"minimum": 1}}}}}]}),
            vec![format!("{BASE}.properties[spec].properties[x]: Required value: because it is defined in {BASE}.anyOf[0].properties[spec].properties[x]")],
        ),
        (
            "invalid pattern",
            json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "[a-"}}}),
            vec![format!("{BASE}.properties[s].pattern: Invalid value: \"[a-\": must be a valid regular expression, but isn't: error parsing regexp: missing closing ]: `[a-`")],
        ),
        (
            "list-type map without keys",
            json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}}),
            vec![format!("{BASE}.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map")],
        ),
        (
            "list map key neither required nor defaulted",
            json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"], "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}}),
            vec![format!("{BASE}.properties[l].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property")],
        ),
        (
            "list-type on a non-array",
            json!({"type": "object", "properties": {"l": {"type": "string", "x-kubernetes-list-type": "set"}}}),
            vec![format!("{BASE}.properties[l].type: Invalid value: \"string\": must be array if x-kubernetes-list-type is specified")],
        ),
        (
            "preserve-unknown-fields false",
            json!({"type": "object", "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": false}}}),
            vec![format!("{BASE}.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined")],
        ),
        (
            "embedded resource without properties",
            json!({"type": "object", "properties": {"t": {"type": "object", "x-kubernetes-embedded-resource": true}}}),
            vec![format!("{BASE}.properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields")],
        ),
        (
            "$schema is only reported when nothing else is wrong",
            json!({"type": "object", "$schema": "http://json-schema.org/draft-04/schema#"}),
            vec![format!("{BASE}: Invalid value: \"\": OpenAPIV3Schema 'schema' is not supported")],
        ),
        (
            "empty validation rule",
            json!({"type": "object", "x-kubernetes-validations": [{"rule": " "}]}),
            vec![format!("{BASE}.x-kubernetes-validations[0].rule: Required value: rule is not specified")],
        ),
    ];
    for (name, schema, want) in cases {
        assert_eq!(structural_msgs(schema), want, "case {name}");
    }
}

#[test]
fn defaults_must_be_pruned_and_valid_against_their_schema() {
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        (
            "wrong type",
            spec_schema(json!({"replicas": {"type": "integer", "default": "one"}})),
            vec![format!(r#"{BASE}.properties[spec].properties[replicas].default: Invalid value: "string":  in body must be of type integer: "string""#)],
        ),
        (
            "nested field of a default",
            spec_schema(json!({"tls": {"type": "object", "default": {"port": "x"}, "properties": {"port": {"type": "integer"}}}})),
            vec![format!(r#"{BASE}.properties[spec].properties[tls].default.port: Invalid value: "string": port in body must be of type integer: "string""#)],
        ),
        (
            "unknown fields",
            spec_schema(json!({"tls": {"type": "object", "default": {"bogus": 1}, "properties": {"port": {"type": "integer"}}}})),
            vec![format!(r#"{BASE}.properties[spec].properties[tls].default: Invalid value: map[string]interface {{}}{{"bogus":1}}: must not have unknown fields"#)],
        ),
        (
            "enum",
            spec_schema(json!({"mode": {"type": "string", "enum": ["a"], "default": "b"}})),
            vec![format!(r#"{BASE}.properties[spec].properties[mode].default: Unsupported value: "b": supported values: "a""#)],
        ),
    ];
    for (name, schema, want) in cases {
        assert_eq!(structural_msgs(schema), want, "case {name}");
    }
}

#[test]
fn validation_without_a_schema_object_reports_nothing() {
    assert!(validate(&cr(json!({"a": 1})), &Value::Null).is_empty());
    let mut obj = cr(json!({"a": 1}));
    apply_defaults(&mut obj, &Value::Null);
    assert_eq!(obj, cr(json!({"a": 1})));
}

#[test]
fn invalid_type_errors_keep_the_field_value_invalid_reason() {
    let errs = validate(&cr(json!({"replicas": "x"})), &spec_schema(json!({"replicas": {"type": "integer"}})));
    let cause = errs[0].cause();
    assert_eq!(cause["field"], "spec.replicas");
    assert_eq!(cause["message"], r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#);
}

#[test]
fn list_uniqueness_under_additional_properties_uses_key_notation() {
    run(vec![(
        "set in a map",
        json!({"groups": {"type": "object", "additionalProperties": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}}),
        json!({"groups": {"g1": ["a", "a"]}}),
        vec![r#"spec.groups[g1][1]: Duplicate value: "a""#],
    )]);
}

#[test]
fn a_preserving_root_keeps_unknown_fields_but_prunes_declared_ones() {
    let schema = json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}
    });
    let mut obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "extra": {"x": 1}, "spec": {"a": "1", "b": 2}});
    assert_eq!(prune(&mut obj, &schema), vec!["spec.b"]);
    assert_eq!(obj, json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "extra": {"x": 1}, "spec": {"a": "1"}}));
}

#[test]
fn a_missing_schema_prunes_everything_but_type_meta_and_metadata() {
    let mut obj = cr(json!({"a": 1}));
    assert_eq!(prune(&mut obj, &Value::Null), vec!["spec"]);
    assert_eq!(obj, json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}));
}

#[test]
fn defaults_never_replace_present_values() {
    let schema = spec_schema(json!({"n": {"type": "integer", "default": 1}, "s": {"type": "string", "default": "d"}}));
    let mut obj = cr(json!({"n": 0, "s": ""}));
    apply_defaults(&mut obj, &schema);
    assert_eq!(obj["spec"], json!({"n": 0, "s": ""}));
}

#[test]
fn fieldless_errors_use_the_nil_path_like_kubernetes() {
    let errs = validate(&cr(json!({"n": 3})), &spec_schema(json!({"n": {"type": "integer", "not": {"minimum": 0}}})));
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "<nil>");
    assert_eq!(errs[0].cause()["message"], r#"Invalid value: "": "spec.n" must not validate the schema (not)"#);
}

#[test]
fn int_or_string_without_any_of_is_structural() {
    let schema = json!({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true}}});
    assert_eq!(structural_msgs(schema), Vec::<String>::new());
}

#[test]
fn set_items_that_are_objects_must_be_atomic_maps() {
    let schema = json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "set",
        "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}});
    assert_eq!(
        structural_msgs(schema),
        vec![format!("{BASE}.properties[l].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set")]
    );
}

/// A condensed controller-gen schema (shaped like cert-manager's Certificate).
fn controller_gen_schema() -> Value {
    json!({
        "description": "A Certificate resource.",
        "type": "object",
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema.", "type": "string"},
            "kind": {"description": "Kind is a string value.", "type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "description": "Specification of the desired state.",
                "type": "object",
                "required": ["issuerRef", "secretName"],
                "properties": {
                    "dnsNames": {"description": "DNS names.", "type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"},
                    "duration": {"type": "string"},
                    "issuerRef": {"type": "object", "required": ["name"], "properties": {
                        "group": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"}}},
                    "privateKey": {"type": "object", "properties": {
                        "algorithm": {"type": "string", "enum": ["RSA", "ECDSA", "Ed25519"]},
                        "size": {"type": "integer"}}},
                    "revisionHistoryLimit": {"type": "integer", "format": "int32"},
                    "secretName": {"type": "string"},
                    "secretTemplate": {"type": "object", "properties": {
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
                    "usages": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string", "enum": ["digital signature", "key encipherment", "server auth"]}}
                }
            },
            "status": {
                "type": "object",
                "properties": {
                    "conditions": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["type"],
                        "items": {"type": "object", "required": ["status", "type"], "properties": {
                            "lastTransitionTime": {"type": "string", "format": "date-time"},
                            "observedGeneration": {"type": "integer", "format": "int64"},
                            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                            "type": {"type": "string"}}}
                    },
                    "notAfter": {"type": "string", "format": "date-time"}
                }
            }
        }
    })
}

#[test]
fn a_controller_gen_schema_is_structural_and_accepts_a_real_object() {
    let schema = controller_gen_schema();
    assert_eq!(structural_msgs(schema.clone()), Vec::<String>::new());
    let mut obj = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "secretName": "web-tls", "dnsNames": ["a.example.com", "a.example.com"],
            "issuerRef": {"name": "le", "kind": "ClusterIssuer"},
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "revisionHistoryLimit": 1,
            "secretTemplate": {"labels": {"x": "y"}},
            "usages": ["digital signature", "server auth"]
        },
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-02T03:04:05Z", "observedGeneration": 1}]}
    });
    assert!(prune(&mut obj, &schema).is_empty());
    apply_defaults(&mut obj, &schema);
    assert_eq!(msgs(&validate(&obj, &schema)), Vec::<String>::new());

    obj["spec"]["usages"] = json!(["digital signature", "bogus"]);
    obj["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}, {"type": "Ready", "status": "Maybe"}]);
    assert_eq!(
        msgs(&validate(&obj, &schema)),
        vec![
            r#"spec.usages[1]: Unsupported value: "bogus": supported values: "digital signature", "key encipherment", "server auth""#,
            r#"status.conditions[1].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown""#,
            r#"status.conditions[1]: Duplicate value: map[string]interface {}{"type":"Ready"}"#,
        ]
    );
}
