//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules: a candidate
//! takes the Lease when it is free or when its holder has not renewed it for
//! `leaseDurationSeconds` as observed *locally* (so clocks need not agree); the leader renews
//! every `retry_period` and gives up leadership when it could not renew within
//! `renew_deadline`. Writes use optimistic concurrency (resourceVersion), so two candidates
//! can never both win the same term.

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where and how to elect.
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    /// Namespace of the Lease (kube-system for control-plane components).
    pub namespace: String,
    /// Lease name, e.g. `kube-scheduler`.
    pub name: String,
    /// This candidate's identity (unique per replica).
    pub identity: String,
    /// How long a lease is valid without renewal (client-go default 15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up (default 10 s).
    pub renew_deadline: Duration,
    /// Interval between attempts (default 2 s).
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// Kubernetes' defaults for a component Lease in `kube-system`.
    pub fn new(name: &str, identity: &str) -> Self {
        Self {
            namespace: "kube-system".into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A candidate in one election.
pub struct LeaderElection {
    api: Api<Lease>,
    cfg: LeaderElectionConfig,
    /// The last record seen and when it was first seen locally.
    observed: Option<(LeaseSpec, Instant)>,
}

fn now() -> MicroTime {
    MicroTime(Utc::now())
}

impl LeaderElection {
    /// A candidate using `client`.
    pub fn new(client: kube::Client, cfg: LeaderElectionConfig) -> Self {
        Self { api: Api::namespaced(client, &cfg.namespace), cfg, observed: None }
    }

    /// One attempt to acquire or renew; true when this candidate holds the Lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> bool {
        match self.attempt().await {
            Ok(held) => held,
            Err(e) => {
                tracing::debug!(lease = %self.cfg.name, error = %e, "leader election attempt failed");
                false
            }
        }
    }

    async fn attempt(&mut self) -> Result<bool, kube::Error> {
        let me = self.cfg.identity.clone();
        let secs = i32::try_from(self.cfg.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let current = match self.api.get_opt(&self.cfg.name).await? {
            Some(l) => l,
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(self.cfg.name.clone()), namespace: Some(self.cfg.namespace.clone()), ..Default::default() },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(me),
                        lease_duration_seconds: Some(secs),
                        acquire_time: Some(now()),
                        renew_time: Some(now()),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                let created = self.api.create(&PostParams::default(), &lease).await?;
                self.observed = created.spec.map(|s| (s, Instant::now()));
                return Ok(true);
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        if self.observed.as_ref().map(|(s, _)| s) != Some(&spec) {
            self.observed = Some((spec.clone(), Instant::now()));
        }
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_by_me = holder == self.cfg.identity;
        let observed_at = self.observed.as_ref().map(|(_, t)| *t).unwrap_or_else(Instant::now);
        let duration = Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0));
        if !holder.is_empty() && !held_by_me && observed_at.elapsed() < duration {
            return Ok(false);
        }
        let mut next = current;
        let mut s = spec.clone();
        if !held_by_me {
            s.holder_identity = Some(me);
            s.acquire_time = Some(now());
            s.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + i32::from(!holder.is_empty()));
        }
        s.renew_time = Some(now());
        s.lease_duration_seconds = Some(secs);
        next.spec = Some(s);
        let updated = self.api.replace(&self.cfg.name, &PostParams::default(), &next).await?;
        self.observed = updated.spec.map(|s| (s, Instant::now()));
        Ok(true)
    }

    /// Runs `work` whenever this candidate leads, until `shutdown` becomes true. `work` gets a
    /// receiver that turns true when leadership is lost, and must return promptly then.
    pub async fn run<F, Fut>(mut self, mut shutdown: watch::Receiver<bool>, work: F)
    where
        F: Fn(watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        loop {
            // Follower: retry until the Lease is ours.
            while !self.try_acquire_or_renew().await {
                tokio::select! {
                    _ = tokio::time::sleep(self.cfg.retry_period) => {}
                    _ = shutdown.changed() => return,
                }
                if *shutdown.borrow() {
                    return;
                }
            }
            tracing::info!(lease = %self.cfg.name, identity = %self.cfg.identity, "became leader");
            let (lost_tx, lost_rx) = watch::channel(false);
            let mut task = tokio::spawn(work(lost_rx));
            let mut last_renew = Instant::now();
            let stop = loop {
                tokio::select! {
                    _ = tokio::time::sleep(self.cfg.retry_period) => {}
                    _ = shutdown.changed() => break true,
                    _ = &mut task => break false,
                }
                if self.try_acquire_or_renew().await {
                    last_renew = Instant::now();
                } else if last_renew.elapsed() >= self.cfg.renew_deadline {
                    tracing::warn!(lease = %self.cfg.name, identity = %self.cfg.identity, "lost leadership");
                    break false;
                }
            };
            let _ = lost_tx.send(true);
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
            if stop || *shutdown.borrow() {
                self.release().await;
                return;
            }
        }
    }

    /// Gives the Lease up (as client-go's ReleaseOnCancel) so a successor need not wait.
    async fn release(&mut self) {
        let Ok(Some(mut l)) = self.api.get_opt(&self.cfg.name).await else { return };
        let Some(s) = l.spec.as_mut() else { return };
        if s.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            return;
        }
        s.holder_identity = None;
        s.lease_duration_seconds = Some(1);
        s.renew_time = Some(now());
        let _ = self.api.replace(&self.cfg.name, &PostParams::default(), &l).await;
    }
}
