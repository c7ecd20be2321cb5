//! `commit-needs-majority`: when a leader advances its commit index, a majority of the
//! voters of its current configuration hold that entry durably.
//!
//! Voters come from the leader's latest `membership` event (the driver records one at
//! start and at every change). This is the check the planted bug `quorum-of-reachable`
//! (a majority counted among reachable nodes) trips.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, NodeId, Outcome, RunView};

use super::leaders::Leaders;
use super::logs::DurableLogs;
use crate::events::{EntryRef, RaftEvent};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct CommitNeedsMajority;

impl Check for CommitNeedsMajority {
    fn name(&self) -> &'static str {
        "commit-needs-majority"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut logs = DurableLogs::default();
        let mut leaders = Leaders::default();
        let mut voters: BTreeMap<NodeId, Vec<NodeId>> = BTreeMap::new();
        for event in &run.trace.events {
            logs.apply(event);
            leaders.observe(event);
            let Some(node) = event.node else { continue };
            match event.layer::<RaftEvent>() {
                Some(RaftEvent::Membership { voters: v, .. }) => {
                    voters.insert(node, v.clone());
                }
                Some(RaftEvent::Commit { index, .. }) if leaders.term_of(node).is_some() => {
                    let log = logs.of(node);
                    if *index <= log.snapshot.0 {
                        continue;
                    }
                    let Some((term, digest)) = log.entries.get(index) else {
                        return Outcome::violation(
                            format!("leader {node} committed index {index}, which is not in its durable log"),
                            vec![Evidence::event(event, "commit beyond the leader's log")],
                        );
                    };
                    let entry = EntryRef {
                        index: *index,
                        term: *term,
                        digest: digest.clone(),
                    };
                    let members = voters
                        .get(&node)
                        .cloned()
                        .unwrap_or_else(|| run.nodes.to_vec());
                    let holders: Vec<NodeId> = members
                        .iter()
                        .copied()
                        .filter(|m| logs.get(*m).is_some_and(|l| l.holds(&entry)))
                        .collect();
                    if holders.len() * 2 <= members.len() {
                        return Outcome::violation(
                            format!(
                                "leader {node} committed index {index} held by {} of {} voters ({})",
                                holders.len(),
                                members.len(),
                                holders.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
                            ),
                            vec![Evidence::event(event, "commit without a majority")],
                        );
                    }
                }
                _ => {}
            }
        }
        Outcome::Pass
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
        assert!(judge(&CommitNeedsMajority, &b).is_pass());
    }

    #[test]
    fn a_minority_commit_fails() {
        let mut b = TraceBuilder::new(4);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1);
        assert!(is_violation(&judge(&CommitNeedsMajority, &b)));
    }
}
