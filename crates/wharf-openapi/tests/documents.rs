//! The documents as kubectl reads them.

use serde_json::{json, Value};
use wharf_api::ResourceInfo;
use wharf_openapi::{unknown_fields, v2, v3_group_version, v3_root, ServedResource};

fn builtin() -> Vec<ResourceInfo> {
    wharf_api::resources::builtin()
}

fn served(infos: &[ResourceInfo]) -> Vec<ServedResource<'_>> {
    infos.iter().map(|info| ServedResource { info, crd_version: None }).collect()
}

fn crontab_info() -> ResourceInfo {
    ResourceInfo {
        group: "stable.example.com".into(),
        version: "v1".into(),
        resource: "crontabs".into(),
        singular: "crontab".into(),
        kind: "CronTab".into(),
        namespaced: true,
        short_names: vec!["ct".into()],
        categories: vec![],
        verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        subresources: vec!["status".into()],
        storage_group: "stable.example.com".into(),
    }
}

fn crontab_version(spec_properties: Value) -> Value {
    json!({
        "name": "v1",
        "served": true,
        "storage": true,
        "schema": {"openAPIV3Schema": {
            "description": "CronTab runs a command on a schedule.",
            "type": "object",
            "properties": {
                "spec": {"type": "object", "description": "What to run and when.", "properties": spec_properties},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            },
        }},
        "subresources": {"status": {}},
    })
}

/// Every operation of a v3 document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method != "parameters" {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    out
}

/// Every `$ref` string in a document.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The schema of a v3 definition's property, following `allOf: [{$ref}]`.
fn follow<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let reference = schema.get("$ref").or_else(|| schema.pointer("/allOf/0/$ref")).and_then(Value::as_str);
    match reference.and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

#[test]
fn patch_operation_declares_field_validation_parameter() {
    let infos = builtin();
    let served = served(&infos);
    let mut patches = 0;
    for info in &infos {
        let doc = v3_group_version(&served, &info.group, &info.version).expect("served group version");
        for (path, method, op) in operations(&doc) {
            if method != "patch" {
                continue;
            }
            patches += 1;
            let names: Vec<&str> =
                op["parameters"].as_array().expect("parameters").iter().filter_map(|p| p["name"].as_str()).collect();
            for name in ["fieldValidation", "fieldManager", "dryRun", "force"] {
                assert!(names.contains(&name), "{path} PATCH lacks {name}: {names:?}");
            }
            assert!(op["x-kubernetes-group-version-kind"]["kind"].is_string(), "{path}");
            assert_eq!(op["x-kubernetes-action"], "patch");
        }
    }
    assert!(patches > 50, "{patches} patch operations");

    // What kubectl's query-param verifier looks for: the PATCH of the kind's item path.
    let apps = v3_group_version(&served, "apps", "v1").expect("apps/v1");
    let op = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(op["operationId"], "patchAppsV1NamespacedDeployment");
    assert_eq!(op["x-kubernetes-group-version-kind"], json!({"group": "apps", "kind": "Deployment", "version": "v1"}));
    let content = op["requestBody"]["content"].as_object().expect("patch content");
    assert!(content.contains_key("application/strategic-merge-patch+json"));
    assert!(content.contains_key("application/apply-patch+yaml"));
}

#[test]
fn operations_carry_kubernetes_operation_ids_and_actions() {
    let infos = builtin();
    let served = served(&infos);
    let core = v3_group_version(&served, "", "v1").expect("core/v1");
    let paths = &core["paths"];
    let cm = &paths["/api/v1/namespaces/{namespace}/configmaps/{name}"];
    assert_eq!(cm["put"]["operationId"], "replaceCoreV1NamespacedConfigMap");
    assert_eq!(cm["get"]["operationId"], "readCoreV1NamespacedConfigMap");
    assert_eq!(cm["delete"]["operationId"], "deleteCoreV1NamespacedConfigMap");
    assert_eq!(cm["delete"]["x-kubernetes-action"], "delete");
    let cms = &paths["/api/v1/namespaces/{namespace}/configmaps"];
    assert_eq!(cms["get"]["operationId"], "listCoreV1NamespacedConfigMap");
    assert_eq!(cms["post"]["operationId"], "createCoreV1NamespacedConfigMap");
    assert_eq!(cms["delete"]["operationId"], "deleteCollectionCoreV1NamespacedConfigMap");
    let list_params: Vec<&str> = cms["get"]["parameters"].as_array().expect("list parameters").iter().filter_map(|p| p["name"].as_str()).collect();
    for name in ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch", "timeoutSeconds"] {
        assert!(list_params.contains(&name), "list lacks {name}");
    }
    assert_eq!(paths["/api/v1/configmaps"]["get"]["operationId"], "listCoreV1ConfigMapForAllNamespaces");
    assert_eq!(paths["/api/v1/namespaces/{name}"]["patch"]["operationId"], "patchCoreV1Namespace");
    assert_eq!(paths["/api/v1/namespaces/{name}/status"]["put"]["operationId"], "replaceCoreV1NamespaceStatus");
    assert_eq!(paths["/api/v1/namespaces/{name}/finalize"]["put"]["operationId"], "replaceCoreV1NamespaceFinalize");
    assert_eq!(paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]["operationId"], "createCoreV1NamespacedPodEviction");
    assert_eq!(paths["/api/v1/watch/namespaces/{namespace}/pods"]["get"]["x-kubernetes-action"], "watchlist");
    let path_params: Vec<&str> = cm["parameters"].as_array().expect("path parameters").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(path_params, ["name", "namespace", "pretty"]);

    let apps = v3_group_version(&served, "apps", "v1").expect("apps/v1");
    let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(scale["patch"]["operationId"], "patchAppsV1NamespacedDeploymentScale");
    assert_eq!(scale["get"]["x-kubernetes-group-version-kind"], json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}));
    let status = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"];
    assert_eq!(status["put"]["operationId"], "replaceAppsV1NamespacedDeploymentStatus");
    let rbac = v3_group_version(&served, "rbac.authorization.k8s.io", "v1").expect("rbac/v1");
    let roles = &rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"];
    assert_eq!(roles["patch"]["operationId"], "patchRbacAuthorizationV1ClusterRole");
    assert_eq!(roles["patch"]["tags"], json!(["rbacAuthorization_v1"]));
}

#[test]
fn deployment_schema_has_group_version_kind_and_merge_keys() {
    let infos = builtin();
    let served = served(&infos);
    let doc = v3_group_version(&served, "apps", "v1").expect("apps/v1");
    let schemas = &doc["components"]["schemas"];
    let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(deployment["x-kubernetes-group-version-kind"], json!([{"group": "apps", "kind": "Deployment", "version": "v1"}]));
    assert!(deployment["description"].as_str().is_some_and(|d| d.contains("Deployment")));
    assert!(deployment.get("required").is_none(), "metadata must not be required: {}", deployment["required"]);
    assert_eq!(schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"][0]["kind"], "DeploymentList");

    // kubectl explain deployment.spec.replicas
    let spec = follow(&doc, &deployment["properties"]["spec"]);
    let replicas = &spec["properties"]["replicas"];
    assert_eq!(replicas["type"], "integer");
    assert_eq!(replicas["format"], "int32");
    assert!(replicas["description"].as_str().is_some_and(|d| d.contains("desired pods")));
    assert_eq!(spec["required"], json!(["selector", "template"]));
    assert_eq!(spec["properties"]["strategy"]["x-kubernetes-patch-strategy"], "retainKeys");

    // kubectl apply's patch metadata: spec.template.spec.containers[].ports
    let template = follow(&doc, &spec["properties"]["template"]);
    let pod_spec = follow(&doc, &template["properties"]["spec"]);
    let containers = &pod_spec["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(pod_spec["properties"]["volumes"]["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let container = follow(&doc, &containers["items"]);
    assert_eq!(container["properties"]["ports"]["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(container["properties"]["env"]["x-kubernetes-patch-merge-key"], "name");
    assert!(pod_spec["properties"]["tolerations"].get("x-kubernetes-patch-strategy").is_none());
    let resources = follow(&doc, &container["properties"]["resources"]);
    let limit = follow(&doc, &resources["properties"]["limits"]["additionalProperties"]);
    assert_eq!(limit["oneOf"], json!([{"type": "string"}, {"type": "number"}]), "Quantity");
    let status = follow(&doc, &deployment["properties"]["status"]);
    assert_eq!(status["properties"]["conditions"]["x-kubernetes-patch-merge-key"], "type");
    let meta = follow(&doc, &deployment["properties"]["metadata"]);
    assert_eq!(meta["properties"]["finalizers"]["x-kubernetes-list-type"], "set");
    let max_surge = follow(&doc, &schemas["io.k8s.api.apps.v1.RollingUpdateDeployment"]["properties"]["maxSurge"]);
    assert_eq!(max_surge["format"], "int-or-string");
}

#[test]
fn custom_resource_schema_comes_from_its_crd() {
    let infos = builtin();
    let crontab = crontab_info();
    let version = crontab_version(json!({"cronSpec": {"type": "string", "description": "The schedule."}, "replicas": {"type": "integer"}}));
    let mut served = served(&infos);
    served.push(ServedResource { info: &crontab, crd_version: Some(&version) });

    let doc = v3_group_version(&served, "stable.example.com", "v1").expect("custom group version");
    let schema = &doc["components"]["schemas"]["com.example.stable.v1.CronTab"];
    assert_eq!(schema["x-kubernetes-group-version-kind"], json!([{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]));
    assert_eq!(schema["description"], "CronTab runs a command on a schedule.");
    assert_eq!(schema["properties"]["spec"]["properties"]["cronSpec"]["description"], "The schedule.");
    assert_eq!(schema["properties"]["kind"]["type"], "string");
    let meta = follow(&doc, &schema["properties"]["metadata"]);
    assert!(meta["properties"]["name"].is_object(), "metadata refers to ObjectMeta");
    assert!(doc["components"]["schemas"]["com.example.stable.v1.CronTabList"]["properties"]["items"].is_object());

    let paths = &doc["paths"];
    let item = &paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"];
    assert_eq!(item["patch"]["operationId"], "patchStableExampleComV1NamespacedCronTab");
    let content = item["patch"]["requestBody"]["content"].as_object().expect("patch content");
    assert!(!content.contains_key("application/strategic-merge-patch+json"), "custom resources take no strategic merge patch");
    assert!(content.contains_key("application/merge-patch+json"));
    let names: Vec<&str> = item["patch"]["parameters"].as_array().expect("parameters").iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"fieldValidation"));
    assert!(paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status"]["patch"].is_object());

    // In v2 too, with Swagger 2.0 references.
    let swagger = v2(&served);
    let def = &swagger["definitions"]["com.example.stable.v1.CronTab"];
    assert_eq!(def["properties"]["metadata"]["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    assert!(swagger["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs"]["post"].is_object());
}

#[test]
fn v3_root_lists_every_group_version_and_its_hash_changes_when_a_crd_is_added_or_changed() {
    let infos = builtin();
    let base = served(&infos);
    let root = v3_root(&base);
    let listing = root["paths"].as_object().expect("paths");
    for info in &infos {
        let key = if info.group.is_empty() { format!("api/{}", info.version) } else { format!("apis/{}/{}", info.group, info.version) };
        let url = listing[&key]["serverRelativeURL"].as_str().expect("serverRelativeURL");
        assert!(url.starts_with(&format!("/openapi/v3/{key}?hash=")), "{url}");
    }
    assert!(!listing.contains_key("apis/stable.example.com/v1"));

    let crontab = crontab_info();
    let v1 = crontab_version(json!({"cronSpec": {"type": "string"}}));
    let mut with_crd = base.clone();
    with_crd.push(ServedResource { info: &crontab, crd_version: Some(&v1) });
    let root_with_crd = v3_root(&with_crd);
    let first = root_with_crd["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].clone();
    assert!(first.is_string());
    // Other group versions keep their hash.
    assert_eq!(root_with_crd["paths"]["apis/apps/v1"], root["paths"]["apis/apps/v1"]);

    let v2_schema = crontab_version(json!({"cronSpec": {"type": "string"}, "image": {"type": "string"}}));
    let mut changed = base.clone();
    changed.push(ServedResource { info: &crontab, crd_version: Some(&v2_schema) });
    let second = v3_root(&changed)["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].clone();
    assert_ne!(first, second, "a changed CRD schema must change the hash");
    // The same set gives the same document.
    assert_eq!(v3_root(&with_crd), root_with_crd);
}

#[test]
fn v3_group_version_is_none_for_what_is_not_served() {
    let infos = builtin();
    let served = served(&infos);
    assert!(v3_group_version(&served, "apps", "v1beta1").is_none());
    assert!(v3_group_version(&served, "example.com", "v1").is_none());
    assert!(v3_group_version(&served, "", "v1").is_some());
}

#[test]
fn every_reference_in_every_document_resolves() {
    let infos = builtin();
    let crontab = crontab_info();
    let version = crontab_version(json!({"cronSpec": {"type": "string"}}));
    let mut served = served(&infos);
    served.push(ServedResource { info: &crontab, crd_version: Some(&version) });

    let root = v3_root(&served);
    for key in root["paths"].as_object().expect("paths").keys() {
        let (group, version) = match key.split('/').collect::<Vec<_>>().as_slice() {
            ["api", v] => (String::new(), v.to_string()),
            ["apis", g, v] => (g.to_string(), v.to_string()),
            other => panic!("unexpected key {other:?}"),
        };
        let doc = v3_group_version(&served, &group, &version).expect("listed group version is served");
        assert_eq!(doc["openapi"], "3.0.0");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{key}: bad ref {r}"));
            assert!(doc["components"]["schemas"].get(name).is_some(), "{key}: dangling {r}");
        }
    }

    let swagger = v2(&served);
    assert_eq!(swagger["swagger"], "2.0");
    let mut all = Vec::new();
    refs(&swagger, &mut all);
    assert!(all.len() > 1000);
    for r in all {
        let name = r.strip_prefix("#/definitions/").unwrap_or_else(|| panic!("bad v2 ref {r}"));
        assert!(swagger["definitions"].get(name).is_some(), "dangling {r}");
    }
    for (name, def) in swagger["definitions"].as_object().expect("definitions") {
        for (field, prop) in def["properties"].as_object().into_iter().flatten() {
            assert!(prop.pointer("/allOf/0/$ref").is_none(), "{name}.{field}: v2 refs are plain $refs");
        }
    }
    let text = serde_json::to_string(&swagger).expect("serializes");
    assert!(!text.contains("#/components/"), "v2 has no v3 references");
}

#[test]
fn v2_document_declares_paths_parameters_and_definitions_kubectl_validates_with() {
    let infos = builtin();
    let served = served(&infos);
    let doc = v2(&served);
    let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    assert_eq!(patch["operationId"], "patchCoreV1NamespacedConfigMap");
    let params = patch["parameters"].as_array().expect("parameters");
    assert!(params.iter().any(|p| p["in"] == "body" && p["schema"]["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"));
    assert!(params.iter().any(|p| p["name"] == "fieldValidation" && p["type"] == "string"));
    assert!(patch["consumes"].as_array().expect("consumes").contains(&json!("application/strategic-merge-patch+json")));
    let pod = &doc["definitions"]["io.k8s.api.core.v1.Pod"];
    assert_eq!(pod["x-kubernetes-group-version-kind"], json!([{"group": "", "kind": "Pod", "version": "v1"}]));
    assert_eq!(pod["properties"]["spec"]["$ref"], "#/definitions/io.k8s.api.core.v1.PodSpec");
    assert!(pod["properties"]["spec"]["description"].is_string());
    assert_eq!(doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]["x-kubernetes-patch-merge-key"], "name");
}

#[test]
fn unknown_fields_finds_typo_in_nested_spec() {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}, "annotationz": {}},
        "spec": {
            "replicass": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "a", "image": "nginx"},
                    {"name": "b", "imagee": "nginx", "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80, "protocl": "TCP"}]},
                ]},
            },
        },
    });
    let mut found = unknown_fields("apps", "v1", "Deployment", &deployment);
    found.sort();
    assert_eq!(
        found,
        [
            ".metadata.annotationz",
            ".spec.replicass",
            ".spec.template.spec.containers[1].imagee",
            ".spec.template.spec.containers[1].ports[0].protocl",
        ]
    );
}

#[test]
fn unknown_fields_accepts_valid_objects_and_free_form_values() {
    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"any.key": "v"}});
    assert!(unknown_fields("", "v1", "ConfigMap", &configmap).is_empty());
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "names": {"kind": "CronTab", "plural": "crontabs"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string", "default": "y"}}}},
            }}}],
        },
    });
    assert!(unknown_fields("apiextensions.k8s.io", "v1", "CustomResourceDefinition", &crd).is_empty());
    let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod"}, "sourc": {}});
    assert_eq!(unknown_fields("", "v1", "Event", &event), [".sourc"]);
    // No schema, no unknown fields.
    assert!(unknown_fields("stable.example.com", "v1", "CronTab", &json!({"whatever": 1})).is_empty());
}

#[test]
fn patch_metadata_agrees_with_the_servers_strategic_merge_patch() {
    // For every merge-keyed list the v3 documents declare under a built-in kind, a strategic
    // merge patch on the server merges two items with different keys into a list of two.
    let infos = builtin();
    let served = served(&infos);
    let mut checked = 0;
    for info in infos.iter().filter(|i| i.verbs.iter().any(|v| v == "patch")) {
        let doc = v3_group_version(&served, &info.group, &info.version).expect("served");
        let schemas = &doc["components"]["schemas"];
        let root = schemas
            .as_object()
            .expect("schemas")
            .values()
            .find(|s| s["x-kubernetes-group-version-kind"][0]["kind"] == info.kind.as_str() && s["x-kubernetes-group-version-kind"][0]["group"] == info.group.as_str());
        let Some(root) = root else { panic!("no schema for {}", info.kind) };
        let mut lists = Vec::new();
        find_merge_lists(&doc, root, &mut Vec::new(), &mut Vec::new(), &mut lists);
        for (path, key, key_type) in lists {
            let value = |v: &str| if key_type == "integer" { json!(v.len()) } else { json!(v) };
            let doc_obj = nest(&path, json!([{key.clone(): value("a")}]));
            let patch = nest(&path, json!([{key.clone(): value("bb")}]));
            let merged = wharf_api::patch::strategic_merge_patch(&doc_obj, &patch, &info.group, &info.kind)
                .unwrap_or_else(|e| panic!("{} {path:?}: {e}", info.kind));
            let list = path.iter().fold(&merged, |v, step| match step {
                Step::Field(f) => &v[f.as_str()],
                Step::Item(_, _) => &v[0],
            });
            assert_eq!(list.as_array().map(Vec::len), Some(2), "{} {path:?} by {key}: {merged}", info.kind);
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked} merge lists checked");
}

#[derive(Debug, Clone)]
enum Step {
    Field(String),
    /// An item of a merged list: its merge key and a value for it.
    Item(String, Value),
}

/// Builds `{a: [{key: v, b: leaf}]}` along a path.
fn nest(path: &[Step], leaf: Value) -> Value {
    match path.split_first() {
        None => leaf,
        Some((Step::Field(f), rest)) => json!({f.clone(): nest(rest, leaf)}),
        Some((Step::Item(key, v), rest)) => {
            let mut item = nest(rest, leaf);
            if let Value::Object(m) = &mut item {
                m.insert(key.clone(), v.clone());
            }
            json!([item])
        }
    }
}

/// The definition a schema refers to, if it is a reference.
fn ref_name(schema: &Value) -> Option<String> {
    let reference = schema.get("$ref").or_else(|| schema.pointer("/allOf/0/$ref")).and_then(Value::as_str)?;
    reference.strip_prefix("#/components/schemas/").map(str::to_string)
}

/// Collects (path, merge key, key type) of merge-keyed lists reachable through fields and the
/// items of merged lists (the items of other lists are replaced whole, so their nested
/// metadata never applies).
fn find_merge_lists(doc: &Value, schema: &Value, path: &mut Vec<Step>, stack: &mut Vec<String>, out: &mut Vec<(Vec<Step>, String, String)>) {
    let name = ref_name(schema);
    if let Some(name) = &name {
        if stack.contains(name) {
            return;
        }
        stack.push(name.clone());
    }
    if let Some(props) = follow(doc, schema)["properties"].as_object() {
        for (field, prop) in props {
            let target = follow(doc, prop);
            let key = prop["x-kubernetes-patch-merge-key"].as_str();
            let merges = prop["x-kubernetes-patch-strategy"].as_str().is_some_and(|s| s.starts_with("merge"));
            if target["type"] == "array" {
                if let (Some(key), true) = (key, merges) {
                    let item = follow(doc, &target["items"]);
                    let key_type = item["properties"][key]["type"].as_str().unwrap_or("string").to_string();
                    path.push(Step::Field(field.clone()));
                    out.push((path.clone(), key.to_string(), key_type.clone()));
                    let v = if key_type == "integer" { json!(1) } else { json!("k") };
                    path.push(Step::Item(key.to_string(), v));
                    find_merge_lists(doc, &target["items"], path, stack, out);
                    path.pop();
                    path.pop();
                }
            } else if target["properties"].is_object() {
                path.push(Step::Field(field.clone()));
                find_merge_lists(doc, prop, path, stack, out);
                path.pop();
            }
        }
    }
    if name.is_some() {
        stack.pop();
    }
}

/// Resident and peak memory of this process (Linux), in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
#[ignore = "measurement: run with --release -- --ignored --nocapture"]
fn measure_build_time_and_size_of_the_documents() {
    use std::time::Instant;
    let infos = builtin();
    let served = served(&infos);
    let (rss_before, _) = memory_kib();
    let start = Instant::now();
    let unknown = unknown_fields("apps", "v1", "Deployment", &json!({}));
    let schemas = start.elapsed();
    assert!(unknown.is_empty());
    let (rss_schemas, _) = memory_kib();
    let start = Instant::now();
    let doc = v2(&served);
    let first = start.elapsed();
    let (rss_v2, peak_v2) = memory_kib();
    let start = Instant::now();
    let _again = v2(&served);
    let memo = start.elapsed();
    let bytes = serde_json::to_vec(&doc).expect("serializes").len();
    let start = Instant::now();
    let root = v3_root(&served);
    let v3 = start.elapsed();
    let (rss_v3, peak) = memory_kib();
    let v3_bytes: usize = root["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(|k| {
            let parts: Vec<&str> = k.split('/').collect();
            let (g, v) = if parts.len() == 2 { ("", parts[1]) } else { (parts[1], parts[2]) };
            serde_json::to_vec(&v3_group_version(&served, g, v).expect("served")).map(|b| b.len()).unwrap_or(0)
        })
        .sum();
    println!("built-in schemas generated in {schemas:?}, RSS +{} KiB", rss_schemas.saturating_sub(rss_before));
    println!(
        "v2: built in {first:?} (memo hit, i.e. clone: {memo:?}), {bytes} bytes of JSON, {} definitions, {} paths, RSS +{} KiB (peak {peak_v2} KiB)",
        doc["definitions"].as_object().map(|d| d.len()).unwrap_or(0),
        doc["paths"].as_object().map(|d| d.len()).unwrap_or(0),
        rss_v2.saturating_sub(rss_schemas),
    );
    println!("v3: root and all group versions built in {v3:?}, {v3_bytes} bytes of JSON, RSS +{} KiB (peak {peak} KiB)", rss_v3.saturating_sub(rss_v2));
}
