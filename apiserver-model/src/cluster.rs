//! A whole control plane in one world, laid out as kubeadm lays out a highly available
//! cluster, so tests and scenarios describe a cluster by its sizes instead of wiring
//! components by hand:
//!
//! - `etcd-1..n` (group `etcd`): the etcd members, each its own node;
//! - `apiserver-1..n` (group `apiservers`): the API servers, each its own node, talking to
//!   every etcd member;
//! - `master-1..n` (group `control-plane`): hosts running a kube-controller-manager replica
//!   each, and kube-scheduler on `master-1` (kubeadm runs one of each on every control-plane
//!   node; the model's scheduler does not campaign yet, so it runs once);
//! - `worker-1..n` (group `workers`): hosts running a kubelet each.
//!
//! Every component has its own bearer token and user, as kubeadm's kubeconfigs give them:
//! `system:kube-scheduler`, `system:kube-controller-manager`, `system:node:<name>` in
//! `system:nodes`; and an `admin` in `system:masters` for the scenario's client.

use sim_core::{NodeId, Sim};

use crate::apiserver::{run_apiserver, ApiServerConfig};
use crate::authn::Authenticator;
use crate::client::ApiClientConfig;
use crate::controllers::{
    run_controller_manager, ControllerManagerConfig, CONTROLLER_MANAGER_PORT,
};
use crate::kubelet::{run_kubelet, KubeletConfig, KUBELET_PORT};
use crate::scheduler::{run_scheduler, SchedulerConfig, SCHEDULER_PORT};
use crate::wire::ControlPlaneMsg;
use raft::driver::{run_node, DriverConfig};
use raft::etcd::EtcdStore;

/// The etcd members' group.
pub const ETCD_GROUP: &str = "etcd";
/// The API servers' group.
pub const API_SERVER_GROUP: &str = "apiservers";

/// The admin's bearer token (`admin`, in `system:masters`).
pub const ADMIN_TOKEN: &str = "admin-token";

/// What the cluster is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// etcd members.
    pub etcd_members: usize,
    /// API servers.
    pub api_servers: usize,
    /// Controller-manager replicas (one a control-plane host); 0 for none.
    pub controller_managers: usize,
    /// Whether kube-scheduler runs.
    pub scheduler: bool,
    /// Worker nodes.
    pub workers: usize,
    /// A worker's CPU capacity (`"2"`).
    pub worker_cpu: String,
    /// A worker's memory capacity (`"4Gi"`).
    pub worker_memory: String,
    /// How the scheduler runs.
    pub scheduler_config: SchedulerConfig,
    /// Whether the controllers keep resourceVersion preconditions (off: the planted bug
    /// `lease-without-fencing`).
    pub fencing: bool,
    /// Planted bug `bind-without-precondition` in every API server.
    pub bind_without_precondition: bool,
    /// Planted bug `quorum-get-from-cache` in every API server.
    pub quorum_get_from_cache: bool,
}

impl Default for ClusterSpec {
    /// kubeadm's HA shape at its smallest: 3 etcd members, 1 API server, 3 controller-manager
    /// replicas, a scheduler, 3 workers of 2 CPUs and 4 GiB.
    fn default() -> Self {
        ClusterSpec {
            etcd_members: 3,
            api_servers: 1,
            controller_managers: 3,
            scheduler: true,
            workers: 3,
            worker_cpu: "2".to_string(),
            worker_memory: "4Gi".to_string(),
            scheduler_config: SchedulerConfig::default(),
            fencing: true,
            bind_without_precondition: false,
            quorum_get_from_cache: false,
        }
    }
}

/// Where a built cluster's parts are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// The etcd members' nodes.
    pub etcd: Vec<NodeId>,
    /// The API servers' nodes.
    pub api_servers: Vec<NodeId>,
    /// The control-plane hosts' names.
    pub masters: Vec<String>,
    /// The workers' names.
    pub workers: Vec<String>,
}

impl Cluster {
    /// A client of every API server presenting `token`.
    pub fn client(&self, token: &str) -> ApiClientConfig {
        ApiClientConfig::new(self.api_servers.clone(), Some(token))
    }
}

/// The tokens of the cluster's users (see the module docs).
fn authenticator(spec: &ClusterSpec) -> Authenticator {
    let mut authn = Authenticator::new()
        .with_token(ADMIN_TOKEN, "admin", &["system:masters"])
        .with_token("scheduler-token", "system:kube-scheduler", &[])
        .with_token(
            "controller-manager-token",
            "system:kube-controller-manager",
            &[],
        );
    for w in 1..=spec.workers {
        authn = authn.with_token(
            &format!("kubelet-worker-{w}"),
            &format!("system:node:worker-{w}"),
            &["system:nodes"],
        );
    }
    authn
}

impl ClusterSpec {
    /// Adds the cluster's nodes and components to `sim` (which should have none yet, so
    /// the etcd members are nodes 0..n).
    ///
    /// # Panics
    ///
    /// If `sim` already names a node the cluster needs.
    pub fn build(&self, mut sim: Sim<ControlPlaneMsg>) -> (Sim<ControlPlaneMsg>, Cluster) {
        let first = sim.directory().len();
        let etcd: Vec<NodeId> = (first..first + self.etcd_members)
            .map(NodeId::from_index)
            .collect();
        for i in 1..=self.etcd_members {
            let voters = etcd.clone();
            sim = sim.named_node(&format!("etcd-{i}"), ETCD_GROUP, move |ctx| {
                run_node::<EtcdStore, _>(ctx, DriverConfig::default(), voters.clone())
            });
        }
        let authn = authenticator(self);
        let mut api_servers = Vec::new();
        for i in 1..=self.api_servers {
            let name = format!("apiserver-{i}");
            api_servers.push(NodeId::from_index(sim.directory().len()));
            let mut config = ApiServerConfig::new(&name, etcd.clone(), authn.clone());
            config.bind_without_precondition = self.bind_without_precondition;
            config.quorum_get_from_cache = self.quorum_get_from_cache;
            sim = sim.named_node(&name, API_SERVER_GROUP, move |ctx| {
                run_apiserver(ctx, config.clone())
            });
        }
        let cluster = Cluster {
            etcd,
            api_servers,
            masters: (1..=self.controller_managers.max(usize::from(self.scheduler)))
                .map(|i| format!("master-{i}"))
                .collect(),
            workers: (1..=self.workers).map(|w| format!("worker-{w}")).collect(),
        };
        for (i, master) in cluster.masters.iter().enumerate() {
            sim = sim.host(master, "control-plane");
            if i < self.controller_managers {
                let api = cluster.client("controller-manager-token");
                let mut config =
                    ControllerManagerConfig::new(&format!("{master}/kube-controller-manager"));
                config.fencing = self.fencing;
                sim = sim.component(
                    master,
                    "kube-controller-manager",
                    CONTROLLER_MANAGER_PORT,
                    move |ctx| run_controller_manager(ctx, api.clone(), config.clone()),
                );
            }
            if i == 0 && self.scheduler {
                let api = cluster.client("scheduler-token");
                let config = self.scheduler_config.clone();
                sim = sim.component(master, "kube-scheduler", SCHEDULER_PORT, move |ctx| {
                    run_scheduler(ctx, api.clone(), config.clone())
                });
            }
        }
        for (w, worker) in cluster.workers.iter().enumerate() {
            let api = cluster.client(&format!("kubelet-worker-{}", w + 1));
            let config = KubeletConfig::new(worker, &self.worker_cpu, &self.worker_memory);
            sim = sim.host(worker, "workers").component(
                worker,
                "kubelet",
                KUBELET_PORT,
                move |ctx| run_kubelet(ctx, api.clone(), config.clone()),
            );
        }
        (sim, cluster)
    }
}
