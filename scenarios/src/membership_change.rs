//! `membership-change`: a loaded 3-node etcd cluster grows to 5 and shrinks again, one
//! change at a time, as an operator does it with `etcdctl member add --learner`, `member
//! promote` and `member remove`.
//!
//! n4 and n5 run from the start, outside the cluster: they boot knowing the founders'
//! configuration, which does not include them, so they never campaign (only voters do,
//! `promotable()`). The operator (client node 0) adds n4 as a learner, promotes it, then
//! n5 the same way, then removes one founder (the leader, a follower, or none: `remove`).
//! Each change goes to the leader, which proposes it and answers once it has applied it;
//! the operator waits `change_gap_ms` before the next. The core refuses a second change
//! while one is unapplied, so any two successive majorities overlap (Raft thesis §4.1).
//! A learner catches up through AppendEntries (or a snapshot) before it votes.
//!
//! Removing the leader: it applies its own removal and steps down; the followers may not
//! have learned the removal is committed, elect a new leader within an election timeout or
//! two, which commits it. Removing a follower: it may never learn it was removed, times
//! out and pre-votes; the members, hearing from their leader, refuse (check-quorum lease),
//! so it does not disrupt them. `membership.json` has every change (proposed and applied
//! times, configuration before and after, leader and term around it), the removed node's
//! refused campaigns, and the commit index over time.
//!
//! Checks: the Raft safety set (`commit-needs-majority` counts the voters of the
//! configuration in force on the committing leader), `one-change-at-a-time`, the story
//! `membership-changed` (a member recorded the final configuration) and, needing it,
//! `membership-converges` (`membership_story.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::core::ConfChange;
/// A configuration, as `membership.json` and [`MembershipConverges`] have it.
pub use raft::driver::Membership;
use raft::events::RaftEvent;

pub use crate::membership_story::{FinalShape, MembershipChanged, MembershipConverges};
use raft::driver::ConfChangeError;
use raft::etcd::workload::run_kv_client;
use raft::etcd::EtcdClient;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, Directory, EventKind, Evidence, FaultSchedule, NodeId, Outcome, RunView,
    SimTime, TraceEvent,
};

use crate::raft_world::{judge, leader_at, leader_periods, ms, ClusterConfig};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// Which founding member the last change removes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Removal {
    /// The leader at the time (it steps down once it applies its removal).
    #[default]
    Leader,
    /// A founding follower.
    Follower,
    /// Nobody: the cluster ends with every node.
    None,
}

/// The membership-change scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MembershipChangeConfig {
    /// The cluster: `nodes` counts every Raft node, founders and joiners (5); the first
    /// `operators` clients are operators, the others run the key-value load (2).
    pub cluster: ClusterConfig,
    /// The founding voters n1..n<founders>; the other Raft nodes join.
    pub founders: usize,
    /// Operators working at once (clients 0..operators), each adding and promoting its
    /// share of the joiners: with 2 they race, and the leader's one-change-at-a-time
    /// guard refuses whichever change comes second until the first is applied (the
    /// refusals are in `membership.json`).
    pub operators: usize,
    /// Which founder to remove at the end.
    pub remove: Removal,
    /// The operator starts this long into the run, milliseconds.
    pub first_change_at_ms: u64,
    /// The operator waits this long after a change is applied before the next,
    /// milliseconds (a learner needs it to catch up before it is promoted).
    pub change_gap_ms: u64,
    /// The operator retries a refused or unanswered change after this long, milliseconds.
    pub retry_ms: u64,
    /// The operator gives up on a change after this long, milliseconds.
    pub change_timeout_ms: u64,
    /// Every final member must hold the final configuration, and a leader commit in it,
    /// within this long after the last change is applied, milliseconds.
    pub converge_bound_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
}

impl Default for MembershipChangeConfig {
    fn default() -> Self {
        MembershipChangeConfig {
            cluster: ClusterConfig {
                nodes: 5,
                clients: 3,
                ..ClusterConfig::default()
            },
            founders: 3,
            operators: 1,
            remove: Removal::Leader,
            first_change_at_ms: 3_000,
            change_gap_ms: 1_500,
            retry_ms: 300,
            change_timeout_ms: 10_000,
            converge_bound_ms: 5_000,
            duration_ms: 25_000,
        }
    }
}

impl MembershipChangeConfig {
    fn joiners(&self) -> Vec<NodeId> {
        self.cluster.servers()[self.founders..].to_vec()
    }

    fn planned_changes(&self) -> usize {
        2 * (self.cluster.nodes - self.founders) + usize::from(self.remove != Removal::None)
    }
}

impl ScenarioConfig for MembershipChangeConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        c.cluster.validate(2)?;
        let bad = |m: String| Err(ScenarioError::Config(m));
        if c.founders == 0 || c.founders >= c.cluster.nodes {
            return bad(format!(
                "founders = {} must be at least 1 and below cluster.nodes = {} (the rest join)",
                c.founders, c.cluster.nodes
            ));
        }
        if c.remove == Removal::Follower && c.founders < 2 {
            return bad("remove = \"follower\" needs at least 2 founders".into());
        }
        let joiners = c.cluster.nodes - c.founders;
        if c.operators == 0 || c.operators > joiners {
            return bad(format!(
                "operators = {} must be between 1 and the number of joiners ({joiners})",
                c.operators
            ));
        }
        if c.cluster.clients <= c.operators {
            return bad(format!(
                "cluster.clients = {} but this story needs {} operator(s) and at least one loaded client",
                c.cluster.clients, c.operators
            ));
        }
        if c.retry_ms == 0 || c.change_timeout_ms == 0 || c.converge_bound_ms == 0 {
            return bad(
                "retry_ms, change_timeout_ms and converge_bound_ms must be more than zero".into(),
            );
        }
        let first = 2 * c.cluster.election_timeout_ms();
        if c.first_change_at_ms < first {
            return bad(format!(
                "first_change_at_ms = {} must leave time for the first election (at least {first})",
                c.first_change_at_ms
            ));
        }
        let changes = c.planned_changes() as u64;
        let needed = c.first_change_at_ms
            + changes * (c.change_gap_ms + 1_000)
            + c.converge_bound_ms
            + 2_000;
        if c.duration_ms < needed {
            return bad(format!(
                "duration_ms = {} is too short for {changes} changes and the convergence bound (at least {needed})",
                c.duration_ms
            ));
        }
        Ok(c)
    }
}

/// One change as the operator saw it, for `membership.json`.
#[derive(Clone, Debug, Serialize)]
struct ChangeRecord {
    change: String,
    /// First asked.
    proposed_ms: f64,
    /// Answered as applied (or found in force after an unanswered attempt).
    applied_ms: Option<f64>,
    /// Asks, including retries after refusals and silences.
    attempts: u32,
    /// Log index and term of the change entry (unknown when found in force).
    index: Option<u64>,
    term: Option<u64>,
    /// The leader that answered.
    applied_by: Option<NodeId>,
    before: Membership,
    after: Option<Membership>,
    /// Refusals, e.g. another change still pending.
    refusals: Vec<String>,
    /// Filled in after the run from the trace.
    leader_before: Option<(NodeId, u64)>,
    leader_after: Option<(NodeId, u64)>,
}

/// `membership.json`.
#[derive(Debug, Default, Serialize)]
struct Story {
    founders: Vec<NodeId>,
    joiners: Vec<NodeId>,
    removed: Option<NodeId>,
    changes: Vec<ChangeRecord>,
    /// The operator did every change.
    completed: bool,
    final_membership: Option<Membership>,
    /// Leadership periods: node, term, from, to.
    leaders: Vec<(NodeId, u64, f64, Option<f64>)>,
    /// Pre-votes and votes the removed node asked for after its removal, and how many
    /// were granted (a disruption would show here).
    removed_node_vote_requests: usize,
    removed_node_votes_granted: usize,
    /// The highest commit index of any node, sampled every 100 ms: `[t_ms, index]`.
    commit_progress: Vec<(f64, u64)>,
    /// The configuration the operators last learned of.
    #[serde(skip)]
    known: Membership,
    /// The leader that applied the latest change.
    #[serde(skip)]
    last_leader: Option<NodeId>,
    /// Operators that finished their part.
    #[serde(skip)]
    operators_done: usize,
    /// An operator gave up on a change.
    #[serde(skip)]
    gave_up: bool,
}

type Shared = Arc<Mutex<Story>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Story> {
    shared
        .lock()
        .expect("the story lock is never held across a panic")
}

/// `add-learner n4`: a change with the trace's node names.
fn describe(change: ConfChange) -> String {
    match change {
        ConfChange::AddLearner(n) => format!("add-learner {n}"),
        ConfChange::Promote(n) => format!("promote {n}"),
        ConfChange::Remove(n) => format!("remove {n}"),
    }
}

/// Whether `membership` already has `change` in force.
fn in_force(change: ConfChange, membership: &Membership) -> bool {
    let has = |list: &[NodeId], n: NodeId| list.contains(&n);
    match change {
        ConfChange::AddLearner(n) => has(&membership.voters, n) || has(&membership.learners, n),
        ConfChange::Promote(n) => has(&membership.voters, n),
        ConfChange::Remove(n) => !has(&membership.voters, n) && !has(&membership.learners, n),
    }
}

/// Asks for `change` until it is applied, refused as already in force, or the operator
/// gives up; records it. Returns whether it took effect.
async fn make_change(
    client: &mut EtcdClient,
    shared: &Shared,
    c: &MembershipChangeConfig,
    change: ConfChange,
) -> bool {
    let started = client.ctx().now();
    let give_up = started.after(Duration::from_millis(c.change_timeout_ms));
    let mut record = ChangeRecord {
        change: describe(change),
        proposed_ms: ms(started),
        applied_ms: None,
        attempts: 0,
        index: None,
        term: None,
        applied_by: None,
        before: lock(shared).known.clone(),
        after: None,
        refusals: vec![],
        leader_before: None,
        leader_after: None,
    };
    while client.ctx().now() < give_up && record.after.is_none() {
        record.attempts += 1;
        match client.session().conf_change(change).await {
            Ok(answer) => {
                record.applied_ms = Some(ms(client.ctx().now()));
                record.index = Some(answer.index);
                record.term = Some(answer.term);
                record.applied_by = Some(answer.from);
                record.after = Some(answer.output);
                lock(shared).last_leader = Some(answer.from);
            }
            Err(ConfChangeError::Refused { reason, membership }) => {
                if in_force(change, &membership) {
                    // An earlier attempt that timed out did take effect.
                    record.applied_ms = Some(ms(client.ctx().now()));
                    record.after = Some(membership);
                } else {
                    // Another change is pending (another operator's), or this one makes
                    // no sense yet: ask again shortly.
                    record.refusals.push(reason);
                    client
                        .session()
                        .sleep(Duration::from_millis(c.retry_ms))
                        .await;
                }
            }
            Err(ConfChangeError::Timeout) => {
                client
                    .session()
                    .sleep(Duration::from_millis(c.retry_ms))
                    .await;
            }
        }
    }
    let mut story = lock(shared);
    let done = record.after.clone();
    story.changes.push(record);
    match done {
        Some(after) => {
            story.known = after;
            true
        }
        None => {
            story.gave_up = true;
            false
        }
    }
}

/// Operator `k` of `c.operators`: adds and promotes every `operators`-th joiner from the
/// `k`-th, waiting `change_gap_ms` after each change; operator 0 then removes a founder,
/// once the others are done.
async fn operator(mut client: EtcdClient, shared: Shared, c: MembershipChangeConfig, k: usize) {
    let session = client.session();
    session
        .sleep(Duration::from_millis(c.first_change_at_ms))
        .await;
    let gap = Duration::from_millis(c.change_gap_ms);
    let mine: Vec<NodeId> = c
        .joiners()
        .into_iter()
        .skip(k)
        .step_by(c.operators)
        .collect();
    for joiner in mine {
        for change in [ConfChange::AddLearner(joiner), ConfChange::Promote(joiner)] {
            if !make_change(&mut client, &shared, &c, change).await {
                return; // gave up: `membership-changed` is not reached
            }
            client.session().sleep(gap).await;
        }
    }
    if k == 0 && c.remove != Removal::None {
        // The removal comes last: wait for the other operators.
        while lock(&shared).operators_done + 1 < c.operators {
            if lock(&shared).gave_up {
                return;
            }
            client
                .session()
                .sleep(Duration::from_millis(c.retry_ms))
                .await;
        }
        let founders: Vec<NodeId> = c.cluster.servers()[..c.founders].to_vec();
        // Who to remove is decided now: the leader that applied the last change.
        let leader = lock(&shared).last_leader.unwrap_or(founders[0]);
        let target = match c.remove {
            Removal::Leader => leader,
            _ => founders
                .iter()
                .copied()
                .find(|f| *f != leader)
                .unwrap_or(founders[0]),
        };
        lock(&shared).removed = Some(target);
        if !make_change(&mut client, &shared, &c, ConfChange::Remove(target)).await {
            return;
        }
    }
    let mut story = lock(&shared);
    story.operators_done += 1;
    if story.operators_done == c.operators && !story.gave_up {
        story.completed = true;
        story.final_membership = Some(story.known.clone());
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct MembershipChange;

impl Scenario for MembershipChange {
    type Config = MembershipChangeConfig;

    fn name(&self) -> &'static str {
        "membership-change"
    }

    fn summary(&self) -> &'static str {
        "a loaded 3-node cluster adds two learners, promotes them one change at a time, then removes a founder; no two majorities, and it converges"
    }

    fn directory(&self, config: &MembershipChangeConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &MembershipChangeConfig) -> FaultSchedule {
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &["concurrent-conf-change"]
    }

    fn run(
        &self,
        input: &RunInput<'_, MembershipChangeConfig>,
    ) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let shared: Shared = Arc::default();
        {
            let mut story = lock(&shared);
            story.founders = config.cluster.servers()[..config.founders].to_vec();
            story.joiners = config.joiners();
            story.known = Membership {
                voters: story.founders.clone(),
                learners: vec![],
            };
        }
        let (script_shared, c) = (shared.clone(), config.clone());
        let duration = SimTime::from_ms(config.duration_ms);
        let out = config.cluster.run_with_founders(
            config.founders,
            input.seed,
            input.mutants,
            input.faults,
            move |client, i| {
                let (shared, c) = (script_shared.clone(), c.clone());
                async move {
                    if i < c.operators {
                        operator(client, shared, c, i).await;
                    } else {
                        run_kv_client(client, c.cluster.client.clone()).await;
                    }
                }
            },
            |world| async move { world.sleep_until(duration).await },
        )?;
        let mut story = std::mem::take(&mut *lock(&shared));
        let events = &out.trace.events;
        let after_ms = config.cluster.election_timeout_ms();
        for record in &mut story.changes {
            let at = |t: f64| SimTime((t * 1000.0) as u64);
            record.leader_before = leader_at(events, at(record.proposed_ms));
            record.leader_after = record
                .applied_ms
                .and_then(|t| leader_at(events, at(t).after(Duration::from_millis(after_ms))));
        }
        story.leaders = leader_periods(events)
            .into_iter()
            .map(|(n, term, from, to)| (n, term, ms(from), to.map(ms)))
            .collect();
        let removed_at = story
            .changes
            .last()
            .filter(|_| story.removed.is_some())
            .and_then(|r| r.applied_ms);
        if let (Some(removed), Some(t)) = (story.removed, removed_at) {
            let since = SimTime((t * 1000.0) as u64);
            let (asked, granted) = removed_campaigns(events, removed, since);
            story.removed_node_vote_requests = asked;
            story.removed_node_votes_granted = granted;
        }
        story.commit_progress = commit_progress(events, out.trace.events.last().map(|e| e.t_us));
        let shape = FinalShape {
            founders: story.founders.clone(),
            joiners: story.joiners.clone(),
            remove: config.remove,
        };
        let changed = MembershipChanged(shape.clone());
        let converges = MembershipConverges {
            shape,
            bound_ms: config.converge_bound_ms,
        };
        let verdict = judge(&out, None, &[&OneChangeAtATime, &changed, &converges]);
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![(
                "membership.json".into(),
                serde_json::to_vec_pretty(&story).expect("data serializes"),
            )],
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}

/// Vote requests the removed node sent after `since`, and the grants it got.
fn removed_campaigns(events: &[TraceEvent], removed: NodeId, since: SimTime) -> (usize, usize) {
    let mut asked = 0;
    let mut granted = 0;
    for e in events.iter().filter(|e| e.t_us >= since) {
        match (e.layer::<RaftEvent>(), &e.kind) {
            (_, EventKind::Send { kind, .. })
                if e.node == Some(removed) && (kind == "pre-vote" || kind == "request-vote") =>
            {
                asked += 1;
            }
            (
                Some(RaftEvent::Vote {
                    candidate,
                    refused: None,
                    ..
                }),
                _,
            ) if *candidate == removed => granted += 1,
            _ => {}
        }
    }
    (asked, granted)
}

/// The highest commit index of any node every 100 ms.
fn commit_progress(events: &[TraceEvent], end: Option<SimTime>) -> Vec<(f64, u64)> {
    let end = end.unwrap_or(SimTime::ZERO);
    let mut samples = Vec::new();
    let mut highest = 0;
    let mut next = SimTime::ZERO;
    let mut iter = events.iter().peekable();
    while next <= end {
        while let Some(e) = iter.next_if(|e| e.t_us <= next) {
            if let Some(RaftEvent::Commit { index, .. }) = e.layer::<RaftEvent>() {
                highest = highest.max(*index);
            }
        }
        samples.push((ms(next), highest));
        next = next.after(Duration::from_millis(100));
    }
    samples
}

/// A proposed membership change: (index, term).
fn proposal(event: &TraceEvent) -> Option<(u64, u64)> {
    match event.layer::<RaftEvent>()? {
        RaftEvent::ConfChangeProposed { index, term, .. } => Some((*index, *term)),
        _ => None,
    }
}

/// `one-change-at-a-time` (safety): no node proposes a membership change while an
/// earlier one is in its log unapplied. Two changes in flight at once could let the old
/// and the new configuration each form a majority without overlapping (Raft thesis §4.1).
///
/// Judged from the trace: the driver notes every proposal with its index and term; a
/// node's log holds an earlier change if the node proposed it itself or has it durably
/// (`log-append`); it applied it once it applies that index.
#[derive(Clone, Copy, Debug, Default)]
pub struct OneChangeAtATime;

impl Check for OneChangeAtATime {
    fn name(&self) -> &'static str {
        "one-change-at-a-time"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        // Changes proposed so far: (index, term) -> the note.
        let mut changes: Vec<(u64, u64, &TraceEvent)> = Vec::new();
        let mut applied: std::collections::BTreeMap<NodeId, u64> = Default::default();
        // Entries each node holds durably: index -> term (latest append wins).
        let mut logs: std::collections::BTreeMap<NodeId, std::collections::BTreeMap<u64, u64>> =
            Default::default();
        for event in &run.trace.events {
            let Some(node) = event.node else { continue };
            match (event.layer::<RaftEvent>(), &event.kind) {
                (Some(RaftEvent::Apply { index, .. }), _) => {
                    applied.insert(node, *index);
                }
                (Some(RaftEvent::Snapshot { index, .. }), _) => {
                    let a = applied.entry(node).or_insert(0);
                    *a = (*a).max(*index);
                }
                (_, EventKind::NodeCrash { .. }) => {
                    applied.remove(&node);
                }
                (Some(RaftEvent::LogAppend { entries }), _) => {
                    let log = logs.entry(node).or_default();
                    if let Some(first) = entries.first() {
                        log.split_off(&first.index);
                    }
                    for e in entries {
                        log.insert(e.index, e.term);
                    }
                }
                (Some(RaftEvent::ConfChangeProposed { .. }), _) => {
                    let Some((index, term)) = proposal(event) else {
                        continue;
                    };
                    let done = applied.get(&node).copied().unwrap_or(0);
                    let log = logs.get(&node);
                    let pending = changes.iter().find(|(i, t, by)| {
                        *i < index
                            && *i > done
                            && (log.is_some_and(|l| l.get(i) == Some(t))
                                || (by.node == Some(node) && *t == term))
                    });
                    if let Some((i, t, earlier)) = pending {
                        return Outcome::violation(
                            format!(
                                "{node} proposed a membership change at {index}/{term} while the change at {i}/{t} was not applied (applied up to {done})"
                            ),
                            vec![
                                Evidence::event(earlier, "earlier change"),
                                Evidence::event(event, "second change while it was pending"),
                            ],
                        );
                    }
                    changes.push((index, term, event));
                }
                _ => {}
            }
        }
        Outcome::Pass
    }
}
