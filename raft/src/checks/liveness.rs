//! `leader-after-heal` (liveness): once the last fault has applied (the schedule ends with
//! `heal-all`, so a majority is connected), a leader is in place and some proposal commits
//! beyond everything committed before, within a stated bound.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, EventKind, Evidence, NodeId, Outcome, Role, RunView, SimTime};

/// See the module docs.
#[derive(Clone, Copy, Debug)]
pub struct LeaderAfterHeal {
    /// How long after the last fault a leader and a fresh commit must exist, milliseconds.
    pub bound_ms: u64,
}

impl Check for LeaderAfterHeal {
    fn name(&self) -> &'static str {
        "leader-after-heal"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let events = &run.trace.events;
        let healed = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Fault { .. }))
            .map(|e| e.t_us)
            .max()
            .unwrap_or(SimTime::ZERO);
        let deadline = SimTime(healed.as_us() + self.bound_ms * 1000);
        if run.trace.end_time() < deadline {
            return Outcome::Unknown {
                reason: format!(
                    "the run ended at {} before the bound {deadline} (last fault at {healed})",
                    run.trace.end_time()
                ),
            };
        }
        let mut leaders: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut leader_seen = false;
        let mut committed_before = 0;
        let mut fresh_commit = None;
        for e in events.iter().take_while(|e| e.t_us <= deadline) {
            let Some(node) = e.node else { continue };
            match &e.kind {
                EventKind::Role { role, term, .. } => {
                    if *role == Role::Leader {
                        leaders.insert(node, *term);
                    } else {
                        leaders.remove(&node);
                    }
                }
                EventKind::NodeCrash { .. } => {
                    leaders.remove(&node);
                }
                EventKind::Commit { index, .. } => {
                    if e.t_us < healed {
                        committed_before = committed_before.max(*index);
                    } else if *index > committed_before && fresh_commit.is_none() {
                        fresh_commit = Some(e);
                    }
                }
                _ => {}
            }
            if e.t_us >= healed && !leaders.is_empty() {
                leader_seen = true;
            }
        }
        match (leader_seen, fresh_commit) {
            (true, Some(_)) => Outcome::Pass,
            (false, _) => Outcome::violation(
                format!("no leader between the last fault at {healed} and {deadline}"),
                vec![Evidence::note(format!("bound {} ms", self.bound_ms))],
            ),
            (true, None) => Outcome::violation(
                format!(
                    "nothing committed beyond index {committed_before} between the last fault at {healed} and {deadline}"
                ),
                vec![Evidence::note(format!("bound {} ms", self.bound_ms))],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;

    fn heal(b: &mut TraceBuilder) {
        b.push(
            None,
            sim_core::EventKind::Fault {
                fault: sim_core::FaultOp::HealAll,
            },
        );
    }

    #[test]
    fn a_leader_and_a_fresh_commit_pass() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).commit(1, 3, 1);
        heal(&mut b);
        b.leader(2, 2).commit(2, 4, 2);
        for _ in 0..10 {
            b.follower(3, 2);
        }
        assert!(judge(&LeaderAfterHeal { bound_ms: 5 }, &b).is_pass());
    }

    #[test]
    fn no_commit_after_heal_fails() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).commit(1, 3, 1);
        heal(&mut b);
        b.leader(2, 2).commit(2, 3, 2);
        for _ in 0..10 {
            b.follower(3, 2);
        }
        assert!(is_violation(&judge(&LeaderAfterHeal { bound_ms: 5 }, &b)));
    }

    #[test]
    fn a_short_run_is_undecided() {
        let mut b = TraceBuilder::new(3);
        heal(&mut b);
        assert!(matches!(
            judge(&LeaderAfterHeal { bound_ms: 500 }, &b),
            sim_core::Outcome::Unknown { .. }
        ));
    }
}
