//! What a Raft node replicates: a deterministic state machine, and the client protocol
//! around it.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A deterministic state machine fed by committed entries.
///
/// `apply` must depend only on the state and the command (no clocks, no randomness), so
/// that every node that applies the same log reaches the same state.
pub trait StateMachine: Default + 'static {
    /// A write, replicated through the log.
    type Command: Serialize + DeserializeOwned + Clone + Debug + Send + 'static;
    /// A read, answered from the state after a ReadIndex round (or locally when reads are
    /// serializable).
    type Query: Serialize + DeserializeOwned + Clone + Debug + Send + 'static;
    /// What a command or query returns to the client.
    type Output: Serialize + DeserializeOwned + Clone + Debug + Send + 'static;

    /// Applies a committed command.
    fn apply(&mut self, command: &Self::Command) -> Self::Output;
    /// Answers a query from the current state.
    fn query(&self, query: &Self::Query) -> Self::Output;
    /// The whole state, for a snapshot.
    fn snapshot(&self) -> Vec<u8>;
    /// Replaces the state with a snapshot's.
    fn restore(&mut self, data: &[u8]);
    /// Short text of a command for traces (`put x=5`).
    fn describe(command: &Self::Command) -> String {
        format!("{command:?}")
    }
}

/// What a client asks a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientOp<C, Q> {
    /// A write: propose it, answer once it is applied.
    Command(C),
    /// A read.
    Query(Q),
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

    fn apply(&mut self, command: &Write) -> Option<String> {
        self.writes += 1;
        self.value.replace(command.0.clone())
    }

    fn query(&self, _: &Read) -> Option<String> {
        self.value.clone()
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("registers serialize")
    }

    fn restore(&mut self, data: &[u8]) {
        *self = serde_json::from_slice(data).expect("register snapshots are ours");
    }

    fn describe(command: &Write) -> String {
        format!("write {}", command.0)
    }
}
