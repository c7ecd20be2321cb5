//! Trace-friendly events the core records as it changes state; the driver turns them into
//! trace lines and checker inputs.

use serde::{Deserialize, Serialize};

use super::message::VoteRejectReason;
use super::types::{ConfChange, LogIndex, NodeId, Role, Term};

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
    /// A membership change took effect on this node.
    ConfChangeApplied { index: LogIndex, change: ConfChange },
}
