//! `election-safety`: at most one leader is elected in a given term (Raft, Figure 3).

use std::collections::BTreeMap;

use sim_core::{Evidence, NodeId, OnlineCheck, TraceEvent, Violation};

use crate::core::Role;
use crate::events::RaftEvent;

/// See the module docs. Judged online: the state is the first leader seen for each term.
#[derive(Clone, Debug, Default)]
pub struct ElectionSafety {
    /// Each term's first leader, and where it took office.
    leaders: BTreeMap<u64, (NodeId, Evidence)>,
}

impl OnlineCheck for ElectionSafety {
    const NAME: &'static str = "election-safety";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        let Some(RaftEvent::Role {
            role: Role::Leader,
            term,
            ..
        }) = event.layer::<RaftEvent>()
        else {
            return None;
        };
        let node = event.node.expect("role events have a node");
        match self.leaders.get(term) {
            Some((first, first_event)) if *first != node => Some(Violation::new(
                format!("two leaders in term {term}: {first} and {node}"),
                vec![
                    first_event.clone(),
                    Evidence::event(event, format!("{node} also leads term {term}")),
                ],
            )),
            Some(_) => None,
            None => {
                let took_office = Evidence::event(event, format!("{node} leads term {term}"));
                self.leaders.insert(*term, (node, took_office));
                None
            }
        }
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
        assert!(judge(&ElectionSafety::default(), &b).is_pass());
    }

    #[test]
    fn two_leaders_in_one_term_fail() {
        let mut b = TraceBuilder::new(4);
        b.leader(1, 3).leader(3, 3);
        assert!(is_violation(&judge(&ElectionSafety::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_second_leader_of_a_term_and_not_before() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 1).leader(2, 2).leader(1, 1).leader(3, 3);
        let bad = b.events.len();
        b.leader(1, 3).leader(2, 3);
        assert_fires_at::<ElectionSafety>(&b, bad);
    }
}
