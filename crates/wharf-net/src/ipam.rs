//! Pod address management for one instance: addresses from the instance's pod range, persisted in a
//! JSON file written atomically (temp file, fsync, rename) before an address is handed out, so a
//! restart never hands out an address twice.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    instance: String,
    pod_cidr: Ipv4Cidr,
    /// Offset in the range where the next search starts, so released addresses rest a while
    /// before they are reused (as the VPC CNI's cool-down does).
    next: u64,
    /// Pod uid → address.
    allocations: BTreeMap<String, Ipv4Addr>,
}

/// The persisted address book of one instance's pod range.
#[derive(Debug)]
pub struct Ipam {
    path: PathBuf,
    state: State,
}

impl Ipam {
    /// Loads the book at `path`, or starts an empty one for `instance` over `pod_cidr`.
    /// A book recorded for a different range is refused rather than silently reset.
    pub fn open(path: &Path, instance: &str, pod_cidr: Ipv4Cidr) -> Result<Ipam> {
        let bad = |detail: String| Error::IpamState { path: path.to_path_buf(), detail };
        let state = match std::fs::read(path) {
            Ok(bytes) => {
                let s: State = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
                if s.pod_cidr != pod_cidr {
                    return Err(bad(format!("recorded for pod range {}, asked for {pod_cidr}", s.pod_cidr)));
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                instance: instance.to_string(),
                pod_cidr,
                next: 0,
                allocations: BTreeMap::new(),
            },
            Err(e) => return Err(Error::io("read ipam state", path, e)),
        };
        Ok(Ipam { path: path.to_path_buf(), state })
    }

    /// The address of `uid`, if it has one.
    pub fn get(&self, uid: &str) -> Option<Ipv4Addr> {
        self.state.allocations.get(uid).copied()
    }

    /// Every allocation, uid → address.
    pub fn allocations(&self) -> &BTreeMap<String, Ipv4Addr> {
        &self.state.allocations
    }

    /// The address of `uid`: the one it already has, or a free one (persisted before returning).
    /// The range's first and last addresses are never handed out, nor any in `reserved`.
    pub fn allocate(&mut self, uid: &str, reserved: &[Ipv4Addr]) -> Result<Ipv4Addr> {
        if let Some(ip) = self.get(uid) {
            return Ok(ip);
        }
        let range = self.state.pod_cidr;
        let size = range.size();
        let (first, last) = if size <= 2 { (0, size - 1) } else { (1, size - 2) };
        let span = last - first + 1;
        let start = self.state.next.clamp(first, last);
        let used: std::collections::HashSet<Ipv4Addr> = self.state.allocations.values().copied().collect();
        for step in 0..span {
            let off = first + (start - first + step) % span;
            let Some(ip) = range.nth(off) else { continue };
            if used.contains(&ip) || reserved.contains(&ip) {
                continue;
            }
            let mut next = self.state.clone();
            next.allocations.insert(uid.to_string(), ip);
            next.next = if off >= last { first } else { off + 1 };
            self.persist(&next)?;
            self.state = next;
            return Ok(ip);
        }
        Err(Error::Exhausted { instance: self.state.instance.clone(), range: range.to_string() })
    }

    /// Releases the address of `uid` (persisted); returns it if there was one.
    pub fn release(&mut self, uid: &str) -> Result<Option<Ipv4Addr>> {
        if !self.state.allocations.contains_key(uid) {
            return Ok(None);
        }
        let mut next = self.state.clone();
        let ip = next.allocations.remove(uid);
        self.persist(&next)?;
        self.state = next;
        Ok(ip)
    }

    fn persist(&self, state: &State) -> Result<()> {
        let path = &self.path;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create dir", dir, e))?;
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| Error::IpamState { path: path.clone(), detail: e.to_string() })?;
        let tmp = path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(&bytes).map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("rename into", path, e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range() -> Ipv4Cidr {
        "10.9.1.0/29".parse().unwrap()
    }

    #[test]
    fn allocate_should_return_the_same_address_for_the_same_uid() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(&dir.path().join("n.json"), "n", range()).unwrap();
        let a = ipam.allocate("pod-a", &[]).unwrap();
        assert_eq!(ipam.allocate("pod-a", &[]).unwrap(), a);
        let b = ipam.allocate("pod-b", &[]).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn reopened_book_should_not_hand_out_an_address_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.json");
        let mut first = Ipam::open(&path, "n", range()).unwrap();
        let a = first.allocate("pod-a", &[]).unwrap();
        let b = first.allocate("pod-b", &[]).unwrap();
        drop(first);
        let mut again = Ipam::open(&path, "n", range()).unwrap();
        assert_eq!(again.get("pod-a"), Some(a));
        let c = again.allocate("pod-c", &[]).unwrap();
        assert!(c != a && c != b);
    }

    #[test]
    fn range_should_skip_network_broadcast_and_reserved_and_then_run_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(&dir.path().join("n.json"), "n", range()).unwrap();
        let reserved: Ipv4Addr = "10.9.1.3".parse().unwrap();
        let mut got = Vec::new();
        for i in 0..5 {
            got.push(ipam.allocate(&format!("p{i}"), &[reserved]).unwrap());
        }
        got.sort();
        let want: Vec<Ipv4Addr> = ["10.9.1.1", "10.9.1.2", "10.9.1.4", "10.9.1.5", "10.9.1.6"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert!(matches!(ipam.allocate("p5", &[reserved]), Err(Error::Exhausted { .. })));
        let freed = ipam.release("p2").unwrap().unwrap();
        assert_eq!(ipam.allocate("p5", &[reserved]).unwrap(), freed);
        assert_eq!(ipam.release("nobody").unwrap(), None);
    }

    #[test]
    fn released_addresses_should_not_be_reused_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::open(&dir.path().join("n.json"), "n", range()).unwrap();
        let a = ipam.allocate("a", &[]).unwrap();
        ipam.release("a").unwrap();
        let b = ipam.allocate("b", &[]).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn book_for_another_range_should_be_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.json");
        Ipam::open(&path, "n", range()).unwrap().allocate("a", &[]).unwrap();
        let other: Ipv4Cidr = "10.9.2.0/29".parse().unwrap();
        assert!(matches!(Ipam::open(&path, "n", other), Err(Error::IpamState { .. })));
    }
}
