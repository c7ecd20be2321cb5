//! `leader-completeness`: an entry committed in a term is in the log of every leader of a
//! higher term, from the moment it is elected (Raft, Figure 3).
//!
//! "Committed in term T" is what the leader of T reports with a `commit` event while it
//! leads T. The check keeps each leader's durable log at its election and compares every
//! committed entry against the leaders of later terms. It is judged online: a pair (an
//! entry committed in T, a leader of a later term elected without it) is a violation at
//! whichever of its two events comes second, since an old leader may still commit after a
//! newer one was elected. So the check looks both ways: a new election against the entries
//! committed so far, and a new commit against the elections so far. The pair reported is
//! the first one complete in the trace; among the pairs one event completes, the lowest
//! index, then the earliest election.

use std::collections::BTreeMap;

use sim_core::{Evidence, NodeId, OnlineCheck, TraceEvent, Violation};

use super::leaders::Leaders;
use super::logs::{DurableLogs, NodeLog};
use crate::core::Role;
use crate::events::{EntryRef, RaftEvent};

/// See the module docs. Judged online: the state is every node's durable log, who leads,
/// every election with the leader's log at that moment, and every committed entry.
#[derive(Clone, Debug, Default)]
pub struct LeaderCompleteness {
    logs: DurableLogs,
    leaders: Leaders,
    elections: Vec<Election>,
    /// Index -> the entry committed there, first commit wins.
    committed: BTreeMap<u64, Committed>,
}

/// A leader taking office: its term, itself, its durable log then, and where.
#[derive(Clone, Debug)]
struct Election {
    term: u64,
    leader: NodeId,
    log: NodeLog,
    elected: Evidence,
}

/// An entry committed by the leader of `term`, and where.
#[derive(Clone, Debug)]
struct Committed {
    entry: EntryRef,
    term: u64,
    commit: Evidence,
}

impl Committed {
    /// The violation, if `election` is of a later term and lacks this entry.
    fn lacked_by(&self, election: &Election) -> Option<Violation> {
        if election.term <= self.term || election.log.holds(&self.entry) {
            return None;
        }
        Some(Violation::new(
            format!(
                "leader {} of term {} lacks entry {}@term {} committed in term {}",
                election.leader, election.term, self.entry.index, self.entry.term, self.term
            ),
            vec![self.commit.clone(), election.elected.clone()],
        ))
    }
}

impl OnlineCheck for LeaderCompleteness {
    const NAME: &'static str = "leader-completeness";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        self.logs.apply(event);
        self.leaders.observe(event);
        let node = event.node?;
        match event.layer::<RaftEvent>() {
            Some(RaftEvent::Role {
                role: Role::Leader,
                term,
                ..
            }) => {
                let election = Election {
                    term: *term,
                    leader: node,
                    log: self.logs.of(node),
                    elected: Evidence::event(event, "elected without it"),
                };
                let lacking = self.committed.values().find_map(|c| c.lacked_by(&election));
                self.elections.push(election);
                lacking
            }
            Some(RaftEvent::Commit { index, .. }) => {
                let term = self.leaders.term_of(node)?;
                let log = self.logs.get(node)?;
                let from = self
                    .committed
                    .keys()
                    .next_back()
                    .map_or(1, |i| i + 1)
                    .max(log.snapshot.0 + 1);
                let mut lacking = None;
                for i in from..=*index {
                    if let Some((t, d)) = log.entries.get(&i) {
                        let committed = Committed {
                            entry: EntryRef {
                                index: i,
                                term: *t,
                                digest: *d,
                            },
                            term,
                            commit: Evidence::event(event, "committed here"),
                        };
                        if lacking.is_none() {
                            lacking = self.elections.iter().find_map(|e| committed.lacked_by(e));
                        }
                        self.committed.entry(i).or_insert(committed);
                    }
                }
                lacking
            }
            _ => None,
        }
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
        assert!(judge(&LeaderCompleteness::default(), &b).is_pass());
    }

    #[test]
    fn a_later_leader_missing_a_committed_entry_fails() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1);
        b.leader(3, 2);
        assert!(is_violation(&judge(&LeaderCompleteness::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_election_that_lacks_a_committed_entry() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .commit(1, 1, 1)
            .leader(2, 2);
        let bad = b.events.len();
        b.leader(3, 3).leader(3, 4);
        assert_fires_at::<LeaderCompleteness>(&b, bad);
    }

    #[test]
    fn online_it_fires_at_a_commit_after_a_later_leader_was_elected_without_it() {
        // n1 still leads term 1 when n3 is elected for term 2 with an empty log; the pair
        // is complete only when n1 commits.
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1)
            .append(1, &[(1, 1)])
            .append(2, &[(1, 1)])
            .leader(3, 2);
        assert!(first_firing::<LeaderCompleteness>(&b).is_none());
        let bad = b.events.len();
        b.commit(1, 1, 1).leader(2, 3);
        assert_fires_at::<LeaderCompleteness>(&b, bad);
    }
}
