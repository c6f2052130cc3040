//! The REST paths of served resources and their operations, as kube-apiserver's installer
//! declares them: collection and item paths (namespaced, cluster-scoped, across all
//! namespaces), the deprecated `watch/` paths, subresources, operation ids such as
//! `patchAppsV1NamespacedDeployment`, `x-kubernetes-action`, `x-kubernetes-group-version-kind`
//! and query parameters. One model renders as OpenAPI v3 or Swagger 2.0.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use wharf_api::ResourceInfo;

use crate::builtin::{reference, API_RESOURCE_LIST, DELETE_OPTIONS, PATCH, SCALE, STATUS, WATCH_EVENT};

/// A served resource, resolved to its schemas.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// The resource.
    pub(crate) info: &'a ResourceInfo,
    /// Definition name of its kind.
    pub(crate) definition: String,
    /// Definition name of its list kind.
    pub(crate) list_definition: String,
    /// Whether it is a custom resource (JSON and YAML only, no strategic merge patch).
    pub(crate) custom: bool,
}

/// The JSON type of a parameter.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Int,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Str => "string",
            Ty::Bool => "boolean",
            Ty::Int => "integer",
        }
    }
}

/// One parameter.
#[derive(Debug, Clone)]
struct Param {
    name: &'static str,
    location: &'static str,
    description: String,
    ty: Ty,
}

impl Param {
    fn query(name: &'static str, ty: Ty, description: &str) -> Param {
        Param { name, location: "query", description: description.to_string(), ty }
    }

    fn path(name: &'static str, description: String) -> Param {
        Param { name, location: "path", description, ty: Ty::Str }
    }
}

fn pretty() -> Param {
    Param::query("pretty", Ty::Str, "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).")
}

fn namespace() -> Param {
    Param::path("namespace", "object name and auth scope, such as for teams and projects".into())
}

fn name(kind: &str) -> Param {
    Param::path("name", format!("name of the {kind}"))
}

fn dry_run() -> Param {
    Param::query("dryRun", Ty::Str, "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed")
}

fn field_manager() -> Param {
    Param::query("fieldManager", Ty::Str, "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters.")
}

fn field_validation() -> Param {
    Param::query("fieldValidation", Ty::Str, "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: unknown fields are silently dropped. - Warn: a warning is sent for each unknown or duplicate field (the default). - Strict: the request fails with a BadRequest error if any unknown or duplicate field is present.")
}

fn force() -> Param {
    Param::query("force", Ty::Bool, "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.")
}

/// Parameters of create and replace.
fn write_params() -> Vec<Param> {
    vec![dry_run(), field_manager(), field_validation()]
}

/// Parameters of delete (besides the body).
fn delete_params() -> Vec<Param> {
    vec![
        dry_run(),
        Param::query("gracePeriodSeconds", Ty::Int, "The duration in seconds before the object should be deleted. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used."),
        Param::query("ignoreStoreReadErrorWithClusterBreakingPotential", Ty::Bool, "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error."),
        Param::query("orphanDependents", Ty::Bool, "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned."),
        Param::query("propagationPolicy", Ty::Str, "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background' and 'Foreground'."),
    ]
}

/// Parameters of list and watch.
fn list_params() -> Vec<Param> {
    vec![
        Param::query("allowWatchBookmarks", Ty::Bool, "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag. If this is not a watch, this field is ignored."),
        Param::query("continue", Ty::Str, "The continue option should be set when retrieving more results from the server, with the value of the continue field of the previous list."),
        Param::query("fieldSelector", Ty::Str, "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        Param::query("labelSelector", Ty::Str, "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        Param::query("limit", Ty::Int, "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata."),
        Param::query("resourceVersion", Ty::Str, "resourceVersion sets a constraint on what resource versions a request may be served from. Defaults to unset"),
        Param::query("resourceVersionMatch", Ty::Str, "resourceVersionMatch determines how resourceVersion is applied to list calls. Defaults to unset"),
        Param::query("sendInitialEvents", Ty::Bool, "`sendInitialEvents=true` may be set together with `watch=true`; the watch stream then begins with synthetic events for the current state of the collection."),
        Param::query("timeoutSeconds", Ty::Int, "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
        Param::query("watch", Ty::Bool, "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
    ]
}

/// Parameters of deletecollection.
fn delete_collection_params() -> Vec<Param> {
    let mut params: Vec<Param> = list_params()
        .into_iter()
        .filter(|p| !matches!(p.name, "allowWatchBookmarks" | "watch"))
        .chain(delete_params())
        .collect();
    params.sort_by_key(|p| p.name);
    params
}

/// The request body of an operation.
#[derive(Debug, Clone)]
enum Body {
    None,
    Object(String),
    Patch,
    Delete,
}

/// One operation.
#[derive(Debug, Clone)]
struct Operation {
    method: &'static str,
    id: String,
    description: String,
    action: &'static str,
    gvk: (String, String, String),
    params: Vec<Param>,
    body: Body,
    /// (code, description, definition answered).
    responses: Vec<(&'static str, &'static str, String)>,
    /// Whether it answers with a watch stream (list and watch).
    streams: bool,
}

/// One path and its operations.
#[derive(Debug, Clone)]
pub(crate) struct PathItem {
    params: Vec<Param>,
    operations: Vec<Operation>,
    custom: bool,
    tag: String,
}

/// Paths by URL path.
pub(crate) type Paths = BTreeMap<String, PathItem>;

/// `Apps`, `RbacAuthorization`, `Core`: the group as it appears in operation ids.
fn group_name(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let group = group.strip_suffix(".k8s.io").unwrap_or(group);
    group.split(['.', '-']).filter(|s| !s.is_empty()).map(title).collect()
}

/// `s` with its first letter upper-cased.
fn title(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The tag of a group version: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    let name = group_name(group);
    let mut chars = name.chars();
    let lower = match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    };
    format!("{lower}_{version}")
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub(crate) fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// Adds `GET /apis/<group>/<version>/` (the group version's resource list).
pub(crate) fn add_group_root(paths: &mut Paths, group: &str, version: &str) {
    let gv = format!("{}{}", group_name(group), title(version));
    let op = Operation {
        method: "get",
        id: format!("get{gv}APIResources"),
        description: "get available resources".into(),
        action: "",
        gvk: (String::new(), String::new(), String::new()),
        params: vec![],
        body: Body::None,
        responses: vec![("200", "OK", API_RESOURCE_LIST.into())],
        streams: false,
    };
    paths.insert(
        format!("{}/", prefix(group, version)),
        PathItem { params: vec![], operations: vec![op], custom: false, tag: tag(group, version) },
    );
}

/// Adds every path of one served resource.
pub(crate) fn add_resource(paths: &mut Paths, t: &Target<'_>) {
    let info = t.info;
    let kind = info.kind.as_str();
    let gv = format!("{}{}", group_name(&info.group), title(&info.version));
    let ns = if info.namespaced { "Namespaced" } else { "" };
    let gvk = (info.group.clone(), info.version.clone(), info.kind.clone());
    let has = |verb: &str| info.verbs.iter().any(|v| v == verb);
    let base = prefix(&info.group, &info.version);
    let (collection, watch_collection) = if info.namespaced {
        (
            format!("{base}/namespaces/{{namespace}}/{}", info.resource),
            format!("{base}/watch/namespaces/{{namespace}}/{}", info.resource),
        )
    } else {
        (format!("{base}/{}", info.resource), format!("{base}/watch/{}", info.resource))
    };
    let item = format!("{collection}/{{name}}");
    let scope = |with_name: bool| {
        let mut params = Vec::new();
        if with_name {
            params.push(name(kind));
        }
        if info.namespaced {
            params.push(namespace());
        }
        params.push(pretty());
        params
    };
    let item_path = |params: Vec<Param>, operations: Vec<Operation>| PathItem {
        params,
        operations,
        custom: t.custom,
        tag: tag(&info.group, &info.version),
    };
    let op = |method: &'static str, id: String, description: String, action: &'static str| Operation {
        method,
        id,
        description,
        action,
        gvk: gvk.clone(),
        params: vec![],
        body: Body::None,
        responses: vec![],
        streams: false,
    };
    let def = t.definition.clone();
    let list_def = t.list_definition.clone();

    // Collection: list, create, deletecollection.
    let mut ops = Vec::new();
    if has("list") {
        ops.push(Operation {
            params: list_params(),
            responses: vec![("200", "OK", list_def.clone())],
            streams: true,
            ..op("get", format!("list{gv}{ns}{kind}"), format!("list or watch objects of kind {kind}"), "list")
        });
    }
    if has("create") {
        ops.push(Operation {
            params: write_params(),
            body: Body::Object(def.clone()),
            responses: vec![("200", "OK", def.clone()), ("201", "Created", def.clone()), ("202", "Accepted", def.clone())],
            ..op("post", format!("create{gv}{ns}{kind}"), format!("create a {kind}"), "post")
        });
    }
    if has("deletecollection") {
        ops.push(Operation {
            params: delete_collection_params(),
            body: Body::Delete,
            responses: vec![("200", "OK", STATUS.into())],
            ..op("delete", format!("deleteCollection{gv}{ns}{kind}"), format!("delete collection of {kind}"), "deletecollection")
        });
    }
    if !ops.is_empty() {
        paths.insert(collection.clone(), item_path(scope(false), ops));
    }

    // Item: read, replace, patch, delete.
    let mut ops = Vec::new();
    if has("get") {
        ops.push(Operation {
            responses: vec![("200", "OK", def.clone())],
            ..op("get", format!("read{gv}{ns}{kind}"), format!("read the specified {kind}"), "get")
        });
    }
    if has("update") {
        ops.push(Operation {
            params: write_params(),
            body: Body::Object(def.clone()),
            responses: vec![("200", "OK", def.clone()), ("201", "Created", def.clone())],
            ..op("put", format!("replace{gv}{ns}{kind}"), format!("replace the specified {kind}"), "put")
        });
    }
    if has("patch") {
        ops.push(patch_op(op("patch", format!("patch{gv}{ns}{kind}"), format!("partially update the specified {kind}"), "patch"), &def));
    }
    if has("delete") {
        ops.push(Operation {
            params: delete_params(),
            body: Body::Delete,
            responses: vec![("200", "OK", STATUS.into()), ("202", "Accepted", STATUS.into())],
            ..op("delete", format!("delete{gv}{ns}{kind}"), format!("delete a {kind}"), "delete")
        });
    }
    if !ops.is_empty() {
        paths.insert(item.clone(), item_path(scope(true), ops));
    }

    // Across namespaces.
    if info.namespaced && has("list") {
        let mut params = list_params();
        params.push(pretty());
        params.sort_by_key(|p| p.name);
        let list = Operation {
            responses: vec![("200", "OK", list_def.clone())],
            streams: true,
            ..op("get", format!("list{gv}{kind}ForAllNamespaces"), format!("list or watch objects of kind {kind}"), "list")
        };
        paths.insert(format!("{base}/{}", info.resource), item_path(params, vec![list]));
    }

    // The deprecated watch paths.
    if has("watch") {
        let watch_params = |with_name: bool| {
            let mut params = list_params();
            params.extend(scope(with_name));
            params.sort_by_key(|p| p.name);
            params
        };
        let deprecated = "deprecated: use the 'watch' parameter with a list operation instead";
        let watch_list = Operation {
            responses: vec![("200", "OK", WATCH_EVENT.into())],
            streams: true,
            ..op("get", format!("watch{gv}{ns}{kind}List"), format!("watch individual changes to a list of {kind}. {deprecated}."), "watchlist")
        };
        paths.insert(watch_collection.clone(), item_path(watch_params(false), vec![watch_list]));
        let watch_one = Operation {
            responses: vec![("200", "OK", WATCH_EVENT.into())],
            streams: true,
            ..op("get", format!("watch{gv}{ns}{kind}"), format!("watch changes to an object of kind {kind}. {deprecated}, filtered to a single item with the 'fieldSelector' parameter."), "watch")
        };
        paths.insert(format!("{watch_collection}/{{name}}"), item_path(watch_params(true), vec![watch_one]));
        if info.namespaced {
            let mut params = list_params();
            params.push(pretty());
            params.sort_by_key(|p| p.name);
            let watch_all = Operation {
                responses: vec![("200", "OK", WATCH_EVENT.into())],
                streams: true,
                ..op("get", format!("watch{gv}{kind}ListForAllNamespaces"), format!("watch individual changes to a list of {kind}. {deprecated}."), "watchlist")
            };
            paths.insert(format!("{base}/watch/{}", info.resource), item_path(params, vec![watch_all]));
        }
    }

    // Subresources.
    for sub in &info.subresources {
        let path = format!("{item}/{sub}");
        let ops = match sub.as_str() {
            "status" | "scale" => {
                let (body_def, sub_gvk) = if sub == "scale" {
                    (SCALE.to_string(), ("autoscaling".to_string(), "v1".to_string(), "Scale".to_string()))
                } else {
                    (def.clone(), gvk.clone())
                };
                let suffix = title(sub);
                let sub_op = |method, verb: &str, description: String, action| Operation {
                    gvk: sub_gvk.clone(),
                    ..op(method, format!("{verb}{gv}{ns}{kind}{suffix}"), description, action)
                };
                let mut ops = Vec::new();
                if has("get") {
                    ops.push(Operation {
                        responses: vec![("200", "OK", body_def.clone())],
                        ..sub_op("get", "read", format!("read {sub} of the specified {kind}"), "get")
                    });
                }
                if has("update") {
                    ops.push(Operation {
                        params: write_params(),
                        body: Body::Object(body_def.clone()),
                        responses: vec![("200", "OK", body_def.clone()), ("201", "Created", body_def.clone())],
                        ..sub_op("put", "replace", format!("replace {sub} of the specified {kind}"), "put")
                    });
                }
                if has("patch") {
                    ops.push(patch_op(
                        sub_op("patch", "patch", format!("partially update {sub} of the specified {kind}"), "patch"),
                        &body_def,
                    ));
                }
                ops
            }
            "binding" | "eviction" => {
                let (body_def, sub_gvk) = if sub == "binding" {
                    ("io.k8s.api.core.v1.Binding", ("", "v1", "Binding"))
                } else {
                    ("io.k8s.api.policy.v1.Eviction", ("policy", "v1", "Eviction"))
                };
                vec![Operation {
                    gvk: (sub_gvk.0.into(), sub_gvk.1.into(), sub_gvk.2.into()),
                    params: write_params(),
                    body: Body::Object(body_def.into()),
                    responses: vec![("200", "OK", body_def.into()), ("201", "Created", body_def.into()), ("202", "Accepted", body_def.into())],
                    ..op("post", format!("create{gv}{ns}{kind}{}", title(sub)), format!("create {sub} of a {kind}"), "post")
                }]
            }
            "finalize" => vec![Operation {
                params: write_params(),
                body: Body::Object(def.clone()),
                responses: vec![("200", "OK", def.clone()), ("201", "Created", def.clone())],
                ..op("put", format!("replace{gv}{ns}{kind}Finalize"), format!("replace finalize of the specified {kind}"), "put")
            }],
            _ => vec![],
        };
        if !ops.is_empty() {
            paths.insert(path, item_path(scope(true), ops));
        }
    }
}

/// A PATCH operation on `definition`.
fn patch_op(base: Operation, definition: &str) -> Operation {
    Operation {
        params: vec![dry_run(), field_manager(), field_validation(), force()],
        body: Body::Patch,
        responses: vec![("200", "OK", definition.to_string()), ("201", "Created", definition.to_string())],
        ..base
    }
}

/// The patch content types a resource accepts.
fn patch_types(custom: bool) -> Vec<&'static str> {
    let mut types = vec!["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"];
    if !custom {
        types.push("application/strategic-merge-patch+json");
    }
    types
}

/// The content types an operation answers with.
fn produces(custom: bool, streams: bool) -> Vec<&'static str> {
    let mut types = vec!["application/json"];
    if streams {
        types.push("application/json;stream=watch");
    }
    if !custom {
        types.push("application/vnd.kubernetes.protobuf");
        if streams {
            types.push("application/vnd.kubernetes.protobuf;stream=watch");
        }
    }
    types.push("application/yaml");
    types
}

/// `x-kubernetes-group-version-kind` of an operation (a single object).
fn operation_gvk(gvk: &(String, String, String)) -> Value {
    json!({"group": gvk.0, "kind": gvk.2, "version": gvk.1})
}

/// Renders the paths as OpenAPI v3 path items.
pub(crate) fn render_v3(paths: &Paths) -> Value {
    let param = |p: &Param| {
        let mut m = Map::new();
        m.insert("description".into(), json!(p.description));
        m.insert("in".into(), json!(p.location));
        m.insert("name".into(), json!(p.name));
        if p.location == "path" {
            m.insert("required".into(), json!(true));
        }
        m.insert("schema".into(), json!({"type": p.ty.name(), "uniqueItems": true}));
        Value::Object(m)
    };
    let mut out = Map::new();
    for (path, item) in paths {
        let mut entries: BTreeMap<&str, Value> = BTreeMap::new();
        if !item.params.is_empty() {
            entries.insert("parameters", Value::Array(item.params.iter().map(param).collect()));
        }
        for op in &item.operations {
            let mut o = Map::new();
            o.insert("description".into(), json!(op.description));
            o.insert("operationId".into(), json!(op.id));
            if !op.params.is_empty() {
                o.insert("parameters".into(), Value::Array(op.params.iter().map(param).collect()));
            }
            match &op.body {
                Body::None => {}
                Body::Object(def) => {
                    o.insert("requestBody".into(), json!({"content": {"*/*": {"schema": reference(def)}}, "required": true}));
                }
                Body::Delete => {
                    o.insert("requestBody".into(), json!({"content": {"*/*": {"schema": reference(DELETE_OPTIONS)}}}));
                }
                Body::Patch => {
                    let content: Map<String, Value> =
                        patch_types(item.custom).into_iter().map(|t| (t.to_string(), json!({"schema": reference(PATCH)}))).collect();
                    o.insert("requestBody".into(), json!({"content": content, "required": true}));
                }
            }
            let mut responses = Map::new();
            for (code, description, def) in &op.responses {
                let content: Map<String, Value> = produces(item.custom, op.streams)
                    .into_iter()
                    .map(|t| (t.to_string(), json!({"schema": reference(def)})))
                    .collect();
                responses.insert((*code).into(), json!({"content": content, "description": description}));
            }
            responses.insert("401".into(), json!({"description": "Unauthorized"}));
            o.insert("responses".into(), Value::Object(responses));
            o.insert("tags".into(), json!([item.tag]));
            if !op.action.is_empty() {
                o.insert("x-kubernetes-action".into(), json!(op.action));
                o.insert("x-kubernetes-group-version-kind".into(), operation_gvk(&op.gvk));
            }
            entries.insert(op.method, Value::Object(o));
        }
        out.insert(path.clone(), Value::Object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    }
    Value::Object(out)
}

/// Renders the paths as Swagger 2.0 path items.
pub(crate) fn render_v2(paths: &Paths) -> Value {
    let param = |p: &Param| {
        let mut m = Map::new();
        m.insert("description".into(), json!(p.description));
        m.insert("in".into(), json!(p.location));
        m.insert("name".into(), json!(p.name));
        if p.location == "path" {
            m.insert("required".into(), json!(true));
        }
        m.insert("type".into(), json!(p.ty.name()));
        m.insert("uniqueItems".into(), json!(true));
        Value::Object(m)
    };
    let v2_ref = |def: &str| json!({"$ref": format!("#/definitions/{def}")});
    let mut out = Map::new();
    for (path, item) in paths {
        let mut entries: BTreeMap<&str, Value> = BTreeMap::new();
        if !item.params.is_empty() {
            entries.insert("parameters", Value::Array(item.params.iter().map(param).collect()));
        }
        for op in &item.operations {
            let mut o = Map::new();
            let consumes = match op.body {
                Body::Patch => patch_types(item.custom),
                _ => vec!["*/*"],
            };
            o.insert("consumes".into(), json!(consumes));
            o.insert("description".into(), json!(op.description));
            o.insert("operationId".into(), json!(op.id));
            let mut params: Vec<Value> = Vec::new();
            match &op.body {
                Body::None => {}
                Body::Object(def) => params.push(json!({"in": "body", "name": "body", "required": true, "schema": v2_ref(def)})),
                Body::Delete => params.push(json!({"in": "body", "name": "body", "schema": v2_ref(DELETE_OPTIONS)})),
                Body::Patch => params.push(json!({"in": "body", "name": "body", "required": true, "schema": v2_ref(PATCH)})),
            }
            params.extend(op.params.iter().map(param));
            if !params.is_empty() {
                o.insert("parameters".into(), Value::Array(params));
            }
            o.insert("produces".into(), json!(produces(item.custom, op.streams)));
            let mut responses = Map::new();
            for (code, description, def) in &op.responses {
                responses.insert((*code).into(), json!({"description": description, "schema": v2_ref(def)}));
            }
            responses.insert("401".into(), json!({"description": "Unauthorized"}));
            o.insert("responses".into(), Value::Object(responses));
            o.insert("schemes".into(), json!(["https"]));
            o.insert("tags".into(), json!([item.tag]));
            if !op.action.is_empty() {
                o.insert("x-kubernetes-action".into(), json!(op.action));
                o.insert("x-kubernetes-group-version-kind".into(), operation_gvk(&op.gvk));
            }
            entries.insert(op.method, Value::Object(o));
        }
        out.insert(path.clone(), Value::Object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_in_operation_ids_and_tags_follow_kubernetes() {
        assert_eq!(group_name(""), "Core");
        assert_eq!(group_name("apps"), "Apps");
        assert_eq!(group_name("rbac.authorization.k8s.io"), "RbacAuthorization");
        assert_eq!(group_name("apiextensions.k8s.io"), "Apiextensions");
        assert_eq!(group_name("stable.example.com"), "StableExampleCom");
        assert_eq!(tag("rbac.authorization.k8s.io", "v1"), "rbacAuthorization_v1");
        assert_eq!(tag("", "v1"), "core_v1");
    }
}
