//! The records a run folds into: role spans, outages, fault spans, partition periods,
//! messages with their fate, client operations and commit points. Plain data with a few
//! accessors, so every picture reads the same fields.

use raft::core::Role;
use raft::events::MessageFields;
use sim_core::{DropReason, EventId, FaultOp, LayerRecord, MessageId, NodeId, OpId};

/// A server's role between two role changes (or a crash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpan {
    /// The server.
    pub node: NodeId,
    /// Its role.
    pub role: Role,
    /// Its term.
    pub term: u64,
    /// The leader it knew of.
    pub leader: Option<NodeId>,
    /// Start (the role event).
    pub start_us: u64,
    /// End (the next role event, the crash, or the end of the run).
    pub end_us: u64,
    /// The role event that began it.
    pub start_event: EventId,
}

/// Why a node was not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageKind {
    /// Killed, powered off or exited; ends when it starts again.
    Down,
    /// Paused; ends when it resumes.
    Paused,
}

/// A period a node was not running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// The node.
    pub node: NodeId,
    /// Down or paused.
    pub kind: OutageKind,
    /// Start.
    pub start_us: u64,
    /// End (restart or resume; the end of the run if neither came).
    pub end_us: u64,
}

/// One fault as a span.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpan {
    /// The op's name (`partition`, `kill`, `disk-stall`, ...).
    pub kind: &'static str,
    /// A short label for pictures: `partition {n1,n2}|{n3,n4,n5}`, `kill n3`.
    pub label: String,
    /// The nodes it acts on (empty: the whole network).
    pub nodes: Vec<NodeId>,
    /// The op as it ran.
    pub op: FaultOp,
    /// When it began (the fault event's time).
    pub start_us: u64,
    /// When it ended: the op that undid it (heal, restore-link, resume, restart), the
    /// node starting again, the end of a stall, a later setting replacing it, or the end of
    /// the run. Equal to `start_us` for instantaneous ops (restart).
    pub end_us: u64,
    /// The fault event.
    pub start_event: EventId,
    /// The event that ended it, if one did (none: a stall's timer, or the end of the run).
    pub end_event: Option<EventId>,
}

/// The network's shape for a while: which groups could talk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionPeriod {
    /// Start.
    pub start_us: u64,
    /// End.
    pub end_us: u64,
    /// The groups, for a partition or isolation (each node in one group); empty when only
    /// single links are cut.
    pub groups: Vec<Vec<NodeId>>,
    /// Directed links cut by `cut-link` (`from`, `to`).
    pub cut_links: Vec<(NodeId, NodeId)>,
    /// A label: `{n1,n2} | {n3,n4,n5}`.
    pub label: String,
}

impl PartitionPeriod {
    /// Whether a message from `from` to `to` is blocked in this period.
    pub fn blocks(&self, from: NodeId, to: NodeId) -> bool {
        if self.cut_links.contains(&(from, to)) {
            return true;
        }
        let group_of = |n: NodeId| self.groups.iter().position(|g| g.contains(&n));
        match (group_of(from), group_of(to)) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    }
}

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It reached its receiver.
    Delivered {
        /// When.
        t_us: u64,
        /// The deliver event.
        event: EventId,
    },
    /// The network dropped it.
    Dropped {
        /// When.
        t_us: u64,
        /// Why.
        reason: DropReason,
        /// The drop event.
        event: EventId,
    },
    /// Neither is in the trace (the run ended first without a `run-ended` drop).
    InFlight,
}

/// One message.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRecord {
    /// Its id.
    pub id: MessageId,
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// Kind (`append-entries`, `request-vote`, `client-write`, ...).
    pub kind: String,
    /// Its key fields in its layer's type (see `sim_core::layer`).
    pub fields: Option<LayerRecord>,
    /// Those fields in words, for tooltips (`term=3 prev=4/2 entries=1 commit=4`): the
    /// layer's own summary, shown as it is.
    pub detail: String,
    /// When it was sent.
    pub sent_us: u64,
    /// The send event.
    pub send_event: EventId,
    /// What became of it.
    pub fate: Fate,
}

impl MessageRecord {
    /// When it stopped travelling (delivery or drop), if it did.
    pub fn end_us(&self) -> Option<u64> {
        match self.fate {
            Fate::Delivered { t_us, .. } | Fate::Dropped { t_us, .. } => Some(t_us),
            Fate::InFlight => None,
        }
    }

    /// Its fields, if it is a message of a Raft world.
    pub fn raft(&self) -> Option<&MessageFields> {
        self.fields.as_ref()?.get()
    }

    /// The sender's term, for a Raft message.
    pub fn term(&self) -> Option<u64> {
        self.raft()?.term()
    }
}

/// How a client operation ended, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpEnd {
    /// It took effect.
    Ok,
    /// It certainly did not.
    Fail,
    /// Unknown (timed out, or still open at the end).
    Info,
}

/// One client operation.
#[derive(Clone, Debug, PartialEq)]
pub struct OpRecord {
    /// Its id.
    pub op: OpId,
    /// The client.
    pub client: NodeId,
    /// Function (`put`, `get`, `cas`, ...).
    pub f: String,
    /// Key, if keyed.
    pub key: Option<String>,
    /// Invocation argument.
    pub argument: serde_json::Value,
    /// Result (completion value), if it completed.
    pub result: Option<serde_json::Value>,
    /// Invocation time.
    pub invoke_us: u64,
    /// Completion time; `None` if it never completed.
    pub complete_us: Option<u64>,
    /// How it ended.
    pub end: OpEnd,
}

impl OpRecord {
    /// Latency, for completed operations.
    pub fn latency_us(&self) -> Option<u64> {
        self.complete_us.map(|c| c.saturating_sub(self.invoke_us))
    }
}

/// A commit index reached at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitPoint {
    /// When.
    pub t_us: u64,
    /// The new commit index.
    pub index: u64,
    /// The term of the entry at that index.
    pub term: u64,
    /// The commit event.
    pub event: EventId,
}
