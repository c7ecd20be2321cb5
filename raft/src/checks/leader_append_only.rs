//! `leader-append-only`: a leader never overwrites or deletes entries in its log; it only
//! appends (Raft, Figure 3).

use crate::events::RaftEvent;
use sim_core::{Check, CheckKind, Evidence, Outcome, RunView};

use super::leaders::Leaders;
use super::logs::DurableLogs;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaderAppendOnly;

impl Check for LeaderAppendOnly {
    fn name(&self) -> &'static str {
        "leader-append-only"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut logs = DurableLogs::default();
        let mut leaders = Leaders::default();
        for event in &run.trace.events {
            leaders.observe(event);
            let Some(node) = event.node else { continue };
            let leading = leaders.term_of(node);
            match event.layer::<RaftEvent>() {
                Some(RaftEvent::LogTruncate { from_index }) if leading.is_some() => {
                    return Outcome::violation(
                        format!(
                            "leader {node} of term {} removed entries from index {from_index}",
                            leading.unwrap_or_default()
                        ),
                        vec![Evidence::event(event, "a leader truncated its log")],
                    );
                }
                Some(RaftEvent::LogAppend { entries }) if leading.is_some() => {
                    let log = logs.of(node);
                    if let Some(e) = entries.iter().find(|e| {
                        log.entries
                            .get(&e.index)
                            .is_some_and(|(t, d)| *t != e.term || *d != e.digest)
                    }) {
                        return Outcome::violation(
                            format!("leader {node} overwrote its entry at index {}", e.index),
                            vec![Evidence::event(event, "a leader replaced an entry")],
                        );
                    }
                }
                _ => {}
            }
            logs.apply(event);
        }
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;

    #[test]
    fn appending_leader_passes_and_followers_may_truncate() {
        let mut b = TraceBuilder::new(3);
        b.append(2, &[(1, 1), (2, 1)])
            .leader(1, 2)
            .append(1, &[(1, 2)]);
        b.truncate(2, 1).append(2, &[(1, 2)]);
        assert!(judge(&LeaderAppendOnly, &b).is_pass());
    }

    #[test]
    fn a_leader_that_truncates_fails() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).append(1, &[(1, 1), (2, 1)]).truncate(1, 2);
        assert!(is_violation(&judge(&LeaderAppendOnly, &b)));
    }

    #[test]
    fn a_leader_that_overwrites_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1)]).leader(1, 2).append(1, &[(1, 2)]);
        assert!(is_violation(&judge(&LeaderAppendOnly, &b)));
    }
}
