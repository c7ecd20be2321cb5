//! API operations in the history, judged: three kubectl clients race creates, applies,
//! updates with and without preconditions (some on versions already replaced), edits,
//! gets (quorum, from the cache at `"0"` and not older than a version seen), lists and
//! deletes on a few ConfigMaps, through two API servers, while the etcd leader is killed
//! and restarted, then the next leader isolated and healed. Every request is a history
//! operation; `linearizable-objects`, `resource-version-monotonic` and
//! `stale-update-conflicts` pass, and the requests caught by each fault are in the history
//! as indeterminate (`info`: no answer within kubectl's request timeout).
//!
//! The planted bug `quorum-get-from-cache` shows `linearizable-objects` failing on a real
//! run: an API server cut off from etcd answers quorum gets from its stale cache, and a
//! reader on it sees a version a writer on the other server had already replaced.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use apiserver_model::api_history::{self, Answer, ApiOp};
use apiserver_model::apiserver::{DeleteOptions, Preconditions, VersionMatch};
use apiserver_model::checks::linearizable_objects::{self, LinearizableObjects};
use apiserver_model::checks::resource_version_monotonic::ResourceVersionMonotonic;
use apiserver_model::checks::stale_update_conflicts::StaleUpdateConflicts;
use apiserver_model::client::{ApiClient, ApiClientConfig};
use apiserver_model::cluster::{Cluster, ClusterSpec, ADMIN_TOKEN};
use apiserver_model::kubectl::Kubectl;
use apiserver_model::wire::ControlPlaneMsg;
use serde_json::{json, Value};
use sim_core::linearizability::{Budget, DEFAULT_MAX_STEPS};
use sim_core::{Check, Directory, FaultSchedule, History, Outcome, RunView, Sim, SimTime, Trace};

const NS: Option<&str> = Some("default");
/// The ConfigMaps the clients race on.
const NAMES: u64 = 3;
/// Clients start at 5 s (the API servers are up by then) and stop at this time.
const UNTIL_MS: u64 = 40_000;
/// The run's length.
const RUN_S: u64 = 48;

fn configmap(name: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"k": data}})
}

fn rv_of(object: &Value) -> Option<&str> {
    object["metadata"]["resourceVersion"].as_str()
}

/// One kubectl's racing workload until `UNTIL_MS`: each step picks a ConfigMap and a
/// command at random (the client's seeded rng), remembering the last object it saw of each
/// name so that its preconditions are sometimes stale.
async fn workload(kubectl: Kubectl, me: usize) {
    let client = kubectl.client().clone();
    let ctx = client.ctx();
    ctx.sleep_until(SimTime::from_ms(5_000 + client.rng_below(500)))
        .await;
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    let mut n = 0u64;
    while ctx.now() < SimTime::from_ms(UNTIL_MS) {
        n += 1;
        let name = format!("cm-{}", client.rng_below(NAMES));
        let data = format!("{me}-{n}");
        let last = seen.get(&name).cloned();
        let got = match client.rng_below(100) {
            0..8 => kubectl.create(configmap(&name, &data)).await,
            8..15 => kubectl.apply(configmap(&name, &data)).await,
            15..30 => kubectl.get("", "configmaps", NS, &name).await,
            30..38 => kubectl.get_at("", "configmaps", NS, &name, "0").await,
            38..43 => match last.as_ref().and_then(rv_of) {
                Some(rv) => kubectl.get_at("", "configmaps", NS, &name, rv).await,
                None => kubectl.get("", "configmaps", NS, &name).await,
            },
            // An update on the version last seen: stale if another client wrote since.
            43..63 => match last {
                Some(mut object) => {
                    object["data"] = json!({"k": data});
                    kubectl.update(object).await
                }
                None => kubectl.get("", "configmaps", NS, &name).await,
            },
            63..70 => kubectl.update(configmap(&name, &data)).await,
            70..78 => {
                let d = data.clone();
                kubectl
                    .edit("", "configmaps", NS, &name, move |o| {
                        o["data"] = json!({"k": d});
                    })
                    .await
            }
            78..85 => {
                let options = DeleteOptions::default();
                kubectl.delete("", "configmaps", NS, &name, options).await
            }
            85..89 => {
                let options = DeleteOptions {
                    preconditions: Some(Preconditions {
                        uid: None,
                        resource_version: last.as_ref().and_then(rv_of).map(str::to_string),
                    }),
                    ..DeleteOptions::default()
                };
                kubectl.delete("", "configmaps", NS, &name, options).await
            }
            89..95 => kubectl.list("", "configmaps", NS).await,
            _ => {
                kubectl
                    .list_at("", "configmaps", NS, "0", VersionMatch::NotOlderThan)
                    .await
            }
        };
        if let Ok(object) = got {
            if object["kind"] == "ConfigMapList" {
                for item in object["items"].as_array().into_iter().flatten() {
                    if let Some(n) = item["metadata"]["name"].as_str() {
                        seen.insert(n.to_string(), item.clone());
                    }
                }
            } else if object.pointer("/metadata/deletionTimestamp").is_none() {
                seen.insert(name, object);
            }
        }
        ctx.sleep(Duration::from_millis(20 + client.rng_below(180)))
            .await;
    }
}

/// A kubectl's part in a run.
type Work = Pin<Box<dyn Future<Output = ()>>>;

struct Run {
    trace: Trace,
    history: History,
    directory: Directory,
}

/// A cluster of 3 etcd members and `spec`'s API servers, no controllers, scheduler or
/// workers; `clients` kubectl nodes, each given its API client's config by `config`.
fn run(
    seed: u64,
    spec: ClusterSpec,
    faults: &str,
    clients: usize,
    config: impl Fn(&Cluster, usize) -> ApiClientConfig,
    work: fn(Kubectl, usize) -> Work,
) -> Run {
    let (mut sim, cluster) = spec.build(Sim::<ControlPlaneMsg>::new(seed));
    for i in 1..=clients {
        let api = config(&cluster, i);
        sim = sim.named_node(&format!("kubectl-{i}"), "clients", move |ctx| {
            work(Kubectl::new(ApiClient::new(ctx, api.clone())), i)
        });
    }
    let faults = FaultSchedule::from_toml_in(faults, "faults.toml", sim.directory())
        .expect("a valid fault file");
    let out = sim
        .faults(faults)
        .run(|world| async move { world.sleep(Duration::from_secs(RUN_S)).await })
        .expect("valid world");
    Run {
        trace: out.trace,
        history: out.history,
        directory: out.directory,
    }
}

/// The etcd leader killed at 15 s and restarted at 22 s (`heal-all`); the next leader
/// isolated at 28 s, healed at 34 s.
const LEADER_FAULTS: &str = "[[faults]]\nat_ms = 15000\nop = \"kill\"\nnode = \"role:leader\"\n\n\
     [[faults]]\nat_ms = 22000\nop = \"heal-all\"\n\n\
     [[faults]]\nat_ms = 28000\nop = \"isolate\"\nnode = \"role:leader\"\n\n\
     [[faults]]\nat_ms = 34000\nop = \"heal-all\"\n";

/// How long a racing kubectl waits for an answer (`kubectl --request-timeout=1s`): shorter
/// than an etcd election, so requests caught by a fault end without an answer, their
/// outcome unknown, while the API server may still carry them out.
const REQUEST_TIMEOUT_MS: u64 = 1_000;

fn racing(seed: u64) -> Run {
    let spec = ClusterSpec {
        api_servers: 2,
        controller_managers: 0,
        scheduler: false,
        workers: 0,
        ..ClusterSpec::default()
    };
    run(
        seed,
        spec,
        LEADER_FAULTS,
        3,
        |cluster, _| ApiClientConfig {
            timeout_ms: REQUEST_TIMEOUT_MS,
            ..cluster.client(ADMIN_TOKEN)
        },
        |kubectl, me| Box::pin(workload(kubectl, me)),
    )
}

fn judge(run: &Run, check: &dyn Check) -> Outcome {
    let view = RunView {
        seed: 0,
        nodes: &[],
        trace: &run.trace,
        history: &run.history,
    };
    check.check(&view)
}

fn ops(run: &Run) -> Vec<ApiOp> {
    api_history::api_ops(&run.history).expect("a readable history")
}

#[test]
fn racing_kubectls_through_etcd_leader_faults_are_linearizable_per_object() {
    let run = racing(21);
    let ops = ops(&run);
    let judged = linearizable_objects::judge(&run.history, &Budget::steps(DEFAULT_MAX_STEPS));
    eprintln!(
        "{} API operations; linearizable-objects searched {} over {} objects in {} steps, \
         judged {} cache reads",
        ops.len(),
        judged.searched,
        judged.objects,
        judged.steps,
        judged.cache_reads
    );
    assert_eq!(judged.outcome, Outcome::Pass);
    assert_eq!(judge(&run, &LinearizableObjects::default()), Outcome::Pass);
    assert_eq!(judge(&run, &ResourceVersionMonotonic), Outcome::Pass);
    assert_eq!(judge(&run, &StaleUpdateConflicts), Outcome::Pass);

    // What the checks judged: the races happened.
    let count = |f: &dyn Fn(&ApiOp) -> bool| ops.iter().filter(|op| f(op)).count();
    let conflicts = count(&|op| op.answer == Some(Answer::Conflict));
    let with_precondition = count(&|op| op.precondition.is_some());
    assert!(
        conflicts >= 3,
        "stale preconditions got 409: {conflicts} of {with_precondition}"
    );
    assert!(judged.cache_reads >= 10, "{}", judged.cache_reads);
    assert!(judged.searched >= 200, "{}", judged.searched);
    // Each fault left requests whose outcome is unknown, sent around it.
    for (fault_ms, heal_ms) in [(15_000, 22_000), (28_000, 34_000)] {
        let unknown = count(&|op| {
            op.answer.is_none()
                && op.invoke_us >= SimTime::from_ms(fault_ms - 1_000)
                && op.invoke_us <= SimTime::from_ms(heal_ms)
        });
        assert!(unknown >= 1, "no unknown outcome around {fault_ms} ms");
    }
    let before = count(&|op| op.answer.is_none() && op.invoke_us < SimTime::from_ms(14_000));
    assert_eq!(before, 0, "unknown outcomes before any fault");
    // Components record nothing: every operation is a kubectl's.
    let kubectls: Vec<_> = run
        .directory
        .nodes()
        .iter()
        .filter(|n| n.name.starts_with("kubectl-"))
        .map(|n| n.id)
        .collect();
    assert!(run
        .history
        .entries
        .iter()
        .all(|e| kubectls.contains(&e.client)));
}

#[test]
fn a_racing_run_is_deterministic() {
    assert_eq!(racing(22).trace.hash(), racing(22).trace.hash());
}

/// The reader on `apiserver-2` only: a quorum get of `cm-0` every 200 ms from 5 s to 40 s.
async fn reader(kubectl: Kubectl) {
    let client = kubectl.client().clone();
    let ctx = client.ctx();
    ctx.sleep_until(SimTime::from_ms(5_000)).await;
    while ctx.now() < SimTime::from_ms(UNTIL_MS) {
        let _ = kubectl.get("", "configmaps", NS, "cm-0").await;
        ctx.sleep(Duration::from_millis(200)).await;
    }
}

/// The writer on `apiserver-1` only: creates `cm-0`, then edits it every 500 ms.
async fn writer(kubectl: Kubectl) {
    let client = kubectl.client().clone();
    let ctx = client.ctx();
    ctx.sleep_until(SimTime::from_ms(5_000)).await;
    let _ = kubectl.apply(configmap("cm-0", "0")).await;
    let mut n = 0;
    while ctx.now() < SimTime::from_ms(UNTIL_MS) {
        n += 1;
        let _ = kubectl
            .edit("", "configmaps", NS, "cm-0", move |o| {
                o["data"] = json!({"k": n.to_string()});
            })
            .await;
        ctx.sleep(Duration::from_millis(500)).await;
    }
}

/// `apiserver-2` cut off from etcd from 15 s to 25 s, a writer on `apiserver-1` and a
/// reader on `apiserver-2`, with or without the planted bug.
fn cut_off_reader(seed: u64, bug: bool) -> Run {
    let spec = ClusterSpec {
        api_servers: 2,
        controller_managers: 0,
        scheduler: false,
        workers: 0,
        quorum_get_from_cache: bug,
        ..ClusterSpec::default()
    };
    let faults = "[[faults]]\nat_ms = 15000\nop = \"partition\"\n\
         groups = [[\"apiserver-2\"], [\"etcd-1\", \"etcd-2\", \"etcd-3\"]]\n\n\
         [[faults]]\nat_ms = 25000\nop = \"heal-all\"\n";
    run(
        seed,
        spec,
        faults,
        2,
        |cluster, i| ApiClientConfig::new(vec![cluster.api_servers[i - 1]], Some(ADMIN_TOKEN)),
        |kubectl, me| {
            if me == 1 {
                Box::pin(writer(kubectl))
            } else {
                Box::pin(reader(kubectl))
            }
        },
    )
}

#[test]
fn quorum_gets_from_a_lagging_cache_are_not_linearizable() {
    let honest = cut_off_reader(5, false);
    assert_eq!(
        judge(&honest, &LinearizableObjects::default()),
        Outcome::Pass
    );
    // Cut off, the honest server's quorum gets time out: indeterminate reads.
    assert!(ops(&honest).iter().any(|op| op.answer.is_none()));

    let buggy = cut_off_reader(5, true);
    let Outcome::Violation { message, evidence } = judge(&buggy, &LinearizableObjects::default())
    else {
        panic!("expected a violation");
    };
    assert!(
        message.contains("core/configmaps/default/cm-0"),
        "{message}"
    );
    assert!(
        evidence.iter().any(|e| e.note.contains(" get ")),
        "{evidence:?}"
    );
    // The stale answers are real versions, in order: only linearizability catches them.
    assert_eq!(judge(&buggy, &ResourceVersionMonotonic), Outcome::Pass);
    assert_eq!(judge(&buggy, &StaleUpdateConflicts), Outcome::Pass);
}
