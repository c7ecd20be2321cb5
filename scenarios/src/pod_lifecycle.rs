//! `pod-lifecycle` (003 §2 of the course notes): kubectl creates pods; each goes through
//! the API server's request path into etcd; the scheduler's watch sees it unscheduled,
//! filters and scores the nodes and binds it; the kubelet of that node sees it bound,
//! admits it, starts it and reports Running. No component but the API server talks to
//! etcd, and nothing talks to a kubelet.
//!
//! With the planted bug `scheduler-forgets-assumed` pods created together are all placed
//! before any binding comes back, pile onto one node, and its kubelet rejects what does not
//! fit (`OutOfcpu`): `no-overcommit` names the overcommitted node.

use std::time::Duration;

use apiserver_model::events::KubeEvent;
use apiserver_model::kubectl::Kubectl;
use apiserver_model::verb::Verb;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sim_core::{Check, CheckKind, Directory, Evidence, FaultSchedule, Outcome, RunView, SimTime};

use crate::kube_world::{
    judge, manifest_objects, KubeClusterConfig, KubeStory, ManifestFile, KUBE_MUTANT_NAMES,
};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// The pod-lifecycle scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PodLifecycleConfig {
    /// The control plane (no controller-manager by default: kubectl creates bare pods).
    pub cluster: KubeClusterConfig,
    /// Pods kubectl creates, all at once (one `kubectl apply` of one file).
    pub pods: usize,
    /// Each pod's CPU request (900m: two fit a 2-CPU worker, three do not).
    pub pod_cpu: String,
    /// Each pod's memory request.
    pub pod_memory: String,
    /// When kubectl creates them, milliseconds (after the kubelets have registered).
    pub create_at_ms: u64,
    /// Every pod must run within this long of its creation, milliseconds (scheduling,
    /// binding, the kubelet's watch and a start of up to 2.5 s).
    pub run_bound_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
    /// Manifests kubectl applies at 3 s besides the story (`ksim run --manifest FILE`).
    pub manifests: Vec<ManifestFile>,
}

impl Default for PodLifecycleConfig {
    fn default() -> Self {
        PodLifecycleConfig {
            cluster: KubeClusterConfig {
                controller_managers: 0,
                ..KubeClusterConfig::default()
            },
            pods: 6,
            pod_cpu: "900m".to_string(),
            pod_memory: "128Mi".to_string(),
            create_at_ms: 5_000,
            run_bound_ms: 15_000,
            duration_ms: 30_000,
            manifests: Vec::new(),
        }
    }
}

impl ScenarioConfig for PodLifecycleConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        self.cluster.validate()?;
        manifest_objects(&self.manifests)?;
        if self.pods == 0 || self.pods > 1_000 {
            return Err(ScenarioError::Config(format!(
                "pods = {}: from 1 to 1000",
                self.pods
            )));
        }
        for (field, value) in [("pod_cpu", &self.pod_cpu), ("pod_memory", &self.pod_memory)] {
            if apiserver_model::pod_resources::quantity(value, true).is_none() {
                return Err(ScenarioError::Config(format!(
                    "{field} = {value:?}: a Kubernetes quantity (\"900m\", \"128Mi\")"
                )));
            }
        }
        let needed = self.create_at_ms + self.run_bound_ms;
        if self.duration_ms < needed {
            return Err(ScenarioError::Config(format!(
                "duration_ms = {} is too short for the creates and the run bound (at least {needed})",
                self.duration_ms
            )));
        }
        Ok(self)
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct PodLifecycle;

/// `every-pod-runs` (Eventually): every pod kubectl created was started within the bound.
struct EveryPodRuns {
    bound_ms: u64,
}

impl Check for EveryPodRuns {
    fn name(&self) -> &'static str {
        "every-pod-runs"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &["pod-running"]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let events = &run.trace.events;
        let mut missing = Vec::new();
        for e in events {
            let Some(KubeEvent::Audit(a)) = e.layer::<KubeEvent>() else {
                continue;
            };
            if a.user != "admin" || a.verb != Verb::Create || a.resource != "pods" || a.code != 201
            {
                continue;
            }
            let pod = format!(
                "{}/{}",
                a.namespace.as_deref().unwrap_or(""),
                a.name.as_deref().unwrap_or("")
            );
            let deadline = e.t_us.after(Duration::from_millis(self.bound_ms));
            let started = events.iter().any(|s| {
                s.t_us <= deadline
                    && matches!(s.layer::<KubeEvent>(), Some(KubeEvent::PodStarted { pod: p }) if *p == pod)
            });
            if !started && deadline <= run.trace.end_time() {
                missing.push(Evidence::event(
                    e,
                    format!("{pod} created here, not running {} ms later", self.bound_ms),
                ));
            }
        }
        if missing.is_empty() {
            Outcome::Pass
        } else {
            let n = missing.len();
            Outcome::violation(
                format!("{n} pod(s) created did not run within {} ms", self.bound_ms),
                missing,
            )
        }
    }
}

impl Scenario for PodLifecycle {
    type Config = PodLifecycleConfig;

    fn name(&self) -> &'static str {
        "pod-lifecycle"
    }

    fn summary(&self) -> &'static str {
        "kubectl creates pods; the API server stores them, the scheduler binds them and the kubelets run them, all through the API"
    }

    fn directory(&self, config: &PodLifecycleConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, _seed: u64, _config: &PodLifecycleConfig) -> FaultSchedule {
        // The story is the fault-free path of a pod; a fault file adds faults to it.
        FaultSchedule::default()
    }

    fn mutants(&self) -> &'static [&'static str] {
        &KUBE_MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &["scheduler-forgets-assumed"]
    }

    fn run(&self, input: &RunInput<'_, PodLifecycleConfig>) -> Result<ScenarioRun, ScenarioError> {
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
                    kubectl.client().ctx().sleep_until(SimTime::from_ms(c.create_at_ms)).await;
                    for i in 0..c.pods {
                        let pod = json!({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": format!("web-{i}"), "namespace": "default", "labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                "resources": {"requests": {"cpu": c.pod_cpu, "memory": c.pod_memory}}}]}});
                        let each = kubectl.clone();
                        // One apply of one file: the creates go out together.
                        kubectl.client().ctx().spawn(async move {
                            let _ = each.create(pod).await;
                        });
                    }
                    // kubectl's node lives on (its calls are its tasks).
                    std::future::pending::<()>().await;
                }
            },
            move |world| async move {
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
            },
        )?;
        let running = KubeStory {
            name: "pod-running",
            missing: "no kubelet started a pod",
            matches: |e| matches!(e, KubeEvent::PodStarted { .. }),
        };
        let every = EveryPodRuns {
            bound_ms: input.config.run_bound_ms,
        };
        let verdict = judge(&out, &objects, &[&running, &every]);
        Ok(ScenarioRun {
            nodes: out.nodes,
            trace: out.trace,
            history: out.history,
            verdict,
            data: Vec::new(),
        })
    }
}
