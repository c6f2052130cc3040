//! PrioritySort: higher priority first, then earlier queue timestamp.

use crate::framework::{Plugin, QueueSort};
use crate::queue::QueuedPodInfo;

/// Plugin name.
pub const NAME: &str = "PrioritySort";

/// The default QueueSort plugin.
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSort> {
        Some(self)
    }
}

impl QueueSort for PrioritySort {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (pa, pb) = (a.pod.priority, b.pod.priority);
        pa > pb || (pa == pb && a.timestamp < b.timestamp)
    }
}
