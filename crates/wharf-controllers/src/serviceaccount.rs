//! The ServiceAccount controller: ensures a `default` ServiceAccount exists in every active
//! namespace (recreating it if deleted), as kube-controller-manager's `serviceaccount` controller.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::Api;

use crate::informer::Change;
use crate::queue::{Requeue, WorkQueue};
use crate::util;
use crate::{ControllersConfig, Result, Shared};

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

const NAME: &str = "default";

/// Registers the controller; the queue holds namespace names.
pub fn register(shared: Arc<Shared>, _cfg: &ControllersConfig) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let q = queue.clone();
    shared
        .namespaces
        .on_change(move |c: &Change<'_, Namespace>| match c {
            Change::Added(n) | Change::Updated(_, n) => {
                q.add(n.metadata.name.clone().unwrap_or_default())
            }
            Change::Deleted(_) => {}
        });
    let q = queue.clone();
    shared
        .serviceaccounts
        .on_change(move |c: &Change<'_, ServiceAccount>| {
            if let Change::Deleted(sa) = c {
                if sa.metadata.name.as_deref() == Some(NAME) {
                    q.add(sa.metadata.namespace.clone().unwrap_or_default());
                }
            }
        });
    let q = queue.clone();
    let starter: Starter = Box::new(move || {
        q.spawn_workers("serviceaccount", 1, move |ns| {
            let shared = shared.clone();
            async move { sync(&shared, &ns).await }
        })
    });
    (queue, starter)
}

async fn sync(shared: &Shared, ns: &str) -> Result<Requeue> {
    let Some(n) = shared.namespaces.get(ns) else {
        return Ok(None);
    };
    let terminating = n.metadata.deletion_timestamp.is_some()
        || n.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if terminating
        || shared
            .serviceaccounts
            .get(&format!("{ns}/{NAME}"))
            .is_some()
    {
        return Ok(None);
    }
    let api: Api<ServiceAccount> = Api::namespaced(shared.client.clone(), ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(created) => {
            shared.serviceaccounts.assume(created);
            Ok(None)
        }
        Err(e) if util::is_conflict(&e) => Ok(None),
        // A namespace being deleted refuses new objects.
        Err(kube::Error::Api(s)) if s.code == 403 || s.code == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}
