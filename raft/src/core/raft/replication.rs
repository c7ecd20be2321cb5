//! Log replication: a follower's side (appends, snapshots from the leader) and the
//! leader's (progress per peer, appends and heartbeats sent, commitment by quorum).

use rand_core::RngCore;

use crate::core::event::{Event, IgnoreReason};
use crate::core::message::{AppendOutcome, Message, MessageKind};
use crate::core::progress::ProgressState;
use crate::core::quorum::{self};
use crate::core::read_only::ReadState;
use crate::core::types::{Entry, LogIndex, Snapshot, Term};
use sim_core::NodeId;

use super::Raft;

impl<R: RngCore> Raft<R> {
    pub(super) fn follow(&mut self, leader: NodeId) {
        self.election_elapsed_ticks = 0;
        if self.leader != Some(leader) {
            self.leader = Some(leader);
            self.role_event();
        }
    }

    pub(super) fn step_follower(&mut self, m: Message) {
        let from = m.from;
        match m.kind {
            MessageKind::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                commit,
            } => {
                self.follow(from);
                self.handle_append(from, prev_log_index, prev_log_term, &entries, commit);
            }
            MessageKind::Heartbeat { commit, context } => {
                self.follow(from);
                // The leader sends min(match, commit), so `commit` is within our log unless
                // the `truncate_committed` mutant cut it; then (as etcd would, minus its
                // panic) commit what we have and let the checkers judge the damage.
                let commit = if self.cfg.mutants.truncate_committed {
                    commit.min(self.log.last_index())
                } else {
                    commit
                };
                self.commit_to(commit);
                self.send(from, MessageKind::HeartbeatResp { context });
            }
            MessageKind::InstallSnapshot { snapshot } => {
                self.follow(from);
                self.handle_snapshot(from, snapshot);
            }
            MessageKind::ReadIndexResp { context, index } => {
                self.read_states.push(ReadState { index, context });
            }
            _ => self.ignored(&m, IgnoreReason::NotForRole { role: self.role }),
        }
    }

    pub(super) fn handle_append(
        &mut self,
        from: NodeId,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: &[Entry],
        commit: LogIndex,
    ) {
        // Mutant `truncate_committed` also drops this guard, so stale appends reach the log.
        if prev_log_index < self.log.committed && !self.cfg.mutants.truncate_committed {
            // Everything up to our commit index already matches (it is committed).
            let outcome = AppendOutcome::Accepted {
                match_index: self.log.committed,
            };
            self.send(from, MessageKind::AppendEntriesResp { outcome });
            return;
        }
        let old_commit = self.log.committed;
        let truncate_committed = self.cfg.mutants.truncate_committed;
        let outcome = match self.log.maybe_append(
            prev_log_index,
            prev_log_term,
            commit,
            entries,
            truncate_committed,
        ) {
            Some(last_new) => AppendOutcome::Accepted {
                match_index: last_new,
            },
            None => {
                let hint_index = self
                    .log
                    .find_conflict_by_term(prev_log_index, prev_log_term);
                let hint_term = self.log.term(hint_index).unwrap_or_default();
                AppendOutcome::Rejected {
                    rejected_index: prev_log_index,
                    hint_index,
                    hint_term,
                }
            }
        };
        if self.log.committed > old_commit {
            self.events.push(Event::CommitAdvanced {
                from: old_commit,
                to: self.log.committed,
            });
        }
        if self.log.applied > self.log.committed {
            // Only reachable with the `truncate_committed` mutant: applied entries were
            // replaced, and the application will apply the new ones at the same indexes.
            self.log.applied = self.log.committed;
        }
        self.send(from, MessageKind::AppendEntriesResp { outcome });
    }

    pub(super) fn handle_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        let (index, term) = (snapshot.meta.index, snapshot.meta.term);
        if index <= self.log.committed {
            // Stale: we already have everything it covers.
        } else if self.log.match_term(index, term) {
            // Our log already contains the snapshot's last entry: just commit up to it.
            self.commit_to(index);
        } else {
            let from_commit = self.log.committed;
            self.conf = snapshot.meta.conf_state.clone();
            self.log.restore(snapshot);
            self.events.push(Event::CommitAdvanced {
                from: from_commit,
                to: index,
            });
        }
        let last_index = self.log.committed;
        self.send(from, MessageKind::InstallSnapshotResp { last_index });
    }

    pub(super) fn step_leader(&mut self, m: Message) {
        let from = m.from;
        match self.progress.get_mut(&from) {
            Some(pr) => pr.recent_active = true,
            None => return self.ignored(&m, IgnoreReason::NotMember),
        }
        match m.kind {
            MessageKind::AppendEntriesResp { outcome } => self.handle_append_resp(from, outcome),
            MessageKind::HeartbeatResp { context } => self.handle_heartbeat_resp(from, context),
            MessageKind::InstallSnapshotResp { last_index } => {
                let pr = self.progress.get_mut(&from).expect("checked above");
                if matches!(pr.state, ProgressState::Snapshot { .. }) {
                    pr.maybe_update(last_index);
                    pr.become_probe();
                    self.send_append(from);
                }
            }
            MessageKind::ReadIndex { context } => self.leader_read(from, context),
            _ => self.ignored(&m, IgnoreReason::NotForRole { role: self.role }),
        }
    }

    pub(super) fn handle_append_resp(&mut self, from: NodeId, outcome: AppendOutcome) {
        let max_inflight = self.cfg.max_inflight_msgs;
        match outcome {
            AppendOutcome::Accepted { match_index } => {
                let pr = self
                    .progress
                    .get_mut(&from)
                    .expect("leader has progress for sender");
                let was_paused = pr.is_paused(max_inflight);
                if !pr.maybe_update(match_index) {
                    return;
                }
                match pr.state {
                    ProgressState::Probe => pr.become_replicate(),
                    ProgressState::Snapshot { pending_index }
                        if pr.match_index >= pending_index =>
                    {
                        pr.become_probe();
                        pr.become_replicate();
                    }
                    ProgressState::Snapshot { .. } => {}
                    ProgressState::Replicate => pr.free_inflight_to(match_index),
                }
                if self.maybe_commit() {
                    self.bcast_append();
                } else if was_paused {
                    self.send_append(from);
                }
                while self.maybe_send_append(from, false) {}
            }
            AppendOutcome::Rejected {
                rejected_index,
                hint_index,
                hint_term,
            } => {
                // Fast backtracking: jump to the last index where our log can match the
                // follower's given its hint, instead of one entry per round trip.
                let next_probe = if hint_term > Term(0) {
                    self.log.find_conflict_by_term(hint_index, hint_term)
                } else {
                    hint_index
                };
                let pr = self
                    .progress
                    .get_mut(&from)
                    .expect("leader has progress for sender");
                if pr.maybe_decr_to(rejected_index, next_probe) {
                    if pr.state == ProgressState::Replicate {
                        pr.become_probe();
                    }
                    self.send_append(from);
                }
            }
        }
    }

    pub(super) fn handle_heartbeat_resp(&mut self, from: NodeId, context: Option<Vec<u8>>) {
        let max_inflight = self.cfg.max_inflight_msgs;
        let pr = self
            .progress
            .get_mut(&from)
            .expect("leader has progress for sender");
        pr.probe_sent = false;
        if pr.state == ProgressState::Replicate && pr.inflight.len() >= max_inflight {
            pr.inflight.pop_front();
        }
        if pr.match_index < self.log.last_index() {
            self.send_append(from);
        }
        let Some(ctx) = context else { return };
        let voters = self.quorum_voters();
        let confirmed = self
            .read_only
            .recv_ack(from, &ctx)
            .is_some_and(|acks| quorum::has_quorum(&voters, acks));
        if confirmed {
            for s in self.read_only.advance(&ctx) {
                self.respond_read(s.from, s.context, s.index);
            }
        }
    }

    // ----- replication -----

    pub(super) fn send_append(&mut self, to: NodeId) {
        self.maybe_send_append(to, true);
    }

    /// Sends the next append (or the snapshot, if the entries it needs were compacted) to
    /// `to`, unless its progress is paused. Returns whether something was sent.
    pub(super) fn maybe_send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let max_inflight = self.cfg.max_inflight_msgs;
        let max_entries = self.cfg.max_entries_per_msg;
        let Some(pr) = self.progress.get(&to) else {
            return false;
        };
        if pr.is_paused(max_inflight) {
            return false;
        }
        let prev = pr.next_index.prev();
        let prev_term = self.log.term(prev);
        let entries = self.log.entries_from(pr.next_index, max_entries);
        let kind = match (prev_term, entries) {
            (Some(prev_log_term), Some(entries)) => {
                if entries.is_empty() && !send_if_empty {
                    return false;
                }
                let last = entries.last().map(|e| e.index);
                self.progress
                    .get_mut(&to)
                    .expect("checked")
                    .sent_entries(last);
                MessageKind::AppendEntries {
                    prev_log_index: prev,
                    prev_log_term,
                    entries,
                    commit: self.log.committed,
                }
            }
            _ => {
                let snapshot = self.log.snapshot().clone();
                self.progress
                    .get_mut(&to)
                    .expect("checked")
                    .become_snapshot(snapshot.meta.index);
                MessageKind::InstallSnapshot { snapshot }
            }
        };
        self.send(to, kind);
        true
    }

    pub(super) fn bcast_append(&mut self) {
        let peers: Vec<NodeId> = self
            .progress
            .keys()
            .copied()
            .filter(|p| *p != self.id)
            .collect();
        for p in peers {
            self.send_append(p);
        }
    }

    pub(super) fn bcast_heartbeat(&mut self, context: Option<Vec<u8>>) {
        let beats: Vec<(NodeId, LogIndex)> = self
            .progress
            .iter()
            .filter(|(id, _)| **id != self.id)
            .map(|(id, pr)| (*id, pr.match_index.min(self.log.committed)))
            .collect();
        for (to, commit) in beats {
            self.send(
                to,
                MessageKind::Heartbeat {
                    commit,
                    context: context.clone(),
                },
            );
        }
    }

    /// Advances the commit index to what a majority has replicated. Returns whether it moved.
    pub(super) fn maybe_commit(&mut self) -> bool {
        let mci = quorum::committed_index(&self.quorum_voters(), |id| {
            self.progress
                .get(&id)
                .map_or(LogIndex(0), |p| p.match_index)
        });
        if mci <= self.log.committed {
            return false;
        }
        // Raft §5.4.2 (Figure 8): replica counting commits only entries of the current term;
        // earlier ones are committed indirectly. Mutant `commit_old_term` skips the check.
        if self.log.term(mci) != Some(self.term) && !self.cfg.mutants.commit_old_term {
            return false;
        }
        self.commit_to(mci);
        if self.committed_entry_in_current_term() && !self.reads_awaiting_commit.is_empty() {
            for (from, ctx) in std::mem::take(&mut self.reads_awaiting_commit) {
                self.leader_read(from, ctx);
            }
        }
        true
    }

    pub(super) fn committed_entry_in_current_term(&self) -> bool {
        self.log.term(self.log.committed) == Some(self.term)
    }
}
