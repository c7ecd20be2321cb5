//! Trace hashes of a few (scenario, seed) pairs, committed in `tests/golden/trace_hashes.txt`
//! (`scenario seed hash` lines). Determinism within one process is `determinism.rs`'s
//! business; this file holds it across processes, builds and machines: a change to what
//! a run does, to the order of anything, or to how the trace is written changes a hash.
//!
//! An intended change (a new trace event, a new hash encoding) is recorded by rerunning
//! with `KSIM_UPDATE_GOLDEN=1`, which rewrites the file; the diff then says which runs
//! changed.

use std::path::PathBuf;

use ksim_tests::golden;
use scenarios::runner::run_scenario;

/// The runs pinned: each scenario's default config and its own fault schedule.
const RUNS: [(&str, u64); 10] = [
    ("ping-mesh", 1),
    ("ping-mesh", 2),
    ("election", 1),
    ("election", 2),
    ("quorum-write", 1),
    ("quorum-write", 2),
    ("partition-5node", 1),
    ("partition-5node", 2),
    ("split-brain", 1),
    ("split-brain", 2),
];

fn golden_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/trace_hashes.txt")
}

fn render(lines: &[(String, u64, String)]) -> String {
    let mut out = String::from(
        "# scenario seed trace-hash: rewritten by `KSIM_UPDATE_GOLDEN=1 cargo test -p ksim-tests --test trace_hashes`\n",
    );
    for (scenario, seed, hash) in lines {
        out.push_str(&format!("{scenario} {seed} {hash}\n"));
    }
    out
}

#[test]
fn pinned_runs_keep_their_trace_hashes() {
    let actual: Vec<(String, u64, String)> = RUNS
        .iter()
        .map(|&(scenario, seed)| {
            let run = run_scenario(scenario, seed, "", &[])
                .unwrap_or_else(|e| panic!("{scenario} seed {seed}: {e}"));
            (scenario.to_string(), seed, run.trace.hash().0)
        })
        .collect();
    let text = render(&actual);
    let path = golden_file();
    if golden::updating() {
        std::fs::write(&path, &text).expect("write tests/golden/trace_hashes.txt");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run with {}=1 to write it",
            path.display(),
            golden::UPDATE_VAR
        )
    });
    let changed: Vec<String> = expected
        .lines()
        .filter(|l| !l.starts_with('#'))
        .zip(text.lines().filter(|l| !l.starts_with('#')))
        .filter(|(e, a)| e != a)
        .map(|(e, a)| format!("  expected {e}\n  got      {a}"))
        .collect();
    assert!(
        changed.is_empty() && expected == text,
        "trace hashes differ from {}:\n{}\n(if the change is intended, rerun with {}=1 and review the diff)",
        path.display(),
        changed.join("\n"),
        golden::UPDATE_VAR
    );
}
