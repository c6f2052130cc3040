//! Controller expectations (client-go's `ControllerExpectations` and `UIDTrackingControllerExpectations`):
//! after a controller asks for creations or deletions it waits until its cache has observed them (or
//! 5 minutes pass) before acting on the same object again, so a lagging cache never causes
//! duplicate work.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::lock;

const TTL: Duration = Duration::from_secs(300);

struct Exp {
    add: i64,
    del: HashSet<String>,
    at: Instant,
}

/// Pending creations/deletions per controller key.
#[derive(Default)]
pub struct Expectations {
    m: Mutex<HashMap<String, Exp>>,
}

impl Expectations {
    /// Whether the controller may act on `key` (nothing pending, or the record expired).
    pub fn satisfied(&self, key: &str) -> bool {
        match lock(&self.m).get(key) {
            None => true,
            Some(e) => (e.add <= 0 && e.del.is_empty()) || e.at.elapsed() > TTL,
        }
    }

    /// Records that `adds` creations and the deletion of these object keys were requested.
    pub fn expect(&self, key: &str, adds: i64, dels: impl IntoIterator<Item = String>) {
        lock(&self.m).insert(
            key.to_string(),
            Exp {
                add: adds,
                del: dels.into_iter().collect(),
                at: Instant::now(),
            },
        );
    }

    /// `n` creations were observed (or will never happen).
    pub fn creations_observed(&self, key: &str, n: i64) {
        if let Some(e) = lock(&self.m).get_mut(key) {
            e.add -= n;
        }
    }

    /// The deletion of `obj` was observed (or will never happen).
    pub fn deletion_observed(&self, key: &str, obj: &str) {
        if let Some(e) = lock(&self.m).get_mut(key) {
            e.del.remove(obj);
        }
    }

    /// Forgets the key (its object is gone).
    pub fn delete(&self, key: &str) {
        lock(&self.m).remove(key);
    }
}
