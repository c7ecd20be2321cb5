//! `leader-completeness`: an entry committed in a term is in the log of every leader of a
//! higher term, from the moment it is elected (Raft, Figure 3).
//!
//! "Committed in term T" is what the leader of T reports with a `commit` event while it
//! leads T. The check keeps each leader's durable log at its election and, at the end,
//! compares every committed entry against the leaders of later terms.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, NodeId, Outcome, RunView, TraceEvent};

use super::leaders::Leaders;
use super::logs::{DurableLogs, NodeLog};
use crate::core::Role;
use crate::events::{EntryRef, RaftEvent};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaderCompleteness;

impl Check for LeaderCompleteness {
    fn name(&self) -> &'static str {
        "leader-completeness"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut logs = DurableLogs::default();
        let mut leaders = Leaders::default();
        let mut elections: Vec<(u64, NodeId, NodeLog, &TraceEvent)> = Vec::new();
        // index -> (entry, term it was committed in, the commit event)
        let mut committed: BTreeMap<u64, (EntryRef, u64, &TraceEvent)> = BTreeMap::new();
        for event in &run.trace.events {
            logs.apply(event);
            leaders.observe(event);
            let Some(node) = event.node else { continue };
            match event.layer::<RaftEvent>() {
                Some(RaftEvent::Role {
                    role: Role::Leader,
                    term,
                    ..
                }) => {
                    elections.push((*term, node, logs.of(node), event));
                }
                Some(RaftEvent::Commit { index, .. }) => {
                    let Some(term) = leaders.term_of(node) else {
                        continue;
                    };
                    let log = logs.of(node);
                    let from = committed
                        .keys()
                        .next_back()
                        .map_or(1, |i| i + 1)
                        .max(log.snapshot.0 + 1);
                    for i in from..=*index {
                        if let Some((t, d)) = log.entries.get(&i) {
                            let entry = EntryRef {
                                index: i,
                                term: *t,
                                digest: d.clone(),
                            };
                            committed.entry(i).or_insert((entry, term, event));
                        }
                    }
                }
                _ => {}
            }
        }
        for (entry, commit_term, commit_event) in committed.values() {
            for (term, leader, log, elected) in &elections {
                if term > commit_term && !log.holds(entry) {
                    return Outcome::violation(
                        format!(
                            "leader {leader} of term {term} lacks entry {}@term {} committed in term {commit_term}",
                            entry.index, entry.term
                        ),
                        vec![
                            Evidence::event(commit_event, "committed here"),
                            Evidence::event(elected, "elected without it"),
                        ],
                    );
                }
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
    fn later_leaders_holding_committed_entries_pass() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1);
        b.leader(2, 2);
        assert!(judge(&LeaderCompleteness, &b).is_pass());
    }

    #[test]
    fn a_later_leader_missing_a_committed_entry_fails() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1);
        b.leader(3, 2);
        assert!(is_violation(&judge(&LeaderCompleteness, &b)));
    }
}
