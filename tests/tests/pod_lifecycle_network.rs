//! A pod's life across the control plane, every component on its own node and talking only
//! through the API server (003 §2 of the course notes): kubectl creates pods, the API
//! server stores them in etcd, the scheduler watches, decides and binds, each kubelet
//! watches the pods bound to its node, admits and starts them and reports Running.
//!
//! Then the same run with the planted bug `scheduler-forgets-assumed`: pods created
//! together are all placed before any binding comes back, so they pile onto one node and
//! its kubelet rejects what does not fit (OutOfcpu), which the kubelets' admission events
//! show; with the assumption in place no kubelet ever rejects a pod.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver_model::apiserver::{run_apiserver, ApiServerConfig, Request};
use apiserver_model::authn::Authenticator;
use apiserver_model::client::{ApiClient, ApiClientConfig};
use apiserver_model::events::KubeEvent;
use apiserver_model::kubelet::{run_kubelet, KubeletConfig, KUBELET_PORT};
use apiserver_model::scheduler::{run_scheduler, SchedulerConfig, SCHEDULER_PORT};
use apiserver_model::verb::Verb;
use apiserver_model::wire::ControlPlaneMsg;
use raft::driver::{run_node, DriverConfig};
use raft::etcd::EtcdStore;
use serde_json::{json, Value};
use sim_core::{NodeId, Sim, Trace};

const ADMIN: &str = "admin-token";
const WORKERS: usize = 3;
const PODS: usize = 6;

fn pod(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("web-{i}")},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
            "resources": {"requests": {"cpu": "900m", "memory": "128Mi"}}}]}})
}

struct Run {
    trace: Trace,
    /// The pods as the last list saw them.
    pods: Vec<Value>,
    nodes: Vec<Value>,
}

fn run(seed: u64, scheduler: SchedulerConfig) -> Run {
    run_with(seed, scheduler, "", 30)
}

/// A run with `faults` (a fault file's TOML), listing what it sees `end_s` - 10 s in.
fn run_with(seed: u64, scheduler: SchedulerConfig, faults: &str, end_s: u64) -> Run {
    let seen: Arc<Mutex<(Vec<Value>, Vec<Value>)>> = Arc::default();
    let etcd: Vec<NodeId> = (0..3).map(NodeId::from_index).collect();
    let apiserver = NodeId::from_index(3);
    let mut authn = Authenticator::new()
        .with_token(ADMIN, "admin", &["system:masters"])
        .with_token("scheduler-token", "system:kube-scheduler", &[]);
    for w in 1..=WORKERS {
        authn = authn.with_token(
            &format!("kubelet-{w}"),
            &format!("system:node:worker-{w}"),
            &["system:nodes"],
        );
    }
    let mut sim = Sim::<ControlPlaneMsg>::new(seed);
    for i in 1..=3 {
        let voters = etcd.clone();
        sim = sim.named_node(&format!("etcd-{i}"), "etcd", move |ctx| {
            run_node::<EtcdStore, _>(ctx, DriverConfig::default(), voters.clone())
        });
    }
    let config = ApiServerConfig::new("apiserver-1", etcd.clone(), authn);
    sim = sim
        .named_node("apiserver-1", "apiservers", move |ctx| {
            run_apiserver(ctx, config.clone())
        })
        .host("master-1", "control-plane")
        .component("master-1", "scheduler", SCHEDULER_PORT, move |ctx| {
            let api = ApiClientConfig::new(vec![apiserver], Some("scheduler-token"));
            run_scheduler(ctx, api, scheduler.clone())
        });
    for w in 1..=WORKERS {
        let node = format!("worker-{w}");
        sim = sim
            .host(&node, "workers")
            .component(&node, "kubelet", KUBELET_PORT, {
                let node = node.clone();
                move |ctx| {
                    let api = ApiClientConfig::new(vec![apiserver], Some(&format!("kubelet-{w}")));
                    run_kubelet(ctx, api, KubeletConfig::new(&node, "2", "4Gi"))
                }
            });
    }
    let observed = seen.clone();
    sim = sim.named_node("kubectl", "clients", move |ctx| {
        let client = ApiClient::new(ctx, ApiClientConfig::new(vec![apiserver], Some(ADMIN)));
        let observed = observed.clone();
        async move {
            client.ctx().sleep(Duration::from_secs(5)).await;
            for i in 0..PODS {
                let create = Request::new(None, Verb::Create, "", "pods")
                    .in_namespace("default")
                    .with_body(pod(i));
                let c = client.clone();
                // kubectl apply of one file: the creates go out together.
                client.ctx().spawn(async move {
                    let _ = c.call(create).await;
                });
            }
            client
                .ctx()
                .sleep_until(sim_core::SimTime::from_ms((end_s - 5) * 1_000))
                .await;
            let list = |resource: &str| Request::new(None, Verb::List, "", resource);
            let pods = client.call(list("pods").in_namespace("default")).await;
            let nodes = client.call(list("nodes")).await;
            let items = |v: Result<Value, _>| {
                v.ok()
                    .and_then(|v| v["items"].as_array().cloned())
                    .unwrap_or_default()
            };
            *observed.lock().unwrap() = (items(pods), items(nodes));
        }
    });
    let faults = sim_core::FaultSchedule::from_toml_in(faults, "faults.toml", sim.directory())
        .expect("a valid fault file");
    let out = sim
        .faults(faults)
        .run(|world| async move { world.sleep(Duration::from_secs(end_s)).await })
        .expect("valid world");
    let (pods, nodes) = seen.lock().unwrap().clone();
    Run {
        trace: out.trace,
        pods,
        nodes,
    }
}

fn no_overcommit(trace: &Trace) -> Option<sim_core::Violation> {
    use sim_core::OnlineCheck;
    let mut check = apiserver_model::checks::no_overcommit::NoOvercommit::default();
    trace.events.iter().find_map(|e| check.observe(e))
}

fn kube_events(trace: &Trace) -> Vec<KubeEvent> {
    trace
        .events
        .iter()
        .filter_map(|e| e.layer::<KubeEvent>().cloned())
        .collect()
}

/// Millicores each kubelet admitted, by node (from the admission events and where the
/// pods were bound).
fn admitted_cpu(run: &Run) -> BTreeMap<String, u64> {
    let node_of: BTreeMap<String, String> = run
        .pods
        .iter()
        .map(|p| {
            (
                format!("default/{}", p["metadata"]["name"].as_str().unwrap()),
                p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut cpu = BTreeMap::new();
    for e in kube_events(&run.trace) {
        if let KubeEvent::PodAdmitted { pod, cpu_milli, .. } = e {
            *cpu.entry(node_of[&pod].clone()).or_insert(0) += cpu_milli;
        }
    }
    cpu
}

#[test]
fn pods_are_scheduled_bound_admitted_and_running_through_the_api_only() {
    let run = run(3, SchedulerConfig::default());
    assert_eq!(
        run.nodes.len(),
        WORKERS,
        "every kubelet registered its node"
    );
    assert_eq!(run.pods.len(), PODS);
    for p in &run.pods {
        assert_eq!(p["status"]["phase"], "Running", "{p}");
        assert!(p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| n.starts_with("worker-")));
    }
    // Two 900m pods fit a 2-CPU node, so the six spread two a node; nothing was rejected.
    let cpu = admitted_cpu(&run);
    assert_eq!(
        cpu.values().copied().collect::<Vec<_>>(),
        vec![1800; WORKERS],
        "{cpu:?}"
    );
    let events = kube_events(&run.trace);
    assert!(!events
        .iter()
        .any(|e| matches!(e, KubeEvent::PodRejected { .. })));
    // All roads lead to the API server: no component but it talks to etcd, and nothing
    // talks to a kubelet.
    let etcd_ports = |n: NodeId| n.index() < 3;
    for e in &run.trace.events {
        if let sim_core::EventKind::Send {
            to, to_port, kind, ..
        } = &e.kind
        {
            let from = e.node.expect("a send has a sender");
            if etcd_ports(*to) && !etcd_ports(from) {
                assert_eq!(from, NodeId::from_index(3), "{kind} to etcd from {from}");
            }
            // Only the API server answers a kubelet or the scheduler (their own requests).
            if [KUBELET_PORT, SCHEDULER_PORT].contains(to_port) {
                assert_eq!(
                    from,
                    NodeId::from_index(3),
                    "{kind} to {to}:{to_port} from {from}"
                );
            }
        }
    }
}

#[test]
fn a_scheduler_that_forgets_assumed_pods_overcommits_and_the_kubelet_rejects() {
    let buggy = run(
        3,
        SchedulerConfig {
            forget_assumed: true,
        },
    );
    let rejected: Vec<String> = kube_events(&buggy.trace)
        .into_iter()
        .filter_map(|e| match e {
            KubeEvent::PodRejected { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(
        !rejected.is_empty() && rejected.iter().all(|r| r == "OutOfcpu"),
        "{rejected:?}"
    );
    let failed = buggy
        .pods
        .iter()
        .filter(|p| p["status"]["reason"] == "OutOfcpu")
        .count();
    assert_eq!(
        failed,
        rejected.len(),
        "each rejection is on its pod's status"
    );
    // Admission still holds the line: no node holds more than its allocatable.
    assert!(admitted_cpu(&buggy).values().all(|cpu| *cpu <= 2000));
    // no-overcommit names the scheduler's overcommit by the rejection it caused; the same
    // seed without the bug passes it.
    let violation = no_overcommit(&buggy.trace).expect("no-overcommit fires");
    assert!(
        violation
            .message
            .contains("without room for it: its kubelet rejected it OutOfcpu"),
        "{}",
        violation.message
    );
    let fixed = run(3, SchedulerConfig::default());
    assert_eq!(no_overcommit(&fixed.trace), None);
}

#[test]
fn a_control_plane_with_every_component_is_deterministic() {
    let a = run(5, SchedulerConfig::default()).trace.hash();
    assert_eq!(a, run(5, SchedulerConfig::default()).trace.hash());
}

#[test]
fn pods_created_while_the_api_server_restarts_still_run_once_it_is_back() {
    // Killed a second after the creates, back 5 s later: the components' watches go
    // silent, their pings find a server that no longer holds them, and the informers
    // watch again (or relist) from where they were.
    let faults = "[[faults]]\nat_ms = 5500\nop = \"kill\"\nnode = \"apiserver-1\"\n\n\
                  [[faults]]\nat_ms = 10500\nop = \"restart\"\nnode = \"apiserver-1\"\n";
    let run = run_with(3, SchedulerConfig::default(), faults, 120);
    let running = run
        .pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .count();
    // A create that was in flight at the kill may or may not have been stored.
    assert!(running >= 1 && running == run.pods.len(), "{:?}", run.pods);
    let primed = kube_events(&run.trace)
        .iter()
        .filter(|e| matches!(e, KubeEvent::CachesPrimed { .. }))
        .count();
    assert_eq!(primed, 2, "the restarted server filled its caches again");
    assert!(admitted_cpu(&run).values().all(|cpu| *cpu <= 2000));
}
