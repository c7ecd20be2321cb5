//! `term-and-vote-durable`: a node's term never goes back and its vote in a term never
//! changes, across restarts; every durable hard state keeps the promises the node already
//! made (a granted vote in term `t` for `c`: never again a term below `t`, nor another vote
//! in `t`); and no node grants its vote to two candidates in one term.
//!
//! The planted bug `forget-vote-on-restart` (term and vote not persisted before answering)
//! makes a node restarted right after voting come back with an older hard state: the third
//! rule catches that at recovery, the last one if it then votes again.

use std::collections::BTreeMap;

use sim_core::{Evidence, NodeId, OnlineCheck, TraceEvent, Violation};

use crate::events::RaftEvent;

/// See the module docs. Judged online: the state is each node's last durable hard state,
/// the vote it granted in each term, and the newest vote it granted.
#[derive(Clone, Debug, Default)]
pub struct TermAndVoteDurable {
    /// Each node's last durable (term, vote), and where it was recorded.
    hard: BTreeMap<NodeId, (u64, Option<NodeId>, Evidence)>,
    /// The vote each node granted in each term, and where.
    votes: BTreeMap<(NodeId, u64), (NodeId, Evidence)>,
    /// The newest vote each node has granted: (term, candidate, where).
    promised: BTreeMap<NodeId, (u64, NodeId, Evidence)>,
}

impl OnlineCheck for TermAndVoteDurable {
    const NAME: &'static str = "term-and-vote-durable";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        let node = event.node?;
        match event.layer::<RaftEvent>() {
            Some(RaftEvent::HardState { term, vote, .. }) => {
                if let Some((promised_term, candidate, promise)) = self.promised.get(&node) {
                    let forgot = term < promised_term
                        || (term == promised_term && *vote != Some(*candidate));
                    if forgot {
                        return Some(Violation::new(
                            format!(
                                "{node} voted for {candidate} in term {promised_term}, then its durable state said term {term} vote {}",
                                show(*vote)
                            ),
                            vec![
                                promise.clone(),
                                Evidence::event(event, "a durable state that forgot it"),
                            ],
                        ));
                    }
                }
                if let Some((prev_term, prev_vote, prev)) = self.hard.get(&node) {
                    let back = term < prev_term;
                    let vote_changed =
                        term == prev_term && prev_vote.is_some() && vote != prev_vote;
                    if back || vote_changed {
                        return Some(Violation::new(
                            format!(
                                "{node} went from term {prev_term} vote {} to term {term} vote {}",
                                show(*prev_vote),
                                show(*vote)
                            ),
                            vec![prev.clone(), Evidence::event(event, "after")],
                        ));
                    }
                }
                self.hard
                    .insert(node, (*term, *vote, Evidence::event(event, "before")));
            }
            Some(RaftEvent::Vote {
                candidate,
                term,
                pre_vote: false,
                refused: None,
            }) => {
                if let Some((first, first_event)) = self.votes.get(&(node, *term)) {
                    if first != candidate {
                        return Some(Violation::new(
                            format!("{node} voted twice in term {term}: for {first} and for {candidate}"),
                            vec![first_event.clone(), Evidence::event(event, "second vote")],
                        ));
                    }
                } else {
                    let first = Evidence::event(event, "first vote");
                    self.votes.insert((node, *term), (*candidate, first));
                }
                if self.promised.get(&node).is_none_or(|(t, _, _)| t <= term) {
                    let promise = Evidence::event(event, "the vote it gave");
                    self.promised.insert(node, (*term, *candidate, promise));
                }
            }
            _ => {}
        }
        None
    }
}

fn show(vote: Option<NodeId>) -> String {
    vote.map_or_else(|| "none".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;

    #[test]
    fn steady_terms_and_votes_pass() {
        let mut b = TraceBuilder::new(3);
        b.hard_state(1, 1, None)
            .hard_state(1, 1, Some(2))
            .vote(1, 2, 1);
        b.crash(1).hard_state(1, 1, Some(2)).hard_state(1, 2, None);
        assert!(judge(&TermAndVoteDurable::default(), &b).is_pass());
    }

    #[test]
    fn a_term_going_back_fails() {
        let mut b = TraceBuilder::new(3);
        b.hard_state(1, 3, None).crash(1).hard_state(1, 2, None);
        assert!(is_violation(&judge(&TermAndVoteDurable::default(), &b)));
    }

    #[test]
    fn coming_back_without_a_vote_already_given_fails() {
        let mut b = TraceBuilder::new(3);
        b.hard_state(1, 4, Some(2))
            .vote(1, 2, 4)
            .hard_state(1, 4, Some(2));
        assert!(judge(&TermAndVoteDurable::default(), &b).is_pass());
        b.crash(1).hard_state(1, 3, None);
        assert!(is_violation(&judge(&TermAndVoteDurable::default(), &b)));
    }

    #[test]
    fn voting_twice_in_a_term_fails() {
        let mut b = TraceBuilder::new(3);
        b.vote(1, 2, 4).crash(1).vote(1, 3, 4);
        assert!(is_violation(&judge(&TermAndVoteDurable::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_state_that_forgot_a_vote_and_not_before() {
        let mut b = TraceBuilder::new(3);
        b.hard_state(1, 4, Some(2))
            .vote(1, 2, 4)
            .hard_state(1, 4, Some(2))
            .crash(1);
        let bad = b.events.len();
        b.hard_state(1, 3, None).vote(1, 3, 4);
        assert_fires_at::<TermAndVoteDurable>(&b, bad);
    }

    #[test]
    fn online_it_fires_at_the_second_vote() {
        let mut b = TraceBuilder::new(3);
        b.vote(1, 2, 4).vote(1, 2, 4).vote(2, 3, 4).crash(1);
        let bad = b.events.len();
        b.vote(1, 3, 4).hard_state(1, 2, None);
        assert_fires_at::<TermAndVoteDurable>(&b, bad);
    }
}
