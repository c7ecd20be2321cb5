//! `deployment-reconcile` (001 Part 3 of the course notes): kubectl creates a Deployment
//! with 3 replicas, scales it to 1, then to 5, then deletes it. The Deployment controller
//! keeps a ReplicaSet at the desired count, the ReplicaSet controller its pods, the
//! scheduler and the kubelets place and run them; deleting the Deployment lets the garbage
//! collector remove its ReplicaSet and pods through their ownerReferences.
//!
//! The faults this scenario draws when none is given fall in the scale steps: an etcd
//! member dies during the scale to 1 (a leader election, if it led), and a control-plane
//! host (a controller-manager replica, and on `master-1` the scheduler) during the scale to
//! 5 (a Lease hand-over, if it led). Checks beyond every Kubernetes run's:
//! `deployment-converges` (liveness: at the end of each step the pods running, by what the
//! kubelets started and stopped, are the desired count; none after the delete) and
//! `garbage-collected` (story: the collector deleted the ReplicaSet).

use std::collections::BTreeSet;

use apiserver_model::apiserver::{DeleteOptions, Propagation, Request};
use apiserver_model::events::KubeEvent;
use apiserver_model::kubectl::{Kubectl, KubectlResult};
use apiserver_model::verb::Verb;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sim_core::{
    Check, CheckKind, Directory, Evidence, FaultOp, FaultSchedule, Outcome, RunView, SimTime,
    TimedFault,
};

use crate::kube_world::{
    judge, manifest_objects, KubeClusterConfig, KubeStory, ManifestFile, KUBE_MUTANT_NAMES,
};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// One step of the story: at `at_ms`, the Deployment is (created with, or scaled to)
/// `replicas`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When, milliseconds.
    pub at_ms: u64,
    /// The desired replicas.
    pub replicas: u64,
}

/// The deployment-reconcile scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploymentReconcileConfig {
    /// The control plane.
    pub cluster: KubeClusterConfig,
    /// Create, then scale (001 Part 3: 3, 1, 5).
    pub steps: Vec<Step>,
    /// When kubectl deletes the Deployment (background propagation), milliseconds.
    pub delete_at_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
    /// Manifests kubectl applies at 3 s besides the story (`ksim run --manifest FILE`).
    pub manifests: Vec<ManifestFile>,
}

impl Default for DeploymentReconcileConfig {
    fn default() -> Self {
        let step = |at_ms, replicas| Step { at_ms, replicas };
        DeploymentReconcileConfig {
            cluster: KubeClusterConfig::default(),
            steps: vec![step(5_000, 3), step(40_000, 1), step(70_000, 5)],
            delete_at_ms: 120_000,
            duration_ms: 150_000,
            manifests: Vec::new(),
        }
    }
}

impl ScenarioConfig for DeploymentReconcileConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        self.cluster.validate()?;
        manifest_objects(&self.manifests)?;
        if self.cluster.controller_managers == 0 {
            return Err(ScenarioError::Config(
                "cluster.controller_managers = 0: the Deployment controller runs in the controller-manager".to_string(),
            ));
        }
        if self.steps.is_empty() {
            return Err(ScenarioError::Config(
                "steps is empty: the first step creates the Deployment".to_string(),
            ));
        }
        let mut last = 0;
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 && s.at_ms <= last {
                return Err(ScenarioError::Config(format!(
                    "steps[{i}].at_ms = {}: steps must come in time order",
                    s.at_ms
                )));
            }
            if s.replicas > 10_000 {
                return Err(ScenarioError::Config(format!(
                    "steps[{i}].replicas = {}: at most 10000",
                    s.replicas
                )));
            }
            last = s.at_ms;
        }
        if self.delete_at_ms <= last || self.duration_ms < self.delete_at_ms + 20_000 {
            return Err(ScenarioError::Config(format!(
                "delete_at_ms = {} must follow the last step ({last}) and leave 20 s before duration_ms = {}",
                self.delete_at_ms, self.duration_ms
            )));
        }
        Ok(self)
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeploymentReconcile;

fn deployment(replicas: u64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}})
}

/// Runs `command` again while it gets no answer (up to `tries` times): the user at the
/// terminal retrying a kubectl that timed out.
async fn retried<F, Fut>(tries: usize, command: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = KubectlResult<Value>>,
{
    for _ in 0..tries {
        match command().await {
            Err(e) if e.no_answer() => {}
            _ => return,
        }
    }
}

/// `deployment-converges` (Eventually; see the module docs).
struct Converges {
    /// (judged at, desired pods).
    points: Vec<(SimTime, u64)>,
}

impl Check for Converges {
    fn name(&self) -> &'static str {
        "deployment-converges"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut wrong = Vec::new();
        for (at, want) in &self.points {
            let mut running: BTreeSet<&str> = BTreeSet::new();
            for e in run.trace.events.iter().take_while(|e| e.t_us <= *at) {
                match e.layer::<KubeEvent>() {
                    Some(KubeEvent::PodStarted { pod }) if pod.starts_with("default/web-") => {
                        running.insert(pod);
                    }
                    Some(KubeEvent::PodStopped { pod, .. }) => {
                        running.remove(pod.as_str());
                    }
                    _ => {}
                }
            }
            if running.len() as u64 != *want {
                wrong.push(Evidence {
                    event: None,
                    t_us: Some(*at),
                    node: None,
                    note: format!("{} pod(s) running at {at}, {want} desired", running.len()),
                });
            }
        }
        if wrong.is_empty() {
            Outcome::Pass
        } else {
            Outcome::violation(
                format!(
                    "the Deployment missed its desired count at {} of {} points",
                    wrong.len(),
                    self.points.len()
                ),
                wrong,
            )
        }
    }
}

impl Scenario for DeploymentReconcile {
    type Config = DeploymentReconcileConfig;

    fn name(&self) -> &'static str {
        "deployment-reconcile"
    }

    fn summary(&self) -> &'static str {
        "a Deployment is created, scaled 3 -> 1 -> 5 through faults, and deleted; the controllers converge and the garbage collector cleans up"
    }

    fn directory(&self, config: &DeploymentReconcileConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, _seed: u64, config: &DeploymentReconcileConfig) -> FaultSchedule {
        let directory = self.directory(config);
        let mut faults = Vec::new();
        // During the second and third steps: an etcd member, then a control-plane host.
        let targets = [("etcd-1", 5_000), ("master-1", 10_000)];
        for (step, (name, down_ms)) in config.steps.iter().skip(1).zip(targets) {
            let Ok(node) = directory.resolve_one(name) else {
                continue;
            };
            let at_ms = step.at_ms + 2_000;
            faults.push(TimedFault {
                at_ms,
                op: FaultOp::Kill { node },
                roles: Vec::new(),
            });
            faults.push(TimedFault {
                at_ms: at_ms + down_ms,
                op: FaultOp::Restart { node },
                roles: Vec::new(),
            });
        }
        FaultSchedule::new(faults)
    }

    fn mutants(&self) -> &'static [&'static str] {
        &KUBE_MUTANT_NAMES
    }

    fn run(
        &self,
        input: &RunInput<'_, DeploymentReconcileConfig>,
    ) -> Result<ScenarioRun, ScenarioError> {
        let c = input.config.clone();
        let objects = manifest_objects(&c.manifests)?;
        let script = c.clone();
        let out = c.cluster.run(
            input.seed,
            (input.mutants, &objects),
            input.faults,
            move |client| {
                let c = script.clone();
                async move {
                    let kubectl = Kubectl::new(client);
                    let at = |ms| kubectl.client().ctx().sleep_until(SimTime::from_ms(ms));
                    let ns = Some("default");
                    for (i, step) in c.steps.iter().enumerate() {
                        at(step.at_ms).await;
                        if i == 0 {
                            retried(10, || kubectl.apply(deployment(step.replicas))).await;
                        } else {
                            retried(10, || {
                                kubectl.scale("apps", "deployments", ns, "web", step.replicas)
                            })
                            .await;
                        }
                    }
                    at(c.delete_at_ms).await;
                    let background = DeleteOptions {
                        propagation_policy: Some(Propagation::Background),
                        ..DeleteOptions::default()
                    };
                    retried(10, || {
                        kubectl.delete("apps", "deployments", ns, "web", background.clone())
                    })
                    .await;
                    std::future::pending::<()>().await;
                }
            },
            move |world| async move {
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
            },
        )?;
        let config = input.config;
        // Each step is judged just before the next (or the delete); the delete at the end.
        let mut ends: Vec<u64> = config.steps.iter().skip(1).map(|s| s.at_ms).collect();
        ends.push(config.delete_at_ms);
        let mut points: Vec<(SimTime, u64)> = config
            .steps
            .iter()
            .zip(ends)
            .map(|(s, end)| (SimTime(SimTime::from_ms(end).as_us() - 1), s.replicas))
            .collect();
        points.push((SimTime::from_ms(config.duration_ms), 0));
        let converges = Converges { points };
        let collected = KubeStory {
            name: "garbage-collected",
            missing: "the garbage collector deleted no ReplicaSet",
            matches: |e| {
                let replica_sets = apiserver_model::wire::resource_label(&Request::new(
                    None,
                    Verb::Delete,
                    "apps",
                    "replicasets",
                ));
                matches!(e, KubeEvent::Audit(a)
                    if a.user == "system:kube-controller-manager"
                        && a.verb == Verb::Delete
                        && a.resource == replica_sets
                        && a.code == 200)
            },
        };
        let verdict = judge(&out, &objects, &[&converges, &collected]);
        Ok(ScenarioRun {
            nodes: out.nodes,
            trace: out.trace,
            history: out.history,
            verdict,
            data: Vec::new(),
        })
    }
}
