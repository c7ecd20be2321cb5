//! `leader-append-only`: a leader never overwrites or deletes entries in its log; it only
//! appends (Raft, Figure 3).

use crate::events::RaftEvent;
use sim_core::{Evidence, OnlineCheck, TraceEvent, Violation};

use super::leaders::Leaders;
use super::logs::DurableLogs;

/// See the module docs. Judged online: the state is every node's durable log and who leads.
#[derive(Clone, Debug, Default)]
pub struct LeaderAppendOnly {
    logs: DurableLogs,
    leaders: Leaders,
}

impl OnlineCheck for LeaderAppendOnly {
    const NAME: &'static str = "leader-append-only";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        self.leaders.observe(event);
        if let Some(node) = event.node {
            let leading = self.leaders.term_of(node);
            match event.layer::<RaftEvent>() {
                Some(RaftEvent::LogTruncate { from_index }) if leading.is_some() => {
                    return Some(Violation::new(
                        format!(
                            "leader {node} of term {} removed entries from index {from_index}",
                            leading.unwrap_or_default()
                        ),
                        vec![Evidence::event(event, "a leader truncated its log")],
                    ));
                }
                Some(RaftEvent::LogAppend { entries }) if leading.is_some() => {
                    let log = self.logs.get(node);
                    if let Some(e) = entries.iter().find(|e| {
                        log.and_then(|log| log.entries.get(&e.index))
                            .is_some_and(|(t, d)| *t != e.term || *d != e.digest)
                    }) {
                        return Some(Violation::new(
                            format!("leader {node} overwrote its entry at index {}", e.index),
                            vec![Evidence::event(event, "a leader replaced an entry")],
                        ));
                    }
                }
                _ => {}
            }
        }
        self.logs.apply(event);
        None
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
        assert!(judge(&LeaderAppendOnly::default(), &b).is_pass());
    }

    #[test]
    fn a_leader_that_truncates_fails() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).append(1, &[(1, 1), (2, 1)]).truncate(1, 2);
        assert!(is_violation(&judge(&LeaderAppendOnly::default(), &b)));
    }

    #[test]
    fn a_leader_that_overwrites_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1)]).leader(1, 2).append(1, &[(1, 2)]);
        assert!(is_violation(&judge(&LeaderAppendOnly::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_first_overwrite_and_not_before() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1)])
            .leader(1, 2)
            .append(1, &[(3, 2)]);
        let bad = b.events.len();
        b.append(1, &[(2, 2)]).truncate(1, 1);
        assert_fires_at::<LeaderAppendOnly>(&b, bad);
    }
}
