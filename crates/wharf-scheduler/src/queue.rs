//! The scheduling queue as a pure data structure: an active queue ordered by the QueueSort
//! plugin, a backoff queue (1s doubling to 10s) and the unschedulable pods, which cluster
//! events move back. Time comes from an injectable [`Clock`].

use std::collections::{BinaryHeap, HashMap};
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

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    Active,
    Backoff,
    Unschedulable,
}

/// A backoff entry, ordered so that the earliest expiry is the max of a `BinaryHeap`.
struct BackoffEntry {
    expiry: Duration,
    gen: u64,
    q: QueuedPodInfo,
}

impl PartialEq for BackoffEntry {
    fn eq(&self, o: &Self) -> bool {
        self.expiry == o.expiry && self.gen == o.gen
    }
}
impl Eq for BackoffEntry {}
impl PartialOrd for BackoffEntry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for BackoffEntry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.expiry.cmp(&self.expiry).then(o.gen.cmp(&self.gen))
    }
}

/// The queue. The active queue is a binary heap ordered by the QueueSort plugin and the
/// backoff queue a heap by expiry, both with lazy deletion: `loc` says where each pod really
/// is (with a generation), so add, delete, contains and pop stay O(log n) at 50,000 pods.
pub struct SchedulingQueue<C: Clock> {
    clock: C,
    sort: Box<dyn QueueSort>,
    active: Vec<(u64, QueuedPodInfo)>,
    backoff: BinaryHeap<BackoffEntry>,
    unschedulable: HashMap<String, QueuedPodInfo>,
    loc: HashMap<String, (Loc, u64)>,
    next_gen: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    last_stale_check: Duration,
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
            backoff: BinaryHeap::new(),
            unschedulable: HashMap::new(),
            loc: HashMap::new(),
            next_gen: 0,
            scheduling_cycle: 0,
            move_request_cycle: 0,
            last_stale_check: Duration::ZERO,
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
        let key = match (
            pod.pointer("/metadata/namespace").and_then(Value::as_str),
            pod.pointer("/metadata/name").and_then(Value::as_str),
        ) {
            (ns, Some(name)) => format!("{}/{name}", ns.unwrap_or("default")),
            _ => return false,
        };
        if self.contains(&key) {
            return false;
        }
        let pod = PodInfo::new(pod);
        let now = self.clock.now();
        self.push_active(QueuedPodInfo {
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
        self.loc.contains_key(key)
    }

    /// Removes a pod wherever it is; false when it was not queued.
    pub fn delete(&mut self, key: &str) -> bool {
        match self.loc.remove(key) {
            Some((Loc::Unschedulable, _)) => {
                self.unschedulable.remove(key);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    fn push_active(&mut self, q: QueuedPodInfo) {
        let gen = self.gen();
        self.loc.insert(q.pod.key.clone(), (Loc::Active, gen));
        self.active.push((gen, q));
        let mut i = self.active.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.sort.less(&self.active[i].1, &self.active[parent].1) {
                break;
            }
            self.active.swap(i, parent);
            i = parent;
        }
    }

    fn pop_active(&mut self) -> Option<(u64, QueuedPodInfo)> {
        if self.active.is_empty() {
            return None;
        }
        let top = self.active.swap_remove(0);
        let n = self.active.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && self.sort.less(&self.active[l].1, &self.active[best].1) {
                best = l;
            }
            if r < n && self.sort.less(&self.active[r].1, &self.active[best].1) {
                best = r;
            }
            if best == i {
                break;
            }
            self.active.swap(i, best);
            i = best;
        }
        Some(top)
    }

    fn push_backoff(&mut self, q: QueuedPodInfo) {
        let gen = self.gen();
        self.loc.insert(q.pod.key.clone(), (Loc::Backoff, gen));
        self.backoff.push(BackoffEntry {
            expiry: Self::backoff_expiry(&q),
            gen,
            q,
        });
    }

    fn is_current(&self, key: &str, loc: Loc, gen: u64) -> bool {
        self.loc.get(key) == Some(&(loc, gen))
    }

    /// Moves pods whose backoff has expired to the active queue, then pops the first active
    /// pod in QueueSort order.
    pub fn pop(&mut self) -> Option<QueuedPodInfo> {
        self.flush();
        while let Some((gen, mut q)) = self.pop_active() {
            if !self.is_current(&q.pod.key, Loc::Active, gen) {
                continue;
            }
            self.loc.remove(&q.pod.key);
            self.scheduling_cycle += 1;
            q.attempts += 1;
            q.cycle = self.scheduling_cycle;
            return Some(q);
        }
        None
    }

    /// The backoff after `attempts` failed attempts: 1s, 2s, 4s, 8s, 10s, 10s, ...
    pub fn backoff_duration(attempts: u32) -> Duration {
        let mut d = INITIAL_BACKOFF;
        for _ in 1..attempts {
            d = (d * 2).min(MAX_BACKOFF);
        }
        d
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
            self.push_backoff(q);
        } else {
            let gen = self.gen();
            self.loc
                .insert(q.pod.key.clone(), (Loc::Unschedulable, gen));
            self.unschedulable.insert(q.pod.key.clone(), q);
        }
    }

    /// Returns a pod whose binding failed: it retries after its backoff.
    pub fn add_backoff(&mut self, mut q: QueuedPodInfo) {
        q.timestamp = self.clock.now();
        self.push_backoff(q);
    }

    /// A cluster event happened: every unschedulable pod moves to backoff (if still backing
    /// off) or active.
    pub fn on_event(&mut self, _event: ClusterEvent) {
        let now = self.clock.now();
        let all: Vec<QueuedPodInfo> = self.unschedulable.drain().map(|(_, q)| q).collect();
        for q in all {
            if Self::backoff_expiry(&q) > now {
                self.push_backoff(q);
            } else {
                self.push_active(q);
            }
        }
        self.move_request_cycle = self.scheduling_cycle;
    }

    /// Moves expired backoffs to active and, about once a second, pods unschedulable for
    /// over five minutes back.
    pub fn flush(&mut self) {
        let now = self.clock.now();
        while self.backoff.peek().is_some_and(|e| e.expiry <= now) {
            let Some(e) = self.backoff.pop() else { break };
            if self.is_current(&e.q.pod.key, Loc::Backoff, e.gen) {
                self.push_active(e.q);
            }
        }
        if now.saturating_sub(self.last_stale_check) < Duration::from_secs(1) {
            return;
        }
        self.last_stale_check = now;
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|(_, q)| now.saturating_sub(q.timestamp) > MAX_IN_UNSCHEDULABLE)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(q) = self.unschedulable.remove(&k) {
                if Self::backoff_expiry(&q) > now {
                    self.push_backoff(q);
                } else {
                    self.push_active(q);
                }
            }
        }
    }

    /// When the next backoff expires, for a caller that wants to sleep until then.
    pub fn next_backoff_expiry(&self) -> Option<Duration> {
        self.backoff.peek().map(|e| e.expiry)
    }

    /// Sizes of the active, backoff and unschedulable sets.
    pub fn lens(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for (l, _) in self.loc.values() {
            match l {
                Loc::Active => n.0 += 1,
                Loc::Backoff => n.1 += 1,
                Loc::Unschedulable => n.2 += 1,
            }
        }
        n
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
