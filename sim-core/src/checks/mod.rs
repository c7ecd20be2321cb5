//! The checks sim-core itself provides: that the network kept its promises.
//!
//! They judge sim-core's own record, so every scenario can run them: a violation here is a
//! bug in the simulator, not in the system under test. Protocol checks (Raft, etcd,
//! Kubernetes) live with their protocols.

mod message_accounting;
mod network_respects_faults;

pub use message_accounting::MessageAccounting;
pub use network_respects_faults::NetworkRespectsFaults;
