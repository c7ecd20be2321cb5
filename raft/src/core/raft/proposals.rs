//! Proposals: appending a client's entry or a membership change at the leader (one
//! change at a time), and applying a committed change to the configuration.

use rand_core::RngCore;

use crate::core::config::ProposeError;
use crate::core::event::Event;
use crate::core::progress::Progress;
use crate::core::types::{ConfChange, Entry, EntryKind, LogIndex, Role};

use super::Raft;

impl<R: RngCore> Raft<R> {
    pub(super) fn append_entry(&mut self, kind: EntryKind) -> LogIndex {
        let index = self.log.last_index().next();
        self.log.append(&[Entry {
            term: self.term,
            index,
            kind,
        }]);
        if let Some(me) = self.progress.get_mut(&self.id) {
            me.maybe_update(index);
        }
        self.maybe_commit();
        index
    }

    // ----- client requests -----

    /// Appends `kind` to the leader's log and replicates it; returns its index.
    pub fn propose(&mut self, kind: EntryKind) -> Result<LogIndex, ProposeError> {
        if self.role != Role::Leader || !self.progress.contains_key(&self.id) {
            return Err(ProposeError::NotLeader {
                leader: self.leader.filter(|l| *l != self.id),
            });
        }
        if let EntryKind::ConfChange(cc) = &kind {
            // Mutant `concurrent_conf_change`: skip the one-at-a-time guard.
            if self.pending_conf_index > self.log.applied
                && !self.cfg.mutants.concurrent_conf_change
            {
                return Err(ProposeError::ConfChangePending);
            }
            self.validate_conf_change(*cc)?;
        }
        let is_cc = matches!(kind, EntryKind::ConfChange(_));
        let index = self.append_entry(kind);
        if is_cc {
            self.pending_conf_index = index;
        }
        self.bcast_append();
        Ok(index)
    }

    pub(super) fn validate_conf_change(&self, cc: ConfChange) -> Result<(), ProposeError> {
        let invalid = |s: String| Err(ProposeError::InvalidConfChange(s));
        match cc {
            ConfChange::AddLearner(n) if self.conf.contains(n) => {
                invalid(format!("{n} is already a member"))
            }
            ConfChange::Promote(n) if !self.conf.learners.contains(&n) => {
                invalid(format!("{n} is not a learner"))
            }
            ConfChange::Remove(n) if !self.conf.contains(n) => {
                invalid(format!("{n} is not a member"))
            }
            ConfChange::Remove(n)
                if self.conf.voters.len() == 1 && self.conf.voters.contains(&n) =>
            {
                invalid("cannot remove the last voter".into())
            }
            _ => Ok(()),
        }
    }

    /// Makes a committed membership change take effect (called as the application applies it).
    pub(crate) fn apply_conf_change(&mut self, index: LogIndex, cc: ConfChange) {
        let last = self.log.last_index();
        match cc {
            ConfChange::AddLearner(n) => {
                self.conf.learners.insert(n);
                self.progress
                    .entry(n)
                    .or_insert_with(|| Progress::new(last, true));
                self.last_heard_tick.insert(n, self.ticks);
            }
            ConfChange::Promote(n) => {
                self.conf.learners.remove(&n);
                self.conf.voters.insert(n);
                if let Some(pr) = self.progress.get_mut(&n) {
                    pr.is_learner = false;
                }
            }
            ConfChange::Remove(n) => {
                self.conf.voters.remove(&n);
                self.conf.learners.remove(&n);
                self.progress.remove(&n);
            }
        }
        self.events
            .push(Event::ConfChangeApplied { index, change: cc });
        if self.role != Role::Leader {
            return;
        }
        if cc == ConfChange::Remove(self.id) {
            // A leader that is no longer a member must not keep leading: it would count a
            // quorum it is not part of.
            self.become_follower(self.term, None);
            return;
        }
        // The quorum changed: something may now be committed.
        if self.maybe_commit() {
            self.bcast_append();
        }
        if let ConfChange::AddLearner(n) = cc {
            self.send_append(n);
        }
    }
}
