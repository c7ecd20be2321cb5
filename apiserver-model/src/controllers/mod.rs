//! kube-controller-manager: the controllers that turn what users asked for into what
//! runs, each a loop over informers and the API, in one process per replica; the replicas
//! elect a leader through a Lease and only the leader runs controllers.
//!
//! A replica campaigns ([`crate::leader_election`]); once it leads it starts a **term**:
//! informers of what the controllers read, shared by them all, and one loop that hands
//! each informer delta to the controllers interested, which queue keys
//! ([`workqueue::WorkQueue`]) and sync them, a bounded number at a time
//! (kube-controller-manager's `--concurrent-*-syncs`). When a renewal fails for the renew
//! deadline the term ends: its informers stop, its pending writes are never sent
//! ([`writer::Writer`]), and after a restart delay the replica campaigns again with
//! nothing kept (kube-controller-manager exits on `leaderelection lost` and its
//! supervisor starts it again; so a new term lists everything afresh).
//!
//! Each controller's decisions are sans-IO functions with table tests beside them; the
//! async parts here only read informers and write through the API.

pub mod deployment;
pub mod deployment_sync;
pub mod garbage_collector;
pub mod node_lifecycle;
pub mod replicaset;
pub mod taint_eviction;
pub mod workqueue;
pub mod writer;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use sim_core::{NodeCtx, Port, SimTime};

use crate::client::{ApiClient, ApiClientConfig};
use crate::leader_election::{LeaderElectionConfig, LeaderElector};
use crate::reflector::{self, InformerHandle, InformerSpec, Signal};
use crate::wire::ControlPlaneMsg;
use deployment_sync::DeploymentController;
use garbage_collector::GarbageCollector;
use node_lifecycle::{NodeLifecycleConfig, NodeLifecycleController};
use replicaset::ReplicaSetController;
use taint_eviction::TaintEvictionController;
use workqueue::WorkQueue;
use writer::{WriteError, Writer};

/// kube-controller-manager's secure port.
pub const CONTROLLER_MANAGER_PORT: Port = Port(10257);

/// The role a leading replica's node declares (a fault file's
/// `node = "role:controller-manager-leader"`).
pub const LEADER_ROLE: &str = "controller-manager-leader";
/// The role of a replica that campaigns (or waits to run again).
pub const CANDIDATE_ROLE: &str = "controller-manager-candidate";

/// `namespace/name` of `object`'s controller (its ownerReference with `controller: true`)
/// when that is of `kind`; controllers live in their dependents' namespace.
pub fn controller_key(object: &serde_json::Value, kind: &str) -> Option<String> {
    let owner = object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true && r["kind"] == kind)?;
    Some(format!(
        "{}/{}",
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        owner["name"].as_str()?
    ))
}

/// An RFC 3339 time (as [`crate::apiserver::rfc3339`] writes them) as microseconds since
/// the simulation's epoch.
pub fn parse_time_us(s: &str) -> Option<i64> {
    let t: k8s_openapi::jiff::Timestamp = s.parse().ok()?;
    Some(t.as_microsecond() - crate::apiserver::EPOCH_MS * 1_000)
}

/// How a controller-manager replica runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerManagerConfig {
    /// Its leader election (the `kube-system/kube-controller-manager` Lease).
    pub election: LeaderElectionConfig,
    /// Keep resourceVersion preconditions on the controllers' writes; off is the planted
    /// bug `lease-without-fencing` (an old leader's writes then overwrite the new one's).
    pub fencing: bool,
    /// After losing the Lease, how long until the process runs again, milliseconds (a
    /// supervisor's restart: a static pod's container restart backoff starts at 10 s).
    pub restart_delay_ms: u64,
    /// `--concurrent-replicaset-syncs` (5).
    pub replicaset_workers: usize,
    /// `--concurrent-deployment-syncs` (5).
    pub deployment_workers: usize,
    /// `--concurrent-gc-syncs` (20).
    pub gc_workers: usize,
    /// The node lifecycle controller's settings.
    pub node_lifecycle: NodeLifecycleConfig,
}

impl ControllerManagerConfig {
    /// Replica `identity` with kube-controller-manager's defaults.
    pub fn new(identity: &str) -> Self {
        ControllerManagerConfig {
            election: LeaderElectionConfig::new("kube-system", "kube-controller-manager", identity),
            fencing: true,
            restart_delay_ms: 10_000,
            replicaset_workers: 5,
            deployment_workers: 5,
            gc_workers: 20,
            node_lifecycle: NodeLifecycleConfig::default(),
        }
    }
}

/// What every controller of a term reads: one informer a resource, shared.
#[derive(Debug)]
pub struct Informers {
    /// Every pod.
    pub pods: InformerHandle,
    /// Every ReplicaSet.
    pub replica_sets: InformerHandle,
    /// Every Deployment.
    pub deployments: InformerHandle,
    /// Every node.
    pub nodes: InformerHandle,
    /// The kubelets' Leases (`kube-node-lease`).
    pub node_leases: InformerHandle,
}

impl Informers {
    fn start(client: &ApiClient, signal: &Signal) -> Self {
        let mut node_leases = InformerSpec::new("coordination.k8s.io", "leases");
        node_leases.namespace = Some("kube-node-lease".to_string());
        Informers {
            pods: reflector::start(client, InformerSpec::new("", "pods"), signal),
            replica_sets: reflector::start(
                client,
                InformerSpec::new("apps", "replicasets"),
                signal,
            ),
            deployments: reflector::start(client, InformerSpec::new("apps", "deployments"), signal),
            nodes: reflector::start(client, InformerSpec::new("", "nodes"), signal),
            node_leases: reflector::start(client, node_leases, signal),
        }
    }

    fn all(&self) -> [&InformerHandle; 5] {
        [
            &self.pods,
            &self.replica_sets,
            &self.deployments,
            &self.nodes,
            &self.node_leases,
        ]
    }

    fn synced(&self) -> bool {
        self.all().iter().all(|i| i.has_synced())
    }

    fn stop(&self) {
        for i in self.all() {
            i.stop();
        }
    }
}

/// One leadership term's controllers (see the module docs).
struct Term {
    config: ControllerManagerConfig,
    writer: Writer,
    informers: Informers,
    signal: Signal,
    alive: Rc<Cell<bool>>,
    replica_sets: ReplicaSetController,
    deployments: DeploymentController,
    garbage_collector: GarbageCollector,
    node_lifecycle: NodeLifecycleController,
    taint_eviction: TaintEvictionController,
}

/// The controllers that sync keys from a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queued {
    ReplicaSet,
    Deployment,
    GarbageCollector,
    TaintEviction,
}

impl Queued {
    const ALL: [Queued; 4] = [
        Queued::ReplicaSet,
        Queued::Deployment,
        Queued::GarbageCollector,
        Queued::TaintEviction,
    ];
}

/// Runs a controller-manager replica on `ctx`'s component.
pub async fn run_controller_manager(
    ctx: NodeCtx<ControlPlaneMsg>,
    api: ApiClientConfig,
    config: ControllerManagerConfig,
) {
    let client = ApiClient::new(ctx, api);
    loop {
        client.ctx().set_role(CANDIDATE_ROLE);
        let elector = LeaderElector::new(client.clone(), config.election.clone());
        elector.acquire().await;
        client.ctx().set_role(LEADER_ROLE);
        let signal = Signal::new();
        let alive = Rc::new(Cell::new(true));
        let term = Rc::new(Term {
            config: config.clone(),
            writer: Writer::new(client.clone(), alive.clone(), config.fencing),
            informers: Informers::start(&client, &signal),
            signal,
            alive,
            replica_sets: ReplicaSetController::default(),
            deployments: DeploymentController::default(),
            garbage_collector: GarbageCollector::default(),
            node_lifecycle: NodeLifecycleController::new(config.node_lifecycle.clone()),
            taint_eviction: TaintEvictionController::default(),
        });
        client.ctx().spawn(term.clone().monitor_nodes());
        first_of(elector.renew_until_lost(), term.clone().run()).await;
        term.alive.set(false);
        term.informers.stop();
        client.ctx().set_role(CANDIDATE_ROLE);
        client
            .ctx()
            .sleep(Duration::from_millis(config.restart_delay_ms))
            .await;
    }
}

/// Runs both until the first ends.
async fn first_of(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

impl Term {
    fn now(&self) -> SimTime {
        self.writer.client().ctx().now()
    }

    fn queue(&self, which: Queued) -> &RefCell<WorkQueue> {
        match which {
            Queued::ReplicaSet => &self.replica_sets.queue,
            Queued::Deployment => &self.deployments.queue,
            Queued::GarbageCollector => &self.garbage_collector.queue,
            Queued::TaintEviction => &self.taint_eviction.queue,
        }
    }

    fn workers(&self, which: Queued) -> usize {
        match which {
            Queued::ReplicaSet => self.config.replicaset_workers,
            Queued::Deployment => self.config.deployment_workers,
            Queued::GarbageCollector => self.config.gc_workers,
            // The taint eviction controller's own worker pool (8 in Kubernetes).
            Queued::TaintEviction => 8,
        }
    }

    async fn sync(&self, which: Queued, key: &str) -> Result<(), WriteError> {
        match which {
            Queued::Deployment => {
                self.deployments
                    .sync(key, &self.informers, &self.writer)
                    .await
            }
            Queued::ReplicaSet => {
                self.replica_sets
                    .sync(key, &self.informers, &self.writer)
                    .await
            }
            Queued::GarbageCollector => self.garbage_collector.sync(key, &self.writer).await,
            Queued::TaintEviction => {
                self.taint_eviction
                    .sync(key, &self.informers, &self.writer)
                    .await
            }
        }
    }

    /// The term's loop: deltas to controllers, keys to syncs. Never returns; the term
    /// ends when its leadership does.
    async fn run(self: Rc<Self>) {
        loop {
            let idle = self.now().after(Duration::from_secs(10));
            let deadline = Queued::ALL
                .iter()
                .filter_map(|q| self.queue(*q).borrow().next_due())
                .fold(idle, SimTime::min);
            self.signal.wait_until(deadline).await;
            if !self.alive.get() {
                return;
            }
            for delta in self.informers.deployments.take_deltas() {
                self.deployments.on_deployment(&delta);
                self.garbage_collector
                    .on_delta("apps", "deployments", &delta);
            }
            for delta in self.informers.replica_sets.take_deltas() {
                self.replica_sets.on_replica_set(&delta);
                self.deployments.on_replica_set(&delta);
                self.garbage_collector
                    .on_delta("apps", "replicasets", &delta);
            }
            for delta in self.informers.nodes.take_deltas() {
                self.taint_eviction.on_node(&delta, &self.informers);
            }
            for delta in self.informers.pods.take_deltas() {
                self.replica_sets.on_pod(&delta);
                self.deployments.on_pod(&delta, &self.informers);
                self.garbage_collector.on_delta("", "pods", &delta);
                self.taint_eviction.on_pod(&delta);
            }
            // The node lifecycle controller reads leases on its own period.
            self.informers.node_leases.take_deltas();
            if !self.informers.synced() {
                continue;
            }
            let now = self.now();
            for which in Queued::ALL {
                self.queue(which).borrow_mut().promote(now);
                self.start_syncs(which);
            }
        }
    }

    /// The node lifecycle controller's loop: a look every monitor period.
    async fn monitor_nodes(self: Rc<Self>) {
        loop {
            self.writer
                .client()
                .ctx()
                .sleep(self.node_lifecycle.period())
                .await;
            if !self.alive.get() {
                return;
            }
            if self.informers.synced() {
                // A failed write is retried at the next look.
                let _ = self
                    .node_lifecycle
                    .monitor(&self.informers, &self.writer)
                    .await;
            }
        }
    }

    /// Hands `which`'s queued keys to new sync tasks, up to its worker count.
    fn start_syncs(self: &Rc<Self>, which: Queued) {
        loop {
            let key = {
                let mut queue = self.queue(which).borrow_mut();
                if queue.in_progress() >= self.workers(which) {
                    None
                } else {
                    queue.get()
                }
            };
            let Some(key) = key else { break };
            let term = self.clone();
            self.writer.client().ctx().spawn(async move {
                let result = term.sync(which, &key).await;
                let now = term.now();
                let mut queue = term.queue(which).borrow_mut();
                match result {
                    Ok(()) => queue.forget(&key),
                    Err(WriteError::Stopped) => {}
                    Err(_) => queue.add_rate_limited(&key, now),
                }
                queue.done(&key);
                drop(queue);
                term.signal.raise();
            });
        }
    }
}
