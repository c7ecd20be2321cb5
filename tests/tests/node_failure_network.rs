//! A worker dies (004 §14.1 of the course notes): its kubelet stops renewing the node
//! Lease, the node lifecycle controller marks the node Unknown after the 50 s grace period
//! and taints it `node.kubernetes.io/unreachable` (NoSchedule at once, NoExecute for
//! eviction); the API still says its pod is Running meanwhile, since nobody can ask the
//! kubelet. 300 s later (the pods' default toleration) the taint eviction controller
//! deletes the pod, the ReplicaSet controller makes a replacement and the scheduler puts
//! it on a live node; the evicted pod stays Terminating, since only its kubelet can confirm
//! it stopped. When the worker comes back its kubelet deletes that pod for good, reports
//! Ready and the taints go.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver_model::apiserver::Request;
use apiserver_model::client::ApiClient;
use apiserver_model::cluster::{ClusterSpec, ADMIN_TOKEN};
use apiserver_model::events::KubeEvent;
use apiserver_model::verb::Verb;
use apiserver_model::wire::ControlPlaneMsg;
use serde_json::{json, Value};
use sim_core::{Sim, SimTime, Trace};

const KILL_MS: u64 = 30_000;
const RESTART_MS: u64 = 420_000;
const END_S: u64 = 460;

/// The pods kubectl saw at each look time.
struct Run {
    trace: Trace,
    looks: Vec<(u64, Vec<Value>)>,
    nodes_at_end: Vec<Value>,
}

/// The looks so far and the nodes at the end.
type Seen = (Vec<(u64, Vec<Value>)>, Vec<Value>);

fn run(seed: u64) -> Run {
    let looks: Arc<Mutex<Seen>> = Arc::default();
    let (sim, cluster) = ClusterSpec::default().build(Sim::<ControlPlaneMsg>::new(seed));
    let api = cluster.client(ADMIN_TOKEN);
    let seen = looks.clone();
    let sim = sim.named_node("kubectl", "clients", move |ctx| {
        let client = ApiClient::new(ctx, api.clone());
        let seen = seen.clone();
        async move {
            client.ctx().sleep_until(SimTime::from_ms(5_000)).await;
            let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}}}]}}}});
            let create = Request::new(None, Verb::Create, "apps", "replicasets")
                .in_namespace("default")
                .with_body(rs);
            let _ = client.call(create).await;
            let items = |v: Result<Value, _>| {
                v.ok()
                    .and_then(|v| v["items"].as_array().cloned())
                    .unwrap_or_default()
            };
            for at_s in [25, 200, 400, END_S - 5] {
                client
                    .ctx()
                    .sleep_until(SimTime::from_ms(at_s * 1_000))
                    .await;
                let list = Request::new(None, Verb::List, "", "pods").in_namespace("default");
                let pods = items(client.call(list).await);
                seen.lock().unwrap().0.push((at_s, pods));
            }
            let nodes = items(
                client
                    .call(Request::new(None, Verb::List, "", "nodes"))
                    .await,
            );
            seen.lock().unwrap().1 = nodes;
        }
    });
    let faults = format!(
        "[[faults]]\nat_ms = {KILL_MS}\nop = \"kill\"\nnode = \"worker-1\"\n\n\
         [[faults]]\nat_ms = {RESTART_MS}\nop = \"restart\"\nnode = \"worker-1\"\n"
    );
    let faults = sim_core::FaultSchedule::from_toml_in(&faults, "faults.toml", sim.directory())
        .expect("a valid fault file");
    let out = sim
        .faults(faults)
        .run(|world| async move { world.sleep(Duration::from_secs(END_S)).await })
        .expect("valid world");
    let (looks, nodes_at_end) = looks.lock().unwrap().clone();
    Run {
        trace: out.trace,
        looks,
        nodes_at_end,
    }
}

fn kube_events(trace: &Trace) -> Vec<(SimTime, KubeEvent)> {
    trace
        .events
        .iter()
        .filter_map(|e| e.layer::<KubeEvent>().map(|k| (e.t_us, k.clone())))
        .collect()
}

fn on_node<'a>(pods: &'a [Value], node: &str) -> Vec<&'a Value> {
    pods.iter()
        .filter(|p| p["spec"]["nodeName"] == node)
        .collect()
}

#[test]
fn a_dead_workers_pods_are_evicted_after_their_toleration_and_replaced_elsewhere() {
    let run = run(5);
    let events = kube_events(&run.trace);
    let look = |at_s: u64| &run.looks.iter().find(|(t, _)| *t == at_s).unwrap().1;
    // Before the kill: one 500m pod a worker (LeastAllocated spreads them).
    let before = look(25);
    assert_eq!(before.len(), 3);
    let victims: Vec<String> = on_node(before, "worker-1")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(victims.len(), 1, "{before:?}");

    // Unknown 50 s after the last renewal (every 10 s) at the next 5 s look.
    let unknown = events
        .iter()
        .find(|(_, e)| matches!(e, KubeEvent::NodeUnknown { node } if node == "worker-1"))
        .map(|(t, _)| t.as_ms())
        .expect("worker-1 marked Unknown");
    assert!(
        (KILL_MS + 40_000..=KILL_MS + 60_000).contains(&unknown),
        "Unknown at {unknown} ms"
    );
    let tainted = events.iter().find_map(|(t, e)| match e {
        KubeEvent::NodeTaints { node, taints }
            if node == "worker-1"
                && taints.contains(&"node.kubernetes.io/unreachable:NoExecute".to_string()) =>
        {
            Some(t.as_ms())
        }
        _ => None,
    });
    let tainted = tainted.expect("worker-1 tainted NoExecute");
    assert!(tainted >= unknown && tainted <= unknown + 10_000);

    // Meanwhile the API still says the pod runs there: nobody can ask the kubelet.
    let middle = look(200);
    let stale = on_node(middle, "worker-1");
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0]["status"]["phase"], "Running");
    assert_ne!(
        stale[0]["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()["status"],
        "True",
        "marked not ready with its node"
    );

    // Evicted 300 s after the taint (its default toleration), replaced on a live node.
    let evicted = events
        .iter()
        .find_map(|(t, e)| match e {
            KubeEvent::PodEvicted { pod, node } if node == "worker-1" => {
                Some((t.as_ms(), pod.clone()))
            }
            _ => None,
        })
        .expect("evicted");
    assert_eq!(evicted.1, format!("default/{}", victims[0]));
    assert!(
        (tainted + 300_000..=tainted + 310_000).contains(&evicted.0),
        "evicted at {} ms, tainted at {tainted} ms",
        evicted.0
    );
    // The evicted pod stays Terminating: only its kubelet can say its containers stopped.
    let after = look(400);
    let left = on_node(after, "worker-1");
    assert_eq!(left.len(), 1, "{after:?}");
    assert!(left[0].pointer("/metadata/deletionTimestamp").is_some());
    let running: Vec<&Value> = after
        .iter()
        .filter(|p| {
            p["status"]["phase"] == "Running" && p.pointer("/metadata/deletionTimestamp").is_none()
        })
        .collect();
    assert_eq!(running.len(), 3, "{after:?}");
    assert!(running.iter().all(|p| p["spec"]["nodeName"] != "worker-1"));

    // Back: its kubelet deletes the pod for good, the node is Ready and the condition
    // taints are gone.
    let end = look(END_S - 5);
    assert_eq!(end.len(), 3, "{end:?}");
    assert!(on_node(end, "worker-1").is_empty());
    let worker1 = run
        .nodes_at_end
        .iter()
        .find(|n| n["metadata"]["name"] == "worker-1")
        .unwrap();
    let ready = worker1["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True", "{worker1}");
    assert!(
        worker1["spec"]["taints"]
            .as_array()
            .is_none_or(|t| t.is_empty()),
        "{worker1}"
    );
}
