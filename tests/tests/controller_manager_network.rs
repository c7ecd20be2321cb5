//! kube-controller-manager over the network: three replicas on three control-plane hosts
//! elect a leader through the `kube-system/kube-controller-manager` Lease, and only the
//! leader's controllers act. A ReplicaSet created by kubectl gets its pods (scheduled,
//! admitted and Running on the workers), is scaled down, and when the leader's host is
//! killed another replica takes the Lease after it expires and carries on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver_model::client::ApiClient;
use apiserver_model::cluster::{ClusterSpec, ADMIN_TOKEN};
use apiserver_model::events::KubeEvent;
use apiserver_model::kubectl::Kubectl;
use apiserver_model::wire::ControlPlaneMsg;
use serde_json::{json, Value};
use sim_core::{Sim, SimTime, Trace};

fn replica_set(replicas: u64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}})
}

/// What kubectl saw at each look: the ReplicaSet and its pods.
#[derive(Clone, Debug, Default)]
struct Look {
    replica_set: Value,
    pods: Vec<Value>,
}

struct Run {
    trace: Trace,
    looks: Vec<Look>,
}

/// kubectl: creates the ReplicaSet at 5 s with 4 replicas, looks at 40 s, scales it to 2,
/// looks at 70 s, scales it to 5 at `rescale_s` and looks 40 s later.
fn run(seed: u64, faults: &str, rescale_s: u64) -> Run {
    let looks: Arc<Mutex<Vec<Look>>> = Arc::default();
    let (sim, cluster) = ClusterSpec::default().build(Sim::<ControlPlaneMsg>::new(seed));
    let api = cluster.client(ADMIN_TOKEN);
    let seen = looks.clone();
    let sim = sim.named_node("kubectl", "clients", move |ctx| {
        let kubectl = Kubectl::new(ApiClient::new(ctx, api.clone()));
        let seen = seen.clone();
        async move {
            let kubectl = &kubectl;
            let ns = Some("default");
            let look = || async {
                let set = kubectl.get("apps", "replicasets", ns, "web").await;
                let pods = kubectl.list("", "pods", ns).await;
                Look {
                    replica_set: set.unwrap_or_default(),
                    pods: pods
                        .ok()
                        .and_then(|p| p["items"].as_array().cloned())
                        .unwrap_or_default(),
                }
            };
            let scale = |replicas: u64| kubectl.scale("apps", "replicasets", ns, "web", replicas);
            let ctx = kubectl.client().ctx();
            ctx.sleep_until(SimTime::from_ms(5_000)).await;
            let _ = kubectl.create(replica_set(4)).await;
            ctx.sleep_until(SimTime::from_ms(40_000)).await;
            let first = look().await;
            seen.lock().unwrap().push(first);
            let _ = scale(2).await;
            ctx.sleep_until(SimTime::from_ms(70_000)).await;
            let second = look().await;
            seen.lock().unwrap().push(second);
            ctx.sleep_until(SimTime::from_ms(rescale_s * 1_000)).await;
            let _ = scale(5).await;
            ctx.sleep_until(SimTime::from_ms((rescale_s + 40) * 1_000))
                .await;
            let third = look().await;
            seen.lock().unwrap().push(third);
        }
    });
    let faults = sim_core::FaultSchedule::from_toml_in(faults, "faults.toml", sim.directory())
        .expect("a valid fault file");
    let out = sim
        .faults(faults)
        .run(move |world| async move { world.sleep(Duration::from_secs(rescale_s + 45)).await })
        .expect("valid world");
    let looks = looks.lock().unwrap().clone();
    Run {
        trace: out.trace,
        looks,
    }
}

fn kube_events(trace: &Trace) -> Vec<(SimTime, KubeEvent)> {
    trace
        .events
        .iter()
        .filter_map(|e| e.layer::<KubeEvent>().map(|k| (e.t_us, k.clone())))
        .collect()
}

fn leaders(trace: &Trace) -> Vec<(SimTime, String)> {
    kube_events(trace)
        .into_iter()
        .filter_map(|(at, e)| match e {
            KubeEvent::LeaderElected { holder, .. } => Some((at, holder)),
            _ => None,
        })
        .collect()
}

fn running(look: &Look) -> usize {
    look.pods
        .iter()
        .filter(|p| {
            p["status"]["phase"] == "Running" && p.pointer("/metadata/deletionTimestamp").is_none()
        })
        .count()
}

#[test]
fn one_leader_keeps_a_replica_set_at_its_replicas_through_scaling() {
    let run = run(7, "", 80);
    let elected = leaders(&run.trace);
    assert_eq!(
        elected.len(),
        1,
        "one replica leads, the others wait: {elected:?}"
    );
    let [first, second, third] = run.looks.as_slice() else {
        panic!("three looks: {:?}", run.looks)
    };
    assert_eq!(running(first), 4, "{:?}", first.pods);
    for p in &first.pods {
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], first.replica_set["metadata"]["uid"]);
        assert!(p["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    }
    assert_eq!(first.replica_set["status"]["replicas"], 4);
    assert_eq!(first.replica_set["status"]["readyReplicas"], 4);
    assert_eq!(running(second), 2, "{:?}", second.pods);
    assert_eq!(second.replica_set["status"]["replicas"], 2);
    assert_eq!(running(third), 5, "{:?}", third.pods);
}

#[test]
fn killing_the_leader_hands_the_lease_to_another_replica_after_it_expires() {
    let faults =
        "[[faults]]\nat_ms = 75000\nop = \"kill\"\nnode = \"role:controller-manager-leader\"\n";
    let run = run(7, faults, 100);
    let elected = leaders(&run.trace);
    let [(t1, first), (t2, second)] = elected.as_slice() else {
        panic!("two terms: {elected:?}")
    };
    assert_ne!(first, second);
    // The Lease expires 15 s after the last renewal (every 2 s): the new leader takes over
    // between 13 and 15 s plus a candidate's retry of up to 4.4 s after the kill.
    let gap_ms = t2.as_ms().saturating_sub(75_000);
    assert!(
        (13_000..=20_000).contains(&gap_ms),
        "took over {gap_ms} ms after the kill"
    );
    assert!(t1.as_ms() < 75_000);
    // The new leader's controllers act: the scale to 5 after the kill is carried out.
    assert_eq!(running(&run.looks[2]), 5, "{:?}", run.looks[2].pods);
}

#[test]
fn a_controller_manager_run_is_deterministic() {
    let a = run(9, "", 80).trace.hash();
    assert_eq!(a, run(9, "", 80).trace.hash());
}
