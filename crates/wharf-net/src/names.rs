//! Kernel object names derived from tags, so concurrent VPCs on one machine never clash.
//! Link names are at most 15 bytes (IFNAMSIZ - 1).

use crate::error::{Error, Result};

/// FNV-1a, 64 bits: stable across releases (unlike `DefaultHasher`), which names that must be
/// found again after a restart need.
pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The VPC bridge of `tag`: `wv` + 8 hex digits.
pub fn bridge_name(tag: &str) -> String {
    format!("wv{:08x}", fnv1a(&[tag]) as u32)
}

/// The host end of instance `name`'s veth in VPC `tag`: `wi` + 8 hex digits.
pub fn instance_host_link(tag: &str, name: &str) -> String {
    format!("wi{:08x}", fnv1a(&[tag, name]) as u32)
}

/// The instance-side end of a pod's veth: `veth` + 11 hex digits of the pod uid's hash.
pub fn pod_host_link(pod_uid: &str) -> String {
    format!("veth{:011x}", fnv1a(&[pod_uid]) & 0xfff_ffff_ffff)
}

/// Checks a tag or instance name: 1..=63 bytes of `[A-Za-z0-9._-]`, not starting with a dot.
pub(crate) fn check(name: &str) -> Result<()> {
    let bad = |reason| Err(Error::Name { name: name.to_string(), reason });
    if name.is_empty() || name.len() > 63 {
        return bad("must be 1 to 63 characters");
    }
    if name.starts_with('.') {
        return bad("must not start with a dot");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_should_fit_ifnamsiz_and_differ_per_tag() {
        assert_eq!(bridge_name("a").len(), 10);
        assert_ne!(bridge_name("a"), bridge_name("b"));
        assert_eq!(instance_host_link("t", "node-1").len(), 10);
        assert_ne!(instance_host_link("t", "node-1"), instance_host_link("u", "node-1"));
        assert_ne!(instance_host_link("ab", "c"), instance_host_link("a", "bc"));
        assert_eq!(pod_host_link("0b6f1c1e-1111-2222-3333-444455556666").len(), 15);
        assert_eq!(bridge_name("a"), bridge_name("a"));
    }

    #[test]
    fn names_with_path_characters_should_be_refused() {
        assert!(check("node-1").is_ok());
        assert!(check("../x").is_err());
        assert!(check("a/b").is_err());
        assert!(check("").is_err());
    }
}
