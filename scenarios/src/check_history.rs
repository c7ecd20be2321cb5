//! `ksim check-history FILE... --model M`: judge recorded histories (Jepsen EDN, a
//! `jepsen.util` log, or a ksim `history.json`) for linearizability.
//!
//! One file prints `linearizable`, `not linearizable` and the counterexample, or `unknown`
//! and why, and exits 0, 3 or 5 like a run's verdict; a file that cannot be read or parsed
//! is the user's to fix: one line `FILE:LINE: what`, exit 2.
//!
//! Several files (a folder of Jepsen runs, say) are checked one after another in this
//! process, one line each (verdict, model, operations, partitions, steps, wall time), then
//! a summary; an unreadable file gets its line and the others go on. The exit code is the
//! worst one met: 3 if any history is not linearizable, else 2 if any file is unreadable,
//! else 5 if any is undecided, else 0.
//!
//! The model the user names may be refined per file ([`ModelKind::resolve`]: `kv` with
//! appends and `list-map` with string reads check as `string-kv`); the line says which
//! model judged it.

use std::io::Write;
use std::path::{Path, PathBuf};

use sim_core::check::{EXIT_PASS, EXIT_SAFETY, EXIT_UNDECIDED, EXIT_USAGE};
use sim_core::jepsen;
use sim_core::linearizability::{Budget, Interrupt, LinReport, LinResult, ModelKind};

/// What the user asked of every file.
#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// The model named by `--model` (refined per file by [`ModelKind::resolve`]).
    pub model: ModelKind,
    /// Search steps allowed per partition.
    pub max_steps: u64,
    /// Wall-clock time allowed per file, if any.
    pub timeout_ms: Option<u64>,
}

/// A file checked: the model that judged it, its report, and the wall time it took
/// (reading and parsing included).
struct Checked {
    model: ModelKind,
    report: LinReport,
    wall_ms: f64,
}

/// The wall clock, for the time limit and the per-file time a person reads. This is the
/// CLI timing work outside any simulation; verdicts never depend on it unless
/// `--timeout-ms` is given, and then the answer that changes is only "unknown".
// The one wall-clock reading of check-history (see above).
#[allow(clippy::disallowed_types)]
type Clock = std::time::Instant;

#[allow(clippy::disallowed_methods)]
fn clock_now() -> Clock {
    Clock::now()
}

/// Reads, parses and checks one file.
fn check_file(path: &Path, opts: &CheckOptions) -> Result<Checked, String> {
    let start = clock_now();
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {file}: {e}"))?;
    let model = opts.model;
    let imported = jepsen::parse(&text, model.keyed())
        .map_err(|e| format!("{file}:{}: {}", e.line, e.kind))?;
    let model = model.resolve(&imported.history);
    let reason = opts
        .timeout_ms
        .map(|ms| format!("time limit of {ms} ms reached"));
    let limit = opts
        .timeout_ms
        .map(|ms| start + std::time::Duration::from_millis(ms));
    let stop = move || limit.is_some_and(|at| clock_now() >= at);
    let budget = Budget {
        max_steps: opts.max_steps,
        interrupt: reason.as_deref().map(|reason| Interrupt {
            stop: &stop,
            reason,
        }),
    };
    let report = model
        .check_within(&imported.history, &budget)
        .map_err(
            |e| match imported.lines.get(e.entry).copied().filter(|&l| l > 0) {
                Some(line) => format!("{file}:{line}: {}: {}", e.op, e.message),
                None => format!("{file}: {e}"),
            },
        )?;
    Ok(Checked {
        model,
        report,
        wall_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// The exit code of a verdict.
fn exit_code(result: &LinResult) -> i32 {
    match result {
        LinResult::Linearizable => EXIT_PASS,
        LinResult::NotLinearizable(_) => EXIT_SAFETY,
        LinResult::Unknown { .. } => EXIT_UNDECIDED,
    }
}

/// How bad an exit code is, for the worst of several: a violation beats an unreadable
/// file (the user learns the history is wrong either way), which beats undecided.
fn severity(code: i32) -> u8 {
    match code {
        EXIT_SAFETY => 3,
        EXIT_USAGE => 2,
        EXIT_UNDECIDED => 1,
        _ => 0,
    }
}

/// Checks the history in `path`; writes the verdict (and a counterexample) to `out` and
/// returns the exit code.
///
/// # Errors
///
/// A one-line message (`FILE:LINE: ...` when a line is to blame) when the file cannot be
/// read, is in no known format, or holds an operation the model cannot read.
pub fn check_history(out: &mut dyn Write, path: &Path, opts: &CheckOptions) -> Result<i32, String> {
    let Checked { model, report, .. } = check_file(path, opts)?;
    let stats = format!(
        "{} ops, {} partition(s), {} search steps",
        report.operations, report.partitions, report.steps
    );
    let _ = match &report.result {
        LinResult::Linearizable => writeln!(out, "linearizable ({model} model; {stats})"),
        LinResult::NotLinearizable(cx) => {
            writeln!(out, "not linearizable ({model} model; {stats})\n{cx}")
        }
        LinResult::Unknown { reason } => {
            writeln!(out, "unknown: {reason} ({model} model; {stats})")
        }
    };
    Ok(exit_code(&report.result))
}

/// Checks every file of `paths`, one line each and a summary, and returns the worst exit
/// code (see the module docs). One path behaves as [`check_history`] does.
pub fn check_histories(
    out: &mut dyn Write,
    err: &mut dyn Write,
    paths: &[PathBuf],
    opts: &CheckOptions,
) -> i32 {
    if let [path] = paths {
        return check_history(out, path, opts).unwrap_or_else(|message| {
            let _ = writeln!(err, "error: {message}");
            EXIT_USAGE
        });
    }
    let start = clock_now();
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let mut counts = [0usize; 4]; // linearizable, not, unknown, unreadable
    let mut operations = 0;
    let mut worst = EXIT_PASS;
    for (path, name) in paths.iter().zip(&names) {
        let (code, line) = match check_file(path, opts) {
            Ok(c) => {
                operations += c.report.operations;
                let (verdict, detail) = match &c.report.result {
                    LinResult::Linearizable => ("linearizable", String::new()),
                    LinResult::NotLinearizable(cx) => (
                        "not linearizable",
                        cx.key
                            .as_ref()
                            .map(|k| format!("  key {k}"))
                            .unwrap_or_default(),
                    ),
                    LinResult::Unknown { reason } => ("unknown", format!("  {reason}")),
                };
                let line = format!(
                    "{name:<width$}  {verdict:<16}  {:<12}  {:>6} ops  {:>4} partition(s)  {:>9} steps  {:>8.2} ms{detail}",
                    c.model.name(),
                    c.report.operations,
                    c.report.partitions,
                    c.report.steps,
                    c.wall_ms,
                );
                (exit_code(&c.report.result), line)
            }
            Err(message) => (
                EXIT_USAGE,
                format!("{name:<width$}  {:<16}  {message}", "unreadable"),
            ),
        };
        counts[match code {
            EXIT_PASS => 0,
            EXIT_SAFETY => 1,
            EXIT_UNDECIDED => 2,
            _ => 3,
        }] += 1;
        if severity(code) > severity(worst) {
            worst = code;
        }
        let _ = writeln!(out, "{line}");
    }
    let [ok, bad, unknown, unreadable] = counts;
    let _ = writeln!(
        out,
        "{} files: {ok} linearizable, {bad} not linearizable, {unknown} unknown, {unreadable} unreadable; {operations} ops in {:.1} ms{}",
        paths.len(),
        start.elapsed().as_secs_f64() * 1e3,
        if bad > 0 {
            " (give one file alone for its counterexample)"
        } else {
            ""
        }
    );
    worst
}
