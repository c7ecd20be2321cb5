//! What a Raft node replicates: a deterministic state machine, and the client protocol
//! around it.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::core::ConfChange;

/// Where a state machine runs, besides its log: the node, its local clock and whether it
/// leads. Replicated state must never depend on it (every node applies the same log to the
/// same state); only per-node bookkeeping may, such as etcd's lessor, which tracks lease
/// deadlines on the leader's local clock and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeEnv {
    /// The node.
    pub node: sim_core::NodeId,
    /// The node's local (possibly skewed) clock, microseconds (0 if skewed before the epoch).
    pub local_now_us: u64,
    /// Whether the node is the leader right now.
    pub leader: bool,
}

/// How a node answers a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryMode {
    /// A read of replicated state: linearizable through ReadIndex unless the node serves
    /// serializable reads.
    Read,
    /// Only the leader may answer (etcd's lease keep-alive): others say `NotLeader`.
    LeaderOnly,
    /// Answered at once by the node asked, from its own state (watch registration).
    Local,
}

/// A deterministic state machine fed by committed entries.
///
/// `apply` must leave the replicated state depending only on the state and the command (no
/// clocks, no randomness), so that every node that applies the same log reaches the same
/// state. [`NodeEnv`] is there for per-node bookkeeping only.
pub trait StateMachine: Default + 'static {
    /// A write, replicated through the log.
    type Command: Serialize + DeserializeOwned + Clone + Debug + Describe + Send + 'static;
    /// A read, answered from the state after a ReadIndex round (or locally when reads are
    /// serializable).
    type Query: Serialize + DeserializeOwned + Clone + Debug + Describe + Send + 'static;
    /// What a command or query returns to the client.
    type Output: Serialize + DeserializeOwned + Clone + Debug + Describe + Send + 'static;

    /// Applies a committed command.
    fn apply(&mut self, command: &Self::Command, env: &NodeEnv) -> Self::Output;
    /// Answers `client`'s query from the current state.
    fn query(
        &mut self,
        client: sim_core::NodeId,
        query: &Self::Query,
        env: &NodeEnv,
    ) -> Self::Output;
    /// How a node answers `query` (default: a read).
    fn query_mode(_query: &Self::Query) -> QueryMode {
        QueryMode::Read
    }
    /// Called on every tick; the commands returned are proposed if the node leads (etcd's
    /// leader revokes expired leases this way).
    fn tick(&mut self, _env: &NodeEnv) -> Vec<Self::Command> {
        Vec::new()
    }
    /// Messages to clients that no request asked for right now (watch events), taken after
    /// every step.
    fn take_pushes(&mut self) -> Vec<(sim_core::NodeId, Self::Output)> {
        Vec::new()
    }
    /// The whole state, for a snapshot.
    fn snapshot(&self) -> Vec<u8>;
    /// Replaces the state with a snapshot's.
    fn restore(&mut self, data: &[u8]);
}

/// A command, query or output in a few words for traces and pictures (`put x=5`,
/// `range /a.. rev=3`): the state machine's own words for its values, carried in the
/// trace's typed message fields and shown as they are, never parsed back.
pub trait Describe {
    /// The short text.
    fn describe(&self) -> String;
}

/// What a client asks a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientOp<C, Q> {
    /// A write: propose it, answer once it is applied.
    Command(C),
    /// A read.
    Query(Q),
    /// A membership change, as an operator's `etcdctl member add --learner`, `member
    /// promote` or `member remove` asks for one: the leader proposes it (one at a time; the
    /// core refuses a second while the first is unapplied) and answers
    /// [`ClientReply::ConfChanged`] once it has applied it, or [`ClientReply::Refused`].
    ConfChange(ConfChange),
}

/// A configuration: the members that vote, and the learners that only replicate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The voters, in id order.
    pub voters: Vec<sim_core::NodeId>,
    /// The learners, in id order.
    pub learners: Vec<sim_core::NodeId>,
}

/// What a node answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientReply<O> {
    /// Done: the output, and the log position it was applied at (for reads, the read
    /// index the answer reflects).
    Done {
        /// The output.
        output: O,
        /// Log index.
        index: u64,
        /// Term of the entry at that index (0 for reads).
        term: u64,
    },
    /// This node cannot serve it; try the leader if one is known.
    NotLeader {
        /// The leader this node knows of.
        leader: Option<sim_core::NodeId>,
    },
    /// A membership change took effect on the leader that proposed it.
    ConfChanged {
        /// Log index of the change.
        index: u64,
        /// Term it was proposed in.
        term: u64,
        /// The configuration now in force on that leader.
        membership: Membership,
    },
    /// The leader refused a membership change and did nothing: another change is still
    /// unapplied, or this one makes no sense in the configuration in force (adding a
    /// member twice, promoting a non-learner, removing a non-member or the last voter).
    Refused {
        /// Why.
        reason: String,
        /// The leader's configuration, so the caller can tell a change that already took
        /// effect (its retry is refused as redundant) from one still to make.
        membership: Membership,
    },
}

/// The log entry payload of a client command: who asked, so the node that proposed it can
/// answer once it is applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal<C> {
    /// The client node.
    pub client: sim_core::NodeId,
    /// The client's request number.
    pub request: u64,
    /// The command.
    pub command: C,
}

/// A replicated register: the simplest state machine worth checking. Writes set the value;
/// reads return it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// The current value.
    pub value: Option<String>,
    /// Writes applied so far.
    pub writes: u64,
}

/// A register write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write(pub String);

/// A register read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read;

impl StateMachine for Register {
    type Command = Write;
    type Query = Read;
    type Output = Option<String>;

    fn apply(&mut self, command: &Write, _: &NodeEnv) -> Option<String> {
        self.writes += 1;
        self.value.replace(command.0.clone())
    }

    fn query(&mut self, _: sim_core::NodeId, _: &Read, _: &NodeEnv) -> Option<String> {
        self.value.clone()
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("registers serialize")
    }

    fn restore(&mut self, data: &[u8]) {
        *self = serde_json::from_slice(data).expect("register snapshots are ours");
    }
}

impl Describe for Write {
    fn describe(&self) -> String {
        format!("write {}", self.0)
    }
}

impl Describe for Read {
    fn describe(&self) -> String {
        "read".to_string()
    }
}

/// A register's output: the value it held.
impl Describe for Option<String> {
    fn describe(&self) -> String {
        match self {
            Some(value) => format!("value {value}"),
            None => "no value".to_string(),
        }
    }
}
