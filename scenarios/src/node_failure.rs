//! `node-failure` (003's node controller, 004 §14.1 of the course notes): a worker dies
//! while its ReplicaSet's pods run. Its kubelet stops renewing the node Lease; after the
//! 50 s grace period the node lifecycle controller marks the node Unknown and taints it
//! `node.kubernetes.io/unreachable`; the pod there is still Running as far as the API
//! knows (nobody can ask the kubelet). 300 s after the taint (the pods' default
//! toleration) the taint eviction controller deletes it, the ReplicaSet controller makes
//! a replacement and the scheduler puts it on a live node. When the worker comes back its
//! kubelet finishes the deletion, reports Ready, and the taints go.
//!
//! The story is the fault schedule this scenario draws when none is given: the kill of a
//! worker and its restart. Checks beyond every Kubernetes run's: `node-marked-unknown`,
//! `node-tainted-unreachable` and `pod-evicted` (story), `evicted-pods-replaced`
//! (liveness: a replacement starts on another node within the bound).

use std::time::Duration;

use apiserver_model::controllers::node_lifecycle::UNREACHABLE_TAINT;
use apiserver_model::events::KubeEvent;
use apiserver_model::kubectl::Kubectl;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sim_core::{
    Check, CheckKind, Directory, Evidence, FaultOp, FaultSchedule, Outcome, RunView, SimTime,
    TimedFault,
};

use crate::kube_world::{
    judge, manifest_objects, KubeClusterConfig, KubeStory, ManifestFile, KUBE_MUTANT_NAMES,
};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// The node-failure scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeFailureConfig {
    /// The control plane.
    pub cluster: KubeClusterConfig,
    /// The ReplicaSet's replicas (one a worker, by the scheduler's spreading).
    pub replicas: u64,
    /// The worker that dies (`worker-1`).
    pub worker: String,
    /// When it dies, milliseconds.
    pub kill_at_ms: u64,
    /// When it comes back, milliseconds (0: never).
    pub restart_at_ms: u64,
    /// A replacement must start on another node within this long of the eviction,
    /// milliseconds (the ReplicaSet's create, scheduling, the kubelet's start).
    pub replace_bound_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
    /// Manifests kubectl applies at 3 s besides the story (`ksim run --manifest FILE`).
    pub manifests: Vec<ManifestFile>,
}

impl Default for NodeFailureConfig {
    /// Timed for Kubernetes' defaults: Unknown 50 s after the last renewal (every 10 s),
    /// eviction 300 s after the taint, so the pod goes at about 390 s; the worker returns
    /// at 420 s.
    fn default() -> Self {
        NodeFailureConfig {
            cluster: KubeClusterConfig::default(),
            replicas: 3,
            worker: "worker-1".to_string(),
            kill_at_ms: 30_000,
            restart_at_ms: 420_000,
            replace_bound_ms: 20_000,
            duration_ms: 460_000,
            manifests: Vec::new(),
        }
    }
}

impl ScenarioConfig for NodeFailureConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        self.cluster.validate()?;
        manifest_objects(&self.manifests)?;
        let known = (1..=self.cluster.workers).any(|w| self.worker == format!("worker-{w}"));
        if !known {
            return Err(ScenarioError::Config(format!(
                "worker = {:?}: one of worker-1 to worker-{}",
                self.worker, self.cluster.workers
            )));
        }
        if self.cluster.workers < 2 {
            return Err(ScenarioError::Config(
                "cluster.workers = 1: a node failure needs another worker for the replacements"
                    .to_string(),
            ));
        }
        if self.cluster.controller_managers == 0 {
            return Err(ScenarioError::Config(
                "cluster.controller_managers = 0: the node lifecycle controller runs in the controller-manager".to_string(),
            ));
        }
        if self.restart_at_ms != 0 && self.restart_at_ms <= self.kill_at_ms {
            return Err(ScenarioError::Config(format!(
                "restart_at_ms = {} must come after kill_at_ms = {} (or be 0: never)",
                self.restart_at_ms, self.kill_at_ms
            )));
        }
        // 50 s grace, 5 s period, 300 s toleration, the replacement.
        let needed = self.kill_at_ms + 60_000 + 300_000 + self.replace_bound_ms;
        if self.duration_ms < needed {
            return Err(ScenarioError::Config(format!(
                "duration_ms = {} is too short for the grace period, the toleration and the replacement (at least {needed})",
                self.duration_ms
            )));
        }
        Ok(self)
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeFailure;

/// `evicted-pods-replaced` (Eventually): after each eviction some kubelet of another node
/// starts a pod within the bound.
struct EvictedPodsReplaced {
    bound_ms: u64,
}

impl Check for EvictedPodsReplaced {
    fn name(&self) -> &'static str {
        "evicted-pods-replaced"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &["pod-evicted"]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let events = &run.trace.events;
        let directory = run.trace.directory();
        let node_name = |e: &sim_core::TraceEvent| {
            e.node
                .and_then(|n| directory.get(n))
                .map(|i| i.name.clone())
                .unwrap_or_default()
        };
        let mut late = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let Some(KubeEvent::PodEvicted { pod, node }) = e.layer::<KubeEvent>() else {
                continue;
            };
            let deadline = e.t_us.after(Duration::from_millis(self.bound_ms));
            if deadline > run.trace.end_time() {
                continue;
            }
            let replaced = events[i..].iter().any(|s| {
                s.t_us <= deadline
                    && matches!(s.layer::<KubeEvent>(), Some(KubeEvent::PodStarted { .. }))
                    && node_name(s) != *node
            });
            if !replaced {
                late.push(Evidence::event(
                    e,
                    format!(
                        "{pod} evicted from {node}; no pod started elsewhere within {} ms",
                        self.bound_ms
                    ),
                ));
            }
        }
        if late.is_empty() {
            Outcome::Pass
        } else {
            Outcome::violation(
                format!("{} evicted pod(s) were not replaced in time", late.len()),
                late,
            )
        }
    }
}

impl Scenario for NodeFailure {
    type Config = NodeFailureConfig;

    fn name(&self) -> &'static str {
        "node-failure"
    }

    fn summary(&self) -> &'static str {
        "a worker dies; its node goes Unknown after 50 s and is tainted, its pod is evicted 300 s later and replaced elsewhere"
    }

    fn directory(&self, config: &NodeFailureConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, _seed: u64, config: &NodeFailureConfig) -> FaultSchedule {
        let Ok(node) = self.directory(config).resolve_one(&config.worker) else {
            return FaultSchedule::default();
        };
        let mut faults = vec![TimedFault {
            at_ms: config.kill_at_ms,
            op: FaultOp::Kill { node },
            roles: Vec::new(),
        }];
        if config.restart_at_ms > 0 {
            faults.push(TimedFault {
                at_ms: config.restart_at_ms,
                op: FaultOp::Restart { node },
                roles: Vec::new(),
            });
        }
        FaultSchedule::new(faults)
    }

    fn mutants(&self) -> &'static [&'static str] {
        &KUBE_MUTANT_NAMES
    }

    fn run(&self, input: &RunInput<'_, NodeFailureConfig>) -> Result<ScenarioRun, ScenarioError> {
        let c = input.config.clone();
        let objects = manifest_objects(&c.manifests)?;
        let replicas = c.replicas;
        let out = c.cluster.run(
            input.seed,
            (input.mutants, &objects),
            input.faults,
            move |client| async move {
                let kubectl = Kubectl::new(client);
                kubectl
                    .client()
                    .ctx()
                    .sleep_until(SimTime::from_ms(5_000))
                    .await;
                let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}}}]}}}});
                // Again while unanswered, as the user at the terminal would.
                for _ in 0..5 {
                    match kubectl.apply(rs.clone()).await {
                        Err(e) if e.no_answer() => {}
                        _ => break,
                    }
                }
                std::future::pending::<()>().await;
            },
            move |world| async move {
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
            },
        )?;
        let unknown = KubeStory {
            name: "node-marked-unknown",
            missing: "no node was marked Unknown",
            matches: |e| matches!(e, KubeEvent::NodeUnknown { .. }),
        };
        let tainted = KubeStory {
            name: "node-tainted-unreachable",
            missing: "no node was tainted unreachable:NoExecute",
            matches: |e| {
                matches!(e, KubeEvent::NodeTaints { taints, .. }
                    if taints.iter().any(|t| t == &format!("{UNREACHABLE_TAINT}:NoExecute")))
            },
        };
        let evicted = KubeStory {
            name: "pod-evicted",
            missing: "no pod was evicted",
            matches: |e| matches!(e, KubeEvent::PodEvicted { .. }),
        };
        let replaced = EvictedPodsReplaced {
            bound_ms: input.config.replace_bound_ms,
        };
        let verdict = judge(&out, &objects, &[&unknown, &tainted, &evicted, &replaced]);
        Ok(ScenarioRun {
            nodes: out.nodes,
            trace: out.trace,
            history: out.history,
            verdict,
            data: Vec::new(),
        })
    }
}
