//! Typed identifiers and the plain data the core persists: entries, hard state, snapshots.
//!
//! A member is named by sim-core's [`NodeId`], the one node id of every crate, so a vote,
//! a conf change or an ignored message reaches the trace naming its node as the rest of
//! the trace does (`n2`). Using the type keeps the core sans-IO: it is a plain `Copy`
//! newtype, nothing of the simulated world comes with it.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A Raft term: a logical clock that only moves forward.
    Term
);
id_type!(
    /// A position in the replicated log. Index 0 is the empty prefix; entries start at 1.
    LogIndex
);

impl LogIndex {
    /// The index after this one.
    #[must_use]
    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }

    /// The index before this one, saturating at 0.
    #[must_use]
    pub fn prev(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }
}

/// A membership change. One change at a time: a leader refuses a new change while an
/// earlier one is not applied yet, which keeps any two successive majorities overlapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfChange {
    /// Add a non-voting member that receives the log so it can catch up before it votes.
    AddLearner(NodeId),
    /// Turn a learner into a voter.
    Promote(NodeId),
    /// Remove a voter or learner.
    Remove(NodeId),
}

impl fmt::Display for ConfChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfChange::AddLearner(n) => write!(f, "add-learner {n}"),
            ConfChange::Promote(n) => write!(f, "promote {n}"),
            ConfChange::Remove(n) => write!(f, "remove {n}"),
        }
    }
}

/// What an entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// Appended by a new leader so that it can commit something of its own term (which
    /// commits everything before it, Raft §5.4.2) and serve ReadIndex reads.
    Noop,
    /// Application data, opaque to the core.
    Normal(Vec<u8>),
    /// A membership change, applied when the application advances past it.
    ConfChange(ConfChange),
}

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub index: LogIndex,
    pub kind: EntryKind,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ", self.term, self.index)?;
        match &self.kind {
            EntryKind::Noop => write!(f, "noop"),
            EntryKind::Normal(d) => write!(f, "{:?}", String::from_utf8_lossy(d)),
            EntryKind::ConfChange(cc) => write!(f, "conf({cc})"),
        }
    }
}

/// The state that must be durable before any message that depends on it is sent
/// (Raft Figure 2, "persistent state on all servers").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub commit: LogIndex,
}

/// Cluster membership as of some log index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfState {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
}

impl ConfState {
    /// Whether `id` is a voter or a learner.
    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }
}

/// Where a snapshot sits in the log and the membership it carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub index: LogIndex,
    pub term: Term,
    pub conf_state: ConfState,
}

/// The application state up to `meta.index`, replacing the log prefix it covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    /// Opaque application data.
    pub data: Vec<u8>,
}

/// A node's role (Raft Figure 4, plus the pre-vote phase of the Raft thesis §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    /// The kebab-case name traces and pictures use (`pre-candidate`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
