//! ECR lifecycle policies: parsing and validating the policy text, and choosing which images
//! a policy expires. Pure logic; [`crate::Ecr`] applies the result to the registry.
//!
//! Semantics (as ECR documents them): rules are evaluated in ascending `rulePriority`; each
//! rule *selects* the images its tag filter matches among those no earlier rule selected,
//! then expires the selected images beyond `imageCountMoreThan` (newest kept) or pushed more
//! than `sinceImagePushed` days ago. An image selected by a rule is never considered by a
//! later rule, even if the earlier rule kept it. A `tagged` rule with several prefixes
//! (or patterns) selects only images having a tag for every one of them.

use serde_json::Value;

/// Which images a rule considers by their tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagStatus {
    /// Images with at least one tag matching the rule's prefixes or patterns.
    Tagged,
    /// Images without tags.
    Untagged,
    /// Every image.
    Any,
}

/// How a rule decides which selected images expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Keep the newest `n`, expire the rest.
    MoreThan(u64),
    /// Expire images pushed more than `n` days ago.
    SincePushedDays(u64),
}

/// One rule of a lifecycle policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `rulePriority` (lower runs first).
    pub priority: i64,
    /// `selection.tagStatus`.
    pub tag_status: TagStatus,
    /// `selection.tagPrefixList`.
    pub tag_prefixes: Vec<String>,
    /// `selection.tagPatternList` (`*` wildcards).
    pub tag_patterns: Vec<String>,
    /// `selection.countType` with `countNumber`.
    pub count: Count,
}

/// A parsed, validated lifecycle policy, rules sorted by priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicy {
    /// The rules.
    pub rules: Vec<Rule>,
}

/// An image as lifecycle evaluation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The manifest digest.
    pub digest: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Push time, milliseconds since the Unix epoch.
    pub pushed_at_millis: u64,
}

/// Why a policy text is not acceptable (the message ECR puts after
/// `Lifecycle policy validation failure: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPolicy(pub String);

fn invalid(msg: impl Into<String>) -> InvalidPolicy {
    InvalidPolicy(msg.into())
}

fn string_list(v: &Value, field: &str) -> Result<Vec<String>, InvalidPolicy> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(String::from).ok_or_else(|| invalid(format!("{field} must hold strings"))))
            .collect(),
        Some(_) => Err(invalid(format!("{field} must be an array of strings"))),
    }
}

impl LifecyclePolicy {
    /// Parses and validates a policy text.
    pub fn parse(text: &str) -> Result<Self, InvalidPolicy> {
        let doc: Value = serde_json::from_str(text).map_err(|e| invalid(format!("the policy is not valid JSON: {e}")))?;
        let rules = doc.get("rules").and_then(Value::as_array).ok_or_else(|| invalid("object has missing required properties ([\"rules\"])"))?;
        if rules.is_empty() {
            return Err(invalid("rules must contain at least one rule"));
        }
        let mut out = Vec::new();
        for r in rules {
            let priority = r.get("rulePriority").and_then(Value::as_i64).ok_or_else(|| invalid("rulePriority is required and must be an integer"))?;
            if priority < 1 {
                return Err(invalid(format!("rulePriority {priority} must be at least 1")));
            }
            if out.iter().any(|x: &Rule| x.priority == priority) {
                return Err(invalid(format!("rulePriority {priority} is used by more than one rule")));
            }
            let action = r.get("action").and_then(|a| a.get("type")).and_then(Value::as_str);
            if action != Some("expire") {
                return Err(invalid("action.type must be \"expire\""));
            }
            let sel = r.get("selection").filter(|s| s.is_object()).ok_or_else(|| invalid("selection is required"))?;
            let tag_status = match sel.get("tagStatus").and_then(Value::as_str) {
                Some("tagged") => TagStatus::Tagged,
                Some("untagged") => TagStatus::Untagged,
                Some("any") => TagStatus::Any,
                other => return Err(invalid(format!("tagStatus {other:?} is not one of tagged, untagged, any"))),
            };
            let tag_prefixes = string_list(sel, "tagPrefixList")?;
            let tag_patterns = string_list(sel, "tagPatternList")?;
            match tag_status {
                TagStatus::Tagged if tag_prefixes.is_empty() && tag_patterns.is_empty() => {
                    return Err(invalid("a tagged rule needs a tagPrefixList or a tagPatternList"))
                }
                TagStatus::Tagged if !tag_prefixes.is_empty() && !tag_patterns.is_empty() => {
                    return Err(invalid("tagPrefixList and tagPatternList cannot both be given"))
                }
                TagStatus::Untagged | TagStatus::Any if !tag_prefixes.is_empty() || !tag_patterns.is_empty() => {
                    return Err(invalid("tagPrefixList and tagPatternList are only allowed with tagStatus tagged"))
                }
                _ => {}
            }
            let n = sel.get("countNumber").and_then(Value::as_u64).filter(|n| *n >= 1).ok_or_else(|| invalid("countNumber must be an integer of at least 1"))?;
            let count = match sel.get("countType").and_then(Value::as_str) {
                Some("imageCountMoreThan") => {
                    if sel.get("countUnit").is_some() {
                        return Err(invalid("countUnit is not allowed with imageCountMoreThan"));
                    }
                    Count::MoreThan(n)
                }
                Some("sinceImagePushed") => {
                    if sel.get("countUnit").and_then(Value::as_str) != Some("days") {
                        return Err(invalid("sinceImagePushed needs countUnit \"days\""));
                    }
                    Count::SincePushedDays(n)
                }
                other => return Err(invalid(format!("countType {other:?} is not one of imageCountMoreThan, sinceImagePushed"))),
            };
            out.push(Rule { priority, tag_status, tag_prefixes, tag_patterns, count });
        }
        out.sort_by_key(|r| r.priority);
        if let Some(pos) = out.iter().position(|r| r.tag_status == TagStatus::Any) {
            if pos + 1 != out.len() {
                return Err(invalid("a rule with tagStatus any must have the highest rulePriority"));
            }
        }
        Ok(Self { rules: out })
    }

    /// The digests this policy expires among `images` at `now_millis`.
    pub fn expired(&self, images: &[Candidate], now_millis: u64) -> Vec<String> {
        let mut remaining: Vec<&Candidate> = images.iter().collect();
        let mut out = Vec::new();
        for rule in &self.rules {
            let (mut selected, rest): (Vec<&Candidate>, Vec<&Candidate>) = remaining.into_iter().partition(|c| rule.selects(c));
            remaining = rest;
            // Newest first; equal times by digest so the choice is stable.
            selected.sort_by(|a, b| b.pushed_at_millis.cmp(&a.pushed_at_millis).then_with(|| a.digest.cmp(&b.digest)));
            match rule.count {
                Count::MoreThan(n) => {
                    out.extend(selected.iter().skip(usize::try_from(n).unwrap_or(usize::MAX)).map(|c| c.digest.clone()))
                }
                Count::SincePushedDays(days) => {
                    let age = days.saturating_mul(86_400_000);
                    out.extend(
                        selected.iter().filter(|c| now_millis.saturating_sub(c.pushed_at_millis) > age).map(|c| c.digest.clone()),
                    )
                }
            }
        }
        out
    }
}

impl Rule {
    /// Whether this rule's tag filter selects `c`.
    pub fn selects(&self, c: &Candidate) -> bool {
        match self.tag_status {
            TagStatus::Any => true,
            TagStatus::Untagged => c.tags.is_empty(),
            TagStatus::Tagged => {
                !c.tags.is_empty()
                    && self.tag_prefixes.iter().all(|p| c.tags.iter().any(|t| t.starts_with(p.as_str())))
                    && self.tag_patterns.iter().all(|p| c.tags.iter().any(|t| wharf_iam::policy::glob_match(p, t, false)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(d: &str, tags: &[&str], t: u64) -> Candidate {
        Candidate { digest: d.into(), tags: tags.iter().map(|s| s.to_string()).collect(), pushed_at_millis: t }
    }

    #[test]
    fn image_count_more_than_keeps_only_the_newest_images() {
        let p = LifecyclePolicy::parse(
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
        )
        .unwrap();
        let images = [img("a", &["v1"], 1000), img("b", &["v2"], 3000), img("c", &[], 2000)];
        let mut e = p.expired(&images, 10_000);
        e.sort();
        assert_eq!(e, vec!["a", "c"]);
    }

    #[test]
    fn since_image_pushed_expires_untagged_images_older_than_the_days_given() {
        let p = LifecyclePolicy::parse(
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":2},"action":{"type":"expire"}}]}"#,
        )
        .unwrap();
        let day = 86_400_000;
        let now = 10 * day;
        let images = [img("old-untagged", &[], now - 3 * day), img("new-untagged", &[], now - day), img("old-tagged", &["v"], 0)];
        assert_eq!(p.expired(&images, now), vec!["old-untagged"]);
    }

    #[test]
    fn an_image_selected_by_an_earlier_rule_is_not_expired_by_a_later_one() {
        let p = LifecyclePolicy::parse(
            r#"{"rules":[
              {"rulePriority":2,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
              {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#,
        )
        .unwrap();
        assert_eq!(p.rules[0].priority, 1);
        let images = [img("p1", &["prod-1"], 1), img("p2", &["prod-2"], 2), img("d1", &["dev-1"], 3), img("d2", &["dev-2"], 4)];
        // The prod images are kept by rule 1 and never reach the "keep one" rule.
        assert_eq!(p.expired(&images, 10), vec!["d1"]);
    }

    #[test]
    fn tagged_rules_with_several_prefixes_select_images_having_all_of_them() {
        let r = Rule {
            priority: 1,
            tag_status: TagStatus::Tagged,
            tag_prefixes: vec!["prod".into(), "v".into()],
            tag_patterns: vec![],
            count: Count::MoreThan(1),
        };
        assert!(r.selects(&img("x", &["prod-a", "v1"], 0)));
        assert!(!r.selects(&img("x", &["prod-a"], 0)));
        let pat = Rule { tag_prefixes: vec![], tag_patterns: vec!["rel-*-final".into()], ..r };
        assert!(pat.selects(&img("x", &["rel-2-final"], 0)));
        assert!(!pat.selects(&img("x", &["rel-2"], 0)));
    }

    #[test]
    fn invalid_policies_are_refused_with_a_reason() {
        for bad in [
            "not json",
            r#"{"rules":[]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countNumber":1},"action":{"type":"expire"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"keep"}}]}"#,
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
                         {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
        ] {
            assert!(LifecyclePolicy::parse(bad).is_err(), "accepted: {bad}");
        }
    }
}
