//! The `ksim` command line, as a library function so tests can drive it in-process.
//!
//! Exit codes (`DESIGN.md`): 0 every check passed; 2 bad input or usage; 3 safety
//! violation; 4 liveness violation; 5 undecided; 1 a replay or determinism mismatch (a bug
//! in ksim itself); anything else a crash.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use sim_core::check::{EXIT_PASS, EXIT_USAGE};
use sim_core::{FaultSchedule, Outcome, TraceHash};

use crate::bench::{self, BenchConfig};
use crate::catalog::scenarios;
use crate::output::{self, VerdictFile};
use crate::runner::{execute, prepare, Prepared};
use crate::scenario::{ScenarioError, ScenarioRun};
use crate::spec::ScenarioFile;

/// Exit code when a replay or a determinism check finds a different trace.
pub const EXIT_NONDETERMINISM: i32 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "ksim",
    version,
    about = "A deterministic simulator of the Kubernetes control plane",
    after_help = "Exit codes: 0 pass, 2 usage or bad input, 3 safety violation, 4 liveness violation, 5 undecided, 1 nondeterminism."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the scenarios.
    List,
    /// Run a scenario with a seed and write its run folder.
    Run {
        /// Scenario name (see `ksim list`).
        scenario: String,
        /// The seed (any u64).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        seed: u64,
        /// Run folder [default: out/<scenario>/seed-<seed>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// A fault schedule (TOML `[[faults]]` tables) to use instead of drawing one from the seed.
        #[arg(long)]
        faults: Option<PathBuf>,
        /// The scenario's config: a TOML table (missing keys take defaults), or a run
        /// folder's scenario.toml (its [config] table is used).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Switch on a planted bug (repeatable; see `ksim list`).
        #[arg(long = "mutant", value_name = "NAME")]
        mutants: Vec<String>,
        /// Kubernetes YAML for kubectl to apply at 3 s (repeatable; multi-document files;
        /// the Kubernetes scenarios only). Kept in the run's scenario.toml.
        #[arg(long = "manifest", value_name = "FILE")]
        manifests: Vec<PathBuf>,
        /// How followers serve reads, for scenarios with a `read_mode` (sets it in the
        /// config).
        #[arg(long, value_name = "MODE", value_parser = ["linearizable", "serializable"])]
        read_mode: Option<String>,
        /// Write only the run's data (no charts, diagrams, report.html or Perfetto export).
        #[arg(long)]
        no_report: bool,
        /// Judge the Raft safety checks as the run goes and end it at the first violation
        /// (sets `cluster.stop_at_first_violation`); liveness is then not judged.
        #[arg(long)]
        stop_at_first_violation: bool,
    },
    /// Draw (again) the report of a run folder: charts, diagrams, report.html, Perfetto export.
    Report {
        /// The run folder (written by `ksim run`).
        dir: PathBuf,
        /// Start the sequence diagram at this virtual time (ms).
        #[arg(long)]
        from_ms: Option<u64>,
        /// End the sequence diagram at this virtual time (ms).
        #[arg(long)]
        to_ms: Option<u64>,
        /// Show only these nodes' lifelines (comma-separated names, ids or groups, e.g.
        /// etcd-1,etcd-2,clients or n1,n2,n4).
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<String>,
        /// Skip the PNG copies of the charts.
        #[arg(long)]
        no_png: bool,
    },
    /// Rerun a run folder (or a scenario.toml) and say whether the trace is identical.
    Replay {
        /// A run folder, or a scenario.toml.
        path: PathBuf,
        /// Write the rerun's folder here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run every seed twice and name any seed whose two traces differ.
    Determinism {
        /// Scenario name.
        scenario: String,
        /// How many seeds.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Worker threads (each run has its own runtime, so results do not depend on this).
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
    /// Check history files (Jepsen EDN, jepsen.util log, or ksim history.json) for
    /// linearizability: one file with its counterexample, several with a line each and a
    /// summary (exit code: the worst, 3 > 2 > 5 > 0).
    CheckHistory {
        /// The history files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The model: cas-register (one register: read, write, cas), kv (per key: read,
        /// write, cas; etcd's put, get, txn with revisions), list-map (per key, lists:
        /// append, read) or string-kv (per key, strings: get, put, append concatenates, as
        /// in Porcupine's key-value tests). kv on a history that appends, and list-map on
        /// one whose reads return strings, check as string-kv; the output names the model
        /// used.
        #[arg(long)]
        model: sim_core::linearizability::ModelKind,
        /// Search steps allowed per key before the answer is "unknown" (the same verdict
        /// on every machine).
        #[arg(long, default_value_t = sim_core::linearizability::DEFAULT_MAX_STEPS)]
        max_steps: u64,
        /// Wall-clock time allowed per file before the answer is "unknown".
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
    /// Measure sim-core's network against bare madsim, and simulation speed.
    Bench {
        /// A short run (seconds, for smoke tests); numbers are noisier.
        #[arg(long)]
        quick: bool,
        /// Only `partition-5node` (trace recorded and hashed) beside its bare-madsim
        /// baseline, repeated: the fuzzer's cost per seed, for profiling it.
        #[arg(long)]
        scenario: bool,
    },
}

/// A failure that ends the command.
enum Failure {
    /// The user's to fix: exit 2.
    Usage(String),
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure::Usage(e.to_string())
    }
}

impl From<output::OutputError> for Failure {
    fn from(e: output::OutputError) -> Self {
        Failure::Usage(e.to_string())
    }
}

/// Runs `ksim` with `args` (the first is the program name); returns the exit code.
pub fn main_with<I, S>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = write!(out, "{}", e.render());
                return EXIT_PASS;
            }
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: bad arguments");
            let _ = writeln!(err, "{first}");
            return EXIT_USAGE;
        }
    };
    let result = match cli.command {
        Command::List => list(out),
        Command::Run {
            scenario,
            seed,
            out: dir,
            faults,
            config,
            mutants,
            manifests,
            read_mode,
            no_report,
            stop_at_first_violation,
        } => run(
            out,
            &scenario,
            seed,
            dir,
            faults,
            (config, read_mode, stop_at_first_violation),
            (mutants, no_report, manifests),
        ),
        Command::Report {
            dir,
            from_ms,
            to_ms,
            nodes,
            no_png,
        } => report(out, &dir, (from_ms, to_ms), nodes, no_png),
        Command::Replay { path, out: dir } => replay(out, &path, dir),
        Command::Determinism {
            scenario,
            seeds,
            first_seed,
            jobs,
        } => determinism(out, &scenario, first_seed, seeds, jobs),
        Command::CheckHistory {
            files,
            model,
            max_steps,
            timeout_ms,
        } => {
            let opts = crate::check_history::CheckOptions {
                model,
                max_steps,
                timeout_ms,
            };
            Ok(crate::check_history::check_histories(
                out, err, &files, &opts,
            ))
        }
        Command::Bench { quick, scenario } => {
            let cfg = if quick {
                BenchConfig::quick()
            } else {
                BenchConfig::default()
            };
            if scenario {
                let _ = write!(out, "{}", bench::scenario_only(&cfg));
            } else {
                let _ = write!(out, "{}", bench::run(&cfg));
            }
            Ok(EXIT_PASS)
        }
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            let _ = writeln!(err, "error: {message}");
            EXIT_USAGE
        }
    }
}

fn list(out: &mut dyn Write) -> Result<i32, Failure> {
    for s in scenarios() {
        let _ = writeln!(out, "{:<24} {}", s.name(), s.summary());
        if !s.catches().is_empty() {
            let _ = writeln!(out, "{:<24}   catches: {}", "", s.catches().join(", "));
        }
    }
    let _ = writeln!(
        out,
        "\nplanted bugs (--mutant NAME; every Raft scenario accepts each of them):"
    );
    for (name, what) in raft::driver::MUTANT_SUMMARIES {
        let _ = writeln!(out, "  {name:<24} {what}");
    }
    let _ = writeln!(
        out,
        "\nplanted bugs of the Kubernetes layer (every Kubernetes scenario accepts each of them):"
    );
    for (name, what) in crate::kube_world::KUBE_MUTANTS {
        let _ = writeln!(out, "  {name:<26} {what}");
    }
    Ok(EXIT_PASS)
}

/// Puts the manifest files into the config's `manifests`, after any the config names.
fn add_manifests(
    found: &'static dyn crate::scenario::AnyScenario,
    config: &mut toml::Table,
    paths: &[PathBuf],
) -> Result<(), Failure> {
    if !found
        .configure(&toml::Table::new())?
        .table()
        .contains_key("manifests")
    {
        return Err(Failure::Usage(format!(
            "{} takes no manifests: --manifest is for the Kubernetes scenarios",
            found.name()
        )));
    }
    let mut list = match config.remove("manifests") {
        Some(toml::Value::Array(a)) => a,
        _ => Vec::new(),
    };
    for path in paths {
        let mut file = toml::Table::new();
        file.insert(
            "file".into(),
            toml::Value::String(path.display().to_string()),
        );
        file.insert("yaml".into(), toml::Value::String(read_text(path)?));
        list.push(toml::Value::Table(file));
    }
    config.insert("manifests".into(), toml::Value::Array(list));
    Ok(())
}

fn read_text(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}

fn run(
    out: &mut dyn Write,
    scenario: &str,
    seed: u64,
    dir: Option<PathBuf>,
    faults: Option<PathBuf>,
    (config, read_mode, stop): (Option<PathBuf>, Option<String>, bool),
    (mutants, no_report, manifests): (Vec<String>, bool, Vec<PathBuf>),
) -> Result<i32, Failure> {
    let found = crate::catalog::find(scenario)?;
    let mut config = match config {
        Some(path) => config_table(scenario, &path)?,
        None => toml::Table::new(),
    };
    if !manifests.is_empty() {
        add_manifests(found, &mut config, &manifests)?;
    }
    if let Some(mode) = read_mode {
        config.insert("read_mode".into(), toml::Value::String(mode));
    }
    if stop {
        stop_at_first_violation(found, &mut config)?;
    }
    let faults = match faults {
        Some(path) => {
            // The file may name nodes (`etcd-1`) and groups (`servers`) of this world.
            let directory = found.configure(&config)?.directory();
            let origin = path.display().to_string();
            let schedule = FaultSchedule::from_toml_in(&read_text(&path)?, &origin, &directory)
                .map_err(ScenarioError::from_fault_toml)?;
            Some(schedule.faults)
        }
        None => None,
    };
    let file = ScenarioFile {
        scenario: scenario.to_string(),
        seed,
        config,
        mutants,
        faults,
    };
    let prepared = prepare(&file)?;
    let dir = dir.unwrap_or_else(|| output::default_dir(scenario, seed));
    output::ensure_writable(&dir)?;
    let run = execute_reporting_crashes(&prepared)?;
    let mut names = output::write_run(&dir, &prepared, &run)?;
    print_run(out, &prepared, &run);
    let code = run.verdict.status().exit_code();
    if !no_report {
        let folder = output::run_folder(&prepared, run);
        let artifacts = reports::render(
            &folder,
            &reports::ReportOptions::default(),
            &dir.display().to_string(),
        )
        .map_err(|e| Failure::Usage(format!("report: {e}")))?;
        names.extend(
            reports::write(&dir, &artifacts).map_err(|e| Failure::Usage(format!("report: {e}")))?,
        );
    }
    let _ = writeln!(out, "wrote {}/ ({})", dir.display(), names.join(", "));
    if !no_report {
        let _ = writeln!(out, "report: {}", dir.join("report.html").display());
    }
    let _ = writeln!(out, "replay: ksim replay {}", dir.display());
    Ok(code)
}

/// The config table of `--config`: a plain table, or a run folder's scenario.toml (its
/// `[config]`, which must be for the same scenario).
fn config_table(scenario: &str, path: &Path) -> Result<toml::Table, Failure> {
    let text = read_text(path)?;
    let origin = path.display().to_string();
    let table = toml::from_str::<toml::Table>(&text)
        .map_err(|e| ScenarioError::from_toml(&text, &origin, &e))?;
    let Some(name) = table.get("scenario") else {
        return Ok(table);
    };
    let file = ScenarioFile::from_toml(&text, &origin)?;
    if name.as_str() != Some(scenario) {
        return Err(Failure::Usage(format!(
            "{origin} is a scenario file for {}, not {scenario}",
            file.scenario
        )));
    }
    Ok(file.config)
}

fn report(
    out: &mut dyn Write,
    dir: &Path,
    (from_ms, to_ms): (Option<u64>, Option<u64>),
    nodes: Vec<String>,
    no_png: bool,
) -> Result<i32, Failure> {
    if let (Some(from), Some(to)) = (from_ms, to_ms) {
        if from > to {
            return Err(Failure::Usage(format!(
                "--from-ms {from} is after --to-ms {to}"
            )));
        }
    }
    let run = reports::RunFolder::load(dir).map_err(|e| Failure::Usage(e.to_string()))?;
    // `--nodes` names nodes as the run's directory does (`etcd-1`, `clients`, or `n1`).
    let directory = run.trace.directory();
    let mut shown = Vec::new();
    for reference in &nodes {
        let ids = if directory.is_empty() {
            reference
                .parse()
                .map(|id| vec![id])
                .map_err(|e| format!("--nodes: {e}"))
        } else {
            directory
                .resolve(reference)
                .map_err(|e| format!("--nodes: {e}"))
        };
        shown.extend(ids.map_err(Failure::Usage)?);
    }
    let options = reports::ReportOptions {
        window: reports::Window {
            from_us: from_ms.map(|ms| ms.saturating_mul(1000)),
            to_us: to_ms.map(|ms| ms.saturating_mul(1000)),
            nodes: (!shown.is_empty()).then_some(shown),
        },
        png: !no_png,
    };
    let artifacts = reports::render(&run, &options, &dir.display().to_string())
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let names = reports::write(dir, &artifacts).map_err(|e| Failure::Usage(e.to_string()))?;
    let _ = writeln!(out, "wrote {}/ ({})", dir.display(), names.join(", "));
    let _ = writeln!(out, "report: {}", dir.join("report.html").display());
    Ok(EXIT_PASS)
}

/// Runs, and if ksim itself panics, says which seed to replay before the panic goes on.
fn execute_reporting_crashes(prepared: &Prepared) -> Result<ScenarioRun, Failure> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(prepared))) {
        Ok(result) => Ok(result?),
        Err(panic) => {
            eprintln!(
                "ksim crashed running {} with seed {}; rerun it with: ksim run {} --seed {}",
                prepared.file.scenario,
                prepared.file.seed,
                prepared.file.scenario,
                prepared.file.seed
            );
            std::panic::resume_unwind(panic)
        }
    }
}

/// Sets `cluster.stop_at_first_violation` in `config`, or says why the scenario has none.
fn stop_at_first_violation(
    found: &'static dyn crate::scenario::AnyScenario,
    config: &mut toml::Table,
) -> Result<(), Failure> {
    let has_cluster = found
        .configure(config)?
        .table()
        .get("cluster")
        .is_some_and(toml::Value::is_table);
    if !has_cluster {
        return Err(Failure::Usage(format!(
            "--stop-at-first-violation: {} has no Raft cluster whose safety checks could run online",
            found.name()
        )));
    }
    let cluster = config
        .entry("cluster")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(cluster) = cluster.as_table_mut() else {
        return Err(Failure::Usage("config: `cluster` must be a table".into()));
    };
    cluster.insert("stop_at_first_violation".into(), toml::Value::Boolean(true));
    Ok(())
}

fn print_run(out: &mut dyn Write, prepared: &Prepared, run: &ScenarioRun) {
    let status = run.verdict.status();
    let mutants = if prepared.file.mutants.is_empty() {
        String::new()
    } else {
        format!(" mutants={}", prepared.file.mutants.join(","))
    };
    let _ = writeln!(
        out,
        "{} seed={}{mutants}: {} (exit {})",
        prepared.file.scenario,
        prepared.file.seed,
        status_word(status),
        status.exit_code()
    );
    for check in &run.verdict.checks {
        let word = match &check.outcome {
            Outcome::Violation { .. } => "VIOLATION",
            other => other.label(),
        };
        let detail = check
            .outcome
            .message()
            .map(|m| format!("  {m}"))
            .unwrap_or_default();
        let kind = format!("{:?}", check.kind).to_lowercase();
        let _ = writeln!(out, "  {:<32} {:<10} {word}{detail}", check.name, kind);
    }
    let missing = run.verdict.stories_missing().count();
    if missing > 0 {
        let _ = writeln!(
            out,
            "story: {missing} check(s) found that the scenario's story did not happen as \
             scripted (added faults changed it); that is not a violation"
        );
    }
    let _ = writeln!(
        out,
        "trace: {} events, hash {}",
        run.trace.events.len(),
        run.trace.hash()
    );
}

fn status_word(status: sim_core::Status) -> &'static str {
    match status {
        sim_core::Status::Pass => "PASS",
        sim_core::Status::SafetyViolation => "SAFETY VIOLATION",
        sim_core::Status::LivenessViolation => "LIVENESS VIOLATION",
        sim_core::Status::Undecided => "UNDECIDED",
    }
}

fn replay(out: &mut dyn Write, path: &Path, dir: Option<PathBuf>) -> Result<i32, Failure> {
    let (file_path, folder) = if path.is_dir() {
        (path.join("scenario.toml"), Some(path.to_path_buf()))
    } else {
        (path.to_path_buf(), path.parent().map(Path::to_path_buf))
    };
    let text = read_text(&file_path)?;
    let file = ScenarioFile::from_toml(&text, &file_path.display().to_string())?;
    let prepared = prepare(&file)?;
    if let Some(dir) = &dir {
        output::ensure_writable(dir)?;
    }
    let expected = folder.as_deref().and_then(expected_hash);
    let run = execute_reporting_crashes(&prepared)?;
    print_run(out, &prepared, &run);
    if let Some(dir) = &dir {
        let names = output::write_run(dir, &prepared, &run)?;
        let _ = writeln!(out, "wrote {}/ ({})", dir.display(), names.join(", "));
    }
    let got = run.trace.hash();
    match expected {
        Some(want) if want == got => {
            let _ = writeln!(out, "replay: identical trace (hash {got})");
            Ok(run.verdict.status().exit_code())
        }
        Some(want) => {
            let _ = writeln!(
                out,
                "replay: TRACE DIFFERS: the run folder has hash {want}, this run gave {got}"
            );
            Ok(EXIT_NONDETERMINISM)
        }
        None => {
            let _ = writeln!(
                out,
                "replay: no recorded trace beside {} to compare with",
                file_path.display()
            );
            Ok(run.verdict.status().exit_code())
        }
    }
}

/// The recorded trace hash of a run folder: from `verdict.json`, else from `trace.jsonl`.
fn expected_hash(folder: &Path) -> Option<TraceHash> {
    if let Ok(text) = std::fs::read_to_string(folder.join("verdict.json")) {
        if let Ok(verdict) = serde_json::from_str::<VerdictFile>(&text) {
            return Some(verdict.trace_hash);
        }
    }
    std::fs::read(folder.join("trace.jsonl"))
        .ok()
        .map(|bytes| sim_core::trace::hash_jsonl_bytes(&bytes, &reports::layers()))
}

fn determinism(
    out: &mut dyn Write,
    scenario: &str,
    first_seed: u64,
    seeds: u64,
    jobs: usize,
) -> Result<i32, Failure> {
    crate::catalog::find(scenario)?;
    if seeds == 0 {
        return Err(Failure::Usage("--seeds must be at least 1".into()));
    }
    let Some(last) = first_seed.checked_add(seeds - 1) else {
        return Err(Failure::Usage(
            "--first-seed + --seeds overflows u64".into(),
        ));
    };
    let list: Vec<u64> = (first_seed..=last).collect();
    // Validate the input once, before spending time.
    prepare(&ScenarioFile {
        scenario: scenario.to_string(),
        seed: first_seed,
        config: toml::Table::new(),
        mutants: Vec::new(),
        faults: None,
    })?;
    let results = crate::parallel::map(&list, jobs.max(1), |&seed| {
        let file = ScenarioFile {
            scenario: scenario.to_string(),
            seed,
            config: toml::Table::new(),
            mutants: Vec::new(),
            faults: None,
        };
        let prepared = prepare(&file).expect("validated above");
        let a = execute(&prepared).expect("validated above").trace.hash();
        let b = execute(&prepared).expect("validated above").trace.hash();
        (seed, a, b)
    });
    let differing: Vec<&(u64, TraceHash, TraceHash)> =
        results.iter().filter(|(_, a, b)| a != b).collect();
    let distinct: std::collections::BTreeSet<&TraceHash> =
        results.iter().map(|(_, a, _)| a).collect();
    let _ = writeln!(
        out,
        "determinism {scenario}: seeds {first_seed}..={last}, each run twice: {} identical, {} differ; {} distinct traces",
        results.len() - differing.len(),
        differing.len(),
        distinct.len()
    );
    for (seed, a, b) in &differing {
        let _ = writeln!(out, "  seed {seed} differs: {a} then {b}");
    }
    Ok(if differing.is_empty() {
        EXIT_PASS
    } else {
        EXIT_NONDETERMINISM
    })
}
