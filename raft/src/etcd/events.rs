//! The etcd layer's trace events: watches as the client saw them open and deliver, read
//! back by the watch checker (`watch_check`) and the reports (see `sim_core::layer`).

use serde::{Deserialize, Serialize};
use sim_core::layer::LayerEvent;
use sim_core::NodeId;

/// One change a watch reported: a key put or deleted at a revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchChange {
    /// The key.
    pub key: String,
    /// The revision of the change (the key's mod revision; for a delete, the deleting
    /// revision).
    pub revision: u64,
    /// A delete rather than a put.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// The value put (empty for a delete).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// What a client's watches did. Serialized with a `type` tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EtcdEvent {
    /// A client opened a watch on keys `[key, range_end)` (just `key` without an end),
    /// from `start_revision` (0: from the server's current state).
    WatchOpen {
        /// The client's id of the watch.
        watch: u64,
        /// The first key.
        key: String,
        /// The end of the range (exclusive), if a range.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range_end: Option<String>,
        /// The first revision asked for.
        start_revision: u64,
        /// The server that serves it.
        server: NodeId,
    },
    /// A client received a watch response: changes (possibly none: a progress
    /// notification) and the server's revision then; `canceled` when the server ended the
    /// watch (compaction: the client must re-read).
    WatchDelivery {
        /// The client's id of the watch.
        watch: u64,
        /// The server's revision when it sent this.
        header_revision: u64,
        /// The changes, in revision order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        changes: Vec<WatchChange>,
        /// The server ended the watch.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        canceled: bool,
    },
}

impl LayerEvent for EtcdEvent {
    const LAYER: &'static str = "etcd";
}
