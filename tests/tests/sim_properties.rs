//! Properties of fault schedules and of sim-core under arbitrary ones.
//!
//! (a) Every valid schedule survives `to_toml` / `from_toml` unchanged, so a shrunk failing
//! run can always be written out and replayed. (b) No schedule, however silly (resuming a
//! running node, restarting a live one, killing a dead one, power failures over kills),
//! panics sim-core, and the network's own checks pass on every such run.
//!
//! Proptest runs from a fixed seed, so the cases are the same on every run of the suite.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed};

use sim_core::checks::{MessageAccounting, NetworkRespectsFaults};
use sim_core::demo::{ping_node, MeshReconnects, PingConfig};
use sim_core::{
    Check, EventKind, FaultOp, FaultSchedule, NodeId, Outcome, RunView, Sim, TimedFault,
};

/// Largest values a generated op may carry.
#[derive(Clone, Copy, Debug)]
struct Limits {
    at_ms: u64,
    latency_us: u64,
    stall_ms: u64,
    skew_ms: i64,
}

/// Everything a valid schedule can hold (`sim_core::fault::MAX_FAULT_VALUE`).
const TOML_LIMITS: Limits = Limits {
    at_ms: sim_core::fault::MAX_FAULT_VALUE,
    latency_us: sim_core::fault::MAX_FAULT_VALUE,
    stall_ms: sim_core::fault::MAX_FAULT_VALUE,
    skew_ms: sim_core::fault::MAX_FAULT_VALUE as i64,
};

/// A run of a few virtual seconds with faults over its first 3 s.
const RUN_LIMITS: Limits = Limits {
    at_ms: 3_000,
    latency_us: 200_000,
    stall_ms: 2_000,
    skew_ms: 10_000,
};
const RUN_MS: u64 = 4_000;

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        // Nothing written next to the sources; the fixed seed reproduces any failure.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn n(i: u32) -> NodeId {
    NodeId(i)
}

fn ids(count: usize) -> Vec<NodeId> {
    (0..count).map(NodeId::from_index).collect()
}

fn node(count: usize) -> BoxedStrategy<NodeId> {
    (0..count).prop_map(NodeId::from_index).boxed()
}

/// Two different nodes (needs two or more).
fn link(count: usize) -> BoxedStrategy<(NodeId, NodeId)> {
    (0..count, 1..count)
        .prop_map(move |(i, off)| (NodeId::from_index(i), NodeId::from_index((i + off) % count)))
        .boxed()
}

/// A latency range with min <= max.
fn latency(max_us: u64) -> BoxedStrategy<(u64, u64)> {
    (0..=max_us, 0..=max_us)
        .prop_map(|(a, b)| (a.min(b), a.max(b)))
        .boxed()
}

/// Every node exactly once, in one to `count` non-empty groups, in any order.
fn partition(count: usize) -> BoxedStrategy<Vec<Vec<NodeId>>> {
    (
        Just(ids(count)).prop_shuffle(),
        proptest::collection::vec(0..count, count),
    )
        .prop_map(|(order, labels)| {
            let mut groups: Vec<Vec<NodeId>> = Vec::new();
            let mut group_of_label: BTreeMap<usize, usize> = BTreeMap::new();
            for (node, label) in order.into_iter().zip(labels) {
                let g = *group_of_label.entry(label).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].push(node);
            }
            groups
        })
        .boxed()
}

fn probability() -> BoxedStrategy<f64> {
    prop_oneof![
        Just(0.0),
        Just(1.0),
        Just(f64::MIN_POSITIVE),
        Just(0.1 + 0.2),
        0.0..=1.0f64,
    ]
    .boxed()
}

/// Any valid op for a world of `count` nodes; every variant is reachable.
fn fault_op(count: usize, limits: Limits) -> BoxedStrategy<FaultOp> {
    let mut ops: Vec<BoxedStrategy<FaultOp>> = vec![
        partition(count)
            .prop_map(|groups| FaultOp::Partition { groups })
            .boxed(),
        node(count)
            .prop_map(|node| FaultOp::Isolate { node })
            .boxed(),
        Just(FaultOp::Heal).boxed(),
        latency(limits.latency_us)
            .prop_map(|(min_us, max_us)| FaultOp::Latency { min_us, max_us })
            .boxed(),
        // A link latency may name the same node twice (validation allows it).
        (node(count), node(count), latency(limits.latency_us))
            .prop_map(|(from, to, (min_us, max_us))| FaultOp::LinkLatency {
                from,
                to,
                min_us,
                max_us,
            })
            .boxed(),
        probability()
            .prop_map(|probability| FaultOp::Loss { probability })
            .boxed(),
        node(count).prop_map(|node| FaultOp::Kill { node }).boxed(),
        node(count)
            .prop_map(|node| FaultOp::Restart { node })
            .boxed(),
        node(count).prop_map(|node| FaultOp::Pause { node }).boxed(),
        node(count)
            .prop_map(|node| FaultOp::Resume { node })
            .boxed(),
        (
            proptest::sample::subsequence(ids(count), 1..=count).prop_shuffle(),
            any::<bool>(),
        )
            .prop_map(|(nodes, torn_write)| FaultOp::PowerFail { nodes, torn_write })
            .boxed(),
        (node(count), 1..=limits.stall_ms)
            .prop_map(|(node, duration_ms)| FaultOp::DiskStall { node, duration_ms })
            .boxed(),
        (node(count), -limits.skew_ms..=limits.skew_ms)
            .prop_map(|(node, skew_ms)| FaultOp::ClockSkew { node, skew_ms })
            .boxed(),
        Just(FaultOp::HealAll).boxed(),
    ];
    if count >= 2 {
        ops.push(
            link(count)
                .prop_map(|(from, to)| FaultOp::CutLink { from, to })
                .boxed(),
        );
        ops.push(
            link(count)
                .prop_map(|(from, to)| FaultOp::RestoreLink { from, to })
                .boxed(),
        );
    }
    Union::new(ops).boxed()
}

/// A node count in `counts` and a schedule of up to `max_ops` ops for it.
fn world_and_schedule(
    counts: std::ops::RangeInclusive<usize>,
    max_ops: usize,
    limits: Limits,
) -> BoxedStrategy<(usize, FaultSchedule)> {
    counts
        .prop_flat_map(move |count| {
            let fault = (0..=limits.at_ms, fault_op(count, limits))
                .prop_map(|(at_ms, op)| TimedFault::new(at_ms, op));
            (
                Just(count),
                proptest::collection::vec(fault, 0..=max_ops).prop_map(FaultSchedule::new),
            )
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// (a) TOML round trip
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512, 0x6b73_696d_0001))]

    #[test]
    fn valid_schedules_round_trip_through_toml_unchanged(
        (count, schedule) in world_and_schedule(1..=6, 12, TOML_LIMITS)
    ) {
        prop_assert_eq!(schedule.validate(&ids(count)), Ok(()));
        let text = schedule.to_toml();
        let back = FaultSchedule::from_toml(&text, "generated.toml");
        prop_assert_eq!(back.as_ref(), Ok(&schedule), "{}", text);
        // Exactly the same text again: the form is canonical.
        prop_assert_eq!(back.unwrap().to_toml(), text);
    }
}

/// Every variant appears in the generator's output (so the round trip covers them all).
#[test]
fn the_schedule_generator_produces_every_fault_op() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config(1, 7));
    let strategy = fault_op(4, TOML_LIMITS);
    let mut names = std::collections::BTreeSet::new();
    for _ in 0..2_000 {
        names.insert(strategy.new_tree(&mut runner).unwrap().current().name());
    }
    let all = [
        "partition",
        "isolate",
        "cut-link",
        "restore-link",
        "heal",
        "latency",
        "link-latency",
        "loss",
        "kill",
        "restart",
        "pause",
        "resume",
        "power-fail",
        "disk-stall",
        "clock-skew",
        "heal-all",
    ];
    assert_eq!(
        names,
        all.into_iter().collect::<std::collections::BTreeSet<_>>()
    );
}

/// A schedule that validates must also serialize: `at_ms` is a u64, TOML integers are i64,
/// so validation refuses times that TOML could not hold.
#[test]
fn a_valid_schedule_with_a_time_beyond_i64_max_serializes_or_is_rejected() {
    let schedule = FaultSchedule::new(vec![TimedFault::new(i64::MAX as u64 + 1, FaultOp::Heal)]);
    let verdict = schedule.validate(&ids(1));
    assert!(
        verdict
            .as_ref()
            .is_err_and(|e| e.to_string().contains("too large")),
        "{verdict:?}"
    );
    if verdict.is_ok() {
        let text = std::panic::catch_unwind(|| schedule.to_toml());
        assert!(
            text.is_ok(),
            "FaultSchedule::validate accepts at_ms = 2^63 but to_toml panics on it"
        );
        let back = FaultSchedule::from_toml(&text.unwrap(), "big.toml");
        assert_eq!(back, Ok(schedule));
    }
}

// ---------------------------------------------------------------------------------------
// (b) sim-core under arbitrary schedules
// ---------------------------------------------------------------------------------------

/// Runs the ping mesh under `schedule`; fails the case on a check that does not pass.
fn run_and_check(
    seed: u64,
    count: usize,
    schedule: FaultSchedule,
) -> Result<sim_core::RunOutput<()>, String> {
    let run = Sim::new(seed)
        .nodes(count, |ctx| ping_node(ctx, PingConfig::default()))
        .faults(schedule)
        .run(|world| async move {
            world.sleep(Duration::from_millis(RUN_MS)).await;
        })
        .map_err(|e| format!("rejected: {e}"))?;
    let view = RunView {
        seed,
        nodes: &run.nodes,
        trace: &run.trace,
        history: &run.history,
    };
    let checks: [&dyn Check; 2] = [&MessageAccounting, &NetworkRespectsFaults::default()];
    for check in checks {
        let outcome = check.check(&view);
        if outcome != Outcome::Pass {
            return Err(format!("{}: {outcome:?}", check.name()));
        }
    }
    match run.trace.events.last().map(|e| &e.kind) {
        Some(EventKind::RunEnd) => {}
        other => return Err(format!("the trace ends with {other:?}")),
    }
    Ok(run)
}

proptest! {
    #![proptest_config(config(1024, 0x6b73_696d_0002))]

    #[test]
    fn arbitrary_schedules_never_panic_and_keep_the_network_checks(
        seed in 0..1_000u64,
        (count, schedule) in world_and_schedule(1..=5, 24, RUN_LIMITS),
    ) {
        let result = run_and_check(seed, count, schedule.clone()).map(|run| run.trace.events.len());
        prop_assert!(result.is_ok(), "{:?}\n{}", result, schedule.to_toml());
    }
}

/// The silly cases, on purpose rather than by chance: every lifecycle op on a node in every
/// state, and power failures on top of kills and of one another.
#[test]
fn no_op_and_overlapping_lifecycle_ops_are_harmless() {
    let ops = [
        (100, FaultOp::Resume { node: n(1) }),  // resume a running node
        (200, FaultOp::Restart { node: n(1) }), // restart a live node
        (300, FaultOp::Kill { node: n(2) }),
        (350, FaultOp::Kill { node: n(2) }), // kill a dead node
        (
            400,
            FaultOp::PowerFail {
                nodes: vec![n(2), n(3)],
                torn_write: true,
            },
        ), // power-fail a dead node and a live one
        (
            400,
            FaultOp::PowerFail {
                nodes: vec![n(3)],
                torn_write: false,
            },
        ), // twice at once
        (500, FaultOp::Pause { node: n(2) }), // pause a dead node
        (550, FaultOp::Resume { node: n(2) }), // resume a dead node
        (600, FaultOp::Pause { node: n(1) }),
        (650, FaultOp::Pause { node: n(1) }), // pause a paused node
        (700, FaultOp::Kill { node: n(1) }),  // kill a paused node
        (750, FaultOp::Resume { node: n(1) }), // resume a killed node
        (800, FaultOp::Restart { node: n(2) }),
        (800, FaultOp::Restart { node: n(2) }), // restart twice at once
        (900, FaultOp::Pause { node: n(3) }),
        (950, FaultOp::Restart { node: n(3) }), // restart a down node that was "paused" while down
        (1_000, FaultOp::Heal),                 // heal a whole network
        (
            1_100,
            FaultOp::RestoreLink {
                from: n(1),
                to: n(2),
            },
        ), // restore an uncut link
        (1_200, FaultOp::Pause { node: n(2) }),
        (1_300, FaultOp::Restart { node: n(2) }), // restart a paused node
        (1_400, FaultOp::HealAll),                // restarts n1, which is still down
        (1_500, FaultOp::HealAll),
        (0, FaultOp::Kill { node: n(3) }), // at time zero, listed last
    ];
    let schedule = FaultSchedule::new(
        ops.into_iter()
            .map(|(at_ms, op)| TimedFault::new(at_ms, op))
            .collect(),
    );
    for seed in 0..8 {
        let run =
            run_and_check(seed, 3, schedule.clone()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let trace = &run.trace;
        let of = |node: u32, pred: &dyn Fn(&EventKind) -> bool| -> Vec<u64> {
            trace
                .of_node(n(node))
                .filter(|e| pred(&e.kind))
                .map(|e| e.t_us.as_ms())
                .collect()
        };
        let crash = |k: &EventKind| matches!(k, EventKind::NodeCrash { .. });
        let start = |k: &EventKind| matches!(k, EventKind::NodeStart { .. });
        let pause = |k: &EventKind| matches!(k, EventKind::NodePause);
        let resume = |k: &EventKind| matches!(k, EventKind::NodeResume);
        // No-ops record nothing: resuming a running or dead node, pausing a dead or paused
        // one, killing or power-failing a dead one, a second heal-all. Restarting a dead node
        // only starts it; restarting a live or paused one crashes it first (so the second
        // of two restarts at 800 ms kills the incarnation the first one started).
        assert_eq!(of(1, &resume), Vec::<u64>::new(), "seed {seed}");
        assert_eq!(of(1, &pause), [600], "seed {seed}");
        assert_eq!(of(1, &crash), [200, 700], "seed {seed}");
        assert_eq!(of(1, &start), [0, 200, 1_400], "seed {seed}");
        assert_eq!(of(2, &crash), [300, 800, 1_300], "seed {seed}");
        assert_eq!(of(2, &pause), [1_200], "seed {seed}");
        assert_eq!(of(2, &start), [0, 800, 800, 1_300], "seed {seed}");
        assert_eq!(of(3, &crash), [0], "seed {seed}");
        assert_eq!(of(3, &start), [0, 950], "seed {seed}");
        // After the final heal-all every node is up and the mesh reconnects.
        let view = RunView {
            seed,
            nodes: &run.nodes,
            trace,
            history: &run.history,
        };
        assert_eq!(
            MeshReconnects { bound_ms: 2_000 }.check(&view),
            Outcome::Pass,
            "seed {seed}"
        );
    }
}
