//! Components on nodes with their own ports, and fault targets by role, judged from traces.
//!
//! A node hosts components (`worker-a/kubelet`, `worker-a/runtime`) each on its own port:
//! each receives only its own mail, they share the node's fate, and a message to a port
//! nobody listens on is dropped as `no-such-port`. Faults may name a role a node declared
//! (`role:leader`); the trace's fault event names the node it hit.

use std::collections::BTreeMap;
use std::time::Duration;

use raft::core::Role;
use raft::events::RaftEvent;
use scenarios::runner::{execute, prepare};
use scenarios::ScenarioFile;
use sim_core::{
    Address, DropReason, EventKind, FaultOp, FaultSchedule, Message, NodeCtx, NodeId, Port, Sim,
    SimTime, Trace,
};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Mail {
    Ask(u64),
    Answer(u64),
    Chat(u64),
}

impl Message for Mail {
    fn kind(&self) -> &'static str {
        match self {
            Mail::Ask(_) => "ask",
            Mail::Answer(_) => "answer",
            Mail::Chat(_) => "chat",
        }
    }
}

const KUBELET: Port = Port(1);
const RUNTIME: Port = Port(2);

/// The notes with `label`, as (time, node, detail), in order.
fn notes(trace: &Trace, label: &str) -> Vec<(SimTime, Option<NodeId>, String)> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { label: l, detail } if l == label => {
                Some((e.t_us, e.node, detail.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Records every message the component takes, forever.
async fn take_all(ctx: NodeCtx<Mail>, label: &'static str) {
    loop {
        let env = ctx.recv().await;
        ctx.note(label, format!("{:?} from {}", env.msg, env.reply_to()));
    }
}

/// `api` (node 1, main actor) answers each ask after chatting three times to the runtime;
/// `worker-a` (node 2, no main actor) hosts the kubelet, which asks once and awaits the
/// answer, and the runtime, which takes whatever it is sent.
fn two_components(seed: u64) -> Sim<Mail> {
    Sim::new(seed)
        .named_node("api", "servers", |ctx: NodeCtx<Mail>| async move {
            loop {
                let env = ctx.recv().await;
                if let Mail::Ask(n) = env.msg {
                    let runtime = Address::new(env.from, RUNTIME);
                    for k in 1..=3 {
                        ctx.send(runtime, Mail::Chat(k));
                        ctx.sleep(Duration::from_millis(10)).await;
                    }
                    ctx.send(Address::new(env.from, Port(9)), Mail::Chat(99));
                    ctx.send(env.from, Mail::Chat(98));
                    ctx.send(env.reply_to(), Mail::Answer(n));
                }
            }
        })
        .host("worker-a", "workers")
        .component(
            "worker-a",
            "kubelet",
            KUBELET,
            |ctx: NodeCtx<Mail>| async move {
                assert_eq!((ctx.port(), ctx.component()), (KUBELET, Some("kubelet")));
                ctx.send(NodeId(1), Mail::Ask(7));
                take_all(ctx, "kubelet-got").await;
            },
        )
        .component(
            "worker-a",
            "runtime",
            RUNTIME,
            |ctx: NodeCtx<Mail>| async move {
                take_all(ctx, "runtime-got").await;
            },
        )
}

#[test]
fn each_component_receives_only_its_own_mail() {
    let run = two_components(3)
        .run(|w| async move { w.sleep(Duration::from_millis(500)).await })
        .unwrap();
    let kubelet = notes(&run.trace, "kubelet-got");
    let runtime = notes(&run.trace, "runtime-got");
    assert_eq!(
        kubelet.iter().map(|n| n.2.as_str()).collect::<Vec<_>>(),
        ["Answer(7) from n1"]
    );
    assert_eq!(
        runtime.iter().map(|n| n.2.as_str()).collect::<Vec<_>>(),
        ["Chat(1) from n1", "Chat(2) from n1", "Chat(3) from n1"]
    );
    // The runtime took its mail while the kubelet was still waiting for its answer.
    assert!(
        runtime.iter().all(|r| r.0 < kubelet[0].0),
        "{runtime:?} {kubelet:?}"
    );
    assert!(kubelet
        .iter()
        .chain(&runtime)
        .all(|n| n.1 == Some(NodeId(2))));
    // The ports are in the trace: the answer went to the kubelet's port, from its sender's.
    let delivered_to: Vec<(Port, Port)> = run
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Deliver {
                from_port, to_port, ..
            } if e.node == Some(NodeId(2)) => Some((from_port, to_port)),
            _ => None,
        })
        .collect();
    assert_eq!(
        delivered_to,
        [
            (Port::MAIN, RUNTIME),
            (Port::MAIN, RUNTIME),
            (Port::MAIN, RUNTIME),
            (Port::MAIN, KUBELET)
        ]
    );
    let line = String::from_utf8(run.trace.to_jsonl()).unwrap();
    assert!(line.contains(r#""from_port":1"#), "the ask names its port");
}

#[test]
fn mail_to_a_port_nobody_listens_on_is_dropped_as_no_such_port() {
    let run = two_components(3)
        .run(|w| async move { w.sleep(Duration::from_millis(500)).await })
        .unwrap();
    let mut drops: Vec<(Port, DropReason)> = run
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Drop {
                to_port, reason, ..
            } => Some((to_port, reason)),
            _ => None,
        })
        .collect();
    drops.sort_by_key(|d| d.0);
    // Port 9 has no component, and the host has no main actor.
    assert_eq!(
        drops,
        [
            (Port::MAIN, DropReason::NoSuchPort),
            (Port(9), DropReason::NoSuchPort)
        ]
    );
}

/// Each component notes its start and then a tick every 50 ms.
fn ticking(seed: u64, faults: FaultSchedule) -> Trace {
    let tick = |label: &'static str| {
        move |ctx: NodeCtx<Mail>| async move {
            ctx.note("started", label);
            loop {
                ctx.sleep(Duration::from_millis(50)).await;
                ctx.note("tick", label);
            }
        }
    };
    Sim::new(seed)
        .named_node("api", "servers", |ctx: NodeCtx<Mail>| async move {
            take_all(ctx, "api-got").await;
        })
        .host("worker-a", "workers")
        .component("worker-a", "kubelet", KUBELET, tick("kubelet"))
        .component("worker-a", "runtime", RUNTIME, tick("runtime"))
        .faults(faults)
        .run(|w| async move { w.sleep(Duration::from_millis(700)).await })
        .unwrap()
        .trace
}

#[test]
fn a_crash_kills_every_component_and_a_restart_starts_them_all() {
    let directory = Sim::<Mail>::new(0)
        .named_node("api", "servers", |_ctx| async {})
        .host("worker-a", "workers")
        .component("worker-a", "kubelet", KUBELET, |_ctx| async {})
        .directory()
        .clone();
    // A component names its node for faults: they share its fate.
    let faults = FaultSchedule::from_toml_in(
        "[[faults]]\nat_ms = 200\nop = \"kill\"\nnode = \"worker-a/kubelet\"\n\n\
         [[faults]]\nat_ms = 400\nop = \"restart\"\nnode = \"worker-a\"\n",
        "f.toml",
        &directory,
    )
    .unwrap();
    assert_eq!(faults.faults[0].op, FaultOp::Kill { node: NodeId(2) });
    let trace = ticking(1, faults);
    let started: Vec<(SimTime, String)> = notes(&trace, "started")
        .into_iter()
        .filter(|n| n.1 == Some(NodeId(2)))
        .map(|n| (n.0, n.2))
        .collect();
    let mut labels: Vec<&str> = started.iter().map(|s| s.1.as_str()).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["kubelet", "kubelet", "runtime", "runtime"]);
    assert!(started[2].0 >= SimTime::from_ms(400), "{started:?}");
    let ticks_while_down = notes(&trace, "tick")
        .iter()
        .filter(|n| n.0 > SimTime::from_ms(200) && n.0 < SimTime::from_ms(400))
        .count();
    assert_eq!(ticks_while_down, 0);
    let per_component = |label: &str| {
        notes(&trace, "tick")
            .iter()
            .filter(|n| n.2 == label && n.0 > SimTime::from_ms(400))
            .count()
    };
    assert!(per_component("kubelet") >= 5 && per_component("runtime") >= 5);
    // The directory in run-start names the components.
    let dir = trace.directory();
    assert_eq!(dir.address_name(NodeId(2), KUBELET), "worker-a/kubelet");
    assert!(
        dir.describe()
            .contains("worker-a (worker-a/kubelet, worker-a/runtime)"),
        "{}",
        dir.describe()
    );
}

#[test]
fn bad_components_are_refused_by_run() {
    let err = Sim::<Mail>::new(0)
        .named_node("api", "servers", |_ctx| async {})
        .component("api", "shadow", Port::MAIN, |_ctx| async {})
        .run(|_w| async {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("port 0 of `api` is taken"), "{err}");
    let err = Sim::<Mail>::new(0)
        .named_node("api", "servers", |_ctx| async {})
        .component("nowhere", "kubelet", KUBELET, |_ctx| async {})
        .run(|_w| async {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown node `nowhere`"), "{err}");
}

/// Three nodes; `n{i}` declares `leader` at `100 * i` ms and `follower` 150 ms later.
fn rotating_leaders(faults: &str) -> Trace {
    let schedule = FaultSchedule::from_toml(faults, "f.toml").unwrap();
    Sim::new(5)
        .nodes(3, |ctx: NodeCtx<Mail>| async move {
            if ctx.incarnation() > 1 {
                std::future::pending::<()>().await;
            }
            let i = u64::from(ctx.id().0);
            ctx.sleep_until(SimTime::from_ms(100 * i)).await;
            ctx.set_role("leader");
            ctx.sleep(Duration::from_millis(150)).await;
            ctx.set_role("follower");
            std::future::pending::<()>().await
        })
        .faults(schedule)
        .run(|w| async move { w.sleep(Duration::from_millis(600)).await })
        .unwrap()
        .trace
}

fn faults_applied(trace: &Trace) -> Vec<(SimTime, FaultOp)> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault { fault } => Some((e.t_us, fault.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_role_target_hits_the_node_that_declared_it_then() {
    // At 120 ms n1 leads and is paused, so it declares nothing new until resumed; at 220
    // ms n1 and n2 lead; at 500 ms nobody does (n1 stepped down once resumed at 300).
    let trace = rotating_leaders(
        "[[faults]]\nat_ms = 120\nop = \"pause\"\nnode = \"role:leader\"\n\n\
         [[faults]]\nat_ms = 220\nop = \"isolate\"\nnode = \"role:leader\"\n\n\
         [[faults]]\nat_ms = 300\nop = \"resume\"\nnode = \"n1\"\n\n\
         [[faults]]\nat_ms = 500\nop = \"kill\"\nnode = \"role:leader\"\n",
    );
    let at = |ms| SimTime::from_ms(ms);
    assert_eq!(
        faults_applied(&trace),
        [
            (at(120), FaultOp::Pause { node: NodeId(1) }),
            // n1 is paused, so still declares leader; n2 declared it at 200.
            (at(220), FaultOp::Isolate { node: NodeId(1) }),
            (at(220), FaultOp::Isolate { node: NodeId(2) }),
            (at(300), FaultOp::Resume { node: NodeId(1) }),
        ]
    );
    let skipped = notes(&trace, "fault-skipped");
    assert_eq!(skipped.len(), 1);
    assert!(
        skipped[0].2.contains("no node has declared role `leader`"),
        "{skipped:?}"
    );
    assert_eq!(notes(&trace, "role-target").len(), 3);
}

#[test]
fn a_crash_clears_the_declared_role() {
    let trace = rotating_leaders(
        "[[faults]]\nat_ms = 120\nop = \"kill\"\nnode = \"role:leader\"\n\n\
         [[faults]]\nat_ms = 130\nop = \"restart\"\nnode = \"n1\"\n\n\
         [[faults]]\nat_ms = 140\nop = \"kill\"\nnode = \"role:leader\"\n",
    );
    // The restarted n1 declares nothing, so the second kill finds no leader.
    assert_eq!(
        faults_applied(&trace)
            .iter()
            .filter(|f| matches!(f.1, FaultOp::Kill { .. }))
            .count(),
        1
    );
    assert_eq!(notes(&trace, "fault-skipped").len(), 1);
}

/// The leaders the trace's `role` events show at each event index (a crash ends a role).
fn leaders_before(trace: &Trace, index: usize) -> Vec<NodeId> {
    let mut roles: BTreeMap<NodeId, Role> = BTreeMap::new();
    for e in &trace.events[..index] {
        match (e.layer::<RaftEvent>(), &e.kind, e.node) {
            (Some(RaftEvent::Role { role, .. }), _, Some(node)) => {
                roles.insert(node, *role);
            }
            (_, EventKind::NodeCrash { .. }, Some(node)) => {
                roles.remove(&node);
            }
            _ => {}
        }
    }
    roles
        .into_iter()
        .filter(|(_, r)| *r == Role::Leader)
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn kill_role_leader_in_an_election_kills_the_leader_of_that_moment() {
    let file = ScenarioFile::from_toml(
        r#"
scenario = "election"
seed = 11

[[faults]]
at_ms = 2500
op = "kill"
node = "role:leader"

[[faults]]
at_ms = 7000
op = "partition"
groups = [["role:leader"], ["servers"]]
"#,
        "scenario.toml",
    )
    .unwrap();
    let faults = file.faults.as_ref().unwrap();
    assert_eq!(faults[0].roles.len(), 1);
    // The written run folder keeps the role targets.
    assert!(file
        .to_toml_named(&sim_core::Directory::numbered(1))
        .contains("role:leader"));
    let run = execute(&prepare(&file).unwrap()).unwrap();
    let trace = &run.trace;
    let servers: Vec<NodeId> = trace.directory().group("servers");
    let applied: Vec<(usize, FaultOp)> = trace
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            EventKind::Fault { fault } if e.t_us == SimTime::from_ms(2500) => {
                Some((i, fault.clone()))
            }
            EventKind::Fault {
                fault: fault @ FaultOp::Partition { .. },
            } if e.t_us == SimTime::from_ms(7000) => Some((i, fault.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 2, "{applied:?}");
    let (kill_at, kill) = &applied[0];
    let leaders = leaders_before(trace, *kill_at);
    assert_eq!(leaders.len(), 1, "one leader at 2.5 s: {leaders:?}");
    assert_eq!(*kill, FaultOp::Kill { node: leaders[0] });
    let (cut_at, partition) = &applied[1];
    let leaders = leaders_before(trace, *cut_at);
    assert_eq!(leaders.len(), 1, "one leader at 7 s: {leaders:?}");
    let others: Vec<NodeId> = servers
        .iter()
        .copied()
        .filter(|n| *n != leaders[0])
        .collect();
    assert_eq!(
        *partition,
        FaultOp::Partition {
            groups: vec![vec![leaders[0]], others]
        }
    );
}
