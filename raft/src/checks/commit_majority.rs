//! `commit-needs-majority`: when a leader advances its commit index, a majority of the
//! voters of its current configuration hold that entry durably.
//!
//! Voters come from the leader's latest `membership` event (the driver records one at
//! start and at every change). This is the check the planted bug `quorum-of-reachable`
//! (a majority counted among reachable nodes) trips.

use std::collections::BTreeMap;

use sim_core::{EventKind, Evidence, NodeId, OnlineCheck, TraceEvent, Violation};

use super::leaders::Leaders;
use super::logs::DurableLogs;
use crate::events::{EntryRef, RaftEvent};

/// See the module docs. Judged online: the state is every node's durable log, who leads,
/// each node's latest voters, and the run's nodes (from `run-start`: the voters of a
/// leader that has recorded no `membership` yet).
#[derive(Clone, Debug, Default)]
pub struct CommitNeedsMajority {
    logs: DurableLogs,
    leaders: Leaders,
    voters: BTreeMap<NodeId, Vec<NodeId>>,
    nodes: Vec<NodeId>,
}

impl OnlineCheck for CommitNeedsMajority {
    const NAME: &'static str = "commit-needs-majority";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        if let EventKind::RunStart { nodes, .. } = &event.kind {
            self.nodes.clone_from(nodes);
        }
        self.logs.apply(event);
        self.leaders.observe(event);
        let node = event.node?;
        match event.layer::<RaftEvent>() {
            Some(RaftEvent::Membership { voters: v, .. }) => {
                self.voters.insert(node, v.clone());
            }
            Some(RaftEvent::Commit { index, .. }) if self.leaders.term_of(node).is_some() => {
                let log = self.logs.get(node);
                if *index <= log.map_or(0, |l| l.snapshot.0) {
                    return None;
                }
                let Some((term, digest)) = log.and_then(|l| l.entries.get(index)) else {
                    return Some(Violation::new(
                        format!("leader {node} committed index {index}, which is not in its durable log"),
                        vec![Evidence::event(event, "commit beyond the leader's log")],
                    ));
                };
                let entry = EntryRef {
                    index: *index,
                    term: *term,
                    digest: *digest,
                };
                let members = self.voters.get(&node).unwrap_or(&self.nodes);
                let holders: Vec<NodeId> = members
                    .iter()
                    .copied()
                    .filter(|m| self.logs.get(*m).is_some_and(|l| l.holds(&entry)))
                    .collect();
                if holders.len() * 2 <= members.len() {
                    return Some(Violation::new(
                        format!(
                            "leader {node} committed index {index} held by {} of {} voters ({})",
                            holders.len(),
                            members.len(),
                            holders
                                .iter()
                                .map(|n| n.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        vec![Evidence::event(event, "commit without a majority")],
                    ));
                }
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;

    #[test]
    fn a_majority_commit_passes() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1);
        assert!(judge(&CommitNeedsMajority::default(), &b).is_pass());
    }

    #[test]
    fn a_minority_commit_fails() {
        let mut b = TraceBuilder::new(4);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1);
        assert!(is_violation(&judge(&CommitNeedsMajority::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_first_minority_commit_and_not_before() {
        let mut b = TraceBuilder::new(4);
        b.leader(1, 1)
            .append(1, &[(1, 1), (2, 1)])
            .append(2, &[(1, 1), (2, 1)])
            .append(3, &[(1, 1)])
            .commit(1, 1, 1);
        let bad = b.events.len();
        b.commit(1, 2, 1).append(3, &[(2, 1)]).commit(1, 2, 1);
        assert_fires_at::<CommitNeedsMajority>(&b, bad);
    }

    #[test]
    fn online_the_voters_are_the_leaders_latest_membership() {
        let mut b = TraceBuilder::new(4);
        b.push(
            Some(n(1)),
            sim_core::EventKind::layer(RaftEvent::Membership {
                voters: vec![n(1), n(2), n(3)],
                learners: vec![],
            }),
        );
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1);
        assert!(
            first_firing::<CommitNeedsMajority>(&b).is_none(),
            "2 of 3 voters"
        );
        b.push(
            Some(n(1)),
            sim_core::EventKind::layer(RaftEvent::Membership {
                voters: vec![n(1), n(2), n(3), n(4)],
                learners: vec![],
            }),
        );
        let bad = b.events.len();
        b.commit(1, 1, 1);
        assert_fires_at::<CommitNeedsMajority>(&b, bad);
    }
}
