//! The Raft node driver on sim-core, and a client for it.
//!
//! [`run_node`] runs one [`crate::core::RawNode`] as a sim-core actor: it ticks the core,
//! persists each `Ready` in a WAL on the simulated disk and fsyncs before sending what
//! depends on it, applies committed entries to a [`StateMachine`], answers clients, and
//! restarts from the disk after a crash. It records the trace events the Raft checkers
//! read (`role`, `vote`, `hard-state`, `log-append`, `log-truncate`, `commit`, `apply`,
//! `snapshot`, `membership`), each when it becomes true (log events once durable).
//! [`run_client`] is the client side: it records every operation in the history.

mod app;
mod client;
mod entry_digest;
mod message;
mod node;
mod session;
pub mod storage;

pub use app::{
    ClientOp, ClientReply, Describe, Membership, NodeEnv, Proposal, QueryMode, Read, Register,
    StateMachine, Write,
};
pub use client::{run_client, ClientConfig, RegisterWorkload, Workload};
pub use entry_digest::entry_digest;
pub use message::{Msg, MsgOf};
pub use node::{entry_ref, run_node, DriverConfig, RaftMutants, MUTANT_NAMES, MUTANT_SUMMARIES};
pub use session::{Answer, CallError, ConfChangeError, Session, SessionConfig};
