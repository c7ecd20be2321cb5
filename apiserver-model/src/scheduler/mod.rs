//! kube-scheduler: places pods that have no node, through the API only.
//!
//! It keeps informers of pods and nodes. A pod with no `spec.nodeName` (and not terminal or
//! being deleted) joins the queue in the order it was seen. For each, the scheduling cycle
//! runs the filters and scores of [`plugins`] over every node and picks the best (ties
//! broken at random, as kube-scheduler does), then **assumes** the pod on that node, so
//! the next cycle already counts its requests there, and binds it in a binding cycle of its
//! own (`pods/binding`, which the API refuses with 409 once a pod has a node). The
//! assumption ends when the informer shows the pod bound (its requests are then counted
//! from the informer) or when the binding fails (the pod goes back to the queue after a
//! backoff of 1 s doubling to 10 s, kube-scheduler's podInitialBackoffSeconds and
//! podMaxBackoffSeconds). A pod no node fits gets `PodScheduled=False` with
//! kube-scheduler's summary and waits until pods or nodes change.
//!
//! Without assumed pods the scheduler would count a node's pods only once their binding
//! came back through the watch, and two pods scheduled in that gap could both be put on a
//! node that fits one: the planted bug `scheduler-forgets-assumed`
//! ([`SchedulerConfig::forget_assumed`]), which the kubelet's admission then catches.

pub mod plugins;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{json, Value};
use sim_core::{NodeCtx, Port};

use crate::apiserver::Request;
use crate::client::{ApiClient, ApiClientConfig};
use crate::events::KubeEvent;
use crate::informer::{namespaced_name, Delta};
use crate::pod_resources::{requests_of, Resources};
use crate::reflector::{self, InformerHandle, InformerSpec, Signal};
use crate::verb::Verb;
use crate::wire::ControlPlaneMsg;
use plugins::{filter, score, scoring_requests, Unfit};

/// The scheduler's port (kube-scheduler's secure port, 10259).
pub const SCHEDULER_PORT: Port = Port(10259);

/// How the scheduler runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Planted bug `scheduler-forgets-assumed`: do not assume a pod on its node between
    /// the decision and the binding's return through the watch.
    pub forget_assumed: bool,
}

/// The first backoff of a pod whose binding failed, milliseconds.
pub const POD_INITIAL_BACKOFF_MS: u64 = 1_000;
/// The longest, milliseconds.
pub const POD_MAX_BACKOFF_MS: u64 = 10_000;

fn node_of(pod: &Value) -> Option<&str> {
    pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty())
}

/// Whether `pod` waits for a node.
fn pending(pod: &Value) -> bool {
    node_of(pod).is_none()
        && pod.pointer("/metadata/deletionTimestamp").is_none()
        && !matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        )
        && pod["spec"]["schedulerName"]
            .as_str()
            .is_none_or(|s| s == "default-scheduler")
}

struct Scheduler {
    client: ApiClient,
    config: SchedulerConfig,
    pods: InformerHandle,
    nodes: InformerHandle,
    /// Pods to place, in order, by key.
    queue: RefCell<VecDeque<String>>,
    /// Pods no node fitted, waiting for a change.
    unschedulable: RefCell<BTreeSet<String>>,
    /// Pods decided but not yet seen bound: node and scoring requests.
    assumed: RefCell<BTreeMap<String, (String, Value)>>,
    /// Backoff of pods whose binding failed, milliseconds.
    backoff_ms: RefCell<BTreeMap<String, u64>>,
}

/// Runs the scheduler on `ctx`'s component.
pub async fn run_scheduler(
    ctx: NodeCtx<ControlPlaneMsg>,
    api: ApiClientConfig,
    config: SchedulerConfig,
) {
    let client = ApiClient::new(ctx, api);
    let signal = Signal::new();
    let pods = reflector::start(&client, InformerSpec::new("", "pods"), &signal);
    let nodes = reflector::start(&client, InformerSpec::new("", "nodes"), &signal);
    let s = Rc::new(Scheduler {
        client,
        config,
        pods,
        nodes,
        queue: RefCell::new(VecDeque::new()),
        unschedulable: RefCell::new(BTreeSet::new()),
        assumed: RefCell::new(BTreeMap::new()),
        backoff_ms: RefCell::new(BTreeMap::new()),
    });
    loop {
        let deadline = s.client.ctx().now().after(Duration::from_secs(10));
        signal.wait_until(deadline).await;
        s.take_deltas();
        if !(s.pods.has_synced() && s.nodes.has_synced()) {
            continue;
        }
        loop {
            let next = s.queue.borrow_mut().pop_front();
            let Some(key) = next else { break };
            s.schedule_one(&key);
        }
    }
}

impl Scheduler {
    fn take_deltas(&self) {
        let mut changed = false;
        for delta in self.nodes.take_deltas() {
            changed |= !matches!(&delta, Delta::Updated { old, new } if old == new);
        }
        for delta in self.pods.take_deltas() {
            match delta {
                Delta::Added(pod) | Delta::Updated { new: pod, .. } => {
                    let key = namespaced_name(&pod);
                    if node_of(&pod).is_some() {
                        // Bound: counted from the informer from now on.
                        self.assumed.borrow_mut().remove(&key);
                    }
                    if pending(&pod) && !self.assumed.borrow().contains_key(&key) {
                        self.enqueue(key);
                    }
                }
                Delta::Deleted(pod) => {
                    let key = namespaced_name(&pod);
                    self.assumed.borrow_mut().remove(&key);
                    self.unschedulable.borrow_mut().remove(&key);
                    changed = true;
                }
            }
        }
        if changed {
            let waiting = std::mem::take(&mut *self.unschedulable.borrow_mut());
            for key in waiting {
                self.enqueue(key);
            }
        }
    }

    fn enqueue(&self, key: String) {
        if self.unschedulable.borrow().contains(&key) {
            return;
        }
        let mut queue = self.queue.borrow_mut();
        if !queue.contains(&key) {
            queue.push_back(key);
        }
    }

    /// What the pods on each node request: bound pods from the informer, plus assumed ones.
    fn usage(&self) -> BTreeMap<String, (Resources, Resources)> {
        let mut usage: BTreeMap<String, (Resources, Resources)> = BTreeMap::new();
        let mut add = |node: &str, pod: &Value| {
            let (fit, scoring) = usage.entry(node.to_string()).or_default();
            *fit = fit.plus(requests_of(pod));
            *scoring = scoring.plus(scoring_requests(pod));
        };
        self.pods.visit(|pod| {
            let terminal = matches!(
                pod.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            if let (Some(node), false) = (node_of(pod), terminal) {
                add(node, pod);
            }
        });
        for (node, pod) in self.assumed.borrow().values() {
            add(node, pod);
        }
        usage
    }

    /// One scheduling cycle.
    fn schedule_one(self: &Rc<Self>, key: &str) {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let Some(pod) = self.pods.get(ns, name).filter(pending) else {
            return;
        };
        let usage = self.usage();
        let mut reasons: BTreeMap<Unfit, usize> = BTreeMap::new();
        let mut best: Vec<(u64, String)> = Vec::new();
        let nodes = self.nodes.objects();
        for node in &nodes {
            let node_name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
            let (fit, scoring) = usage.get(&node_name).copied().unwrap_or_default();
            match filter(&pod, node, fit) {
                Ok(()) => best.push((score(&pod, node, scoring), node_name)),
                Err(why) => *reasons.entry(why).or_default() += 1,
            }
        }
        let top = best.iter().map(|(s, _)| *s).max();
        let winners: Vec<&String> = best
            .iter()
            .filter(|(s, _)| Some(*s) == top)
            .map(|(_, n)| n)
            .collect();
        if winners.is_empty() {
            self.unschedulable.borrow_mut().insert(key.to_string());
            let summary = reasons
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect::<Vec<_>>()
                .join(", ");
            let message = format!("0/{} nodes are available: {summary}.", nodes.len());
            self.client.ctx().record_layer(KubeEvent::PodUnschedulable {
                pod: key.to_string(),
                message: message.clone(),
            });
            self.spawn_status(pod, message);
            return;
        }
        let chosen = winners[self.client.rng_below(winners.len() as u64) as usize].clone();
        if !self.config.forget_assumed {
            self.assumed
                .borrow_mut()
                .insert(key.to_string(), (chosen.clone(), pod.clone()));
        }
        self.client.ctx().record_layer(KubeEvent::PodScheduled {
            pod: key.to_string(),
            node: chosen.clone(),
        });
        let s = self.clone();
        let key = key.to_string();
        self.client
            .ctx()
            .spawn(async move { s.bind(&key, &pod, &chosen).await });
    }

    /// The binding cycle.
    async fn bind(&self, key: &str, pod: &Value, node: &str) {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let binding = json!({"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": pod["metadata"]["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
        let request = Request::new(None, Verb::Create, "", "pods")
            .in_namespace(ns)
            .named(name)
            .subresource("binding")
            .with_body(binding);
        if self.client.call(request).await.is_ok() {
            self.backoff_ms.borrow_mut().remove(key);
            return;
        }
        // Forget the assumption and try again after the pod's backoff.
        self.assumed.borrow_mut().remove(key);
        let wait = {
            let mut backoff = self.backoff_ms.borrow_mut();
            let b = backoff
                .entry(key.to_string())
                .or_insert(POD_INITIAL_BACKOFF_MS / 2);
            *b = (*b * 2).min(POD_MAX_BACKOFF_MS);
            *b
        };
        self.client.ctx().sleep(Duration::from_millis(wait)).await;
        self.enqueue(key.to_string());
    }

    /// Writes `PodScheduled=False` with the reason, as kube-scheduler's failure handler does.
    fn spawn_status(self: &Rc<Self>, pod: Value, message: String) {
        let already = pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "PodScheduled" && c["message"] == message.as_str())
        });
        if already {
            return;
        }
        let s = self.clone();
        self.client.ctx().spawn(async move {
            let mut body = pod.clone();
            body["status"]["phase"] = json!("Pending");
            body["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": message}]);
            if let Some(meta) = body["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
            let request = Request::new(None, Verb::Update, "", "pods")
                .in_namespace(pod["metadata"]["namespace"].as_str().unwrap_or(""))
                .named(pod["metadata"]["name"].as_str().unwrap_or(""))
                .subresource("status")
                .with_body(body);
            let _ = s.client.call(request).await;
        });
    }
}
