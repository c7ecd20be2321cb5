//! The Raft layer's trace events: what a member's role, votes, log, commit index, state
//! machine and membership did, written by the driver ([`crate::driver`]) into the world's
//! trace and read back, as this type, by the checkers, the scenarios' stories and the
//! reports (see `sim_core::layer`).
//!
//! Each event is a fact made durable or observable on one node, recorded on that node:
//! `hard-state`, `log-append` and `log-truncate` after the fsync that made them durable,
//! `role`, `commit` and `apply` when the core reported them. A message the core did not
//! act on is an `ignored` event with its reason, as raft-rs logs each message it drops, so
//! a delivered message never vanishes without a word.

use serde::{Deserialize, Serialize};
use sim_core::layer::LayerEvent;
use sim_core::NodeId;

use crate::core::{Role, VoteRejectReason};

/// A log entry as traces name it: position, term, and a short digest of its data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRef {
    /// Its index.
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// Short digest of its data (see [`digest`]).
    pub digest: String,
}

/// A short, stable digest of bytes for traces (first 8 hex digits of BLAKE3).
pub fn digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..8].to_string()
}

/// What happened on a Raft member. Serialized with a `type` tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RaftEvent {
    /// The member changed role or term.
    Role {
        /// Its new role.
        role: Role,
        /// Its current term.
        term: u64,
        /// The leader it knows of, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<NodeId>,
    },
    /// The member answered a vote (or pre-vote) request.
    Vote {
        /// The candidate.
        candidate: NodeId,
        /// The term of the request.
        term: u64,
        /// A pre-vote (does not change terms) or a real vote.
        pre_vote: bool,
        /// Why it was refused; none when granted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<VoteRejectReason>,
    },
    /// The member's hard state (term, vote, commit) became durable.
    HardState {
        /// Current term.
        term: u64,
        /// Vote in that term.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vote: Option<NodeId>,
        /// Commit index.
        commit: u64,
    },
    /// Entries became durable in the member's log (appended at their indexes, replacing
    /// any suffix a `log-truncate` removed).
    LogAppend {
        /// The entries.
        entries: Vec<EntryRef>,
    },
    /// The member removed its log entries from `from_index` on (a conflict with the
    /// leader).
    LogTruncate {
        /// First index removed.
        from_index: u64,
    },
    /// The member's commit index advanced.
    Commit {
        /// The new commit index.
        index: u64,
        /// The term of the entry at that index.
        term: u64,
    },
    /// The member applied a committed entry to its state machine.
    Apply {
        /// Its index.
        index: u64,
        /// Its term.
        term: u64,
        /// Short digest of its data.
        digest: String,
    },
    /// The member took a snapshot (compacting its log) or installed one from the leader.
    Snapshot {
        /// Last index the snapshot covers.
        index: u64,
        /// Term of that entry.
        term: u64,
        /// Installed from the leader (`true`) or taken locally (`false`).
        installed: bool,
    },
    /// The member's view of the cluster membership changed.
    Membership {
        /// Voting members.
        voters: Vec<NodeId>,
        /// Non-voting members.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        learners: Vec<NodeId>,
    },
}

impl LayerEvent for RaftEvent {
    const LAYER: &'static str = "raft";
}
