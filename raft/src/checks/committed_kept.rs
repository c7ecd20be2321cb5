//! `committed-entries-kept`: no node ever removes an entry at or below its own commit index
//! from its log. Committed entries are final; a conflict below the commit index means the
//! node's log handling is broken (the planted bug `truncate-committed`).

use std::collections::BTreeMap;

use sim_core::{Evidence, NodeId, OnlineCheck, TraceEvent, Violation};

use crate::events::RaftEvent;

/// See the module docs. Judged online: the state is each node's highest commit index.
#[derive(Clone, Debug, Default)]
pub struct CommittedEntriesKept {
    commit: BTreeMap<NodeId, u64>,
}

impl OnlineCheck for CommittedEntriesKept {
    const NAME: &'static str = "committed-entries-kept";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        let node = event.node?;
        match event.layer::<RaftEvent>() {
            Some(RaftEvent::Commit { index, .. })
            | Some(RaftEvent::HardState { commit: index, .. }) => {
                let c = self.commit.entry(node).or_default();
                *c = (*c).max(*index);
            }
            Some(RaftEvent::LogTruncate { from_index }) => {
                let c = self.commit.get(&node).copied().unwrap_or(0);
                if *from_index <= c {
                    return Some(Violation::new(
                        format!("{node} removed entries from index {from_index}, at or below its commit index {c}"),
                        vec![Evidence::event(event, "committed entries truncated")],
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
    fn truncating_above_commit_passes() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1), (3, 1)])
            .commit(1, 1, 1)
            .truncate(1, 2);
        assert!(judge(&CommittedEntriesKept::default(), &b).is_pass());
    }

    #[test]
    fn truncating_committed_entries_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1), (3, 1)])
            .commit(1, 3, 1)
            .truncate(1, 2);
        assert!(is_violation(&judge(&CommittedEntriesKept::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_first_truncation_of_committed_entries() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1), (3, 1)])
            .commit(1, 2, 1)
            .truncate(1, 3)
            .commit(2, 3, 1);
        let bad = b.events.len();
        b.truncate(1, 2).truncate(1, 1);
        assert_fires_at::<CommittedEntriesKept>(&b, bad);
    }
}
