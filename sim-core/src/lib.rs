//! sim-core: the deterministic world every ksim scenario runs in.
//!
//! One seed drives one run. Actors run as madsim nodes on a virtual clock; every message
//! between them goes through sim-core's network, which records its send and then its
//! delivery or its drop with a reason; each node has a disk that survives restarts and loses
//! unsynced writes on a crash, and a local clock that faults can skew. A [`FaultSchedule`]
//! breaks things at set times; the [`Trace`] and [`History`] record everything; named
//! [`Check`]s judge the run into a [`Verdict`] whose status is the process exit code.
//!
//! Same seed, same binary: byte-identical trace. Nothing here reads the wall clock or the
//! OS rng, spawns threads, or iterates a hash map (`clippy.toml` bans them).

pub mod address;
mod canonical;
pub mod carry;
pub mod check;
pub mod checks;
pub mod demo;
pub mod directory;
pub mod disk;
pub mod fault;
pub mod fault_gen;
pub mod fault_roles;
pub mod fault_timeline;
pub mod history;
pub mod ids;
pub mod jepsen;
pub mod layer;
pub mod linearizability;
pub mod logging;
mod mailbox;
pub mod network;
pub mod node;
pub mod observe;
pub mod rng;
pub mod run_record;
pub mod sim;
pub mod time;
pub mod trace;
pub mod world;
mod world_faults;

pub use address::{Address, Port};
pub use carry::Carries;
pub use check::{Check, CheckKind, CheckResult, Evidence, Outcome, RunView, Status, Verdict};
pub use directory::{ComponentInfo, Directory, DirectoryError, NodeInfo, NodeName};
pub use disk::{Disk, DiskConfig};
pub use fault::{FaultError, FaultOp, FaultSchedule, TimedFault};
pub use fault_gen::FaultKnobs;
pub use fault_roles::{RoleMiss, RoleSlot, RoleTarget};
pub use fault_timeline::{FaultState, FaultTimeline};
pub use history::{EntryType, History, HistoryEntry, OpOutcome};
pub use ids::{EventId, MessageId, NodeId, OpId};
pub use layer::{LayerEvent, LayerRecord, Layers};
pub use network::{LatencyRange, NetConfig};
pub use node::{DiskHandle, NodeCtx};
pub use observe::{Observer, OnlineCheck, Stop, TraceCursor, Violation};
pub use run_record::VerdictFile;
pub use sim::{RunOutput, Sim, SimError};
pub use time::SimTime;
pub use trace::{DropReason, EventKind, Trace, TraceEvent, TraceHash};
pub use world::{Envelope, Message, NodeStatus, World};
