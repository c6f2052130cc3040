//! IPv4 CIDR blocks: parsing, membership, host addresses and the VPC layout.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::error::{Error, Result};

/// An IPv4 network `address/prefix` whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// Builds a block; host bits must be zero and `prefix <= 32`.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<Self> {
        let bad = |reason| Error::Cidr { value: format!("{network}/{prefix}"), reason };
        if prefix > 32 {
            return Err(bad("prefix longer than 32"));
        }
        if u32::from(network) & !mask(prefix) != 0 {
            return Err(bad("host bits set"));
        }
        Ok(Ipv4Cidr { network, prefix })
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// How many addresses the block spans (including network and broadcast).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }

    /// Whether `other` lies entirely inside this block.
    pub fn covers(&self, other: &Ipv4Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.network)
    }

    /// Whether the two blocks share any address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// The block of `prefix` bits that holds `ip` (host bits cleared).
    pub fn containing(ip: Ipv4Addr, prefix: u8) -> Result<Ipv4Cidr> {
        Ipv4Cidr::new(Ipv4Addr::from(u32::from(ip) & mask(prefix.min(32))), prefix)
    }

    /// The `n`th address of the block (0 is the network address), if the block has one.
    pub fn nth(&self, n: u64) -> Option<Ipv4Addr> {
        if n >= self.size() {
            return None;
        }
        Some(Ipv4Addr::from(u32::from(self.network) + n as u32))
    }

    /// The offset of `ip` in the block, if it lies in it.
    pub fn offset_of(&self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip).then(|| u64::from(u32::from(ip) - u32::from(self.network)))
    }

    /// The `index`th sub-block of length `prefix` (e.g. the third /20 of a /16).
    pub fn subnet(&self, prefix: u8, index: u64) -> Result<Ipv4Cidr> {
        let bad = |reason| Error::Cidr { value: format!("{self} -> /{prefix} #{index}"), reason };
        if prefix < self.prefix || prefix > 32 {
            return Err(bad("sub-block prefix outside the block"));
        }
        let count = 1u64 << (prefix - self.prefix);
        if index >= count {
            return Err(bad("block has fewer sub-blocks"));
        }
        let step = 1u64 << (32 - u32::from(prefix));
        Ipv4Cidr::new(Ipv4Addr::from(u32::from(self.network) + (index * step) as u32), prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason| Error::Cidr { value: s.to_string(), reason };
        let (addr, prefix) = s.split_once('/').ok_or_else(|| bad("missing /prefix"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| bad("prefix is not a number"))?;
        Ipv4Cidr::new(addr, prefix)
    }
}

impl serde::Serialize for Ipv4Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_should_parse_and_reject_host_bits() {
        let c: Ipv4Cidr = "172.31.0.0/16".parse().unwrap();
        assert_eq!(c.size(), 65536);
        assert!(c.contains("172.31.200.3".parse().unwrap()));
        assert!(!c.contains("172.32.0.1".parse().unwrap()));
        assert!("172.31.0.1/16".parse::<Ipv4Cidr>().is_err());
        assert!("172.31.0.0/33".parse::<Ipv4Cidr>().is_err());
        assert!("172.31.0.0".parse::<Ipv4Cidr>().is_err());
    }

    #[test]
    fn subnets_should_follow_the_default_vpc_layout() {
        let c: Ipv4Cidr = "172.31.0.0/16".parse().unwrap();
        assert_eq!(c.subnet(20, 0).unwrap().to_string(), "172.31.0.0/20");
        assert_eq!(c.subnet(20, 1).unwrap().to_string(), "172.31.16.0/20");
        assert_eq!(c.subnet(20, 2).unwrap().to_string(), "172.31.32.0/20");
        assert!(c.subnet(20, 16).is_err());
        assert_eq!(c.nth(1), Some("172.31.0.1".parse().unwrap()));
        assert_eq!(c.offset_of("172.31.1.2".parse().unwrap()), Some(258));
        let other = Ipv4Cidr::containing("172.31.5.9".parse().unwrap(), 24).unwrap();
        assert_eq!(other.to_string(), "172.31.5.0/24");
        assert!(c.overlaps(&other) && other.overlaps(&c));
        assert!(!c.overlaps(&"172.30.0.0/16".parse().unwrap()));
    }
}
