//! `term-and-vote-durable`: a node's term never goes back and its vote in a term never
//! changes, across restarts; and no node grants its vote to two candidates in one term.
//!
//! The planted bug `forget-vote-on-restart` (term and vote not persisted before answering)
//! lets a restarted node vote again in the same term, which the second rule catches.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, EventKind, Evidence, NodeId, Outcome, RunView, TraceEvent};

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
        for event in &run.trace.events {
            let Some(node) = event.node else { continue };
            match &event.kind {
                EventKind::HardState { term, vote, .. } => {
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
                EventKind::Vote {
                    candidate,
                    term,
                    pre_vote: false,
                    granted: true,
                    ..
                } => match votes.get(&(node, *term)) {
                    Some((first, first_event)) if first != candidate => {
                        return Outcome::violation(
                            format!("{node} voted twice in term {term}: for {first} and for {candidate}"),
                            vec![
                                Evidence::event(first_event, "first vote"),
                                Evidence::event(event, "second vote"),
                            ],
                        );
                    }
                    Some(_) => {}
                    None => {
                        votes.insert((node, *term), (*candidate, event));
                    }
                },
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
    fn voting_twice_in_a_term_fails() {
        let mut b = TraceBuilder::new(3);
        b.vote(1, 2, 4).crash(1).vote(1, 3, 4);
        assert!(is_violation(&judge(&TermAndVoteDurable, &b)));
    }
}
