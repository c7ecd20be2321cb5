//! Same seed, same trace: the ping mesh under the seed's own fault schedule, on many seeds.
//!
//! Every seed runs twice, once in a forward pass over all seeds and once in a backward pass,
//! so that state leaking from one run into the next (a global counter, a shared rng) would
//! show as a different trace. Every run must also pass sim-core's own checks.

use std::time::Duration;

use raft::etcd::events::EtcdEvent;
use sim_core::checks::{MessageAccounting, NetworkRespectsFaults};
use sim_core::demo::{ping_node, MeshReconnects, PingConfig};
use sim_core::rng::derive_rng;
use sim_core::{
    Check, DropReason, EventKind, FaultKnobs, FaultOp, FaultSchedule, NetConfig, NodeId, Outcome,
    RunOutput, RunView, Sim, TimedFault, Trace, TraceHash,
};

/// Seeds checked.
const SEEDS: u64 = 200;
/// Virtual length of each run: the default fault window ends (with `heal-all`) at 6 s, and
/// the mesh must reconnect within 2 s of that.
const RUN_MS: u64 = 10_000;
const RECONNECT_BOUND_MS: u64 = 2_000;

/// 2 to 5 nodes, by seed.
fn node_count(seed: u64) -> usize {
    2 + (seed % 4) as usize
}

fn ids(count: usize) -> Vec<NodeId> {
    (0..count).map(NodeId::from_index).collect()
}

/// The seed's fault schedule for `count` nodes.
fn faults_for(seed: u64, count: usize) -> FaultSchedule {
    FaultKnobs::default().generate(
        &ids(count),
        NetConfig::default(),
        &mut derive_rng(seed, "faults"),
    )
}

fn run_mesh(seed: u64, count: usize, faults: FaultSchedule) -> RunOutput<()> {
    Sim::new(seed)
        .nodes(count, |ctx| ping_node(ctx, PingConfig::default()))
        .faults(faults)
        .run(|world| async move {
            world.sleep(Duration::from_millis(RUN_MS)).await;
        })
        .expect("a valid world")
}

fn run_seed(seed: u64) -> RunOutput<()> {
    let count = node_count(seed);
    run_mesh(seed, count, faults_for(seed, count))
}

/// The trace's hash with the seed in `run-start` blanked out, so that two runs compare by
/// what happened in them rather than by the seed they print.
fn hash_without_seed(trace: &Trace) -> TraceHash {
    let mut trace = trace.clone();
    for e in &mut trace.events {
        if let EventKind::RunStart { seed, .. } = &mut e.kind {
            *seed = 0;
        }
    }
    trace.hash()
}

fn check_all(run: &RunOutput<()>) -> Vec<(&'static str, Outcome)> {
    let view = RunView {
        seed: run.seed,
        nodes: &run.nodes,
        trace: &run.trace,
        history: &run.history,
    };
    let reconnects = MeshReconnects {
        bound_ms: RECONNECT_BOUND_MS,
    };
    let checks: [&dyn Check; 3] = [
        &MessageAccounting,
        &NetworkRespectsFaults::default(),
        &reconnects,
    ];
    checks.iter().map(|c| (c.name(), c.check(&view))).collect()
}

#[test]
fn every_seed_gives_the_same_trace_twice_and_passes_the_sim_core_checks() {
    let mut first: Vec<(TraceHash, Trace)> = Vec::new();
    let mut failures = Vec::new();
    for seed in 0..SEEDS {
        let run = run_seed(seed);
        // Runs long enough to judge liveness, and eventful.
        assert!(run.trace.end_time().as_ms() >= RUN_MS, "seed {seed}");
        assert!(run.trace.events.len() > 500, "seed {seed}");
        for (name, outcome) in check_all(&run) {
            if outcome != Outcome::Pass {
                failures.push(format!("seed {seed}: {name}: {outcome:?}"));
            }
        }
        first.push((run.trace.hash(), run.trace));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let mut differing = Vec::new();
    for seed in (0..SEEDS).rev() {
        let again = run_seed(seed);
        let (hash, trace) = &first[seed as usize];
        if again.trace.hash() != *hash || again.trace != *trace {
            let at = trace
                .events
                .iter()
                .zip(&again.trace.events)
                .position(|(a, b)| a != b);
            differing.push(format!(
                "seed {seed}: {hash} then {} (first difference at event {at:?})",
                again.trace.hash()
            ));
        }
    }
    assert!(differing.is_empty(), "{}", differing.join("\n"));

    // Different seeds gave different runs, not merely different seed fields.
    let mut distinct: Vec<TraceHash> = first.iter().map(|(_, t)| hash_without_seed(t)).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), SEEDS as usize);
}

#[test]
fn different_seeds_give_different_traces_even_with_the_same_schedule() {
    // No faults at all: only the seed's network latencies, ping jitter and madsim's
    // scheduling differ.
    let a = run_mesh(1, 3, FaultSchedule::default());
    let b = run_mesh(2, 3, FaultSchedule::default());
    assert_ne!(a.trace.hash(), b.trace.hash());
    assert_ne!(hash_without_seed(&a.trace), hash_without_seed(&b.trace));
    // And the same seed with the same schedule is the same again.
    let a2 = run_mesh(1, 3, FaultSchedule::default());
    assert_eq!(a.trace.hash(), a2.trace.hash());
}

#[test]
fn an_extra_fault_changes_what_happens_not_only_the_fault_record() {
    // Same seed, one schedule with an extra isolation: the world must behave differently,
    // not merely record one more fault.
    let seed = 17;
    let count = 4;
    let base = faults_for(seed, count);
    let mut more = base.clone();
    more.faults
        .push(TimedFault::new(300, FaultOp::Isolate { node: NodeId(1) }));
    more.faults.push(TimedFault::new(400, FaultOp::Heal));
    let a = run_mesh(seed, count, base);
    let b = run_mesh(seed, count, more);
    let without_faults = |trace: &Trace| -> Vec<EventKind> {
        trace
            .events
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::Fault { .. }))
            .map(|e| e.kind.clone())
            .collect()
    };
    assert_ne!(without_faults(&a.trace), without_faults(&b.trace));
    let partitioned = |trace: &Trace| {
        trace
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Drop {
                        reason: DropReason::Partitioned,
                        ..
                    }
                )
            })
            .count()
    };
    assert!(partitioned(&b.trace) > partitioned(&a.trace));
}

/// The etcd stack (MVCC store, clients, watchers, leases' ticks) under chaos replays byte
/// for byte: the same seed gives the same trace hash and the same history.
#[test]
fn etcd_runs_replay_byte_for_byte() {
    use scenarios::runner::{execute, prepare};
    use scenarios::ScenarioFile;
    let config = "[cluster]\nclients = 3\nwatchers = 1\n[cluster.chaos]\nepisodes_min = 2\nepisodes_max = 5\nwindow_start_ms = 1000\nwindow_end_ms = 9000\n";
    let mut hashes = std::collections::BTreeSet::new();
    for seed in 0..4 {
        let file = ScenarioFile {
            scenario: "leader-crash".into(),
            seed,
            config: toml::from_str(config).expect("the config parses"),
            mutants: vec![],
            faults: None,
        };
        let prepared = prepare(&file).expect("valid");
        let (a, b) = (
            execute(&prepared).expect("runs"),
            execute(&prepared).expect("runs"),
        );
        assert_eq!(a.trace.hash(), b.trace.hash(), "seed {seed}");
        assert_eq!(a.history, b.history, "seed {seed}");
        assert!(
            a.trace.events.iter().any(|e| matches!(
                e.layer::<EtcdEvent>(),
                Some(EtcdEvent::WatchDelivery { .. })
            )),
            "seed {seed}: the watcher saw nothing"
        );
        hashes.insert(a.trace.hash());
    }
    assert_eq!(hashes.len(), 4, "different seeds, different runs");
}
