//! A node's simulated disk, with a page cache that fsync makes durable.
//!
//! madsim's file system has no power-failure model, so ksim keeps its own. Each file has a
//! durable image and a list of unsynced operations (appends, atomic replaces, truncations).
//! Reads see the page cache (durable image plus unsynced operations). `fsync` makes the
//! operations written before it began durable. A crash drops the unsynced operations; a
//! power failure with `torn_write` keeps a random prefix of the unsynced appended bytes, so
//! the file ends in the middle of a write, which is what a write-ahead log must detect.
//!
//! This module is pure data; the waiting (fsync latency, stalls) lives in [`crate::node`].

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// fsync latency of every disk in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskConfig {
    /// Fastest fsync, microseconds.
    pub fsync_min_us: u64,
    /// Slowest fsync, microseconds.
    pub fsync_max_us: u64,
}

impl Default for DiskConfig {
    /// 0.5 to 2 ms: a datacentre SSD; etcd wants its WAL fsync p99 under 10 ms
    /// (etcd docs, "hardware recommendations").
    fn default() -> Self {
        DiskConfig {
            fsync_min_us: 500,
            fsync_max_us: 2_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PendingOp {
    Append(Vec<u8>),
    Replace(Vec<u8>),
    Truncate(usize),
}

impl PendingOp {
    fn apply(&self, data: &mut Vec<u8>) {
        match self {
            PendingOp::Append(bytes) => data.extend_from_slice(bytes),
            PendingOp::Replace(bytes) => bytes.clone_into(data),
            PendingOp::Truncate(len) => data.truncate(*len),
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            PendingOp::Append(b) | PendingOp::Replace(b) => b.len() as u64,
            PendingOp::Truncate(_) => 0,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FileState {
    durable: Vec<u8>,
    cached: Vec<u8>,
    /// Unsynced operations with their sequence numbers, oldest first.
    pending: Vec<(u64, PendingOp)>,
    /// Whether the file exists durably (a never-synced new file vanishes on crash).
    durable_exists: bool,
}

/// What a crash did to a disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashLoss {
    /// Unsynced bytes lost.
    pub lost_bytes: u64,
    /// Unsynced bytes kept by a torn write.
    pub torn_bytes_kept: u64,
}

/// The files of one node. Survives restarts of the node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disk {
    files: BTreeMap<String, FileState>,
    next_seq: u64,
}

impl Disk {
    fn file(&mut self, path: &str) -> &mut FileState {
        self.files.entry(path.to_string()).or_default()
    }

    fn push(&mut self, path: &str, op: PendingOp) {
        self.next_seq += 1;
        let seq = self.next_seq;
        let file = self.file(path);
        op.apply(&mut file.cached);
        file.pending.push((seq, op));
    }

    /// Appends to a file (creating it), in the page cache.
    pub fn append(&mut self, path: &str, bytes: &[u8]) {
        self.push(path, PendingOp::Append(bytes.to_vec()));
    }

    /// Replaces a file's contents atomically (as write-to-temp then rename), in the page cache.
    pub fn write_file(&mut self, path: &str, bytes: &[u8]) {
        self.push(path, PendingOp::Replace(bytes.to_vec()));
    }

    /// Cuts a file to `len` bytes, in the page cache.
    pub fn truncate(&mut self, path: &str, len: usize) {
        self.push(path, PendingOp::Truncate(len));
    }

    /// The file as the node sees it (page cache), or `None` if it does not exist.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        self.files
            .get(path)
            .filter(|f| f.durable_exists || !f.pending.is_empty())
            .map(|f| f.cached.as_slice())
    }

    /// The file as it is on the platter (what would survive a crash now).
    pub fn read_durable(&self, path: &str) -> Option<&[u8]> {
        self.files
            .get(path)
            .filter(|f| f.durable_exists)
            .map(|f| f.durable.as_slice())
    }

    /// Names of the files that exist, in order.
    pub fn list(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|(_, f)| f.durable_exists || !f.pending.is_empty())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Unsynced bytes across all files.
    pub fn unsynced_bytes(&self) -> u64 {
        self.files
            .values()
            .flat_map(|f| f.pending.iter())
            .map(|(_, op)| op.bytes())
            .sum()
    }

    /// The sync point of an fsync of `path` beginning now: the last operation it covers.
    pub fn sync_point(&self) -> u64 {
        self.next_seq
    }

    /// Makes the operations on `path` up to `sync_point` durable; returns their bytes.
    pub fn complete_fsync(&mut self, path: &str, sync_point: u64) -> u64 {
        let Some(file) = self.files.get_mut(path) else {
            return 0;
        };
        let covered = file.pending.partition_point(|(seq, _)| *seq <= sync_point);
        let mut bytes = 0;
        for (_, op) in file.pending.drain(..covered) {
            bytes += op.bytes();
            op.apply(&mut file.durable);
            file.durable_exists = true;
        }
        bytes
    }

    /// A process crash or power loss without tearing: every unsynced operation is lost.
    pub fn crash(&mut self) -> CrashLoss {
        let lost_bytes = self.unsynced_bytes();
        for file in self.files.values_mut() {
            file.pending.clear();
            file.cached.clone_from(&file.durable);
        }
        self.files.retain(|_, f| f.durable_exists);
        CrashLoss {
            lost_bytes,
            torn_bytes_kept: 0,
        }
    }

    /// A power failure that may tear: for each file whose unsynced operations are all
    /// appends, a random prefix of the appended bytes reaches the platter; the rest is lost.
    pub fn power_fail_torn(&mut self, rng: &mut ChaCha8Rng) -> CrashLoss {
        let mut loss = CrashLoss::default();
        for file in self.files.values_mut() {
            let appends: Option<Vec<u8>> =
                file.pending
                    .iter()
                    .try_fold(Vec::new(), |mut acc, (_, op)| match op {
                        PendingOp::Append(b) => {
                            acc.extend_from_slice(b);
                            Some(acc)
                        }
                        _ => None,
                    });
            let pending_bytes: u64 = file.pending.iter().map(|(_, op)| op.bytes()).sum();
            let kept = match &appends {
                Some(tail) if !tail.is_empty() => {
                    let kept = rng.gen_range(0..tail.len());
                    file.durable.extend_from_slice(&tail[..kept]);
                    kept
                }
                _ => 0,
            };
            if kept > 0 {
                file.durable_exists = true;
            }
            loss.torn_bytes_kept += kept as u64;
            loss.lost_bytes += pending_bytes - kept as u64;
            file.pending.clear();
            file.cached.clone_from(&file.durable);
        }
        self.files.retain(|_, f| f.durable_exists);
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    #[test]
    fn reads_see_the_page_cache_and_crash_keeps_only_synced() {
        let mut d = Disk::default();
        d.append("wal", b"aaa");
        let point = d.sync_point();
        d.append("wal", b"bbb");
        assert_eq!(d.read("wal"), Some(&b"aaabbb"[..]));
        assert_eq!(d.complete_fsync("wal", point), 3);
        assert_eq!(d.read_durable("wal"), Some(&b"aaa"[..]));
        let loss = d.crash();
        assert_eq!(loss.lost_bytes, 3);
        assert_eq!(d.read("wal"), Some(&b"aaa"[..]));
    }

    #[test]
    fn a_never_synced_file_vanishes_on_crash() {
        let mut d = Disk::default();
        d.write_file("snap", b"x");
        assert!(d.read("snap").is_some());
        d.crash();
        assert_eq!(d.read("snap"), None);
        assert!(d.list().is_empty());
    }

    #[test]
    fn replace_and_truncate_apply_in_order() {
        let mut d = Disk::default();
        d.append("f", b"hello");
        d.truncate("f", 2);
        d.append("f", b"y");
        d.complete_fsync("f", d.sync_point());
        assert_eq!(d.read_durable("f"), Some(&b"hey"[..]));
        d.write_file("f", b"new");
        assert_eq!(d.read("f"), Some(&b"new"[..]));
        assert_eq!(d.read_durable("f"), Some(&b"hey"[..]));
    }

    #[test]
    fn torn_power_failure_keeps_a_strict_prefix_of_the_unsynced_tail() {
        for seed in 0..50 {
            let mut d = Disk::default();
            d.append("wal", b"synced|");
            d.complete_fsync("wal", d.sync_point());
            d.append("wal", b"record-one|");
            d.append("wal", b"record-two|");
            let loss = d.power_fail_torn(&mut derive_rng(seed, "disk"));
            let after = d.read_durable("wal").unwrap();
            let full = b"synced|record-one|record-two|";
            assert!(full.starts_with(after));
            assert!(after.len() < full.len());
            assert!(after.starts_with(b"synced|"));
            assert_eq!(loss.torn_bytes_kept + loss.lost_bytes, 22);
            assert_eq!(after.len() as u64, 7 + loss.torn_bytes_kept);
        }
    }
}
