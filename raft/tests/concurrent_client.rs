//! One etcd client shared by many tasks of its node, as clientv3 multiplexes RPCs and
//! watches over one connection: calls in flight at once are matched to their replies by
//! request id, watches deliver beside them, a timed-out write stays `info`, and a late
//! reply completes no other call.
//!
//! Most tests put the client against a scripted member (node 1) that answers when and in
//! the order the test says, so the interleaving is the test's, not the network's; the
//! last one runs many tasks against a real three-node cluster.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::driver::{run_node, ClientOp, ClientReply, DriverConfig, Msg, SessionConfig};
use raft::etcd::{
    Command, EtcdClient, EtcdMsg, EtcdStore, Event, EventKind, KeyRange, KeyValue, LeaseId, Query,
    Response, ResponseHeader, Revision, WatchUpdate,
};
use sim_core::{EntryType, History, NodeCtx, NodeId, Sim, SimTime};

/// What the scripts saw, line by line, in the order it happened.
type Log = Arc<Mutex<Vec<String>>>;

fn say(log: &Log, line: impl Into<String>) {
    log.lock().expect("never poisoned").push(line.into());
}

const MEMBER: NodeId = NodeId(1);
const CLIENT: NodeId = NodeId(2);

/// Runs the scripted member `member` (node 1) and a client of it (node 2) running
/// `script`, for 10 virtual seconds; the lines both logged and the history. The client
/// node's actor stays alive after `script` returns, so the tasks it spawned run on (a
/// node whose actor returns has exited, and its tasks with it).
fn run_scripted<M, MFut, S, SFut>(
    config: SessionConfig,
    member: M,
    script: S,
) -> (Vec<String>, History)
where
    M: Fn(NodeCtx<EtcdMsg>, Log) -> MFut + Send + Sync + 'static,
    MFut: Future<Output = ()> + 'static,
    S: Fn(EtcdClient, Log) -> SFut + Send + Sync + 'static,
    SFut: Future<Output = ()> + 'static,
{
    let log: Log = Arc::default();
    let (member_log, script_log) = (log.clone(), log.clone());
    let out = Sim::new(7)
        .node(move |ctx| member(ctx, member_log.clone()))
        .node(move |ctx| {
            let client = EtcdClient::new(ctx, vec![MEMBER], config);
            let script = script(client.clone(), script_log.clone());
            async move {
                script.await;
                client.session().sleep(Duration::from_secs(60)).await;
            }
        })
        .run(|world| async move { world.sleep_until(SimTime::from_ms(10_000)).await })
        .expect("the world runs");
    let lines = log.lock().expect("never poisoned").clone();
    (lines, out.history)
}

/// The next client request the member gets: its id and what it asks.
async fn next_request(ctx: &NodeCtx<EtcdMsg>) -> (u64, ClientOp<Command, Query>) {
    loop {
        if let Msg::Request { request, op } = ctx.recv().await.msg {
            return (request, op);
        }
    }
}

/// Answers request `request` with `output`.
fn answer(ctx: &NodeCtx<EtcdMsg>, request: u64, output: Response) {
    let reply = ClientReply::Done {
        output,
        index: 1,
        term: 1,
    };
    ctx.send(CLIENT, Msg::Reply { request, reply });
}

fn header(revision: u64) -> ResponseHeader {
    ResponseHeader {
        revision: Revision(revision),
    }
}

fn kv(key: &str, value: &str, revision: u64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
        create_revision: Revision(revision),
        mod_revision: Revision(revision),
        version: 1,
        lease: LeaseId::NONE,
    }
}

/// The key a request reads or writes.
fn key_of(op: &ClientOp<Command, Query>) -> String {
    match op {
        ClientOp::Query(Query::Range(r)) => r.range.key.clone(),
        ClientOp::Command(Command::Put(p)) => p.key.clone(),
        other => panic!("the test sends gets and puts only, not {other:?}"),
    }
}

/// How `key`'s operation ended in the history, and its completion value.
fn outcome_of(history: &History, key: &str) -> (EntryType, serde_json::Value) {
    let done = history
        .entries
        .iter()
        .filter(|e| e.key.as_deref() == Some(key) && e.entry_type != EntryType::Invoke)
        .collect::<Vec<_>>();
    assert_eq!(done.len(), 1, "one completion of {key}: {done:?}");
    (done[0].entry_type, done[0].value.clone())
}

#[test]
fn calls_in_flight_from_two_tasks_get_their_own_answers_in_any_order() {
    let (lines, history) = run_scripted(
        SessionConfig::default(),
        |ctx, log| async move {
            // Both gets arrive before either is answered; the second is answered first.
            let first = next_request(&ctx).await;
            let second = next_request(&ctx).await;
            say(
                &log,
                format!("member got {} then {}", key_of(&first.1), key_of(&second.1)),
            );
            for (request, op) in [second, first] {
                let key = key_of(&op);
                let value = format!("value-of-{key}");
                let range = Response::Range {
                    header: header(9),
                    kvs: vec![kv(&key, &value, 3)],
                    count: 1,
                    more: false,
                };
                answer(&ctx, request, range);
                ctx.sleep(Duration::from_millis(50)).await;
            }
        },
        |client, log| async move {
            for (key, start_ms) in [("a", 100), ("b", 110)] {
                let (task, log) = (client.clone(), log.clone());
                client.ctx().spawn(async move {
                    let client = task;
                    client
                        .session()
                        .sleep(Duration::from_millis(start_ms))
                        .await;
                    let got = client.get(key).await.expect("answered");
                    let value = got.0.map(|kv| kv.value).unwrap_or_default();
                    say(&log, format!("{key} got {value}"));
                });
            }
        },
    );
    assert_eq!(
        lines,
        [
            "member got a then b",
            "b got value-of-b",
            "a got value-of-a"
        ]
    );
    for key in ["a", "b"] {
        let (outcome, value) = outcome_of(&history, key);
        assert_eq!(outcome, EntryType::Ok);
        assert_eq!(value["value"], format!("value-of-{key}"));
    }
}

#[test]
fn watches_deliver_their_own_events_while_a_request_is_in_flight() {
    let (lines, _) = run_scripted(
        SessionConfig::default(),
        |ctx, log| async move {
            // Two watches, then a put that the member holds while it pushes events.
            let mut watches = Vec::new();
            while watches.len() < 2 {
                let (request, op) = next_request(&ctx).await;
                let ClientOp::Query(Query::WatchCreate(w)) = op else {
                    panic!("watches come first: {op:?}");
                };
                watches.push(w.watch_id);
                let created = Response::WatchCreated {
                    header: header(5),
                    watch_id: w.watch_id,
                };
                answer(&ctx, request, created);
            }
            let (put, op) = next_request(&ctx).await;
            say(&log, format!("member holds the put of {}", key_of(&op)));
            let event = |watch_id: u64, key: &str, revision: u64| Response::WatchEvents {
                header: header(revision),
                watch_id,
                events: vec![Event {
                    kind: EventKind::Put,
                    kv: kv(key, "v", revision),
                    prev_kv: None,
                }],
            };
            // Stream order: the second watch's event, then two of the first's.
            let pushes = [
                event(watches[1], "b", 6),
                event(watches[0], "a", 7),
                event(watches[0], "a", 8),
            ];
            for (seq, output) in (1u64..).zip(pushes) {
                let push = Msg::Push {
                    epoch: 1,
                    seq,
                    output,
                };
                ctx.send(CLIENT, push);
            }
            ctx.sleep(Duration::from_millis(200)).await;
            let put_answer = Response::Put {
                header: header(9),
                prev_kv: None,
            };
            answer(&ctx, put, put_answer);
        },
        |client, log| async move {
            client.session().sleep(Duration::from_millis(100)).await;
            let watch_a = client
                .watch(KeyRange::key("a"), Revision(6))
                .await
                .expect("watching a");
            let watch_b = client
                .watch(KeyRange::key("b"), Revision(6))
                .await
                .expect("watching b");
            let (writer, write_log) = (client.clone(), log.clone());
            client.ctx().spawn(async move {
                let revision = writer.put("c", "x").await.expect("the put is answered");
                say(
                    &write_log,
                    format!("put answered at revision {}", revision.0),
                );
            });
            let deadline = client.ctx().now().after(Duration::from_secs(1));
            for (name, watch) in [("a", &watch_a), ("a", &watch_a), ("b", &watch_b)] {
                let Some(WatchUpdate::Events {
                    events, watch_id, ..
                }) = watch.next(deadline).await
                else {
                    panic!("watch {name} delivers events");
                };
                assert_eq!(watch_id, watch.id());
                let revisions: Vec<u64> = events.iter().map(|e| e.revision().0).collect();
                say(
                    &log,
                    format!(
                        "watch {name} saw {} at {revisions:?} with {} request in flight",
                        events[0].kv.key,
                        client.session().in_flight()
                    ),
                );
            }
        },
    );
    assert_eq!(
        lines,
        [
            "member holds the put of c",
            "watch a saw a at [7] with 1 request in flight",
            "watch a saw a at [8] with 1 request in flight",
            "watch b saw b at [6] with 1 request in flight",
            "put answered at revision 9",
        ]
    );
}

#[test]
fn a_write_that_times_out_is_info_while_a_concurrent_one_succeeds() {
    let config = SessionConfig {
        timeout_ms: 1_000,
        ..SessionConfig::default()
    };
    let (lines, history) = run_scripted(
        config,
        |ctx, _| async move {
            // Never answers the slow put; answers the fast one.
            loop {
                let (request, op) = next_request(&ctx).await;
                if key_of(&op) == "fast" {
                    let put = Response::Put {
                        header: header(4),
                        prev_kv: None,
                    };
                    answer(&ctx, request, put);
                }
            }
        },
        |client, log| async move {
            client.session().sleep(Duration::from_millis(100)).await;
            for key in ["slow", "fast"] {
                let (task, log) = (client.clone(), log.clone());
                client.ctx().spawn(async move {
                    let client = task;
                    let result = client.put(key, "v").await;
                    say(&log, format!("{key} {result:?}"));
                });
            }
        },
    );
    assert_eq!(lines, ["fast Ok(Revision(4))", "slow Err(Indeterminate)"]);
    assert_eq!(outcome_of(&history, "slow").0, EntryType::Info);
    let (outcome, value) = outcome_of(&history, "fast");
    assert_eq!(outcome, EntryType::Ok);
    assert_eq!(value["revision"], 4);
}

#[test]
fn a_late_reply_to_a_timed_out_call_completes_no_other_call() {
    let config = SessionConfig {
        timeout_ms: 500,
        ..SessionConfig::default()
    };
    let (lines, history) = run_scripted(
        config,
        |ctx, _| async move {
            // Holds the first put past its deadline; answers it once the second is in
            // flight, then answers the second.
            let (first, _) = next_request(&ctx).await;
            let (second, _) = next_request(&ctx).await;
            let put = |revision| Response::Put {
                header: header(revision),
                prev_kv: None,
            };
            answer(&ctx, first, put(100));
            ctx.sleep(Duration::from_millis(100)).await;
            answer(&ctx, second, put(200));
        },
        |client, log| async move {
            client.session().sleep(Duration::from_millis(100)).await;
            let first = client.put("first", "v").await;
            say(&log, format!("first {first:?}"));
            let second = client.put("second", "v").await;
            say(&log, format!("second {second:?}"));
            say(
                &log,
                format!("late replies {}", client.session().late_replies()),
            );
        },
    );
    assert_eq!(
        lines,
        [
            "first Err(Indeterminate)",
            "second Ok(Revision(200))",
            "late replies 1",
        ]
    );
    assert_eq!(outcome_of(&history, "first").0, EntryType::Info);
    assert_eq!(outcome_of(&history, "second").1["revision"], 200);
}

#[test]
fn many_tasks_share_one_client_against_a_real_cluster() {
    const TASKS: usize = 8;
    const PUTS: usize = 5;
    let log: Log = Arc::default();
    let script_log = log.clone();
    let servers: Vec<NodeId> = (0..3).map(NodeId::from_index).collect();
    let voters = servers.clone();
    let out = Sim::<EtcdMsg>::new(3)
        .nodes(3, move |ctx| {
            run_node::<EtcdStore, _>(ctx, DriverConfig::default(), voters.clone())
        })
        .node(move |ctx| {
            let client = EtcdClient::new(ctx, servers.clone(), SessionConfig::default());
            let log = script_log.clone();
            async move {
                let most = std::rc::Rc::new(std::cell::Cell::new(0usize));
                for t in 0..TASKS {
                    let (task, log, most) = (client.clone(), log.clone(), most.clone());
                    client.ctx().spawn(async move {
                        let client = task;
                        client.session().sleep(Duration::from_secs(3)).await;
                        let key = format!("k{t}");
                        let mut acked = 0;
                        while acked < PUTS {
                            // How many calls share the connection with this one.
                            most.set(most.get().max(client.session().in_flight() + 1));
                            if client.put(&key, &format!("{t}-{acked}")).await.is_ok() {
                                acked += 1;
                            }
                        }
                        let (kv, _) = loop {
                            if let Ok(read) = client.get(&key).await {
                                break read;
                            }
                        };
                        let value = kv.map(|kv| kv.value).unwrap_or_default();
                        say(
                            &log,
                            format!("{key}={value} most-in-flight>={}", most.get()),
                        );
                    });
                }
                client.session().sleep(Duration::from_secs(60)).await;
            }
        })
        .run(|world| async move { world.sleep_until(SimTime::from_ms(20_000)).await })
        .expect("the stack runs");
    let mut lines = log.lock().expect("never poisoned").clone();
    lines.sort();
    assert_eq!(lines.len(), TASKS, "{lines:?}");
    for (t, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("k{t}={t}-{}", PUTS - 1)),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| !l.ends_with(">=1")),
        "calls overlapped: {lines:?}"
    );
    // Every acknowledged put is in the history with its own revision.
    let mut revisions: Vec<u64> = out
        .history
        .entries
        .iter()
        .filter(|e| e.f == "put" && e.entry_type == EntryType::Ok)
        .map(|e| e.value["revision"].as_u64().expect("a revision"))
        .collect();
    let acked = revisions.len();
    revisions.sort_unstable();
    revisions.dedup();
    assert_eq!(
        revisions.len(),
        acked,
        "two puts were told the same revision"
    );
    assert!(acked >= TASKS * PUTS);
}
