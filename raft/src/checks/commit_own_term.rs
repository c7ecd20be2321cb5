//! `leader-commits-own-term`: a leader advances its commit index only to an entry of its
//! own term; entries of earlier terms become committed indirectly, under one of its own
//! (Raft §5.4.2, the rule that Figure 8 motivates).
//!
//! Counting replicas of an old-term entry is unsafe even when a majority holds it: a node
//! with a newer conflicting entry can still be elected and overwrite it. That overwrite
//! needs a rare interleaving, so this check looks at the rule itself, which the planted
//! bug `commit-old-term` breaks every time it acts.

use crate::events::RaftEvent;
use sim_core::{Evidence, OnlineCheck, TraceEvent, Violation};

use super::leaders::Leaders;

/// See the module docs. Judged online: the state is who leads.
#[derive(Clone, Debug, Default)]
pub struct LeaderCommitsOwnTerm {
    leaders: Leaders,
}

impl OnlineCheck for LeaderCommitsOwnTerm {
    const NAME: &'static str = "leader-commits-own-term";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        self.leaders.observe(event);
        let (Some(node), Some(RaftEvent::Commit { index, term })) =
            (event.node, event.layer::<RaftEvent>())
        else {
            return None;
        };
        let own = self.leaders.term_of(node).filter(|own| own != term)?;
        Some(Violation::new(
            format!(
                "leader {node} of term {own} committed index {index}, an entry of term {term}, by counting replicas"
            ),
            vec![Evidence::event(event, "a commit at an earlier term's entry")],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;

    #[test]
    fn committing_at_an_own_term_entry_passes() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 3)
            .commit(1, 5, 3)
            .follower(2, 3)
            .commit(2, 4, 2);
        assert!(judge(&LeaderCommitsOwnTerm::default(), &b).is_pass());
    }

    #[test]
    fn committing_at_an_old_term_entry_fails() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 3).commit(1, 4, 2);
        assert!(is_violation(&judge(&LeaderCommitsOwnTerm::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_first_old_term_commit_and_not_before() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 2).commit(1, 3, 2).commit(2, 1, 1).leader(1, 3);
        let bad = b.events.len();
        b.commit(1, 3, 2).commit(1, 4, 1);
        assert_fires_at::<LeaderCommitsOwnTerm>(&b, bad);
    }
}
