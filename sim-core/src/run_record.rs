//! What a run folder records about the judgement: `verdict.json`.
//!
//! It lives in sim-core rather than beside the runner because two crates read it: the
//! runner writes it and compares replays against its trace hash, and `reports` draws the
//! verdict (each check, its evidence) from it without depending on the scenarios.

use serde::{Deserialize, Serialize};

use crate::check::{CheckResult, Status};
use crate::trace::TraceHash;

/// `verdict.json`: the judgement and the facts needed to compare a replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerdictFile {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Overall status.
    pub status: Status,
    /// The exit code `ksim run` returned.
    pub exit_code: i32,
    /// Hash of `trace.jsonl`.
    pub trace_hash: TraceHash,
    /// Number of trace events.
    pub events: usize,
    /// Every check's result.
    pub checks: Vec<CheckResult>,
}

/// The file names of a run folder that every run writes.
pub mod files {
    /// The scenario file as it ran (complete config, concrete fault schedule).
    pub const SCENARIO: &str = "scenario.toml";
    /// The trace, JSON Lines.
    pub const TRACE: &str = "trace.jsonl";
    /// The client history.
    pub const HISTORY: &str = "history.json";
    /// The verdict.
    pub const VERDICT: &str = "verdict.json";
}
