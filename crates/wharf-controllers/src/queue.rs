//! A de-duplicating work queue of object keys, as client-go's: a key is never processed by two
//! workers at once, a key added while being processed is processed again afterwards, and failed
//! keys come back with per-key exponential backoff.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::util::lock;

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    dirty: HashSet<String>,
    processing: HashSet<String>,
    failures: HashMap<String, u32>,
    shut: bool,
}

/// The work queue.
#[derive(Default)]
pub struct WorkQueue {
    state: Mutex<State>,
    notify: Notify,
}

/// What a reconcile asks for next.
pub type Requeue = Option<Duration>;

impl WorkQueue {
    /// A new queue.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds a key unless it is already waiting.
    pub fn add(&self, key: impl Into<String>) {
        let key = key.into();
        let mut s = lock(&self.state);
        if s.shut || s.dirty.contains(&key) {
            return;
        }
        s.dirty.insert(key.clone());
        if s.processing.contains(&key) {
            return;
        }
        s.queue.push_back(key);
        drop(s);
        self.notify.notify_one();
    }

    /// Adds a key after a delay.
    pub fn add_after(self: &Arc<Self>, key: String, after: Duration) {
        if after.is_zero() {
            return self.add(key);
        }
        let q = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            q.add(key);
        });
    }

    fn add_rate_limited(self: &Arc<Self>, key: String) {
        let n = {
            let mut s = lock(&self.state);
            let n = s.failures.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let delay =
            Duration::from_millis(5u64.saturating_mul(1 << n.min(14))).min(Duration::from_secs(60));
        self.add_after(key, delay);
    }

    fn forget(&self, key: &str) {
        lock(&self.state).failures.remove(key);
    }

    async fn get(&self) -> Option<String> {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = lock(&self.state);
                if s.shut {
                    return None;
                }
                if let Some(k) = s.queue.pop_front() {
                    s.dirty.remove(&k);
                    s.processing.insert(k.clone());
                    if !s.queue.is_empty() {
                        self.notify.notify_one();
                    }
                    return Some(k);
                }
            }
            notified.await;
        }
    }

    fn done(&self, key: &str) {
        let mut s = lock(&self.state);
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.to_string());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Stops handing out keys.
    pub fn shut_down(&self) {
        lock(&self.state).shut = true;
        self.notify.notify_waiters();
    }

    /// Runs `workers` workers calling `reconcile` for each key until the queue shuts down.
    pub fn spawn_workers<F, Fut>(
        self: &Arc<Self>,
        name: &'static str,
        workers: usize,
        reconcile: F,
    ) -> Vec<tokio::task::JoinHandle<()>>
    where
        F: Fn(String) -> Fut + Send + Sync + Clone + 'static,
        Fut: Future<Output = Result<Requeue, crate::Error>> + Send,
    {
        (0..workers.max(1))
            .map(|_| {
                let q = self.clone();
                let f = reconcile.clone();
                tokio::spawn(async move {
                    while let Some(key) = q.get().await {
                        match f(key.clone()).await {
                            Ok(next) => {
                                q.forget(&key);
                                if let Some(after) = next {
                                    q.add_after(key.clone(), after);
                                }
                            }
                            Err(e) => {
                                tracing::debug!(controller = name, key = %key, error = %e, "sync failed; requeued");
                                q.add_rate_limited(key.clone());
                            }
                        }
                        q.done(&key);
                    }
                })
            })
            .collect()
    }
}
