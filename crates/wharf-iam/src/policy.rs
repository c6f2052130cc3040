//! IAM policy documents and their evaluation: Effect, Action/NotAction,
//! Resource/NotResource with `*`/`?` wildcards, Principal/NotPrincipal (trust policies),
//! and Condition blocks with the String, Arn, Numeric, Date, Bool, IpAddress and Null
//! operators, `...IfExists` and the `ForAnyValue:`/`ForAllValues:` set qualifiers.
//! An explicit Deny wins over any Allow; nothing allowed is denied.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value;
use wharf_aws::Decision;

/// A policy document is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedPolicy(pub String);

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Effect": "Allow"`
    Allow,
    /// `"Effect": "Deny"`
    Deny,
}

/// A list of patterns, or the negation of one (`NotAction`, `NotResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    /// Matches when any pattern matches.
    Is(Vec<String>),
    /// Matches when no pattern matches.
    Not(Vec<String>),
}

/// `Principal` / `NotPrincipal` of a resource or trust policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principals {
    /// `"*"` or `{"AWS": "*"}`.
    pub any: bool,
    /// `AWS` entries: ARNs or account ids.
    pub aws: Vec<String>,
    /// `Service` entries (`eks.amazonaws.com`).
    pub service: Vec<String>,
    /// `Federated` entries (OIDC provider ARNs).
    pub federated: Vec<String>,
}

/// Set qualifier of a condition on a multi-valued key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// Single-valued key.
    None,
    /// `ForAnyValue:`
    ForAnyValue,
    /// `ForAllValues:`
    ForAllValues,
}

/// One `operator: {key: values}` entry of a Condition block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The base operator (`StringLike`), without qualifier or `IfExists`.
    pub operator: String,
    /// `...IfExists`.
    pub if_exists: bool,
    /// `ForAnyValue:` / `ForAllValues:`.
    pub set: SetQualifier,
    /// The condition key (`aws:SourceIp`).
    pub key: String,
    /// The policy's values.
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action` / `NotAction` (absent only in malformed identity policies).
    pub action: Option<Patterns>,
    /// `Resource` / `NotResource` (absent in trust policies).
    pub resource: Option<Patterns>,
    /// `Principal` (`not == false`) or `NotPrincipal` (`not == true`).
    pub principal: Option<(bool, Principals)>,
    /// `Condition` entries, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The statements.
    pub statements: Vec<Statement>,
}

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "Null",
];

fn strings(v: &Value, what: &str) -> Result<Vec<String>, MalformedPolicy> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(MalformedPolicy(format!("Syntax errors in policy: {what} must be a string or a list of strings"))),
    };
    match v {
        Value::Array(a) => a.iter().map(scalar).collect(),
        v => Ok(vec![scalar(v)?]),
    }
}

fn patterns(stmt: &serde_json::Map<String, Value>, is: &str, not: &str) -> Result<Option<Patterns>, MalformedPolicy> {
    match (stmt.get(is), stmt.get(not)) {
        (Some(_), Some(_)) => Err(MalformedPolicy(format!("Syntax errors in policy: {is} and {not} are exclusive"))),
        (Some(v), None) => Ok(Some(Patterns::Is(strings(v, is)?))),
        (None, Some(v)) => Ok(Some(Patterns::Not(strings(v, not)?))),
        (None, None) => Ok(None),
    }
}

fn principals(v: &Value) -> Result<Principals, MalformedPolicy> {
    let mut p = Principals::default();
    match v {
        Value::String(s) if s == "*" => p.any = true,
        Value::Object(m) => {
            for (k, v) in m {
                let vals = strings(v, "Principal")?;
                match k.as_str() {
                    "AWS" => {
                        if vals.iter().any(|v| v == "*") {
                            p.any = true;
                        }
                        p.aws.extend(vals);
                    }
                    "Service" => p.service.extend(vals),
                    "Federated" => p.federated.extend(vals),
                    "CanonicalUser" => {}
                    other => return Err(MalformedPolicy(format!("Invalid principal in policy: \"{other}\""))),
                }
            }
        }
        _ => return Err(MalformedPolicy("Invalid principal in policy".into())),
    }
    Ok(p)
}

fn conditions(v: &Value) -> Result<Vec<Condition>, MalformedPolicy> {
    let Value::Object(ops) = v else {
        return Err(MalformedPolicy("Syntax errors in policy: Condition must be an object".into()));
    };
    let mut out = Vec::new();
    for (op, keys) in ops {
        let (set, rest) = if let Some(r) = op.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = op.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else {
            (SetQualifier::None, op.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) if b != "Null" => (b, true),
            _ => (rest, false),
        };
        if !OPERATORS.contains(&base) {
            return Err(MalformedPolicy(format!("Invalid Condition type : {op}")));
        }
        let Value::Object(keys) = keys else {
            return Err(MalformedPolicy(format!("Syntax errors in policy: Condition {op} must be an object")));
        };
        for (key, vals) in keys {
            out.push(Condition {
                operator: base.to_string(),
                if_exists,
                set,
                key: key.clone(),
                values: strings(vals, "Condition value")?,
            });
        }
    }
    Ok(out)
}

impl PolicyDocument {
    /// Parses a policy document. `identity` policies need Action and Resource in every
    /// statement and no Principal; trust (resource) policies need a Principal.
    pub fn parse(text: &str, identity: bool) -> Result<Self, MalformedPolicy> {
        let v: Value = serde_json::from_str(text).map_err(|e| MalformedPolicy(format!("Syntax errors in policy: {e}")))?;
        let Value::Object(doc) = &v else {
            return Err(MalformedPolicy("Syntax errors in policy: the document must be a JSON object".into()));
        };
        if let Some(ver) = doc.get("Version") {
            if ver != "2012-10-17" && ver != "2008-10-17" {
                return Err(MalformedPolicy("The policy failed legacy parsing".into()));
            }
        }
        let stmts: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(s @ Value::Object(_)) => vec![s],
            _ => return Err(MalformedPolicy("Syntax errors in policy: Statement is missing".into())),
        };
        let mut statements = Vec::new();
        for s in stmts {
            let Value::Object(m) = s else {
                return Err(MalformedPolicy("Syntax errors in policy: each Statement must be an object".into()));
            };
            let effect = match m.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err(MalformedPolicy("Syntax errors in policy: Effect must be Allow or Deny".into())),
            };
            let action = patterns(m, "Action", "NotAction")?;
            let resource = patterns(m, "Resource", "NotResource")?;
            let principal = match (m.get("Principal"), m.get("NotPrincipal")) {
                (Some(p), None) => Some((false, principals(p)?)),
                (None, Some(p)) => Some((true, principals(p)?)),
                (None, None) => None,
                _ => return Err(MalformedPolicy("Syntax errors in policy: Principal and NotPrincipal are exclusive".into())),
            };
            if action.is_none() {
                return Err(MalformedPolicy("Policy statement must contain actions.".into()));
            }
            if identity {
                if principal.is_some() {
                    return Err(MalformedPolicy("Policy document should not specify a principal.".into()));
                }
                if resource.is_none() {
                    return Err(MalformedPolicy("Policy statement must contain resources.".into()));
                }
            } else if principal.is_none() {
                return Err(MalformedPolicy("Missing required field Principal".into()));
            }
            let conditions = match m.get("Condition") {
                Some(c) => conditions(c)?,
                None => Vec::new(),
            };
            statements.push(Statement {
                sid: m.get("Sid").and_then(Value::as_str).map(str::to_string),
                effect,
                action,
                resource,
                principal,
                conditions,
            });
        }
        Ok(Self { statements })
    }
}

/// `*` and `?` wildcard match; `fold` compares case-insensitively.
pub fn glob_match(pattern: &str, text: &str, fold: bool) -> bool {
    let p: Vec<char> = if fold { pattern.to_lowercase().chars().collect() } else { pattern.chars().collect() };
    let t: Vec<char> = if fold { text.to_lowercase().chars().collect() } else { text.chars().collect() };
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn patterns_match(p: &Patterns, value: &str, fold: bool) -> bool {
    match p {
        Patterns::Is(v) => v.iter().any(|pat| glob_match(pat, value, fold)),
        Patterns::Not(v) => !v.iter().any(|pat| glob_match(pat, value, fold)),
    }
}

/// The request context condition keys are read from: lowercase key → values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context(HashMap<String, Vec<String>>);

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.0.insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }
    /// Sets a multi-valued key.
    pub fn set_all(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.0.insert(key.to_ascii_lowercase(), values);
        self
    }
    /// The values of a key.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.0.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

fn parse_time(s: &str) -> Option<i64> {
    wharf_aws::time::parse_iso8601(s)
        .or_else(|| {
            // a date alone
            if s.len() == 10 {
                wharf_aws::time::parse_iso8601(&format!("{s}T00:00:00Z"))
            } else {
                None
            }
        })
        .or_else(|| s.parse::<i64>().ok())
}

fn cidr_contains(cidr: &str, ip: &str) -> bool {
    let Ok(ip) = ip.parse::<IpAddr>() else { return false };
    let (net, len) = match cidr.split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr, None),
    };
    match (net.parse::<IpAddr>(), ip) {
        (Ok(IpAddr::V4(n)), IpAddr::V4(i)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (Ok(IpAddr::V6(n)), IpAddr::V6(i)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Whether the operator is a negated one (true when the key is absent).
fn negated(op: &str) -> bool {
    matches!(
        op,
        "StringNotEquals" | "StringNotEqualsIgnoreCase" | "StringNotLike" | "ArnNotEquals" | "ArnNotLike" | "NotIpAddress"
    )
}

/// The positive form of an operator: does one context value match one policy value.
fn value_matches(op: &str, policy: &str, actual: &str) -> bool {
    let num = |s: &str| s.parse::<f64>().ok();
    match op {
        "StringEquals" | "StringNotEquals" | "ArnEquals" | "ArnNotEquals" => policy == actual,
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => policy.eq_ignore_ascii_case(actual),
        "StringLike" | "StringNotLike" | "ArnLike" | "ArnNotLike" => glob_match(policy, actual, false),
        "Bool" => policy.eq_ignore_ascii_case(actual),
        "IpAddress" | "NotIpAddress" => cidr_contains(policy, actual),
        o if o.starts_with("Numeric") => match (num(actual), num(policy)) {
            (Some(a), Some(p)) => match o {
                "NumericEquals" => a == p,
                "NumericNotEquals" => a != p,
                "NumericLessThan" => a < p,
                "NumericLessThanEquals" => a <= p,
                "NumericGreaterThan" => a > p,
                "NumericGreaterThanEquals" => a >= p,
                _ => false,
            },
            _ => false,
        },
        o if o.starts_with("Date") => match (parse_time(actual), parse_time(policy)) {
            (Some(a), Some(p)) => match o {
                "DateEquals" => a == p,
                "DateNotEquals" => a != p,
                "DateLessThan" => a < p,
                "DateLessThanEquals" => a <= p,
                "DateGreaterThan" => a > p,
                "DateGreaterThanEquals" => a >= p,
                _ => false,
            },
            _ => false,
        },
        _ => false,
    }
}

/// Whether one condition entry holds in `ctx`.
pub fn condition_holds(c: &Condition, ctx: &Context) -> bool {
    let actual = ctx.get(&c.key);
    if c.operator == "Null" {
        let want_absent = c.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        let absent = actual.is_none_or(|v| v.is_empty());
        return want_absent == absent;
    }
    let Some(actual) = actual.filter(|v| !v.is_empty()) else {
        return c.if_exists || negated(&c.operator) || c.set == SetQualifier::ForAllValues;
    };
    let neg = negated(&c.operator);
    let one = |a: &str| {
        let m = c.values.iter().any(|p| value_matches(&c.operator, p, a));
        if neg {
            !m
        } else {
            m
        }
    };
    match c.set {
        SetQualifier::ForAllValues => actual.iter().all(|a| one(a)),
        SetQualifier::ForAnyValue => actual.iter().any(|a| one(a)),
        SetQualifier::None if neg => actual.iter().all(|a| one(a)),
        SetQualifier::None => actual.iter().any(|a| one(a)),
    }
}

/// What is being asked: an action on a resource, with a context.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `service:Operation`.
    pub action: &'a str,
    /// The resource ARN (or `*`).
    pub resource: &'a str,
    /// Condition keys.
    pub context: &'a Context,
}

fn statement_applies(s: &Statement, req: &Request<'_>) -> bool {
    s.action.as_ref().is_some_and(|a| patterns_match(a, req.action, true))
        && s.resource.as_ref().is_none_or(|r| patterns_match(r, req.resource, false))
        && s.conditions.iter().all(|c| condition_holds(c, req.context))
}

/// Evaluates identity policies: explicit Deny wins, then any Allow, else implicit deny.
pub fn evaluate<'a>(policies: impl IntoIterator<Item = &'a PolicyDocument>, req: &Request<'_>) -> Decision {
    let mut allowed = false;
    for doc in policies {
        for s in &doc.statements {
            if statement_applies(s, req) {
                match s.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Who is asking, as trust policies name principals.
#[derive(Debug, Clone, Default)]
pub struct PrincipalFacts {
    /// The caller's account.
    pub account: String,
    /// ARNs that name the caller: its own ARN and, for a role session, the role's ARN.
    pub arns: Vec<String>,
    /// A service principal (`eks.amazonaws.com`).
    pub service: Option<String>,
    /// A federated principal (OIDC provider ARN).
    pub federated: Option<String>,
}

/// How a trust policy's Principal matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// Not named.
    No,
    /// Named through its account (`arn:aws:iam::ACCOUNT:root`, the account id or `*`):
    /// the caller's identity policy must allow the call too.
    Account,
    /// Named by its own ARN, service or provider.
    Specific,
}

fn principal_match(p: &Principals, who: &PrincipalFacts) -> PrincipalMatch {
    let specific = p.aws.iter().any(|a| who.arns.iter().any(|w| w == a))
        || who.service.as_ref().is_some_and(|s| p.service.contains(s))
        || who.federated.as_ref().is_some_and(|f| p.federated.contains(f));
    if specific {
        return PrincipalMatch::Specific;
    }
    let root = format!("arn:aws:iam::{}:root", who.account);
    if p.any || p.aws.iter().any(|a| *a == who.account || *a == root) {
        return PrincipalMatch::Account;
    }
    PrincipalMatch::No
}

/// Evaluates a trust (resource) policy for `who` doing `action`: the decision and, when
/// allowed, how specifically the principal was named.
pub fn evaluate_trust(doc: &PolicyDocument, who: &PrincipalFacts, action: &str, ctx: &Context) -> (Decision, PrincipalMatch) {
    let req = Request { action, resource: "*", context: ctx };
    let mut best = PrincipalMatch::No;
    for s in &doc.statements {
        let Some((not, p)) = &s.principal else { continue };
        let m = principal_match(p, who);
        let named = if *not { m == PrincipalMatch::No } else { m != PrincipalMatch::No };
        if !named || !statement_applies(s, &req) {
            continue;
        }
        match s.effect {
            Effect::Deny => return (Decision::ExplicitDeny, PrincipalMatch::No),
            Effect::Allow => best = best.max(if *not { PrincipalMatch::Account } else { m }),
        }
    }
    if best == PrincipalMatch::No {
        (Decision::ImplicitDeny, best)
    } else {
        (Decision::Allow, best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> PolicyDocument {
        PolicyDocument::parse(s, true).unwrap()
    }

    fn eval(d: &[&PolicyDocument], action: &str, resource: &str, ctx: &Context) -> Decision {
        evaluate(d.iter().copied(), &Request { action, resource, context: ctx })
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(glob_match("ecr:Describe*", "ecr:DescribeRepositories", false));
        assert!(glob_match("arn:aws:ecr:*:123:repository/app-?", "arn:aws:ecr:us-east-1:123:repository/app-1", false));
        assert!(!glob_match("arn:aws:ecr:*:123:repository/app-?", "arn:aws:ecr:us-east-1:123:repository/app-12", false));
        assert!(glob_match("*", "", false));
        assert!(glob_match("IAM:get*", "iam:GetUser", true));
        assert!(!glob_match("a*b", "acbd", false));
    }

    #[test]
    fn explicit_deny_wins_and_nothing_is_allowed_by_default() {
        let ctx = Context::new();
        let allow = doc(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ecr:*"],"Resource":"*"}}"#);
        let deny = doc(r#"{"Statement":[{"Effect":"Deny","Action":"ecr:DeleteRepository","Resource":"arn:aws:ecr:*:*:repository/prod*"}]}"#);
        assert_eq!(eval(&[], "ecr:ListImages", "*", &ctx), Decision::ImplicitDeny);
        assert_eq!(eval(&[&allow], "ecr:ListImages", "x", &ctx), Decision::Allow);
        assert_eq!(eval(&[&allow], "iam:ListUsers", "x", &ctx), Decision::ImplicitDeny);
        assert_eq!(eval(&[&allow, &deny], "ecr:DeleteRepository", "arn:aws:ecr:us-east-1:1:repository/prod-a", &ctx), Decision::ExplicitDeny);
        assert_eq!(eval(&[&allow, &deny], "ecr:DeleteRepository", "arn:aws:ecr:us-east-1:1:repository/dev", &ctx), Decision::Allow);
    }

    #[test]
    fn not_action_and_not_resource_invert_the_match() {
        let ctx = Context::new();
        let d = doc(r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::ok/*"}]}"#);
        assert_eq!(eval(&[&d], "ecr:ListImages", "*", &ctx), Decision::Allow);
        assert_eq!(eval(&[&d], "iam:CreateUser", "*", &ctx), Decision::ImplicitDeny);
        assert_eq!(eval(&[&d], "s3:GetObject", "arn:aws:s3:::ok/a", &ctx), Decision::Allow);
        assert_eq!(eval(&[&d], "s3:GetObject", "arn:aws:s3:::no/a", &ctx), Decision::ExplicitDeny);
    }

    #[test]
    fn conditions_use_operators_qualifiers_and_if_exists() {
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
                "StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]},
                "IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
                "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
                "BoolIfExists":{"aws:MultiFactorAuthPresent":"true"},
                "ForAllValues:StringLike":{"aws:TagKeys":["team-*"]}}}]}"#,
        );
        let mut ctx = Context::new();
        ctx.set("aws:RequestedRegion", "us-east-1").set("aws:SourceIp", "10.1.2.3").set("aws:CurrentTime", "2026-01-01T00:00:00Z");
        assert_eq!(eval(&[&d], "ecr:X", "*", &ctx), Decision::Allow);
        ctx.set_all("aws:TagKeys", vec!["team-a".into(), "owner".into()]);
        assert_eq!(eval(&[&d], "ecr:X", "*", &ctx), Decision::ImplicitDeny);
        ctx.set_all("aws:TagKeys", vec!["team-a".into()]);
        ctx.set("aws:SourceIp", "192.168.0.1");
        assert_eq!(eval(&[&d], "ecr:X", "*", &ctx), Decision::ImplicitDeny);
        ctx.set("aws:SourceIp", "10.0.0.1").set("aws:MultiFactorAuthPresent", "false");
        assert_eq!(eval(&[&d], "ecr:X", "*", &ctx), Decision::ImplicitDeny);
        let n = doc(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"},"StringNotEquals":{"aws:username":"bob"}}}}"#);
        assert_eq!(eval(&[&n], "a:b", "*", &Context::new()), Decision::ExplicitDeny);
        let mut bob = Context::new();
        bob.set("aws:username", "bob");
        assert_eq!(eval(&[&n], "a:b", "*", &bob), Decision::ImplicitDeny);
    }

    #[test]
    fn malformed_documents_are_rejected_with_reasons() {
        for bad in [
            "not json",
            "[]",
            r#"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSorta":{"a":"b"}}}]}"#,
            r#"{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ] {
            assert!(PolicyDocument::parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn trust_policies_name_principals_by_arn_account_or_service() {
        let t = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"},
              {"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole"},
              {"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            false,
        )
        .unwrap();
        let ctx = Context::new();
        let alice = PrincipalFacts { account: "111122223333".into(), arns: vec!["arn:aws:iam::111122223333:user/alice".into()], ..Default::default() };
        assert_eq!(evaluate_trust(&t, &alice, "sts:AssumeRole", &ctx), (Decision::Allow, PrincipalMatch::Specific));
        let bob = PrincipalFacts { account: "111122223333".into(), arns: vec!["arn:aws:iam::111122223333:user/bob".into()], ..Default::default() };
        assert_eq!(evaluate_trust(&t, &bob, "sts:AssumeRole", &ctx).0, Decision::ImplicitDeny);
        let other = PrincipalFacts { account: "444455556666".into(), arns: vec!["arn:aws:iam::444455556666:user/x".into()], ..Default::default() };
        assert_eq!(evaluate_trust(&t, &other, "sts:AssumeRole", &ctx), (Decision::Allow, PrincipalMatch::Account));
        let eks = PrincipalFacts { service: Some("eks.amazonaws.com".into()), ..Default::default() };
        assert_eq!(evaluate_trust(&t, &eks, "sts:AssumeRole", &ctx).0, Decision::Allow);
        assert_eq!(evaluate_trust(&t, &alice, "sts:TagSession", &ctx).0, Decision::ImplicitDeny);
    }
}

#[cfg(test)]
mod fuzz {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    const SEED: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":["ecr:*","s3:Get?"],"NotResource":"arn:aws:s3:::x/*","Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1/128"]},"NumericLessThan":{"k":5},"Null":{"n":true}}},{"Effect":"Deny","Principal":{"AWS":["*","123456789012"],"Service":"eks.amazonaws.com"},"NotAction":"iam:*","Resource":"*"}]}"#;

    #[test]
    fn policy_parsing_and_evaluation_never_panic_on_mutated_documents() {
        let mut rng = StdRng::seed_from_u64(3);
        let alphabet = br#"{}[]":,*?/ 0123456789abcAllowDenyActionResourceCondition"#;
        let mut ctx = Context::new();
        ctx.set("aws:SourceIp", "10.1.1.1").set("k", "4").set_all("aws:TagKeys", vec!["ab".into(), "x".into()]);
        let who = PrincipalFacts { account: "123456789012".into(), arns: vec!["arn:aws:iam::123456789012:user/u".into()], ..Default::default() };
        for _ in 0..20_000 {
            let mut b = SEED.as_bytes().to_vec();
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(0..b.len());
                match rng.gen_range(0..3) {
                    0 => {
                        b.remove(i);
                    }
                    1 => b.insert(i, alphabet[rng.gen_range(0..alphabet.len())]),
                    _ => b[i] = alphabet[rng.gen_range(0..alphabet.len())],
                }
            }
            let text = String::from_utf8_lossy(&b);
            for identity in [true, false] {
                if let Ok(d) = PolicyDocument::parse(&text, identity) {
                    let _ = evaluate([&d], &Request { action: "ecr:GetX", resource: "arn:aws:s3:::y/z", context: &ctx });
                    let _ = evaluate_trust(&d, &who, "sts:AssumeRole", &ctx);
                }
            }
        }
    }
}
