//! EC2 `Filter.N.Name` / `Filter.N.Value.M` filters: parsing, `*`/`?` wildcards, tag
//! filters (`tag:KEY`, `tag-key`, `tag-value`), and AND-across-filters / OR-across-values.

use wharf_aws::{AwsError, QueryParams};

use crate::model::Tag;

/// One filter: a name and the values any of which may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The filter name (`vpc-id`, `tag:Name`).
    pub name: String,
    /// Accepted values, with `*` and `?` wildcards.
    pub values: Vec<String>,
}

/// The filters of a request (`Filter.N.Name`, `Filter.N.Value.M`).
pub fn parse(q: &QueryParams) -> Result<Vec<Filter>, AwsError> {
    q.structs("Filter", "")
        .into_iter()
        .map(|f| {
            let name = f.get("Name").ok_or_else(|| {
                AwsError::bad_request("InvalidParameterValue", "The filter 'null' is invalid")
            })?;
            Ok(Filter { name: name.to_string(), values: f.list("Value", "") })
        })
        .collect()
}

/// Whether `text` matches `pattern`, where `*` matches any run and `?` one character
/// (`\*`, `\?` and `\\` are literal).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Lit(char),
        Any,
        One,
    }
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '\\' => P::Lit(chars.next().unwrap_or('\\')),
            '*' => P::Any,
            '?' => P::One,
            c => P::Lit(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Iterative matcher with single-star backtracking: linear memory, no recursion.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(P::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(P::One) => {
                p += 1;
                t += 1;
            }
            Some(P::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p.min(pat.len())..].iter().all(|x| *x == P::Any)
}

/// What a resource offers to filters: the values of a named field.
pub trait Filterable {
    /// The values of filter `name` for this resource; `None` if the filter is unknown.
    fn field(&self, name: &str) -> Option<Vec<String>>;
    /// The resource's tags.
    fn tags(&self) -> &[Tag];
}

/// The values of a tag filter (`tag:KEY`, `tag-key`, `tag-value`), `None` if `name` is not one.
fn tag_field(tags: &[Tag], name: &str) -> Option<Vec<String>> {
    if let Some(key) = name.strip_prefix("tag:") {
        return Some(tags.iter().filter(|t| t.key == key).map(|t| t.value.clone()).collect());
    }
    match name {
        "tag-key" => Some(tags.iter().map(|t| t.key.clone()).collect()),
        "tag-value" => Some(tags.iter().map(|t| t.value.clone()).collect()),
        _ => None,
    }
}

/// Whether a resource passes every filter; an unknown filter name is AWS's
/// `InvalidParameterValue`.
pub fn matches<T: Filterable>(item: &T, filters: &[Filter]) -> Result<bool, AwsError> {
    for f in filters {
        let values = match tag_field(item.tags(), &f.name).or_else(|| item.field(&f.name)) {
            Some(v) => v,
            None => return Err(AwsError::bad_request("InvalidParameterValue", format!("The filter '{}' is invalid", f.name))),
        };
        if !f.values.iter().any(|pat| values.iter().any(|v| wildcard(pat, v))) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Keeps the items that pass the filters.
pub fn apply<T: Filterable>(items: Vec<T>, filters: &[Filter]) -> Result<Vec<T>, AwsError> {
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        if matches(&i, filters)? {
            out.push(i);
        }
    }
    Ok(out)
}

/// A boolean as EC2 writes it.
pub fn b(v: bool) -> String {
    if v { "true" } else { "false" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item {
        id: &'static str,
        tags: Vec<Tag>,
    }
    impl Filterable for Item {
        fn field(&self, name: &str) -> Option<Vec<String>> {
            match name {
                "id" => Some(vec![self.id.to_string()]),
                _ => None,
            }
        }
        fn tags(&self) -> &[Tag] {
            &self.tags
        }
    }

    fn tag(k: &str, v: &str) -> Tag {
        Tag { key: k.into(), value: v.into() }
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(wildcard("vpc-*", "vpc-0abc"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(wildcard("*b*d", "abcbd"));
        assert!(!wildcard("*b*d", "abcbe"));
        assert!(wildcard("a\\*", "a*"));
        assert!(!wildcard("a\\*", "ab"));
        assert!(wildcard("exact", "exact"));
        assert!(!wildcard("exact", "exactly"));
    }

    #[test]
    fn filters_are_anded_and_values_ored() {
        let it = Item { id: "x-1", tags: vec![tag("Name", "web"), tag("team", "")] };
        let f = |n: &str, v: &[&str]| Filter { name: n.into(), values: v.iter().map(|s| s.to_string()).collect() };
        assert!(matches(&it, &[f("id", &["x-2", "x-1"])]).unwrap());
        assert!(!matches(&it, &[f("id", &["x-1"]), f("tag:Name", &["db"])]).unwrap());
        assert!(matches(&it, &[f("id", &["x-*"]), f("tag:Name", &["w*"])]).unwrap());
        assert!(matches(&it, &[f("tag-key", &["team"])]).unwrap());
        assert!(!matches(&it, &[f("tag:missing", &["*"])]).unwrap());
        assert!(matches(&it, &[f("tag-value", &["web"])]).unwrap());
        let e = matches(&it, &[f("bogus", &["1"])]).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.message.contains("'bogus'"));
    }

    #[test]
    fn filters_are_read_from_flattened_query_lists() {
        let q = QueryParams::parse(b"Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-1&Filter.1.Name=tag%3AName&Filter.1.Value.2=b&Filter.1.Value.1=a");
        let fs = parse(&q).unwrap();
        assert_eq!(fs[0], Filter { name: "tag:Name".into(), values: vec!["a".into(), "b".into()] });
        assert_eq!(fs[1], Filter { name: "vpc-id".into(), values: vec!["vpc-1".into()] });
    }

    #[test]
    fn the_filter_parser_and_matcher_never_panic_on_arbitrary_input() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let alphabet = b"Filter.Name.Value.1203=&%*?\\-:tagx";
        for _ in 0..20_000 {
            let len = rng.gen_range(0..60);
            let bytes: Vec<u8> = (0..len).map(|_| if rng.gen_bool(0.9) { alphabet[rng.gen_range(0..alphabet.len())] } else { rng.gen() }).collect();
            let q = QueryParams::parse(&bytes);
            if let Ok(fs) = parse(&q) {
                let it = Item { id: "x-1", tags: vec![tag("tagx", "v")] };
                let _ = matches(&it, &fs);
            }
            let s = String::from_utf8_lossy(&bytes);
            let _ = wildcard(&s, "Filter.1*?");
            let _ = s.parse::<crate::cidr::Cidr>();
        }
    }
}
