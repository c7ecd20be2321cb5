//! The checks of a partition story, judged on the run that happened.
//!
//! The driver scripts a partition around the leader (its [`Story`]), but a `--faults` file
//! or `cluster.chaos` may heal it early, re-partition differently, kill or pause a node of
//! the majority, or add loss. So every check here reads from the trace
//! ([`FaultTimeline`]) when the story's sides were really sealed off from each other, when
//! a side was really healthy, and when the cluster was really whole again, and judges only
//! those stretches:
//!
//! - Sometimes `partition-cut-the-cluster`: the leader's side was sealed off from the other
//!   servers at some moment after the partition was applied.
//! - Sometimes `majority-healthy-while-cut-off`: a majority side was sealed off and healthy
//!   (its servers and clients up, unpaused, unstalled, talking to each other, no loss) for
//!   the whole liveness bound.
//! - Sometimes `new-leader-inside-partition`: the majority side elected a leader of a term
//!   above the old leader's while sealed off (the story; not a precondition of any check).
//! - Sometimes `partition-healed`: after the partition the whole cluster was whole and
//!   healthy for the bound.
//! - Always `no-progress-without-quorum` (needs the cut), Eventually
//!   `majority-keeps-committing` (needs the healthy majority), Eventually `*-catches-up` /
//!   `sides-reconcile` (need the heal).

use std::collections::BTreeMap;
use std::time::Duration;

use raft::checks::NodeLog;
use raft::core::Role;
use raft::events::{EntryDigest, RaftEvent};
use sim_core::{
    Check, CheckKind, EventKind, Evidence, FaultTimeline, NodeId, Outcome, RunView, SimTime,
    TraceEvent,
};

use super::partition::Story;
use super::read::{
    acked_writes, commit_indexes, logs_at, majority_held_index, node_list, terms_led,
};

/// The Sometimes check that the partition sealed the leader's side off.
pub(crate) const CUT: &str = "partition-cut-the-cluster";
/// The Sometimes check that a majority side was sealed off and healthy for the bound.
pub(crate) const MAJORITY_HEALTHY: &str = "majority-healthy-while-cut-off";
/// The Sometimes check that the whole cluster was whole and healthy for the bound after
/// the partition.
pub(crate) const HEALED: &str = "partition-healed";
/// The Sometimes check that the majority side elected a new leader while cut off.
pub(crate) const NEW_LEADER: &str = "new-leader-inside-partition";

/// What the partition checks need to know of the story and the cluster.
#[derive(Clone, Debug)]
pub(crate) struct PartitionFacts {
    /// Every voter.
    pub voters: Vec<NodeId>,
    /// The servers and clients of each side, the old leader's side first; `None` if no
    /// leader was elected to partition around.
    pub sides: Option<Vec<(Vec<NodeId>, Vec<NodeId>)>>,
    /// When the driver applied the partition.
    pub partitioned_at: SimTime,
    /// The old leader's term (the majority's leader must lead a later one).
    pub old_term: u64,
    /// The liveness bound, milliseconds.
    pub bound_ms: u64,
}

impl PartitionFacts {
    /// The facts of a driver's story.
    pub fn of(story: Option<&Story>, voters: Vec<NodeId>, bound_ms: u64) -> Self {
        PartitionFacts {
            voters,
            sides: story.map(Story::sides_with_clients),
            partitioned_at: story.map_or(SimTime::ZERO, |s| s.partitioned_at),
            old_term: story.map_or(0, |s| s.term),
            bound_ms,
        }
    }

    /// The old leader's side's servers.
    fn leader_side(&self) -> Option<&[NodeId]> {
        self.sides.as_ref().map(|s| s[0].0.as_slice())
    }

    /// The side holding a majority of the voters, with its clients.
    pub fn majority_side(&self) -> Option<&(Vec<NodeId>, Vec<NodeId>)> {
        self.sides
            .as_ref()?
            .iter()
            .find(|(s, _)| 2 * s.len() > self.voters.len())
    }

    /// The stretches in which `side` was sealed off from the other voters, from the
    /// partition on.
    fn sealed(&self, timeline: &FaultTimeline, side: &[NodeId]) -> Vec<(SimTime, SimTime)> {
        timeline
            .windows(|s| s.sealed(side, &self.voters))
            .into_iter()
            .filter(|(_, until)| *until > self.partitioned_at)
            .map(|(from, until)| (from.max(self.partitioned_at), until))
            .collect()
    }

    /// The first stretch of the bound in which the majority side was sealed off and healthy.
    fn majority_window(&self, timeline: &FaultTimeline) -> Option<(SimTime, SimTime)> {
        let (servers, clients) = self.majority_side()?;
        let group: Vec<NodeId> = servers.iter().chain(clients).copied().collect();
        timeline.first_window(self.partitioned_at, self.bound_ms, |s| {
            s.sealed(servers, &self.voters) && s.group_healthy(&group)
        })
    }

    /// The first stretch of the bound, after the leader's side was first cut off, in which
    /// every voter was healthy and talked to every other: the partition really healed.
    fn heal_window(&self, timeline: &FaultTimeline) -> Option<(SimTime, SimTime)> {
        let side = self.leader_side()?;
        let (_, cut_until) = *self.sealed(timeline, side).first()?;
        timeline.first_window(cut_until, self.bound_ms, |s| s.group_healthy(&self.voters))
    }
}

/// A Sometimes check of a partition story.
#[derive(Clone, Debug)]
pub(crate) struct PartitionStory {
    /// Which story: [`CUT`], [`MAJORITY_HEALTHY`], [`HEALED`] or [`NEW_LEADER`].
    pub name: &'static str,
    /// The facts.
    pub facts: PartitionFacts,
}

impl PartitionStory {
    /// The Sometimes checks `names` of one story.
    pub fn each(names: &[&'static str], facts: &PartitionFacts) -> Vec<PartitionStory> {
        names
            .iter()
            .map(|name| PartitionStory {
                name,
                facts: facts.clone(),
            })
            .collect()
    }
}

impl Check for PartitionStory {
    fn name(&self) -> &'static str {
        self.name
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let f = &self.facts;
        let Some(side) = f.leader_side() else {
            return Outcome::not_reached("no leader was elected in time to partition around");
        };
        let timeline = FaultTimeline::of(run.trace);
        let reached = match self.name {
            CUT => !f.sealed(&timeline, side).is_empty(),
            MAJORITY_HEALTHY => f.majority_window(&timeline).is_some(),
            HEALED => f.heal_window(&timeline).is_some(),
            NEW_LEADER => f.majority_side().is_some_and(|(servers, _)| {
                f.sealed(&timeline, servers).iter().any(|(from, until)| {
                    terms_led(&run.trace.events, servers, *from, *until)
                        .iter()
                        .any(|t| *t > f.old_term)
                })
            }),
            other => unreachable!("no partition story called {other}"),
        };
        if reached {
            return Outcome::Pass;
        }
        Outcome::not_reached(match self.name {
            CUT => format!(
                "the side {{{}}} was never sealed off from the other servers",
                node_list(side)
            ),
            MAJORITY_HEALTHY => format!(
                "no majority side was sealed off and healthy for the bound ({} ms)",
                f.bound_ms
            ),
            HEALED => format!(
                "the cluster was never whole and healthy for the bound ({} ms) after the partition",
                f.bound_ms
            ),
            _ => format!(
                "no server of the majority side led a term above {} while it was cut off",
                f.old_term
            ),
        })
    }
}

/// `no-progress-without-quorum`: while a side that holds no majority of the voters is
/// sealed off from the others, it commits nothing new, and no client is told a write
/// succeeded in a term that side led. "New" is anything past the highest index a majority
/// held durably when the seal began: no commit can go beyond it without the other side, as
/// no message crosses a seal. This is Raft's quorum rule seen from outside, and what the
/// planted bug `quorum-of-reachable` breaks.
#[derive(Clone, Debug)]
pub(crate) struct NoProgressWithoutQuorum {
    /// The facts.
    pub facts: PartitionFacts,
}

impl Check for NoProgressWithoutQuorum {
    fn name(&self) -> &'static str {
        "no-progress-without-quorum"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn needs(&self) -> &[&'static str] {
        &[CUT]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let f = &self.facts;
        let Some(sides) = &f.sides else {
            return Outcome::not_applicable("no partition");
        };
        let timeline = FaultTimeline::of(run.trace);
        for (side, _) in sides {
            if 2 * side.len() > f.voters.len() {
                continue;
            }
            for (from, until) in f.sealed(&timeline, side) {
                if let Some(violation) = progress_while_sealed(run, f, side, from, until) {
                    return violation;
                }
            }
        }
        Outcome::Pass
    }
}

/// A commit or an acknowledged write past the majority-held index on `side`, sealed off
/// during `[from, until)`.
fn progress_while_sealed(
    run: &RunView<'_>,
    f: &PartitionFacts,
    side: &[NodeId],
    from: SimTime,
    until: SimTime,
) -> Option<Outcome> {
    let events = &run.trace.events;
    let held = majority_held_index(events, &f.voters, from);
    let during = |t: SimTime| t >= from && t < until;
    for e in events.iter().filter(|e| during(e.t_us)) {
        if let (Some(node), Some(RaftEvent::Commit { index, term })) =
            (e.node, e.layer::<RaftEvent>())
        {
            if side.contains(&node) && *index > held {
                return Some(Outcome::violation(
                    format!(
                        "{node}, on the side {{{}}} without a quorum of the {} voters, committed \
                         index {index} (term {term}) while sealed off from the others \
                         ({from} to {until}); a majority held only up to index {held} when \
                         the seal began",
                        node_list(side),
                        f.voters.len()
                    ),
                    vec![Evidence::event(e, "a commit without a quorum")],
                ));
            }
        }
    }
    let terms = terms_led(events, side, from, until);
    for (ack, index, term) in acked_writes(run.history) {
        if during(ack.t_us) && index > held && terms.contains(&term) {
            return Some(Outcome::violation(
                format!(
                    "{} was told its write succeeded at index {index} in term {term}, led by \
                     the side {{{}}} without a quorum, while it was sealed off",
                    ack.client,
                    node_list(side)
                ),
                vec![Evidence {
                    event: None,
                    t_us: Some(ack.t_us),
                    node: Some(ack.client),
                    note: format!("write acknowledged at index {index}, term {term}"),
                }],
            ));
        }
    }
    None
}

/// `majority-keeps-committing` (liveness): within the bound of the moment a majority side
/// is sealed off and healthy, a leader of a term above the old leader's on that side
/// commits an entry of its own term past what a majority held then; and, if that side has
/// clients, one of them is told a write succeeded in such a term while the side stays so.
#[derive(Clone, Debug)]
pub(crate) struct MajorityKeepsCommitting {
    /// The facts.
    pub facts: PartitionFacts,
}

impl Check for MajorityKeepsCommitting {
    fn name(&self) -> &'static str {
        "majority-keeps-committing"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[MAJORITY_HEALTHY]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let f = &self.facts;
        let timeline = FaultTimeline::of(run.trace);
        let (Some((servers, clients)), Some((from, until))) =
            (f.majority_side(), f.majority_window(&timeline))
        else {
            return Outcome::not_applicable("no majority side was sealed off and healthy");
        };
        let events = &run.trace.events;
        let held = majority_held_index(events, &f.voters, from);
        let deadline = from.after(Duration::from_millis(f.bound_ms));
        let mut leading: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut committed = None;
        for e in events.iter().take_while(|e| e.t_us <= deadline) {
            let Some(node) = e.node else { continue };
            match (e.layer::<RaftEvent>(), &e.kind) {
                (Some(RaftEvent::Role { role, term, .. }), _) => {
                    if *role == Role::Leader {
                        leading.insert(node, *term);
                    } else {
                        leading.remove(&node);
                    }
                }
                (_, EventKind::NodeCrash { .. }) => {
                    leading.remove(&node);
                }
                (Some(RaftEvent::Commit { index, term }), _)
                    if e.t_us >= from
                        && servers.contains(&node)
                        && *index > held
                        && *term > f.old_term
                        && leading.get(&node) == Some(term) =>
                {
                    committed = Some((node, *term, e));
                    break;
                }
                _ => {}
            }
        }
        let Some((leader, term, commit)) = committed else {
            return Outcome::violation(
                format!(
                    "no leader of a term above {} on the majority side {{{}}} committed past \
                     index {held} within {} ms of {from}, when the side was sealed off and \
                     healthy",
                    f.old_term,
                    node_list(servers),
                    f.bound_ms
                ),
                vec![Evidence::note(format!("bound {} ms", f.bound_ms))],
            );
        };
        let acked = acked_writes(run.history).any(|(ack, index, t)| {
            clients.contains(&ack.client)
                && ack.t_us >= from
                && ack.t_us < until
                && index > held
                && t > f.old_term
        });
        if !clients.is_empty() && !acked {
            return Outcome::violation(
                format!(
                    "the majority side's leader {leader} (term {term}) commits, but none of its \
                     clients ({}) was told a write succeeded before {until}",
                    node_list(clients)
                ),
                vec![Evidence::event(commit, "the majority's first new commit")],
            );
        }
        Outcome::Pass
    }
}

/// `minority-catches-up` / `sides-reconcile` (liveness): by the bound after the cluster is
/// really whole and healthy again, each of `nodes` has a commit index at least the highest
/// any of `reference` had `lag_ms` earlier (so at least what they had at the heal: the node
/// is current again, not merely where the others were when it came back); and it no longer
/// holds any entry that it held at the heal and that no node ever applied in the whole run
/// (an entry appended on a side without a quorum and never committed: Raft must replace it
/// with the leader's).
#[derive(Clone, Debug)]
pub(crate) struct CatchesUp {
    /// The check's name.
    pub name: &'static str,
    /// The nodes that must catch up.
    pub nodes: Vec<NodeId>,
    /// Whose commit index is the target.
    pub reference: Vec<NodeId>,
    /// How far behind the reference a node may be at the bound, milliseconds (at most the
    /// bound).
    pub lag_ms: u64,
    /// The facts.
    pub facts: PartitionFacts,
}

/// Entries `log` holds past its snapshot that no node ever applied in the run.
pub(crate) fn never_applied(log: &NodeLog, events: &[TraceEvent]) -> Vec<(u64, u64, EntryDigest)> {
    let applied: std::collections::BTreeSet<(u64, u64, EntryDigest)> = events
        .iter()
        .filter_map(|e| match e.layer::<RaftEvent>() {
            Some(RaftEvent::Apply {
                index,
                term,
                digest,
            }) => Some((*index, *term, *digest)),
            _ => None,
        })
        .collect();
    log.entries
        .iter()
        .filter(|(i, (t, d))| !applied.contains(&(**i, *t, *d)))
        .map(|(i, (t, d))| (*i, *t, *d))
        .collect()
}

/// When the partition really healed and the bound after it, for the checks that start
/// their bound there; not applicable if it never healed for the bound.
pub(crate) fn heal_bound(
    facts: &PartitionFacts,
    run: &RunView<'_>,
) -> Result<(SimTime, SimTime), Outcome> {
    let (healed, _) = facts
        .heal_window(&FaultTimeline::of(run.trace))
        .ok_or_else(|| Outcome::not_applicable("the partition never healed for the bound"))?;
    Ok((healed, healed.after(Duration::from_millis(facts.bound_ms))))
}

impl Check for CatchesUp {
    fn name(&self) -> &'static str {
        self.name
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[HEALED]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let (healed, deadline) = match heal_bound(&self.facts, run) {
            Ok(bound) => bound,
            Err(not_applicable) => return not_applicable,
        };
        let bound_ms = self.facts.bound_ms;
        let events = &run.trace.events;
        let target_at = SimTime(deadline.as_us() - self.lag_ms.min(bound_ms) * 1000);
        let target = commit_indexes(events, &self.reference, target_at)
            .values()
            .copied()
            .max()
            .unwrap_or(0);
        let at_end = commit_indexes(events, &self.nodes, deadline);
        let (logs_healed, logs_end) = (logs_at(events, healed), logs_at(events, deadline));
        for node in &self.nodes {
            let commit = at_end.get(node).copied().unwrap_or(0);
            if commit < target {
                return Outcome::violation(
                    format!(
                        "{node} reached commit index {commit} by {deadline} ({bound_ms} ms after \
                         the cluster was whole again), short of the {target} the others had at \
                         {target_at}"
                    ),
                    vec![Evidence::note(format!("healed at {healed}"))],
                );
            }
            let now = logs_end.of(*node);
            for (index, term, digest) in never_applied(&logs_healed.of(*node), events) {
                if now.entries.get(&index) == Some(&(term, digest)) {
                    return Outcome::violation(
                        format!(
                            "{node} still holds the uncommitted entry {index}@term {term} it had \
                             at the heal, {bound_ms} ms later"
                        ),
                        vec![Evidence::note(format!("healed at {healed}"))],
                    );
                }
            }
        }
        Outcome::Pass
    }
}
