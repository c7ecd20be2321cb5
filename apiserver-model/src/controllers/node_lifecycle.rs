//! The node lifecycle controller: notices kubelets that stopped reporting, marks their
//! nodes Unknown and taints them, as kube-controller-manager's `nodelifecycle` controller
//! does (pods on a tainted node are then evicted by [`super::taint_eviction`]).
//!
//! Every node monitor period (5 s) it looks at each node. A node is heard from when its
//! Ready condition's `lastHeartbeatTime` or its Lease's `renewTime` (in `kube-node-lease`)
//! changes, **as observed on the controller's clock** (it never trusts the kubelet's clock).
//! Silent for the grace period (`--node-monitor-grace-period`, 50 s since 1.32), the node's
//! conditions become `Unknown` with reason `NodeStatusUnknown` ("Kubelet stopped posting
//! node status."); a node that never posted a Ready condition gets 60 s
//! (`--node-startup-grace-period`) from its creation, then `NodeStatusNeverUpdated`.
//!
//! Taints follow the Ready condition: `False` gives `node.kubernetes.io/not-ready`, `Unknown`
//! gives `node.kubernetes.io/unreachable`, each as NoSchedule (at once, the
//! TaintNodesByCondition pass: the scheduler stops placing pods there) and NoExecute (the
//! eviction taint, at most one node per 10 s per zone: `--node-eviction-rate` 0.1). Ready
//! again removes them. When every node of every zone is not ready the controller assumes
//! the fault is its own side's (a network partition of the control plane, say) and stops
//! evicting: it removes the NoExecute taints instead ("Controller detected that all Nodes
//! are not-Ready. Entering master disruption mode."). A zone with more than 2 nodes and at
//! least 55% not ready (`--unhealthy-zone-threshold`) is partially disrupted: a zone of at
//! most 50 nodes (`--large-cluster-size-threshold`) then evicts at rate 0, a larger one at
//! `--secondary-node-eviction-rate` 0.01.
//!
//! When a node becomes not ready, the pods on it are marked not ready
//! (`MarkPodsNotReady`), so Services stop sending them traffic.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use sim_core::SimTime;

use super::writer::{WriteError, Writer};
use super::Informers;
use crate::apiserver::rfc3339;
use crate::events::KubeEvent;

/// The taint of a node whose Ready condition is False.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint of a node whose Ready condition is Unknown.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// The node lifecycle controller's settings (kube-controller-manager's flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLifecycleConfig {
    /// `--node-monitor-period`, milliseconds.
    pub monitor_period_ms: u64,
    /// `--node-monitor-grace-period`, milliseconds (50 s since 1.32, 40 s before).
    pub grace_period_ms: u64,
    /// `--node-startup-grace-period`, milliseconds.
    pub startup_grace_period_ms: u64,
    /// `--node-eviction-rate`: NoExecute taints per second in a healthy zone, in
    /// thousandths (100: 0.1 a second).
    pub eviction_rate_milli: u64,
    /// `--secondary-node-eviction-rate`, thousandths (10: 0.01 a second).
    pub secondary_eviction_rate_milli: u64,
    /// `--unhealthy-zone-threshold`, percent.
    pub unhealthy_zone_percent: u64,
    /// `--large-cluster-size-threshold`, nodes.
    pub large_cluster_nodes: usize,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        NodeLifecycleConfig {
            monitor_period_ms: 5_000,
            grace_period_ms: 50_000,
            startup_grace_period_ms: 60_000,
            eviction_rate_milli: 100,
            secondary_eviction_rate_milli: 10,
            unhealthy_zone_percent: 55,
            large_cluster_nodes: 50,
        }
    }
}

/// A node's Ready condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Readiness {
    /// `True`.
    Ready,
    /// `False`: the kubelet says it is not ready.
    NotReady,
    /// `Unknown`: nobody has heard from the kubelet.
    Unknown,
    /// No Ready condition yet.
    Missing,
}

/// The Ready condition of `node`.
pub fn readiness(node: &Value) -> Readiness {
    let ready = node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    match ready.and_then(|c| c["status"].as_str()) {
        Some("True") => Readiness::Ready,
        Some("False") => Readiness::NotReady,
        Some(_) => Readiness::Unknown,
        None => Readiness::Missing,
    }
}

/// What the controller remembers of a node between looks (`nodeHealthData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHealth {
    /// When it was last heard from, the controller's clock, microseconds.
    pub probe_us: i64,
    /// The Ready condition's `lastHeartbeatTime` then.
    pub heartbeat: Option<String>,
    /// The Lease's `renewTime` then.
    pub renew: Option<String>,
}

fn ready_heartbeat(node: &Value) -> Option<String> {
    node["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["lastHeartbeatTime"]
        .as_str()
        .map(str::to_string)
}

/// Updates what is remembered of `node` (and its Lease) at `now_us`: a changed heartbeat
/// or renewal is a probe now.
pub fn observe(
    saved: Option<&NodeHealth>,
    node: &Value,
    lease: Option<&Value>,
    now_us: i64,
) -> NodeHealth {
    let heartbeat = ready_heartbeat(node);
    let renew = lease
        .and_then(|l| l["spec"]["renewTime"].as_str())
        .map(str::to_string);
    match saved {
        Some(s) if s.heartbeat == heartbeat && s.renew == renew => s.clone(),
        _ => NodeHealth {
            probe_us: now_us,
            heartbeat,
            renew,
        },
    }
}

/// The node status to write when `node` has been silent too long at `now_us`; `None` when
/// it is fine (or already Unknown).
pub fn silenced_status(
    node: &Value,
    health: &NodeHealth,
    now_us: i64,
    config: &NodeLifecycleConfig,
) -> Option<Value> {
    let readiness = readiness(node);
    let (grace_ms, reason, message) = if readiness == Readiness::Missing {
        (
            config.startup_grace_period_ms,
            "NodeStatusNeverUpdated",
            "Kubelet never posted node status.",
        )
    } else {
        (
            config.grace_period_ms,
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )
    };
    let grace_us = i64::try_from(grace_ms * 1_000).unwrap_or(i64::MAX);
    if health.probe_us.saturating_add(grace_us) >= now_us {
        return None;
    }
    let now = rfc3339(now_us, false);
    let mut status = node["status"].clone();
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    let mut changed = false;
    for kind in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
        match conditions.iter_mut().find(|c| c["type"] == kind) {
            Some(c) if c["status"] == "Unknown" => {}
            Some(c) => {
                c["status"] = json!("Unknown");
                c["reason"] = json!(reason);
                c["message"] = json!(message);
                c["lastTransitionTime"] = json!(now);
                changed = true;
            }
            None => {
                conditions.push(json!({"type": kind, "status": "Unknown", "reason": reason,
                    "message": message, "lastHeartbeatTime": now, "lastTransitionTime": now}));
                changed = true;
            }
        }
    }
    status["conditions"] = json!(conditions);
    changed.then_some(status)
}

/// The condition taint a node with `readiness` should carry, if any.
pub fn condition_taint(readiness: Readiness) -> Option<&'static str> {
    match readiness {
        Readiness::NotReady => Some(NOT_READY_TAINT),
        Readiness::Unknown => Some(UNREACHABLE_TAINT),
        Readiness::Ready | Readiness::Missing => None,
    }
}

/// `node`'s taints with the condition taints of `effect` set to `key` (none: removed);
/// `None` when that changes nothing. A kept taint keeps its `timeAdded`.
pub fn with_condition_taint(
    node: &Value,
    effect: &str,
    key: Option<&str>,
    now_us: i64,
) -> Option<Vec<Value>> {
    let taints: Vec<Value> = node["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ours = |t: &Value| {
        t["effect"] == effect
            && matches!(t["key"].as_str(), Some(NOT_READY_TAINT | UNREACHABLE_TAINT))
    };
    let has = taints
        .iter()
        .filter(|t| ours(t))
        .map(|t| t["key"].as_str().unwrap_or(""))
        .collect::<Vec<_>>();
    if has == key.into_iter().collect::<Vec<_>>() {
        return None;
    }
    let mut out: Vec<Value> = taints.iter().filter(|t| !ours(t)).cloned().collect();
    if let Some(key) = key {
        let mut taint = json!({"key": key, "effect": effect});
        if effect == "NoExecute" {
            taint["timeAdded"] = json!(rfc3339(now_us, false));
        }
        out.push(taint);
    }
    Some(out)
}

/// A zone's state (`ComputeZoneState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    /// Evicting at the normal rate.
    Normal,
    /// Many nodes down: evicting slowly or not at all.
    PartialDisruption,
    /// Every node down.
    FullDisruption,
}

/// The state of a zone whose nodes have `readiness`.
pub fn zone_state(readiness: &[Readiness], config: &NodeLifecycleConfig) -> ZoneState {
    let not_ready = readiness.iter().filter(|r| **r != Readiness::Ready).count();
    if !readiness.is_empty() && not_ready == readiness.len() {
        ZoneState::FullDisruption
    } else if not_ready > 2
        && not_ready * 100 >= readiness.len() * config.unhealthy_zone_percent as usize
    {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// The NoExecute tainting rate of a zone, thousandths of a node per second.
pub fn eviction_rate_milli(
    state: ZoneState,
    zone_size: usize,
    config: &NodeLifecycleConfig,
) -> u64 {
    match state {
        ZoneState::Normal | ZoneState::FullDisruption => config.eviction_rate_milli,
        ZoneState::PartialDisruption if zone_size > config.large_cluster_nodes => {
            config.secondary_eviction_rate_milli
        }
        ZoneState::PartialDisruption => 0,
    }
}

fn zone_of(node: &Value) -> String {
    let labels = &node["metadata"]["labels"];
    let region = labels["topology.kubernetes.io/region"]
        .as_str()
        .unwrap_or("");
    let zone = labels["topology.kubernetes.io/zone"].as_str().unwrap_or("");
    format!("{region}:\u{0}:{zone}")
}

/// The controller's memory across looks.
#[derive(Debug, Default)]
pub struct NodeLifecycleController {
    config: NodeLifecycleConfig,
    health: RefCell<BTreeMap<String, NodeHealth>>,
    /// When each zone may next get a NoExecute taint.
    next_taint: RefCell<BTreeMap<String, SimTime>>,
}

impl NodeLifecycleController {
    /// A controller with `config`.
    pub fn new(config: NodeLifecycleConfig) -> Self {
        NodeLifecycleController {
            config,
            ..Self::default()
        }
    }

    /// The monitor period.
    pub fn period(&self) -> Duration {
        Duration::from_millis(self.config.monitor_period_ms)
    }

    /// One look at every node (`monitorNodeHealth`).
    ///
    /// # Errors
    ///
    /// The first write that failed (the next look tries again).
    pub async fn monitor(&self, informers: &Informers, writer: &Writer) -> Result<(), WriteError> {
        let now_us = writer.client().ctx().local_now_us();
        let now = writer.client().ctx().now();
        let nodes = informers.nodes.objects();
        let mut result = Ok(());
        let mut keep = |r: Result<(), WriteError>| {
            if result.is_ok() {
                result = r;
            }
        };
        // Health first: a silent node becomes Unknown.
        let mut current: Vec<Value> = Vec::new();
        for node in nodes {
            let name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
            let lease = informers.node_leases.get("kube-node-lease", &name);
            let health = observe(
                self.health.borrow().get(&name),
                &node,
                lease.as_ref(),
                now_us,
            );
            self.health
                .borrow_mut()
                .insert(name.clone(), health.clone());
            let mut node = node;
            if let Some(status) = silenced_status(&node, &health, now_us, &self.config) {
                let was_ready = readiness(&node) == Readiness::Ready;
                let mut updated = node.clone();
                updated["status"] = status;
                match writer.update("", "nodes", Some("status"), updated).await {
                    Ok(written) => {
                        writer
                            .client()
                            .ctx()
                            .record_layer(KubeEvent::NodeUnknown { node: name.clone() });
                        node = written;
                        if was_ready {
                            keep(self.mark_pods_not_ready(&name, informers, writer).await);
                        }
                    }
                    Err(e) => keep(Err(e)),
                }
            }
            current.push(node);
        }
        // Zones, then taints.
        let mut zones: BTreeMap<String, Vec<Readiness>> = BTreeMap::new();
        for node in &current {
            zones
                .entry(zone_of(node))
                .or_default()
                .push(readiness(node));
        }
        let states: BTreeMap<String, ZoneState> = zones
            .iter()
            .map(|(z, r)| (z.clone(), zone_state(r, &self.config)))
            .collect();
        let all_down =
            !states.is_empty() && states.values().all(|s| *s == ZoneState::FullDisruption);
        for node in current {
            let ready = readiness(&node);
            let zone = zone_of(&node);
            let mut taints = node["spec"]["taints"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut changed = false;
            let mut node_now = node.clone();
            if let Some(t) =
                with_condition_taint(&node_now, "NoSchedule", condition_taint(ready), now_us)
            {
                taints = t;
                changed = true;
                node_now["spec"]["taints"] = json!(taints);
            }
            let wanted = if all_down {
                None
            } else {
                condition_taint(ready)
            };
            if let Some(t) = with_condition_taint(&node_now, "NoExecute", wanted, now_us) {
                let adding = wanted.is_some();
                let rate = eviction_rate_milli(states[&zone], zones[&zone].len(), &self.config);
                let due = self
                    .next_taint
                    .borrow()
                    .get(&zone)
                    .is_none_or(|t| *t <= now);
                if !adding || (rate > 0 && due) {
                    if adding {
                        self.next_taint.borrow_mut().insert(
                            zone.clone(),
                            now.after(Duration::from_millis(1_000_000 / rate)),
                        );
                    }
                    taints = t;
                    changed = true;
                }
            }
            if changed {
                let mut updated = node.clone();
                updated["spec"]["taints"] = json!(taints);
                let written = writer.update("", "nodes", None, updated).await;
                if written.is_ok() {
                    let name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
                    let taints = taints
                        .iter()
                        .map(|t| {
                            format!(
                                "{}:{}",
                                t["key"].as_str().unwrap_or(""),
                                t["effect"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    writer
                        .client()
                        .ctx()
                        .record_layer(KubeEvent::NodeTaints { node: name, taints });
                }
                keep(written.map(|_| ()));
            }
        }
        result
    }

    /// Sets the Ready condition of every pod on `node` to False (`MarkPodsNotReady`).
    async fn mark_pods_not_ready(
        &self,
        node: &str,
        informers: &Informers,
        writer: &Writer,
    ) -> Result<(), WriteError> {
        let now = rfc3339(writer.client().ctx().local_now_us(), false);
        let mut result = Ok(());
        for pod in informers.pods.select(|p| p["spec"]["nodeName"] == node) {
            let mut updated = pod.clone();
            let Some(conditions) = updated["status"]["conditions"].as_array_mut() else {
                continue;
            };
            let Some(ready) = conditions
                .iter_mut()
                .find(|c| c["type"] == "Ready" && c["status"] != "False")
            else {
                continue;
            };
            ready["status"] = json!("False");
            ready["lastTransitionTime"] = json!(now);
            if let Err(e) = writer.update("", "pods", Some("status"), updated).await {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ready: Option<&str>, heartbeat_s: i64) -> Value {
        let mut n = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"},
            "spec": {}, "status": {"conditions": []}});
        if let Some(status) = ready {
            n["status"]["conditions"] = json!([{"type": "Ready", "status": status,
                "lastHeartbeatTime": rfc3339(heartbeat_s * 1_000_000, false)}]);
        }
        n
    }

    const S: i64 = 1_000_000;

    #[test]
    fn a_node_silent_past_the_grace_period_becomes_unknown() {
        let config = NodeLifecycleConfig::default();
        let n = node(Some("True"), 0);
        let h = observe(None, &n, None, 0);
        assert_eq!(
            silenced_status(&n, &h, 50 * S, &config),
            None,
            "50 s is still within grace"
        );
        let status = silenced_status(&n, &h, 50 * S + 1, &config).expect("silenced");
        let ready = &status["conditions"].as_array().unwrap()[0];
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("Unknown"), Some("NodeStatusUnknown"))
        );
        assert_eq!(ready["message"], "Kubelet stopped posting node status.");
        assert_eq!(status["conditions"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn a_renewed_lease_counts_as_hearing_from_the_node() {
        let config = NodeLifecycleConfig::default();
        let n = node(Some("True"), 0);
        let lease = |s: i64| json!({"spec": {"renewTime": rfc3339(s * S, true)}});
        let h = observe(None, &n, Some(&lease(0)), 0);
        let h = observe(Some(&h), &n, Some(&lease(40)), 40 * S);
        assert_eq!(h.probe_us, 40 * S);
        assert_eq!(silenced_status(&n, &h, 80 * S, &config), None);
        // Unchanged: the probe time stays.
        let h = observe(Some(&h), &n, Some(&lease(40)), 95 * S);
        assert!(silenced_status(&n, &h, 95 * S, &config).is_some());
    }

    #[test]
    fn a_node_that_never_posted_gets_the_startup_grace() {
        let config = NodeLifecycleConfig::default();
        let n = node(None, 0);
        let h = observe(None, &n, None, 0);
        assert_eq!(silenced_status(&n, &h, 55 * S, &config), None);
        let status = silenced_status(&n, &h, 61 * S, &config).unwrap();
        assert_eq!(status["conditions"][0]["reason"], "NodeStatusNeverUpdated");
    }

    #[test]
    fn condition_taints_follow_readiness_and_keep_other_taints() {
        let mut n = node(Some("Unknown"), 0);
        n["spec"]["taints"] = json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]);
        let t =
            with_condition_taint(&n, "NoExecute", condition_taint(readiness(&n)), 7 * S).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1]["key"], UNREACHABLE_TAINT);
        assert_eq!(t[1]["timeAdded"], rfc3339(7 * S, false));
        n["spec"]["taints"] = json!(t);
        assert_eq!(
            with_condition_taint(&n, "NoExecute", Some(UNREACHABLE_TAINT), 9 * S),
            None,
            "already there"
        );
        let swapped = with_condition_taint(&n, "NoExecute", Some(NOT_READY_TAINT), 9 * S).unwrap();
        assert_eq!(swapped[1]["key"], NOT_READY_TAINT);
        let cleared = with_condition_taint(&n, "NoExecute", None, 9 * S).unwrap();
        assert_eq!(
            cleared,
            vec![json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"})]
        );
    }

    #[test]
    fn zones_with_most_nodes_down_stop_evicting() {
        use Readiness::*;
        let config = NodeLifecycleConfig::default();
        assert_eq!(
            zone_state(&[Ready, Ready, Unknown], &config),
            ZoneState::Normal
        );
        assert_eq!(
            zone_state(&[Unknown, Unknown, Unknown], &config),
            ZoneState::FullDisruption
        );
        let five = [Ready, Ready, Unknown, Unknown, Unknown];
        assert_eq!(zone_state(&five, &config), ZoneState::PartialDisruption);
        assert_eq!(
            eviction_rate_milli(ZoneState::PartialDisruption, 5, &config),
            0
        );
        assert_eq!(
            eviction_rate_milli(ZoneState::PartialDisruption, 51, &config),
            10
        );
        assert_eq!(eviction_rate_milli(ZoneState::Normal, 5, &config), 100);
    }
}
