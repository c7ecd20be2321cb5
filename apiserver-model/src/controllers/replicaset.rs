//! The ReplicaSet controller: keeps as many active pods as a ReplicaSet asks for, as
//! kube-controller-manager's `replicaset` controller does.
//!
//! The decision ([`decide`]) is sans-IO: from the ReplicaSet and the pods it owns (by
//! controllerRef uid), how many pods to create or which to delete, and the status to
//! report. The driver ([`sync`]) performs it: creates in **slow-start** batches of 1, 2,
//! 4, ... (stopping at the first failure, so a quota that refuses the first pod costs one
//! request, not five hundred), deletes concurrently, and writes the status.
//!
//! **Expectations** guard against acting twice on one observation: after asking for n
//! creates (or for deletes of given pods) the controller does not decide again for that
//! ReplicaSet until its informer has shown them (or 5 minutes have passed, client-go's
//! `ExpectationsTimeout`). Without them, a sync that runs before the informer has seen the
//! pods just created would create them again.
//!
//! Pods are picked for deletion in Kubernetes' order (`controller.ActivePods` ranking):
//! unscheduled before scheduled, Pending before Unknown before Running, not ready before
//! ready, ready for less time before longer, more restarts before fewer, newer before
//! older. Orphaned pods whose labels match a ReplicaSet are not adopted here (Kubernetes
//! adopts them with a patch); the model's pods are always created by their ReplicaSet.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use sim_core::SimTime;

use super::deployment::is_pod_available;
use super::workqueue::WorkQueue;
use super::writer::{WriteError, Writer};
use super::Informers;
use crate::client::CallError;
use crate::informer::{namespaced_name, Delta};
use crate::status::ApiError;

/// kube-controller-manager's `burstReplicas`: at most this many creates or deletes a sync.
pub const BURST_REPLICAS: usize = 500;
/// client-go's `ExpectationsTimeout`: expectations older than this are given up, ms.
pub const EXPECTATIONS_TIMEOUT_MS: u64 = 300_000;
/// `SlowStartInitialBatchSize`.
pub const SLOW_START_INITIAL_BATCH: usize = 1;

/// What one decision asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplicaSetAction {
    /// Create `count` pods like `pod` (its name generated from `<replicaset>-`).
    CreatePods {
        /// The pod to create, from the template.
        pod: Value,
        /// How many.
        count: usize,
    },
    /// Delete these pods (`namespace/name`, uid).
    DeletePods(Vec<(String, String)>),
    /// Write this status (the ReplicaSet's `status`).
    UpdateStatus(Value),
}

/// Whether `pod` is controlled by the object with `uid`.
pub fn controlled_by(pod: &Value, uid: &str) -> bool {
    controller_uid(pod) == Some(uid)
}

/// The uid of `object`'s controller (the ownerReference with `controller: true`).
pub fn controller_uid(object: &Value) -> Option<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
}

/// Not terminal and not being deleted (`controller.IsPodActive`).
pub fn is_active(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none()
        && !matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        )
}

/// When the pod's Ready condition turned true, microseconds since the epoch; `None` when
/// it is not ready.
fn ready_since_us(pod: &Value) -> Option<i64> {
    let ready = pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")?;
    Some(
        ready["lastTransitionTime"]
            .as_str()
            .and_then(super::parse_time_us)
            .unwrap_or(0),
    )
}

/// Whether `pod` is ready.
pub fn is_ready(pod: &Value) -> bool {
    ready_since_us(pod).is_some()
}

fn labels_match(labels: &Value, wanted: &Value) -> bool {
    wanted
        .as_object()
        .is_none_or(|w| w.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// The pod a ReplicaSet's template makes (`controller.GetPodFromTemplate`).
pub fn pod_from_template(rs: &Value) -> Value {
    let template = &rs["spec"]["template"];
    let name = rs["metadata"]["name"].as_str().unwrap_or("");
    let mut metadata = json!({
        "generateName": format!("{name}-"),
        "namespace": rs["metadata"]["namespace"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name,
            "uid": rs["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template["metadata"].get(field) {
            metadata[field] = v.clone();
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]})
}

fn phase_rank(pod: &Value) -> u8 {
    match pod.pointer("/status/phase").and_then(Value::as_str) {
        Some("Pending") | None => 0,
        Some("Running") => 2,
        _ => 1,
    }
}

fn restarts(pod: &Value) -> u64 {
    pod["status"]["containerStatuses"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["restartCount"].as_u64()).sum())
        .unwrap_or(0)
}

/// The `n` pods to delete first, in Kubernetes' ranking (see the module docs).
pub fn pods_to_delete<'a>(pods: &[&'a Value], n: usize) -> Vec<&'a Value> {
    let mut ranked: Vec<&Value> = pods.to_vec();
    ranked.sort_by_key(|p| {
        let scheduled = p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let ready = ready_since_us(p);
        // Later creation first: negate the time.
        let created = p["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(super::parse_time_us)
            .unwrap_or(0);
        (
            scheduled,
            phase_rank(p),
            ready.is_some(),
            std::cmp::Reverse(ready.unwrap_or(0)),
            std::cmp::Reverse(restarts(p)),
            std::cmp::Reverse(created),
            namespaced_name(p),
        )
    });
    ranked.truncate(n);
    ranked
}

/// The status a ReplicaSet with these owned active pods reports (`calculateStatus`).
pub fn status(rs: &Value, active: &[&Value], now_us: i64) -> Value {
    let min_ready_s = rs["spec"]["minReadySeconds"]
        .as_i64()
        .and_then(|s| i32::try_from(s).ok())
        .unwrap_or(0);
    let template_labels = &rs["spec"]["template"]["metadata"]["labels"];
    let count = |f: &dyn Fn(&Value) -> bool| active.iter().filter(|p| f(p)).count();
    let mut status = json!({
        "replicas": active.len(),
        "fullyLabeledReplicas": count(&|p| labels_match(&p["metadata"]["labels"], template_labels)),
        "readyReplicas": count(&|p| is_ready(p)),
        "availableReplicas": count(&|p| is_pod_available(p, min_ready_s, now_us)),
        "observedGeneration": rs["metadata"]["generation"],
    });
    if let Some(conditions) = rs["status"].get("conditions") {
        status["conditions"] = conditions.clone();
    }
    status
}

/// The decision for `rs` given every pod of its namespace (see the module docs);
/// `may_manage`: its expectations are satisfied.
pub fn decide(rs: &Value, pods: &[Value], may_manage: bool, now_us: i64) -> Vec<ReplicaSetAction> {
    let uid = rs["metadata"]["uid"].as_str().unwrap_or("");
    let active: Vec<&Value> = pods
        .iter()
        .filter(|p| controlled_by(p, uid) && is_active(p))
        .collect();
    let mut actions = Vec::new();
    if may_manage && rs.pointer("/metadata/deletionTimestamp").is_none() {
        let want =
            usize::try_from(rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0)).unwrap_or(0);
        if active.len() < want {
            actions.push(ReplicaSetAction::CreatePods {
                pod: pod_from_template(rs),
                count: (want - active.len()).min(BURST_REPLICAS),
            });
        } else if active.len() > want {
            let n = (active.len() - want).min(BURST_REPLICAS);
            actions.push(ReplicaSetAction::DeletePods(
                pods_to_delete(&active, n)
                    .into_iter()
                    .map(|p| {
                        (
                            namespaced_name(p),
                            p["metadata"]["uid"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect(),
            ));
        }
    }
    let new_status = status(rs, &active, now_us);
    if rs.get("status") != Some(&new_status) {
        actions.push(ReplicaSetAction::UpdateStatus(new_status));
    }
    actions
}

/// What one ReplicaSet waits to see (client-go's `UIDTrackingControllerExpectations`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectation {
    /// Creates asked for and not yet seen.
    pub adds: i64,
    /// Pods asked to be deleted and not yet seen deleted (`namespace/name`).
    pub deletes: BTreeSet<String>,
    /// When they were set.
    pub set_at: SimTime,
}

/// Every ReplicaSet's expectations, by `namespace/name`.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    by_rs: BTreeMap<String, Expectation>,
}

impl Expectations {
    /// Whether `rs` may be managed: nothing expected, all seen, or expired.
    pub fn satisfied(&self, rs: &str, now: SimTime) -> bool {
        self.by_rs.get(rs).is_none_or(|e| {
            (e.adds <= 0 && e.deletes.is_empty())
                || now.since(e.set_at) > Duration::from_millis(EXPECTATIONS_TIMEOUT_MS)
        })
    }

    /// Expects `adds` creates and the deletion of `deletes` for `rs`.
    pub fn expect(&mut self, rs: &str, adds: usize, deletes: &[String], now: SimTime) {
        self.by_rs.insert(
            rs.to_string(),
            Expectation {
                adds: i64::try_from(adds).unwrap_or(i64::MAX),
                deletes: deletes.iter().cloned().collect(),
                set_at: now,
            },
        );
    }

    /// A create of `rs` was seen, or will never happen (it failed or was skipped).
    pub fn creation_observed(&mut self, rs: &str) {
        if let Some(e) = self.by_rs.get_mut(rs) {
            e.adds -= 1;
        }
    }

    /// The deletion of `pod` (owned by `rs`) was seen, or will never happen.
    pub fn deletion_observed(&mut self, rs: &str, pod: &str) {
        if let Some(e) = self.by_rs.get_mut(rs) {
            e.deletes.remove(pod);
        }
    }

    /// Forgets `rs` (deleted).
    pub fn remove(&mut self, rs: &str) {
        self.by_rs.remove(rs);
    }
}

/// Creates `count` copies of `pod` in slow-start batches (`slowStartBatch`): 1, then twice
/// as many each time, a batch's creates concurrent. Stops after the first batch with a
/// failure; returns how many were created and the first failure. Every create that failed
/// or was never sent is one the caller's expectations must stop waiting for.
pub async fn slow_start_create(
    writer: &Writer,
    pod: &Value,
    count: usize,
) -> (usize, Option<WriteError>) {
    let mut created = 0;
    let mut batch = SLOW_START_INITIAL_BATCH.min(count);
    while batch > 0 {
        let answers = futures_util::future::join_all(
            (0..batch).map(|_| writer.create("", "pods", pod.clone())),
        )
        .await;
        let mut failed = None;
        for answer in answers {
            match answer {
                Ok(_) => created += 1,
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if failed.is_some() {
            return (created, failed);
        }
        batch = (2 * batch).min(count - created);
    }
    (created, None)
}

/// The ReplicaSet controller's state across syncs: its queue and expectations.
#[derive(Debug, Default)]
pub struct ReplicaSetController {
    /// ReplicaSets to sync, by `namespace/name`.
    pub queue: RefCell<WorkQueue>,
    expectations: RefCell<Expectations>,
}

impl ReplicaSetController {
    /// Notes a ReplicaSet's change.
    pub fn on_replica_set(&self, delta: &Delta) {
        self.queue
            .borrow_mut()
            .add(&namespaced_name(delta.object()));
    }

    /// Notes a pod's change: its owner is synced, and what it expected may be seen.
    pub fn on_pod(&self, delta: &Delta) {
        let pod = delta.object();
        let Some(rs) = super::controller_key(pod, "ReplicaSet") else {
            return;
        };
        let key = namespaced_name(pod);
        let mut expectations = self.expectations.borrow_mut();
        match delta {
            Delta::Added(_) if pod.pointer("/metadata/deletionTimestamp").is_none() => {
                expectations.creation_observed(&rs);
            }
            Delta::Updated { old, new }
                if old.pointer("/metadata/deletionTimestamp").is_none()
                    && new.pointer("/metadata/deletionTimestamp").is_some() =>
            {
                // A graceful delete shows first as a deletionTimestamp: counted as deleted.
                expectations.deletion_observed(&rs, &key);
            }
            Delta::Deleted(_) => expectations.deletion_observed(&rs, &key),
            _ => {}
        }
        drop(expectations);
        self.queue.borrow_mut().add(&rs);
    }

    /// Syncs the ReplicaSet `key`.
    ///
    /// # Errors
    ///
    /// The first write that failed (the key is then retried after its backoff).
    pub async fn sync(
        &self,
        key: &str,
        informers: &Informers,
        writer: &Writer,
    ) -> Result<(), WriteError> {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let Some(rs) = informers.replica_sets.get(ns, name) else {
            self.expectations.borrow_mut().remove(key);
            return Ok(());
        };
        let now = writer.client().ctx().now();
        let now_us = writer.client().ctx().local_now_us();
        let uid = rs["metadata"]["uid"].as_str().unwrap_or("");
        let pods: Vec<Value> = informers
            .pods
            .select(|p| p["metadata"]["namespace"] == ns && controlled_by(p, uid));
        let may_manage = self.expectations.borrow().satisfied(key, now);
        let mut result = Ok(());
        for action in decide(&rs, &pods, may_manage, now_us) {
            let step = match action {
                ReplicaSetAction::CreatePods { pod, count } => {
                    self.expectations.borrow_mut().expect(key, count, &[], now);
                    let (created, failed) = slow_start_create(writer, &pod, count).await;
                    for _ in created..count {
                        self.expectations.borrow_mut().creation_observed(key);
                    }
                    failed.map_or(Ok(()), Err)
                }
                ReplicaSetAction::DeletePods(victims) => {
                    let keys: Vec<String> = victims.iter().map(|(k, _)| k.clone()).collect();
                    self.expectations.borrow_mut().expect(key, 0, &keys, now);
                    let answers = futures_util::future::join_all(victims.iter().map(|(pod, _)| {
                        let (pns, pname) = pod.split_once('/').unwrap_or(("", pod));
                        writer.delete("", "pods", pns, pname)
                    }))
                    .await;
                    let mut failed = Ok(());
                    for ((pod, _), answer) in victims.iter().zip(answers) {
                        match answer {
                            Ok(_)
                            | Err(WriteError::Call(CallError::Api(ApiError::NotFound {
                                ..
                            }))) => {}
                            Err(e) => {
                                self.expectations.borrow_mut().deletion_observed(key, pod);
                                if failed.is_ok() {
                                    failed = Err(e);
                                }
                            }
                        }
                    }
                    failed
                }
                ReplicaSetAction::UpdateStatus(status) => {
                    let mut object = rs.clone();
                    object["status"] = status;
                    writer
                        .update("apps", "replicasets", Some("status"), object)
                        .await
                        .map(|_| ())
                }
            };
            if result.is_ok() {
                result = step;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-abc", "namespace": "default", "uid": "rs-1", "generation": 2},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}})
    }

    /// A pod of `rs-1` created at second `created_s`, on `node` (or none), ready since
    /// second `ready_s` (or not).
    fn pod(name: &str, created_s: i64, node: Option<&str>, ready_s: Option<i64>) -> Value {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                "labels": {"app": "web"},
                "creationTimestamp": crate::apiserver::rfc3339(created_s * 1_000_000, false),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-abc", "uid": "rs-1", "controller": true}]},
            "spec": {}, "status": {"phase": "Pending"}});
        if let Some(node) = node {
            p["spec"]["nodeName"] = json!(node);
        }
        if let Some(ready_s) = ready_s {
            p["status"]["phase"] = json!("Running");
            p["status"]["conditions"] = json!([{"type": "Ready", "status": "True",
                "lastTransitionTime": crate::apiserver::rfc3339(ready_s * 1_000_000, false)}]);
        }
        p
    }

    #[test]
    fn creates_what_is_missing_from_the_template_with_an_owner_reference() {
        let pods = vec![pod("a", 1, Some("w1"), Some(2))];
        let actions = decide(&rs(3), &pods, true, 10_000_000);
        let ReplicaSetAction::CreatePods { pod, count } = &actions[0] else {
            panic!("{actions:?}")
        };
        assert_eq!(*count, 2);
        assert_eq!(pod["metadata"]["generateName"], "web-abc-");
        assert_eq!(pod["metadata"]["labels"]["app"], "web");
        let owner = &pod["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["uid"].as_str(), owner["controller"].as_bool()),
            (Some("rs-1"), Some(true))
        );
        assert_eq!(pod["spec"]["containers"][0]["name"], "nginx");
    }

    #[test]
    fn counts_only_active_pods_it_controls() {
        let mut other = pod("x", 1, Some("w1"), Some(2));
        other["metadata"]["ownerReferences"][0]["uid"] = json!("rs-2");
        let mut leaving = pod("y", 1, Some("w1"), Some(2));
        leaving["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:01:00Z");
        let mut failed = pod("z", 1, Some("w1"), None);
        failed["status"]["phase"] = json!("Failed");
        let actions = decide(&rs(1), &[other, leaving, failed], true, 0);
        assert!(
            matches!(&actions[0], ReplicaSetAction::CreatePods { count: 1, .. }),
            "{actions:?}"
        );
    }

    #[test]
    fn deletes_unscheduled_then_not_ready_then_the_newest_first() {
        let pods = vec![
            pod("old-ready", 1, Some("w1"), Some(5)),
            pod("new-ready", 3, Some("w2"), Some(5)),
            pod("not-ready", 2, Some("w1"), None),
            pod("unscheduled", 1, None, None),
        ];
        let order = |n: usize| match &decide(&rs(4 - n as i64), &pods, true, 100_000_000)[0] {
            ReplicaSetAction::DeletePods(v) => v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            order(4),
            [
                "default/unscheduled",
                "default/not-ready",
                "default/new-ready",
                "default/old-ready"
            ]
        );
        assert_eq!(order(1), ["default/unscheduled"]);
    }

    #[test]
    fn waits_on_expectations_but_still_reports_status() {
        let actions = decide(&rs(3), &[], false, 0);
        assert_eq!(actions.len(), 1);
        let ReplicaSetAction::UpdateStatus(s) = &actions[0] else {
            panic!("{actions:?}")
        };
        assert_eq!(s["replicas"], 0);
        assert_eq!(s["observedGeneration"], 2);
    }

    #[test]
    fn status_counts_ready_and_available_after_min_ready_seconds() {
        let mut set = rs(2);
        set["spec"]["minReadySeconds"] = json!(10);
        let pods = vec![
            pod("a", 0, Some("w1"), Some(1)),
            pod("b", 0, Some("w1"), Some(8)),
        ];
        let active: Vec<&Value> = pods.iter().collect();
        let s = status(&set, &active, 12_000_000);
        assert_eq!(
            (
                s["replicas"].as_u64(),
                s["readyReplicas"].as_u64(),
                s["availableReplicas"].as_u64()
            ),
            (Some(2), Some(2), Some(1))
        );
        assert_eq!(s["fullyLabeledReplicas"], 2);
        // Nothing to do and the status already says so: no write.
        set["status"] = s;
        assert!(decide(&set, &pods, true, 12_000_000).is_empty());
    }

    #[test]
    fn expectations_hold_until_seen_or_expired() {
        let mut e = Expectations::default();
        let t0 = SimTime::from_ms(1_000);
        assert!(e.satisfied("default/web", t0));
        e.expect("default/web", 2, &["default/p".to_string()], t0);
        assert!(!e.satisfied("default/web", t0));
        e.creation_observed("default/web");
        e.creation_observed("default/web");
        assert!(
            !e.satisfied("default/web", t0),
            "a delete is still expected"
        );
        e.deletion_observed("default/web", "default/p");
        assert!(e.satisfied("default/web", t0));
        e.expect("default/web", 1, &[], t0);
        assert!(e.satisfied(
            "default/web",
            SimTime::from_ms(1_000 + EXPECTATIONS_TIMEOUT_MS + 1)
        ));
    }
}
