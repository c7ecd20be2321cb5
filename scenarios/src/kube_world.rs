//! What the Kubernetes scenarios share: a whole control plane
//! ([`apiserver_model::cluster`]: etcd members, API servers, controller-manager replicas,
//! the scheduler, kubelets), a kubectl node running the scenario's script, the planted
//! bugs of the Kubernetes layer, and the checks every Kubernetes run is judged by: the Raft
//! safety checks (the etcd members are a Raft cluster like any other), `no-overcommit`,
//! `binding-once` and `all-roads-lead-to-apiserver`.

use apiserver_model::checks::all_roads::AllRoadsLeadToApiServer;
use apiserver_model::checks::binding_once::BindingOnce;
use apiserver_model::checks::no_overcommit::NoOvercommit;
use apiserver_model::client::ApiClient;
use apiserver_model::cluster::{ClusterSpec, ADMIN_TOKEN};
use apiserver_model::events::KubeEvent;
use apiserver_model::wire::ControlPlaneMsg;
use raft::checks::safety_checks;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, Directory, FaultSchedule, Outcome, RunOutput, RunView, Sim, Verdict, World,
};

use crate::scenario::ScenarioError;

/// The planted bugs of the Kubernetes layer, each one switch in the code it breaks, with
/// what it does.
pub const KUBE_MUTANTS: [(&str, &str); 3] = [
    (
        "scheduler-forgets-assumed",
        "the scheduler does not count a pod on its node between deciding and seeing the binding",
    ),
    (
        "bind-without-precondition",
        "the API server binds a pod that already has a node, moving it",
    ),
    (
        "lease-without-fencing",
        "controllers write without resourceVersion preconditions",
    ),
];

/// The names of [`KUBE_MUTANTS`].
pub const KUBE_MUTANT_NAMES: [&str; 3] = [
    "scheduler-forgets-assumed",
    "bind-without-precondition",
    "lease-without-fencing",
];

/// The kubectl node's name.
pub const KUBECTL: &str = "kubectl";

/// A control plane's sizes, as a scenario file gives them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubeClusterConfig {
    /// etcd members (odd, 1 to 7).
    pub etcd_members: usize,
    /// API servers (1 to 5).
    pub api_servers: usize,
    /// Controller-manager replicas (0 to 5; 0: none runs).
    pub controller_managers: usize,
    /// Worker nodes (1 to 100).
    pub workers: usize,
    /// A worker's CPU capacity, a Kubernetes quantity (`"2"`, `"1500m"`).
    pub worker_cpu: String,
    /// A worker's memory capacity (`"4Gi"`).
    pub worker_memory: String,
}

impl Default for KubeClusterConfig {
    /// kubeadm's HA shape at its smallest (see [`ClusterSpec::default`]).
    fn default() -> Self {
        let spec = ClusterSpec::default();
        KubeClusterConfig {
            etcd_members: spec.etcd_members,
            api_servers: spec.api_servers,
            controller_managers: spec.controller_managers,
            workers: spec.workers,
            worker_cpu: spec.worker_cpu,
            worker_memory: spec.worker_memory,
        }
    }
}

impl KubeClusterConfig {
    /// Checks the sizes and quantities.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError::Config`] naming the field and what it may be.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |field: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Err(ScenarioError::Config(format!(
                "cluster.{field} = {value}: {allowed}"
            )))
        };
        if !(1..=7).contains(&self.etcd_members) || self.etcd_members.is_multiple_of(2) {
            return bad(
                "etcd_members",
                &self.etcd_members,
                "an odd number from 1 to 7 (an even member count adds no fault tolerance)",
            );
        }
        if !(1..=5).contains(&self.api_servers) {
            return bad("api_servers", &self.api_servers, "from 1 to 5");
        }
        if self.controller_managers > 5 {
            return bad(
                "controller_managers",
                &self.controller_managers,
                "from 0 to 5",
            );
        }
        if !(1..=100).contains(&self.workers) {
            return bad("workers", &self.workers, "from 1 to 100");
        }
        for (field, value) in [
            ("worker_cpu", &self.worker_cpu),
            ("worker_memory", &self.worker_memory),
        ] {
            if apiserver_model::pod_resources::quantity(value, true).is_none() {
                return bad(
                    field,
                    &format!("{value:?}"),
                    "a Kubernetes quantity (\"2\", \"1500m\", \"4Gi\")",
                );
            }
        }
        Ok(())
    }

    /// The cluster with `mutants` switched on.
    pub fn spec(&self, mutants: &[String]) -> ClusterSpec {
        let on = |name: &str| mutants.iter().any(|m| m == name);
        let mut spec = ClusterSpec {
            etcd_members: self.etcd_members,
            api_servers: self.api_servers,
            controller_managers: self.controller_managers,
            workers: self.workers,
            worker_cpu: self.worker_cpu.clone(),
            worker_memory: self.worker_memory.clone(),
            fencing: !on("lease-without-fencing"),
            bind_without_precondition: on("bind-without-precondition"),
            ..ClusterSpec::default()
        };
        spec.scheduler_config.forget_assumed = on("scheduler-forgets-assumed");
        spec
    }

    /// The world without its actors: the cluster and the kubectl node, as fault files name
    /// them.
    fn sim(&self, seed: u64, mutants: &[String]) -> Sim<ControlPlaneMsg> {
        let (sim, _) = self.spec(mutants).build(Sim::new(seed));
        sim
    }

    /// The nodes a run has (the cluster, then `kubectl`).
    pub fn directory(&self) -> Directory {
        self.sim(0, &[])
            .named_node(KUBECTL, "clients", |_| async {})
            .directory()
            .clone()
    }

    /// Runs the cluster with `mutants` and `faults`: `kubectl` runs on the kubectl node as
    /// the admin, `driver` supervises.
    ///
    /// # Errors
    ///
    /// A fault schedule or world that does not fit.
    pub fn run<T, D, Fut, K, KFut>(
        &self,
        seed: u64,
        mutants: &[String],
        faults: &FaultSchedule,
        kubectl: K,
        driver: D,
    ) -> Result<RunOutput<T>, ScenarioError>
    where
        D: FnOnce(World<ControlPlaneMsg>) -> Fut,
        Fut: std::future::Future<Output = T>,
        K: Fn(ApiClient) -> KFut + Send + Sync + 'static,
        KFut: std::future::Future<Output = ()> + 'static,
    {
        let (sim, cluster) = self.spec(mutants).build(Sim::new(seed));
        let api = cluster.client(ADMIN_TOKEN);
        let sim = sim
            .named_node(KUBECTL, "clients", move |ctx| {
                kubectl(ApiClient::new(ctx, api.clone()))
            })
            .faults(faults.clone());
        Ok(sim.run(driver)?)
    }
}

/// A story check (Sometimes) of a Kubernetes scenario: some Kubernetes event of the run
/// matches.
#[derive(Debug)]
pub struct KubeStory {
    /// The check's name.
    pub name: &'static str,
    /// What the verdict says when nothing matched.
    pub missing: &'static str,
    /// Whether an event is the story's.
    pub matches: fn(&KubeEvent) -> bool,
}

impl Check for KubeStory {
    fn name(&self) -> &'static str {
        self.name
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let seen = run
            .trace
            .events
            .iter()
            .any(|e| e.layer::<KubeEvent>().is_some_and(self.matches));
        if seen {
            Outcome::Pass
        } else {
            Outcome::not_reached(self.missing)
        }
    }
}

/// Judges a Kubernetes run: the Raft safety checks, the Kubernetes checks, then `extra`
/// (the scenario's story and liveness).
pub fn judge<T>(out: &RunOutput<T>, extra: &[&dyn Check]) -> Verdict {
    let view = RunView {
        seed: out.seed,
        nodes: &out.nodes,
        trace: &out.trace,
        history: &out.history,
    };
    let safety = safety_checks();
    let (overcommit, binding, roads) = (
        NoOvercommit::default(),
        BindingOnce::default(),
        AllRoadsLeadToApiServer::default(),
    );
    let mut checks: Vec<&dyn Check> = safety.iter().map(|c| c.as_ref()).collect();
    checks.push(&overcommit);
    checks.push(&binding);
    checks.push(&roads);
    checks.extend_from_slice(extra);
    Verdict::judge_until(&view, &checks, out.stopped.as_ref())
}
