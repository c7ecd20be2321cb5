//! Random schedules: the steps a case is made of, and the strategies that draw them.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed};

/// Largest cluster a case uses.
pub(crate) const MAX_NODES: usize = 7;
/// Messages in flight beyond this are lost, oldest first (a bounded network buffer).
pub(crate) const MAX_IN_FLIGHT: usize = 400;
/// Election timeout in ticks (randomized in `[5, 10)`); heartbeats every tick.
pub(crate) const ELECTION_TICK: u64 = 5;
/// Liveness: lockstep rounds to elect a leader, then to commit a proposal.
pub(crate) const LIVENESS_ROUNDS: usize = 150;
/// Liveness: deliveries per round before the round gives up (a livelock guard).
pub(crate) const MAX_DELIVERIES_PER_ROUND: usize = 20_000;
/// Cases of each property test (each case is one cluster, one schedule, one liveness
/// phase; a few milliseconds each in the test profile).
pub(crate) const SAFETY_CASES: u32 = 4_000;
pub(crate) const LONG_SAFETY_CASES: u32 = 800;
/// Cases each planted-bug search may try before giving up.
pub(crate) const MUTANT_SEARCH_BUDGET: u32 = 1_000;

/// What happens to a node's `Ready` right after a step that touched it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// Handle it now (persist, send, apply, advance).
    Handle,
    /// Take it and start writing it; the node keeps stepping until the write completes.
    Write,
    /// Leave it in the core for a later step.
    Leave,
}

/// One step of a schedule. Node numbers and picks are taken modulo what exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// One tick of one node.
    Tick { node: usize, then: Then },
    /// One tick of every live node, then every pending `Ready`.
    TickAll,
    /// Delivers the in-flight message at `pick % len` (any message: out of order).
    Deliver { pick: usize, then: Then },
    /// Delivers up to `count` of the oldest messages in flight, in order.
    DeliverOldest { count: usize },
    /// Loses the in-flight message at `pick % len`.
    Drop { pick: usize },
    /// Duplicates the in-flight message at `pick % len`.
    Duplicate { pick: usize },
    /// Proposes on a node; on `NotLeader` with a known live leader, retries there once.
    Propose { node: usize, then: Then },
    /// Handles every pending `Ready` of a node.
    HandleReady { node: usize },
    /// Takes a node's `Ready` and starts "writing" it: until a later step handles the
    /// node's `Ready`s (the write completes), the node keeps stepping messages and ticks
    /// between `ready` and `advance`, as an asynchronous storage driver does.
    BeginReady { node: usize },
    /// A node campaigns now, as if its election timeout had elapsed.
    Campaign { node: usize },
    /// Crashes a node. With `mid_ready`, its pending `Ready` is persisted but not sent;
    /// otherwise a `Ready` being written is lost.
    Crash { node: usize, mid_ready: bool },
    /// Restarts the `node % down`-th crashed node from its disk.
    Restart { node: usize },
    /// Splits the nodes by the bits of `mask`; messages across the split are lost.
    Partition { mask: u8 },
    /// Removes the partition.
    Heal,
    /// Snapshots a node's applied state and compacts its log.
    Compact { node: usize },
}

/// A cluster and the schedule to run on it.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) nodes: usize,
    pub(crate) seed: u64,
    pub(crate) pre_vote: bool,
    pub(crate) check_quorum: bool,
    pub(crate) max_entries_per_msg: usize,
    pub(crate) max_inflight_msgs: usize,
    pub(crate) steps: Vec<Step>,
}

pub(crate) fn step_strategy() -> impl Strategy<Value = Step> {
    let node = 0..MAX_NODES;
    let pick = 0..1024usize;
    let then = || {
        prop_oneof![
            15 => Just(Then::Handle),
            3 => Just(Then::Write),
            2 => Just(Then::Leave),
        ]
    };
    prop_oneof![
        10 => (node.clone(), then()).prop_map(|(node, then)| Step::Tick { node, then }),
        8 => Just(Step::TickAll),
        20 => (pick.clone(), then()).prop_map(|(pick, then)| Step::Deliver { pick, then }),
        12 => (1..24usize).prop_map(|count| Step::DeliverOldest { count }),
        3 => pick.clone().prop_map(|pick| Step::Drop { pick }),
        2 => pick.prop_map(|pick| Step::Duplicate { pick }),
        10 => (node.clone(), then()).prop_map(|(node, then)| Step::Propose { node, then }),
        3 => node.clone().prop_map(|node| Step::HandleReady { node }),
        2 => node.clone().prop_map(|node| Step::BeginReady { node }),
        1 => node.clone().prop_map(|node| Step::Campaign { node }),
        1 => (node.clone(), any::<bool>())
            .prop_map(|(node, mid_ready)| Step::Crash { node, mid_ready }),
        2 => node.clone().prop_map(|node| Step::Restart { node }),
        1 => any::<u8>().prop_map(|mask| Step::Partition { mask }),
        2 => Just(Step::Heal),
        2 => node.prop_map(|node| Step::Compact { node }),
    ]
}

pub(crate) fn case_strategy(
    nodes: std::ops::RangeInclusive<usize>,
    steps: usize,
) -> BoxedStrategy<Case> {
    (
        nodes,
        any::<u64>(),
        prop::bool::weighted(0.75),
        prop::bool::weighted(0.75),
        prop_oneof![Just(1usize), Just(3), Just(64)],
        prop_oneof![Just(1usize), Just(4), Just(256)],
        prop::collection::vec(step_strategy(), steps / 4..=steps),
    )
        .prop_map(
            |(
                nodes,
                seed,
                pre_vote,
                check_quorum,
                max_entries_per_msg,
                max_inflight_msgs,
                steps,
            )| Case {
                nodes,
                seed,
                pre_vote,
                check_quorum,
                max_entries_per_msg,
                max_inflight_msgs,
                steps,
            },
        )
        .boxed()
}

pub(crate) fn proptest_config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        // Nothing written next to the sources; the fixed seed reproduces any failure.
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}
