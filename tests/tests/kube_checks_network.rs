//! The Kubernetes layer's checks, each shown failing on the bug it guards against and
//! passing on the same seed without it:
//! - `binding-once`: with the planted bug `bind-without-precondition` a second binding of a
//!   running pod is stored and moves it; without it the API answers 409;
//! - `all-roads-lead-to-apiserver`: a rogue component that writes to etcd itself, or calls a
//!   kubelet, is named; the cluster's own components never do either.

use std::time::Duration;

use apiserver_model::apiserver::Request;
use apiserver_model::checks::all_roads::AllRoadsLeadToApiServer;
use apiserver_model::checks::binding_once::BindingOnce;
use apiserver_model::checks::no_overcommit::NoOvercommit;
use apiserver_model::client::ApiClient;
use apiserver_model::cluster::{ClusterSpec, ADMIN_TOKEN};
use apiserver_model::kubelet::KUBELET_PORT;
use apiserver_model::verb::Verb;
use apiserver_model::wire::{ApiMsg, ControlPlaneMsg};
use raft::etcd::EtcdClient;
use serde_json::json;
use sim_core::{Address, OnlineCheck, Port, Sim, SimTime, Trace, Violation};

fn first_violation<C: OnlineCheck>(trace: &Trace) -> Option<Violation> {
    let mut check = C::default();
    trace.events.iter().find_map(|e| check.observe(e))
}

/// A pod created at 5 s, scheduled and running; at 30 s kubectl binds it again, to
/// whichever worker it is not on. The second binding's HTTP code, and the trace.
fn rebind(seed: u64, bug: bool) -> (u16, Trace) {
    let spec = ClusterSpec {
        controller_managers: 0,
        bind_without_precondition: bug,
        ..ClusterSpec::default()
    };
    let (sim, cluster) = spec.build(Sim::<ControlPlaneMsg>::new(seed));
    let api = cluster.client(ADMIN_TOKEN);
    let code = std::sync::Arc::new(std::sync::Mutex::new(0u16));
    let seen = code.clone();
    let sim = sim.named_node("kubectl", "clients", move |ctx| {
        let client = ApiClient::new(ctx, api.clone());
        let seen = seen.clone();
        async move {
            client.ctx().sleep_until(SimTime::from_ms(5_000)).await;
            let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}});
            let pods = || Request::new(None, Verb::Create, "", "pods").in_namespace("default");
            let _ = client.call(pods().with_body(pod)).await;
            client.ctx().sleep_until(SimTime::from_ms(30_000)).await;
            let get = Request::new(None, Verb::Get, "", "pods")
                .in_namespace("default")
                .named("web");
            let Ok(pod) = client.call(get).await else {
                return;
            };
            let other = if pod["spec"]["nodeName"] == "worker-1" {
                "worker-2"
            } else {
                "worker-1"
            };
            let binding = json!({"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": "web", "namespace": "default"},
                "target": {"apiVersion": "v1", "kind": "Node", "name": other}});
            let answer = client
                .call(
                    pods()
                        .named("web")
                        .subresource("binding")
                        .with_body(binding),
                )
                .await;
            *seen.lock().unwrap() = match answer {
                Ok(_) => 201,
                Err(apiserver_model::client::CallError::Api(e)) => e.code(),
                Err(_) => 0,
            };
        }
    });
    let out = sim
        .run(|world| async move { world.sleep(Duration::from_secs(35)).await })
        .expect("valid world");
    let code = *code.lock().unwrap();
    (code, out.trace)
}

#[test]
fn binding_once_names_a_second_binding_the_planted_bug_lets_through() {
    let (code, trace) = rebind(21, false);
    assert_eq!(code, 409, "a bound pod cannot be bound again");
    assert_eq!(first_violation::<BindingOnce>(&trace), None);
    let (code, trace) = rebind(21, true);
    assert_eq!(
        code, 201,
        "bind-without-precondition stores the second binding"
    );
    let v = first_violation::<BindingOnce>(&trace).expect("binding-once fires");
    assert!(
        v.message.contains("default/web") && v.message.contains("bound twice"),
        "{}",
        v.message
    );
    // The cluster's own components kept to the API server and the nodes to their room.
    assert_eq!(first_violation::<AllRoadsLeadToApiServer>(&trace), None);
    assert_eq!(first_violation::<NoOvercommit>(&trace), None);
}

/// The default cluster plus a component on worker-1 that, at 10 s, either writes to etcd
/// itself (`to_etcd`) or pings the kubelet of worker-2.
fn rogue(seed: u64, to_etcd: bool) -> Trace {
    let spec = ClusterSpec {
        controller_managers: 0,
        ..ClusterSpec::default()
    };
    let (sim, cluster) = spec.build(Sim::<ControlPlaneMsg>::new(seed));
    let etcd = cluster.etcd.clone();
    let worker2 = sim.directory().resolve_one("worker-2").expect("worker-2");
    let sim = sim.component("worker-1", "rogue", Port(9999), move |ctx| {
        let etcd = etcd.clone();
        async move {
            ctx.sleep_until(SimTime::from_ms(10_000)).await;
            if to_etcd {
                let client = EtcdClient::<ControlPlaneMsg>::new(ctx, etcd, Default::default());
                let _ = client.put("/registry/pods/default/x", "{}").await;
            } else {
                ctx.send(
                    Address::new(worker2, KUBELET_PORT),
                    ControlPlaneMsg::Api(ApiMsg::Ping { watch: 1 }),
                );
            }
        }
    });
    sim.run(|world| async move { world.sleep(Duration::from_secs(15)).await })
        .expect("valid world")
        .trace
}

#[test]
fn all_roads_names_a_component_that_goes_around_the_api_server() {
    let v = first_violation::<AllRoadsLeadToApiServer>(&rogue(4, true)).expect("fires");
    assert!(
        v.message.starts_with("worker-1") && v.message.contains("only API servers talk to etcd"),
        "{}",
        v.message
    );
    let v = first_violation::<AllRoadsLeadToApiServer>(&rogue(4, false)).expect("fires");
    assert!(
        v.message.contains("the kubelet of worker-2"),
        "{}",
        v.message
    );
}
