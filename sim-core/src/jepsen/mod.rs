//! Jepsen histories read into a ksim [`History`], so `ksim check-history` can judge them.
//!
//! Two Jepsen formats are read, and ksim's own `history.json`; [`parse`] tells them apart
//! by their first line:
//!
//! - EDN maps, one operation per line, as Jepsen's `history.edn`:
//!   `{:process 0, :type :invoke, :f :read, :key "0", :value nil}` (keys in any order,
//!   `:time` in nanoseconds optional, commas are whitespace);
//! - `jepsen.util` log lines: `INFO  jepsen.util - 3 :ok :cas [1 4]`, fields apart by tabs
//!   or spaces; `:nemesis` lines and other log output are skipped;
//! - a JSON array of ksim history entries.
//!
//! Jepsen has no operation ids: an invocation opens an operation for its process and the
//! process's next completion closes it. `:info` completions, and `:fail` ones whose value
//! (or trailing error) is `:timed-out`, are indeterminate. For keyed models, a line with
//! no `:key` must carry a `[key value]` pair as its value (Jepsen's `independent` tuples).
//! Entries get `t_us` from `:time` when present, else their 0-based position.

mod edn;
mod error;
mod lines;

pub use edn::{read_one, Edn};
pub use error::{ImportError, ImportErrorKind};

use crate::history::History;

/// Which format a file was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One EDN map per line.
    EdnLines,
    /// `jepsen.util` log lines.
    JepsenLog,
    /// ksim's `history.json`.
    KsimJson,
}

/// A history read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// The format it was in.
    pub format: Format,
    /// The history.
    pub history: History,
    /// For each history entry, its 1-based line in the file (0 for `history.json`).
    pub lines: Vec<usize>,
}

/// Reads a history file. `keyed` says whether values without a `:key` are `[key value]`
/// pairs (the `kv` and `list-map` models) or plain values (`cas-register`).
///
/// # Errors
///
/// The first malformed line, or a file in none of the formats.
pub fn parse(text: &str, keyed: bool) -> Result<Imported, ImportError> {
    let first = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with(';'));
    let Some((first_index, first_line)) = first else {
        return Err(ImportError {
            line: 1,
            kind: ImportErrorKind::Empty,
        });
    };
    let trimmed = first_line.trim_start();
    if trimmed.starts_with('{') {
        lines::edn_lines(text, keyed)
    } else if trimmed.starts_with('[') {
        let history: History = serde_json::from_str(text).map_err(|e| ImportError {
            line: e.line().max(1),
            kind: ImportErrorKind::Json(e.to_string()),
        })?;
        let lines = vec![0; history.entries.len()];
        Ok(Imported {
            format: Format::KsimJson,
            history,
            lines,
        })
    } else if text.contains(lines::LOG_MARKER) {
        lines::log_lines(text, keyed)
    } else {
        Err(ImportError {
            line: first_index + 1,
            kind: ImportErrorKind::UnknownFormat,
        })
    }
}
