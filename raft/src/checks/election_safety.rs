//! `election-safety`: at most one leader is elected in a given term (Raft, Figure 3).

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, NodeId, Outcome, RunView, TraceEvent};

use crate::core::Role;
use crate::events::RaftEvent;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ElectionSafety;

impl Check for ElectionSafety {
    fn name(&self) -> &'static str {
        "election-safety"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut leaders: BTreeMap<u64, (NodeId, &TraceEvent)> = BTreeMap::new();
        for event in &run.trace.events {
            let Some(RaftEvent::Role {
                role: Role::Leader,
                term,
                ..
            }) = event.layer::<RaftEvent>()
            else {
                continue;
            };
            let node = event.node.expect("role events have a node");
            match leaders.get(term) {
                Some((first, first_event)) if *first != node => {
                    return Outcome::violation(
                        format!("two leaders in term {term}: {first} and {node}"),
                        vec![
                            Evidence::event(first_event, format!("{first} leads term {term}")),
                            Evidence::event(event, format!("{node} also leads term {term}")),
                        ],
                    );
                }
                Some(_) => {}
                None => {
                    leaders.insert(*term, (node, event));
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
    fn one_leader_per_term_passes() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).leader(2, 2).leader(2, 2);
        assert!(judge(&ElectionSafety, &b).is_pass());
    }

    #[test]
    fn two_leaders_in_one_term_fail() {
        let mut b = TraceBuilder::new(4);
        b.leader(1, 3).leader(3, 3);
        assert!(is_violation(&judge(&ElectionSafety, &b)));
    }
}
