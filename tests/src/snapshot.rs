//! Snapshot (golden file) assertions for rendered pictures.
//!
//! A snapshot is the exact text a renderer produced for a fixed seed, kept under
//! `tests/snapshots/`. A test fails when the output differs and prints the first differing
//! line. Set `KSIM_UPDATE_GOLDEN=1` (the one switch for every golden file, see
//! [`crate::golden`]) to rewrite the files instead (then review the diff in git: a snapshot
//! change is a picture change).

use std::path::PathBuf;

pub use crate::golden::UPDATE_VAR;

/// The folder of snapshot files.
pub fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

/// Asserts that `actual` equals the snapshot `name`, or rewrites it when
/// `KSIM_UPDATE_GOLDEN=1`.
///
/// # Panics
///
/// When they differ (or the snapshot is missing and updating is off).
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(name);
    if crate::golden::updating() {
        std::fs::create_dir_all(snapshot_dir()).expect("create tests/snapshots");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} is missing ({e}); run with {UPDATE_VAR}=1 to write it",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    panic!(
        "snapshot {} differs at line {}:\n  expected: {}\n  actual:   {}\n(expected {} lines, got {}); \
         if the change is intended, rerun with {UPDATE_VAR}=1 and review the diff",
        path.display(),
        line + 1,
        expected.lines().nth(line).unwrap_or("<end>"),
        actual.lines().nth(line).unwrap_or("<end>"),
        expected.lines().count(),
        actual.lines().count()
    );
}
