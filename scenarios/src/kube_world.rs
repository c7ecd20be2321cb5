//! What the Kubernetes scenarios share: a whole control plane
//! ([`apiserver_model::cluster`]: etcd members, API servers, controller-manager replicas,
//! the scheduler, kubelets), a kubectl node running the scenario's script, the planted
//! bugs of the Kubernetes layer, and the checks every Kubernetes run is judged by: the Raft
//! safety checks (the etcd members are a Raft cluster like any other), `no-overcommit`,
//! `binding-once` and `all-roads-lead-to-apiserver`.

use apiserver_model::apiserver::Request;
use apiserver_model::checks::all_roads::AllRoadsLeadToApiServer;
use apiserver_model::checks::binding_once::BindingOnce;
use apiserver_model::checks::no_overcommit::NoOvercommit;
use apiserver_model::client::{ApiClient, CallError};
use apiserver_model::cluster::{ClusterSpec, ADMIN_TOKEN};
use apiserver_model::events::KubeEvent;
use apiserver_model::verb::Verb;
use apiserver_model::wire::ControlPlaneMsg;
use raft::checks::safety_checks;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sim_core::{
    Check, CheckKind, Directory, Evidence, FaultSchedule, Outcome, RunOutput, RunView, Sim,
    Verdict, World,
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

/// When kubectl applies the scenario's manifests, milliseconds (the API server is up and
/// the kubelets have registered by then).
pub const APPLY_MANIFESTS_AT_MS: u64 = 3_000;

/// A manifest file given to a Kubernetes scenario (`ksim run --manifest FILE`): the name
/// the user gave and its text, kept in the run's `scenario.toml` so that a replay applies
/// the same objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// The file, as named on the command line.
    pub file: String,
    /// Its YAML.
    pub yaml: String,
}

/// Every object of `files`, in order, each checked as the API server would check it.
///
/// # Errors
///
/// [`ScenarioError::Manifest`]: the first problem, naming its file, document, line and
/// field path.
pub fn manifest_objects(files: &[ManifestFile]) -> Result<Vec<Value>, ScenarioError> {
    let mut objects = Vec::new();
    for f in files {
        let parsed = apiserver_model::manifest::parse(&f.file, &f.yaml)
            .map_err(|e| ScenarioError::Manifest(e.to_string()))?;
        objects.extend(parsed.into_iter().map(|m| m.object));
    }
    Ok(objects)
}

/// Creates each of `objects` (kubectl apply of the files, in their order), trying a few
/// times while the API does not answer.
async fn apply(client: &ApiClient, objects: &[Value]) {
    for object in objects {
        let Some((resource, namespace)) = served(object) else {
            continue;
        };
        let mut create = Request::new(None, Verb::Create, resource.group, resource.plural);
        if resource.namespaced {
            create = create.in_namespace(namespace.unwrap_or("default"));
        }
        let create = create.with_body(object.clone());
        for _ in 0..5 {
            match client.call(create.clone()).await {
                Ok(_) | Err(CallError::Api(_)) => break,
                Err(CallError::NoAnswer) => {}
            }
        }
    }
}

/// The resource an object is of, and its namespace.
fn served(object: &Value) -> Option<(&'static apiserver_model::resource::Resource, Option<&str>)> {
    let resource = apiserver_model::resource::by_kind(
        object["apiVersion"].as_str()?,
        object["kind"].as_str()?,
    )
    .ok()?;
    Some((
        resource,
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str),
    ))
}

/// `manifest-workloads-converge` (Eventually): every Deployment and ReplicaSet of the
/// manifests has its `spec.replicas` (1 when left out) pods running at the end of the run,
/// by what the kubelets started and stopped (pods named after their workload, as their
/// controllers name them).
#[derive(Debug)]
pub struct ManifestWorkloadsConverge {
    /// (`namespace/name-` pod prefix, the desired replicas) of each workload.
    pub workloads: Vec<(String, u64)>,
}

impl ManifestWorkloadsConverge {
    /// The workloads of `objects`.
    pub fn of(objects: &[Value]) -> Self {
        let workloads = objects
            .iter()
            .filter(|o| {
                o["apiVersion"] == "apps/v1"
                    && matches!(o["kind"].as_str(), Some("Deployment" | "ReplicaSet"))
            })
            .map(|o| {
                let ns = o
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let name = o
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                (
                    format!("{ns}/{name}-"),
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_u64)
                        .unwrap_or(1),
                )
            })
            .collect();
        ManifestWorkloadsConverge { workloads }
    }
}

impl Check for ManifestWorkloadsConverge {
    fn name(&self) -> &'static str {
        "manifest-workloads-converge"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        if self.workloads.is_empty() {
            return Outcome::not_applicable("the manifests hold no Deployment or ReplicaSet");
        }
        let mut running: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for e in &run.trace.events {
            match e.layer::<KubeEvent>() {
                Some(KubeEvent::PodStarted { pod }) => {
                    running.insert(pod);
                }
                Some(KubeEvent::PodStopped { pod, .. }) => {
                    running.remove(pod.as_str());
                }
                _ => {}
            }
        }
        let short: Vec<Evidence> = self
            .workloads
            .iter()
            .filter_map(|(prefix, want)| {
                let have = running
                    .iter()
                    .filter(|p| p.starts_with(prefix.as_str()))
                    .count() as u64;
                (have != *want).then(|| {
                    Evidence::note(format!(
                        "{}: {have} pod(s) running at the end, {want} desired",
                        prefix.trim_end_matches('-')
                    ))
                })
            })
            .collect();
        if short.is_empty() {
            Outcome::Pass
        } else {
            Outcome::violation(
                format!(
                    "{} workload(s) of the manifests did not converge",
                    short.len()
                ),
                short,
            )
        }
    }
}

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
        (mutants, manifests): (&[String], &[Value]),
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
        let manifests = manifests.to_vec();
        let sim = sim
            .named_node(KUBECTL, "clients", move |ctx| {
                let client = ApiClient::new(ctx, api.clone());
                let manifests = manifests.clone();
                let script = kubectl(client.clone());
                async move {
                    if !manifests.is_empty() {
                        // The user's objects first, beside the scenario's own script.
                        let applier = client.clone();
                        client.ctx().spawn(async move {
                            applier
                                .ctx()
                                .sleep_until(sim_core::SimTime::from_ms(APPLY_MANIFESTS_AT_MS))
                                .await;
                            apply(&applier, &manifests).await;
                        });
                    }
                    script.await;
                }
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
/// (the scenario's story and liveness), then, when manifests were applied,
/// `manifest-workloads-converge`.
pub fn judge<T>(out: &RunOutput<T>, manifests: &[Value], extra: &[&dyn Check]) -> Verdict {
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
    let workloads = ManifestWorkloadsConverge::of(manifests);
    if !manifests.is_empty() {
        checks.push(&workloads);
    }
    Verdict::judge_until(&view, &checks, out.stopped.as_ref())
}
