//! The `Logs_20140328` JSON API (awsJson1_1) on the front door: decoding inputs,
//! authorizing each call on its log-group or log-stream ARN, and shaping outputs.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use serde_json::{json, Map, Value};
use wharf_aws::{AwsError, Input, Output, Protocol, RequestContext, Service};

use super::{FilterQuery, GetQuery, InputEvent, LogGroup, Logs, LogsError};

const OPERATIONS: &[&str] = &[
    "CreateLogGroup",
    "DescribeLogGroups",
    "DeleteLogGroup",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "CreateLogStream",
    "DescribeLogStreams",
    "DeleteLogStream",
    "PutLogEvents",
    "GetLogEvents",
    "FilterLogEvents",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TagLogGroup",
    "UntagLogGroup",
    "ListTagsLogGroup",
];

/// CloudWatch Logs on the front door.
#[derive(Debug, Clone)]
pub struct LogsService {
    logs: Arc<Logs>,
}

impl LogsService {
    /// Serves `logs`.
    pub fn new(logs: Arc<Logs>) -> Self {
        Self { logs }
    }
}

fn invalid(m: impl Into<String>) -> AwsError {
    AwsError::bad_request("InvalidParameterException", m)
}

fn req_str<'a>(v: &'a Value, k: &str) -> Result<&'a str, AwsError> {
    match v.get(k) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(format!("{k} must be a string"))),
        None => Err(AwsError::bad_request(
            "InvalidParameterException",
            format!("1 validation error detected: Value null at '{k}' failed to satisfy constraint: Member must not be null"),
        )),
    }
}

fn opt_str<'a>(v: &'a Value, k: &str) -> Result<Option<&'a str>, AwsError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{k} must be a string"))),
    }
}

fn opt_i64(v: &Value, k: &str) -> Result<Option<i64>, AwsError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n.as_i64().map(Some).ok_or_else(|| invalid(format!("{k} must be an integer"))),
    }
}

fn opt_bool(v: &Value, k: &str) -> Result<Option<bool>, AwsError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!("{k} must be a boolean"))),
    }
}

fn limit(v: &Value, max: i64) -> Result<Option<usize>, AwsError> {
    match opt_i64(v, "limit")? {
        None => Ok(None),
        Some(n) if (1..=max).contains(&n) => Ok(Some(n as usize)),
        Some(n) => Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

fn tags_map(v: Option<&Value>) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = v.as_str().ok_or_else(|| invalid("tag values must be strings"))?;
                if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
                    return Err(invalid(format!("invalid tag {k:?}")));
                }
                out.insert(k.clone(), v.to_string());
            }
        }
        Some(_) => return Err(invalid("tags must be a map")),
    }
    Ok(out)
}

fn str_list(v: &Value, k: &str) -> Result<Option<Vec<String>>, AwsError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(String::from).ok_or_else(|| invalid(format!("{k} must hold strings")))).collect::<Result<_, _>>().map(Some),
        Some(_) => Err(invalid(format!("{k} must be a list"))),
    }
}

/// The log group named by `logGroupName` or `logGroupIdentifier` (a name or an ARN).
fn group_name(v: &Value) -> Result<String, AwsError> {
    if let Some(n) = opt_str(v, "logGroupName")? {
        return Ok(n.to_string());
    }
    match opt_str(v, "logGroupIdentifier")? {
        Some(id) if id.starts_with("arn:") => name_from_arn(id).ok_or_else(|| invalid(format!("invalid log group ARN {id}"))),
        Some(id) => Ok(id.to_string()),
        None => Err(invalid("Should provide either logGroupName or logGroupIdentifier")),
    }
}

/// `arn:aws:logs:R:A:log-group:NAME[:*]` → NAME.
fn name_from_arn(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "logs" {
        return None;
    }
    let rest = parts[5].strip_prefix("log-group:")?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then(|| name.to_string())
}

fn group_res(ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:logs:{}:{}:log-group:{name}:*", ctx.region, ctx.caller.account)
}

fn stream_res(ctx: &RequestContext, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{}:{}:log-group:{group}:log-stream:{stream}", ctx.region, ctx.caller.account)
}

fn page_token(n: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o{n}"))
}

fn parse_page_token(v: &Value) -> Result<usize, AwsError> {
    match opt_str(v, "nextToken")? {
        None => Ok(0),
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix('o').and_then(|n| n.parse().ok()))
            .ok_or_else(|| invalid("The specified nextToken is invalid.")),
    }
}

impl LogsService {
    fn group_json(&self, ctx: &RequestContext, g: &LogGroup, stored_bytes: u64) -> Value {
        let arn = format!("arn:aws:logs:{}:{}:log-group:{}", ctx.region, ctx.caller.account, g.name);
        let mut m = Map::new();
        m.insert("logGroupName".into(), json!(g.name));
        m.insert("creationTime".into(), json!(g.creation_time));
        if let Some(d) = g.retention_in_days {
            m.insert("retentionInDays".into(), json!(d));
        }
        m.insert("metricFilterCount".into(), json!(0));
        m.insert("arn".into(), json!(format!("{arn}:*")));
        m.insert("storedBytes".into(), json!(stored_bytes));
        if let Some(k) = &g.kms_key_id {
            m.insert("kmsKeyId".into(), json!(k));
        }
        m.insert("logGroupClass".into(), json!(g.class));
        m.insert("logGroupArn".into(), json!(arn));
        m.insert("deletionProtectionEnabled".into(), json!(g.deletion_protection));
        Value::Object(m)
    }

    async fn group_bytes(&self, g: &LogGroup) -> Result<u64, AwsError> {
        let mut total = 0;
        for s in self.logs.streams(g, "").await? {
            total += self.logs.stream_stats(g, &s).await?.stored_bytes;
        }
        Ok(total)
    }

    async fn dispatch(&self, ctx: &RequestContext, op: &str, v: Value) -> Result<Value, AwsError> {
        let logs = &self.logs;
        match op {
            "CreateLogGroup" => {
                let name = req_str(&v, "logGroupName")?;
                ctx.authorize("logs:CreateLogGroup", &group_res(ctx, name)).await?;
                let tags = tags_map(v.get("tags"))?;
                if !tags.is_empty() {
                    ctx.authorize("logs:TagResource", &group_res(ctx, name)).await?;
                }
                let g = logs.create_group(name, opt_str(&v, "logGroupClass")?, opt_str(&v, "kmsKeyId")?.map(String::from), tags).await?;
                if opt_bool(&v, "deletionProtectionEnabled")? == Some(true) {
                    logs.update_group(&g.name, |g| {
                        g.deletion_protection = true;
                        Ok(())
                    })
                    .await?;
                }
                Ok(json!({}))
            }
            "DescribeLogGroups" => {
                ctx.authorize("logs:DescribeLogGroups", &format!("arn:aws:logs:{}:{}:log-group:*", ctx.region, ctx.caller.account)).await?;
                let prefix = opt_str(&v, "logGroupNamePrefix")?;
                let pattern = opt_str(&v, "logGroupNamePattern")?;
                if prefix.is_some() && pattern.is_some() {
                    return Err(invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."));
                }
                let lim = limit(&v, 50)?.unwrap_or(50);
                let from = parse_page_token(&v)?;
                let class = opt_str(&v, "logGroupClass")?;
                let ids = str_list(&v, "logGroupIdentifiers")?;
                let mut groups = logs.groups(prefix.unwrap_or("")).await?;
                if let Some(p) = pattern {
                    let p = p.to_lowercase();
                    groups.retain(|g| g.name.to_lowercase().contains(&p));
                }
                if let Some(c) = class {
                    groups.retain(|g| g.class == c);
                }
                if let Some(ids) = ids {
                    let names: Vec<String> = ids.iter().map(|i| name_from_arn(i).unwrap_or_else(|| i.clone())).collect();
                    groups.retain(|g| names.contains(&g.name));
                }
                let total = groups.len();
                let mut out = Vec::new();
                for g in groups.iter().skip(from).take(lim) {
                    let bytes = self.group_bytes(g).await?;
                    out.push(self.group_json(ctx, g, bytes));
                }
                let mut r = json!({ "logGroups": out });
                if from + lim < total {
                    r["nextToken"] = json!(page_token(from + lim));
                }
                Ok(r)
            }
            "DeleteLogGroup" => {
                let name = req_str(&v, "logGroupName")?;
                ctx.authorize("logs:DeleteLogGroup", &group_res(ctx, name)).await?;
                logs.delete_group(name).await?;
                Ok(json!({}))
            }
            "PutRetentionPolicy" => {
                let name = req_str(&v, "logGroupName")?;
                ctx.authorize("logs:PutRetentionPolicy", &group_res(ctx, name)).await?;
                let days = opt_i64(&v, "retentionInDays")?.ok_or_else(|| {
                    invalid("1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null")
                })?;
                logs.set_retention(name, Some(days)).await?;
                Ok(json!({}))
            }
            "DeleteRetentionPolicy" => {
                let name = req_str(&v, "logGroupName")?;
                ctx.authorize("logs:DeleteRetentionPolicy", &group_res(ctx, name)).await?;
                logs.set_retention(name, None).await?;
                Ok(json!({}))
            }
            "CreateLogStream" => {
                let group = req_str(&v, "logGroupName")?;
                let name = req_str(&v, "logStreamName")?;
                ctx.authorize("logs:CreateLogStream", &stream_res(ctx, group, name)).await?;
                logs.create_stream(group, name).await?;
                Ok(json!({}))
            }
            "DescribeLogStreams" => {
                let group = group_name(&v)?;
                ctx.authorize("logs:DescribeLogStreams", &group_res(ctx, &group)).await?;
                let prefix = opt_str(&v, "logStreamNamePrefix")?;
                let order = opt_str(&v, "orderBy")?.unwrap_or("LogStreamName");
                if !["LogStreamName", "LastEventTime"].contains(&order) {
                    return Err(invalid(format!("invalid orderBy {order:?}")));
                }
                if order == "LastEventTime" && prefix.is_some() {
                    return Err(invalid("Cannot order by LastEventTime with a logStreamNamePrefix."));
                }
                let descending = opt_bool(&v, "descending")?.unwrap_or(false);
                let lim = limit(&v, 50)?.unwrap_or(50);
                let from = parse_page_token(&v)?;
                let g = logs.group(&group).await?;
                let mut rows = Vec::new();
                for s in logs.streams(&g, prefix.unwrap_or("")).await? {
                    let st = logs.stream_stats(&g, &s).await?;
                    rows.push((s, st));
                }
                if order == "LastEventTime" {
                    rows.sort_by(|a, b| a.1.last_event.unwrap_or(i64::MIN).cmp(&b.1.last_event.unwrap_or(i64::MIN)).then(a.0.name.cmp(&b.0.name)));
                }
                if descending {
                    rows.reverse();
                }
                let total = rows.len();
                let out: Vec<Value> = rows
                    .iter()
                    .skip(from)
                    .take(lim)
                    .map(|(s, st)| {
                        let mut m = Map::new();
                        m.insert("logStreamName".into(), json!(s.name));
                        m.insert("creationTime".into(), json!(s.creation_time));
                        if let Some(t) = st.first_event {
                            m.insert("firstEventTimestamp".into(), json!(t));
                        }
                        if let Some(t) = st.last_event {
                            m.insert("lastEventTimestamp".into(), json!(t));
                        }
                        if let Some(t) = st.last_ingestion {
                            m.insert("lastIngestionTime".into(), json!(t));
                        }
                        m.insert("arn".into(), json!(format!("arn:aws:logs:{}:{}:log-group:{}:log-stream:{}", ctx.region, ctx.caller.account, g.name, s.name)));
                        m.insert("storedBytes".into(), json!(st.stored_bytes));
                        Value::Object(m)
                    })
                    .collect();
                let mut r = json!({ "logStreams": out });
                if from + lim < total {
                    r["nextToken"] = json!(page_token(from + lim));
                }
                Ok(r)
            }
            "DeleteLogStream" => {
                let group = req_str(&v, "logGroupName")?;
                let name = req_str(&v, "logStreamName")?;
                ctx.authorize("logs:DeleteLogStream", &stream_res(ctx, group, name)).await?;
                logs.delete_stream(group, name).await?;
                Ok(json!({}))
            }
            "PutLogEvents" => {
                let group = req_str(&v, "logGroupName")?;
                let stream = req_str(&v, "logStreamName")?;
                ctx.authorize("logs:PutLogEvents", &stream_res(ctx, group, stream)).await?;
                let raw = v.get("logEvents").and_then(Value::as_array).ok_or_else(|| {
                    invalid("1 validation error detected: Value null at 'logEvents' failed to satisfy constraint: Member must not be null")
                })?;
                let mut events = Vec::with_capacity(raw.len());
                for e in raw {
                    let timestamp = opt_i64(e, "timestamp")?.ok_or_else(|| invalid("every log event needs a timestamp"))?;
                    let message = req_str(e, "message")?.to_string();
                    events.push(InputEvent { timestamp, message });
                }
                let rej = logs.put_log_events(group, stream, events).await?;
                let mut r = json!({ "nextSequenceToken": format!("{:056}", 0) });
                if rej.any() {
                    let mut info = Map::new();
                    if let Some(i) = rej.too_new_start {
                        info.insert("tooNewLogEventStartIndex".into(), json!(i));
                    }
                    if let Some(i) = rej.too_old_end {
                        info.insert("tooOldLogEventEndIndex".into(), json!(i));
                    }
                    if let Some(i) = rej.expired_end {
                        info.insert("expiredLogEventEndIndex".into(), json!(i));
                    }
                    r["rejectedLogEventsInfo"] = Value::Object(info);
                }
                Ok(r)
            }
            "GetLogEvents" => {
                let group = group_name(&v)?;
                let stream = req_str(&v, "logStreamName")?;
                ctx.authorize("logs:GetLogEvents", &stream_res(ctx, &group, stream)).await?;
                let q = GetQuery {
                    start_time: opt_i64(&v, "startTime")?,
                    end_time: opt_i64(&v, "endTime")?,
                    next_token: opt_str(&v, "nextToken")?.map(String::from),
                    limit: limit(&v, 10_000)?,
                    start_from_head: opt_bool(&v, "startFromHead")?.unwrap_or(false),
                };
                let r = logs.get_log_events(&group, stream, q).await?;
                let events: Vec<Value> =
                    r.events.iter().map(|e| json!({ "timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time })).collect();
                Ok(json!({ "events": events, "nextForwardToken": r.next_forward_token, "nextBackwardToken": r.next_backward_token }))
            }
            "FilterLogEvents" => {
                let group = group_name(&v)?;
                ctx.authorize("logs:FilterLogEvents", &group_res(ctx, &group)).await?;
                let q = FilterQuery {
                    stream_names: str_list(&v, "logStreamNames")?,
                    stream_prefix: opt_str(&v, "logStreamNamePrefix")?.map(String::from),
                    start_time: opt_i64(&v, "startTime")?,
                    end_time: opt_i64(&v, "endTime")?,
                    pattern: opt_str(&v, "filterPattern")?.map(String::from),
                    next_token: opt_str(&v, "nextToken")?.map(String::from),
                    limit: limit(&v, 10_000)?,
                    scan_budget: None,
                };
                let r = logs.filter_log_events(&group, q).await?;
                let events: Vec<Value> = r
                    .events
                    .iter()
                    .map(|e| {
                        json!({
                            "logStreamName": e.stream,
                            "timestamp": e.event.timestamp,
                            "message": e.event.message,
                            "ingestionTime": e.event.ingestion_time,
                            "eventId": e.event_id,
                        })
                    })
                    .collect();
                let searched: Vec<Value> = r.searched.iter().map(|s| json!({ "logStreamName": s, "searchedCompletely": true })).collect();
                let mut out = json!({ "events": events, "searchedLogStreams": searched });
                if let Some(t) = r.next_token {
                    out["nextToken"] = json!(t);
                }
                Ok(out)
            }
            "TagResource" | "UntagResource" | "ListTagsForResource" => {
                let arn = req_str(&v, "resourceArn")?;
                let name = name_from_arn(arn).ok_or_else(|| invalid(format!("invalid resourceArn {arn}: only log groups can be tagged")))?;
                ctx.authorize(&format!("logs:{op}"), &group_res(ctx, &name)).await?;
                self.tags(op, &name, &v, "tags", "tagKeys").await
            }
            "TagLogGroup" | "UntagLogGroup" | "ListTagsLogGroup" => {
                let name = req_str(&v, "logGroupName")?;
                ctx.authorize(&format!("logs:{op}"), &group_res(ctx, name)).await?;
                self.tags(op, name, &v, "tags", "tags").await
            }
            _ => Err(AwsError::bad_request("UnknownOperationException", format!("unknown operation {op}"))),
        }
    }

    async fn tags(&self, op: &str, name: &str, v: &Value, add_key: &str, remove_key: &str) -> Result<Value, AwsError> {
        match op {
            "TagResource" | "TagLogGroup" => {
                let add = tags_map(v.get(add_key))?;
                if add.is_empty() {
                    return Err(invalid(format!("{add_key} must not be empty")));
                }
                self.logs
                    .update_group(name, |g| {
                        g.tags.extend(add.clone());
                        if g.tags.len() > 50 {
                            return Err(LogsError::InvalidParameter("a log group can have at most 50 tags".into()));
                        }
                        Ok(())
                    })
                    .await
                    .map_err(|e| match e {
                        LogsError::InvalidParameter(m) => AwsError::bad_request("TooManyTagsException", m),
                        e => e.into(),
                    })?;
                Ok(json!({}))
            }
            "UntagResource" | "UntagLogGroup" => {
                let keys = str_list(v, remove_key)?.ok_or_else(|| invalid(format!("{remove_key} is required")))?;
                self.logs
                    .update_group(name, |g| {
                        for k in &keys {
                            g.tags.remove(k);
                        }
                        Ok(())
                    })
                    .await?;
                Ok(json!({}))
            }
            _ => {
                let g = self.logs.group(name).await?;
                Ok(json!({ "tags": g.tags }))
            }
        }
    }
}

#[async_trait]
impl Service for LogsService {
    fn signing_name(&self) -> &'static str {
        "logs"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json { json_version: "1.1", target_prefix: "Logs_20140328", query_compatible: false }
    }

    fn has_operation(&self, operation: &str) -> bool {
        OPERATIONS.contains(&operation)
    }

    async fn call(&self, ctx: &RequestContext, operation: &str, input: Input) -> Result<Output, AwsError> {
        let Input::Json(v) = input else { return Err(invalid("expected a JSON body")) };
        if !v.is_object() {
            return Err(AwsError::bad_request("SerializationException", "the request body must be a JSON object"));
        }
        self.dispatch(ctx, operation, v).await.map(Output::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use wharf_aws::{Caller, ConditionKeys, Credential, Decision, Identity, PrincipalKind};
    use wharf_store::sqlite::SqliteStore;

    /// Allows the listed actions and records every check.
    struct Recorder {
        allow: Vec<&'static str>,
        seen: Mutex<Vec<(String, String)>>,
    }

    #[async_trait]
    impl Identity for Recorder {
        async fn credential(&self, _: &str) -> Result<Option<Credential>, AwsError> {
            Ok(None)
        }
        async fn authorize(&self, _: &RequestContext, action: &str, resource: &str, _: &ConditionKeys) -> Result<Decision, AwsError> {
            self.seen.lock().unwrap().push((action.into(), resource.into()));
            Ok(if self.allow.contains(&action) { Decision::Allow } else { Decision::ImplicitDeny })
        }
    }

    fn ctx(id: Arc<Recorder>) -> RequestContext {
        RequestContext {
            request_id: "r".into(),
            caller: Caller {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/u".into(),
                user_id: "AIDA".into(),
                access_key_id: None,
                kind: PrincipalKind::User { name: "u".into() },
            },
            region: "us-east-1".into(),
            operation: String::new(),
            source_ip: None,
            identity: id,
            now: 0,
        }
    }

    #[tokio::test]
    async fn every_call_is_authorized_on_the_group_or_stream_arn() {
        let tmp = tempfile::tempdir().unwrap();
        let store: Arc<dyn wharf_store::KvStore> = Arc::new(SqliteStore::open(&tmp.path().join("store")).unwrap());
        let logs = Arc::new(Logs::open(store, super::super::LogsConfig::new(tmp.path().join("logs"), "123456789012", "us-east-1")).unwrap());
        let svc = LogsService::new(logs);
        let id = Arc::new(Recorder { allow: vec!["logs:CreateLogGroup", "logs:CreateLogStream"], seen: Mutex::new(vec![]) });
        let c = ctx(id.clone());
        svc.call(&c, "CreateLogGroup", Input::Json(json!({"logGroupName": "/a/b"}))).await.unwrap();
        svc.call(&c, "CreateLogStream", Input::Json(json!({"logGroupName": "/a/b", "logStreamName": "s1"}))).await.unwrap();
        let err = svc
            .call(&c, "PutLogEvents", Input::Json(json!({"logGroupName": "/a/b", "logStreamName": "s1", "logEvents": [{"timestamp": 1, "message": "m"}]})))
            .await
            .unwrap_err();
        assert_eq!(err.code, "AccessDenied");
        let err = svc.call(&c, "DescribeLogGroups", Input::Json(json!({}))).await.unwrap_err();
        assert_eq!(err.code, "AccessDenied");
        assert_eq!(
            *id.seen.lock().unwrap(),
            [
                ("logs:CreateLogGroup", "arn:aws:logs:us-east-1:123456789012:log-group:/a/b:*"),
                ("logs:CreateLogStream", "arn:aws:logs:us-east-1:123456789012:log-group:/a/b:log-stream:s1"),
                ("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/a/b:log-stream:s1"),
                ("logs:DescribeLogGroups", "arn:aws:logs:us-east-1:123456789012:log-group:*"),
            ]
            .map(|(a, r)| (a.to_string(), r.to_string()))
        );
    }

    #[tokio::test]
    async fn rejected_events_and_tags_take_the_wire_shapes_of_cloudwatch() {
        let tmp = tempfile::tempdir().unwrap();
        let store: Arc<dyn wharf_store::KvStore> = Arc::new(SqliteStore::open(&tmp.path().join("store")).unwrap());
        let logs = Arc::new(Logs::open(store, super::super::LogsConfig::new(tmp.path().join("logs"), "123456789012", "us-east-1")).unwrap());
        let svc = LogsService::new(logs);
        let c = ctx(Arc::new(Recorder { allow: OPERATIONS.iter().map(|o| &*Box::leak(format!("logs:{o}").into_boxed_str())).collect(), seen: Mutex::new(vec![]) }));
        let call = |op: &'static str, v: Value| {
            let (svc, c) = (svc.clone(), c.clone());
            async move {
                match svc.call(&c, op, Input::Json(v)).await {
                    Ok(Output::Json(v)) => Ok(v),
                    Ok(_) => panic!("not json"),
                    Err(e) => Err(e),
                }
            }
        };
        call("CreateLogGroup", json!({"logGroupName": "g", "tags": {"a": "1"}})).await.unwrap();
        call("CreateLogStream", json!({"logGroupName": "g", "logStreamName": "s"})).await.unwrap();
        let now = super::super::now_ms();
        let r = call(
            "PutLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s", "sequenceToken": "ignored", "logEvents": [
                {"timestamp": now - 15 * 86_400_000i64, "message": "old"}, {"timestamp": now, "message": "ok"}, {"timestamp": now + 3 * 3_600_000i64, "message": "new"}]}),
        )
        .await
        .unwrap();
        assert_eq!(r["rejectedLogEventsInfo"], json!({"tooNewLogEventStartIndex": 2, "tooOldLogEventEndIndex": 1}));
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:g";
        call("TagResource", json!({"resourceArn": arn, "tags": {"b": "2"}})).await.unwrap();
        call("UntagResource", json!({"resourceArn": arn, "tagKeys": ["a"]})).await.unwrap();
        assert_eq!(call("ListTagsForResource", json!({"resourceArn": format!("{arn}:*")})).await.unwrap(), json!({"tags": {"b": "2"}}));
        let err = call("PutRetentionPolicy", json!({"logGroupName": "g", "retentionInDays": 2})).await.unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
        let err = call("GetLogEvents", json!({"logGroupName": "g", "logStreamName": "nope"})).await.unwrap_err();
        assert_eq!(err.code, "ResourceNotFoundException");
        let err = call("DescribeLogStreams", json!({"logGroupName": "g", "orderBy": "LastEventTime", "logStreamNamePrefix": "s"})).await.unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
        // DescribeLogGroups pages with a token.
        for i in 0..3 {
            call("CreateLogGroup", json!({"logGroupName": format!("p{i}")})).await.unwrap();
        }
        let a = call("DescribeLogGroups", json!({"logGroupNamePrefix": "p", "limit": 2})).await.unwrap();
        assert_eq!(a["logGroups"].as_array().unwrap().len(), 2);
        let b = call("DescribeLogGroups", json!({"logGroupNamePrefix": "p", "limit": 2, "nextToken": a["nextToken"]})).await.unwrap();
        assert_eq!(b["logGroups"][0]["logGroupName"], "p2");
        assert!(b.get("nextToken").is_none());
    }
}
