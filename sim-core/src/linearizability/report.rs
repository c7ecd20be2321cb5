//! What the checker concludes, small enough for a person (or a report) to read.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::OpId;

use super::operation::OpSummary;

/// Why a history is not linearizable, with the operations that show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The partition (key) that failed; `None` for an unkeyed model or a cross-key finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// One line saying what went wrong.
    pub message: String,
    /// The operations involved, in invocation order: for a failed search, the one that
    /// could not be placed, those concurrent with it, and the last few placed before it.
    pub ops: Vec<OpSummary>,
    /// The longest linearizable order of the partition's operations the search found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linearized_prefix: Vec<OpId>,
    /// The operation that no order could place after that prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unplaceable: Option<OpId>,
}

/// The verdict on a history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum LinResult {
    /// Some order of the operations explains every answer.
    Linearizable,
    /// No order does.
    NotLinearizable(Box<Counterexample>),
    /// The search ran out of its step budget first.
    Unknown {
        /// Which partition, and how far it got.
        reason: String,
    },
}

/// The verdict with a little about the work done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinReport {
    /// The verdict.
    pub result: LinResult,
    /// Operations checked (`fail` ones excluded).
    pub operations: usize,
    /// Partitions (keys) checked separately.
    pub partitions: usize,
    /// Search steps taken, over all partitions.
    pub steps: u64,
}

/// How many operations of the prefix to show before the unplaceable one.
pub(crate) const PREFIX_SHOWN: usize = 10;

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        if let Some(key) = &self.key {
            writeln!(f, "key: {key}")?;
        }
        if !self.linearized_prefix.is_empty() {
            let n = self.linearized_prefix.len();
            let shown = &self.linearized_prefix[n.saturating_sub(PREFIX_SHOWN)..];
            let ids: Vec<String> = shown.iter().map(ToString::to_string).collect();
            let more = if n > shown.len() { "... " } else { "" };
            writeln!(
                f,
                "longest linearizable prefix ({n} ops): {more}{}",
                ids.join(" ")
            )?;
        }
        if let Some(op) = self.unplaceable {
            writeln!(f, "could not place: {op}")?;
        }
        writeln!(f, "operations:")?;
        for op in &self.ops {
            writeln!(f, "  {}", op.describe())?;
        }
        Ok(())
    }
}
