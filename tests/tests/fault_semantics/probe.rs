//! The probe worlds every fault test runs: tiny chatter actors, a slow network, and readers that find messages, faults and notes in the trace by position.

use std::collections::BTreeMap;
use std::time::Duration;

use sim_core::{
    DropReason, EventKind, FaultOp, FaultSchedule, LatencyRange, Message, MessageId, NetConfig,
    NodeCtx, NodeId, RunOutput, Sim, SimTime, TimedFault, Trace, TraceEvent,
};

/// The one message of these worlds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub seq: u64,
}

impl Message for Hello {
    fn kind(&self) -> &'static str {
        "hello"
    }
}

pub fn n(i: u32) -> NodeId {
    NodeId(i)
}

pub fn at(at_ms: u64, op: FaultOp) -> TimedFault {
    TimedFault::new(at_ms, op)
}

pub fn schedule(faults: Vec<TimedFault>) -> FaultSchedule {
    FaultSchedule::new(faults)
}

/// Sends a hello to every peer every `period` (on exact multiples of it) and drains its
/// mailbox; with `note_receipts` it records a `processed` note naming each message it takes.
pub async fn chatter(ctx: NodeCtx<Hello>, period: Duration, note_receipts: bool) {
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
pub fn slow_net() -> NetConfig {
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
pub fn run_chatter(
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
pub struct Sent<'a> {
    pub send_idx: usize,
    pub send: &'a TraceEvent,
    pub from: NodeId,
    pub to: NodeId,
    pub fate_idx: usize,
    pub fate: &'a TraceEvent,
}

impl Sent<'_> {
    pub fn drop_reason(&self) -> Option<DropReason> {
        match self.fate.kind {
            EventKind::Drop { reason, .. } => Some(reason),
            _ => None,
        }
    }

    pub fn delivered(&self) -> bool {
        matches!(self.fate.kind, EventKind::Deliver { .. })
    }

    pub fn latency_us(&self) -> u64 {
        self.fate.t_us.as_us() - self.send.t_us.as_us()
    }
}

/// Every message sent in the run with its fate; panics if one has no fate or two.
pub fn messages(trace: &Trace) -> Vec<Sent<'_>> {
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
pub fn fault_idx(trace: &Trace, pred: impl Fn(&FaultOp) -> bool) -> usize {
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
pub fn node_event_idx(trace: &Trace, node: NodeId, pred: impl Fn(&EventKind) -> bool) -> usize {
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
pub fn notes(trace: &Trace, node: NodeId, label: &str) -> Vec<(usize, SimTime, String)> {
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
pub fn is_network_event(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Deliver { .. } | EventKind::Drop { .. })
}
