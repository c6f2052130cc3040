//! CloudWatch Logs filter patterns: parsed once per request, matched per event.
//!
//! Three forms, as CloudWatch documents them:
//! - terms: `ERROR Exception` (every term), `"quoted phrase"`, `?ERROR ?WARN` (any of the
//!   `?` terms), `-term` (excluded); matching is case-sensitive and substring-based;
//! - JSON: `{ $.level = "error" }`, `{ $.latency > 100 }`, `{ $.a.b[0] != "x*" }`,
//!   `{ $.ok IS TRUE }`, `{ $.x NOT EXISTS }`, combined with `&&`, `||` and parentheses;
//!   string values may end or start with `*` wildcards;
//! - space-delimited: `[ip, user, ..., status = 404, bytes > 1000]`, fields split on spaces
//!   with `"…"` and `[…]` kept whole, `...` standing for any number of fields.

use serde_json::Value;

/// Why a pattern does not parse (CloudWatch answers `InvalidParameterException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter pattern: {0}")]
pub struct PatternError(pub String);

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// Matches everything (empty pattern).
    All,
    /// Term matching.
    Terms {
        /// Every one must occur.
        required: Vec<String>,
        /// At least one must occur, if any are given.
        optional: Vec<String>,
        /// None may occur.
        excluded: Vec<String>,
    },
    /// A JSON condition.
    Json(JsonExpr),
    /// Space-delimited fields.
    Fields(Vec<Field>),
}

/// A JSON pattern expression.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpr {
    /// Both.
    And(Box<JsonExpr>, Box<JsonExpr>),
    /// Either.
    Or(Box<JsonExpr>, Box<JsonExpr>),
    /// A comparison on a selected value.
    Cmp(Vec<Step>, Cond),
}

/// One step of a `$.a[0].b` selector.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name`
    Key(String),
    /// `[n]`
    Index(usize),
}

/// A condition on a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `OP value`.
    Compare(Op, Literal),
    /// `IS TRUE`.
    IsTrue,
    /// `IS FALSE`.
    IsFalse,
    /// `IS NULL`.
    IsNull,
    /// `NOT EXISTS`.
    NotExists,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal compared against.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number.
    Num(f64),
    /// A string (may hold `*` wildcards).
    Str(String),
}

/// A field of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A named field with an optional condition.
    Named(Option<(Op, Literal)>),
    /// `...`: any number of fields.
    Ellipsis,
}

impl Pattern {
    /// Parses a pattern.
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        let t = s.trim();
        if t.is_empty() || t == "\"\"" {
            return Ok(Pattern::All);
        }
        if t.starts_with('{') {
            let inner = t.strip_prefix('{').and_then(|r| r.strip_suffix('}')).ok_or_else(|| PatternError("a JSON pattern must end with }".into()))?;
            let toks = lex(inner)?;
            let mut p = Parser { toks, i: 0 };
            let e = p.or()?;
            if p.i != p.toks.len() {
                return Err(PatternError(format!("unexpected {:?}", p.toks[p.i])));
            }
            return Ok(Pattern::Json(e));
        }
        if t.starts_with('[') {
            let inner = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')).ok_or_else(|| PatternError("a space-delimited pattern must end with ]".into()))?;
            return parse_fields(inner).map(Pattern::Fields);
        }
        parse_terms(t)
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms { required, optional, excluded } => {
                required.iter().all(|t| message.contains(t.as_str()))
                    && (optional.is_empty() || optional.iter().any(|t| message.contains(t.as_str())))
                    && !excluded.iter().any(|t| message.contains(t.as_str()))
            }
            Pattern::Json(e) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(v) if v.is_object() || v.is_array() => eval(e, &v),
                _ => false,
            },
            Pattern::Fields(fields) => match_fields(fields, &split_fields(message)),
        }
    }
}

fn parse_terms(s: &str) -> Result<Pattern, PatternError> {
    let (mut required, mut optional, mut excluded) = (Vec::new(), Vec::new(), Vec::new());
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let kind = match c {
            '?' => {
                chars.next();
                1
            }
            '-' => {
                chars.next();
                2
            }
            _ => 0,
        };
        let mut term = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            term.push(n);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => term.push(c),
                }
            }
            if !closed {
                return Err(PatternError("unterminated quoted phrase".into()));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                term.push(c);
                chars.next();
            }
        }
        if term.is_empty() {
            continue;
        }
        match kind {
            1 => optional.push(term),
            2 => excluded.push(term),
            _ => required.push(term),
        }
    }
    if required.is_empty() && optional.is_empty() && excluded.is_empty() {
        return Ok(Pattern::All);
    }
    Ok(Pattern::Terms { required, optional, excluded })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Sel(String),
    Op(Op),
    And,
    Or,
    LParen,
    RParen,
    Str(String),
    Word(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, PatternError> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = b[i..(i + 2).min(b.len())].iter().collect();
        match (c, two.as_str()) {
            (_, "&&") => {
                out.push(Tok::And);
                i += 2;
            }
            (_, "||") => {
                out.push(Tok::Or);
                i += 2;
            }
            (_, "!=") => {
                out.push(Tok::Op(Op::Ne));
                i += 2;
            }
            (_, "<=") => {
                out.push(Tok::Op(Op::Le));
                i += 2;
            }
            (_, ">=") => {
                out.push(Tok::Op(Op::Ge));
                i += 2;
            }
            ('=', _) => {
                out.push(Tok::Op(Op::Eq));
                i += 1;
            }
            ('<', _) => {
                out.push(Tok::Op(Op::Lt));
                i += 1;
            }
            ('>', _) => {
                out.push(Tok::Op(Op::Gt));
                i += 1;
            }
            ('(', _) => {
                out.push(Tok::LParen);
                i += 1;
            }
            (')', _) => {
                out.push(Tok::RParen);
                i += 1;
            }
            ('"', _) => {
                let mut v = String::new();
                i += 1;
                let mut closed = false;
                while i < b.len() {
                    match b[i] {
                        '\\' if i + 1 < b.len() => {
                            v.push(b[i + 1]);
                            i += 2;
                        }
                        '"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        c => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                if !closed {
                    return Err(PatternError("unterminated string".into()));
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while i < b.len() && !b[i].is_whitespace() && !"=!<>()&|\"".contains(b[i]) {
                    i += 1;
                }
                if i == start {
                    return Err(PatternError(format!("unexpected character {c:?}")));
                }
                let w: String = b[start..i].iter().collect();
                out.push(if w.starts_with('$') { Tok::Sel(w) } else { Tok::Word(w) });
            }
        }
    }
    Ok(out)
}

fn parse_selector(s: &str) -> Result<Vec<Step>, PatternError> {
    let mut rest = s.strip_prefix('$').ok_or_else(|| PatternError(format!("selector {s:?} must start with $")))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(PatternError(format!("empty key in selector {s:?}")));
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| PatternError(format!("unclosed [ in selector {s:?}")))?;
            let n = r[..end].trim().parse().map_err(|_| PatternError(format!("bad index in selector {s:?}")))?;
            steps.push(Step::Index(n));
            rest = &r[end + 1..];
        } else {
            return Err(PatternError(format!("bad selector {s:?}")));
        }
    }
    Ok(steps)
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn or(&mut self) -> Result<JsonExpr, PatternError> {
        let mut e = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.i += 1;
            e = JsonExpr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<JsonExpr, PatternError> {
        let mut e = self.primary()?;
        while self.peek() == Some(&Tok::And) {
            self.i += 1;
            e = JsonExpr::And(Box::new(e), Box::new(self.primary()?));
        }
        Ok(e)
    }
    fn primary(&mut self) -> Result<JsonExpr, PatternError> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    _ => Err(PatternError("missing )".into())),
                }
            }
            Some(Tok::Sel(s)) => {
                let sel = parse_selector(&s)?;
                let cond = match self.next() {
                    Some(Tok::Op(op)) => Cond::Compare(op, literal(self.next())?),
                    Some(Tok::Word(w)) if w.eq_ignore_ascii_case("IS") => match self.next() {
                        Some(Tok::Word(v)) if v.eq_ignore_ascii_case("TRUE") => Cond::IsTrue,
                        Some(Tok::Word(v)) if v.eq_ignore_ascii_case("FALSE") => Cond::IsFalse,
                        Some(Tok::Word(v)) if v.eq_ignore_ascii_case("NULL") => Cond::IsNull,
                        t => return Err(PatternError(format!("expected TRUE, FALSE or NULL after IS, got {t:?}"))),
                    },
                    Some(Tok::Word(w)) if w.eq_ignore_ascii_case("NOT") => match self.next() {
                        Some(Tok::Word(v)) if v.eq_ignore_ascii_case("EXISTS") => Cond::NotExists,
                        t => return Err(PatternError(format!("expected EXISTS after NOT, got {t:?}"))),
                    },
                    t => return Err(PatternError(format!("expected an operator after {s}, got {t:?}"))),
                };
                Ok(JsonExpr::Cmp(sel, cond))
            }
            t => Err(PatternError(format!("expected a selector or (, got {t:?}"))),
        }
    }
}

fn literal(t: Option<Tok>) -> Result<Literal, PatternError> {
    match t {
        Some(Tok::Str(s)) => Ok(Literal::Str(s)),
        Some(Tok::Word(w)) => Ok(match w.parse::<f64>() {
            Ok(n) => Literal::Num(n),
            Err(_) => Literal::Str(w),
        }),
        t => Err(PatternError(format!("expected a value, got {t:?}"))),
    }
}

fn select<'a>(v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let mut cur = v;
    for s in steps {
        cur = match s {
            Step::Key(k) => cur.get(k.as_str())?,
            Step::Index(n) => cur.get(*n)?,
        };
    }
    Some(cur)
}

/// `*` wildcards anywhere in `pat`.
fn wildcard(pat: &str, s: &str) -> bool {
    if !pat.contains('*') {
        return pat == s;
    }
    let parts: Vec<&str> = pat.split('*').collect();
    let mut rest = s;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else if let Some(at) = rest.find(p) {
            rest = &rest[at + p.len()..];
        } else {
            return false;
        }
    }
    true
}

fn compare_text(op: Op, lit: &Literal, text: &str) -> bool {
    match lit {
        Literal::Num(n) => match text.parse::<f64>() {
            Ok(v) => compare_num(op, v, *n),
            Err(_) => op == Op::Ne,
        },
        Literal::Str(p) => match op {
            Op::Eq => wildcard(p, text),
            Op::Ne => !wildcard(p, text),
            _ => match (text.parse::<f64>(), p.parse::<f64>()) {
                (Ok(a), Ok(b)) => compare_num(op, a, b),
                _ => false,
            },
        },
    }
}

fn compare_num(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

fn eval(e: &JsonExpr, v: &Value) -> bool {
    match e {
        JsonExpr::And(a, b) => eval(a, v) && eval(b, v),
        JsonExpr::Or(a, b) => eval(a, v) || eval(b, v),
        JsonExpr::Cmp(sel, cond) => {
            let got = select(v, sel);
            match cond {
                Cond::NotExists => got.is_none(),
                Cond::IsTrue => got == Some(&Value::Bool(true)),
                Cond::IsFalse => got == Some(&Value::Bool(false)),
                Cond::IsNull => got == Some(&Value::Null),
                Cond::Compare(op, lit) => match got {
                    None | Some(Value::Object(_)) | Some(Value::Array(_)) => false,
                    Some(Value::String(s)) => compare_text(*op, lit, s),
                    Some(Value::Number(n)) => match lit {
                        Literal::Num(want) => n.as_f64().is_some_and(|x| compare_num(*op, x, *want)),
                        Literal::Str(_) => compare_text(*op, lit, &n.to_string()),
                    },
                    Some(Value::Bool(b)) => compare_text(*op, lit, if *b { "true" } else { "false" }),
                    Some(Value::Null) => compare_text(*op, lit, "null"),
                },
            }
        }
    }
}

fn parse_fields(s: &str) -> Result<Vec<Field>, PatternError> {
    let mut out = Vec::new();
    for raw in s.split(',') {
        let f = raw.trim();
        if f.is_empty() {
            return Err(PatternError("empty field in a space-delimited pattern".into()));
        }
        if f == "..." {
            out.push(Field::Ellipsis);
            continue;
        }
        let toks = lex(f)?;
        match toks.as_slice() {
            [Tok::Word(_)] => out.push(Field::Named(None)),
            [Tok::Word(_), Tok::Op(op), v] => out.push(Field::Named(Some((*op, literal(Some(v.clone()))?)))),
            _ => return Err(PatternError(format!("bad field {f:?}"))),
        }
    }
    if out.iter().filter(|f| **f == Field::Ellipsis).count() > 1 {
        return Err(PatternError("at most one ... in a space-delimited pattern".into()));
    }
    Ok(out)
}

/// Splits a message on spaces, keeping `"…"` and `[…]` whole (without their delimiters).
fn split_fields(m: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = m.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' || b[i] == b'\t' {
            i += 1;
            continue;
        }
        let close = match b[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(c) = close {
            if let Some(end) = b[i + 1..].iter().position(|&x| x == c) {
                out.push(&m[i + 1..i + 1 + end]);
                i += end + 2;
                continue;
            }
        }
        let start = i;
        while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
            i += 1;
        }
        out.push(&m[start..i]);
    }
    out
}

fn field_ok(f: &Field, v: &str) -> bool {
    match f {
        Field::Named(Some((op, lit))) => compare_text(*op, lit, v),
        _ => true,
    }
}

fn match_fields(fields: &[Field], values: &[&str]) -> bool {
    match fields.iter().position(|f| *f == Field::Ellipsis) {
        None => fields.len() == values.len() && fields.iter().zip(values).all(|(f, v)| field_ok(f, v)),
        Some(at) => {
            let (head, tail) = (&fields[..at], &fields[at + 1..]);
            values.len() >= head.len() + tail.len()
                && head.iter().zip(values).all(|(f, v)| field_ok(f, v))
                && tail.iter().zip(&values[values.len() - tail.len()..]).all(|(f, v)| field_ok(f, v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        Pattern::parse(p).unwrap().matches(msg)
    }

    #[test]
    fn every_plain_term_must_occur_case_sensitively() {
        assert!(m("ERROR timeout", "12:00 ERROR db timeout after 5s"));
        assert!(!m("ERROR timeout", "12:00 ERROR db refused"));
        assert!(!m("error", "ERROR"));
        assert!(m("", "anything"));
    }

    #[test]
    fn quoted_phrases_match_as_a_whole() {
        assert!(m("\"connection refused\"", "dial: connection refused"));
        assert!(!m("\"connection refused\"", "refused connection"));
    }

    #[test]
    fn question_mark_terms_match_any_and_minus_terms_exclude() {
        assert!(m("?ERROR ?WARN", "WARN low disk"));
        assert!(m("?ERROR ?WARN", "ERROR boom"));
        assert!(!m("?ERROR ?WARN", "INFO fine"));
        assert!(m("ERROR -Exiting", "ERROR retrying"));
        assert!(!m("ERROR -Exiting", "ERROR Exiting now"));
        assert!(m("-DEBUG", "INFO hi"));
    }

    #[test]
    fn json_patterns_compare_strings_numbers_and_combine() {
        let ev = r#"{"level":"error","latency":150,"user":{"id":"u-42","tags":["a","b"]},"ok":false,"n":null}"#;
        assert!(m(r#"{ $.level = "error" }"#, ev));
        assert!(!m(r#"{ $.level = "info" }"#, ev));
        assert!(m("{ $.latency > 100 }", ev));
        assert!(!m("{ $.latency <= 100 }", ev));
        assert!(m(r#"{ $.user.id = "u-*" }"#, ev));
        assert!(m(r#"{ $.user.tags[1] = "b" }"#, ev));
        assert!(m(r#"{ $.level != "info" && $.latency >= 150 }"#, ev));
        assert!(m(r#"{ ($.level = "info" || $.latency > 100) && $.ok IS FALSE }"#, ev));
        assert!(m("{ $.n IS NULL }", ev));
        assert!(m("{ $.missing NOT EXISTS }", ev));
        assert!(!m(r#"{ $.level = "error" }"#, "level=error, not json"));
    }

    #[test]
    fn space_delimited_patterns_match_fields() {
        let line = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326"#;
        assert!(m("[ip, id, user, timestamp, request, status_code = 404, bytes]", line));
        assert!(!m("[ip, id, user, timestamp, request, status_code = 200, bytes]", line));
        assert!(m("[ip, ..., status_code = 4*, bytes > 1000]", line));
        assert!(!m("[ip, user]", line));
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        assert!(Pattern::parse("{ $.level = }").is_err());
        assert!(Pattern::parse("{ $.level = \"x\" ").is_err());
        assert!(Pattern::parse("\"unterminated").is_err());
        assert!(Pattern::parse("[a,,b]").is_err());
    }
}
