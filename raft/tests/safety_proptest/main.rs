//! Raft safety under random schedules: a proptest over the public `RawNode` API.
//!
//! A self-contained cluster harness drives 3 to 7 nodes through random schedules of steps:
//! tick one node or all, deliver an in-flight message (the oldest or any, so out of order),
//! drop or duplicate one, propose on a random node (redirected once on `NotLeader`), make a
//! node campaign, handle a node's `Ready` now, later, or asynchronously (take it, keep
//! stepping the node, complete the write in a later step, as a driver waiting for fsync
//! does), crash a node (optionally right after persisting a `Ready` but before sending
//! it), restart it from its disk, partition the cluster into two groups or heal it, and
//! compact a node's log (so lagging followers get snapshots).
//!
//! Each node's "disk" is exactly what the `Ready` contract says to persist: the hard state,
//! the entries (replacing stored entries at the same or later indexes) and the snapshot
//! (replacing the whole log), plus snapshots from `compact`. A crash drops the `RawNode`
//! with everything it had not persisted; messages it already sent stay in flight. A restart
//! builds a new `RawNode` from the persisted `InitialState`. The application is a running
//! digest of the entries applied; snapshots carry that digest, so an installed snapshot is
//! checked against what other nodes applied at the same index.
//!
//! After every step the harness checks (Raft paper, Figure 3, and `SCENARIOS.md`):
//!
//! - **election safety**: at most one leader per term, over the whole run;
//! - **leader append-only**: a leader never removes or rewrites entries while it leads;
//! - **log matching**: for every pair of logs (live nodes in memory, crashed nodes on
//!   disk), if the entries at an index have the same term, all earlier entries are equal;
//! - **state machine safety**: no two nodes ever apply different entries (or install
//!   snapshots of different states) at the same index, and each node applies in order;
//! - **leader completeness**: an entry applied anywhere by a node in term `t` is in the log
//!   (or under the snapshot) of every leader of a term above `t` when it is elected;
//! - **term and vote never go back**: no node, within a life or across a restart, hands
//!   out a hard state with a lower term, or another vote in the same term, than the one it
//!   had when it last sent messages (what the world may rely on).
//!
//! Then a liveness phase: heal, restart every crashed node, run lockstep rounds (tick all,
//! deliver everything), and require a leader and that a fresh proposal commits.
//!
//! Every check can fail: unit tests feed each checker a bad history, and a fixed,
//! deterministic search over the same schedules finds a violation for each planted bug
//! (`vote_without_log_check`, `quorum_of_reachable`, `truncate_committed`, the driver bug
//! `forget-vote-on-restart`); `commit_old_term` (Raft Figure 8) needs a targeted schedule,
//! and `fixed_election_timeout` fails the liveness phase.
//!
//! Proptest runs from fixed seeds (ChaCha) without failure persistence, so every run of the
//! suite sees the same cases.
//!
//! `compact_while_a_leader_snapshot_is_pending_returns_that_snapshot`, at the end, pins a
//! panic in `RawNode::compact` found while writing this harness (now fixed).
//!
//! # Files
//!
//! `schedule.rs` draws the cases, `cluster.rs` runs them on the harness, `properties.rs`
//! judges what happened, `app.rs` is the replicated application; the property tests and
//! the planted bugs they must catch are here.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};
use raft::{
    Config, Entry, EntryKind, HardState, InitialState, LogIndex, Message, Mutants, RawNode, Term,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::NodeId;

mod app;
mod cluster;
mod properties;
mod schedule;

use crate::cluster::{panic_message, run_case, Opts, Stats};
use crate::properties::{
    check_append_only, check_log_matching, check_term_vote, History, Property, Violation,
};
use crate::schedule::{
    case_strategy, proptest_config, Case, Step, LONG_SAFETY_CASES, MAX_NODES, MUTANT_SEARCH_BUDGET,
    SAFETY_CASES,
};

// ----- the property tests -----

fn run_property(name: &str, cases: u32, seed: u64, strategy: BoxedStrategy<Case>) {
    let totals = RefCell::new(Stats::default());
    let opts = Opts {
        liveness: true,
        ..Opts::default()
    };
    let mut runner = TestRunner::new(proptest_config(cases, seed));
    let result = runner.run(&strategy, |case| {
        let stats = run_case(&case, opts).map_err(|v| TestCaseError::fail(v.to_string()))?;
        totals.borrow_mut().add(&stats);
        Ok(())
    });
    if let Err(e) = result {
        match e {
            TestError::Fail(reason, case) => {
                panic!("{name}: {reason}\nminimal failing case: {case:?}")
            }
            TestError::Abort(reason) => panic!("{name}: aborted: {reason}"),
        }
    }
    let t = totals.into_inner();
    println!("{name}: {t:#?}");
    // The schedules must exercise what the properties are about.
    assert!(t.leaders_elected >= t.cases, "{name}: too few elections");
    assert!(t.entries_applied > 10 * t.cases, "{name}: too few commits");
    assert!(
        t.snapshots_installed > 0,
        "{name}: no snapshot was ever sent"
    );
    assert!(
        t.crashes_mid_ready > 0 && t.restarts > 0,
        "{name}: no crashes"
    );
}

/// Clusters of 3 to 7 nodes, schedules of 100 to 400 steps.
#[test]
fn safety_under_random_schedules() {
    run_property(
        "safety_under_random_schedules",
        SAFETY_CASES,
        0x5afe_7e57,
        case_strategy(3..=MAX_NODES, 400),
    );
}

/// Small clusters and longer schedules (300 to 1,200 steps): deeper logs, more terms.
#[test]
fn safety_under_long_schedules_small_clusters() {
    run_property(
        "safety_under_long_schedules_small_clusters",
        LONG_SAFETY_CASES,
        0x10_6e57,
        case_strategy(3..=4, 1_200),
    );
}

// ----- every check can fail: planted bugs -----

/// Removes steps while `still_fails` holds: first everything after the violating step, then
/// single steps from the end. Deterministic; at most `budget` runs.
fn shrink(
    case: &Case,
    v: &Violation,
    budget: usize,
    still_fails: impl Fn(&Case) -> Option<Violation>,
) -> (Case, Violation) {
    let mut best = (case.clone(), v.clone());
    if let Some(s) = v.step {
        let mut c = case.clone();
        c.steps.truncate(s + 1);
        if let Some(v) = still_fails(&c) {
            best = (c, v);
        }
    }
    let mut runs = 0;
    let mut changed = true;
    while changed && runs < budget {
        changed = false;
        let mut i = best.0.steps.len();
        while i > 0 && runs < budget {
            i -= 1;
            let mut c = best.0.clone();
            c.steps.remove(i);
            runs += 1;
            if let Some(v) = still_fails(&c) {
                if let Some(s) = v.step {
                    c.steps.truncate(s + 1);
                }
                i = i.min(c.steps.len());
                best = (c, v);
                changed = true;
            }
        }
    }
    best
}

/// Searches a fixed budget of generated cases (deterministic seed) for one that violates a
/// property accepted by `wanted`; shrinks and prints it.
fn find_violation(
    name: &str,
    opts: Opts,
    strategy: BoxedStrategy<Case>,
    seed: u64,
    budget: u32,
    wanted: impl Fn(Property) -> bool,
) -> (Case, Violation) {
    let mut runner = TestRunner::new(proptest_config(budget, seed));
    let mut other: BTreeMap<Property, u32> = BTreeMap::new();
    for n in 0..budget {
        let case = strategy
            .new_tree(&mut runner)
            .expect("the strategy never rejects")
            .current();
        match run_case(&case, opts) {
            Ok(_) => {}
            Err(v) if wanted(v.property) => {
                let (case, v) = shrink(&case, &v, 400, |c| {
                    run_case(c, opts).err().filter(|w| w.property == v.property)
                });
                println!(
                    "{name}: found after {} case(s) (other outcomes: {other:?}): {v}\n\
                     shrunk schedule ({} steps): {case:?}",
                    n + 1,
                    case.steps.len()
                );
                return (case, v);
            }
            Err(v) => *other.entry(v.property).or_default() += 1,
        }
    }
    panic!("{name}: no violation in {budget} cases (other outcomes: {other:?})");
}

fn safety_mutant_search(name: &str, mutants: Mutants, seed: u64, budget: u32) -> Violation {
    let opts = Opts {
        mutants,
        liveness: true,
        ..Opts::default()
    };
    let (_, v) = find_violation(
        name,
        opts,
        case_strategy(3..=MAX_NODES, 400),
        seed,
        budget,
        Property::is_safety,
    );
    assert!(v.property.is_safety());
    v
}

#[test]
fn vote_without_log_check_mutant_is_caught() {
    safety_mutant_search(
        "vote_without_log_check",
        Mutants {
            vote_without_log_check: true,
            ..Mutants::default()
        },
        0xbad_0001,
        MUTANT_SEARCH_BUDGET,
    );
}

/// Raft Figure 8 on 3 nodes, as a targeted schedule: random search (5,000 cases of the
/// schedules above, and more) never produced the three-term interleaving this bug needs.
///
/// 1 leads term 2 with a noop at index 2 that no one else gets; 2 leads term 3 with a noop
/// at index 2 that no one else gets; 1 leads term 4 and replicates its term-2 entry (only:
/// one entry per message) to 3, a majority, but not its term-4 noop; then 1 is cut off
/// and crashes, and 2 wins term 5 with 3's vote (its last term 3 beats 3's last term 2).
/// The correct core never commits index 2 in term 4; with the bug, 1 applies 2/2 and 2
/// later applies 3/2 at the same index.
fn figure_8_schedule() -> Case {
    use Step::*;
    let only_1 = 0b001; // 1 | 2, 3
    let only_2 = 0b010; // 2 | 1, 3
    Case {
        nodes: 3,
        seed: 8,
        pre_vote: false,
        check_quorum: false,
        max_entries_per_msg: 1,
        max_inflight_msgs: 256,
        steps: vec![
            // Term 2: 1 wins with 2's vote; its appends are lost.
            Campaign { node: 0 },
            DeliverOldest { count: 1 },
            Drop { pick: 0 },
            DeliverOldest { count: 1 },
            Partition { mask: only_1 },
            DeliverOldest { count: 23 },
            Crash {
                node: 0,
                mid_ready: false,
            },
            // Term 3: 2 wins with 3's vote; its appends are lost.
            Campaign { node: 1 },
            DeliverOldest { count: 3 },
            Partition { mask: only_2 },
            DeliverOldest { count: 23 },
            Crash {
                node: 1,
                mid_ready: false,
            },
            // Term 4: 1 is back and wins with 3's vote (after a lost try in term 3); index 2
            // reaches 3, and 1 hears the ack.
            Restart { node: 0 },
            Campaign { node: 0 },
            DeliverOldest { count: 23 },
            Campaign { node: 0 },
            DeliverOldest { count: 8 },
            Partition { mask: only_1 },
            Crash {
                node: 0,
                mid_ready: false,
            },
            // Term 5: 2 is back and wins with 3's vote (after a lost try in term 4).
            Restart { node: 1 },
            Campaign { node: 1 },
            DeliverOldest { count: 23 },
            Campaign { node: 1 },
            DeliverOldest { count: 23 },
        ],
    }
}

#[test]
fn commit_old_term_mutant_is_caught() {
    let case = figure_8_schedule();
    let opts = |mutants| Opts {
        mutants,
        liveness: true,
        ..Opts::default()
    };
    let healthy = run_case(&case, opts(Mutants::default()));
    assert!(
        healthy.is_ok(),
        "the correct core is safe here: {:?}",
        healthy.err()
    );
    let bug = Mutants {
        commit_old_term: true,
        ..Mutants::default()
    };
    let v = run_case(&case, opts(bug)).expect_err("Figure 8");
    println!("commit_old_term (targeted Figure 8 schedule): {v}");
    assert!(v.property.is_safety(), "{v}");
}

#[test]
fn quorum_of_reachable_mutant_is_caught() {
    safety_mutant_search(
        "quorum_of_reachable",
        Mutants {
            quorum_of_reachable: true,
            ..Mutants::default()
        },
        0xbad_0003,
        MUTANT_SEARCH_BUDGET,
    );
}

/// Not asked for, but it is one of the core's planted bugs and the same search finds it.
#[test]
fn truncate_committed_mutant_is_caught() {
    safety_mutant_search(
        "truncate_committed",
        Mutants {
            truncate_committed: true,
            ..Mutants::default()
        },
        0xbad_0005,
        MUTANT_SEARCH_BUDGET,
    );
}

/// The driver bug of `SCENARIOS.md`: the vote is never made durable, so a restarted node
/// can vote again in the same term.
#[test]
fn forget_vote_on_restart_driver_bug_is_caught() {
    let opts = Opts {
        forget_vote_on_restart: true,
        liveness: true,
        ..Opts::default()
    };
    let (_, v) = find_violation(
        "forget_vote_on_restart",
        opts,
        case_strategy(3..=MAX_NODES, 400),
        0xbad_0004,
        MUTANT_SEARCH_BUDGET,
        |p| p == Property::TermVoteNeverBack,
    );
    assert_eq!(v.property, Property::TermVoteNeverBack);
}

/// `fixed_election_timeout` with pre-vote off: nodes that start together time out together
/// in lockstep rounds and split the vote forever. A targeted (empty) schedule, because a
/// random schedule desynchronizes the nodes' timers, which is exactly what randomization
/// is for.
#[test]
fn fixed_election_timeout_mutant_fails_liveness() {
    let case = Case {
        nodes: 3,
        seed: 1,
        pre_vote: false,
        check_quorum: true,
        max_entries_per_msg: 64,
        max_inflight_msgs: 256,
        steps: Vec::new(),
    };
    let opts = |mutants| Opts {
        mutants,
        liveness: true,
        ..Opts::default()
    };
    let healthy = run_case(&case, opts(Mutants::default()));
    assert!(healthy.is_ok(), "{:?}", healthy.err());
    let fixed = Mutants {
        fixed_election_timeout: true,
        ..Mutants::default()
    };
    let v = run_case(&case, opts(fixed)).expect_err("split votes repeat forever");
    println!("fixed_election_timeout: {v}");
    assert_eq!(v.property, Property::Liveness);
}

/// The liveness check fails when no quorum can form: 4 nodes split 2/2 and never healed.
#[test]
fn liveness_check_fails_without_a_quorum() {
    let case = Case {
        nodes: 4,
        seed: 3,
        pre_vote: true,
        check_quorum: true,
        max_entries_per_msg: 64,
        max_inflight_msgs: 256,
        steps: vec![Step::Partition { mask: 0b0011 }],
    };
    let opts = Opts {
        liveness: true,
        keep_partition: true,
        ..Opts::default()
    };
    let v = run_case(&case, opts).expect_err("no side has a quorum");
    assert_eq!(v.property, Property::Liveness, "{v}");
    let healed = Opts {
        keep_partition: false,
        ..opts
    };
    assert!(run_case(&case, healed).is_ok());
}

// ----- every check can fail: bad histories fed to the checkers -----

fn entry(term: u64, index: u64, data: &str) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        kind: EntryKind::Normal(data.as_bytes().to_vec()),
    }
}

#[test]
fn election_safety_check_rejects_two_leaders_in_a_term() {
    let mut h = History::default();
    assert_eq!(h.observe_leader(NodeId(1), Term(2)), Ok(true));
    assert_eq!(h.observe_leader(NodeId(1), Term(2)), Ok(false));
    assert_eq!(h.observe_leader(NodeId(2), Term(3)), Ok(true));
    assert!(h.observe_leader(NodeId(3), Term(2)).is_err());
}

#[test]
fn log_matching_check_rejects_equal_terms_over_different_prefixes() {
    let a = [entry(1, 2, "x"), entry(2, 3, "y"), entry(3, 4, "z")];
    let b = [entry(1, 2, "x"), entry(2, 3, "y"), entry(4, 4, "w")];
    assert!(check_log_matching((NodeId(1), &a), (NodeId(2), &b)).is_ok());
    // After compaction the logs start at different indexes; only the overlap is compared.
    assert!(check_log_matching((NodeId(1), &a[1..]), (NodeId(2), &b)).is_ok());
    let c = [entry(1, 2, "DIFFERENT"), entry(2, 3, "y")];
    let err = check_log_matching((NodeId(1), &a), (NodeId(3), &c));
    assert!(err.is_err(), "same term at 3, different entry at 2");
}

#[test]
fn state_machine_safety_check_rejects_different_entries_or_states_at_an_index() {
    let mut h = History::default();
    h.observe_apply(NodeId(1), Term(2), &entry(2, 2, "a"))
        .unwrap();
    h.observe_apply(NodeId(2), Term(3), &entry(2, 2, "a"))
        .unwrap();
    assert!(h
        .observe_apply(NodeId(3), Term(3), &entry(3, 2, "b"))
        .is_err());
    h.observe_digest(NodeId(1), LogIndex(2), 7, "applied")
        .unwrap();
    assert!(h
        .observe_digest(NodeId(2), LogIndex(2), 8, "installed")
        .is_err());
}

#[test]
fn leader_completeness_check_rejects_a_leader_missing_an_applied_entry() {
    let mut h = History::default();
    h.observe_apply(NodeId(1), Term(2), &entry(2, 2, "a"))
        .unwrap();
    let with = [entry(2, 2, "a")];
    let without = [entry(3, 2, "b")];
    assert!(h
        .check_leader_completeness(NodeId(2), Term(3), LogIndex(1), &with)
        .is_ok());
    assert!(
        h.check_leader_completeness(NodeId(2), Term(3), LogIndex(2), &[])
            .is_ok(),
        "covered by the snapshot"
    );
    assert!(
        h.check_leader_completeness(NodeId(2), Term(2), LogIndex(1), &without)
            .is_ok(),
        "a leader of the same term need not have it"
    );
    assert!(h
        .check_leader_completeness(NodeId(2), Term(3), LogIndex(1), &without)
        .is_err());
    assert!(h
        .check_leader_completeness(NodeId(2), Term(3), LogIndex(1), &[])
        .is_err());
}

#[test]
fn append_only_check_rejects_a_leader_rewriting_its_log() {
    let before = [(LogIndex(2), Term(2)), (LogIndex(3), Term(3))];
    let now = [entry(2, 2, "a"), entry(3, 3, "b"), entry(3, 4, "c")];
    assert!(check_append_only(NodeId(1), &before, &now, LogIndex(4)).is_ok());
    let rewritten = [entry(2, 2, "a"), entry(4, 3, "b")];
    assert!(check_append_only(NodeId(1), &before, &rewritten, LogIndex(3)).is_err());
    assert!(check_append_only(NodeId(1), &before, &now[..1], LogIndex(2)).is_err());
}

#[test]
fn term_vote_check_rejects_going_back() {
    let hs = |term, vote: Option<u32>| HardState {
        term: Term(term),
        vote: vote.map(NodeId),
        commit: LogIndex(1),
    };
    let id = NodeId(1);
    assert!(check_term_vote(id, &hs(2, None), &hs(2, Some(3)), "t").is_ok());
    assert!(check_term_vote(id, &hs(2, Some(3)), &hs(3, None), "t").is_ok());
    assert!(check_term_vote(id, &hs(2, Some(3)), &hs(2, None), "t").is_err());
    assert!(check_term_vote(id, &hs(2, Some(3)), &hs(2, Some(2)), "t").is_err());
    assert!(check_term_vote(id, &hs(3, None), &hs(2, None), "t").is_err());
}

// ----- a core bug found while writing this harness -----

/// CORE BUG (fails on purpose until the core is fixed): `RawNode::compact` panics with
/// "applied entry must be in the log" (`RaftLog::compact`, `core/log.rs`) when the node has
/// received a snapshot from the leader that the application has not installed yet: either
/// the `InstallSnapshot` was stepped and no `ready` was taken since, or the `Ready` that
/// carries it is still being written (taken, not yet advanced). `RaftLog::restore` already
/// replaced the log with the snapshot, while `applied` still points below it, so
/// `term(applied)` is `None`. Nothing in the `Ready` contract or in `RawNode::compact`'s
/// documentation forbids compacting then, and a driver that compacts on a timer while a
/// write is in flight (the sim-core driver waits for fsync with the node still live) will
/// hit it. The random schedules above compact only between `Ready`s and so stay clear.
#[test]
fn compact_while_a_leader_snapshot_is_pending_returns_that_snapshot() {
    let voters: Vec<NodeId> = (1..=3).map(NodeId).collect();
    let boot = InitialState::bootstrap(voters.iter().copied());
    let mut snapshot = boot.snapshot.clone();
    snapshot.meta.index = LogIndex(7);
    snapshot.meta.term = Term(2);
    snapshot.data = b"state at 7".to_vec();
    let install = Message {
        from: NodeId(1),
        to: NodeId(3),
        term: Term(2),
        kind: raft::MessageKind::InstallSnapshot { snapshot },
    };
    let attempt = |take_ready: bool| {
        catch_unwind(AssertUnwindSafe(|| {
            let mut node = RawNode::new(
                Config::new(NodeId(3)),
                boot.clone(),
                ChaCha8Rng::seed_from_u64(3),
            )
            .expect("valid config");
            node.step(install.clone());
            // With `take_ready`, the Ready holding the snapshot is being written.
            let _writing = take_ready.then(|| node.ready());
            node.compact(b"state at 1".to_vec()).meta.index
        }))
        .map_err(|p| panic_message(&*p))
    };
    let before_ready = attempt(false);
    let while_writing = attempt(true);
    assert_eq!(before_ready, Ok(LogIndex(7)));
    assert_eq!(while_writing, Ok(LogIndex(7)));
    assert!(
        before_ready.is_ok() && while_writing.is_ok(),
        "RawNode::compact panics while a leader's snapshot is pending:\n  \
         stepped, no ready yet: {before_ready:?}\n  ready taken, not advanced: {while_writing:?}"
    );
}
