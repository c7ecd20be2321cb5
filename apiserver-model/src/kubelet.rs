//! The kubelet: the node agent, talking to the API server only (never to etcd, never
//! called by the control plane), as in Kubernetes.
//!
//! What it does, with Kubernetes' defaults:
//! - registers its Node (capacity and allocatable, the Ready condition), retrying with the
//!   kubelet's backoff (100 ms doubling to 7 s) until the API answers;
//! - renews its node Lease in `kube-node-lease` every 10 s (a quarter of the 40 s lease,
//!   `nodeLeaseRenewIntervalFraction`), which is how the node lifecycle controller knows
//!   it is alive;
//! - computes node status every 10 s (`nodeStatusUpdateFrequency`) and posts it when it
//!   differs from the Node the API holds (so a node the node lifecycle controller marked
//!   Unknown is Ready again within 10 s of the kubelet being heard) or every 5 minutes
//!   (`nodeStatusReportFrequency`);
//! - watches the pods bound to it (an informer on `spec.nodeName`), admits each against its
//!   allocatable minus the pods it already holds, and rejects what does not fit with
//!   `OutOfcpu`, `OutOfmemory` or `OutOfpods` and Kubernetes' message (the scheduler does no
//!   capacity check at binding, so this is the last line);
//! - starts an admitted pod after a sampled delay (image pull and container start) and
//!   reports it Running through `pods/status`;
//! - stops a pod being deleted (its containers exit within a sampled stop time, never after
//!   the grace period) and then deletes it for good (grace 0, on its uid), freeing what it
//!   held; a pod it finds already deleting when it starts (after a restart) is deleted at
//!   once.
//!
//! Each admission, rejection, start and stop is a typed event on the trace
//! ([`KubeEvent`]), which is what the no-overcommit check reads.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{json, Value};
use sim_core::{NodeCtx, Port};

use crate::apiserver::{rfc3339, DeleteOptions, Preconditions, Request};
use crate::client::{ApiClient, ApiClientConfig, CallError};
use crate::events::KubeEvent;
use crate::informer::{namespaced_name, Delta};
use crate::pod_resources::{allocatable_of, requests_of, Resources};
use crate::reflector::{self, InformerSpec, Signal};
use crate::status::ApiError;
use crate::verb::Verb;
use crate::wire::ControlPlaneMsg;

/// The kubelet's port (its `--port`, 10250).
pub const KUBELET_PORT: Port = Port(10250);

/// How one kubelet runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletConfig {
    /// The node's name (its Node object's).
    pub node: String,
    /// CPU capacity (`"4"`).
    pub cpu: String,
    /// Memory capacity (`"8Gi"`).
    pub memory: String,
    /// Pod capacity (`--max-pods`, 110).
    pub max_pods: u64,
    /// The node lease's duration, seconds (40).
    pub lease_duration_s: u64,
    /// How often the lease is renewed, milliseconds (10 s: a quarter of the duration).
    pub lease_renew_ms: u64,
    /// How often node status is reported without a change, milliseconds (5 min).
    pub status_report_ms: u64,
    /// How often it computes node status, milliseconds (`nodeStatusUpdateFrequency`).
    pub status_update_ms: u64,
    /// A pod starts this long after admission at least, milliseconds.
    pub start_delay_min_ms: u64,
    /// And at most this long.
    pub start_delay_max_ms: u64,
    /// A stopping pod's containers exit this long after SIGTERM at least, milliseconds.
    pub stop_delay_min_ms: u64,
    /// And at most this long (never more than the pod's grace period).
    pub stop_delay_max_ms: u64,
}

impl KubeletConfig {
    /// A node named `node` with Kubernetes' defaults and `cpu`/`memory` of capacity.
    pub fn new(node: &str, cpu: &str, memory: &str) -> Self {
        KubeletConfig {
            node: node.to_string(),
            cpu: cpu.to_string(),
            memory: memory.to_string(),
            max_pods: 110,
            lease_duration_s: 40,
            lease_renew_ms: 10_000,
            status_report_ms: 300_000,
            status_update_ms: 10_000,
            // A cached image and a small container: about a second or two.
            start_delay_min_ms: 500,
            start_delay_max_ms: 2_500,
            // A process that handles SIGTERM (nginx does) exits within a second.
            stop_delay_min_ms: 100,
            stop_delay_max_ms: 1_000,
        }
    }

    /// The Node object it registers.
    fn node_object(&self, now_us: i64) -> Value {
        let resources = json!({"cpu": self.cpu, "memory": self.memory,
            "pods": self.max_pods.to_string()});
        let now = rfc3339(now_us, false);
        json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.node,
                "labels": {"kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux"}},
            "status": {"capacity": resources, "allocatable": resources,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
    }
}

/// A pod the kubelet holds.
#[derive(Clone, Debug)]
struct Held {
    uid: String,
    requests: Resources,
}

struct Kubelet {
    client: ApiClient,
    config: KubeletConfig,
    allocatable: Resources,
    /// Admitted pods by `namespace/name`.
    held: RefCell<BTreeMap<String, Held>>,
    /// Pods being stopped, by uid.
    terminating: RefCell<BTreeSet<String>>,
}

/// Runs a kubelet on `ctx`'s component, talking to the API as `api` says.
pub async fn run_kubelet(
    ctx: NodeCtx<ControlPlaneMsg>,
    api: ApiClientConfig,
    config: KubeletConfig,
) {
    let client = ApiClient::new(ctx, api);
    let allocatable = allocatable_of(&config.node_object(0));
    let kubelet = Rc::new(Kubelet {
        client,
        config,
        allocatable,
        held: RefCell::new(BTreeMap::new()),
        terminating: RefCell::new(BTreeSet::new()),
    });
    kubelet.register().await;
    kubelet.client.ctx().spawn(renew_lease(kubelet.clone()));
    kubelet.client.ctx().spawn(report_status(kubelet.clone()));
    let signal = Signal::new();
    let pods = reflector::start(
        &kubelet.client,
        InformerSpec::new("", "pods").on_node(&kubelet.config.node),
        &signal,
    );
    loop {
        let deadline = kubelet.client.ctx().now().after(Duration::from_secs(10));
        signal.wait_until(deadline).await;
        for delta in pods.take_deltas() {
            match delta {
                Delta::Added(pod) | Delta::Updated { new: pod, .. } => kubelet.sync(&pod),
                Delta::Deleted(pod) => kubelet.forget(&pod),
            }
        }
    }
}

fn uid_of(pod: &Value) -> String {
    pod["metadata"]["uid"].as_str().unwrap_or("").to_string()
}

impl Kubelet {
    fn now_us(&self) -> i64 {
        self.client.ctx().local_now_us()
    }

    /// Creates the Node (or finds it made by an earlier start), asking until answered.
    async fn register(&self) {
        let mut backoff_ms = 100;
        loop {
            let node = self.config.node_object(self.now_us());
            let create = Request::new(None, Verb::Create, "", "nodes").with_body(node);
            match self.client.call(create).await {
                Ok(_) | Err(CallError::Api(ApiError::AlreadyExists { .. })) => return,
                Err(_) => {
                    self.client
                        .ctx()
                        .sleep(Duration::from_millis(backoff_ms))
                        .await;
                    backoff_ms = (backoff_ms * 2).min(7_000);
                }
            }
        }
    }

    /// Admits or rejects a pod it has not seen, and notices a deleted one.
    fn sync(self: &Rc<Self>, pod: &Value) {
        let key = namespaced_name(pod);
        let uid = uid_of(pod);
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            self.terminate(pod);
            return;
        }
        let phase = pod.pointer("/status/phase").and_then(Value::as_str);
        if matches!(phase, Some("Failed" | "Succeeded")) {
            return;
        }
        if self.held.borrow().get(&key).is_some_and(|h| h.uid == uid) {
            return;
        }
        let asked = requests_of(pod);
        let used = self
            .held
            .borrow()
            .values()
            .fold(Resources::default(), |sum, h| sum.plus(h.requests));
        let short = self.allocatable.short_of(used, asked);
        if let Some(first) = short.first() {
            self.reject(pod, first, asked, used);
            return;
        }
        self.held.borrow_mut().insert(
            key.clone(),
            Held {
                uid: uid.clone(),
                requests: asked,
            },
        );
        self.client.ctx().record_layer(KubeEvent::PodAdmitted {
            pod: key.clone(),
            uid: uid.clone(),
            cpu_milli: asked.cpu_milli,
            memory_bytes: asked.memory_bytes,
            allocatable_cpu_milli: self.allocatable.cpu_milli,
            allocatable_memory_bytes: self.allocatable.memory_bytes,
        });
        let delay_ms = self.config.start_delay_min_ms
            + self.client.rng_below(
                self.config
                    .start_delay_max_ms
                    .saturating_sub(self.config.start_delay_min_ms)
                    + 1,
            );
        let kubelet = self.clone();
        let pod = pod.clone();
        self.client.ctx().spawn(async move {
            kubelet
                .client
                .ctx()
                .sleep(Duration::from_millis(delay_ms))
                .await;
            if kubelet.held.borrow().get(&key).is_none_or(|h| h.uid != uid) {
                return;
            }
            kubelet.client.ctx().record_layer(KubeEvent::PodStarted { pod: key });
            let now = rfc3339(kubelet.now_us(), false);
            let status = json!({"phase": "Running", "startTime": now,
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
                "containerStatuses": pod["spec"]["containers"].as_array().map(|cs| cs.iter().map(|c| json!({
                    "name": c["name"], "image": c["image"], "ready": true, "restartCount": 0,
                    "state": {"running": {"startedAt": now}}})).collect::<Vec<_>>())});
            kubelet.write_status(&pod, status).await;
        });
    }

    /// Refuses a pod that does not fit, as the kubelet's admission does.
    fn reject(self: &Rc<Self>, pod: &Value, short: &str, asked: Resources, used: Resources) {
        let (requested, in_use, capacity) = match short {
            "cpu" => (asked.cpu_milli, used.cpu_milli, self.allocatable.cpu_milli),
            "memory" => (
                asked.memory_bytes,
                used.memory_bytes,
                self.allocatable.memory_bytes,
            ),
            _ => (asked.pods, used.pods, self.allocatable.pods),
        };
        let reason = format!("OutOf{short}");
        let message = format!(
            "Pod was rejected: Node didn't have enough resource: {short}, requested: {requested}, used: {in_use}, capacity: {capacity}"
        );
        self.client.ctx().record_layer(KubeEvent::PodRejected {
            pod: namespaced_name(pod),
            reason: reason.clone(),
        });
        let kubelet = self.clone();
        let pod = pod.clone();
        self.client.ctx().spawn(async move {
            let status = json!({"phase": "Failed", "reason": reason, "message": message});
            kubelet.write_status(&pod, status).await;
        });
    }

    /// Stops a pod being deleted and then deletes it for good (grace 0, on its uid), as
    /// the kubelet's pod workers do: its containers get SIGTERM and stop within the
    /// sampled stop time, never after the grace period.
    fn terminate(self: &Rc<Self>, pod: &Value) {
        let key = namespaced_name(pod);
        let uid = uid_of(pod);
        if !self.terminating.borrow_mut().insert(uid.clone()) {
            return;
        }
        let grace_ms = pod["metadata"]["deletionGracePeriodSeconds"]
            .as_u64()
            .unwrap_or(30)
            .saturating_mul(1_000);
        let held = self.held.borrow().get(&key).is_some_and(|h| h.uid == uid);
        // A container that handles SIGTERM exits in well under a second; one the kubelet
        // never ran is nothing to stop.
        let stop_ms = if held {
            (self.config.stop_delay_min_ms
                + self.client.rng_below(
                    self.config
                        .stop_delay_max_ms
                        .saturating_sub(self.config.stop_delay_min_ms)
                        + 1,
                ))
            .min(grace_ms)
        } else {
            0
        };
        let kubelet = self.clone();
        let pod = pod.clone();
        self.client.ctx().spawn(async move {
            kubelet
                .client
                .ctx()
                .sleep(Duration::from_millis(stop_ms))
                .await;
            kubelet.forget(&pod);
            let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
            let name = pod["metadata"]["name"].as_str().unwrap_or("");
            let options = DeleteOptions {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..DeleteOptions::default()
            };
            for _ in 0..5 {
                let delete = Request::new(None, Verb::Delete, "", "pods")
                    .in_namespace(ns)
                    .named(name)
                    .with_delete_options(options.clone());
                match kubelet.client.call(delete).await {
                    Ok(_) | Err(CallError::Api(ApiError::NotFound { .. } | ApiError::Conflict { .. })) => break,
                    Err(_) => kubelet.client.ctx().sleep(Duration::from_secs(1)).await,
                }
            }
            kubelet.terminating.borrow_mut().remove(&uid);
        });
    }

    /// Frees what a deleted pod held.
    fn forget(&self, pod: &Value) {
        let key = namespaced_name(pod);
        let uid = uid_of(pod);
        let mut held = self.held.borrow_mut();
        if held.get(&key).is_some_and(|h| h.uid == uid) {
            held.remove(&key);
            drop(held);
            self.client
                .ctx()
                .record_layer(KubeEvent::PodStopped { pod: key, uid });
        }
    }

    /// Writes a pod's status (unconditionally, as the kubelet's status manager patches it),
    /// a few times if the API does not answer.
    async fn write_status(&self, pod: &Value, status: Value) {
        let mut body = pod.clone();
        body["status"] = status;
        if let Some(meta) = body["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        let name = pod["metadata"]["name"].as_str().unwrap_or("");
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
        for _ in 0..3 {
            let request = Request::new(None, Verb::Update, "", "pods")
                .in_namespace(ns)
                .named(name)
                .subresource("status")
                .with_body(body.clone());
            match self.client.call(request).await {
                Ok(_) | Err(CallError::Api(ApiError::NotFound { .. })) => return,
                Err(_) => self.client.ctx().sleep(Duration::from_secs(1)).await,
            }
        }
    }
}

/// Renews the node Lease (creating it the first time) every renew interval.
async fn renew_lease(kubelet: Rc<Kubelet>) {
    let node = kubelet.config.node.clone();
    let interval = Duration::from_millis(kubelet.config.lease_renew_ms);
    loop {
        let renew = rfc3339(kubelet.now_us(), true);
        let get = Request::new(None, Verb::Get, "coordination.k8s.io", "leases")
            .in_namespace("kube-node-lease")
            .named(&node);
        let write = match kubelet.client.call(get).await {
            Ok(mut lease) => {
                lease["spec"]["renewTime"] = json!(renew);
                Some(
                    Request::new(None, Verb::Update, "coordination.k8s.io", "leases")
                        .in_namespace("kube-node-lease")
                        .named(&node)
                        .with_body(lease),
                )
            }
            Err(CallError::Api(ApiError::NotFound { .. })) => {
                let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": node, "namespace": "kube-node-lease"},
                    "spec": {"holderIdentity": node,
                        "leaseDurationSeconds": kubelet.config.lease_duration_s,
                        "renewTime": renew}});
                Some(
                    Request::new(None, Verb::Create, "coordination.k8s.io", "leases")
                        .in_namespace("kube-node-lease")
                        .with_body(lease),
                )
            }
            Err(_) => None,
        };
        if let Some(write) = write {
            // A failed renewal is tried again at the next interval.
            let _ = kubelet.client.call(write).await;
        }
        kubelet.client.ctx().sleep(interval).await;
    }
}

/// The conditions without their heartbeat times (what "status changed" compares).
fn without_heartbeats(conditions: &Value) -> Vec<Value> {
    conditions
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let mut c = c.clone();
                    if let Some(o) = c.as_object_mut() {
                        o.remove("lastHeartbeatTime");
                        o.remove("lastTransitionTime");
                    }
                    c
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Computes node status every update period and posts it when the API's copy differs or
/// the report period has passed (the kubelet's `tryUpdateNodeStatus`).
async fn report_status(kubelet: Rc<Kubelet>) {
    let period = Duration::from_millis(kubelet.config.status_update_ms);
    let report = Duration::from_millis(kubelet.config.status_report_ms);
    let mut last_post = kubelet.client.ctx().now();
    loop {
        kubelet.client.ctx().sleep(period).await;
        let get = Request::new(None, Verb::Get, "", "nodes").named(&kubelet.config.node);
        let Ok(mut node) = kubelet.client.call(get).await else {
            continue;
        };
        let fresh = kubelet.config.node_object(kubelet.now_us());
        let stored = &node["status"]["conditions"];
        let changed =
            without_heartbeats(stored) != without_heartbeats(&fresh["status"]["conditions"]);
        let now = kubelet.client.ctx().now();
        if !changed && now.since(last_post) < report {
            continue;
        }
        let mut conditions = fresh["status"]["conditions"].clone();
        // A condition that keeps its status keeps its transition time.
        if let Some(cs) = conditions.as_array_mut() {
            for c in cs {
                let before = stored
                    .as_array()
                    .and_then(|s| s.iter().find(|o| o["type"] == c["type"]));
                if let Some(before) = before.filter(|b| b["status"] == c["status"]) {
                    c["lastTransitionTime"] = before["lastTransitionTime"].clone();
                }
            }
        }
        node["status"]["conditions"] = conditions;
        let update = Request::new(None, Verb::Update, "", "nodes")
            .named(&kubelet.config.node)
            .subresource("status")
            .with_body(node);
        if kubelet.client.call(update).await.is_ok() {
            last_post = now;
        }
    }
}
