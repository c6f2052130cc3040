//! Client-side machinery shared by Wharf's in-cluster components (scheduler, controllers,
//! node agents): leader election on `coordination.k8s.io` Leases, as client-go's
//! `leaderelection` does it, and a bounded, non-blocking event recorder for
//! `events.k8s.io/v1` Events. Everything goes through a `kube::Client`, so a component works
//! the same in-process and from another replica.

pub mod events;
pub mod leader;

pub use events::{EventRecorder, EventSpec};
pub use leader::{LeaderElection, LeaderElectionConfig};
