//! Kubernetes-shaped events (events.k8s.io/v1) through kube-runtime's `Recorder`, with client-go's
//! spam filter (a burst of 25 per object and reason, then one per 5 minutes) so creating
//! thousands of pods does not double the API load.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Client;

use crate::util::lock;

const BURST: f64 = 25.0;
const REFILL_PER_SEC: f64 = 1.0 / 300.0;

/// An event sink for one controller.
pub struct Events {
    recorder: Recorder,
    buckets: Mutex<HashMap<(String, String), (f64, Instant)>>,
}

impl Events {
    /// A sink reporting as `controller` (e.g. `deployment-controller`).
    pub fn new(client: Client, controller: &str) -> Self {
        Self {
            recorder: Recorder::new(
                client,
                Reporter {
                    controller: controller.into(),
                    instance: None,
                },
            ),
            buckets: Mutex::default(),
        }
    }

    fn allow(&self, r: &ObjectReference, reason: &str) -> bool {
        let key = (r.uid.clone().unwrap_or_default(), reason.to_string());
        let mut b = lock(&self.buckets);
        if b.len() > 10_000 {
            b.retain(|_, (_, t)| t.elapsed().as_secs() < 600);
        }
        let e = b.entry(key).or_insert((BURST, Instant::now()));
        let now = Instant::now();
        e.0 = (e.0 + now.duration_since(e.1).as_secs_f64() * REFILL_PER_SEC).min(BURST);
        e.1 = now;
        if e.0 >= 1.0 {
            e.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// Records a Normal event.
    pub fn normal(&self, r: ObjectReference, reason: &str, action: &str, note: String) {
        self.emit(EventType::Normal, r, reason, action, note)
    }

    /// Records a Warning event.
    pub fn warning(&self, r: ObjectReference, reason: &str, action: &str, note: String) {
        self.emit(EventType::Warning, r, reason, action, note)
    }

    fn emit(&self, type_: EventType, r: ObjectReference, reason: &str, action: &str, note: String) {
        if !self.allow(&r, reason) {
            return;
        }
        let rec = self.recorder.clone();
        let ev = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        tokio::spawn(async move {
            if let Err(e) = rec.publish(&ev, &r).await {
                tracing::debug!(error = %e, "event not recorded");
            }
        });
    }
}
