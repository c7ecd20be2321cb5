//! The Raft node's files on its simulated disk: a write-ahead log and a snapshot.
//!
//! `wal` is a sequence of records, each `[length: u32 LE][checksum: 4 bytes][payload]`,
//! the checksum being the first four bytes of the payload's BLAKE3 hash and the payload a
//! JSON [`WalRecord`]. A power failure can tear the last record; recovery reads records
//! until the first that is short or fails its checksum and ignores the rest (etcd's WAL
//! does the same with its CRCs). `snap` holds the latest snapshot, replaced atomically;
//! after a snapshot the WAL is rewritten to hold only what follows it.

use serde::{Deserialize, Serialize};
use sim_core::{Message, NodeCtx};

use crate::core::{Entry, HardState, InitialState, LogIndex, Snapshot};

/// The write-ahead log file.
pub const WAL_FILE: &str = "wal";
/// The snapshot file.
pub const SNAP_FILE: &str = "snap";

/// One WAL record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WalRecord {
    /// The hard state from here on.
    HardState(HardState),
    /// Entries, replacing any at the same or later indexes.
    Entries(Vec<Entry>),
}

/// Encodes one record with its length and checksum.
pub fn encode(record: &WalRecord) -> Vec<u8> {
    let payload = serde_json::to_vec(record).expect("WAL records serialize");
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .expect("records are small")
            .to_le_bytes(),
    );
    out.extend_from_slice(&blake3::hash(&payload).as_bytes()[..4]);
    out.extend_from_slice(&payload);
    out
}

/// Decodes records until the end or the first damaged one; returns them and the length of
/// the valid prefix.
pub fn decode(bytes: &[u8]) -> (Vec<WalRecord>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while bytes.len() >= at + 8 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if blake3::hash(payload).as_bytes()[..4] != bytes[at + 4..at + 8] {
            break;
        }
        let Ok(record) = serde_json::from_slice(payload) else {
            break;
        };
        records.push(record);
        at += 8 + len;
    }
    (records, at)
}

/// What recovery found on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The state to start the core from.
    pub initial: InitialState,
    /// Whether the disk held anything (false on a node's very first start).
    pub found: bool,
    /// Bytes of a damaged WAL tail that were discarded.
    pub discarded_bytes: usize,
}

/// Reads the snapshot and replays the WAL. A damaged tail is cut off the file.
pub fn recover<M: Message>(ctx: &NodeCtx<M>) -> Recovered {
    let disk = ctx.disk();
    let snapshot: Option<Snapshot> = disk
        .read(SNAP_FILE)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let wal = disk.read(WAL_FILE).unwrap_or_default();
    let (records, valid) = decode(&wal);
    let discarded_bytes = wal.len() - valid;
    if discarded_bytes > 0 {
        disk.truncate(WAL_FILE, valid);
    }
    let found = snapshot.is_some() || !records.is_empty();
    let snapshot = snapshot.unwrap_or_default();
    let mut hard_state = HardState::default();
    let mut entries: Vec<Entry> = Vec::new();
    for record in records {
        match record {
            WalRecord::HardState(hs) => hard_state = hs,
            WalRecord::Entries(batch) => {
                if let Some(first) = batch.first() {
                    entries.retain(|e| e.index < first.index);
                }
                entries.extend(batch);
            }
        }
    }
    entries.retain(|e| e.index > snapshot.meta.index);
    // Entries must follow the snapshot without a gap (a rewrite after a snapshot keeps
    // only the entries after it, so this holds unless the disk lies).
    if let Some(first) = entries.first() {
        assert_eq!(
            first.index,
            LogIndex(snapshot.meta.index.0 + 1),
            "the WAL does not continue the snapshot"
        );
    }
    if hard_state.commit < snapshot.meta.index {
        hard_state.commit = snapshot.meta.index;
    }
    Recovered {
        initial: InitialState {
            hard_state,
            snapshot,
            entries,
        },
        found,
        discarded_bytes,
    }
}

/// Replaces the snapshot and rewrites the WAL to hold only the state after it.
pub fn write_snapshot<M: Message>(
    ctx: &NodeCtx<M>,
    snapshot: &Snapshot,
    hard_state: HardState,
    after: &[Entry],
) {
    let disk = ctx.disk();
    disk.write_file(
        SNAP_FILE,
        &serde_json::to_vec(snapshot).expect("snapshots serialize"),
    );
    let mut wal = encode(&WalRecord::HardState(hard_state));
    if !after.is_empty() {
        wal.extend(encode(&WalRecord::Entries(after.to_vec())));
    }
    disk.write_file(WAL_FILE, &wal);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{EntryKind, Term};

    fn entry(i: u64) -> Entry {
        Entry {
            term: Term(1),
            index: LogIndex(i),
            kind: EntryKind::Normal(vec![i as u8]),
        }
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_ignored() {
        let mut bytes = encode(&WalRecord::Entries(vec![entry(1), entry(2)]));
        let hs = HardState {
            term: Term(3),
            vote: None,
            commit: LogIndex(2),
        };
        bytes.extend(encode(&WalRecord::HardState(hs)));
        let full = bytes.len();
        bytes.extend(&encode(&WalRecord::Entries(vec![entry(3)]))[..9]);
        let (records, valid) = decode(&bytes);
        assert_eq!(records.len(), 2);
        assert_eq!(valid, full);
        assert_eq!(records[1], WalRecord::HardState(hs));
    }

    #[test]
    fn a_corrupted_record_stops_the_replay() {
        let mut bytes = encode(&WalRecord::Entries(vec![entry(1)]));
        let first = bytes.len();
        bytes.extend(encode(&WalRecord::Entries(vec![entry(2)])));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let (records, valid) = decode(&bytes);
        assert_eq!(records.len(), 1);
        assert_eq!(valid, first);
    }
}
