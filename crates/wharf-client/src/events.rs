//! A bounded, non-blocking recorder of `events.k8s.io/v1` Events. Like client-go's broadcaster
//! it never slows the caller: events queue in a bounded buffer (dropped with a log line when
//! full) and one background task writes them. Repeats of the same (object, reason, note)
//! within ten minutes become an `EventSeries` count update instead of a new object.

use chrono::Utc;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How many events may wait to be written before new ones are dropped (client-go: 1000).
const QUEUE: usize = 1000;
/// How long a repeated event is folded into a series.
const SERIES_WINDOW: Duration = Duration::from_secs(600);

/// One event to record.
#[derive(Debug, Clone)]
pub struct EventSpec {
    /// The object it is about.
    pub regarding: ObjectReference,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// Machine-readable reason, e.g. `FailedScheduling`.
    pub reason: String,
    /// What was done or attempted, e.g. `Scheduling`.
    pub action: String,
    /// Human-readable message.
    pub note: String,
}

/// Sends events to the background writer.
#[derive(Clone)]
pub struct EventRecorder {
    tx: mpsc::Sender<EventSpec>,
}

impl EventRecorder {
    /// Starts the writer for `controller` (e.g. `default-scheduler`) on `instance`.
    pub fn start(client: kube::Client, controller: &str, instance: &str) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(client, controller.to_string(), instance.to_string(), rx));
        Self { tx }
    }

    /// Queues an event; drops it when the queue is full.
    pub fn record(&self, ev: EventSpec) {
        if let Err(mpsc::error::TrySendError::Full(ev)) = self.tx.try_send(ev) {
            tracing::debug!(reason = %ev.reason, "event queue full, event dropped");
        }
    }
}

type SeriesKey = (String, String, String, String, String);

async fn write_events(client: kube::Client, controller: String, instance: String, mut rx: mpsc::Receiver<EventSpec>) {
    let mut seen: HashMap<SeriesKey, (String, i32, Instant)> = HashMap::new();
    let mut last_prune = Instant::now();
    while let Some(ev) = rx.recv().await {
        if last_prune.elapsed() > Duration::from_secs(60) {
            seen.retain(|_, (_, _, t)| t.elapsed() < SERIES_WINDOW);
            last_prune = Instant::now();
        }
        let ns = ev.regarding.namespace.clone().unwrap_or_else(|| "default".to_string());
        let api: Api<Event> = Api::namespaced(client.clone(), &ns);
        let key = (ns.clone(), ev.regarding.uid.clone().unwrap_or_default(), ev.regarding.name.clone().unwrap_or_default(), ev.reason.clone(), ev.note.clone());
        let now = MicroTime(Utc::now());
        if let Some((name, count, at)) = seen.get_mut(&key) {
            if at.elapsed() < SERIES_WINDOW {
                *count += 1;
                *at = Instant::now();
                let patch = serde_json::json!({"series": {"count": *count, "lastObservedTime": now}});
                match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => continue,
                    Err(e) => tracing::debug!(error = %e, "event series update failed; creating a new event"),
                }
            }
        }
        let base = ev.regarding.name.clone().unwrap_or_else(|| controller.clone());
        let name = format!("{base}.{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default());
        let event = Event {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(ns), ..Default::default() },
            event_time: Some(now),
            action: Some(ev.action),
            reason: Some(ev.reason),
            note: Some(ev.note),
            regarding: Some(ev.regarding),
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(instance.clone()),
            type_: Some(ev.type_.to_string()),
            series: None::<EventSeries>,
            ..Default::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                seen.insert(key, (name, 1, Instant::now()));
            }
            Err(e) => tracing::debug!(error = %e, "event write failed"),
        }
    }
}
