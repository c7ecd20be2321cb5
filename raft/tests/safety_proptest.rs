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
//! # Why one file of this size
//!
//! The harness (cluster, disks, schedule strategy, shrinkable steps) and the properties it
//! checks are one proptest: an integration test is one crate, and splitting it would need a
//! shared support module for a single user. It is over 800 lines for that reason; the
//! harness could move to `tests/support/` if a second Raft proptest appears.

use std::cell::RefCell;
use std::collections::btree_map::Entry as MapEntry;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner,
};
use raft::{
    Config, Entry, EntryKind, HardState, InitialState, LogIndex, Message, Mutants, ProposeError,
    RawNode, Ready, Role, Snapshot, Term,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::NodeId;

// ----- schedules -----

/// Largest cluster a case uses.
const MAX_NODES: usize = 7;
/// Messages in flight beyond this are lost, oldest first (a bounded network buffer).
const MAX_IN_FLIGHT: usize = 400;
/// Election timeout in ticks (randomized in `[5, 10)`); heartbeats every tick.
const ELECTION_TICK: u64 = 5;
/// Liveness: lockstep rounds to elect a leader, then to commit a proposal.
const LIVENESS_ROUNDS: usize = 150;
/// Liveness: deliveries per round before the round gives up (a livelock guard).
const MAX_DELIVERIES_PER_ROUND: usize = 20_000;
/// Cases of each property test (each case is one cluster, one schedule, one liveness
/// phase; a few milliseconds each in the test profile).
const SAFETY_CASES: u32 = 4_000;
const LONG_SAFETY_CASES: u32 = 800;
/// Cases each planted-bug search may try before giving up.
const MUTANT_SEARCH_BUDGET: u32 = 1_000;

/// What happens to a node's `Ready` right after a step that touched it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    /// Handle it now (persist, send, apply, advance).
    Handle,
    /// Take it and start writing it; the node keeps stepping until the write completes.
    Write,
    /// Leave it in the core for a later step.
    Leave,
}

/// One step of a schedule. Node numbers and picks are taken modulo what exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
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
struct Case {
    nodes: usize,
    seed: u64,
    pre_vote: bool,
    check_quorum: bool,
    max_entries_per_msg: usize,
    max_inflight_msgs: usize,
    steps: Vec<Step>,
}

fn step_strategy() -> impl Strategy<Value = Step> {
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

fn case_strategy(nodes: std::ops::RangeInclusive<usize>, steps: usize) -> BoxedStrategy<Case> {
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

fn proptest_config(cases: u32, seed: u64) -> ProptestConfig {
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

// ----- properties and violations -----

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Property {
    ElectionSafety,
    LeaderAppendOnly,
    LogMatching,
    StateMachineSafety,
    LeaderCompleteness,
    TermVoteNeverBack,
    /// The core handed out a `Ready` that cannot be persisted as the contract says.
    ReadyContract,
    Liveness,
    /// The core (or the harness) panicked, e.g. on one of the core's own safety asserts.
    Panic,
}

impl Property {
    fn is_safety(self) -> bool {
        !matches!(self, Property::Liveness | Property::Panic)
    }
}

#[derive(Clone, Debug)]
struct Violation {
    property: Property,
    /// The schedule step after which it was seen; `None` in the liveness phase.
    step: Option<usize>,
    detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(s) => write!(f, "{:?} at step {s}: {}", self.property, self.detail),
            None => write!(
                f,
                "{:?} in the liveness phase: {}",
                self.property, self.detail
            ),
        }
    }
}

type Res = Result<(), Violation>;

fn violation(property: Property, detail: String) -> Violation {
    Violation {
        property,
        step: None,
        detail,
    }
}

fn tag(property: Property) -> impl FnOnce(String) -> Violation {
    move |detail| violation(property, detail)
}

/// What every node ever did that the properties talk about.
#[derive(Debug, Default)]
struct History {
    /// The leader of each term seen.
    leaders: BTreeMap<Term, NodeId>,
    /// The first entry applied at each index, who applied it, and the lowest term any node
    /// was in when applying it (it was committed in that term or earlier).
    applied: BTreeMap<LogIndex, Applied>,
    /// The application digest after each index, and who reached it first.
    digests: BTreeMap<LogIndex, (u64, NodeId)>,
}

#[derive(Clone, Debug)]
struct Applied {
    entry: Entry,
    by: NodeId,
    term_bound: Term,
}

impl History {
    /// Records that `id` leads in `term`; returns whether that is news.
    fn observe_leader(&mut self, id: NodeId, term: Term) -> Result<bool, String> {
        match self.leaders.entry(term) {
            MapEntry::Vacant(v) => {
                v.insert(id);
                Ok(true)
            }
            MapEntry::Occupied(o) if *o.get() == id => Ok(false),
            MapEntry::Occupied(o) => {
                Err(format!("two leaders in term {term}: {} and {id}", o.get()))
            }
        }
    }

    fn observe_apply(&mut self, by: NodeId, term_now: Term, entry: &Entry) -> Result<(), String> {
        match self.applied.entry(entry.index) {
            MapEntry::Vacant(v) => {
                v.insert(Applied {
                    entry: entry.clone(),
                    by,
                    term_bound: term_now,
                });
                Ok(())
            }
            MapEntry::Occupied(mut o) => {
                let a = o.get_mut();
                if a.entry != *entry {
                    return Err(format!(
                        "node {by} applied [{entry}] at index {} but node {} applied [{}]",
                        entry.index, a.by, a.entry
                    ));
                }
                a.term_bound = a.term_bound.min(term_now);
                Ok(())
            }
        }
    }

    fn observe_digest(
        &mut self,
        by: NodeId,
        index: LogIndex,
        digest: u64,
        how: &str,
    ) -> Result<(), String> {
        match self.digests.entry(index) {
            MapEntry::Vacant(v) => {
                v.insert((digest, by));
                Ok(())
            }
            MapEntry::Occupied(o) if o.get().0 == digest => Ok(()),
            MapEntry::Occupied(o) => Err(format!(
                "node {by} {how} a state at index {index} (digest {digest:x}) that differs from \
                 node {}'s (digest {:x})",
                o.get().1,
                o.get().0
            )),
        }
    }

    /// Every entry applied in a term below `term` must be in the new leader's log or under
    /// its snapshot.
    fn check_leader_completeness(
        &self,
        leader: NodeId,
        term: Term,
        snapshot_index: LogIndex,
        log: &[Entry],
    ) -> Result<(), String> {
        for (index, a) in self.applied.range(snapshot_index.next()..) {
            if a.term_bound >= term {
                continue;
            }
            let has = log
                .first()
                .and_then(|f| index.0.checked_sub(f.index.0))
                .and_then(|off| log.get(off as usize));
            if has != Some(&a.entry) {
                let has = has.map_or("nothing".to_string(), |e| format!("[{e}]"));
                return Err(format!(
                    "leader {leader} of term {term} has {has} at index {index}, but node {} \
                     applied [{}] there by term {}",
                    a.by, a.entry, a.term_bound
                ));
            }
        }
        Ok(())
    }
}

/// Log matching between two logs (each contiguous; they may start at different indexes
/// after compaction): below the highest index where their terms agree, they are equal.
fn check_log_matching(a: (NodeId, &[Entry]), b: (NodeId, &[Entry])) -> Result<(), String> {
    let (Some(fa), Some(fb)) = (a.1.first(), b.1.first()) else {
        return Ok(());
    };
    let lo = fa.index.0.max(fb.index.0);
    let hi = (fa.index.0 + a.1.len() as u64 - 1).min(fb.index.0 + b.1.len() as u64 - 1);
    if lo > hi {
        return Ok(());
    }
    let at = |log: &[Entry], first: u64, i: u64| log[(i - first) as usize].clone();
    let Some(top) = (lo..=hi)
        .rev()
        .find(|i| at(a.1, fa.index.0, *i).term == at(b.1, fb.index.0, *i).term)
    else {
        return Ok(());
    };
    for i in lo..=top {
        let (ea, eb) = (at(a.1, fa.index.0, i), at(b.1, fb.index.0, i));
        if ea != eb {
            return Err(format!(
                "nodes {} and {} agree on term {} at index {top} but differ at index {i}: \
                 [{ea}] vs [{eb}]",
                a.0,
                b.0,
                at(a.1, fa.index.0, top).term
            ));
        }
    }
    Ok(())
}

/// A leader's log in one term only grows: what it had (index, term) is still there.
fn check_append_only(
    id: NodeId,
    before: &[(LogIndex, Term)],
    now: &[Entry],
    now_last: LogIndex,
) -> Result<(), String> {
    if let Some((last, _)) = before.last() {
        if *last > now_last {
            return Err(format!(
                "leader {id}'s log shrank from {last} to {now_last}"
            ));
        }
    }
    let Some(first) = now.first().map(|e| e.index) else {
        return Ok(());
    };
    for (index, term) in before.iter().filter(|(i, _)| *i >= first) {
        let e = &now[(index.0 - first.0) as usize];
        if e.term != *term {
            return Err(format!(
                "leader {id} rewrote index {index} from term {term} to [{e}]"
            ));
        }
    }
    Ok(())
}

/// A node's hard state never goes back: the term never drops, and in the same term a vote
/// once cast never changes.
fn check_term_vote(
    id: NodeId,
    before: &HardState,
    now: &HardState,
    when: &str,
) -> Result<(), String> {
    let back = now.term < before.term
        || (now.term == before.term && before.vote.is_some() && now.vote != before.vote);
    if back {
        return Err(format!(
            "node {id} {when}: term/vote went from {}/{:?} back to {}/{:?}",
            before.term,
            before.vote.map(|v| v.0),
            now.term,
            now.vote.map(|v| v.0)
        ));
    }
    Ok(())
}

// ----- the application: a digest of what was applied -----

const INITIAL_DIGEST: u64 = 0xcbf2_9ce4_8422_2325;

fn mix(mut digest: u64, entry: &Entry) -> u64 {
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            digest ^= u64::from(*b);
            digest = digest.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&entry.index.0.to_le_bytes());
    eat(&entry.term.0.to_le_bytes());
    match &entry.kind {
        EntryKind::Noop => eat(&[0]),
        EntryKind::Normal(d) => {
            eat(&[1]);
            eat(d);
        }
        EntryKind::ConfChange(cc) => {
            eat(&[2]);
            eat(cc.to_string().as_bytes());
        }
    }
    digest
}

fn snapshot_digest(s: &Snapshot) -> u64 {
    match <[u8; 8]>::try_from(s.data.as_slice()) {
        Ok(b) => u64::from_le_bytes(b),
        Err(_) => INITIAL_DIGEST, // the bootstrap snapshot: nothing applied
    }
}

#[derive(Clone, Copy, Debug)]
struct App {
    applied: LogIndex,
    digest: u64,
}

impl App {
    fn from_snapshot(s: &Snapshot) -> App {
        App {
            applied: s.meta.index,
            digest: snapshot_digest(s),
        }
    }
}

// ----- the cluster harness -----

/// Switches for the harness itself: driver bugs, and liveness-phase options.
#[derive(Clone, Copy, Debug, Default)]
struct Opts {
    mutants: Mutants,
    /// Driver bug `forget-vote-on-restart`: the vote is never written to disk.
    forget_vote_on_restart: bool,
    /// Run the liveness phase after the schedule.
    liveness: bool,
    /// Liveness phase without healing the partition (to show the check can fail).
    keep_partition: bool,
}

/// Coverage counters, so a passing run shows it exercised something.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    cases: u64,
    steps: u64,
    leaders_elected: u64,
    max_term: u64,
    max_commit: u64,
    entries_applied: u64,
    proposals_accepted: u64,
    messages_delivered: u64,
    messages_lost: u64,
    crashes: u64,
    crashes_mid_ready: u64,
    readies_written_async: u64,
    restarts: u64,
    compactions: u64,
    snapshots_installed: u64,
    liveness_rounds_max: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.cases += o.cases;
        self.steps += o.steps;
        self.leaders_elected += o.leaders_elected;
        self.max_term = self.max_term.max(o.max_term);
        self.max_commit = self.max_commit.max(o.max_commit);
        self.entries_applied += o.entries_applied;
        self.proposals_accepted += o.proposals_accepted;
        self.messages_delivered += o.messages_delivered;
        self.messages_lost += o.messages_lost;
        self.crashes += o.crashes;
        self.crashes_mid_ready += o.crashes_mid_ready;
        self.readies_written_async += o.readies_written_async;
        self.restarts += o.restarts;
        self.compactions += o.compactions;
        self.snapshots_installed += o.snapshots_installed;
        self.liveness_rounds_max = self.liveness_rounds_max.max(o.liveness_rounds_max);
    }
}

struct Node {
    id: NodeId,
    raw: Option<RawNode<ChaCha8Rng>>,
    /// Exactly what the `Ready` contract made durable.
    disk: InitialState,
    app: App,
    incarnation: u64,
    /// The hard state of the latest `Ready` of this life (or the one it started from).
    last_hard_state: HardState,
    /// The hard state in effect when the node last sent messages, over all its lives.
    announced: HardState,
    /// A `Ready` taken from the core whose write has not completed yet.
    writing: Option<Ready>,
    /// While leading: the term and the (index, term) of each entry at the last check.
    leader_log: Option<(Term, Vec<(LogIndex, Term)>)>,
}

struct Cluster {
    opts: Opts,
    seed: u64,
    config: Config,
    nodes: Vec<Node>,
    in_flight: Vec<Message>,
    /// The side of each node while partitioned.
    side: Option<Vec<bool>>,
    next_proposal: u64,
    history: History,
    stats: Stats,
}

impl Cluster {
    fn new(case: &Case, opts: Opts) -> Cluster {
        let ids: Vec<NodeId> = (1..=case.nodes as u32).map(NodeId).collect();
        let mut config = Config::new(NodeId(1));
        config.election_tick = ELECTION_TICK;
        config.heartbeat_tick = 1;
        config.pre_vote = case.pre_vote;
        config.check_quorum = case.check_quorum;
        config.max_entries_per_msg = case.max_entries_per_msg;
        config.max_inflight_msgs = case.max_inflight_msgs;
        config.mutants = opts.mutants;
        let boot = InitialState::bootstrap(ids.iter().copied());
        let mut cluster = Cluster {
            opts,
            seed: case.seed,
            config,
            nodes: Vec::new(),
            in_flight: Vec::new(),
            side: None,
            next_proposal: 0,
            history: History::default(),
            stats: Stats {
                cases: 1,
                ..Stats::default()
            },
        };
        cluster
            .history
            .digests
            .insert(boot.snapshot.meta.index, (INITIAL_DIGEST, ids[0]));
        for id in ids {
            let mut node = Node {
                id,
                raw: None,
                disk: boot.clone(),
                app: App::from_snapshot(&boot.snapshot),
                incarnation: 0,
                last_hard_state: boot.hard_state,
                announced: boot.hard_state,
                writing: None,
                leader_log: None,
            };
            node.raw = Some(cluster.boot(&node));
            cluster.nodes.push(node);
        }
        cluster
    }

    fn boot(&self, node: &Node) -> RawNode<ChaCha8Rng> {
        let mut cfg = self.config.clone();
        cfg.id = node.id;
        let rng_seed = self
            .seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(u64::from(node.id.0) << 32)
            .wrapping_add(node.incarnation);
        RawNode::new(cfg, node.disk.clone(), ChaCha8Rng::seed_from_u64(rng_seed))
            .expect("the harness config is valid")
    }

    fn n(&self) -> usize {
        self.nodes.len()
    }

    fn index_of(id: NodeId) -> usize {
        (id.0 - 1) as usize
    }

    fn live(&self, i: usize) -> bool {
        self.nodes[i].raw.is_some()
    }

    fn cut(&self, from: NodeId, to: NodeId) -> bool {
        self.side
            .as_ref()
            .is_some_and(|s| s[Self::index_of(from)] != s[Self::index_of(to)])
    }

    // ----- the Ready contract -----

    /// Handles every pending `Ready` of node `i` (first completing the one being written,
    /// if any): persist, send, apply, advance.
    fn handle_ready(&mut self, i: usize) -> Res {
        loop {
            let node = &mut self.nodes[i];
            let Some(raw) = node.raw.as_mut() else {
                return Ok(());
            };
            let rd = match node.writing.take() {
                Some(rd) => rd,
                None if raw.has_ready() => raw.ready(),
                None => return Ok(()),
            };
            let raw = self.nodes[i].raw.as_ref().expect("node is live");
            let term_now = raw.status().hard_state.term;
            self.persist(i, &rd)?;
            self.send(i, &rd);
            self.apply(i, &rd, term_now)?;
            self.nodes[i]
                .raw
                .as_mut()
                .expect("node is live")
                .advance(&rd);
        }
    }

    /// Step 1 of the contract: make the snapshot, entries and hard state durable.
    fn persist(&mut self, i: usize, rd: &Ready) -> Res {
        let forget_vote = self.opts.forget_vote_on_restart;
        let node = &mut self.nodes[i];
        let disk = &mut node.disk;
        if let Some(s) = &rd.snapshot {
            // A snapshot from the leader replaces the whole log.
            disk.snapshot = s.clone();
            disk.entries.clear();
        }
        if let Some(first) = rd.entries.first() {
            let base = disk.snapshot.meta.index;
            let next = LogIndex(base.0 + disk.entries.len() as u64 + 1);
            if first.index <= base || first.index > next {
                return Err(violation(
                    Property::ReadyContract,
                    format!(
                        "node {} was asked to persist entries from {} but its disk holds \
                         snapshot {base} and entries up to {}",
                        node.id,
                        first.index,
                        next.prev()
                    ),
                ));
            }
            disk.entries.truncate((first.index.0 - base.0 - 1) as usize);
            disk.entries.extend(rd.entries.iter().cloned());
        }
        if let Some(hs) = rd.hard_state {
            check_term_vote(node.id, &node.last_hard_state, &hs, "in a Ready")
                .and_then(|()| check_term_vote(node.id, &node.announced, &hs, "in a Ready"))
                .map_err(tag(Property::TermVoteNeverBack))?;
            node.last_hard_state = hs;
            disk.hard_state = if forget_vote {
                HardState { vote: None, ..hs }
            } else {
                hs
            };
        }
        Ok(())
    }

    /// Step 2: send. What the node announced from now on must survive a crash.
    fn send(&mut self, i: usize, rd: &Ready) {
        if rd.messages.is_empty() {
            return;
        }
        let node = &mut self.nodes[i];
        node.announced = node.last_hard_state;
        for m in &rd.messages {
            assert_eq!(m.from, node.id, "a node sends only its own messages");
            self.in_flight.push(m.clone());
        }
        let excess = self.in_flight.len().saturating_sub(MAX_IN_FLIGHT);
        self.stats.messages_lost += excess as u64;
        self.in_flight.drain(..excess);
    }

    /// Step 3: install the snapshot, then apply the committed entries in order.
    fn apply(&mut self, i: usize, rd: &Ready, term_now: Term) -> Res {
        let node = &mut self.nodes[i];
        let id = node.id;
        if let Some(s) = &rd.snapshot {
            node.app = App::from_snapshot(s);
            self.stats.snapshots_installed += 1;
            self.history
                .observe_digest(id, s.meta.index, node.app.digest, "installed")
                .map_err(tag(Property::StateMachineSafety))?;
        }
        for e in &rd.committed_entries {
            if e.index != node.app.applied.next() {
                return Err(violation(
                    Property::StateMachineSafety,
                    format!(
                        "node {id} was asked to apply index {} after applying {}",
                        e.index, node.app.applied
                    ),
                ));
            }
            node.app.digest = mix(node.app.digest, e);
            node.app.applied = e.index;
            self.stats.entries_applied += 1;
            self.stats.max_commit = self.stats.max_commit.max(e.index.0);
            self.history
                .observe_apply(id, term_now, e)
                .map_err(tag(Property::StateMachineSafety))?;
            self.history
                .observe_digest(id, e.index, node.app.digest, "applied")
                .map_err(tag(Property::StateMachineSafety))?;
        }
        Ok(())
    }

    // ----- steps -----

    fn after(&mut self, i: usize, then: Then) -> Res {
        match then {
            Then::Handle => self.handle_ready(i),
            Then::Write => {
                self.begin_write(i);
                Ok(())
            }
            Then::Leave => Ok(()),
        }
    }

    /// Takes node `i`'s `Ready` and holds it as being written, if it has one and is not
    /// writing one already (the next `ready` must wait for `advance`).
    fn begin_write(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(raw) = node.raw.as_mut() {
            if node.writing.is_none() && raw.has_ready() {
                node.writing = Some(raw.ready());
                self.stats.readies_written_async += 1;
            }
        }
    }

    fn tick(&mut self, i: usize, then: Then) -> Res {
        if let Some(raw) = self.nodes[i].raw.as_mut() {
            raw.tick();
            self.after(i, then)?;
        }
        Ok(())
    }

    fn handle_all_readies(&mut self) -> Res {
        for i in 0..self.n() {
            self.handle_ready(i)?;
        }
        Ok(())
    }

    /// Delivers the in-flight message at `pos`, unless the link is cut or the target down.
    fn deliver(&mut self, pos: usize, then: Then) -> Res {
        let m = self.in_flight.remove(pos);
        let to = Self::index_of(m.to);
        if self.cut(m.from, m.to) || !self.live(to) {
            self.stats.messages_lost += 1;
            return Ok(());
        }
        self.stats.messages_delivered += 1;
        self.nodes[to].raw.as_mut().expect("live").step(m);
        self.after(to, then)
    }

    fn propose(&mut self, i: usize, then: Then) -> Res {
        let Some(raw) = self.nodes[i].raw.as_mut() else {
            return Ok(());
        };
        self.next_proposal += 1;
        let data = format!("v{}", self.next_proposal).into_bytes();
        let mut target = i;
        let mut result = raw.propose(data.clone());
        if let Err(ProposeError::NotLeader { leader: Some(l) }) = result {
            let j = Self::index_of(l);
            if let Some(raw) = self.nodes[j].raw.as_mut() {
                target = j;
                result = raw.propose(data);
            }
        }
        match result {
            Ok(_) => self.stats.proposals_accepted += 1,
            Err(ProposeError::NotLeader { .. }) => {}
            Err(e) => panic!("unexpected proposal error: {e}"),
        }
        self.after(target, then)
    }

    fn crash(&mut self, i: usize, mid_ready: bool) -> Res {
        let node = &mut self.nodes[i];
        let Some(raw) = node.raw.as_mut() else {
            return Ok(());
        };
        let writing = node.writing.take();
        if mid_ready {
            // The disk write completed; the process died before sending or applying.
            let rd = writing.or_else(|| raw.has_ready().then(|| raw.ready()));
            if let Some(rd) = rd {
                self.persist(i, &rd)?;
                self.stats.crashes_mid_ready += 1;
            }
        }
        let node = &mut self.nodes[i];
        node.raw = None;
        node.leader_log = None;
        self.stats.crashes += 1;
        Ok(())
    }

    fn restart(&mut self, i: usize) -> Res {
        if self.live(i) {
            self.crash(i, false)?;
        }
        self.nodes[i].incarnation += 1;
        let raw = self.boot(&self.nodes[i]);
        let node = &mut self.nodes[i];
        let hs = raw.status().hard_state;
        check_term_vote(node.id, &node.announced, &hs, "after a restart")
            .map_err(tag(Property::TermVoteNeverBack))?;
        node.last_hard_state = hs;
        node.app = App::from_snapshot(&node.disk.snapshot);
        node.raw = Some(raw);
        self.stats.restarts += 1;
        Ok(())
    }

    fn compact(&mut self, i: usize) -> Res {
        if !self.live(i) {
            return Ok(());
        }
        // Compact only between Readies, when the application is caught up with the core.
        self.handle_ready(i)?;
        let node = &mut self.nodes[i];
        let data = node.app.digest.to_le_bytes().to_vec();
        let snap = node.raw.as_mut().expect("live").compact(data);
        assert_eq!(
            snap.meta.index, node.app.applied,
            "compact snapshots the applied index"
        );
        node.disk.entries.retain(|e| e.index > snap.meta.index);
        node.disk.snapshot = snap;
        self.stats.compactions += 1;
        Ok(())
    }

    fn apply_step(&mut self, step: Step) -> Res {
        let n = self.n();
        match step {
            Step::Tick { node, then } => self.tick(node % n, then)?,
            Step::TickAll => {
                for i in 0..n {
                    self.tick(i, Then::Leave)?;
                }
                self.handle_all_readies()?;
            }
            Step::Deliver { pick, then } => {
                if !self.in_flight.is_empty() {
                    self.deliver(pick % self.in_flight.len(), then)?;
                }
            }
            Step::DeliverOldest { count } => {
                for _ in 0..count {
                    if self.in_flight.is_empty() {
                        break;
                    }
                    self.deliver(0, Then::Handle)?;
                }
            }
            Step::Drop { pick } => {
                if !self.in_flight.is_empty() {
                    self.in_flight.remove(pick % self.in_flight.len());
                    self.stats.messages_lost += 1;
                }
            }
            Step::Duplicate { pick } => {
                if !self.in_flight.is_empty() {
                    let m = self.in_flight[pick % self.in_flight.len()].clone();
                    self.in_flight.push(m);
                }
            }
            Step::Propose { node, then } => self.propose(node % n, then)?,
            Step::HandleReady { node } => self.handle_ready(node % n)?,
            Step::BeginReady { node } => self.begin_write(node % n),
            Step::Campaign { node } => {
                if let Some(raw) = self.nodes[node % n].raw.as_mut() {
                    raw.campaign();
                    self.handle_ready(node % n)?;
                }
            }
            Step::Crash { node, mid_ready } => self.crash(node % n, mid_ready)?,
            Step::Restart { node } => {
                let down: Vec<usize> = (0..n).filter(|i| !self.live(*i)).collect();
                if !down.is_empty() {
                    self.restart(down[node % down.len()])?;
                }
            }
            Step::Partition { mask } => {
                let side: Vec<bool> = (0..n).map(|i| mask & (1 << i) != 0).collect();
                let split = side.iter().any(|s| *s) && side.iter().any(|s| !*s);
                self.side = split.then_some(side);
            }
            Step::Heal => self.side = None,
            Step::Compact { node } => self.compact(node % n)?,
        }
        self.stats.steps += 1;
        Ok(())
    }

    // ----- checks after every step -----

    fn check(&mut self) -> Res {
        for i in 0..self.n() {
            let node = &mut self.nodes[i];
            let Some(raw) = node.raw.as_ref() else {
                continue;
            };
            let st = raw.status();
            self.stats.max_term = self.stats.max_term.max(st.hard_state.term.0);
            if st.role != Role::Leader {
                node.leader_log = None;
                continue;
            }
            let term = st.hard_state.term;
            let log = raw.log_entries();
            let new = self
                .history
                .observe_leader(node.id, term)
                .map_err(tag(Property::ElectionSafety))?;
            if new {
                self.stats.leaders_elected += 1;
                let snapshot_index = log.first().map_or(st.last_index, |e| e.index.prev());
                self.history
                    .check_leader_completeness(node.id, term, snapshot_index, log)
                    .map_err(tag(Property::LeaderCompleteness))?;
            }
            if let Some((t, before)) = &node.leader_log {
                if *t == term {
                    check_append_only(node.id, before, log, st.last_index)
                        .map_err(tag(Property::LeaderAppendOnly))?;
                }
            }
            node.leader_log = Some((term, log.iter().map(|e| (e.index, e.term)).collect()));
        }
        let logs: Vec<(NodeId, &[Entry])> = self
            .nodes
            .iter()
            .map(|node| match &node.raw {
                Some(raw) => (node.id, raw.log_entries()),
                None => (node.id, node.disk.entries.as_slice()),
            })
            .collect();
        for (x, a) in logs.iter().enumerate() {
            for b in &logs[x + 1..] {
                check_log_matching(*a, *b).map_err(tag(Property::LogMatching))?;
            }
        }
        Ok(())
    }

    // ----- liveness -----

    /// One lockstep round: every live node ticks, then everything in flight is delivered
    /// (and what that sends, up to a bound).
    fn round(&mut self) -> Res {
        for i in 0..self.n() {
            self.tick(i, Then::Leave)?;
        }
        self.handle_all_readies()?;
        let mut delivered = 0;
        while !self.in_flight.is_empty() && delivered < MAX_DELIVERIES_PER_ROUND {
            self.deliver(0, Then::Handle)?;
            delivered += 1;
        }
        self.check()
    }

    /// The live leader with the highest term, if any.
    fn leader(&self) -> Option<usize> {
        (0..self.n())
            .filter_map(|i| {
                let st = self.nodes[i].raw.as_ref()?.status();
                (st.role == Role::Leader).then_some((st.hard_state.term, i))
            })
            .max()
            .map(|(_, i)| i)
    }

    /// Heal (unless told not to), restart every crashed node, then require a leader and
    /// that a fresh proposal commits within a bounded number of rounds.
    fn liveness(&mut self) -> Res {
        if !self.opts.keep_partition {
            self.side = None;
        }
        for i in 0..self.n() {
            if !self.live(i) {
                self.restart(i)?;
            }
        }
        self.handle_all_readies()?;
        self.check()?;
        let data = b"liveness".to_vec();
        let mut proposed: Option<LogIndex> = None;
        for round in 0..LIVENESS_ROUNDS {
            if let Some(index) = proposed {
                let committed = self
                    .history
                    .applied
                    .get(&index)
                    .is_some_and(|a| a.entry.kind == EntryKind::Normal(data.clone()));
                if committed {
                    self.stats.liveness_rounds_max = round as u64;
                    return Ok(());
                }
            }
            if let Some(l) = self.leader() {
                // (Re)propose whenever the entry we wait for is no longer in the leader's
                // log at its index (a new leader may have replaced it).
                let raw = self.nodes[l].raw.as_mut().expect("leader is live");
                let still_there = proposed.is_some_and(|index| {
                    raw.log_entries()
                        .iter()
                        .any(|e| e.index == index && e.kind == EntryKind::Normal(data.clone()))
                });
                if !still_there {
                    proposed = Some(raw.propose(data.clone()).expect("the leader accepts"));
                }
            }
            self.round()?;
        }
        let status: Vec<String> = (0..self.n())
            .map(|i| match &self.nodes[i].raw {
                Some(raw) => {
                    let st = raw.status();
                    format!(
                        "{}:{}@{} commit={}",
                        st.id, st.role, st.hard_state.term, st.hard_state.commit
                    )
                }
                None => format!("{}:down", self.nodes[i].id),
            })
            .collect();
        Err(violation(
            Property::Liveness,
            match proposed {
                None => format!("no leader after {LIVENESS_ROUNDS} rounds: {status:?}"),
                Some(i) => format!(
                    "a proposal at index {i} did not commit in {LIVENESS_ROUNDS} rounds: \
                     {status:?}"
                ),
            },
        ))
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

fn guarded(step: Option<usize>, f: impl FnOnce() -> Res) -> Res {
    let result = catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(violation(Property::Panic, panic_message(&*p))));
    result.map_err(|mut v| {
        v.step = step;
        v
    })
}

/// Runs the schedule, checking every property after every step, then the liveness phase.
fn run_case(case: &Case, opts: Opts) -> Result<Stats, Violation> {
    let mut cluster = Cluster::new(case, opts);
    for (i, step) in case.steps.iter().enumerate() {
        guarded(Some(i), || {
            cluster.apply_step(*step)?;
            cluster.check()
        })?;
    }
    if opts.liveness {
        guarded(None, || cluster.liveness())?;
    }
    Ok(cluster.stats)
}

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
