//! `leader-after-heal` (liveness): once the cluster has really recovered, a leader is in
//! place and some proposal commits beyond everything committed before, within a stated
//! bound.
//!
//! "Really recovered" is read from the trace ([`sim_core::FaultTimeline`]), not from the
//! time of the last fault op: the start of the final stretch in which the network has no
//! partition, cut link or loss, no voter that is up is paused, stalled or skewed, and a
//! majority of the voters is up (a `heal-all` restarts dead nodes, but they count once their
//! `node-start` is recorded; a disk stall lasts its duration). Latency changes do not count
//! against recovery: they slow Raft down without stopping it. A run that never recovers, or
//! recovers less than the bound before its end, is not applicable: nothing was promised.
//!
//! Not an online check: a liveness property is judged at the end of the run (whether the
//! final stretch began, and lasted the bound), which no prefix of the trace can decide.

use std::collections::BTreeMap;

use sim_core::{
    Check, CheckKind, EventKind, Evidence, FaultState, FaultTimeline, NodeId, Outcome, RunView,
    SimTime,
};

use crate::core::Role;
use crate::events::RaftEvent;

/// The voters of the run: those of the last `membership` event in the trace (every Raft
/// node records one when it starts and when its configuration changes), or every node of
/// the world if no node recorded one.
pub fn voters_of(run: &RunView<'_>) -> Vec<NodeId> {
    run.trace
        .events
        .iter()
        .rev()
        .find_map(|e| match e.layer::<RaftEvent>() {
            Some(RaftEvent::Membership { voters, .. }) => Some(voters.clone()),
            _ => None,
        })
        .unwrap_or_else(|| run.nodes.to_vec())
}

/// Whether the cluster of `voters` has recovered in `state` (see the module docs).
pub fn recovered(state: &FaultState, voters: &[NodeId]) -> bool {
    let up = voters.iter().filter(|v| !state.is_down(**v)).count();
    state.links_whole_and_lossless()
        && 2 * up > voters.len()
        && voters
            .iter()
            .all(|v| state.is_down(*v) || state.is_healthy(*v))
}

/// When the cluster of `voters` recovered for good, if it did.
pub fn recovered_since(timeline: &FaultTimeline, voters: &[NodeId]) -> Option<SimTime> {
    timeline.holds_since(|s| recovered(s, voters))
}

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
        let voters = voters_of(run);
        let Some(healed) = recovered_since(&FaultTimeline::of(run.trace), &voters) else {
            return Outcome::not_applicable(
                "the cluster never recovered for good (a fault is still in force at the end)",
            );
        };
        let deadline = SimTime(healed.as_us() + self.bound_ms * 1000);
        if run.trace.end_time() < deadline {
            return Outcome::not_applicable(format!(
                "the run ended at {}, less than the bound after the cluster recovered at {healed}",
                run.trace.end_time()
            ));
        }
        let mut leaders: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut leader_seen = false;
        let mut committed_before = 0;
        let mut fresh_commit = None;
        for e in events.iter().take_while(|e| e.t_us <= deadline) {
            let Some(node) = e.node else { continue };
            match (e.layer::<RaftEvent>(), &e.kind) {
                (Some(RaftEvent::Role { role, term, .. }), _) => {
                    if *role == Role::Leader {
                        leaders.insert(node, *term);
                    } else {
                        leaders.remove(&node);
                    }
                }
                (_, EventKind::NodeCrash { .. }) => {
                    leaders.remove(&node);
                }
                (Some(RaftEvent::Commit { index, .. }), _) => {
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
                format!("no leader between the recovery at {healed} and {deadline}"),
                vec![Evidence::note(format!("bound {} ms", self.bound_ms))],
            ),
            (true, None) => Outcome::violation(
                format!(
                    "nothing committed beyond index {committed_before} between the recovery at {healed} and {deadline}"
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

    fn fault(b: &mut TraceBuilder, fault: sim_core::FaultOp) {
        b.push(None, sim_core::EventKind::Fault { fault });
    }

    fn heal(b: &mut TraceBuilder) {
        fault(b, sim_core::FaultOp::HealAll);
    }

    /// Cuts n1 off, then heals everything: the bound starts at the heal.
    fn isolate_then_heal(b: &mut TraceBuilder) {
        fault(b, sim_core::FaultOp::Isolate { node: n(1) });
        heal(b);
    }

    #[test]
    fn a_leader_and_a_fresh_commit_pass() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).commit(1, 3, 1);
        isolate_then_heal(&mut b);
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
        isolate_then_heal(&mut b);
        b.leader(2, 2).commit(2, 3, 2);
        for _ in 0..10 {
            b.follower(3, 2);
        }
        assert!(is_violation(&judge(&LeaderAfterHeal { bound_ms: 5 }, &b)));
    }

    #[test]
    fn a_short_run_is_not_applicable() {
        let mut b = TraceBuilder::new(3);
        heal(&mut b);
        assert!(matches!(
            judge(&LeaderAfterHeal { bound_ms: 500 }, &b),
            sim_core::Outcome::NotApplicable { .. }
        ));
    }

    #[test]
    fn the_bound_starts_when_the_restarted_majority_is_up_not_at_heal_all() {
        // n2 and n3 die; heal-all restarts them, but they are up only later. A leader and
        // a commit right after heal-all would be impossible; the bound starts at their
        // node-start.
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).commit(1, 3, 1).crash(2).crash(3);
        heal(&mut b);
        for _ in 0..8 {
            b.follower(1, 1);
        }
        b.push(
            Some(n(2)),
            sim_core::EventKind::NodeStart { incarnation: 2 },
        );
        b.push(
            Some(n(3)),
            sim_core::EventKind::NodeStart { incarnation: 2 },
        );
        b.leader(2, 2).commit(2, 4, 2);
        for _ in 0..4 {
            b.follower(3, 2);
        }
        // From the heal-all the bound (5 events of 1 ms) would end before the new leader;
        // from the restarts it does not.
        assert!(judge(&LeaderAfterHeal { bound_ms: 5 }, &b).is_pass());
    }

    #[test]
    fn a_cluster_left_without_a_majority_is_not_applicable() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).crash(2).crash(3);
        for _ in 0..10 {
            b.follower(1, 1);
        }
        assert!(matches!(
            judge(&LeaderAfterHeal { bound_ms: 5 }, &b),
            sim_core::Outcome::NotApplicable { .. }
        ));
    }
}
