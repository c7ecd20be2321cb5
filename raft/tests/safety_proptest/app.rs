//! The replicated application: a digest of the entries applied, so two nodes that applied the same log agree.

use raft::{Entry, EntryKind, LogIndex, Snapshot};

pub(crate) const INITIAL_DIGEST: u64 = 0xcbf2_9ce4_8422_2325;

pub(crate) fn mix(mut digest: u64, entry: &Entry) -> u64 {
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            digest ^= u64::from(*b);
            digest = digest.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&entry.index.0.to_le_bytes());
    eat(&entry.term.0.to_le_bytes());
    match &entry.kind {
        EntryKind::Noop => eat(&[0]),
        EntryKind::Normal(d) => {
            eat(&[1]);
            eat(d);
        }
        EntryKind::ConfChange(cc) => {
            eat(&[2]);
            eat(cc.to_string().as_bytes());
        }
    }
    digest
}

pub(crate) fn snapshot_digest(s: &Snapshot) -> u64 {
    match <[u8; 8]>::try_from(s.data.as_slice()) {
        Ok(b) => u64::from_le_bytes(b),
        Err(_) => INITIAL_DIGEST, // the bootstrap snapshot: nothing applied
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct App {
    pub(crate) applied: LogIndex,
    pub(crate) digest: u64,
}

impl App {
    pub(crate) fn from_snapshot(s: &Snapshot) -> App {
        App {
            applied: s.meta.index,
            digest: snapshot_digest(s),
        }
    }
}
