//! `term-and-vote-durable`: a node's term never goes back and its vote in a term never
//! changes, across restarts; every durable hard state keeps the promises the node already
//! made (a granted vote in term `t` for `c`: never again a term below `t`, nor another vote
//! in `t`); and no node grants its vote to two candidates in one term.
//!
//! The planted bug `forget-vote-on-restart` (term and vote not persisted before answering)
//! makes a node restarted right after voting come back with an older hard state: the third
//! rule catches that at recovery, the last one if it then votes again.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, NodeId, Outcome, RunView, TraceEvent};

use crate::events::RaftEvent;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct TermAndVoteDurable;

impl Check for TermAndVoteDurable {
    fn name(&self) -> &'static str {
        "term-and-vote-durable"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut hard: BTreeMap<NodeId, (u64, Option<NodeId>, &TraceEvent)> = BTreeMap::new();
        let mut votes: BTreeMap<(NodeId, u64), (NodeId, &TraceEvent)> = BTreeMap::new();
        // The newest vote each node has granted: (term, candidate, where).
        let mut promised: BTreeMap<NodeId, (u64, NodeId, &TraceEvent)> = BTreeMap::new();
        for event in &run.trace.events {
            let Some(node) = event.node else { continue };
            match event.layer::<RaftEvent>() {
                Some(RaftEvent::HardState { term, vote, .. }) => {
                    if let Some((promised_term, candidate, promise)) = promised.get(&node) {
                        let forgot = term < promised_term
                            || (term == promised_term && *vote != Some(*candidate));
                        if forgot {
                            return Outcome::violation(
                                format!(
                                    "{node} voted for {candidate} in term {promised_term}, then its durable state said term {term} vote {}",
                                    show(*vote)
                                ),
                                vec![
                                    Evidence::event(promise, "the vote it gave"),
                                    Evidence::event(event, "a durable state that forgot it"),
                                ],
                            );
                        }
                    }
                    if let Some((prev_term, prev_vote, prev)) = hard.get(&node) {
                        let back = term < prev_term;
                        let vote_changed =
                            term == prev_term && prev_vote.is_some() && vote != prev_vote;
                        if back || vote_changed {
                            return Outcome::violation(
                                format!(
                                    "{node} went from term {prev_term} vote {} to term {term} vote {}",
                                    show(*prev_vote),
                                    show(*vote)
                                ),
                                vec![
                                    Evidence::event(prev, "before"),
                                    Evidence::event(event, "after"),
                                ],
                            );
                        }
                    }
                    hard.insert(node, (*term, *vote, event));
                }
                Some(RaftEvent::Vote {
                    candidate,
                    term,
                    pre_vote: false,
                    refused: None,
                }) => {
                    if let Some((first, first_event)) = votes.get(&(node, *term)) {
                        if first != candidate {
                            return Outcome::violation(
                                format!("{node} voted twice in term {term}: for {first} and for {candidate}"),
                                vec![
                                    Evidence::event(first_event, "first vote"),
                                    Evidence::event(event, "second vote"),
                                ],
                            );
                        }
                    } else {
                        votes.insert((node, *term), (*candidate, event));
                    }
                    if promised.get(&node).is_none_or(|(t, _, _)| t <= term) {
                        promised.insert(node, (*term, *candidate, event));
                    }
                }
                _ => {}
            }
        }
        Outcome::Pass
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
        assert!(judge(&TermAndVoteDurable, &b).is_pass());
    }

    #[test]
    fn a_term_going_back_fails() {
        let mut b = TraceBuilder::new(3);
        b.hard_state(1, 3, None).crash(1).hard_state(1, 2, None);
        assert!(is_violation(&judge(&TermAndVoteDurable, &b)));
    }

    #[test]
    fn coming_back_without_a_vote_already_given_fails() {
        let mut b = TraceBuilder::new(3);
        b.hard_state(1, 4, Some(2))
            .vote(1, 2, 4)
            .hard_state(1, 4, Some(2));
        assert!(judge(&TermAndVoteDurable, &b).is_pass());
        b.crash(1).hard_state(1, 3, None);
        assert!(is_violation(&judge(&TermAndVoteDurable, &b)));
    }

    #[test]
    fn voting_twice_in_a_term_fails() {
        let mut b = TraceBuilder::new(3);
        b.vote(1, 2, 4).crash(1).vote(1, 3, 4);
        assert!(is_violation(&judge(&TermAndVoteDurable, &b)));
    }
}
