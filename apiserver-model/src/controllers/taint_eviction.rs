//! The taint eviction controller: deletes pods from nodes with NoExecute taints they do not
//! tolerate, as kube-controller-manager's `taint-eviction-controller` does (split out of
//! the node lifecycle controller in 1.29).
//!
//! A pod on a node with NoExecute taints is deleted at once if some taint has no matching
//! toleration; otherwise after the smallest `tolerationSeconds` of the tolerations it uses,
//! counted from when the controller first saw it so (a toleration without seconds keeps the
//! pod for good). Every pod gets `node.kubernetes.io/not-ready` and `unreachable`
//! tolerations of 300 s from the API server's DefaultTolerationSeconds admission, so pods
//! of a dead node are deleted 5 minutes after it is tainted, and their ReplicaSets replace
//! them elsewhere. Before deleting it writes the pod's `DisruptionTarget` condition
//! (reason `DeletionByTaintManager`), as Kubernetes does since 1.26.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use sim_core::SimTime;

use super::workqueue::WorkQueue;
use super::writer::{WriteError, Writer};
use super::Informers;
use crate::apiserver::rfc3339;
use crate::client::CallError;
use crate::events::KubeEvent;
use crate::informer::{namespaced_name, Delta};
use crate::scheduler::plugins::tolerates;
use crate::status::ApiError;

/// What to do with a pod given its node's taints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No NoExecute taint it does not tolerate for good.
    Keep,
    /// Delete it this many seconds after first seeing it so.
    EvictAfter(u64),
    /// A taint it does not tolerate: delete it now.
    EvictNow,
}

/// The verdict for `pod` on `node`.
pub fn verdict(pod: &Value, node: &Value) -> Verdict {
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let taints: Vec<&Value> = node["spec"]["taints"]
        .as_array()
        .map(|t| t.iter().filter(|t| t["effect"] == "NoExecute").collect())
        .unwrap_or_default();
    let mut min_s: Option<u64> = None;
    for taint in taints {
        let used: Vec<&Value> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Verdict::EvictNow;
        }
        // The longest-tolerating toleration of this taint decides for it.
        let seconds: Option<u64> = if used.iter().any(|t| t["tolerationSeconds"].is_null()) {
            None
        } else {
            used.iter()
                .filter_map(|t| t["tolerationSeconds"].as_i64())
                .max()
                .map(|s| u64::try_from(s).unwrap_or(0))
        };
        if let Some(s) = seconds {
            min_s = Some(min_s.map_or(s, |m| m.min(s)));
        }
    }
    match min_s {
        None => Verdict::Keep,
        Some(s) => Verdict::EvictAfter(s),
    }
}

/// The controller's state across syncs.
#[derive(Debug, Default)]
pub struct TaintEvictionController {
    /// Pods to look at, by `namespace/name`.
    pub queue: RefCell<WorkQueue>,
    /// When each pod marked for eviction goes.
    scheduled: RefCell<BTreeMap<String, SimTime>>,
}

impl TaintEvictionController {
    /// Notes a pod's change.
    pub fn on_pod(&self, delta: &Delta) {
        self.queue
            .borrow_mut()
            .add(&namespaced_name(delta.object()));
    }

    /// Notes a node's change: every pod on it is looked at again.
    pub fn on_node(&self, delta: &Delta, informers: &Informers) {
        if let Delta::Updated { old, new } = delta {
            if old["spec"]["taints"] == new["spec"]["taints"] {
                return;
            }
        }
        let node = delta.object()["metadata"]["name"].as_str().unwrap_or("");
        let mut queue = self.queue.borrow_mut();
        informers.pods.visit(|pod| {
            if pod["spec"]["nodeName"] == node {
                queue.add(&namespaced_name(pod));
            }
        });
    }

    /// Looks at pod `key`.
    ///
    /// # Errors
    ///
    /// The delete that failed (tried again after the key's backoff).
    pub async fn sync(
        &self,
        key: &str,
        informers: &Informers,
        writer: &Writer,
    ) -> Result<(), WriteError> {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let pod = informers
            .pods
            .get(ns, name)
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none());
        let node = pod
            .as_ref()
            .and_then(|p| p["spec"]["nodeName"].as_str())
            .and_then(|n| informers.nodes.get("", n));
        let (Some(pod), Some(node)) = (pod, node) else {
            self.scheduled.borrow_mut().remove(key);
            return Ok(());
        };
        let now = writer.client().ctx().now();
        let at = match verdict(&pod, &node) {
            Verdict::Keep => {
                self.scheduled.borrow_mut().remove(key);
                return Ok(());
            }
            Verdict::EvictNow => now,
            Verdict::EvictAfter(s) => *self
                .scheduled
                .borrow_mut()
                .entry(key.to_string())
                .or_insert_with(|| now.after(Duration::from_secs(s))),
        };
        if at > now {
            self.queue.borrow_mut().add_at(key, at);
            return Ok(());
        }
        self.evict(&pod, &node, writer).await?;
        self.scheduled.borrow_mut().remove(key);
        Ok(())
    }

    async fn evict(&self, pod: &Value, node: &Value, writer: &Writer) -> Result<(), WriteError> {
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
        let name = pod["metadata"]["name"].as_str().unwrap_or("");
        writer.client().ctx().record_layer(KubeEvent::PodEvicted {
            pod: namespaced_name(pod),
            node: node["metadata"]["name"].as_str().unwrap_or("").to_string(),
        });
        let mut marked = pod.clone();
        let now = rfc3339(writer.client().ctx().local_now_us(), false);
        let condition = json!({"type": "DisruptionTarget", "status": "True",
            "reason": "DeletionByTaintManager", "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": now});
        match marked["status"]["conditions"].as_array_mut() {
            Some(cs) => {
                cs.retain(|c| c["type"] != "DisruptionTarget");
                cs.push(condition);
            }
            None => marked["status"]["conditions"] = json!([condition]),
        }
        let gone = |e: &WriteError| {
            matches!(
                e,
                WriteError::Call(CallError::Api(ApiError::NotFound { .. }))
            )
        };
        match writer.update("", "pods", Some("status"), marked).await {
            Err(e) if gone(&e) => return Ok(()),
            _ => {}
        }
        match writer.delete("", "pods", ns, name).await {
            Err(e) if !gone(&e) => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(taints: Value) -> Value {
        json!({"metadata": {"name": "w1"}, "spec": {"taints": taints}})
    }

    fn pod(tolerations: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"nodeName": "w1", "tolerations": tolerations}})
    }

    fn default_tolerations() -> Value {
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    }

    #[test]
    fn default_tolerations_keep_a_pod_300_s_on_an_unreachable_node() {
        let unreachable =
            node(json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]));
        assert_eq!(
            verdict(&pod(default_tolerations()), &unreachable),
            Verdict::EvictAfter(300)
        );
        assert_eq!(verdict(&pod(json!([])), &unreachable), Verdict::EvictNow);
        assert_eq!(
            verdict(&pod(default_tolerations()), &node(json!([]))),
            Verdict::Keep
        );
        // NoSchedule taints never evict.
        let cordoned =
            node(json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]));
        assert_eq!(verdict(&pod(json!([])), &cordoned), Verdict::Keep);
    }

    #[test]
    fn the_smallest_toleration_over_taints_wins_and_forever_means_keep() {
        let two = node(json!([
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            {"key": "dedicated", "value": "db", "effect": "NoExecute"}]));
        let mut tolerations = default_tolerations();
        tolerations.as_array_mut().unwrap().push(json!({"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute", "tolerationSeconds": 30}));
        assert_eq!(
            verdict(&pod(tolerations.clone()), &two),
            Verdict::EvictAfter(30)
        );
        tolerations.as_array_mut().unwrap().pop();
        assert_eq!(
            verdict(&pod(tolerations), &two),
            Verdict::EvictNow,
            "dedicated is not tolerated"
        );
        let forever = json!([{"operator": "Exists"}]);
        assert_eq!(verdict(&pod(forever), &two), Verdict::Keep);
    }
}
