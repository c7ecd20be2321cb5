//! Each fault's semantics, judged from the trace of a small purpose-built world.
//!
//! Every test runs a few tiny actors under a fixed fault schedule and then reads the trace
//! (`RunOutput.trace.events`) back: which messages were delivered or dropped and why, what
//! each node recorded, and what its disk holds. Link states are located by the position of
//! the `fault` events in the trace, so ties at the same microsecond are decided by the order
//! in which sim-core recorded things, not by guessing.
//!
//! One file a family of fault ops, each test one op and its edge cases, all over the small
//! probe worlds of `probe.rs`: `network.rs` (partition, heal, isolate, cut-link,
//! restore-link, loss, latency), `kill.rs` (kill and restart), `power.rs` (power failure),
//! `disk.rs` (disk stalls and fsync latency), `clock.rs` (clock skew), `pause.rs` (pause
//! and resume), `run_end.rs` (the end of the run). One test crate, so the probe world is
//! written once.

mod clock;
mod disk;
mod kill;
mod network;
mod pause;
mod power;
mod probe;
mod run_end;
