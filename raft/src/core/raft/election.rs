//! Elections: campaigning (pre-vote and vote), counting the answers, and answering
//! another candidate's request (the up-to-date-log rule, leader stickiness).

use rand_core::RngCore;

use crate::core::event::{Event, IgnoreReason};
use crate::core::message::{Message, MessageKind, VoteRejectReason};
use crate::core::quorum::{self, VoteResult};
use crate::core::types::{LogIndex, Role, Term};
use sim_core::NodeId;

use super::Raft;

impl<R: RngCore> Raft<R> {
    /// Starts an election (after a pre-vote round if configured), as on an election timeout.
    pub fn hup(&mut self) {
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        // A node that has not applied a committed membership change might campaign under a
        // configuration that no longer holds.
        if self.has_unapplied_conf_change() {
            return;
        }
        self.campaign(self.cfg.pre_vote);
    }

    pub(super) fn campaign(&mut self, pre_vote: bool) {
        let vote_term = if pre_vote {
            self.become_pre_candidate();
            Term(self.term.0 + 1)
        } else {
            self.become_candidate();
            self.term
        };
        if self.poll(self.id, true) == VoteResult::Won {
            self.won(pre_vote);
            return;
        }
        let last_log_index = self.log.last_index();
        let last_log_term = self.log.last_term();
        let peers: Vec<NodeId> = self
            .conf
            .voters
            .iter()
            .copied()
            .filter(|v| *v != self.id)
            .collect();
        for to in peers {
            let kind = if pre_vote {
                MessageKind::PreVote {
                    last_log_index,
                    last_log_term,
                }
            } else {
                MessageKind::RequestVote {
                    last_log_index,
                    last_log_term,
                }
            };
            self.send_with_term(to, vote_term, kind);
        }
    }

    pub(super) fn won(&mut self, pre_vote: bool) {
        if pre_vote {
            self.campaign(false);
        } else {
            self.become_leader();
            self.bcast_append();
        }
    }

    pub(super) fn poll(&mut self, from: NodeId, granted: bool) -> VoteResult {
        self.votes.entry(from).or_insert(granted);
        quorum::vote_result(&self.quorum_voters(), &self.votes)
    }

    pub(super) fn handle_vote_request(
        &mut self,
        m: &Message,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        let pre_vote = matches!(m.kind, MessageKind::PreVote { .. });
        // Figure 2 "votedFor": at most one vote per term. A pre-vote for a future term
        // binds nothing, so it may be granted regardless.
        let can_vote = self.vote == Some(m.from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre_vote && m.term > self.term);
        // Election restriction (§5.4.1). Mutant `vote_without_log_check` skips it.
        let log_ok = self.cfg.mutants.vote_without_log_check
            || self.log.is_up_to_date(last_log_index, last_log_term);
        let resp = |reject| {
            if pre_vote {
                MessageKind::PreVoteResp { reject }
            } else {
                MessageKind::RequestVoteResp { reject }
            }
        };
        if can_vote && log_ok {
            // A granted pre-vote answers in the term it was asked about, so the
            // pre-candidate can tell it from a stale answer.
            let term = if pre_vote { m.term } else { self.term };
            self.send_with_term(m.from, term, resp(None));
            if !pre_vote {
                self.election_elapsed_ticks = 0;
                self.vote = Some(m.from);
            }
            self.events.push(Event::VoteGranted {
                candidate: m.from,
                term: m.term,
                pre_vote,
            });
        } else {
            let reason = if !can_vote {
                match (self.vote, self.leader) {
                    (Some(vote), _) => VoteRejectReason::AlreadyVoted { vote },
                    (None, Some(leader)) => VoteRejectReason::KnownLeader { leader },
                    (None, None) => VoteRejectReason::StaleTerm,
                }
            } else {
                VoteRejectReason::LogNotUpToDate {
                    last_log_index: self.log.last_index(),
                    last_log_term: self.log.last_term(),
                }
            };
            self.send(m.from, resp(Some(reason)));
            self.events.push(Event::VoteRefused {
                candidate: m.from,
                term: m.term,
                pre_vote,
                reason,
            });
        }
    }

    // ----- step -----

    pub(super) fn step_candidate(&mut self, m: Message) {
        match m.kind {
            MessageKind::PreVoteResp { reject } if self.role == Role::PreCandidate => {
                if reject.is_none() && m.term != Term(self.term.0 + 1) {
                    return self.ignored(&m, IgnoreReason::StaleGrant);
                }
                self.tally(m.from, reject.is_none());
            }
            MessageKind::RequestVoteResp { reject } if self.role == Role::Candidate => {
                self.tally(m.from, reject.is_none());
            }
            MessageKind::AppendEntries { .. }
            | MessageKind::Heartbeat { .. }
            | MessageKind::InstallSnapshot { .. } => {
                // Someone else won this term (§5.2).
                self.become_follower(m.term, Some(m.from));
                self.step_follower(m);
            }
            _ => self.ignored(&m, IgnoreReason::NotForRole { role: self.role }),
        }
    }

    pub(super) fn tally(&mut self, from: NodeId, granted: bool) {
        match self.poll(from, granted) {
            VoteResult::Won => self.won(self.role == Role::PreCandidate),
            VoteResult::Lost => self.become_follower(self.term, None),
            VoteResult::Pending => {}
        }
    }
}
