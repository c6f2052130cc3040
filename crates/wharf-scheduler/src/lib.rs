//! The pure core of Wharf's scheduler: resource accounting over Kubernetes JSON, a node
//! [`Snapshot`], the scheduling framework (one trait per extension point, a name → factory
//! registry), the in-tree plugins of the default profile, the FailedScheduling message and the
//! scheduling queue. No I/O: the caller feeds pods and nodes and binds the result.

pub mod framework;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod resources;
pub mod snapshot;

pub use framework::{
    default_registry, CycleState, FitError, Framework, Plugin, Registry, ScheduleResult, Scheduler,
    Status, StatusCode,
};
pub use preemption::{Pdb, Preemption};
pub use queue::{Clock, ClusterEvent, FakeClock, QueuedPodInfo, SchedulingQueue, SystemClock};
pub use resources::{pod_requests, Resources};
pub use snapshot::{NodeInfo, PodInfo, Snapshot};
