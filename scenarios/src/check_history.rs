//! `ksim check-history FILE --model M`: judge a recorded history (Jepsen EDN, a
//! `jepsen.util` log, or a ksim `history.json`) for linearizability.
//!
//! Prints `linearizable`, `not linearizable` and the counterexample, or `unknown` and why;
//! exits 0, 3 or 5 like a run's verdict. A file that cannot be read or parsed is the user's
//! to fix: one line `FILE:LINE: what`, exit 2.

use std::io::Write;
use std::path::Path;

use sim_core::check::{EXIT_PASS, EXIT_SAFETY, EXIT_UNDECIDED};
use sim_core::jepsen;
use sim_core::linearizability::{LinResult, ModelKind};

/// Checks the history in `path` with `model` and at most `max_steps` search steps per
/// partition; writes the verdict to `out` and returns the exit code.
///
/// # Errors
///
/// A one-line message (`FILE:LINE: ...` when a line is to blame) when the file cannot be
/// read, is in no known format, or holds an operation the model cannot read.
pub fn check_history(
    out: &mut dyn Write,
    path: &Path,
    model: ModelKind,
    max_steps: u64,
) -> Result<i32, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {file}: {e}"))?;
    let imported = jepsen::parse(&text, model.keyed())
        .map_err(|e| format!("{file}:{}: {}", e.line, e.kind))?;
    let report = model.check(&imported.history, max_steps).map_err(|e| {
        match imported.lines.get(e.entry).copied().filter(|&l| l > 0) {
            Some(line) => format!("{file}:{line}: {}: {}", e.op, e.message),
            None => format!("{file}: {e}"),
        }
    })?;
    let stats = format!(
        "{} ops, {} partition(s), {} search steps",
        report.operations, report.partitions, report.steps
    );
    let code = match &report.result {
        LinResult::Linearizable => {
            let _ = writeln!(out, "linearizable ({model} model; {stats})");
            EXIT_PASS
        }
        LinResult::NotLinearizable(cx) => {
            let _ = writeln!(out, "not linearizable ({model} model; {stats})");
            let _ = write!(out, "{cx}");
            EXIT_SAFETY
        }
        LinResult::Unknown { reason } => {
            let _ = writeln!(out, "unknown: {reason} ({model} model; {stats})");
            EXIT_UNDECIDED
        }
    };
    Ok(code)
}
