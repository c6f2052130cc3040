//! Query-protocol input: the form parameters of `Action=...&Version=...` requests, with
//! AWS's list (`Name.member.N`) and map (`Name.entry.N.key`) flattening.

use crate::error::AwsError;

/// The decoded parameters of a query-protocol request, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    /// Parses an `application/x-www-form-urlencoded` body or query string.
    pub fn parse(form: &[u8]) -> Self {
        Self(form_urlencoded::parse(form).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The value of a required parameter, or AWS's `ValidationError` for it.
    pub fn require(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| AwsError::missing_parameter(name))
    }
    /// An integer parameter; a malformed value is a `ValidationError`.
    pub fn get_i64(&self, name: &str) -> Result<Option<i64>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| AwsError::validation(format!("Invalid value '{v}' for parameter {name}: not an integer"))),
        }
    }
    /// A flattened list of scalars: `name.member.1`, `name.member.2`, ... (`sep` is `member`
    /// for query services; EC2 uses `name.1`, pass `""`).
    pub fn list(&self, name: &str, sep: &str) -> Vec<String> {
        let prefix = if sep.is_empty() { format!("{name}.") } else { format!("{name}.{sep}.") };
        let mut items: Vec<(u32, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).and_then(|n| n.parse::<u32>().ok()).map(|n| (n, v.clone())))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }
    /// A flattened list of structures: for `name.member.N.Field=value`, one [`QueryParams`]
    /// per `N` (in order) holding `Field=value`.
    pub fn structs(&self, name: &str, sep: &str) -> Vec<QueryParams> {
        let prefix = if sep.is_empty() { format!("{name}.") } else { format!("{name}.{sep}.") };
        let mut items: std::collections::BTreeMap<u32, Vec<(String, String)>> = Default::default();
        for (k, v) in &self.0 {
            if let Some(rest) = k.strip_prefix(&prefix) {
                if let Some((n, field)) = rest.split_once('.') {
                    if let Ok(n) = n.parse::<u32>() {
                        items.entry(n).or_default().push((field.to_string(), v.clone()));
                    }
                }
            }
        }
        items.into_values().map(QueryParams).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_structs_are_unflattened_in_order() {
        let q = QueryParams::parse(
            b"Action=TagRole&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=1&Names.member.10=z&Names.member.2=y",
        );
        assert_eq!(q.get("Action"), Some("TagRole"));
        assert_eq!(q.list("Names", "member"), vec!["y", "z"]);
        let tags = q.structs("Tags", "member");
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].get("Key"), Some("a"));
        assert_eq!(tags[0].get("Value"), Some("1"));
        assert_eq!(tags[1].get("Key"), Some("b"));
        assert!(q.require("UserName").unwrap_err().message.contains("'userName'"));
    }
}
