//! Raft and etcd for ksim.
//!
//! Not filled yet. This crate will hold, in order (see `../shared/DESIGN.md`, "Raft and etcd"):
//!
//! - a sans-IO Raft core in the `RawNode` style (`tick`, `step`, `propose`, `ready`, `advance`)
//!   that depends on nothing but std and serde;
//! - the node driver that runs the core on `sim-core`: ticks from the node's local clock,
//!   persists hard state and entries on the simulated disk and waits for fsync before sending
//!   any message that depends on them;
//! - the etcd-style server: MVCC store, leases, watches, compaction, WAL recovery;
//! - the Raft and etcd checkers and the planted bugs of `../shared/SCENARIOS.md`.
