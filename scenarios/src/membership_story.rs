//! `membership-change`'s story checks, judged on the configurations the trace recorded.
//!
//! The operator scripts five changes, but what the run went through is what the members
//! recorded (`membership` events): an added fault may stop the operator before its last
//! change, or move the leadership so a follower is removed instead of the leader. So the
//! story, [`MembershipChanged`], is reached only when some member recorded the final
//! configuration the story describes; [`MembershipConverges`] needs it, and starts its
//! bound when that configuration was first recorded and its members were really up and connected for good.

use std::collections::BTreeMap;
use std::time::Duration;

use raft::core::Role;
use raft::driver::Membership;
use raft::events::RaftEvent;
use sim_core::{
    Check, CheckKind, EventKind, Evidence, FaultTimeline, NodeId, Outcome, RunView, SimTime,
};

use crate::membership_change::Removal;
use crate::raft_world::leader_periods;

/// The Sometimes check's name.
pub const CHANGED: &str = "membership-changed";

/// The story's final configuration: every joiner a voter, no learner left, and the
/// founders less the one removed (the leader or a follower, as `remove` says).
#[derive(Clone, Debug, PartialEq)]
pub struct FinalShape {
    /// The founding voters.
    pub founders: Vec<NodeId>,
    /// The nodes the operator adds and promotes.
    pub joiners: Vec<NodeId>,
    /// Which founder the story removes.
    pub remove: Removal,
}

impl FinalShape {
    /// The founder this configuration removed, if it has the story's final shape: `Some(None)`
    /// when the story removes nobody, `None` when it is not the final shape.
    fn removed(&self, m: &Membership) -> Option<Option<NodeId>> {
        let joined = self.joiners.iter().all(|j| m.voters.contains(j));
        let only_ours = m
            .voters
            .iter()
            .all(|v| self.founders.contains(v) || self.joiners.contains(v));
        if !m.learners.is_empty() || !joined || !only_ours {
            return None;
        }
        let gone: Vec<NodeId> = self
            .founders
            .iter()
            .copied()
            .filter(|f| !m.voters.contains(f))
            .collect();
        match (self.remove, gone.as_slice()) {
            (Removal::None, []) => Some(None),
            (Removal::Leader | Removal::Follower, [one]) => Some(Some(*one)),
            _ => None,
        }
    }

    /// The first `membership` event of the final shape whose removal fits the story (the
    /// removed founder led the latest term begun by then, for `Removal::Leader`; it did not,
    /// for `Removal::Follower`): the configuration and when it was first recorded.
    pub fn reached(&self, run: &RunView<'_>) -> Option<(Membership, SimTime)> {
        let events = &run.trace.events;
        let periods = leader_periods(events);
        events.iter().find_map(|e| {
            let Some(RaftEvent::Membership { voters, learners }) = e.layer::<RaftEvent>() else {
                return None;
            };
            let m = Membership {
                voters: voters.clone(),
                learners: learners.clone(),
            };
            let removed = self.removed(&m)?;
            let leader = periods
                .iter()
                .filter(|p| p.2 <= e.t_us)
                .max_by_key(|p| (p.1, p.2))
                .map(|p| p.0);
            let fits = match (self.remove, removed) {
                (Removal::None, _) => true,
                (Removal::Leader, Some(r)) => leader == Some(r),
                (Removal::Follower, Some(r)) => leader.is_some_and(|l| l != r),
                _ => false,
            };
            fits.then_some((m, e.t_us))
        })
    }
}

/// `membership-changed` (Sometimes): a member recorded the story's final configuration,
/// the founder removed being the leader or a follower as the story says.
#[derive(Clone, Debug)]
pub struct MembershipChanged(pub FinalShape);

impl Check for MembershipChanged {
    fn name(&self) -> &'static str {
        CHANGED
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        if self.0.reached(run).is_some() {
            return Outcome::Pass;
        }
        let removal = match self.0.remove {
            Removal::None => "and no founder removed",
            Removal::Leader => "less the founder that led",
            Removal::Follower => "less a founding follower",
        };
        Outcome::not_reached(format!(
            "no member recorded the final configuration (every joiner a voter, no learner, \
             {removal})"
        ))
    }
}

/// `membership-converges` (Eventually): within the bound after the final configuration was
/// first recorded and its members were up and connected for good, every member of it has
/// recorded it, and a
/// leader that is a voter of it has committed an entry after that.
#[derive(Clone, Debug)]
pub struct MembershipConverges {
    /// The story's final configuration.
    pub shape: FinalShape,
    /// The bound, milliseconds.
    pub bound_ms: u64,
}

impl Check for MembershipConverges {
    fn name(&self) -> &'static str {
        "membership-converges"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[CHANGED]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some((expected, recorded_at)) = self.shape.reached(run) else {
            return Outcome::not_applicable("the final configuration was never recorded");
        };
        let members: Vec<NodeId> = expected
            .voters
            .iter()
            .chain(&expected.learners)
            .copied()
            .collect();
        // Clients exit when their script is done, so "nothing broken anywhere" may never
        // hold: what convergence needs is the final members up and talking to each other.
        let timeline = FaultTimeline::of(run.trace);
        let Some(calm) = timeline.holds_since(|s| s.group_healthy(&members)) else {
            return Outcome::not_applicable(
                "the final members were not all up and connected at the end of the run",
            );
        };
        let from = recorded_at.max(calm);
        let deadline = from.after(Duration::from_millis(self.bound_ms));
        let mut holds: BTreeMap<NodeId, bool> = BTreeMap::new();
        let mut leading: BTreeMap<NodeId, bool> = BTreeMap::new();
        for e in run.trace.events.iter().take_while(|e| e.t_us <= deadline) {
            let Some(node) = e.node else { continue };
            match (e.layer::<RaftEvent>(), &e.kind) {
                (Some(RaftEvent::Membership { voters, learners }), _) => {
                    let same = *voters == expected.voters && *learners == expected.learners;
                    holds.insert(node, same);
                }
                (Some(RaftEvent::Role { role, .. }), _) => {
                    leading.insert(node, *role == Role::Leader);
                }
                (_, EventKind::NodeCrash { .. }) => {
                    leading.insert(node, false);
                }
                (Some(RaftEvent::Commit { .. }), _)
                    if e.t_us >= recorded_at
                        && leading.get(&node) == Some(&true)
                        && expected.voters.contains(&node)
                        && members.iter().all(|m| holds.get(m) == Some(&true)) =>
                {
                    return Outcome::Pass;
                }
                _ => {}
            }
        }
        if deadline > timeline.end() {
            return Outcome::not_applicable(format!(
                "not converged when the run ended, before the bound ({} ms) after {from} was over",
                self.bound_ms
            ));
        }
        let lagging: Vec<String> = members
            .iter()
            .filter(|m| holds.get(m) != Some(&true))
            .map(|m| m.to_string())
            .collect();
        Outcome::violation(
            format!(
                "{} ms after {from} no leader of the final configuration had committed with \
                 every member holding it (not holding it: {})",
                self.bound_ms,
                if lagging.is_empty() {
                    "none".into()
                } else {
                    lagging.join(", ")
                }
            ),
            vec![Evidence::note(format!(
                "final configuration first recorded at {recorded_at}; its members up and connected \
                 from {calm}"
            ))],
        )
    }
}
