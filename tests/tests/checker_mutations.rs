//! The checkers catch the bugs they guard against.
//!
//! A real ping-mesh trace (a partition, then a kill) passes `message-accounting` and
//! `network-respects-faults`; each test corrupts one copy of it the way a broken network
//! would, and requires a violation from the checker that guards against that corruption.
//! A mesh that is never healed must fail `mesh-reconnects`.

use std::time::Duration;

use sim_core::checks::{MessageAccounting, NetworkRespectsFaults};
use sim_core::demo::{ping_node, MeshReconnects, PingConfig};
use sim_core::{
    Check, DropReason, EventId, EventKind, FaultOp, FaultSchedule, MessageId, NodeId, Outcome,
    Port, RunOutput, RunView, Sim, SimTime, TimedFault, Trace, TraceEvent,
};

fn n(i: u32) -> NodeId {
    NodeId(i)
}

fn at(at_ms: u64, op: FaultOp) -> TimedFault {
    TimedFault::new(at_ms, op)
}

fn ping_mesh(seed: u64, count: usize, faults: Vec<TimedFault>, run_ms: u64) -> RunOutput<()> {
    Sim::new(seed)
        .nodes(count, |ctx| ping_node(ctx, PingConfig::default()))
        .faults(FaultSchedule::new(faults))
        .run(move |world| async move {
            world.sleep(Duration::from_millis(run_ms)).await;
        })
        .expect("a valid world")
}

/// Three nodes: n1 is cut off from n2 and n3 for a second, then n3 is killed for a second.
fn real_run() -> RunOutput<()> {
    ping_mesh(
        21,
        3,
        vec![
            at(
                1_000,
                FaultOp::Partition {
                    groups: vec![vec![n(1)], vec![n(2), n(3)]],
                },
            ),
            at(2_000, FaultOp::Heal),
            at(3_000, FaultOp::Kill { node: n(3) }),
            at(4_000, FaultOp::Restart { node: n(3) }),
        ],
        5_000,
    )
}

fn judge(check: &dyn Check, run: &RunOutput<()>, trace: &Trace) -> Outcome {
    check.check(&RunView {
        seed: run.seed,
        nodes: &run.nodes,
        trace,
        history: &run.history,
    })
}

fn is_violation(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Violation { .. })
}

/// Renumbers event ids densely after an edit, as a real trace would have them.
fn renumber(mut events: Vec<TraceEvent>) -> Trace {
    for (i, e) in events.iter_mut().enumerate() {
        e.id = EventId(i as u64);
    }
    Trace { events }
}

fn fault_position(trace: &Trace, pred: impl Fn(&FaultOp) -> bool) -> usize {
    trace
        .events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::Fault { fault } if pred(fault)))
        .expect("the fault is in the trace")
}

/// Position of the first drop with `reason`.
fn first_drop(trace: &Trace, reason: DropReason) -> usize {
    trace
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::Drop { reason: r, .. } if r == reason))
        .unwrap_or_else(|| panic!("the real run has a {} drop", reason.as_str()))
}

/// A drop turned into a delivery of the same message to the same node.
fn as_delivery(event: &TraceEvent) -> TraceEvent {
    match event.kind {
        EventKind::Drop {
            msg,
            from,
            to,
            from_port,
            to_port,
            ..
        } => TraceEvent {
            node: Some(to),
            kind: EventKind::Deliver {
                msg,
                from,
                from_port,
                to_port,
            },
            ..event.clone()
        },
        _ => panic!("not a drop: {event:?}"),
    }
}

#[test]
fn the_uncorrupted_trace_passes_both_network_checks() {
    let run = real_run();
    let trace = &run.trace;
    // The trace has what the corruptions below need.
    let partition = fault_position(trace, |f| matches!(f, FaultOp::Partition { .. }));
    let heal = fault_position(trace, |f| matches!(f, FaultOp::Heal));
    let cut_drop = first_drop(trace, DropReason::Partitioned);
    assert!(partition < cut_drop && cut_drop < heal);
    first_drop(trace, DropReason::ReceiverDown);
    assert_eq!(judge(&MessageAccounting, &run, trace), Outcome::Pass);
    assert_eq!(
        judge(&NetworkRespectsFaults::default(), &run, trace),
        Outcome::Pass
    );
    // And the renumbering helper alone changes nothing the checks see.
    let same = renumber(trace.events.clone());
    assert_eq!(&same, trace);
}

#[test]
fn message_accounting_catches_a_message_whose_drop_was_removed() {
    let run = real_run();
    let mut events = run.trace.events.clone();
    events.remove(first_drop(&run.trace, DropReason::Partitioned));
    let corrupted = renumber(events);
    let outcome = judge(&MessageAccounting, &run, &corrupted);
    assert!(is_violation(&outcome), "{outcome:?}");
}

#[test]
fn message_accounting_catches_a_message_delivered_twice() {
    let run = real_run();
    let mut events = run.trace.events.clone();
    let deliver = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::Deliver { .. }))
        .expect("a delivery");
    let copy = events[deliver].clone();
    events.insert(deliver + 1, copy);
    let corrupted = renumber(events);
    let outcome = judge(&MessageAccounting, &run, &corrupted);
    assert!(is_violation(&outcome), "{outcome:?}");
}

#[test]
fn network_respects_faults_catches_a_delivery_across_an_active_partition() {
    let run = real_run();
    let mut events = run.trace.events.clone();
    let i = first_drop(&run.trace, DropReason::Partitioned);
    events[i] = as_delivery(&events[i]);
    let corrupted = renumber(events);
    // Still one fate per message, to a live node: only the network check can see it.
    assert_eq!(judge(&MessageAccounting, &run, &corrupted), Outcome::Pass);
    let outcome = judge(&NetworkRespectsFaults::default(), &run, &corrupted);
    assert!(is_violation(&outcome), "{outcome:?}");
}

#[test]
fn network_respects_faults_catches_a_drop_blamed_on_a_partition_that_is_not_there() {
    // The converse: a delivery on a healthy link relabelled as a partition drop.
    let run = real_run();
    let mut events = run.trace.events.clone();
    let heal = fault_position(&run.trace, |f| matches!(f, FaultOp::Heal));
    let i = heal
        + events[heal..]
            .iter()
            .position(|e| matches!(e.kind, EventKind::Deliver { .. }))
            .expect("a delivery after heal");
    let (msg, from, to) = match events[i].kind {
        EventKind::Deliver { msg, from, .. } => (msg, from, events[i].node.unwrap()),
        _ => unreachable!(),
    };
    for reason in [DropReason::Partitioned, DropReason::PartitionedInFlight] {
        events[i].kind = EventKind::Drop {
            msg,
            from,
            to,
            reason,
            from_port: Port::MAIN,
            to_port: Port::MAIN,
        };
        let corrupted = renumber(events.clone());
        assert_eq!(judge(&MessageAccounting, &run, &corrupted), Outcome::Pass);
        let outcome = judge(&NetworkRespectsFaults::default(), &run, &corrupted);
        assert!(is_violation(&outcome), "{}: {outcome:?}", reason.as_str());
    }
}

/// A message on a cut link cannot be `lost`: the network checks the link before it rolls
/// for loss, so a `lost` drop on a link that is down means the network decided wrongly.
#[test]
fn network_respects_faults_catches_a_partition_drop_relabelled_as_lost() {
    let run = real_run();
    let mut events = run.trace.events.clone();
    let i = first_drop(&run.trace, DropReason::Partitioned);
    if let EventKind::Drop { reason, .. } = &mut events[i].kind {
        *reason = DropReason::Lost;
    }
    let corrupted = renumber(events);
    let outcome = judge(&NetworkRespectsFaults::default(), &run, &corrupted);
    assert!(is_violation(&outcome), "{outcome:?}");
}

#[test]
fn message_accounting_catches_a_delivery_to_a_crashed_node() {
    let run = real_run();
    // A message that arrived while n3 was down, delivered instead of dropped.
    let mut events = run.trace.events.clone();
    let i = first_drop(&run.trace, DropReason::ReceiverDown);
    events[i] = as_delivery(&events[i]);
    let corrupted = renumber(events);
    assert_eq!(
        judge(&NetworkRespectsFaults::default(), &run, &corrupted),
        Outcome::Pass
    );
    let outcome = judge(&MessageAccounting, &run, &corrupted);
    assert!(is_violation(&outcome), "{outcome:?}");
}

#[test]
fn message_accounting_catches_a_new_message_delivered_after_the_receivers_crash() {
    let run = real_run();
    let mut events = run.trace.events.clone();
    let crash = events
        .iter()
        .position(|e| e.node == Some(n(3)) && matches!(e.kind, EventKind::NodeCrash { .. }))
        .expect("n3 crashes");
    let t = events[crash].t_us;
    let msg = MessageId(1_000_000);
    let send = TraceEvent {
        id: EventId(0),
        t_us: t,
        node: Some(n(1)),
        kind: EventKind::Send {
            msg,
            to: n(3),
            from_port: Port::MAIN,
            to_port: Port::MAIN,
            kind: "ping".into(),
            fields: None,
        },
    };
    let deliver = TraceEvent {
        id: EventId(0),
        t_us: t,
        node: Some(n(3)),
        kind: EventKind::Deliver {
            msg,
            from: n(1),
            from_port: Port::MAIN,
            to_port: Port::MAIN,
        },
    };
    events.insert(crash + 1, send);
    events.insert(crash + 2, deliver);
    let corrupted = renumber(events);
    assert_eq!(
        judge(&NetworkRespectsFaults::default(), &run, &corrupted),
        Outcome::Pass
    );
    let outcome = judge(&MessageAccounting, &run, &corrupted);
    assert!(is_violation(&outcome), "{outcome:?}");
}

/// A delivery recorded at a node other than the one the message was sent to.
#[test]
fn message_accounting_catches_a_message_delivered_to_the_wrong_node() {
    let run = real_run();
    let mut events = run.trace.events.clone();
    let i = events
        .iter()
        .position(|e| {
            e.node == Some(n(2))
                && matches!(e.kind, EventKind::Deliver { from, .. } if from == n(1))
        })
        .expect("n1 -> n2 delivery");
    events[i].node = Some(n(3));
    let corrupted = renumber(events);
    let outcomes = [
        judge(&MessageAccounting, &run, &corrupted),
        judge(&NetworkRespectsFaults::default(), &run, &corrupted),
    ];
    assert!(outcomes.iter().any(is_violation), "{outcomes:?}");
}

// ---------------------------------------------------------------------------------------
// mesh-reconnects
// ---------------------------------------------------------------------------------------

const BOUND_MS: u64 = 2_000;

fn reconnects(run: &RunOutput<()>) -> Outcome {
    judge(&MeshReconnects { bound_ms: BOUND_MS }, run, &run.trace)
}

/// The bug the check guards against: after every fault is gone, a link stays silent (here
/// the n1 -> n2 deliveries after the heal are cut out of a healed run's trace, as if n1
/// had stopped pinging n2).
#[test]
fn mesh_reconnects_fails_when_a_link_stays_silent_after_the_heal() {
    let groups = vec![vec![n(1), n(3)], vec![n(2), n(4)]];
    let run = ping_mesh(
        22,
        4,
        vec![
            at(1_000, FaultOp::Partition { groups }),
            at(2_000, FaultOp::Heal),
        ],
        5_000,
    );
    assert_eq!(reconnects(&run), Outcome::Pass);
    let healed_at = SimTime::from_ms(2_000);
    let events: Vec<TraceEvent> = run
        .trace
        .events
        .iter()
        .filter(|e| {
            !(e.t_us >= healed_at
                && e.node == Some(n(2))
                && matches!(e.kind, EventKind::Deliver { from, .. } if from == n(1)))
        })
        .cloned()
        .collect();
    match judge(
        &MeshReconnects { bound_ms: BOUND_MS },
        &run,
        &renumber(events),
    ) {
        Outcome::Violation { message, evidence } => {
            assert!(message.starts_with("1 link(s)"), "{message}");
            assert_eq!(evidence[0].note, "n1 -> n2 silent");
        }
        other => panic!("expected a violation, got {other:?}"),
    }
}

/// A liveness bound starts when every fault is really gone: a partition never healed, or
/// a node killed for good, leaves nothing to judge (not a violation of the mesh).
#[test]
fn mesh_reconnects_is_not_applicable_while_a_fault_is_in_force() {
    let groups = vec![vec![n(1), n(3)], vec![n(2), n(4)]];
    let cut = ping_mesh(22, 4, vec![at(1_000, FaultOp::Partition { groups })], 5_000);
    let killed = ping_mesh(23, 3, vec![at(1_000, FaultOp::Kill { node: n(2) })], 5_000);
    for run in [&cut, &killed] {
        assert!(
            matches!(reconnects(run), Outcome::NotApplicable { .. }),
            "{:?}",
            reconnects(run)
        );
    }
    // The safety checks still pass: the network did what it was told.
    assert_eq!(judge(&MessageAccounting, &cut, &cut.trace), Outcome::Pass);
    assert_eq!(
        judge(&NetworkRespectsFaults::default(), &cut, &cut.trace),
        Outcome::Pass
    );
}

#[test]
fn mesh_reconnects_passes_once_the_same_partition_is_healed() {
    let groups = vec![vec![n(1), n(3)], vec![n(2), n(4)]];
    let run = ping_mesh(
        22,
        4,
        vec![
            at(1_000, FaultOp::Partition { groups }),
            at(2_000, FaultOp::Heal),
        ],
        5_000,
    );
    assert_eq!(reconnects(&run), Outcome::Pass);
}

#[test]
fn mesh_reconnects_is_not_applicable_when_the_run_ends_before_its_bound() {
    let groups = vec![vec![n(1)], vec![n(2)]];
    let run = ping_mesh(
        24,
        2,
        vec![
            at(1_000, FaultOp::Partition { groups }),
            at(1_500, FaultOp::Heal),
        ],
        2_500,
    );
    assert!(
        matches!(reconnects(&run), Outcome::NotApplicable { .. }),
        "{:?}",
        reconnects(&run)
    );
}
