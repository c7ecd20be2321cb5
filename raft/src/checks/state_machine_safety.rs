//! `state-machine-safety`: no two nodes apply different entries at the same index, and each
//! node applies in index order without gaps (Raft, Figure 3).

use std::collections::BTreeMap;

use sim_core::{EventKind, Evidence, NodeId, OnlineCheck, TraceEvent, Violation};

use crate::events::{EntryDigest, RaftEvent};

/// See the module docs. Judged online: the state is the first entry applied at each index
/// and each node's last applied index.
#[derive(Clone, Debug, Default)]
pub struct StateMachineSafety {
    /// Index -> (term, digest, where first applied).
    applied: BTreeMap<u64, (u64, EntryDigest, Evidence)>,
    /// Each node's last applied index since it started.
    last: BTreeMap<NodeId, u64>,
}

impl OnlineCheck for StateMachineSafety {
    const NAME: &'static str = "state-machine-safety";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        let node = event.node?;
        match (event.layer::<RaftEvent>(), &event.kind) {
            (_, EventKind::NodeStart { .. }) => {
                self.last.remove(&node);
            }
            (Some(RaftEvent::Snapshot { index, .. }), _) => {
                self.last.insert(node, *index);
            }
            (
                Some(RaftEvent::Apply {
                    index,
                    term,
                    digest,
                }),
                _,
            ) => {
                if let Some(&prev) = self.last.get(&node) {
                    if *index != prev + 1 {
                        return Some(Violation::new(
                            format!("{node} applied index {index} right after {prev}"),
                            vec![Evidence::event(event, "out-of-order apply")],
                        ));
                    }
                }
                self.last.insert(node, *index);
                match self.applied.get(index) {
                    Some((t, d, first)) if (*t, *d) != (*term, *digest) => {
                        return Some(Violation::new(
                            format!(
                                "two different entries applied at index {index}: term {t} and term {term}"
                            ),
                            vec![
                                first.clone(),
                                Evidence::event(event, "a different entry applied here"),
                            ],
                        ));
                    }
                    Some(_) => {}
                    None => {
                        let first = Evidence::event(event, "first applied here");
                        self.applied.insert(*index, (*term, *digest, first));
                    }
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
    fn identical_applies_pass() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1)
            .apply(2, 1, 1)
            .apply(1, 2, 1)
            .apply(2, 2, 1);
        assert!(judge(&StateMachineSafety::default(), &b).is_pass());
    }

    #[test]
    fn different_entries_at_one_index_fail() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1).apply(2, 1, 2);
        assert!(is_violation(&judge(&StateMachineSafety::default(), &b)));
    }

    #[test]
    fn a_gap_fails() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1).apply(1, 3, 1);
        assert!(is_violation(&judge(&StateMachineSafety::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_first_different_apply_and_not_before() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1).apply(1, 2, 1).apply(2, 1, 1);
        let bad = b.events.len();
        b.apply(2, 2, 2).apply(3, 1, 3);
        assert_fires_at::<StateMachineSafety>(&b, bad);
    }

    #[test]
    fn online_it_fires_at_the_gap() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1).crash(1);
        b.push(
            Some(n(1)),
            sim_core::EventKind::NodeStart { incarnation: 2 },
        );
        // After a restart the node may apply from anywhere once, then in order.
        b.apply(1, 5, 1);
        let bad = b.events.len();
        b.apply(1, 7, 1);
        assert_fires_at::<StateMachineSafety>(&b, bad);
    }
}
