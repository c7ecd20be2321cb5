//! Raft and etcd for ksim.
//!
//! Done: [`core`], a sans-IO Raft core in the `RawNode` style (`tick`, `step`, `propose`,
//! `read_index`, `ready`, `advance`) that depends on nothing but std, serde and rand_core:
//! pre-vote, check-quorum, log replication with fast backtracking, ReadIndex, snapshots and
//! one-at-a-time membership change, with the Raft planted bugs as [`core::Mutants`].
//!
//! Done: [`checks`], the Raft safety and liveness checkers (one file each), judged from
//! sim-core trace events alone.
//!
//! Still to come (see `../shared/DESIGN.md`, "Raft and etcd"):
//!
//! - the node driver that runs the core on `sim-core`: ticks from the node's local clock,
//!   persists hard state and entries on the simulated disk and waits for fsync before sending
//!   any message that depends on them (and the `forget-vote-on-restart` and
//!   `ack-before-fsync` planted bugs, which live there);
//! - the etcd-style server: MVCC store, leases, watches, compaction, WAL recovery, and the
//!   etcd checkers of `../shared/SCENARIOS.md`.

pub mod checks;
pub mod core;
pub mod driver;
pub mod etcd;
pub mod events;
pub mod view;

pub use crate::core::{
    Config, Entry, EntryKind, Event, HardState, InitialState, LogIndex, Message, MessageKind,
    Mutants, ProposeError, RawNode, ReadState, Ready, Role, Snapshot, Term,
};

/// The trace layers of a Raft world: Raft's own events, its messages' fields and etcd's
/// events (what a reader of a `trace.jsonl` written by these worlds passes to
/// `Trace::read_jsonl`).
pub fn layers() -> sim_core::Layers {
    sim_core::Layers::none()
        .with::<events::RaftEvent>()
        .with::<events::MessageFields>()
        .with::<etcd::events::EtcdEvent>()
}
