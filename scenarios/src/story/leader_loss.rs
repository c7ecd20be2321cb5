//! The story `election` and `leader-crash` share: the leader is lost (isolated or killed)
//! and the others must elect a new one within a bound.
//!
//! Judged on the run: the bound starts when the loss is really in force and the other
//! servers really hold a healthy quorum without the lost leader (read from the trace's
//! [`FaultTimeline`]), so an added fault that heals the isolation early, or kills a second
//! server, makes the story not happen instead of failing the check.

use std::time::Duration;

use raft::checks::voters_of;
use sim_core::{Check, CheckKind, FaultTimeline, NodeId, Outcome, RunView, SimTime};

use crate::raft_world::leader_periods;

/// Which leader was lost, how, and when, as the driver did it.
#[derive(Clone, Debug)]
pub(crate) struct LeaderLoss {
    /// The Sometimes check's name (`leader-cut-off`, `leader-killed`).
    pub story: &'static str,
    /// How it was lost, for messages (`isolated`, `killed`).
    pub how: &'static str,
    /// The lost leader and when it was lost; `None` if no leader was up to lose.
    pub lost: Option<(NodeId, SimTime)>,
    /// The bound, milliseconds.
    pub bound_ms: u64,
}

impl LeaderLoss {
    /// The first stretch of the bound, from the loss on, in which the lost node is down or
    /// sealed off and the others hold a healthy quorum without it.
    fn window(&self, run: &RunView<'_>) -> Option<(SimTime, SimTime)> {
        let (node, at) = self.lost?;
        let voters = voters_of(run);
        FaultTimeline::of(run.trace).first_window(at, self.bound_ms, |s| {
            (s.is_down(node) || s.sealed(&[node], &voters))
                && s.healthy_quorum(&voters)
                    .is_some_and(|q| !q.contains(&node))
        })
    }
}

/// The Sometimes check: the leader was lost while the others held a healthy quorum for the
/// whole bound.
#[derive(Clone, Debug)]
pub(crate) struct LeaderLost(pub LeaderLoss);

impl Check for LeaderLost {
    fn name(&self) -> &'static str {
        self.0.story
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let loss = &self.0;
        let Some((node, at)) = loss.lost else {
            return Outcome::not_reached(format!("no leader was up to be {} in time", loss.how));
        };
        match loss.window(run) {
            Some(_) => Outcome::Pass,
            None => Outcome::not_reached(format!(
                "after {node} was {} at {at}, the others never held a healthy quorum without \
                 it for the bound ({} ms)",
                loss.how, loss.bound_ms
            )),
        }
    }
}

/// The Eventually check (`new-leader-after-isolation`, `new-leader-after-crash`): within
/// the bound of the moment the story took hold, a server other than the lost leader is
/// elected.
#[derive(Clone, Debug)]
pub(crate) struct NewLeaderAfter {
    /// The check's name.
    pub name: &'static str,
    /// The loss.
    pub loss: LeaderLoss,
}

impl Check for NewLeaderAfter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        std::slice::from_ref(&self.loss.story)
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let (Some((lost, at)), Some((from, _))) = (self.loss.lost, self.loss.window(run)) else {
            return Outcome::not_applicable("the leader was not lost before a healthy quorum");
        };
        let deadline = from.after(Duration::from_millis(self.loss.bound_ms));
        let next = leader_periods(&run.trace.events)
            .into_iter()
            .find(|p| p.2 >= at && p.0 != lost);
        match next {
            Some(p) if p.2 <= deadline => Outcome::Pass,
            Some(p) => Outcome::violation(
                format!(
                    "after {lost} was {} at {at}, the new leader {} (term {}) took until {}: \
                     {} ms after the others held a healthy quorum at {from} (bound {} ms)",
                    self.loss.how,
                    p.0,
                    p.1,
                    p.2,
                    p.2.since(from).as_millis(),
                    self.loss.bound_ms
                ),
                vec![],
            ),
            None => Outcome::violation(
                format!(
                    "no new leader after {lost} was {} at {at} (the others held a healthy \
                     quorum from {from}; bound {} ms)",
                    self.loss.how, self.loss.bound_ms
                ),
                vec![],
            ),
        }
    }
}
