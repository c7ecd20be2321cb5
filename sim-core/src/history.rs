//! The client history: what clients asked for and what they were told.
//!
//! This is the input of the linearizability checker (Jepsen's model): each operation has an
//! invocation and at most one completion. A completion is `ok` (it happened), `fail` (it
//! certainly did not happen) or `info` (unknown: a timeout or a lost connection; it may take
//! effect at any later point, or never). An invocation with no completion at the end of the
//! run is also indeterminate.

use serde::{Deserialize, Serialize};

use crate::ids::{NodeId, OpId};
use crate::time::SimTime;

/// How a client operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpOutcome {
    /// It took effect; the value is what the client was told.
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// Unknown: it may or may not have taken effect (Jepsen's `:info`).
    Info,
}

/// Whether an entry opens or closes an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryType {
    /// The client sent the request.
    Invoke,
    /// The operation took effect.
    Ok,
    /// It did not.
    Fail,
    /// Its outcome is unknown.
    Info,
}

impl From<OpOutcome> for EntryType {
    fn from(outcome: OpOutcome) -> Self {
        match outcome {
            OpOutcome::Ok => EntryType::Ok,
            OpOutcome::Fail => EntryType::Fail,
            OpOutcome::Info => EntryType::Info,
        }
    }
}

/// One history entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The operation this entry belongs to.
    pub op: OpId,
    /// The client (Jepsen's process) that issued it.
    pub client: NodeId,
    /// Invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub entry_type: EntryType,
    /// Virtual time of the entry.
    pub t_us: SimTime,
    /// The function: `read`, `write`, `cas`, `put`, `get`, ...
    pub f: String,
    /// The key it acts on, if the model is keyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The argument (on invoke) or the result (on completion).
    #[serde(default)]
    pub value: serde_json::Value,
}

/// Every client operation of a run, in the order entries were recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct History {
    /// The entries.
    pub entries: Vec<HistoryEntry>,
}

impl History {
    /// Operations invoked but never completed (indeterminate at the end of the run).
    pub fn open_ops(&self) -> Vec<OpId> {
        let mut open = std::collections::BTreeSet::new();
        for e in &self.entries {
            if e.entry_type == EntryType::Invoke {
                open.insert(e.op);
            } else {
                open.remove(&e.op);
            }
        }
        open.into_iter().collect()
    }
}
