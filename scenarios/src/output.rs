//! The run folder: `scenario.toml`, `trace.jsonl`, `history.json`, `verdict.json`, and the
//! scenario's measured data files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::runner::Prepared;
use crate::scenario::ScenarioRun;

pub use sim_core::run_record::VerdictFile;

/// The verdict file of a run.
pub fn verdict_file(prepared: &Prepared, run: &ScenarioRun) -> VerdictFile {
    let status = run.verdict.status();
    VerdictFile {
        scenario: prepared.file.scenario.clone(),
        seed: prepared.file.seed,
        status,
        exit_code: status.exit_code(),
        trace_hash: run.trace.hash(),
        events: run.trace.events.len(),
        checks: run.verdict.checks.clone(),
    }
}

/// A folder that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to {}: {source}", path.display())]
pub struct OutputError {
    /// The folder or file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// Creates `dir` if needed and proves it writable, before a run spends time.
///
/// # Errors
///
/// If it cannot be created or written.
pub fn ensure_writable(dir: &Path) -> Result<(), OutputError> {
    let fail = |source| OutputError {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".ksim-write-probe");
    fs::write(&probe, b"").map_err(fail)?;
    fs::remove_file(&probe).map_err(fail)
}

/// Writes the run folder; returns the file names written.
///
/// # Errors
///
/// If a file cannot be written.
pub fn write_run(
    dir: &Path,
    prepared: &Prepared,
    run: &ScenarioRun,
) -> Result<Vec<String>, OutputError> {
    ensure_writable(dir)?;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "scenario.toml".into(),
            prepared
                .file
                .to_toml_named(&prepared.configured.directory())
                .into_bytes(),
        ),
        (
            "history.json".into(),
            serde_json::to_vec_pretty(&run.history).expect("histories serialize"),
        ),
        (
            "verdict.json".into(),
            serde_json::to_vec_pretty(&verdict_file(prepared, run)).expect("verdicts serialize"),
        ),
    ];
    files.extend(run.data.iter().cloned());
    let mut names = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(&name);
        fs::write(&path, bytes).map_err(|source| OutputError { path, source })?;
        names.push(name);
    }
    let path = dir.join("trace.jsonl");
    write_trace(&path, &run.trace).map_err(|source| OutputError { path, source })?;
    names.insert(1, "trace.jsonl".to_string());
    Ok(names)
}

/// Writes `trace.jsonl` in one pass through a buffer, without holding the whole file in
/// memory.
fn write_trace(path: &Path, trace: &sim_core::Trace) -> std::io::Result<()> {
    let file = fs::File::create(path)?;
    trace.write_jsonl(std::io::BufWriter::with_capacity(1 << 16, file))
}

/// The default run folder: `out/<scenario>/seed-<seed>`.
pub fn default_dir(scenario: &str, seed: u64) -> PathBuf {
    Path::new("out").join(scenario).join(format!("seed-{seed}"))
}

/// A finished run as the reports read it (what [`write_run`] wrote, without reading it
/// back).
pub fn run_folder(prepared: &Prepared, run: ScenarioRun) -> reports::RunFolder {
    let scenario_toml = prepared
        .file
        .to_toml_named(&prepared.configured.directory());
    let scenario = toml::from_str(&scenario_toml).expect("a written scenario file parses");
    let verdict = verdict_file(prepared, &run);
    reports::RunFolder {
        scenario_toml,
        scenario,
        verdict,
        trace: run.trace,
        history: run.history,
        data: run.data.into_iter().collect(),
    }
}
