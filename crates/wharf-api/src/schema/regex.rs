//! A small regular-expression engine for Go `regexp` (RE2) syntax, which is what kube-apiserver
//! uses for a schema's `pattern` (unanchored `MatchString`) and for several string formats.
//!
//! Supported: literals and escapes (`\n`, `\x41`, `\x{263a}`, octal, `\Q…\E`), `.`, classes
//! (`[a-z]`, `[^…]`, POSIX `[[:alpha:]]`, Perl `\d \s \w` and negations), anchors
//! (`^ $ \A \z \b \B`), groups (capturing, `(?:…)`, `(?P<n>…)`, `(?<n>…)`), flags
//! (`i m s U`, scoped `(?i:…)`), alternation and repetition (`* + ? {n} {n,} {n,m}`, lazy forms).
//! Matching is a Pike VM (linear time, no backtracking blow-up).
//!
//! Limitations: Unicode classes `\p{…}` cover the general categories `L Lu Ll N Nd P S Z Zs Cc`,
//! `Any` and a few scripts (Latin, Greek, Cyrillic, Han, Hiragana, Katakana, Hangul, Arabic,
//! Hebrew, Thai) by approximation; other valid names give [`Error::Unsupported`]. Case folding
//! uses simple one-to-one lower/upper mappings. Lookaround and backreferences are rejected, as
//! in Go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Why a pattern could not be compiled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Error {
    /// Go's `regexp.Compile` rejects the pattern too; the text is Go's error message.
    Invalid(String),
    /// The pattern uses a construct this engine does not implement (see module docs).
    Unsupported(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Invalid(m) | Error::Unsupported(m) => f.write_str(m),
        }
    }
}

fn err(code: &str, expr: &str) -> Error {
    Error::Invalid(format!("error parsing regexp: {code}: `{expr}`"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Look {
    BeginText,
    EndText,
    BeginLine,
    EndLine,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pred {
    Any,
    Letter,
    Upper,
    Lower,
    Number,
    Punct,
    Symbol,
    Separator,
    SpaceSep,
    Control,
    Ranges(&'static [(u32, u32)]),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Class {
    ranges: Vec<(char, char)>,
    preds: Vec<(Pred, bool)>,
    negated: bool,
    fold: bool,
}

impl Class {
    fn contains_raw(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) || self.preds.iter().any(|&(p, neg)| pred(p, c) != neg)
    }

    fn matches(&self, c: char) -> bool {
        let mut hit = self.contains_raw(c);
        if !hit && self.fold {
            hit = fold_variants(c).into_iter().flatten().any(|v| v != c && self.contains_raw(v));
        }
        hit != self.negated
    }
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    if it.next().is_some() {
        None
    } else {
        Some(c)
    }
}

fn fold_variants(c: char) -> [Option<char>; 2] {
    [single(c.to_lowercase()), single(c.to_uppercase())]
}

fn fold_eq(a: char, b: char) -> bool {
    a == b || fold_variants(a).into_iter().flatten().any(|v| v == b) || fold_variants(b).into_iter().flatten().any(|v| v == a)
}

const LATIN: &[(u32, u32)] = &[(0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA), (0xBA, 0xBA), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F), (0x1E00, 0x1EFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)];
const GREEK: &[(u32, u32)] = &[(0x370, 0x373), (0x375, 0x377), (0x37A, 0x37D), (0x37F, 0x37F), (0x384, 0x384), (0x386, 0x386), (0x388, 0x3E1), (0x3F0, 0x3FF), (0x1F00, 0x1FFE)];
const CYRILLIC: &[(u32, u32)] = &[(0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F)];
const HAN: &[(u32, u32)] = &[(0x2E80, 0x2FD5), (0x3005, 0x3005), (0x3007, 0x3007), (0x3021, 0x3029), (0x3038, 0x303B), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F)];
const HIRAGANA: &[(u32, u32)] = &[(0x3041, 0x3096), (0x309D, 0x309F)];
const KATAKANA: &[(u32, u32)] = &[(0x30A1, 0x30FA), (0x30FD, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF6F), (0xFF71, 0xFF9D)];
const HANGUL: &[(u32, u32)] = &[(0x1100, 0x11FF), (0x3131, 0x318E), (0xAC00, 0xD7A3)];
const ARABIC: &[(u32, u32)] = &[(0x600, 0x604), (0x606, 0x60B), (0x60D, 0x61A), (0x61C, 0x61E), (0x620, 0x63F), (0x641, 0x64A), (0x656, 0x66F), (0x671, 0x6DC), (0x6DE, 0x6FF), (0x750, 0x77F)];
const HEBREW: &[(u32, u32)] = &[(0x591, 0x5C7), (0x5D0, 0x5EA), (0x5EF, 0x5F4), (0xFB1D, 0xFB4F)];
const THAI: &[(u32, u32)] = &[(0xE01, 0xE3A), (0xE40, 0xE5B)];

fn is_unicode_punct(c: char) -> bool {
    if c.is_ascii() {
        return "!\"#%&'()*,-./:;?@[\\]_{}".contains(c);
    }
    let u = c as u32;
    matches!(u, 0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF | 0x37E | 0x387 | 0x55A..=0x55F | 0x589 | 0x58A
        | 0x5BE | 0x5C0 | 0x5C3 | 0x5C6 | 0x5F3 | 0x5F4 | 0x609 | 0x60A | 0x60C | 0x60D | 0x61B | 0x61D..=0x61F
        | 0x66A..=0x66D | 0x6D4 | 0x964 | 0x965 | 0x970 | 0xE4F | 0xE5A | 0xE5B | 0x2010..=0x2027 | 0x2030..=0x2043
        | 0x2045..=0x2051 | 0x2053..=0x205E | 0x207D | 0x207E | 0x208D | 0x208E | 0x2308..=0x230B | 0x2329 | 0x232A
        | 0x2768..=0x2775 | 0x27C5 | 0x27C6 | 0x27E6..=0x27EF | 0x2983..=0x2998 | 0x29D8..=0x29DB | 0x29FC | 0x29FD
        | 0x2E00..=0x2E4F | 0x3001..=0x3003 | 0x3008..=0x3011 | 0x3014..=0x301F | 0x3030 | 0x303D | 0x30A0 | 0x30FB
        | 0xFE10..=0xFE19 | 0xFE30..=0xFE52 | 0xFE54..=0xFE61 | 0xFE63 | 0xFE68 | 0xFE6A | 0xFE6B | 0xFF01..=0xFF03
        | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F | 0xFF1A | 0xFF1B | 0xFF1F | 0xFF20 | 0xFF3B..=0xFF3D | 0xFF3F | 0xFF5B
        | 0xFF5D | 0xFF5F..=0xFF65)
}

fn is_space_sep(c: char) -> bool {
    matches!(c as u32, 0x20 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000)
}

fn is_unicode_symbol(c: char) -> bool {
    if c.is_ascii() {
        return "$+<=>^`|~".contains(c);
    }
    let excluded = matches!(c as u32, 0x300..=0x36F | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFE00..=0xFE0F | 0xFEFF | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF);
    !(excluded || c.is_alphanumeric() || c.is_whitespace() || c.is_control() || is_unicode_punct(c) || is_space_sep(c))
}

fn pred(p: Pred, c: char) -> bool {
    match p {
        Pred::Any => true,
        Pred::Letter => c.is_alphabetic(),
        Pred::Upper => c.is_uppercase(),
        Pred::Lower => c.is_lowercase(),
        Pred::Number => c.is_numeric(),
        Pred::Punct => is_unicode_punct(c),
        Pred::Symbol => is_unicode_symbol(c),
        Pred::Separator => is_space_sep(c) || c == '\u{2028}' || c == '\u{2029}',
        Pred::SpaceSep => is_space_sep(c),
        Pred::Control => c.is_control(),
        Pred::Ranges(r) => r.iter().any(|&(lo, hi)| lo <= c as u32 && c as u32 <= hi),
    }
}

const GO_CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N", "Nd", "Nl", "No", "P", "Pc", "Pd",
    "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs",
];

fn unicode_pred(name: &str) -> Result<Pred, Option<()>> {
    // Ok: implemented; Err(Some): valid in Go but not implemented here; Err(None): unknown.
    Ok(match name {
        "Any" => Pred::Any,
        "L" => Pred::Letter,
        "Lu" => Pred::Upper,
        "Ll" => Pred::Lower,
        "N" | "Nd" => Pred::Number,
        "P" => Pred::Punct,
        "S" => Pred::Symbol,
        "Z" => Pred::Separator,
        "Zs" => Pred::SpaceSep,
        "Cc" => Pred::Control,
        "Latin" => Pred::Ranges(LATIN),
        "Greek" => Pred::Ranges(GREEK),
        "Cyrillic" => Pred::Ranges(CYRILLIC),
        "Han" => Pred::Ranges(HAN),
        "Hiragana" => Pred::Ranges(HIRAGANA),
        "Katakana" => Pred::Ranges(KATAKANA),
        "Hangul" => Pred::Ranges(HANGUL),
        "Arabic" => Pred::Ranges(ARABIC),
        "Hebrew" => Pred::Ranges(HEBREW),
        "Thai" => Pred::Ranges(THAI),
        n if GO_CATEGORIES.contains(&n) => return Err(Some(())),
        n if n.len() > 1 && n.starts_with(|c: char| c.is_ascii_uppercase()) && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            return Err(Some(()))
        }
        _ => return Err(None),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Empty,
    Lit(char, bool),
    Class(Class),
    Look(Look),
    Cat(Vec<Node>),
    Alt(Vec<Node>),
    Rep(Box<Node>, u32, Option<u32>),
}

/// Go's `repeatIsValid`: nested counted repetitions may not multiply past `n` copies.
fn repeat_is_valid(node: &Node, n: u32) -> bool {
    match node {
        Node::Rep(sub, min, max) => {
            let m = match max {
                Some(0) => return true,
                Some(m) => *m,
                None => *min,
            };
            if m > n {
                return false;
            }
            repeat_is_valid(sub, n.checked_div(m).unwrap_or(n))
        }
        Node::Cat(items) | Node::Alt(items) => items.iter().all(|i| repeat_is_valid(i, n)),
        _ => true,
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    i: bool,
    m: bool,
    s: bool,
}

struct Parser<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
    flags: Flags,
    depth: usize,
}

const MAX_REPEAT: u32 = 1000;
/// Go allows 1000 levels; fewer here keep the recursive parser and compiler well inside a
/// worker thread's stack.
const MAX_DEPTH: usize = 250;
const MAX_PROG: usize = 200_000;

fn perl_class(c: char) -> Option<Class> {
    let (ranges, negated): (Vec<(char, char)>, bool) = match c {
        'd' => (vec![('0', '9')], false),
        'D' => (vec![('0', '9')], true),
        's' => (vec![('\t', '\n'), ('\u{c}', '\r'), (' ', ' ')], false),
        'S' => (vec![('\t', '\n'), ('\u{c}', '\r'), (' ', ' ')], true),
        'w' => (vec![('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')], false),
        'W' => (vec![('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')], true),
        _ => return None,
    };
    Some(Class { ranges, preds: Vec::new(), negated, fold: false })
}

fn posix_class(name: &str) -> Option<Vec<(char, char)>> {
    Some(match name {
        "alnum" => vec![('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => vec![('A', 'Z'), ('a', 'z')],
        "ascii" => vec![('\0', '\u{7f}')],
        "blank" => vec![('\t', '\t'), (' ', ' ')],
        "cntrl" => vec![('\0', '\u{1f}'), ('\u{7f}', '\u{7f}')],
        "digit" => vec![('0', '9')],
        "graph" => vec![('!', '~')],
        "lower" => vec![('a', 'z')],
        "print" => vec![(' ', '~')],
        "punct" => vec![('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => vec![('\t', '\r'), (' ', ' ')],
        "upper" => vec![('A', 'Z')],
        "word" => vec![('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')],
        "xdigit" => vec![('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

/// Adds the complement of sorted-able `ranges` to `out`.
fn complement(mut ranges: Vec<(char, char)>) -> Vec<(char, char)> {
    ranges.sort();
    let mut out = Vec::new();
    let mut next: u32 = 0;
    for (lo, hi) in ranges {
        if (lo as u32) > next {
            push_range(&mut out, next, lo as u32 - 1);
        }
        next = next.max(hi as u32 + 1);
    }
    push_range(&mut out, next, 0x10FFFF);
    out
}

fn push_range(out: &mut Vec<(char, char)>, lo: u32, hi: u32) {
    // Skip the surrogate gap, which `char` cannot represent.
    let parts = [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)];
    for (a, b) in parts {
        if a <= b {
            if let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b)) {
                out.push((a, b));
            }
        }
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }
    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).map(|&(_, c)| c)
    }
    fn byte_at(&self, idx: usize) -> usize {
        self.chars.get(idx).map(|&(b, _)| b).unwrap_or(self.src.len())
    }
    fn text(&self, from: usize, to: usize) -> &'a str {
        let (a, b) = (self.byte_at(from), self.byte_at(to));
        self.src.get(a..b).unwrap_or("")
    }

    fn parse_alt(&mut self) -> Result<Node, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err("expression nests too deeply", self.src));
        }
        let mut alts = vec![self.parse_concat()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alts.push(self.parse_concat()?);
        }
        self.depth -= 1;
        Ok(if alts.len() == 1 { alts.pop().unwrap_or(Node::Empty) } else { Node::Alt(alts) })
    }

    /// Parses `{n}`, `{n,}` or `{n,m}` at the cursor without consuming; returns (min, max, len).
    fn brace(&self) -> Option<(u32, Option<u32>, usize)> {
        if self.peek() != Some('{') {
            return None;
        }
        let mut i = 1;
        let digits = |p: &Self, i: &mut usize| -> Option<u64> {
            let start = *i;
            let mut v: u64 = 0;
            while let Some(c) = p.peek_at(*i).filter(char::is_ascii_digit) {
                v = v.saturating_mul(10).saturating_add(u64::from(c as u32 - '0' as u32));
                *i += 1;
            }
            (*i > start).then_some(v)
        };
        let min = digits(self, &mut i)?;
        let max = if self.peek_at(i) == Some(',') {
            i += 1;
            if self.peek_at(i) == Some('}') {
                None
            } else {
                Some(digits(self, &mut i)?)
            }
        } else {
            Some(min)
        };
        if self.peek_at(i) != Some('}') {
            return None;
        }
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Some((clamp(min), max.map(clamp), i + 1))
    }

    fn rep_op_at_cursor(&self) -> Option<(u32, Option<u32>, usize)> {
        match self.peek()? {
            '*' => Some((0, None, 1)),
            '+' => Some((1, None, 1)),
            '?' => Some((0, Some(1), 1)),
            '{' => self.brace(),
            _ => None,
        }
    }

    fn parse_concat(&mut self) -> Result<Node, Error> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None | Some('|') | Some(')') => break,
                _ => {}
            }
            if let Some((_, _, len)) = self.rep_op_at_cursor() {
                return Err(err("missing argument to repetition operator", self.text(self.pos, self.pos + len)));
            }
            let Some(mut node) = self.parse_atom()? else { continue };
            let mut last_rep: Option<usize> = None;
            while let Some((min, max, len)) = self.rep_op_at_cursor() {
                let op_start = self.pos;
                self.pos += len;
                if self.peek() == Some('?') {
                    self.pos += 1;
                }
                if let Some(ls) = last_rep {
                    return Err(err("invalid nested repetition operator", self.text(ls, self.pos)));
                }
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
                    return Err(err("invalid repeat count", self.text(op_start, op_start + len)));
                }
                node = Node::Rep(Box::new(node), min, max);
                if (min >= 2 || max.is_some_and(|m| m >= 2)) && !repeat_is_valid(&node, MAX_REPEAT) {
                    return Err(err("invalid repeat count", self.text(op_start, op_start + len)));
                }
                last_rep = Some(op_start);
            }
            items.push(node);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Cat(items),
        })
    }

    fn parse_atom(&mut self) -> Result<Option<Node>, Error> {
        let Some(c) = self.peek() else { return Ok(None) };
        match c {
            '(' => self.parse_group(),
            '[' => self.parse_class().map(|c| Some(Node::Class(c))),
            '.' => {
                self.pos += 1;
                let ranges = if self.flags.s { vec![('\0', char::MAX)] } else { complement(vec![('\n', '\n')]) };
                Ok(Some(Node::Class(Class { ranges, ..Class::default() })))
            }
            '^' => {
                self.pos += 1;
                Ok(Some(Node::Look(if self.flags.m { Look::BeginLine } else { Look::BeginText })))
            }
            '$' => {
                self.pos += 1;
                Ok(Some(Node::Look(if self.flags.m { Look::EndLine } else { Look::EndText })))
            }
            '\\' => self.parse_escape_atom().map(Some),
            c => {
                self.pos += 1;
                Ok(Some(Node::Lit(c, self.flags.i)))
            }
        }
    }

    fn parse_group(&mut self) -> Result<Option<Node>, Error> {
        let start = self.pos;
        self.pos += 1; // '('
        let saved = self.flags;
        if self.peek() == Some('?') {
            let named_p = self.peek_at(1) == Some('P') && self.peek_at(2) == Some('<');
            let named = self.peek_at(1) == Some('<');
            if named_p || named {
                let begin = self.pos + if named_p { 3 } else { 2 };
                let mut end = begin;
                while self.chars.get(end).is_some_and(|&(_, c)| c != '>') {
                    end += 1;
                }
                if end >= self.chars.len() {
                    return Err(err("invalid named capture", self.text(start, self.chars.len())));
                }
                let name = self.text(begin, end);
                if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_alphanumeric()) {
                    return Err(err("invalid named capture", self.text(start, end + 1)));
                }
                self.pos = end + 1;
            } else {
                // Flags: (?flags) or (?flags:re)
                self.pos += 1;
                let mut flags = self.flags;
                let mut neg = false;
                let mut saw = false;
                loop {
                    let Some(c) = self.peek() else {
                        return Err(err("missing closing )", self.src));
                    };
                    self.pos += 1;
                    match c {
                        'i' => flags.i = !neg,
                        'm' => flags.m = !neg,
                        's' => flags.s = !neg,
                        'U' => {}
                        '-' if !neg => {
                            neg = true;
                            saw = false;
                            continue;
                        }
                        ':' | ')' if !neg || saw => {
                            if c == ')' {
                                self.flags = flags;
                                return Ok(None);
                            }
                            self.flags = flags;
                            break;
                        }
                        _ => return Err(err("invalid or unsupported Perl syntax", self.text(start, self.pos))),
                    }
                    saw = true;
                }
            }
        }
        let inner = self.parse_alt()?;
        if self.peek() != Some(')') {
            return Err(err("missing closing )", self.src));
        }
        self.pos += 1;
        self.flags = saved;
        Ok(Some(inner))
    }

    /// Parses an escape that denotes a single character (outside or inside a class).
    fn parse_escape_char(&mut self) -> Result<char, Error> {
        let start = self.pos;
        self.pos += 1; // '\'
        let Some(c) = self.peek() else {
            return Err(err("trailing backslash at end of expression", ""));
        };
        self.pos += 1;
        let bad = |p: &Self| err("invalid escape sequence", p.text(start, p.pos));
        match c {
            '1'..='7' if !self.peek().is_some_and(|d| ('0'..='7').contains(&d)) => Err(bad(self)),
            '0'..='7' => {
                let mut v = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d) if ('0'..='7').contains(&d) => {
                            v = v * 8 + (d as u32 - '0' as u32);
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                char::from_u32(v).ok_or_else(|| bad(self))
            }
            'x' => {
                if self.peek() == Some('{') {
                    self.pos += 1;
                    let mut v: u32 = 0;
                    let mut n = 0;
                    loop {
                        match self.peek() {
                            Some('}') if n > 0 => {
                                self.pos += 1;
                                break;
                            }
                            Some(d) if d.is_ascii_hexdigit() => {
                                v = v.saturating_mul(16).saturating_add(d.to_digit(16).unwrap_or(0));
                                n += 1;
                                self.pos += 1;
                                if v > 0x10FFFF {
                                    return Err(bad(self));
                                }
                            }
                            _ => return Err(bad(self)),
                        }
                    }
                    char::from_u32(v).ok_or_else(|| bad(self))
                } else {
                    let mut v = 0;
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d) if d.is_ascii_hexdigit() => {
                                v = v * 16 + d.to_digit(16).unwrap_or(0);
                                self.pos += 1;
                            }
                            _ => return Err(bad(self)),
                        }
                    }
                    char::from_u32(v).ok_or_else(|| bad(self))
                }
            }
            'a' => Ok('\u{7}'),
            'f' => Ok('\u{c}'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\u{b}'),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
            _ => Err(bad(self)),
        }
    }

    /// `\p{Name}`, `\pN`, `\P…`, `\p{^Name}` at the cursor (which is on the backslash).
    fn parse_unicode_class(&mut self) -> Result<(Pred, bool), Error> {
        let start = self.pos;
        let negated_p = self.peek_at(1) == Some('P');
        self.pos += 2;
        let name = match self.peek() {
            Some('{') => {
                let begin = self.pos + 1;
                let mut end = begin;
                while self.chars.get(end).is_some_and(|&(_, c)| c != '}') {
                    end += 1;
                }
                if end >= self.chars.len() {
                    return Err(err("invalid character class range", self.text(start, self.chars.len())));
                }
                self.pos = end + 1;
                self.text(begin, end).to_string()
            }
            Some(c) => {
                self.pos += 1;
                c.to_string()
            }
            None => return Err(err("invalid character class range", self.text(start, self.pos))),
        };
        let (name, neg2) = match name.strip_prefix('^') {
            Some(n) => (n.to_string(), true),
            None => (name, false),
        };
        match unicode_pred(&name) {
            Ok(p) => Ok((p, negated_p != neg2)),
            Err(Some(())) => Err(Error::Unsupported(format!("unicode class \\p{{{name}}} is not supported by this validator"))),
            Err(None) => Err(err("invalid character class range", self.text(start, self.pos))),
        }
    }

    fn parse_escape_atom(&mut self) -> Result<Node, Error> {
        let fold = self.flags.i;
        match self.peek_at(1) {
            Some(c @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                self.pos += 2;
                Ok(Node::Class(perl_class(c).unwrap_or_default()))
            }
            Some('p' | 'P') => {
                let (p, neg) = self.parse_unicode_class()?;
                Ok(Node::Class(Class { ranges: Vec::new(), preds: vec![(p, false)], negated: neg, fold }))
            }
            Some('b') => {
                self.pos += 2;
                Ok(Node::Look(Look::WordBoundary))
            }
            Some('B') => {
                self.pos += 2;
                Ok(Node::Look(Look::NotWordBoundary))
            }
            Some('A') => {
                self.pos += 2;
                Ok(Node::Look(Look::BeginText))
            }
            Some('z') => {
                self.pos += 2;
                Ok(Node::Look(Look::EndText))
            }
            Some('Q') => {
                self.pos += 2;
                let mut lits = Vec::new();
                while let Some(c) = self.peek() {
                    if c == '\\' && self.peek_at(1) == Some('E') {
                        self.pos += 2;
                        break;
                    }
                    lits.push(Node::Lit(c, fold));
                    self.pos += 1;
                }
                Ok(Node::Cat(lits))
            }
            _ => self.parse_escape_char().map(|c| Node::Lit(c, fold)),
        }
    }

    fn parse_class(&mut self) -> Result<Class, Error> {
        let start = self.pos;
        self.pos += 1; // '['
        let mut class = Class { fold: self.flags.i, ..Class::default() };
        if self.peek() == Some('^') {
            class.negated = true;
            self.pos += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(err("missing closing ]", self.text(start, self.chars.len())));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '[' && self.peek_at(1) == Some(':') {
                // POSIX class [:name:] / [:^name:]
                let begin = self.pos + 2;
                let mut end = begin;
                while end + 1 < self.chars.len() && !(self.chars[end].1 == ':' && self.chars[end + 1].1 == ']') {
                    end += 1;
                }
                if end + 1 < self.chars.len() {
                    let raw = self.text(begin, end);
                    let (name, neg) = match raw.strip_prefix('^') {
                        Some(n) => (n, true),
                        None => (raw, false),
                    };
                    let Some(ranges) = posix_class(name) else {
                        return Err(err("invalid character class range", self.text(self.pos, end + 2)));
                    };
                    class.ranges.extend(if neg { complement(ranges) } else { ranges });
                    self.pos = end + 2;
                    continue;
                }
            }
            if c == '\\' {
                match self.peek_at(1) {
                    Some('p' | 'P') => {
                        let p = self.parse_unicode_class()?;
                        class.preds.push(p);
                        continue;
                    }
                    Some(pc @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                        self.pos += 2;
                        let pcls = perl_class(pc).unwrap_or_default();
                        class.ranges.extend(if pcls.negated { complement(pcls.ranges) } else { pcls.ranges });
                        continue;
                    }
                    _ => {}
                }
            }
            let item_start = self.pos;
            let lo = self.class_char(start)?;
            let mut hi = lo;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.pos += 1;
                hi = self.class_char(start)?;
                if hi < lo {
                    return Err(err("invalid character class range", self.text(item_start, self.pos)));
                }
            }
            class.ranges.push((lo, hi));
        }
        Ok(class)
    }

    fn class_char(&mut self, class_start: usize) -> Result<char, Error> {
        match self.peek() {
            None => Err(err("missing closing ]", self.text(class_start, self.chars.len()))),
            Some('\\') => {
                if self.pos + 1 >= self.chars.len() {
                    return Err(err("missing closing ]", self.text(class_start, self.chars.len())));
                }
                self.parse_escape_char()
            }
            Some(c) => {
                self.pos += 1;
                Ok(c)
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    CharFold(char),
    Class(Class),
    Split(usize, usize),
    Jmp(usize),
    Look(Look),
    Match,
}

struct Compiler {
    prog: Vec<Inst>,
}

impl Compiler {
    fn push(&mut self, i: Inst) -> Result<usize, Error> {
        if self.prog.len() >= MAX_PROG {
            return Err(Error::Invalid("error parsing regexp: expression too large".into()));
        }
        self.prog.push(i);
        Ok(self.prog.len() - 1)
    }

    fn compile(&mut self, n: &Node) -> Result<(), Error> {
        match n {
            Node::Empty => {}
            Node::Lit(c, fold) => {
                let has_case = fold_variants(*c).into_iter().flatten().any(|v| v != *c);
                self.push(if *fold && has_case { Inst::CharFold(*c) } else { Inst::Char(*c) })?;
            }
            Node::Class(c) => {
                self.push(Inst::Class(c.clone()))?;
            }
            Node::Look(l) => {
                self.push(Inst::Look(*l))?;
            }
            Node::Cat(items) => {
                for i in items {
                    self.compile(i)?;
                }
            }
            Node::Alt(alts) => {
                let mut jumps = Vec::new();
                for (idx, a) in alts.iter().enumerate() {
                    if idx + 1 < alts.len() {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.compile(a)?;
                        jumps.push(self.push(Inst::Jmp(0))?);
                        let next = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, next);
                    } else {
                        self.compile(a)?;
                    }
                }
                let end = self.prog.len();
                for j in jumps {
                    self.prog[j] = Inst::Jmp(end);
                }
            }
            Node::Rep(sub, min, max) => {
                for _ in 0..*min {
                    self.compile(sub)?;
                }
                match max {
                    None => {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.compile(sub)?;
                        self.push(Inst::Jmp(split))?;
                        let end = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, end);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.push(Inst::Split(0, 0))?);
                            self.compile(sub)?;
                        }
                        let end = self.prog.len();
                        for s in splits {
                            self.prog[s] = Inst::Split(s + 1, end);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Regex {
    prog: Vec<Inst>,
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Regex {
    /// Compiles `pattern` with Go `regexp.Compile` semantics.
    pub(crate) fn new(pattern: &str) -> Result<Regex, Error> {
        let mut p = Parser { src: pattern, chars: pattern.char_indices().collect(), pos: 0, flags: Flags::default(), depth: 0 };
        let node = p.parse_alt()?;
        if p.pos < p.chars.len() {
            // Only an unmatched ')' stops the top-level parse early.
            return Err(err("unexpected )", pattern));
        }
        let mut c = Compiler { prog: Vec::new() };
        c.compile(&node)?;
        c.push(Inst::Match)?;
        Ok(Regex { prog: c.prog })
    }

    fn look_holds(l: Look, prev: Option<char>, next: Option<char>) -> bool {
        match l {
            Look::BeginText => prev.is_none(),
            Look::EndText => next.is_none(),
            Look::BeginLine => prev.is_none() || prev == Some('\n'),
            Look::EndLine => next.is_none() || next == Some('\n'),
            Look::WordBoundary => is_word(prev) != is_word(next),
            Look::NotWordBoundary => is_word(prev) == is_word(next),
        }
    }

    /// Adds `pc` and its epsilon closure to `list`; true when the closure reaches `Match`.
    fn add(&self, list: &mut Vec<usize>, sc: &mut Scratch, gen: usize, pc: usize, at: (Option<char>, Option<char>)) -> bool {
        let (prev, next) = at;
        sc.stack.clear();
        sc.stack.push(pc);
        while let Some(pc) = sc.stack.pop() {
            if sc.mark[pc] == gen {
                continue;
            }
            sc.mark[pc] = gen;
            match &self.prog[pc] {
                Inst::Jmp(t) => sc.stack.push(*t),
                Inst::Split(a, b) => {
                    sc.stack.push(*b);
                    sc.stack.push(*a);
                }
                Inst::Look(l) => {
                    if Self::look_holds(*l, prev, next) {
                        sc.stack.push(pc + 1);
                    }
                }
                Inst::Match => return true,
                _ => list.push(pc),
            }
        }
        false
    }

    /// Whether the pattern matches anywhere in `text` (Go's `MatchString`).
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let n = self.prog.len();
        let mut sc = Scratch { mark: vec![0usize; n], stack: Vec::new() };
        let mut clist: Vec<usize> = Vec::with_capacity(n);
        let mut nlist: Vec<usize> = Vec::with_capacity(n);
        for pos in 0..=chars.len() {
            let gen = pos + 1;
            let prev = if pos == 0 { None } else { chars.get(pos - 1).copied() };
            let next = chars.get(pos).copied();
            if self.add(&mut clist, &mut sc, gen, 0, (prev, next)) {
                return true;
            }
            let Some(c) = next else { break };
            nlist.clear();
            let after = (Some(c), chars.get(pos + 1).copied());
            for &pc in &clist {
                let ok = match &self.prog[pc] {
                    Inst::Char(x) => *x == c,
                    Inst::CharFold(x) => fold_eq(*x, c),
                    Inst::Class(cls) => cls.matches(c),
                    _ => false,
                };
                if ok && self.add(&mut nlist, &mut sc, gen + 1, pc + 1, after) {
                    return true;
                }
            }
            std::mem::swap(&mut clist, &mut nlist);
        }
        false
    }
}

/// Per-match working memory: the generation each instruction was last added in, and the
/// closure stack.
struct Scratch {
    mark: Vec<usize>,
    stack: Vec<usize>,
}

type Cache = Mutex<HashMap<String, Arc<Result<Regex, Error>>>>;

/// Compiles `pattern`, reusing earlier compilations.
pub(crate) fn cached(pattern: &str) -> Arc<Result<Regex, Error>> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(map) = cache.lock() {
        if let Some(r) = map.get(pattern) {
            return Arc::clone(r);
        }
    }
    let compiled = Arc::new(Regex::new(pattern));
    if let Ok(mut map) = cache.lock() {
        if map.len() > 512 {
            map.clear();
        }
        map.insert(pattern.to_string(), Arc::clone(&compiled));
    }
    compiled
}

/// Whether `pattern` matches `text`; `None` when the pattern does not compile.
pub(crate) fn matches(pattern: &str, text: &str) -> Option<bool> {
    match &*cached(pattern) {
        Ok(re) => Some(re.is_match(text)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        match Regex::new(p) {
            Ok(re) => re.is_match(s),
            Err(e) => panic!("{p}: {e}"),
        }
    }

    #[test]
    fn patterns_match_like_go_regexp() {
        let cases: &[(&str, &str, bool)] = &[
            ("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "my-name", true),
            ("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "-bad", false),
            ("abc", "xxabcxx", true),
            ("^abc$", "xxabc", false),
            ("^a|b$", "xb", true),
            ("a{2,3}", "a", false),
            ("^a{2,3}$", "aaa", true),
            ("^a{2,3}$", "aaaa", false),
            ("^a{2,}$", "aaaaa", true),
            ("(?i)^abc$", "AbC", true),
            ("^(?i:a)b$", "Ab", true),
            ("^(?i:a)b$", "AB", false),
            (r"^\d+\.\d+$", "1.25", true),
            (r"^\w+$", "a_b9", true),
            (r"^\s*$", " \t", true),
            (r"\bfoo\b", "a foo b", true),
            (r"\bfoo\b", "afoob", false),
            ("^[^abc]+$", "xyz", true),
            ("^[^abc]+$", "xaz", false),
            ("^[[:alpha:]]+$", "abcXYZ", true),
            ("^[]a]+$", "]a]", true),
            ("^[a-]+$", "a-a", true),
            ("^.$", "\n", false),
            ("(?s)^.$", "\n", true),
            ("(?m)^b$", "a\nb\nc", true),
            ("^b$", "a\nb\nc", false),
            ("$", "", true),
            ("^$", "", true),
            ("^(a|ab)(c|bcd)(d*)$", "abcd", true),
            ("^(a*)*$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false),
            (r"^\x41\x{42}\103$", "ABC", true),
            (r"^\Qa.b\E$", "a.b", true),
            (r"^\Qa.b\E$", "axb", false),
            (r"^\p{L}+$", "héllo", true),
            (r"^\p{Greek}+$", "αβγ", true),
            ("^(?P<year>[0-9]{4})-(?<m>[0-9]{2})$", "2024-01", true),
            ("^日本$", "日本", true),
            ("(?i)^straße$", "STRASSE", false),
            ("^a*?b$", "aab", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(m(p, s), *want, "pattern {p:?} on {s:?}");
        }
    }

    #[test]
    fn invalid_patterns_report_go_error_messages() {
        let cases: &[(&str, &str)] = &[
            ("[a-z", "error parsing regexp: missing closing ]: `[a-z`"),
            ("(abc", "error parsing regexp: missing closing ): `(abc`"),
            ("abc)", "error parsing regexp: unexpected ): `abc)`"),
            ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
            ("*a", "error parsing regexp: missing argument to repetition operator: `*`"),
            ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
            ("(a{100}){20}", "error parsing regexp: invalid repeat count: `{20}`"),
            (r"(a)\1", "error parsing regexp: invalid escape sequence: `\\1`"),
            ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
            ("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
            (r"a\", "error parsing regexp: trailing backslash at end of expression: ``"),
            (r"\q", "error parsing regexp: invalid escape sequence: `\\q`"),
        ];
        for (p, want) in cases {
            match Regex::new(p) {
                Err(Error::Invalid(msg)) => assert_eq!(msg, *want, "{p}"),
                other => panic!("{p}: expected invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn literal_brace_that_is_not_a_repeat_is_a_literal() {
        assert!(m("^a{,3}$", "a{,3}"));
        assert!(m("^{$", "{"));
    }

    #[test]
    fn unimplemented_unicode_classes_are_reported_as_unsupported() {
        assert!(matches!(Regex::new(r"\p{Mn}"), Err(Error::Unsupported(_))));
        assert!(matches!(Regex::new(r"\p{xx}"), Err(Error::Invalid(_))));
    }
}
