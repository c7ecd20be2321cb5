//! Each fault's semantics, judged from the trace of a small purpose-built world.
//!
//! Every test runs a few tiny actors under a fixed fault schedule and then reads the trace
//! (`RunOutput.trace.events`) back: which messages were delivered or dropped and why, what
//! each node recorded, and what its disk holds. Link states are located by the position of
//! the `fault` events in the trace, so ties at the same microsecond are decided by the order
//! in which sim-core recorded things, not by guessing.
//!
//! # Why one file of this size
//!
//! One test a fault op (partition, cut, loss, latency, kill, restart, pause, power failure,
//! disk stall, skew, heal-all) and its edge cases, all over the same small probe world
//! defined at the top; each integration-test file is its own crate, so splitting it would
//! copy that world or add a support module for it.

use std::collections::BTreeMap;
use std::time::Duration;

use sim_core::trace::CrashCause;
use sim_core::{
    DiskConfig, DropReason, EventKind, FaultOp, FaultSchedule, LatencyRange, Message, MessageId,
    NetConfig, NodeCtx, NodeId, RunOutput, Sim, SimTime, TimedFault, Trace, TraceEvent,
};

// ---------------------------------------------------------------------------------------
// Actors and helpers
// ---------------------------------------------------------------------------------------

/// The one message of these worlds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hello {
    seq: u64,
}

impl Message for Hello {
    fn kind(&self) -> &'static str {
        "hello"
    }
}

fn n(i: u32) -> NodeId {
    NodeId(i)
}

fn at(at_ms: u64, op: FaultOp) -> TimedFault {
    TimedFault::new(at_ms, op)
}

fn schedule(faults: Vec<TimedFault>) -> FaultSchedule {
    FaultSchedule::new(faults)
}

/// Sends a hello to every peer every `period` (on exact multiples of it) and drains its
/// mailbox; with `note_receipts` it records a `processed` note naming each message it takes.
async fn chatter(ctx: NodeCtx<Hello>, period: Duration, note_receipts: bool) {
    let mut seq = 0;
    let mut next = ctx.now();
    loop {
        match ctx.recv_until(next).await {
            Some(env) => {
                if note_receipts {
                    ctx.note("processed", env.id.0.to_string());
                }
            }
            None => {
                seq += 1;
                for peer in ctx.peers() {
                    ctx.send(peer, Hello { seq });
                }
                next = next.after(period);
            }
        }
    }
}

/// A network whose latency (5 to 25 ms) is longer than the chatter period (10 ms), so that
/// messages are always in flight when a fault applies.
fn slow_net() -> NetConfig {
    NetConfig {
        latency: LatencyRange {
            min_us: 5_000,
            max_us: 25_000,
        },
        loss_probability: 0.0,
    }
}

/// Runs `count` chatter nodes under `faults` for `run_ms` plus half a millisecond, so that
/// the run does not end on a chatter tick (a tick at the last instant is recorded after
/// `run-end`: see `no_event_follows_run_end_even_when_a_node_ticks_at_the_last_instant`).
fn run_chatter(
    seed: u64,
    count: usize,
    net: NetConfig,
    faults: FaultSchedule,
    run_ms: u64,
    note_receipts: bool,
) -> RunOutput<()> {
    Sim::new(seed)
        .network(net)
        .nodes(count, move |ctx| {
            chatter(ctx, Duration::from_millis(10), note_receipts)
        })
        .faults(faults)
        .run(move |world| async move {
            world
                .sleep(Duration::from_micros(run_ms * 1_000 + 500))
                .await;
        })
        .expect("a valid world")
}

/// A message's send and its fate, with their positions in the trace.
#[derive(Debug)]
struct Sent<'a> {
    send_idx: usize,
    send: &'a TraceEvent,
    from: NodeId,
    to: NodeId,
    fate_idx: usize,
    fate: &'a TraceEvent,
}

impl Sent<'_> {
    fn drop_reason(&self) -> Option<DropReason> {
        match self.fate.kind {
            EventKind::Drop { reason, .. } => Some(reason),
            _ => None,
        }
    }

    fn delivered(&self) -> bool {
        matches!(self.fate.kind, EventKind::Deliver { .. })
    }

    fn latency_us(&self) -> u64 {
        self.fate.t_us.as_us() - self.send.t_us.as_us()
    }
}

/// Every message sent in the run with its fate; panics if one has no fate or two.
fn messages(trace: &Trace) -> Vec<Sent<'_>> {
    let mut fates: BTreeMap<MessageId, (usize, &TraceEvent)> = BTreeMap::new();
    for (i, e) in trace.events.iter().enumerate() {
        if let EventKind::Deliver { msg, .. } | EventKind::Drop { msg, .. } = e.kind {
            assert!(
                fates.insert(msg, (i, e)).is_none(),
                "message {msg} has two fates"
            );
        }
    }
    trace
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e.kind {
            EventKind::Send { msg, to, .. } => {
                let (fate_idx, fate) = *fates
                    .get(&msg)
                    .unwrap_or_else(|| panic!("message {msg} has no fate"));
                assert!(fate_idx > i, "message {msg}'s fate precedes its send");
                Some(Sent {
                    send_idx: i,
                    send: e,
                    from: e.node.expect("sends have a node"),
                    to,
                    fate_idx,
                    fate,
                })
            }
            _ => None,
        })
        .collect()
}

/// Position of the only fault event matching `pred`.
fn fault_idx(trace: &Trace, pred: impl Fn(&FaultOp) -> bool) -> usize {
    let found: Vec<usize> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(&e.kind, EventKind::Fault { fault } if pred(fault)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one such fault: {found:?}");
    found[0]
}

/// Position of the only event of `node` matching `pred`.
fn node_event_idx(trace: &Trace, node: NodeId, pred: impl Fn(&EventKind) -> bool) -> usize {
    let found: Vec<usize> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.node == Some(node) && pred(&e.kind))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one such event: {found:?}");
    found[0]
}

/// Notes with `label` recorded by `node`: (position, time, detail).
fn notes(trace: &Trace, node: NodeId, label: &str) -> Vec<(usize, SimTime, String)> {
    trace
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            EventKind::Note { label: l, detail } if l == label && e.node == Some(node) => {
                Some((i, e.t_us, detail.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Whether an event is the network's doing on the node (recorded under the receiver), as
/// opposed to something the node's own code did.
fn is_network_event(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Deliver { .. } | EventKind::Drop { .. })
}

// ---------------------------------------------------------------------------------------
// Network: partition, heal, isolate, cut-link, restore-link
// ---------------------------------------------------------------------------------------

#[test]
fn partition_drops_exactly_the_cross_group_messages_and_heal_restores_them() {
    let groups = [vec![n(1), n(2)], vec![n(3), n(4)]];
    let group_of = |node: NodeId| usize::from(!groups[0].contains(&node));
    let run = run_chatter(
        7,
        4,
        slow_net(),
        schedule(vec![
            at(
                1_000,
                FaultOp::Partition {
                    groups: groups.to_vec(),
                },
            ),
            at(2_000, FaultOp::Heal),
        ]),
        3_000,
        false,
    );
    let trace = &run.trace;
    let cut = fault_idx(trace, |f| matches!(f, FaultOp::Partition { .. }));
    let heal = fault_idx(trace, |f| matches!(f, FaultOp::Heal));
    let during = |i: usize| cut < i && i < heal;

    let (mut cut_at_send, mut cut_in_flight, mut within_during, mut across_after) = (0, 0, 0, 0);
    for m in messages(trace) {
        let across = group_of(m.from) != group_of(m.to);
        let reason = m.drop_reason();
        if reason == Some(DropReason::RunEnded) {
            // Still in flight at the end: only the last 25 ms of sends.
            assert!(m.send.t_us.as_us() >= 3_000_000 - 25_000, "{m:?}");
            continue;
        }
        if !across {
            assert!(
                m.delivered(),
                "a message within a group was not delivered: {m:?}"
            );
            if during(m.send_idx) {
                within_during += 1;
            }
        } else if during(m.send_idx) {
            assert_eq!(reason, Some(DropReason::Partitioned), "{m:?}");
            assert_eq!(m.fate.t_us, m.send.t_us, "dropped at send: {m:?}");
            cut_at_send += 1;
        } else if m.send_idx < cut && during(m.fate_idx) {
            assert_eq!(reason, Some(DropReason::PartitionedInFlight), "{m:?}");
            cut_in_flight += 1;
        } else {
            // Sent and arrived while the network was whole (before the cut or after heal).
            assert!(
                !during(m.fate_idx),
                "crossed the partition while it stood: {m:?}"
            );
            assert!(
                m.delivered(),
                "a message across healed links was dropped: {m:?}"
            );
            if m.send_idx > heal {
                across_after += 1;
            }
        }
    }
    // 100 rounds of 8 cross-group and 4 within-group sends during the partition; some
    // cross-group messages were in flight at the cut.
    assert!(cut_at_send >= 790, "{cut_at_send}");
    assert!(cut_in_flight > 0);
    assert!(within_during >= 390, "{within_during}");
    assert!(across_after >= 700, "{across_after}");
}

#[test]
fn isolate_cuts_one_node_off_in_both_directions_only() {
    let run = run_chatter(
        8,
        3,
        NetConfig::default(),
        schedule(vec![
            at(1_000, FaultOp::Isolate { node: n(2) }),
            at(2_000, FaultOp::Heal),
        ]),
        2_500,
        false,
    );
    let trace = &run.trace;
    let cut = fault_idx(trace, |f| matches!(f, FaultOp::Isolate { .. }));
    let heal = fault_idx(trace, |f| matches!(f, FaultOp::Heal));
    let (mut to_isolated, mut from_isolated, mut between_rest) = (0, 0, 0);
    for m in messages(trace) {
        if !(cut < m.send_idx && m.send_idx < heal) {
            continue;
        }
        if m.from == n(2) || m.to == n(2) {
            assert_eq!(m.drop_reason(), Some(DropReason::Partitioned), "{m:?}");
            if m.to == n(2) {
                to_isolated += 1;
            } else {
                from_isolated += 1;
            }
        } else {
            assert!(m.delivered(), "{m:?}");
            between_rest += 1;
        }
    }
    assert!(to_isolated >= 190 && from_isolated >= 190 && between_rest >= 190);
}

#[test]
fn cut_link_drops_one_direction_only_and_restore_link_restores_it() {
    let run = run_chatter(
        9,
        3,
        slow_net(),
        schedule(vec![
            at(
                1_000,
                FaultOp::CutLink {
                    from: n(1),
                    to: n(2),
                },
            ),
            at(
                2_000,
                FaultOp::RestoreLink {
                    from: n(1),
                    to: n(2),
                },
            ),
        ]),
        3_000,
        false,
    );
    let trace = &run.trace;
    let cut = fault_idx(trace, |f| matches!(f, FaultOp::CutLink { .. }));
    let restore = fault_idx(trace, |f| matches!(f, FaultOp::RestoreLink { .. }));
    let during = |i: usize| cut < i && i < restore;

    let (mut dropped, mut in_flight, mut reverse, mut after) = (0, 0, 0, 0);
    for m in messages(trace) {
        let reason = m.drop_reason();
        if reason == Some(DropReason::RunEnded) {
            assert!(m.send.t_us.as_us() >= 3_000_000 - 25_000, "{m:?}");
            continue;
        }
        if (m.from, m.to) != (n(1), n(2)) {
            assert!(m.delivered(), "only n1 -> n2 is cut: {m:?}");
            if (m.from, m.to) == (n(2), n(1)) && during(m.send_idx) {
                reverse += 1;
            }
        } else if during(m.send_idx) {
            assert_eq!(reason, Some(DropReason::Partitioned), "{m:?}");
            dropped += 1;
        } else if m.send_idx < cut && during(m.fate_idx) {
            assert_eq!(reason, Some(DropReason::PartitionedInFlight), "{m:?}");
            in_flight += 1;
        } else {
            assert!(m.delivered(), "{m:?}");
            if m.send_idx > restore {
                after += 1;
            }
        }
    }
    assert!(dropped >= 99, "{dropped}");
    assert!(in_flight > 0);
    assert!(reverse >= 99, "n2 -> n1 must keep working: {reverse}");
    assert!(after >= 95, "{after}");
}

// ---------------------------------------------------------------------------------------
// Kill and restart
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Power failure
// ---------------------------------------------------------------------------------------

const WAL: &str = "wal";
const SYNCED: &[u8] = b"AAAA";
const UNSYNCED: [&[u8]; 2] = [b"BBBBBBBB", b"CCCC"];

/// On first start writes and syncs `AAAA`, then appends two records without syncing.
async fn wal_writer(ctx: NodeCtx<Hello>) {
    if ctx.disk().read(WAL).is_none() {
        ctx.disk().append(WAL, SYNCED);
        ctx.disk().fsync(WAL).await;
        for record in UNSYNCED {
            ctx.disk().append(WAL, record);
        }
    }
    let found = ctx.disk().read(WAL).unwrap_or_default();
    ctx.note("found", String::from_utf8_lossy(&found));
    loop {
        ctx.recv().await;
    }
}

/// Power-fails n1 at 1 s and restarts it at 2 s; returns the durable file seen at 1.5 s,
/// and the run.
fn power_fail_run(seed: u64, torn_write: bool) -> RunOutput<Option<Vec<u8>>> {
    Sim::new(seed)
        .node(wal_writer)
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::PowerFail {
                    nodes: vec![n(1)],
                    torn_write,
                },
            ),
            at(2_000, FaultOp::Restart { node: n(1) }),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(1_500)).await;
            let durable = world.disk(n(1)).read_durable(WAL).map(<[u8]>::to_vec);
            world.sleep(Duration::from_millis(1_000)).await;
            durable
        })
        .expect("a valid world")
}

fn crash_loss(trace: &Trace, node: NodeId) -> (CrashCause, u64, u64) {
    let crashes: Vec<_> = trace
        .of_node(node)
        .filter_map(|e| match e.kind {
            EventKind::NodeCrash {
                cause,
                lost_bytes,
                torn_bytes_kept,
            } => Some((cause, lost_bytes, torn_bytes_kept)),
            _ => None,
        })
        .collect();
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    crashes[0]
}

#[test]
fn power_failure_without_tearing_keeps_exactly_the_synced_bytes() {
    let unsynced_len: u64 = UNSYNCED.iter().map(|r| r.len() as u64).sum();
    for seed in 0..5 {
        let run = power_fail_run(seed, false);
        assert_eq!(run.value.as_deref(), Some(SYNCED), "seed {seed}");
        assert_eq!(
            crash_loss(&run.trace, n(1)),
            (CrashCause::PowerFail, unsynced_len, 0),
            "seed {seed}"
        );
        let found: Vec<String> = notes(&run.trace, n(1), "found")
            .into_iter()
            .map(|(_, _, d)| d)
            .collect();
        assert_eq!(found, ["AAAABBBBBBBBCCCC", "AAAA"], "seed {seed}");
    }
}

#[test]
fn torn_power_failure_keeps_a_strict_prefix_of_the_unsynced_tail() {
    let full: Vec<u8> = [SYNCED, UNSYNCED[0], UNSYNCED[1]].concat();
    let unsynced_len = (full.len() - SYNCED.len()) as u64;
    let mut kept_counts = Vec::new();
    for seed in 0..40 {
        let run = power_fail_run(seed, true);
        let after = run.value.clone().expect("the synced file survives");
        let (cause, lost, kept) = crash_loss(&run.trace, n(1));
        assert_eq!(cause, CrashCause::PowerFail);
        assert!(after.starts_with(SYNCED), "seed {seed}: {after:?}");
        assert!(full.starts_with(&after), "seed {seed}: not a prefix");
        assert!(after.len() < full.len(), "seed {seed}: not a strict prefix");
        assert_eq!(lost + kept, unsynced_len, "seed {seed}");
        assert_eq!(
            after.len() as u64,
            SYNCED.len() as u64 + kept,
            "seed {seed}"
        );
        // The restarted node reads what survived.
        let found = notes(&run.trace, n(1), "found");
        assert_eq!(found[1].2.as_bytes(), &after[..], "seed {seed}");
        kept_counts.push(kept);
    }
    // Tearing really happens, and not always at the same point.
    kept_counts.sort_unstable();
    kept_counts.dedup();
    assert!(kept_counts.len() >= 3, "{kept_counts:?}");
    assert!(kept_counts.iter().any(|k| *k > 8), "{kept_counts:?}");
}

/// Writes a record without syncing and returns (its actor ends; the node goes down).
async fn write_and_exit(ctx: NodeCtx<Hello>) {
    if ctx.disk().read(WAL).is_none() {
        ctx.disk().append(WAL, b"unsynced");
    } else {
        ctx.note(
            "found",
            String::from_utf8_lossy(&ctx.disk().read(WAL).unwrap()),
        );
    }
}

/// A power failure loses the page cache of the whole machine, whether or not the node's
/// process is still running.
#[test]
fn power_failure_loses_unsynced_writes_of_a_node_whose_actor_has_returned() {
    let run = Sim::new(3)
        .node(write_and_exit)
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::PowerFail {
                    nodes: vec![n(1)],
                    torn_write: false,
                },
            ),
            at(2_000, FaultOp::Restart { node: n(1) }),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(1_500)).await;
            let cached = world.disk(n(1)).read(WAL).map(<[u8]>::to_vec);
            world.sleep(Duration::from_millis(1_000)).await;
            cached
        })
        .expect("a valid world");
    let exit = run.trace.events.iter().find(|e| {
        e.node == Some(n(1))
            && matches!(
                e.kind,
                EventKind::NodeCrash {
                    cause: sim_core::trace::CrashCause::Exited,
                    ..
                }
            )
    });
    assert!(
        exit.is_some_and(|e| e.t_us < SimTime::from_ms(1_000)),
        "the actor returned before the power failure: {exit:?}"
    );
    assert_eq!(
        run.value, None,
        "after the power failure the never-synced file must be gone"
    );
    assert!(
        notes(&run.trace, n(1), "found").is_empty(),
        "the restarted node found the unsynced write: {:?}",
        notes(&run.trace, n(1), "found")
    );
}

// ---------------------------------------------------------------------------------------
// Disk stalls and fsync latency
// ---------------------------------------------------------------------------------------

/// Fsyncs once at each of `at_us` (virtual time, microseconds).
async fn fsync_at(ctx: NodeCtx<Hello>, at_us: Vec<u64>) {
    for t in at_us {
        ctx.sleep_until(SimTime(t)).await;
        ctx.disk().append("f", b"x");
        ctx.disk().fsync("f").await;
    }
    loop {
        ctx.recv().await;
    }
}

/// (start time, end time) of every fsync of the run, by fsync number.
fn fsync_times(trace: &Trace) -> Vec<(SimTime, SimTime)> {
    let mut starts: BTreeMap<u64, SimTime> = BTreeMap::new();
    let mut pairs = Vec::new();
    for e in &trace.events {
        match e.kind {
            EventKind::FsyncStart { fsync, .. } => {
                starts.insert(fsync, e.t_us);
            }
            EventKind::FsyncEnd { fsync, .. } => {
                pairs.push((starts[&fsync], e.t_us));
            }
            _ => {}
        }
    }
    pairs
}

#[test]
fn fsync_under_a_stall_completes_exactly_when_the_stall_ends() {
    // Both nodes' disks stall at 1 s for 300 ms. n1's fsync starts just before the stall,
    // so that its sampled latency (0.5 to 2 ms) would end inside it; n2's starts inside it.
    let stall = |node| {
        at(
            1_000,
            FaultOp::DiskStall {
                node,
                duration_ms: 300,
            },
        )
    };
    let run = Sim::new(5)
        .node(|ctx| fsync_at(ctx, vec![999_800]))
        .node(|ctx| fsync_at(ctx, vec![1_100_000]))
        .faults(schedule(vec![stall(n(1)), stall(n(2))]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(2_000)).await;
        })
        .expect("a valid world");
    let times = fsync_times(&run.trace);
    assert_eq!(times.len(), 2, "{times:?}");
    for (i, node) in [n(1), n(2)].into_iter().enumerate() {
        let stall = fault_idx(
            &run.trace,
            |f| matches!(f, FaultOp::DiskStall { node: x, .. } if *x == node),
        );
        let stall_end = run.trace.events[stall].t_us.as_us() + 300_000;
        let (start, end) = times[i];
        assert_eq!(
            end.as_us() as i64 - stall_end as i64,
            0,
            "{node}: fsync started at {start} ended at {end}, the stall ended at {}",
            SimTime(stall_end)
        );
    }
}

#[test]
fn fsync_without_a_stall_takes_a_latency_within_the_disk_config_range() {
    let disk = DiskConfig {
        fsync_min_us: 3_000,
        fsync_max_us: 7_000,
    };
    let starts: Vec<u64> = (1..=60).map(|i| i * 10_000).collect();
    let run = Sim::new(6)
        .disk(disk)
        .node(move |ctx| fsync_at(ctx, starts.clone()))
        .run(|world| async move {
            world.sleep(Duration::from_millis(1_000)).await;
        })
        .expect("a valid world");
    let latencies: Vec<u64> = fsync_times(&run.trace)
        .iter()
        .map(|(s, e)| e.as_us() - s.as_us())
        .collect();
    assert_eq!(latencies.len(), 60);
    for l in &latencies {
        assert!(
            (disk.fsync_min_us..=disk.fsync_max_us).contains(l),
            "fsync took {l} us: {latencies:?}"
        );
    }
    // Sampled, not constant.
    let (lo, hi) = (latencies.iter().min(), latencies.iter().max());
    assert!(hi.unwrap() - lo.unwrap() > 1_000, "{latencies:?}");
}

/// `heal-all` clears stalls: an fsync that was waiting only for a stall goes on at once
/// (within one sampled fsync latency), not at the end the cleared stall would have had.
#[test]
fn heal_all_ends_a_disk_stall_for_an_fsync_already_waiting_on_it() {
    let run = Sim::new(5)
        .node(|ctx| fsync_at(ctx, vec![1_100_000]))
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::DiskStall {
                    node: n(1),
                    duration_ms: 5_000,
                },
            ),
            at(2_000, FaultOp::HealAll),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(7_000)).await;
        })
        .expect("a valid world");
    let heal = fault_idx(&run.trace, |f| matches!(f, FaultOp::HealAll));
    let healed_at = run.trace.events[heal].t_us;
    let times = fsync_times(&run.trace);
    assert_eq!(times.len(), 1, "{times:?}");
    let (_, end) = times[0];
    let latest = healed_at.as_us() + DiskConfig::default().fsync_max_us;
    assert!(
        end >= healed_at && end.as_us() <= latest,
        "the stall was cleared at {healed_at} but the fsync ended at {end}"
    );
}

// ---------------------------------------------------------------------------------------
// Clock skew
// ---------------------------------------------------------------------------------------

/// Records `local_now_us - now` every 100 ms, offset by 50 ms from the fault times.
async fn clock_reader(ctx: NodeCtx<Hello>) {
    let mut next = SimTime::from_ms(50);
    loop {
        ctx.sleep_until(next).await;
        let skew = ctx.local_now_us() - ctx.now().as_us() as i64;
        ctx.note("skew", skew.to_string());
        next = next.after(Duration::from_millis(100));
    }
}

#[test]
fn clock_skew_shifts_only_that_nodes_local_clock_until_reset_to_zero() {
    let run = Sim::new(4)
        .nodes(2, clock_reader)
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::ClockSkew {
                    node: n(1),
                    skew_ms: 250,
                },
            ),
            at(
                2_000,
                FaultOp::ClockSkew {
                    node: n(1),
                    skew_ms: -400,
                },
            ),
            at(
                3_000,
                FaultOp::ClockSkew {
                    node: n(1),
                    skew_ms: 0,
                },
            ),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(4_000)).await;
        })
        .expect("a valid world");
    let expected = |t: SimTime| match t.as_ms() {
        0..=999 => 0,
        1_000..=1_999 => 250_000,
        2_000..=2_999 => -400_000,
        _ => 0,
    };
    let n1 = notes(&run.trace, n(1), "skew");
    assert_eq!(n1.len(), 40);
    for (_, t, skew) in &n1 {
        assert_eq!(skew.parse::<i64>().unwrap(), expected(*t), "n1 at {t}");
    }
    let n2 = notes(&run.trace, n(2), "skew");
    assert_eq!(n2.len(), 40);
    for (_, t, skew) in &n2 {
        assert_eq!(skew, "0", "n2 at {t} is not skewed");
    }
}

/// `clock-skew` refuses skews beyond the fault limit, and a node reading its clock under
/// the largest allowed one gets a reading, not a panic inside sim-core.
#[test]
fn extreme_clock_skews_are_refused_or_read_without_panic() {
    let too_far = schedule(vec![at(
        10,
        FaultOp::ClockSkew {
            node: n(1),
            skew_ms: i64::MAX,
        },
    )]);
    let err = too_far.validate(&[n(1)]).unwrap_err().to_string();
    assert!(
        err.contains("skew_ms") && err.contains("too large"),
        "{err}"
    );
    for skew_ms in [
        sim_core::fault::MAX_FAULT_VALUE as i64,
        -(sim_core::fault::MAX_FAULT_VALUE as i64),
    ] {
        let faults = schedule(vec![at(
            10,
            FaultOp::ClockSkew {
                node: n(1),
                skew_ms,
            },
        )]);
        faults.validate(&[n(1)]).expect("the largest skew is valid");
        let run = Sim::new(4)
            .node(clock_reader)
            .faults(faults)
            .run(|world| async move {
                world.sleep(Duration::from_millis(200)).await;
            })
            .expect("a valid world");
        let skews = notes(&run.trace, n(1), "skew");
        assert_eq!(skews.len(), 2, "{skews:?}");
        assert_eq!(
            skews[1].2.parse::<i64>().unwrap(),
            skew_ms * 1000,
            "{skews:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Pause and resume
// ---------------------------------------------------------------------------------------

#[test]
fn a_paused_node_does_nothing_but_receives_and_processes_its_mail_after_resume() {
    let run = run_chatter(
        12,
        2,
        NetConfig::default(),
        schedule(vec![
            at(1_000, FaultOp::Pause { node: n(1) }),
            at(2_000, FaultOp::Resume { node: n(1) }),
        ]),
        3_000,
        true,
    );
    let trace = &run.trace;
    let pause = node_event_idx(trace, n(1), |k| matches!(k, EventKind::NodePause));
    let resume = node_event_idx(trace, n(1), |k| matches!(k, EventKind::NodeResume));
    let resume_t = trace.events[resume].t_us;
    assert_eq!(trace.events[pause].t_us, SimTime::from_ms(1_000));
    assert_eq!(resume_t, SimTime::from_ms(2_000));

    // Nothing of n1's own between pause and resume.
    for e in &trace.events[pause + 1..resume] {
        if e.node == Some(n(1)) {
            assert!(is_network_event(&e.kind), "a paused node acted: {e:?}");
        }
    }
    // It sends again after resume.
    assert!(trace.events[resume..]
        .iter()
        .any(|e| e.node == Some(n(1)) && matches!(e.kind, EventKind::Send { .. })));

    // Mail that reached it while paused was delivered then, and processed after resume.
    let processed: BTreeMap<u64, SimTime> = notes(trace, n(1), "processed")
        .into_iter()
        .map(|(_, t, d)| (d.parse().unwrap(), t))
        .collect();
    let mut queued = 0;
    for m in messages(trace) {
        if m.to != n(1) || !(pause < m.fate_idx && m.fate_idx < resume) {
            continue;
        }
        assert!(m.delivered(), "mail to a paused node is delivered: {m:?}");
        let msg = match m.send.kind {
            EventKind::Send { msg, .. } => msg.0,
            _ => unreachable!(),
        };
        let when = processed
            .get(&msg)
            .unwrap_or_else(|| panic!("message {msg} delivered while paused was never processed"));
        assert!(
            *when >= resume_t,
            "message {msg} processed at {when} while paused"
        );
        queued += 1;
    }
    assert!(queued >= 99, "{queued}");
}

// ---------------------------------------------------------------------------------------
// Loss and latency
// ---------------------------------------------------------------------------------------

#[test]
fn loss_probability_one_drops_every_message_sent_meanwhile_as_lost() {
    let run = run_chatter(
        13,
        3,
        slow_net(),
        schedule(vec![
            at(1_000, FaultOp::Loss { probability: 1.0 }),
            at(2_000, FaultOp::Loss { probability: 0.0 }),
        ]),
        3_000,
        false,
    );
    let trace = &run.trace;
    let lossy = fault_idx(trace, |f| *f == FaultOp::Loss { probability: 1.0 });
    let clean = fault_idx(trace, |f| *f == FaultOp::Loss { probability: 0.0 });
    let (mut lost, mut delivered_across_onset) = (0, 0);
    for m in messages(trace) {
        if m.drop_reason() == Some(DropReason::RunEnded) {
            assert!(m.send.t_us.as_us() >= 3_000_000 - 25_000, "{m:?}");
            continue;
        }
        if lossy < m.send_idx && m.send_idx < clean {
            assert_eq!(m.drop_reason(), Some(DropReason::Lost), "{m:?}");
            assert_eq!(m.fate_idx, m.send_idx + 1, "lost at send: {m:?}");
            lost += 1;
        } else {
            // Loss is decided at send: what was already in flight still arrives.
            assert!(m.delivered(), "{m:?}");
            if m.send_idx < lossy && m.fate_idx > lossy {
                delivered_across_onset += 1;
            }
        }
    }
    assert!(lost >= 6 * 99, "{lost}");
    assert!(delivered_across_onset > 0);
}

#[test]
fn latency_ops_put_every_delivery_within_the_set_range_of_its_send() {
    let global = (20_000, 30_000);
    let link = (50_000, 60_000);
    let run = run_chatter(
        14,
        3,
        NetConfig::default(),
        schedule(vec![
            at(
                1_000,
                FaultOp::Latency {
                    min_us: global.0,
                    max_us: global.1,
                },
            ),
            at(
                1_000,
                FaultOp::LinkLatency {
                    from: n(1),
                    to: n(2),
                    min_us: link.0,
                    max_us: link.1,
                },
            ),
        ]),
        2_000,
        false,
    );
    let trace = &run.trace;
    let set = fault_idx(trace, |f| matches!(f, FaultOp::LinkLatency { .. }));
    let default = NetConfig::default().latency;
    let mut seen: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for m in messages(trace) {
        if m.drop_reason() == Some(DropReason::RunEnded) {
            continue;
        }
        assert!(m.delivered(), "{m:?}");
        let (name, (lo, hi)) = if m.send_idx < set {
            ("default", (default.min_us, default.max_us))
        } else if (m.from, m.to) == (n(1), n(2)) {
            ("link", link)
        } else {
            ("global", global)
        };
        let l = m.latency_us();
        // Times are whole microseconds, floored, and the send's floor is where latency is
        // counted from, so no slack is needed.
        assert!(
            (lo..=hi).contains(&l),
            "{name} latency {l} us outside [{lo}, {hi}]: {m:?}"
        );
        seen.entry(name).or_default().push(l);
    }
    for (name, lat) in &seen {
        let spread = lat.iter().max().unwrap() - lat.iter().min().unwrap();
        assert!(lat.len() >= 90 && spread > 1_000, "{name}: {lat:?}");
    }
    assert_eq!(seen.len(), 3);
}

// ---------------------------------------------------------------------------------------
// The end of the run
// ---------------------------------------------------------------------------------------

/// `run-end` closes the trace: a node that wakes at the very instant the driver returns
/// must not add events after it, and every message sent must have a fate (here, the
/// chatter nodes tick every 10 ms and the driver returns at exactly 100 ms).
#[test]
fn no_event_follows_run_end_even_when_a_node_ticks_at_the_last_instant() {
    let run = Sim::new(1)
        .nodes(2, |ctx| chatter(ctx, Duration::from_millis(10), false))
        .run(|world| async move {
            world.sleep(Duration::from_millis(100)).await;
        })
        .expect("a valid world");
    let events = &run.trace.events;
    let end = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::RunEnd))
        .expect("a run-end event");
    assert_eq!(
        end,
        events.len() - 1,
        "events after run-end: {:?}",
        &events[end..]
    );
    let view = sim_core::RunView {
        seed: run.seed,
        nodes: &run.nodes,
        trace: &run.trace,
        history: &run.history,
    };
    assert_eq!(
        sim_core::Check::check(&sim_core::checks::MessageAccounting, &view),
        sim_core::Outcome::Pass
    );
}
