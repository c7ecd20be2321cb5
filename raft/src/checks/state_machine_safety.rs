//! `state-machine-safety`: no two nodes apply different entries at the same index, and each
//! node applies in index order without gaps (Raft, Figure 3).

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, EventKind, Evidence, NodeId, Outcome, RunView, TraceEvent};

use crate::events::RaftEvent;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct StateMachineSafety;

impl Check for StateMachineSafety {
    fn name(&self) -> &'static str {
        "state-machine-safety"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut applied: BTreeMap<u64, (u64, &str, &TraceEvent)> = BTreeMap::new();
        let mut last: BTreeMap<NodeId, u64> = BTreeMap::new();
        for event in &run.trace.events {
            let Some(node) = event.node else { continue };
            match (event.layer::<RaftEvent>(), &event.kind) {
                (_, EventKind::NodeStart { .. }) => {
                    last.remove(&node);
                }
                (Some(RaftEvent::Snapshot { index, .. }), _) => {
                    last.insert(node, *index);
                }
                (
                    Some(RaftEvent::Apply {
                        index,
                        term,
                        digest,
                    }),
                    _,
                ) => {
                    if let Some(&prev) = last.get(&node) {
                        if *index != prev + 1 {
                            return Outcome::violation(
                                format!("{node} applied index {index} right after {prev}"),
                                vec![Evidence::event(event, "out-of-order apply")],
                            );
                        }
                    }
                    last.insert(node, *index);
                    match applied.get(index) {
                        Some((t, d, first)) if (*t, *d) != (*term, digest.as_str()) => {
                            return Outcome::violation(
                                format!(
                                    "two different entries applied at index {index}: term {t} and term {term}"
                                ),
                                vec![
                                    Evidence::event(first, "first applied here"),
                                    Evidence::event(event, "a different entry applied here"),
                                ],
                            );
                        }
                        Some(_) => {}
                        None => {
                            applied.insert(*index, (*term, digest.as_str(), event));
                        }
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
    fn identical_applies_pass() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1)
            .apply(2, 1, 1)
            .apply(1, 2, 1)
            .apply(2, 2, 1);
        assert!(judge(&StateMachineSafety, &b).is_pass());
    }

    #[test]
    fn different_entries_at_one_index_fail() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1).apply(2, 1, 2);
        assert!(is_violation(&judge(&StateMachineSafety, &b)));
    }

    #[test]
    fn a_gap_fails() {
        let mut b = TraceBuilder::new(3);
        b.apply(1, 1, 1).apply(1, 3, 1);
        assert!(is_violation(&judge(&StateMachineSafety, &b)));
    }
}
