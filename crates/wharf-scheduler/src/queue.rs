//! The scheduling queue as a pure data structure: an active queue ordered by the QueueSort
//! plugin, a backoff queue (1s doubling to 10s) and the unschedulable pods, which cluster
//! events move back. Time comes from an injectable [`Clock`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::framework::QueueSort;
use crate::plugins::queuesort::PrioritySort;
use crate::snapshot::PodInfo;

/// The scheduler name this queue accepts.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// First backoff.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long a pod may stay unschedulable before it is retried anyway.
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// A source of time (as a duration since an arbitrary epoch).
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Duration;
}

/// The monotonic wall clock.
#[derive(Debug)]
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct FakeClock(AtomicU64);

impl FakeClock {
    /// Moves time forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::SeqCst))
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
}

/// A pod in the queue with its bookkeeping.
#[derive(Debug, Clone)]
pub struct QueuedPodInfo {
    /// The pod.
    pub pod: PodInfo,
    /// When it was (re)queued.
    pub timestamp: Duration,
    /// When it was first queued.
    pub initial_attempt_timestamp: Duration,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// The scheduling cycle of its last pop.
    pub cycle: u64,
}

/// Cluster events that may make unschedulable pods schedulable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A node was added.
    NodeAdd,
    /// A node changed (labels, taints, allocatable, unschedulable).
    NodeUpdate,
    /// A pod was deleted (freeing resources or changing spread/affinity).
    PodDelete,
    /// A pod was bound or changed labels.
    PodUpdate,
}

/// The queue.
pub struct SchedulingQueue<C: Clock> {
    clock: C,
    sort: Box<dyn QueueSort>,
    active: Vec<QueuedPodInfo>,
    backoff: Vec<QueuedPodInfo>,
    unschedulable: HashMap<String, QueuedPodInfo>,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    seen: u64,
}

impl<C: Clock> SchedulingQueue<C> {
    /// An empty queue ordered by PrioritySort.
    pub fn new(clock: C) -> Self {
        Self::with_sort(clock, Box::new(PrioritySort))
    }

    /// An empty queue with a given QueueSort plugin.
    pub fn with_sort(clock: C, sort: Box<dyn QueueSort>) -> Self {
        Self {
            clock,
            sort,
            active: Vec::new(),
            backoff: Vec::new(),
            unschedulable: HashMap::new(),
            scheduling_cycle: 0,
            move_request_cycle: 0,
            seen: 0,
        }
    }

    /// Whether a pod is this scheduler's to place: `spec.schedulerName` is `default-scheduler`
    /// (or unset) and `spec.nodeName` is empty.
    pub fn responsible_for(pod: &Value) -> bool {
        let name = pod
            .pointer("/spec/schedulerName")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_SCHEDULER_NAME);
        let bound = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        name == DEFAULT_SCHEDULER_NAME && !bound
    }

    /// Adds a new pod to the active queue; false (and ignored) when another scheduler owns it,
    /// it is bound, or it is already queued.
    pub fn add(&mut self, pod: Value) -> bool {
        if !Self::responsible_for(&pod) {
            return false;
        }
        let pod = PodInfo::new(pod);
        if self.contains(&pod.key) {
            return false;
        }
        let now = self.clock.now();
        self.seen += 1;
        self.active.push(QueuedPodInfo {
            pod,
            timestamp: now,
            initial_attempt_timestamp: now,
            attempts: 0,
            cycle: 0,
        });
        true
    }

    /// Whether a pod (by `namespace/name`) is anywhere in the queue.
    pub fn contains(&self, key: &str) -> bool {
        self.unschedulable.contains_key(key)
            || self
                .active
                .iter()
                .chain(&self.backoff)
                .any(|q| q.pod.key == key)
    }

    /// Removes a pod wherever it is.
    pub fn delete(&mut self, key: &str) -> Option<QueuedPodInfo> {
        if let Some(q) = self.unschedulable.remove(key) {
            return Some(q);
        }
        for list in [&mut self.active, &mut self.backoff] {
            if let Some(i) = list.iter().position(|q| q.pod.key == key) {
                return Some(list.remove(i));
            }
        }
        None
    }

    /// Moves pods whose backoff has expired to the active queue, then pops the first active
    /// pod in QueueSort order.
    pub fn pop(&mut self) -> Option<QueuedPodInfo> {
        self.flush();
        let mut best = 0;
        for i in 1..self.active.len() {
            if self.sort.less(&self.active[i], &self.active[best]) {
                best = i;
            }
        }
        if self.active.is_empty() {
            return None;
        }
        let mut q = self.active.swap_remove(best);
        self.scheduling_cycle += 1;
        q.attempts += 1;
        q.cycle = self.scheduling_cycle;
        Some(q)
    }

    /// The backoff after `attempts` failed attempts: 1s, 2s, 4s, 8s, 10s, 10s, ...
    pub fn backoff_duration(attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(16);
        (INITIAL_BACKOFF * (1u32 << shift)).min(MAX_BACKOFF)
    }

    fn backoff_expiry(q: &QueuedPodInfo) -> Duration {
        q.timestamp + Self::backoff_duration(q.attempts)
    }

    /// Returns a pod that failed to schedule. If a move request arrived while it was being
    /// scheduled it goes to backoff (it may fit now); otherwise it waits among the
    /// unschedulable pods for a cluster event.
    pub fn add_unschedulable(&mut self, mut q: QueuedPodInfo) {
        q.timestamp = self.clock.now();
        if self.move_request_cycle >= q.cycle {
            self.backoff.push(q);
        } else {
            self.unschedulable.insert(q.pod.key.clone(), q);
        }
    }

    /// A cluster event happened: every unschedulable pod moves to backoff (if still backing
    /// off) or active.
    pub fn on_event(&mut self, _event: ClusterEvent) {
        let now = self.clock.now();
        for (_, q) in self.unschedulable.drain() {
            if Self::backoff_expiry(&q) > now {
                self.backoff.push(q);
            } else {
                self.active.push(q);
            }
        }
        self.move_request_cycle = self.scheduling_cycle;
    }

    /// Moves expired backoffs to active and pods unschedulable for over five minutes back.
    pub fn flush(&mut self) {
        let now = self.clock.now();
        let (ready, waiting): (Vec<_>, Vec<_>) = self
            .backoff
            .drain(..)
            .partition(|q| Self::backoff_expiry(q) <= now);
        self.backoff = waiting;
        self.active.extend(ready);
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|(_, q)| now.saturating_sub(q.timestamp) > MAX_IN_UNSCHEDULABLE)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(q) = self.unschedulable.remove(&k) {
                if Self::backoff_expiry(&q) > now {
                    self.backoff.push(q);
                } else {
                    self.active.push(q);
                }
            }
        }
    }

    /// When the next backoff expires, for a caller that wants to sleep until then.
    pub fn next_backoff_expiry(&self) -> Option<Duration> {
        self.backoff.iter().map(Self::backoff_expiry).min()
    }

    /// Sizes of the active, backoff and unschedulable sets.
    pub fn lens(&self) -> (usize, usize, usize) {
        (
            self.active.len(),
            self.backoff.len(),
            self.unschedulable.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Scheduler;
    use crate::plugins::testutil::*;
    use crate::snapshot::Snapshot;
    use serde_json::json;
    use std::sync::Arc;

    fn prio_pod(name: &str, priority: i64) -> Value {
        let mut p = pod(name, "1", json!({}));
        p["spec"]["priority"] = json!(priority);
        p
    }

    #[test]
    fn queue_should_pop_by_priority_then_timestamp() {
        let clock = Arc::new(FakeClock::default());
        let mut q = SchedulingQueue::new(clock.clone());
        for (n, p) in [("low", 0), ("high", 100), ("low2", 0), ("mid", 50)] {
            assert!(q.add(prio_pod(n, p)));
            clock.advance(Duration::from_millis(1));
        }
        let order: Vec<String> = std::iter::from_fn(|| q.pop()).map(|q| q.pod.key).collect();
        assert_eq!(
            order,
            ["default/high", "default/mid", "default/low", "default/low2"]
        );
    }

    #[test]
    fn queue_should_only_accept_pods_for_the_default_scheduler() {
        let mut q = SchedulingQueue::new(FakeClock::default());
        let mut other = pod("other", "1", json!({}));
        other["spec"]["schedulerName"] = json!("my-scheduler");
        let mut bound = pod("bound", "1", json!({}));
        bound["spec"]["nodeName"] = json!("n1");
        let mut explicit = pod("explicit", "1", json!({}));
        explicit["spec"]["schedulerName"] = json!("default-scheduler");
        let cases = [
            (other, false),
            (bound, false),
            (explicit, true),
            (pod("plain", "1", json!({})), true),
        ];
        for (p, want) in cases {
            assert_eq!(q.add(p), want);
        }
        assert!(
            !q.add(pod("plain", "1", json!({}))),
            "duplicates are ignored"
        );
    }

    #[test]
    fn queue_should_back_off_exponentially_up_to_ten_seconds() {
        let got: Vec<u64> = (1..=6)
            .map(|a| SchedulingQueue::<FakeClock>::backoff_duration(a).as_secs())
            .collect();
        assert_eq!(got, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn queue_should_retry_unschedulable_pods_after_a_node_is_added() {
        let clock = Arc::new(FakeClock::default());
        let mut q = SchedulingQueue::new(clock.clone());
        let mut snap = Snapshot::new(vec![node("small", "500m", "1Gi", json!({}))], Vec::new());
        let mut sched = Scheduler::default();
        q.add(pod("p", "1", json!({})));
        let Some(qp) = q.pop() else {
            panic!("queue empty")
        };
        assert!(sched.schedule_one(&qp.pod, &snap).is_err());
        q.add_unschedulable(qp);
        assert_eq!(q.lens(), (0, 0, 1));
        assert!(q.pop().is_none(), "nothing changed, so nothing to retry");

        snap.add_node(node("big", "4", "8Gi", json!({})));
        q.on_event(ClusterEvent::NodeAdd);
        assert_eq!(q.lens(), (0, 1, 0), "still backing off");
        assert!(q.pop().is_none());
        clock.advance(Duration::from_secs(1));
        let Some(qp) = q.pop() else {
            panic!("pod not retried after backoff")
        };
        assert_eq!(qp.attempts, 2);
        assert_eq!(
            sched.schedule_one(&qp.pod, &snap).map(|r| r.node),
            Ok("big".to_string())
        );
    }

    #[test]
    fn queue_should_send_a_pod_to_backoff_when_an_event_arrived_during_its_cycle() {
        let clock = Arc::new(FakeClock::default());
        let mut q = SchedulingQueue::new(clock.clone());
        q.add(pod("p", "1", json!({})));
        let Some(qp) = q.pop() else {
            panic!("queue empty")
        };
        q.on_event(ClusterEvent::PodDelete);
        q.add_unschedulable(qp);
        assert_eq!(q.lens(), (0, 1, 0));
        clock.advance(Duration::from_secs(1));
        assert!(q.pop().is_some());
    }

    #[test]
    fn queue_should_retry_pods_left_unschedulable_for_five_minutes() {
        let clock = Arc::new(FakeClock::default());
        let mut q = SchedulingQueue::new(clock.clone());
        q.add(pod("p", "1", json!({})));
        let Some(qp) = q.pop() else {
            panic!("queue empty")
        };
        q.add_unschedulable(qp);
        clock.advance(Duration::from_secs(299));
        assert!(q.pop().is_none());
        clock.advance(Duration::from_secs(2));
        assert!(q.pop().is_some());
    }
}
