//! Validation of repository names, tags and digests (OCI Distribution Spec grammar).

/// Whether `name` matches `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
/// and is at most 255 bytes; rejects `..`, empty components and leading or trailing `/`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut sep = String::new();
    for &b in bytes {
        if alnum(b) {
            if !sep.is_empty() {
                let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|s| s == b'-');
                if !ok {
                    return false;
                }
                sep.clear();
            }
        } else if matches!(b, b'.' | b'_' | b'-') {
            sep.push(b as char);
        } else {
            return false;
        }
    }
    true
}

/// Whether `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// Whether `digest` is `sha256:` followed by 64 lowercase hex digits (the only algorithm served).
pub fn valid_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_should_follow_the_spec_grammar() {
        for ok in ["team/app", "a", "a.b/c__d/e---f", "library/ubuntu_22"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["a/../b", "..", "a//b", "/a", "a/", "A", "a._b", "a___b", "-a", "a/.", ""] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags_and_digests_should_follow_the_spec_grammar() {
        assert!(valid_tag("v1.0_rc-1"));
        assert!(!valid_tag(".hidden"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!valid_digest("sha512:abc"));
    }
}
