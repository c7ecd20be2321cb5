//! `committed-entries-kept`: no node ever removes an entry at or below its own commit index
//! from its log. Committed entries are final; a conflict below the commit index means the
//! node's log handling is broken (the planted bug `truncate-committed`).

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, NodeId, Outcome, RunView};

use crate::events::RaftEvent;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct CommittedEntriesKept;

impl Check for CommittedEntriesKept {
    fn name(&self) -> &'static str {
        "committed-entries-kept"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut commit: BTreeMap<NodeId, u64> = BTreeMap::new();
        for event in &run.trace.events {
            let Some(node) = event.node else { continue };
            match event.layer::<RaftEvent>() {
                Some(RaftEvent::Commit { index, .. })
                | Some(RaftEvent::HardState { commit: index, .. }) => {
                    let c = commit.entry(node).or_default();
                    *c = (*c).max(*index);
                }
                Some(RaftEvent::LogTruncate { from_index }) => {
                    let c = commit.get(&node).copied().unwrap_or(0);
                    if *from_index <= c {
                        return Outcome::violation(
                            format!("{node} removed entries from index {from_index}, at or below its commit index {c}"),
                            vec![Evidence::event(event, "committed entries truncated")],
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
    fn truncating_above_commit_passes() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1), (3, 1)])
            .commit(1, 1, 1)
            .truncate(1, 2);
        assert!(judge(&CommittedEntriesKept, &b).is_pass());
    }

    #[test]
    fn truncating_committed_entries_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1), (3, 1)])
            .commit(1, 3, 1)
            .truncate(1, 2);
        assert!(is_violation(&judge(&CommittedEntriesKept, &b)));
    }
}
