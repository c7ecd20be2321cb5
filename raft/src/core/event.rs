//! Trace-friendly events the core records as it changes state; the driver turns them into
//! trace lines and checker inputs.

use serde::{Deserialize, Serialize};

use super::message::VoteRejectReason;
use super::types::{ConfChange, LogIndex, Role, Term};
use sim_core::NodeId;

/// Something a checker or a trace reader cares about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The node's role or term changed.
    RoleChanged {
        role: Role,
        term: Term,
        leader: Option<NodeId>,
    },
    /// This node granted a (pre-)vote.
    VoteGranted {
        candidate: NodeId,
        term: Term,
        pre_vote: bool,
    },
    /// This node refused a (pre-)vote, and why.
    VoteRefused {
        candidate: NodeId,
        term: Term,
        pre_vote: bool,
        reason: VoteRejectReason,
    },
    /// The commit index moved forward.
    CommitAdvanced { from: LogIndex, to: LogIndex },
    /// A leader stepped down because it had not heard from a quorum (check-quorum).
    CheckQuorumFailed { term: Term },
    /// A message this node did not act on, and why (raft-rs logs each such message), so
    /// a delivered message never vanishes from the record without a word.
    MessageIgnored {
        from: NodeId,
        term: Term,
        reason: IgnoreReason,
    },
    /// A membership change took effect on this node.
    ConfChangeApplied { index: LogIndex, change: ConfChange },
}

/// Why a node did not act on a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IgnoreReason {
    /// Its term is lower than this node's, and the message needs no answer (Raft §5.1: a
    /// stale request or response is rejected; only stale leaders are told the newer term).
    StaleTerm {
        /// This node's term.
        current: Term,
    },
    /// A pre-vote grant for an earlier pre-campaign than this node's current one.
    StaleGrant,
    /// The leader has no progress for the sender: it is not (or no longer) a member.
    NotMember,
    /// This node's role does not handle the message (a vote answer after the election
    /// ended, an append answer at a follower).
    NotForRole {
        /// The role it is in.
        role: Role,
    },
}

impl std::fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IgnoreReason::StaleTerm { current } => write!(f, "stale term (at term {current})"),
            IgnoreReason::StaleGrant => f.write_str("grant for an earlier pre-campaign"),
            IgnoreReason::NotMember => f.write_str("sender is not a member"),
            IgnoreReason::NotForRole { role } => write!(f, "not handled as {role}"),
        }
    }
}
