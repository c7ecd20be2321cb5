//! The scheduling framework's default plugins the model runs, sans-IO: filters that rule a
//! node out and scores that rank the rest, with kube-scheduler's default weights
//! (`pkg/scheduler/apis/config/v1` default profile: NodeResourcesFit 1,
//! NodeResourcesBalancedAllocation 1, TaintToleration 3).
//!
//! Filters: NodeUnschedulable (`spec.unschedulable`), NodeName, NodeSelector (the pod's
//! `nodeSelector` against the node's labels), TaintToleration (a NoSchedule or NoExecute
//! taint the pod does not tolerate), NodeResourcesFit (requests against allocatable minus
//! what the pods already there, assumed ones included, request). Scores: LeastAllocated
//! (the free share of CPU and memory, averaged), BalancedAllocation (one minus the standard
//! deviation of the used shares), TaintToleration (fewer untolerated PreferNoSchedule
//! taints is better), each 0 to 100. For scoring only, a container without requests counts
//! as 100m CPU and 200 MiB (kube-scheduler's non-zero defaults), so empty pods spread.

use serde_json::Value;

use crate::pod_resources::{allocatable_of, requests_of, Resources};

/// kube-scheduler's non-zero CPU request for scoring, millicores.
pub const DEFAULT_MILLI_CPU_REQUEST: u64 = 100;
/// Its non-zero memory request for scoring, bytes.
pub const DEFAULT_MEMORY_REQUEST: u64 = 200 * 1024 * 1024;

/// Default plugin weights.
pub const FIT_WEIGHT: u64 = 1;
/// BalancedAllocation's weight.
pub const BALANCED_WEIGHT: u64 = 1;
/// TaintToleration's weight.
pub const TAINT_WEIGHT: u64 = 3;

/// Why a filter ruled a node out, as kube-scheduler sums them up in a pod's
/// `PodScheduled=False` message (`0/3 nodes are available: 3 Insufficient cpu.`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unfit {
    /// `node(s) were unschedulable`.
    Unschedulable,
    /// `node(s) didn't match Pod's node affinity/selector`.
    Selector,
    /// `node(s) had untolerated taint {key: value}`.
    Taint(String),
    /// `Insufficient cpu`, `Insufficient memory`, `Too many pods`.
    Insufficient(&'static str),
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfit::Unschedulable => f.write_str("node(s) were unschedulable"),
            Unfit::Selector => f.write_str("node(s) didn't match Pod's node affinity/selector"),
            Unfit::Taint(t) => write!(f, "node(s) had untolerated taint {{{t}}}"),
            Unfit::Insufficient("pods") => f.write_str("Too many pods"),
            Unfit::Insufficient(r) => write!(f, "Insufficient {r}"),
        }
    }
}

/// Whether a toleration tolerates a taint (key, operator Exists/Equal, value, effect),
/// `v1helper.TolerationsTolerateTaint`'s rule for one toleration.
pub fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let key = toleration["key"].as_str().unwrap_or("");
    let effect = toleration["effect"].as_str().unwrap_or("");
    if !effect.is_empty() && effect != taint["effect"].as_str().unwrap_or("") {
        return false;
    }
    let exists = toleration["operator"].as_str() == Some("Exists");
    if key.is_empty() {
        return exists;
    }
    key == taint["key"].as_str().unwrap_or("")
        && (exists
            || toleration["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or(""))
}

/// The node's taints with `effects` that no toleration of `pod` tolerates.
fn untolerated<'a>(pod: &Value, node: &'a Value, effects: &[&str]) -> Vec<&'a Value> {
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    node["spec"]["taints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| effects.contains(&t["effect"].as_str().unwrap_or("")))
        .filter(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
        .collect()
}

/// Runs the filters: `Ok` if `pod` may go to `node`, where pods already requesting `used`
/// are (or are assumed to be).
///
/// # Errors
///
/// The first filter that rules it out.
pub fn filter(pod: &Value, node: &Value, used: Resources) -> Result<(), Unfit> {
    if node["spec"]["unschedulable"].as_bool() == Some(true) {
        return Err(Unfit::Unschedulable);
    }
    if let Some(selector) = pod["spec"]["nodeSelector"].as_object() {
        let labels = &node["metadata"]["labels"];
        if selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return Err(Unfit::Selector);
        }
    }
    if let Some(taint) = untolerated(pod, node, &["NoSchedule", "NoExecute"]).first() {
        let t = format!(
            "{}: {}",
            taint["key"].as_str().unwrap_or(""),
            taint["value"].as_str().unwrap_or("")
        );
        return Err(Unfit::Taint(t.trim_end_matches(": ").to_string()));
    }
    let short = allocatable_of(node).short_of(used, requests_of(pod));
    match short.first() {
        Some(r) => Err(Unfit::Insufficient(r)),
        None => Ok(()),
    }
}

/// What a pod counts for in scores: its requests, with the non-zero defaults.
pub fn scoring_requests(pod: &Value) -> Resources {
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut total = requests_of(pod);
    for c in &containers {
        let requests = &c["resources"]["requests"];
        if requests.get("cpu").is_none() {
            total.cpu_milli += DEFAULT_MILLI_CPU_REQUEST;
        }
        if requests.get("memory").is_none() {
            total.memory_bytes += DEFAULT_MEMORY_REQUEST;
        }
    }
    total
}

/// The weighted score of `node` for `pod`, where pods scoring as `used` already are.
pub fn score(pod: &Value, node: &Value, used: Resources) -> u64 {
    let alloc = allocatable_of(node);
    let after = used.plus(scoring_requests(pod));
    let share = |req: u64, cap: u64| {
        if cap == 0 {
            1.0
        } else {
            (req as f64 / cap as f64).min(1.0)
        }
    };
    let cpu = share(after.cpu_milli, alloc.cpu_milli);
    let mem = share(after.memory_bytes, alloc.memory_bytes);
    // LeastAllocated: the free share, 0..100, averaged over CPU and memory.
    let least = (((1.0 - cpu) + (1.0 - mem)) / 2.0 * 100.0) as u64;
    // BalancedAllocation: one minus the standard deviation of the used shares.
    let mean = (cpu + mem) / 2.0;
    let std = (((cpu - mean).powi(2) + (mem - mean).powi(2)) / 2.0).sqrt();
    let balanced = ((1.0 - std) * 100.0) as u64;
    // TaintToleration: normalized over nodes by the caller in Kubernetes; here each
    // untolerated PreferNoSchedule taint costs a tenth.
    let prefer_not = untolerated(pod, node, &["PreferNoSchedule"]).len() as u64;
    let taint = 100u64.saturating_sub(prefer_not * 10);
    FIT_WEIGHT * least + BALANCED_WEIGHT * balanced + TAINT_WEIGHT * taint
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": {"disk": "ssd"}},
            "spec": {"taints": taints},
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "110"}}})
    }

    fn pod(cpu: &str) -> Value {
        json!({"spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}}}]}})
    }

    #[test]
    fn filters_rule_nodes_out_for_kubernetes_reasons() {
        let none = Resources::default();
        let used = Resources {
            cpu_milli: 1800,
            memory_bytes: 0,
            pods: 3,
        };
        type Case = (&'static str, Value, Value, Resources, Result<(), Unfit>);
        let cases: Vec<Case> = vec![
            ("fits", pod("500m"), node("a", "2", json!([])), none, Ok(())),
            (
                "cpu",
                pod("500m"),
                node("a", "2", json!([])),
                used,
                Err(Unfit::Insufficient("cpu")),
            ),
            (
                "taint",
                pod("1"),
                node(
                    "a",
                    "2",
                    json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
                ),
                none,
                Err(Unfit::Taint("node.kubernetes.io/not-ready".into())),
            ),
            (
                "tolerated",
                {
                    let mut p = pod("1");
                    p["spec"]["tolerations"] = json!([{"key": "node.kubernetes.io/not-ready",
                    "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]);
                    p
                },
                node(
                    "a",
                    "2",
                    json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
                ),
                none,
                Ok(()),
            ),
            (
                "selector",
                {
                    let mut p = pod("1");
                    p["spec"]["nodeSelector"] = json!({"disk": "hdd"});
                    p
                },
                node("a", "2", json!([])),
                none,
                Err(Unfit::Selector),
            ),
            (
                "prefer-no-schedule does not filter",
                pod("1"),
                node(
                    "a",
                    "2",
                    json!([{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]),
                ),
                none,
                Ok(()),
            ),
        ];
        for (name, pod, node, used, want) in cases {
            assert_eq!(filter(&pod, &node, used), want, "{name}");
        }
        assert_eq!(Unfit::Insufficient("cpu").to_string(), "Insufficient cpu");
        assert_eq!(Unfit::Insufficient("pods").to_string(), "Too many pods");
    }

    #[test]
    fn scores_prefer_the_emptier_and_better_balanced_node() {
        let p = pod("500m");
        let idle = node("a", "4", json!([]));
        let busy = node("b", "4", json!([]));
        let busy_used = Resources {
            cpu_milli: 3000,
            memory_bytes: 1 << 30,
            pods: 3,
        };
        assert!(score(&p, &idle, Resources::default()) > score(&p, &busy, busy_used));
        // An empty pod still counts for spreading.
        let empty = json!({"spec": {"containers": [{"name": "c"}]}});
        assert_eq!(
            scoring_requests(&empty),
            Resources {
                cpu_milli: 100,
                memory_bytes: 200 << 20,
                pods: 1
            }
        );
        // A PreferNoSchedule taint costs score, weighted 3.
        let tainted = node(
            "c",
            "4",
            json!([{"key": "k", "effect": "PreferNoSchedule"}]),
        );
        assert_eq!(
            score(&p, &idle, Resources::default()) - score(&p, &tainted, Resources::default()),
            30
        );
    }
}
