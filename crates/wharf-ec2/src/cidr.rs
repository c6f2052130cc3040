//! IPv4 CIDR blocks: parsing in AWS's strict form, containment and overlap.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 CIDR block whose host bits are zero (`172.31.0.0/16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

/// Why a CIDR did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid IPv4 CIDR block")]
pub struct CidrError(pub String);

impl Cidr {
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }
    /// The block's first address as a number.
    pub fn start(&self) -> u32 {
        u32::from(self.addr)
    }
    /// The block's last address as a number.
    pub fn end(&self) -> u32 {
        self.start() | !Self::mask(self.prefix)
    }
    /// Number of addresses in the block.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
    /// Whether `other` lies entirely inside this block.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && other.start() >= self.start() && other.end() <= self.end()
    }
    /// Whether the two blocks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.start() <= other.end() && other.start() <= self.end()
    }
    /// Whether an address lies in the block.
    pub fn contains_addr(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        n >= self.start() && n <= self.end()
    }
    /// The `index`th sub-block of length `prefix` (`None` if out of range or shorter).
    pub fn subnet(&self, prefix: u8, index: u32) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let count = 1u64 << u32::from(prefix - self.prefix);
        if u64::from(index) >= count {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let start = u64::from(self.start()) + u64::from(index) * step;
        Some(Cidr { addr: Ipv4Addr::from(u32::try_from(start).ok()?), prefix })
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CidrError(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(err)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| err())?;
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let prefix: u8 = p.parse().map_err(|_| err())?;
        if prefix > 32 {
            return Err(err());
        }
        if u32::from(addr) & !Self::mask(prefix) != 0 {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_with_host_bits_or_bad_prefixes_are_rejected() {
        for bad in ["10.0.0.1/16", "10.0.0.0/33", "10.0.0.0", "10.0.0.0/", "10.0.0/16", "x/8", "10.0.0.0/+8", "10.0.0.0/008"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(c("172.31.0.0/16").to_string(), "172.31.0.0/16");
        assert_eq!(c("0.0.0.0/0").size(), 1 << 32);
    }

    #[test]
    fn containment_and_overlap_follow_address_ranges() {
        let vpc = c("172.31.0.0/16");
        assert!(vpc.contains(&c("172.31.16.0/20")));
        assert!(!vpc.contains(&c("172.30.0.0/20")));
        assert!(!vpc.contains(&c("172.0.0.0/8")));
        assert!(c("172.31.0.0/20").overlaps(&c("172.31.15.0/24")));
        assert!(!c("172.31.0.0/20").overlaps(&c("172.31.16.0/24")));
        assert!(vpc.contains_addr("172.31.255.255".parse().unwrap()));
    }

    #[test]
    fn sub_blocks_are_numbered_from_the_start() {
        let vpc = c("172.31.0.0/16");
        assert_eq!(vpc.subnet(20, 0), Some(c("172.31.0.0/20")));
        assert_eq!(vpc.subnet(20, 1), Some(c("172.31.16.0/20")));
        assert_eq!(vpc.subnet(20, 2), Some(c("172.31.32.0/20")));
        assert_eq!(vpc.subnet(20, 16), None);
        assert_eq!(vpc.subnet(8, 0), None);
    }
}
