//! The Raft node's files on its simulated disk: a write-ahead log and a snapshot.
//!
//! `wal` is a sequence of records, each `[length: u32 LE][checksum: 4 bytes][payload]`,
//! the checksum being the first four bytes of the payload's BLAKE3 hash and the payload a
//! [`WalRecord`] in postcard (serde's compact binary format, as etcd's WAL holds protobuf
//! records: every member writes every entry, so the encoding is on the simulation's hot
//! path, and JSON wrote each data byte as decimal text). A power failure can tear the last
//! record; recovery reads records until the first that is short or fails its checksum and
//! ignores the rest (etcd's WAL does the same with its CRCs). `snap` holds the latest
//! snapshot, in postcard too, replaced atomically; after a snapshot the WAL is rewritten to
//! hold only what follows it.
//!
//! Only this module knows the bytes: readers of a member's platter (the power-failure
//! scenario's analysis) go through [`decode`], [`decode_snapshot`] and
//! [`last_logged_index`].

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

/// A [`WalRecord`] borrowed for writing: the same variants in the same order, so its
/// postcard bytes are those of the owned record (the driver writes a `Ready`'s entries
/// without copying them).
#[derive(Serialize)]
enum WalRecordRef<'a> {
    HardState(&'a HardState),
    Entries(&'a [Entry]),
}

/// The postcard variant index of [`WalRecord::Entries`] (the first payload byte).
const ENTRIES_VARIANT: u8 = 1;

/// Encodes one record with its length and checksum.
pub fn encode(record: &WalRecord) -> Vec<u8> {
    match record {
        WalRecord::HardState(hs) => frame(&WalRecordRef::HardState(hs)),
        WalRecord::Entries(entries) => frame(&WalRecordRef::Entries(entries)),
    }
}

/// Encodes an [`WalRecord::Entries`] record of `entries` (as [`encode`] does).
pub fn encode_entries(entries: &[Entry]) -> Vec<u8> {
    frame(&WalRecordRef::Entries(entries))
}

/// `[length][checksum][payload]` of one record.
fn frame(record: &WalRecordRef<'_>) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    out = postcard::to_extend(record, out).expect("WAL records encode");
    let len = u32::try_from(out.len() - 8).expect("records are small");
    let checksum = blake3::hash(&out[8..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&checksum.as_bytes()[..4]);
    out
}

/// The payloads of the well-framed records at the start of `wal` (length in range and
/// checksum matching), with where each ends.
fn payloads(wal: &[u8]) -> impl Iterator<Item = (&[u8], usize)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let header = wal.get(at..at + 8)?;
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let payload = wal.get(at + 8..at + 8 + len)?;
        if blake3::hash(payload).as_bytes()[..4] != header[4..] {
            return None;
        }
        at += 8 + len;
        Some((payload, at))
    })
}

/// Decodes records until the end or the first damaged one; returns them and the length of
/// the valid prefix.
pub fn decode(bytes: &[u8]) -> (Vec<WalRecord>, usize) {
    let mut records = Vec::new();
    let mut valid = 0;
    for (payload, end) in payloads(bytes) {
        let Ok(record) = postcard::from_bytes(payload) else {
            break;
        };
        records.push(record);
        valid = end;
    }
    (records, valid)
}

/// The last log index a WAL holds, cheaply: the record frames are walked and only the last
/// `Entries` record is decoded (the last batch ends the log, since a batch replaces
/// everything from its first index on). None without one.
pub fn last_logged_index(wal: &[u8]) -> Option<LogIndex> {
    let (last_batch, _) = payloads(wal)
        .filter(|(payload, _)| payload.first() == Some(&ENTRIES_VARIANT))
        .last()?;
    match postcard::from_bytes(last_batch).ok()? {
        WalRecord::Entries(batch) => batch.last().map(|e| e.index),
        WalRecord::HardState(_) => None,
    }
}

/// The snapshot in a `snap` file's bytes, if they hold one.
pub fn decode_snapshot(bytes: &[u8]) -> Option<Snapshot> {
    postcard::from_bytes(bytes).ok()
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
    let snapshot = disk
        .read(SNAP_FILE)
        .and_then(|bytes| decode_snapshot(&bytes));
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
        &postcard::to_allocvec(snapshot).expect("snapshots encode"),
    );
    let mut wal = encode(&WalRecord::HardState(hard_state));
    if !after.is_empty() {
        wal.extend(encode_entries(after));
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
    fn the_borrowed_record_encodes_as_the_owned_one() {
        let entries = vec![entry(1), entry(2)];
        let owned = postcard::to_allocvec(&WalRecord::Entries(entries.clone())).unwrap();
        assert_eq!(encode_entries(&entries)[8..], owned[..]);
        assert_eq!(owned[0], ENTRIES_VARIANT);
    }

    #[test]
    fn the_last_logged_index_is_the_end_of_the_last_batch() {
        let hs = HardState {
            term: Term(3),
            vote: None,
            commit: LogIndex(2),
        };
        assert_eq!(last_logged_index(&[]), None);
        let mut wal = encode(&WalRecord::HardState(hs));
        assert_eq!(last_logged_index(&wal), None);
        wal.extend(encode_entries(&[entry(1), entry(2), entry(3)]));
        wal.extend(encode_entries(&[entry(2)]));
        wal.extend(encode(&WalRecord::HardState(hs)));
        assert_eq!(last_logged_index(&wal), Some(LogIndex(2)));
        let torn = wal.len();
        wal.extend(&encode_entries(&[entry(3), entry(4)])[..10]);
        assert_eq!(last_logged_index(&wal[..torn + 10]), Some(LogIndex(2)));
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
