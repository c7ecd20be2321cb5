//! Kill and restart: volatile state and unsynced writes are lost, synced ones recovered.

use std::time::Duration;

use sim_core::trace::CrashCause;
use sim_core::{DropReason, EventKind, FaultOp, NodeCtx, Sim, SimTime};

use crate::probe::*;

const STATE_FILE: &str = "state";

/// On its first start (no state file) writes and fsyncs `synced;`, then writes `unsynced;`
/// without syncing. Every start records what it found (`recovered`), then counts ticks in
/// memory every 100 ms (`counter` notes) while draining its mailbox.
async fn keeper(ctx: NodeCtx<Hello>) {
    let found = ctx.disk().read(STATE_FILE);
    let text = found
        .as_deref()
        .map_or("<none>".to_string(), |b| String::from_utf8_lossy(b).into());
    ctx.note("recovered", text);
    if found.is_none() {
        ctx.disk().append(STATE_FILE, b"synced;");
        ctx.disk().fsync(STATE_FILE).await;
        ctx.disk().append(STATE_FILE, b"unsynced;");
    }
    let mut counter = 0u64;
    let mut next = ctx.now().after(Duration::from_millis(100));
    loop {
        if ctx.recv_until(next).await.is_none() {
            counter += 1;
            ctx.note("counter", counter.to_string());
            next = next.after(Duration::from_millis(100));
        }
    }
}

/// What the driver saw of n1's disk at a moment.
#[derive(Debug, PartialEq)]
struct DiskView {
    cached: Option<Vec<u8>>,
    durable: Option<Vec<u8>>,
}

#[test]
fn kill_loses_volatile_state_and_unsynced_writes_and_restart_recovers_the_synced_ones() {
    let run = Sim::new(11)
        .node(keeper)
        .node(|ctx| chatter(ctx, Duration::from_millis(10), false))
        .faults(schedule(vec![
            at(1_000, FaultOp::Kill { node: n(1) }),
            at(2_000, FaultOp::Restart { node: n(1) }),
        ]))
        .run(|world| async move {
            let view = |w: &sim_core::World<Hello>| {
                let disk = w.disk(n(1));
                DiskView {
                    cached: disk.read(STATE_FILE).map(<[u8]>::to_vec),
                    durable: disk.read_durable(STATE_FILE).map(<[u8]>::to_vec),
                }
            };
            world.sleep(Duration::from_millis(900)).await;
            let before = view(&world);
            world.sleep(Duration::from_millis(600)).await;
            let while_down = view(&world);
            // Not on a tick of either node (see `run_chatter`).
            world.sleep(Duration::from_micros(1_500_500)).await;
            (before, while_down, view(&world))
        })
        .expect("a valid world");
    let (before, while_down, after) = &run.value;
    let synced = Some(b"synced;".to_vec());
    assert_eq!(
        before,
        &DiskView {
            cached: Some(b"synced;unsynced;".to_vec()),
            durable: synced.clone(),
        },
        "before the kill the page cache holds both writes, the platter only the synced one"
    );
    let only_synced = DiskView {
        cached: synced.clone(),
        durable: synced,
    };
    assert_eq!(while_down, &only_synced);
    assert_eq!(after, &only_synced);

    let trace = &run.trace;
    let crash = node_event_idx(trace, n(1), |k| matches!(k, EventKind::NodeCrash { .. }));
    assert!(matches!(
        trace.events[crash].kind,
        EventKind::NodeCrash {
            cause: CrashCause::Kill,
            lost_bytes: 9,
            torn_bytes_kept: 0,
        }
    ));
    let restart = node_event_idx(trace, n(1), |k| {
        matches!(k, EventKind::NodeStart { incarnation: 2 })
    });
    assert_eq!(trace.events[crash].t_us, SimTime::from_ms(1_000));
    assert_eq!(trace.events[restart].t_us, SimTime::from_ms(2_000));

    // What each incarnation found on its disk.
    let recovered: Vec<String> = notes(trace, n(1), "recovered")
        .into_iter()
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(recovered, ["<none>", "synced;"]);

    // The in-memory counter ran up in the first incarnation and began again in the second.
    let counters = notes(trace, n(1), "counter");
    let first: Vec<&String> = counters
        .iter()
        .filter(|(i, _, _)| *i < crash)
        .map(|(_, _, d)| d)
        .collect();
    let second: Vec<&String> = counters
        .iter()
        .filter(|(i, _, _)| *i > restart)
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(first.len(), 9, "ticks at 100..900 ms: {first:?}");
    assert_eq!(first.last().map(|s| s.as_str()), Some("9"));
    assert_eq!(second.first().map(|s| s.as_str()), Some("1"));

    // While down, n1 does nothing of its own; the messages that reach it are dropped.
    let mut down_drops = 0;
    for e in &trace.events[crash + 1..restart] {
        if e.node == Some(n(1)) {
            assert!(is_network_event(&e.kind), "a dead node acted: {e:?}");
        }
    }
    for m in messages(trace) {
        if m.to != n(1) || m.drop_reason() == Some(DropReason::RunEnded) {
            continue;
        }
        if crash < m.fate_idx && m.fate_idx < restart {
            assert_eq!(m.drop_reason(), Some(DropReason::ReceiverDown), "{m:?}");
            assert!(m.fate.t_us > m.send.t_us, "dropped on arrival, not at send");
            down_drops += 1;
        } else {
            assert!(m.delivered(), "{m:?}");
        }
    }
    // n2 sends every 10 ms for the second n1 is down.
    assert!(down_drops >= 99, "{down_drops}");
}
