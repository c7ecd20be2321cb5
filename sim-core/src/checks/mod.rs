//! The checks sim-core itself provides: that the network kept its promises, and that a
//! client history is linearizable.
//!
//! The network checks judge sim-core's own record, so every scenario can run them: a
//! violation there is a bug in the simulator, not in the system under test.
//! `linearizable-kv` judges the history any key-value client records. Protocol checks
//! (Raft, etcd, Kubernetes) live with their protocols.

mod linearizable_kv;
mod message_accounting;
mod network_respects_faults;

pub use linearizable_kv::{linearizable_kv, LinearizableKv};
pub use message_accounting::MessageAccounting;
pub use network_respects_faults::NetworkRespectsFaults;

use crate::observe::{monitor, Monitor};

/// sim-core's checks that judge the trace as it grows ([`crate::OnlineCheck`]), for
/// [`crate::Sim::stop_at_first_violation`]. `message-accounting` is not one (a message
/// with no fate yet may still get one), nor `linearizable-kv` (it reads the history).
pub fn online_checks() -> Vec<Box<dyn Monitor>> {
    vec![monitor::<NetworkRespectsFaults>()]
}
