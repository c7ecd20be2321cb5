//! The Deployment controller's driver: feeds [`super::deployment::sync`] from the term's
//! informers and performs its actions through the API, as the driver's contract in
//! [`super::deployment`] says (in order, stopping at the first failure; AlreadyExists and
//! other refused creates answered by the decision functions made for them).
//!
//! Keys come from Deployments' own changes, from changes of the ReplicaSets they control
//! (their controllerRef), and from deleted pods of a Recreate Deployment (it waits for its
//! old pods to go), as kube-controller-manager's handlers queue them.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use serde_json::Value;

use super::controller_key;
use super::deployment::{self, Action};
use super::replicaset::controller_uid;
use super::workqueue::WorkQueue;
use super::writer::{WriteError, Writer};
use super::Informers;
use crate::client::CallError;
use crate::informer::{namespaced_name, Delta};
use crate::status::ApiError;

/// The Deployment controller's queue.
#[derive(Debug, Default)]
pub struct DeploymentController {
    /// Deployments to sync, by `namespace/name`.
    pub queue: RefCell<WorkQueue>,
}

impl DeploymentController {
    /// Notes a Deployment's change.
    pub fn on_deployment(&self, delta: &Delta) {
        self.queue
            .borrow_mut()
            .add(&namespaced_name(delta.object()));
    }

    /// Notes a ReplicaSet's change: its Deployment is synced.
    pub fn on_replica_set(&self, delta: &Delta) {
        if let Some(key) = controller_key(delta.object(), "Deployment") {
            self.queue.borrow_mut().add(&key);
        }
    }

    /// Notes a pod's change: a deleted pod may be what a Recreate rollout waits for.
    pub fn on_pod(&self, delta: &Delta, informers: &Informers) {
        let Delta::Deleted(pod) = delta else { return };
        let Some(rs_key) = controller_key(pod, "ReplicaSet") else {
            return;
        };
        let (ns, name) = rs_key.split_once('/').unwrap_or(("", &rs_key));
        let Some(rs) = informers.replica_sets.get(ns, name) else {
            return;
        };
        let Some(key) = controller_key(&rs, "Deployment") else {
            return;
        };
        let (dns, dname) = key.split_once('/').unwrap_or(("", &key));
        let recreate = informers
            .deployments
            .get(dns, dname)
            .is_some_and(|d| d["spec"]["strategy"]["type"] == "Recreate");
        if recreate {
            self.queue.borrow_mut().add(&key);
        }
    }

    /// Syncs the Deployment `key`.
    ///
    /// # Errors
    ///
    /// The first action that failed (the key is then retried after its backoff).
    pub async fn sync(
        &self,
        key: &str,
        informers: &Informers,
        writer: &Writer,
    ) -> Result<(), WriteError> {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let Some(d) = informers.deployments.get(ns, name) else {
            return Ok(());
        };
        let uid = d["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let replica_sets: Vec<Value> = informers
            .replica_sets
            .select(|rs| rs["metadata"]["namespace"] == ns && controller_uid(rs) == Some(&uid));
        let owners: BTreeSet<&str> = replica_sets
            .iter()
            .filter_map(|rs| rs["metadata"]["uid"].as_str())
            .collect();
        let pods: Vec<Value> = informers.pods.select(|p| {
            p["metadata"]["namespace"] == ns
                && controller_uid(p).is_some_and(|o| owners.contains(o))
        });
        let now_us = writer.client().ctx().local_now_us();
        let mut actions: VecDeque<Action> =
            deployment::sync(&d, &replica_sets, &pods, now_us).into();
        // A refused create is answered once; what that answer asks is then done as is.
        let mut answered = false;
        while let Some(action) = actions.pop_front() {
            match action {
                Action::CreateReplicaSet(rs) => {
                    let rs_name = rs["metadata"]["name"].as_str().unwrap_or("").to_string();
                    match writer.create("apps", "replicasets", rs).await {
                        Ok(_) => {}
                        Err(WriteError::Call(CallError::Api(e))) if !answered => {
                            answered = true;
                            let next = match &e {
                                ApiError::AlreadyExists { .. } => {
                                    let Some(existing) = informers.replica_sets.get(ns, &rs_name)
                                    else {
                                        // Not seen yet: try again once the informer has it.
                                        return Err(WriteError::Call(CallError::Api(e)));
                                    };
                                    deployment::on_already_exists(
                                        &d,
                                        &replica_sets,
                                        &pods,
                                        &existing,
                                        now_us,
                                    )
                                }
                                ApiError::AdmissionDenied { reason, .. }
                                    if reason.contains("because it is being terminated") =>
                                {
                                    return Ok(());
                                }
                                other => deployment::on_create_failed(
                                    &d,
                                    &replica_sets,
                                    &pods,
                                    &other.to_string(),
                                    now_us,
                                ),
                            };
                            actions = next.into();
                        }
                        Err(e) => return Err(e),
                    }
                }
                Action::UpdateReplicaSet(rs) => {
                    writer.update("apps", "replicasets", None, rs).await?;
                }
                Action::DeleteReplicaSet {
                    namespace,
                    name,
                    uid,
                    resource_version,
                } => match writer
                    .delete_on(
                        "apps",
                        "replicasets",
                        &namespace,
                        &name,
                        &uid,
                        &resource_version,
                    )
                    .await
                {
                    Ok(_) | Err(WriteError::Call(CallError::Api(ApiError::NotFound { .. }))) => {}
                    Err(e) => return Err(e),
                },
                Action::UpdateStatus(object) => {
                    writer
                        .update("apps", "deployments", Some("status"), object)
                        .await?;
                }
                Action::RequeueAfter { after_us } => {
                    let after = Duration::from_micros(u64::try_from(after_us).unwrap_or(0));
                    let at = writer.client().ctx().now().after(after);
                    self.queue.borrow_mut().add_at(key, at);
                }
            }
        }
        Ok(())
    }
}
