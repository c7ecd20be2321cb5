//! The sans-IO Raft core (etcd `raft`/raft-rs style). One concept per file:
//!
//! - [`types`]: typed ids, entries, hard state, snapshots, roles;
//! - [`message`]: what peers send each other;
//! - [`config`]: limits, feature switches and the planted bugs ([`Mutants`]);
//! - [`log`]: the in-memory log with its stable/unstable split and compaction;
//! - [`progress`]: the leader's view of each follower;
//! - [`quorum`]: majority arithmetic;
//! - [`read_only`]: ReadIndex requests awaiting a heartbeat quorum;
//! - [`event`]: trace-friendly records of state changes;
//! - [`raft`]: the state machine;
//! - [`raw_node`]: the `RawNode`/`Ready` interface a driver uses.
//!
//! No clock, IO or OS randomness: time is `tick()`, randomness is the caller's seeded rng.

pub mod config;
pub mod event;
pub mod log;
pub mod message;
pub mod progress;
pub mod quorum;
pub mod raft;
pub mod raw_node;
pub mod read_only;
pub mod types;

#[cfg(test)]
mod interaction;
#[cfg(test)]
mod network;
#[cfg(test)]
mod tests;

pub use config::{Config, ConfigError, Mutants, ProposeError};
pub use event::{Event, IgnoreReason};
pub use message::{AppendOutcome, Message, MessageKind, VoteRejectReason};
pub use raw_node::{InitialState, RawNode, Ready, SoftState, Status};
pub use read_only::ReadState;
pub use types::{
    ConfChange, ConfState, Entry, EntryKind, HardState, LogIndex, Role, Snapshot, SnapshotMeta,
    Term,
};
