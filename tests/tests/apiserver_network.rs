//! The API server as a component of its own node, over the simulated network: three etcd
//! members, one API server and one client node in one world whose messages carry etcd's
//! and the API's traffic. Requests go through the whole path (authentication, RBAC,
//! admission, storage in etcd through the etcd client), watches are served from the cache
//! the API server fills from its etcd watch, and cutting the API server off from etcd turns
//! its writes and quorum reads into 504s while its cache keeps answering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver_model::apiserver::{run_apiserver, ApiServerConfig, Request, VersionMatch};
use apiserver_model::authn::Authenticator;
use apiserver_model::client::{ApiClient, ApiClientConfig, ApiWatch, CallError, WatchItem};
use apiserver_model::events::KubeEvent;
use apiserver_model::status::ApiError;
use apiserver_model::verb::Verb;
use apiserver_model::watch_cache::EventType;
use apiserver_model::wire::{ApiMessageFields, ControlPlaneMsg};
use raft::driver::{run_node, DriverConfig};
use raft::etcd::EtcdStore;
use serde_json::{json, Value};
use sim_core::{FaultSchedule, NodeId, Sim, SimTime, Trace};

const ADMIN: &str = "admin-token";

/// What one step of the client's script got.
#[derive(Clone, Debug, PartialEq)]
enum Got {
    Answer(Result<Value, CallError>),
    Event(EventType, String, u64),
    NoEvent,
}

type Log = Arc<Mutex<Vec<(&'static str, Got)>>>;

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("an object has a resourceVersion")
}

async fn next_event(watch: &ApiWatch, client: &ApiClient) -> Got {
    let deadline = client.ctx().now().after(Duration::from_secs(5));
    match watch.next(deadline).await {
        Some(WatchItem::Event(e)) => {
            let name = e.object["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            Got::Event(e.kind, name, e.revision.0)
        }
        _ => Got::NoEvent,
    }
}

/// The client's script (see the module docs); every answer goes to `log`.
async fn script(client: ApiClient, log: Log) {
    let say = |step, got| log.lock().unwrap().push((step, got));
    let call = |r: Request| {
        let client = client.clone();
        async move { client.call(r).await }
    };
    client.ctx().sleep(Duration::from_secs(3)).await;
    // The API server made the system namespaces when it started.
    let ns = Request::new(None, Verb::Get, "", "namespaces").named("default");
    say("get namespace", Got::Answer(call(ns).await));
    let pods = || Request::new(None, Verb::Create, "", "pods").in_namespace("default");
    let created = call(pods().with_body(pod("p1"))).await;
    say("create p1", Got::Answer(created.clone()));
    let Ok(p1) = created else { return };
    let get = Request::new(None, Verb::Get, "", "pods")
        .in_namespace("default")
        .named("p1");
    say("get p1", Got::Answer(call(get.clone()).await));
    let watch_req = Request::new(None, Verb::Watch, "", "pods")
        .in_namespace("default")
        .at_version(&rv(&p1).to_string(), VersionMatch::NotOlderThan);
    let Ok(watch) = client.watch(watch_req).await else {
        say("watch", Got::NoEvent);
        return;
    };
    let mut labelled = p1.clone();
    labelled["metadata"]["labels"] = json!({"app": "web"});
    let update = |body: Value| {
        Request::new(None, Verb::Update, "", "pods")
            .in_namespace("default")
            .named("p1")
            .with_body(body)
    };
    say(
        "update p1",
        Got::Answer(call(update(labelled.clone())).await),
    );
    say("watch after update", next_event(&watch, &client).await);
    say("stale update p1", Got::Answer(call(update(labelled)).await));

    // Cut off from etcd (the fault at 20 s): writes and quorum reads time out, the cache
    // still answers.
    client.ctx().sleep_until(SimTime::from_ms(21_000)).await;
    say(
        "create p2 cut off",
        Got::Answer(call(pods().with_body(pod("p2"))).await),
    );
    let list = |version: &str| {
        Request::new(None, Verb::List, "", "pods")
            .in_namespace("default")
            .at_version(version, VersionMatch::NotOlderThan)
    };
    say(
        "list from cache cut off",
        Got::Answer(call(list("0")).await),
    );
    say("quorum list cut off", Got::Answer(call(list("")).await));

    // Healed at 40 s: the write goes through and the watch, still open, sees it.
    client.ctx().sleep_until(SimTime::from_ms(41_000)).await;
    say(
        "create p2 healed",
        Got::Answer(call(pods().with_body(pod("p2"))).await),
    );
    say("watch after heal", next_event(&watch, &client).await);
}

struct Run {
    trace: Trace,
    log: Vec<(&'static str, Got)>,
}

fn run(seed: u64) -> Run {
    let log: Log = Arc::default();
    let etcd: Vec<NodeId> = (0..3).map(NodeId::from_index).collect();
    let authn = Authenticator::new().with_token(ADMIN, "admin", &["system:masters"]);
    let mut sim = Sim::<ControlPlaneMsg>::new(seed);
    for i in 1..=3 {
        let voters = etcd.clone();
        sim = sim.named_node(&format!("etcd-{i}"), "etcd", move |ctx| {
            run_node::<EtcdStore, _>(ctx, DriverConfig::default(), voters.clone())
        });
    }
    let config = ApiServerConfig::new("apiserver-1", etcd.clone(), authn);
    let script_log = log.clone();
    let apiserver = NodeId::from_index(3);
    sim = sim
        .named_node("apiserver-1", "apiservers", move |ctx| {
            run_apiserver(ctx, config.clone())
        })
        .named_node("client-1", "clients", move |ctx| {
            let client = ApiClient::new(ctx, ApiClientConfig::new(vec![apiserver], Some(ADMIN)));
            script(client, script_log.clone())
        });
    let faults = FaultSchedule::from_toml_in(
        "[[faults]]\nat_ms = 20000\nop = \"partition\"\n\
         groups = [[\"apiserver-1\"], [\"etcd-1\", \"etcd-2\", \"etcd-3\"]]\n\n\
         [[faults]]\nat_ms = 40000\nop = \"heal-all\"\n",
        "faults.toml",
        sim.directory(),
    )
    .unwrap();
    let out = sim
        .faults(faults)
        .run(|world| async move { world.sleep(Duration::from_secs(50)).await })
        .expect("valid world");
    let log = log.lock().unwrap().clone();
    Run {
        trace: out.trace,
        log,
    }
}

fn got<'a>(run: &'a Run, step: &str) -> &'a Got {
    &run.log
        .iter()
        .find(|(s, _)| *s == step)
        .unwrap_or_else(|| panic!("step {step:?} never ran: {:?}", run.log))
        .1
}

fn answer<'a>(run: &'a Run, step: &str) -> &'a Result<Value, CallError> {
    match got(run, step) {
        Got::Answer(a) => a,
        other => panic!("{step}: {other:?}"),
    }
}

fn code(run: &Run, step: &str) -> u16 {
    match answer(run, step) {
        Ok(_) => 200,
        Err(CallError::Api(e)) => e.code(),
        Err(CallError::NoAnswer) => 0,
    }
}

#[test]
fn requests_travel_to_the_api_server_and_it_stores_in_etcd_over_the_network() {
    let run = run(7);
    assert_eq!(code(&run, "get namespace"), 200, "{:?}", run.log);
    let p1 = answer(&run, "create p1").as_ref().unwrap();
    let got_p1 = answer(&run, "get p1").as_ref().unwrap();
    assert_eq!(rv(got_p1), rv(p1), "a get answers the stored version");
    let updated = answer(&run, "update p1").as_ref().unwrap();
    assert!(rv(updated) > rv(p1));
    assert_eq!(
        got(&run, "watch after update"),
        &Got::Event(EventType::Modified, "p1".into(), rv(updated)),
        "the watch from p1's version sees the update at its revision"
    );
    assert!(matches!(
        answer(&run, "stale update p1"),
        Err(CallError::Api(ApiError::Conflict { .. }))
    ));
    // Every request the server answered is audited on the trace, and every request
    // message is answered by one audit record (besides the server's own bootstrap writes).
    let audits: Vec<_> = run
        .trace
        .events
        .iter()
        .filter_map(|e| match e.layer::<KubeEvent>() {
            Some(KubeEvent::Audit(a)) => Some(a),
            _ => None,
        })
        .collect();
    let (own, audits): (Vec<_>, Vec<_>) = audits
        .into_iter()
        .partition(|a| a.user == apiserver_model::apiserver::bootstrap::LOOPBACK_USER);
    assert_eq!(
        own.len(),
        apiserver_model::apiserver::bootstrap::objects().len(),
        "one create per bootstrap object on a fresh cluster: {own:?}"
    );
    assert!(own.iter().all(|a| a.code == 201));
    let audits = audits.len();
    let requests = run
        .trace
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                sim_core::EventKind::Send { ref fields, .. }
                    if fields.as_ref().and_then(|f| f.get::<ApiMessageFields>())
                        .is_some_and(|f| matches!(f, ApiMessageFields::Request { .. }))
            )
        })
        .count();
    assert_eq!(audits, requests, "{:?}", run.log);
}

#[test]
fn an_api_server_cut_off_from_etcd_times_out_writes_and_serves_its_cache() {
    let run = run(7);
    assert!(
        matches!(
            answer(&run, "create p2 cut off"),
            Err(CallError::Api(ApiError::Timeout(_)))
        ),
        "{:?}",
        answer(&run, "create p2 cut off")
    );
    assert!(matches!(
        answer(&run, "quorum list cut off"),
        Err(CallError::Api(ApiError::Timeout(_)))
    ));
    let cached = answer(&run, "list from cache cut off").as_ref().unwrap();
    let names: Vec<&str> = cached["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["p1"], "the cache answers what it last saw");
    let p2 = answer(&run, "create p2 healed").as_ref().unwrap();
    assert_eq!(
        got(&run, "watch after heal"),
        &Got::Event(EventType::Added, "p2".into(), rv(p2)),
        "the watch opened before the partition sees the write after it"
    );
}

#[test]
fn a_control_plane_run_is_deterministic() {
    assert_eq!(run(11).trace.hash(), run(11).trace.hash());
}
