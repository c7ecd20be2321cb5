//! A Deployment through the whole control plane (001 Part 3 of the course notes): kubectl
//! creates it with 3 replicas, scales it to 1 and to 5, then changes its image. The
//! Deployment controller makes a ReplicaSet, the ReplicaSet controller its pods, the
//! scheduler binds them and the kubelets run them; the image change rolls out to a new
//! ReplicaSet within maxSurge and maxUnavailable (25% each: at most 7 pods, at least 4
//! available, of 5), and the old ReplicaSet ends at 0.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver_model::apiserver::{DeleteOptions, Propagation};
use apiserver_model::checks::all_roads::AllRoadsLeadToApiServer;
use apiserver_model::checks::binding_once::BindingOnce;
use apiserver_model::checks::no_overcommit::NoOvercommit;
use apiserver_model::client::ApiClient;
use apiserver_model::cluster::{ClusterSpec, ADMIN_TOKEN};
use apiserver_model::kubectl::{Kubectl, KubectlResult};
use apiserver_model::wire::ControlPlaneMsg;
use serde_json::{json, Value};
use sim_core::{OnlineCheck, Sim, SimTime, Trace, Violation};

fn deployment(replicas: u64, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": image,
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}})
}

/// What kubectl saw at one time.
#[derive(Clone, Debug)]
struct Look {
    at_s: u64,
    deployment: Value,
    replica_sets: Vec<Value>,
    pods: Vec<Value>,
}

struct Run {
    trace: Trace,
    looks: Vec<Look>,
}

const ROLL_S: u64 = 110;

const NS: Option<&str> = Some("default");

/// The items of a list kubectl got (none if it got no list).
fn items(list: KubectlResult<Value>) -> Vec<Value> {
    list.ok()
        .and_then(|v| v["items"].as_array().cloned())
        .unwrap_or_default()
}

/// `kubectl get deployment web; kubectl get replicasets,pods` at `at_s`.
async fn look(kubectl: &Kubectl, at_s: u64) -> Look {
    let d = kubectl.get("apps", "deployments", NS, "web").await;
    let rs = kubectl.list("apps", "replicasets", NS).await;
    let pods = kubectl.list("", "pods", NS).await;
    Look {
        at_s,
        deployment: d.unwrap_or_default(),
        replica_sets: items(rs),
        pods: items(pods),
    }
}

fn first_violation<C: OnlineCheck>(trace: &Trace) -> Option<Violation> {
    let mut check = C::default();
    trace.events.iter().find_map(|e| check.observe(e))
}

fn run(seed: u64) -> Run {
    let looks: Arc<Mutex<Vec<Look>>> = Arc::default();
    let (sim, cluster) = ClusterSpec::default().build(Sim::<ControlPlaneMsg>::new(seed));
    let api = cluster.client(ADMIN_TOKEN);
    let seen = looks.clone();
    let sim = sim.named_node("kubectl", "clients", move |ctx| {
        let kubectl = Kubectl::new(ApiClient::new(ctx, api.clone()));
        let seen = seen.clone();
        async move {
            let kubectl = &kubectl;
            let look = |at_s: u64| async move { look(kubectl, at_s).await };
            let ctx = kubectl.client().ctx();
            ctx.sleep_until(SimTime::from_ms(5_000)).await;
            let _ = kubectl.apply(deployment(3, "nginx:1.27")).await;
            let at = |s: u64| ctx.sleep_until(SimTime::from_ms(s * 1_000));
            at(40).await;
            let l = look(40).await;
            seen.lock().unwrap().push(l);
            let _ = kubectl.scale("apps", "deployments", NS, "web", 1).await;
            at(70).await;
            let l = look(70).await;
            seen.lock().unwrap().push(l);
            let _ = kubectl.scale("apps", "deployments", NS, "web", 5).await;
            at(ROLL_S).await;
            let l = look(ROLL_S).await;
            seen.lock().unwrap().push(l);
            let _ = kubectl
                .set_image("apps", "deployments", NS, "web", "nginx", "nginx:1.28")
                .await;
            // Watch the rollout every second.
            for s in ROLL_S + 1..=ROLL_S + 60 {
                at(s).await;
                let l = look(s).await;
                seen.lock().unwrap().push(l);
            }
        }
    });
    let out = sim
        .run(|world| async move { world.sleep(Duration::from_secs(ROLL_S + 65)).await })
        .expect("valid world");
    let looks = looks.lock().unwrap().clone();
    Run {
        trace: out.trace,
        looks,
    }
}

fn active(pods: &[Value]) -> Vec<&Value> {
    pods.iter()
        .filter(|p| {
            p.pointer("/metadata/deletionTimestamp").is_none()
                && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
        })
        .collect()
}

fn running(pods: &[Value], image: &str) -> usize {
    active(pods)
        .iter()
        .filter(|p| {
            p["status"]["phase"] == "Running" && p["spec"]["containers"][0]["image"] == image
        })
        .count()
}

#[test]
fn a_deployment_scales_and_rolls_out_within_its_surge_and_unavailability() {
    let run = run(11);
    let at = |s: u64| run.looks.iter().find(|l| l.at_s == s).unwrap();
    let first = at(40);
    assert_eq!(running(&first.pods, "nginx:1.27"), 3, "{:?}", first.pods);
    assert_eq!(first.replica_sets.len(), 1);
    let rs = &first.replica_sets[0];
    assert!(rs["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(
        rs["metadata"]["ownerReferences"][0]["uid"],
        first.deployment["metadata"]["uid"]
    );
    assert_eq!(
        first.deployment["status"]["availableReplicas"], 3,
        "{}",
        first.deployment
    );
    assert_eq!(running(&at(70).pods, "nginx:1.27"), 1);
    assert_eq!(running(&at(ROLL_S).pods, "nginx:1.27"), 5);

    // The rollout: never more than 5 + 2 pods, never fewer than 5 - 1 running.
    for l in run.looks.iter().filter(|l| l.at_s > ROLL_S) {
        let total = active(&l.pods).len();
        let up = running(&l.pods, "nginx:1.27") + running(&l.pods, "nginx:1.28");
        assert!(total <= 7, "{total} pods at {} s", l.at_s);
        assert!(up >= 4, "{up} running at {} s", l.at_s);
    }
    let end = run.looks.last().unwrap();
    assert_eq!(running(&end.pods, "nginx:1.28"), 5, "{:?}", end.pods);
    assert_eq!(active(&end.pods).len(), 5);
    assert_eq!(end.replica_sets.len(), 2);
    let sizes: Vec<(String, u64)> = end
        .replica_sets
        .iter()
        .map(|rs| {
            (
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                rs["spec"]["replicas"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(sizes.contains(&("nginx:1.27".to_string(), 0)), "{sizes:?}");
    assert!(sizes.contains(&("nginx:1.28".to_string(), 5)), "{sizes:?}");
    let status = &end.deployment["status"];
    assert_eq!(status["updatedReplicas"], 5, "{status}");
    assert_eq!(status["availableReplicas"], 5);
    let condition = |t: &str| {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(condition("Available")["status"], "True");
    assert_eq!(condition("Progressing")["reason"], "NewReplicaSetAvailable");
    // Every pod of the rollout was bound once, no node was overcommitted, and every
    // component kept to the API server.
    assert_eq!(first_violation::<BindingOnce>(&run.trace), None);
    assert_eq!(first_violation::<NoOvercommit>(&run.trace), None);
    assert_eq!(first_violation::<AllRoadsLeadToApiServer>(&run.trace), None);
}

/// What kubectl sees after deleting the Deployment with `policy` at 40 s: looks at 40 s
/// (before), 40.3 s and 80 s.
fn delete_run(seed: u64, policy: Propagation) -> Vec<Look> {
    let looks: Arc<Mutex<Vec<Look>>> = Arc::default();
    let (sim, cluster) = ClusterSpec::default().build(Sim::<ControlPlaneMsg>::new(seed));
    let api = cluster.client(ADMIN_TOKEN);
    let seen = looks.clone();
    let sim = sim.named_node("kubectl", "clients", move |ctx| {
        let kubectl = Kubectl::new(ApiClient::new(ctx, api.clone()));
        let seen = seen.clone();
        async move {
            let kubectl = &kubectl;
            let ctx = kubectl.client().ctx();
            ctx.sleep_until(SimTime::from_ms(5_000)).await;
            let _ = kubectl.create(deployment(3, "nginx:1.27")).await;
            ctx.sleep_until(SimTime::from_ms(40_000)).await;
            let l = look(kubectl, 40).await;
            seen.lock().unwrap().push(l);
            let options = DeleteOptions {
                propagation_policy: Some(policy),
                ..DeleteOptions::default()
            };
            let _ = kubectl
                .delete("apps", "deployments", NS, "web", options)
                .await;
            // Right after the delete (the pods take up to a second to stop), and later.
            for ms in [40_300, 80_000] {
                ctx.sleep_until(SimTime::from_ms(ms)).await;
                let l = look(kubectl, ms / 1_000).await;
                seen.lock().unwrap().push(l);
            }
        }
    });
    sim.run(|world| async move { world.sleep(Duration::from_secs(85)).await })
        .expect("valid world");
    let looks = looks.lock().unwrap().clone();
    looks
}

#[test]
fn deleting_a_deployment_in_the_background_collects_its_replica_set_and_pods() {
    let looks = delete_run(13, Propagation::Background);
    assert_eq!(active(&looks[0].pods).len(), 3);
    assert!(
        looks[1].deployment.is_null(),
        "gone at once: {}",
        looks[1].deployment
    );
    let end = &looks[2];
    assert!(end.replica_sets.is_empty(), "{:?}", end.replica_sets);
    assert!(end.pods.is_empty(), "{:?}", end.pods);
}

#[test]
fn deleting_a_deployment_in_the_foreground_waits_for_its_dependents() {
    let looks = delete_run(13, Propagation::Foreground);
    let during = &looks[1].deployment;
    assert!(
        during.pointer("/metadata/deletionTimestamp").is_some(),
        "{during}"
    );
    assert_eq!(
        during["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    let end = &looks[2];
    assert!(end.deployment.is_null(), "{}", end.deployment);
    assert!(end.replica_sets.is_empty() && end.pods.is_empty());
}

#[test]
fn orphaning_a_deployment_leaves_its_replica_set_and_pods_running() {
    let looks = delete_run(13, Propagation::Orphan);
    let end = &looks[2];
    assert!(end.deployment.is_null(), "{}", end.deployment);
    assert_eq!(end.replica_sets.len(), 1);
    assert!(
        end.replica_sets[0]["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "{}",
        end.replica_sets[0]
    );
    assert_eq!(running(&end.pods, "nginx:1.27"), 3);
    let rs_uid = &end.replica_sets[0]["metadata"]["uid"];
    assert!(end
        .pods
        .iter()
        .all(|p| &p["metadata"]["ownerReferences"][0]["uid"] == rs_uid));
}
