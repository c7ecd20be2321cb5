//! What a leader knows about each follower's log, and how it paces replication to it.

use std::collections::VecDeque;

use super::types::LogIndex;

/// How the leader sends to a follower (etcd `tracker/state.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// The leader does not know where the follower's log matches: one append per heartbeat
    /// interval until one is accepted.
    Probe,
    /// The follower's log matches; the leader streams appends optimistically, bounded by
    /// the in-flight window.
    Replicate,
    /// The follower needs the snapshot at `pending_index`; nothing else is sent until it
    /// reports back.
    Snapshot { pending_index: LogIndex },
}

/// Replication progress of one member, kept by the leader.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    pub match_index: LogIndex,
    /// Next index to send.
    pub next_index: LogIndex,
    pub state: ProgressState,
    /// In probe state: an append was sent and no answer came yet.
    pub probe_sent: bool,
    /// In replicate state: last index of each append in flight.
    pub inflight: VecDeque<LogIndex>,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
    pub is_learner: bool,
}

impl Progress {
    /// A fresh progress for a leader whose last index is `last`.
    pub fn new(last: LogIndex, is_learner: bool) -> Progress {
        Progress {
            match_index: LogIndex(0),
            next_index: last.next(),
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: false,
            is_learner,
        }
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.state = state;
        self.probe_sent = false;
        self.inflight.clear();
    }

    pub fn become_probe(&mut self) {
        if let ProgressState::Snapshot { pending_index } = self.state {
            self.reset_state(ProgressState::Probe);
            self.next_index = self.match_index.next().max(pending_index.next());
        } else {
            self.reset_state(ProgressState::Probe);
            self.next_index = self.match_index.next();
        }
    }

    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next_index = self.match_index.next();
    }

    pub fn become_snapshot(&mut self, pending_index: LogIndex) {
        self.reset_state(ProgressState::Snapshot { pending_index });
    }

    /// The follower accepted up to `n`. Returns whether that was news.
    pub fn maybe_update(&mut self, n: LogIndex) -> bool {
        let updated = n > self.match_index;
        if updated {
            self.match_index = n;
            self.probe_sent = false;
        }
        self.next_index = self.next_index.max(n.next());
        updated
    }

    /// The follower rejected an append at `rejected`; `match_hint` is where the leader
    /// thinks the logs may match. Returns false for a stale rejection.
    pub fn maybe_decr_to(&mut self, rejected: LogIndex, match_hint: LogIndex) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.match_index {
                return false;
            }
            self.next_index = self.match_index.next();
            return true;
        }
        if self.next_index.prev() != rejected {
            return false;
        }
        self.next_index = rejected.min(match_hint.next()).max(self.match_index.next());
        self.probe_sent = false;
        true
    }

    /// An append ending at `last` was sent.
    pub fn sent_entries(&mut self, last: Option<LogIndex>) {
        match self.state {
            ProgressState::Replicate => {
                if let Some(last) = last {
                    self.next_index = last.next();
                    self.inflight.push_back(last);
                }
            }
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Snapshot { .. } => {}
        }
    }

    /// Frees the in-flight slots of appends up to `n`.
    pub fn free_inflight_to(&mut self, n: LogIndex) {
        while self.inflight.front().is_some_and(|i| *i <= n) {
            self.inflight.pop_front();
        }
    }

    /// Whether the leader must wait before sending more.
    pub fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= max_inflight,
            ProgressState::Snapshot { .. } => true,
        }
    }
}
