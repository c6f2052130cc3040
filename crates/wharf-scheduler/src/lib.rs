//! Wharf's scheduler. A pure core — resource accounting over Kubernetes JSON, a node
//! [`Snapshot`], the scheduling framework (one trait per extension point, a name → factory
//! registry), the in-tree plugins of the default profile, the FailedScheduling message and the
//! scheduling queue, all without I/O — and [`runner`], the component that feeds it from API
//! watches and binds, reports and preempts through the API like kube-scheduler.

pub mod framework;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod resources;
pub mod runner;
pub mod snapshot;

pub use framework::{
    default_registry, CycleState, FitError, Framework, Plugin, Registry, ScheduleResult, Scheduler,
    Status, StatusCode,
};
pub use preemption::{Pdb, Preemption};
pub use queue::{Clock, ClusterEvent, FakeClock, QueuedPodInfo, SchedulingQueue, SystemClock};
pub use resources::{pod_requests, Resources};
pub use snapshot::{NodeInfo, PodInfo, Snapshot};
