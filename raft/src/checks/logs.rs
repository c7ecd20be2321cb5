//! Each node's durable log, rebuilt from `log-append`, `log-truncate` and `snapshot` events.

use std::collections::BTreeMap;

use sim_core::{NodeId, TraceEvent};

use crate::events::{EntryDigest, EntryRef, RaftEvent};

/// One node's durable log: entries after its snapshot point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeLog {
    /// Index and term of the last entry the snapshot covers (0, 0 without one).
    pub snapshot: (u64, u64),
    /// Entries after the snapshot, by index: (term, digest).
    pub entries: BTreeMap<u64, (u64, EntryDigest)>,
}

impl NodeLog {
    /// The term of the entry at `index`, if the log knows it (the snapshot point counts).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        if index == self.snapshot.0 {
            return Some(self.snapshot.1);
        }
        self.entries.get(&index).map(|(t, _)| *t)
    }

    /// Whether the log holds `entry` (or covers its index with a snapshot, which only ever
    /// holds committed entries).
    pub fn holds(&self, entry: &EntryRef) -> bool {
        if entry.index <= self.snapshot.0 {
            return true;
        }
        self.entries
            .get(&entry.index)
            .is_some_and(|(t, d)| *t == entry.term && *d == entry.digest)
    }

    /// The last index.
    pub fn last_index(&self) -> u64 {
        self.entries
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.snapshot.0)
    }
}

/// Every node's durable log, as of the events applied so far.
#[derive(Clone, Debug, Default)]
pub struct DurableLogs {
    logs: BTreeMap<NodeId, NodeLog>,
}

impl DurableLogs {
    /// Applies one event (events that do not touch a log are ignored).
    pub fn apply(&mut self, event: &TraceEvent) {
        let Some(node) = event.node else { return };
        match event.layer::<RaftEvent>() {
            Some(RaftEvent::LogAppend { entries }) => {
                let log = self.logs.entry(node).or_default();
                for e in entries {
                    if e.index > log.snapshot.0 {
                        log.entries.split_off(&e.index);
                        log.entries.insert(e.index, (e.term, e.digest));
                    }
                }
            }
            Some(RaftEvent::LogTruncate { from_index }) => {
                let log = self.logs.entry(node).or_default();
                log.entries.split_off(from_index);
            }
            Some(RaftEvent::Snapshot { index, term, .. }) => {
                let log = self.logs.entry(node).or_default();
                if *index > log.snapshot.0 {
                    let keep = log.entries.split_off(&(index + 1));
                    let matches = log.term_at(*index) == Some(*term);
                    log.snapshot = (*index, *term);
                    // A compaction keeps the entries after the snapshot; an installed
                    // snapshot that disagrees with the log replaces it whole.
                    log.entries = if matches { keep } else { BTreeMap::new() };
                }
            }
            _ => {}
        }
    }

    /// A node's log (empty if it has none yet).
    pub fn of(&self, node: NodeId) -> NodeLog {
        self.logs.get(&node).cloned().unwrap_or_default()
    }

    /// A node's log, by reference.
    pub fn get(&self, node: NodeId) -> Option<&NodeLog> {
        self.logs.get(&node)
    }
}
