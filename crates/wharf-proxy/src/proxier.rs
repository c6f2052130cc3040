//! The proxy's state: Services and endpoints as last seen, the rules last applied per Service, and
//! the Services whose rules are out of date. `sync` turns that into one `nft` transaction: the whole
//! table on the first sync, after a failure or when a full resync is asked for; otherwise only the
//! changed Services' chains, sets and map elements.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::model::{Endpoint, Service, ServiceKey};
use crate::render::{
    diff_script, full_script, hairpin_script, render_service, Fragment, RenderConfig,
};
use crate::Result;

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStats {
    /// Whether the whole table was rewritten.
    pub full: bool,
    /// Services re-rendered.
    pub services: usize,
    /// Lines in the transaction.
    pub lines: usize,
    /// Time to render the transaction.
    pub render: Duration,
    /// Time `nft` took to apply it.
    pub apply: Duration,
}

/// The proxy's state for one node (see the module docs).
#[derive(Debug)]
pub struct Proxier {
    cfg: RenderConfig,
    services: BTreeMap<ServiceKey, Service>,
    /// Service → EndpointSlice name → endpoints.
    slices: BTreeMap<ServiceKey, BTreeMap<String, Vec<Endpoint>>>,
    applied: BTreeMap<ServiceKey, Fragment>,
    /// How many applied fragments DNAT to each endpoint address (its hairpin element exists while > 0).
    hairpin_refs: BTreeMap<Ipv4Addr, usize>,
    /// Which Service holds each map element (address/port): the first one wins, as two elements
    /// with one key cannot coexist and would fail the whole transaction.
    owners: BTreeMap<(&'static str, String), ServiceKey>,
    /// Services that lost an element to another one; re-rendered when an element is released.
    conflicted: BTreeSet<ServiceKey>,
    /// Whether `applied` reflects the kernel (false before the first sync and after a failure).
    in_sync: bool,
    dirty: BTreeSet<ServiceKey>,
}

impl Proxier {
    /// An empty state; the first sync writes the table.
    pub fn new(cfg: RenderConfig) -> Self {
        Self {
            cfg,
            services: BTreeMap::new(),
            slices: BTreeMap::new(),
            applied: BTreeMap::new(),
            hairpin_refs: BTreeMap::new(),
            owners: BTreeMap::new(),
            conflicted: BTreeSet::new(),
            in_sync: false,
            dirty: BTreeSet::new(),
        }
    }

    /// The render configuration.
    pub fn config(&self) -> &RenderConfig {
        &self.cfg
    }

    /// Adds or replaces a Service.
    pub fn upsert_service(&mut self, svc: Service) {
        if self.services.get(&svc.key) != Some(&svc) {
            self.dirty.insert(svc.key.clone());
            self.services.insert(svc.key.clone(), svc);
        }
    }

    /// Removes a Service.
    pub fn remove_service(&mut self, key: &ServiceKey) {
        if self.services.remove(key).is_some() {
            self.dirty.insert(key.clone());
        }
    }

    /// Adds or replaces one EndpointSlice of a Service.
    pub fn upsert_slice(&mut self, svc: ServiceKey, slice: &str, endpoints: Vec<Endpoint>) {
        let slices = self.slices.entry(svc.clone()).or_default();
        if slices.get(slice) != Some(&endpoints) {
            slices.insert(slice.to_string(), endpoints);
            self.dirty.insert(svc);
        }
    }

    /// Removes one EndpointSlice of a Service.
    pub fn remove_slice(&mut self, svc: &ServiceKey, slice: &str) {
        if let Some(slices) = self.slices.get_mut(svc) {
            if slices.remove(slice).is_some() {
                self.dirty.insert(svc.clone());
            }
            if slices.is_empty() {
                self.slices.remove(svc);
            }
        }
    }

    /// Replaces every Service (after a watch restart); only the ones that differ become dirty.
    pub fn replace_services(&mut self, all: Vec<Service>) {
        let keep: BTreeSet<ServiceKey> = all.iter().map(|s| s.key.clone()).collect();
        let gone: Vec<ServiceKey> = self
            .services
            .keys()
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            self.remove_service(&k);
        }
        for s in all {
            self.upsert_service(s);
        }
    }

    /// Replaces every EndpointSlice (after a watch restart): (service, slice name, endpoints).
    pub fn replace_slices(&mut self, all: Vec<(ServiceKey, String, Vec<Endpoint>)>) {
        let keep: BTreeSet<(ServiceKey, String)> =
            all.iter().map(|(k, n, _)| (k.clone(), n.clone())).collect();
        let gone: Vec<(ServiceKey, String)> = self
            .slices
            .iter()
            .flat_map(|(k, m)| m.keys().map(move |n| (k.clone(), n.clone())))
            .filter(|x| !keep.contains(x))
            .collect();
        for (k, n) in gone {
            self.remove_slice(&k, &n);
        }
        for (k, n, e) in all {
            self.upsert_slice(k, &n, e);
        }
    }

    /// Asks the next sync to rewrite the whole table.
    pub fn force_full(&mut self) {
        self.in_sync = false;
    }

    /// Whether a sync has anything to do.
    pub fn pending(&self) -> bool {
        !self.in_sync || !self.dirty.is_empty()
    }

    fn endpoints_of(&self, key: &ServiceKey) -> Vec<Endpoint> {
        self.slices
            .get(key)
            .map(|m| m.values().flatten().cloned().collect())
            .unwrap_or_default()
    }

    fn render(&self, key: &ServiceKey) -> Option<Fragment> {
        let svc = self.services.get(key)?;
        let f = render_service(&self.cfg, svc, &self.endpoints_of(key));
        (f != Fragment::default()).then_some(f)
    }

    /// Drops from `f` the map elements another Service holds and takes the rest.
    fn claim(&mut self, key: &ServiceKey, f: &mut Fragment) {
        let owners = &mut self.owners;
        let mut lost = false;
        f.elements.retain(|e, _| match owners.get(e) {
            Some(o) if o != key => {
                lost = true;
                false
            }
            _ => {
                owners.insert(e.clone(), key.clone());
                true
            }
        });
        if lost {
            self.conflicted.insert(key.clone());
        } else {
            self.conflicted.remove(key);
        }
    }

    /// Services whose address/port is held by another Service (their element is left out).
    pub fn conflicted(&self) -> impl Iterator<Item = &ServiceKey> {
        self.conflicted.iter()
    }

    /// Brings the rules up to date through `apply` (which receives an `nft -f` script). On error
    /// the next sync is a full one.
    pub fn sync(&mut self, apply: &mut dyn FnMut(&str) -> Result<()>) -> Result<SyncStats> {
        let t0 = Instant::now();
        if !self.in_sync {
            let mut next = BTreeMap::new();
            self.owners.clear();
            self.conflicted.clear();
            let keys: Vec<ServiceKey> = self.services.keys().cloned().collect();
            for key in keys {
                if let Some(mut f) = self.render(&key) {
                    self.claim(&key, &mut f);
                    next.insert(key, f);
                }
            }
            let script = full_script(&self.cfg, next.values());
            let render = t0.elapsed();
            let t1 = Instant::now();
            apply(&script)?;
            let stats = SyncStats {
                full: true,
                services: next.len(),
                lines: script.lines().count(),
                render,
                apply: t1.elapsed(),
            };
            self.hairpin_refs.clear();
            for ip in next.values().flat_map(|f| f.hairpin.iter()) {
                *self.hairpin_refs.entry(*ip).or_default() += 1;
            }
            self.applied = next;
            self.in_sync = true;
            self.dirty.clear();
            return Ok(stats);
        }
        let dirty = std::mem::take(&mut self.dirty);
        let mut rendered: Vec<(ServiceKey, Option<Fragment>)> = Vec::with_capacity(dirty.len());
        for k in &dirty {
            let mut f = self.render(k);
            match f.as_mut() {
                Some(f) => self.claim(k, f),
                None => {
                    self.conflicted.remove(k);
                }
            }
            rendered.push((k.clone(), f));
        }
        // Elements a changed Service no longer renders are released.
        let mut released = false;
        for (k, f) in &rendered {
            for e in self.applied.get(k).iter().flat_map(|o| o.elements.keys()) {
                let still = f.as_ref().is_some_and(|f| f.elements.contains_key(e));
                if !still && self.owners.get(e) == Some(k) {
                    self.owners.remove(e);
                    released = true;
                }
            }
        }
        if released {
            let waiting: Vec<ServiceKey> = self
                .conflicted
                .iter()
                .filter(|c| !dirty.contains(*c))
                .cloned()
                .collect();
            self.dirty.extend(waiting);
        }
        let mut script = diff_script(
            &self.cfg.table,
            rendered
                .iter()
                .map(|(k, f)| (self.applied.get(k), f.as_ref())),
        );
        let mut delta: BTreeMap<Ipv4Addr, i64> = BTreeMap::new();
        for (k, f) in &rendered {
            for ip in self.applied.get(k).iter().flat_map(|o| o.hairpin.iter()) {
                *delta.entry(*ip).or_default() -= 1;
            }
            for ip in f.iter().flat_map(|n| n.hairpin.iter()) {
                *delta.entry(*ip).or_default() += 1;
            }
        }
        let (mut add, mut del) = (Vec::new(), Vec::new());
        for (ip, d) in &delta {
            let before = self.hairpin_refs.get(ip).copied().unwrap_or(0) as i64;
            let after = before + d;
            if before == 0 && after > 0 {
                add.push(*ip);
            } else if before > 0 && after <= 0 {
                del.push(*ip);
            }
        }
        script.push_str(&hairpin_script(&self.cfg.table, &add, &del));
        let render = t0.elapsed();
        let t1 = Instant::now();
        if !script.is_empty() {
            if let Err(e) = apply(&script) {
                self.in_sync = false;
                return Err(e);
            }
        }
        let stats = SyncStats {
            full: false,
            services: rendered.len(),
            lines: script.lines().count(),
            render,
            apply: t1.elapsed(),
        };
        for (ip, d) in delta {
            let n = self.hairpin_refs.get(&ip).copied().unwrap_or(0) as i64 + d;
            if n > 0 {
                self.hairpin_refs.insert(ip, n as usize);
            } else {
                self.hairpin_refs.remove(&ip);
            }
        }
        for (k, f) in rendered {
            match f {
                Some(f) => self.applied.insert(k, f),
                None => self.applied.remove(&k),
            };
        }
        Ok(stats)
    }
}
