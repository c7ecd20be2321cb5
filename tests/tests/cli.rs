//! The `ksim` command line, driven in-process: good runs write their folder and replay
//! identically; every kind of bad input gives exit 2 and one clear line.

use std::path::Path;

use scenarios::cli::main_with;

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

fn ksim(args: &[&str]) -> Outcome {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["ksim"];
    argv.extend_from_slice(args);
    let code = main_with(argv, &mut out, &mut err);
    Outcome {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Asserts exit 2 with exactly one line on stderr that contains `needle`.
fn assert_usage_error(o: &Outcome, needle: &str) {
    assert_eq!(o.code, 2, "stdout: {}\nstderr: {}", o.out, o.err);
    let lines: Vec<&str> = o.err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {:?}", o.err);
    assert!(lines[0].contains(needle), "{:?} lacks {needle:?}", lines[0]);
}

#[test]
fn list_names_the_demo() {
    let o = ksim(&["list"]);
    assert_eq!(o.code, 0);
    assert!(o.out.contains("ping-mesh"));
}

#[test]
fn run_writes_the_folder_and_replay_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let dir_s = dir.display().to_string();
    let o = ksim(&["run", "ping-mesh", "--seed", "7", "--out", &dir_s]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    for f in [
        "scenario.toml",
        "trace.jsonl",
        "history.json",
        "verdict.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    assert!(o.out.contains("hash "), "{}", o.out);
    assert!(o.out.contains(&format!("ksim replay {dir_s}")), "{}", o.out);

    let verdict: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("verdict.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("trace.jsonl")).unwrap();
    assert_eq!(
        verdict["trace_hash"].as_str().unwrap(),
        sim_core::trace::hash_jsonl_bytes(&bytes, &reports::layers()).0
    );

    let replay = ksim(&["replay", &dir_s]);
    assert_eq!(replay.code, 0, "{}", replay.out);
    assert!(replay.out.contains("identical trace"), "{}", replay.out);
    let replay_file = ksim(&["replay", &dir.join("scenario.toml").display().to_string()]);
    assert!(
        replay_file.out.contains("identical trace"),
        "{}",
        replay_file.out
    );
}

#[test]
fn replay_notices_a_tampered_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let dir_s = dir.display().to_string();
    assert_eq!(
        ksim(&["run", "ping-mesh", "--seed", "3", "--out", &dir_s]).code,
        0
    );
    std::fs::remove_file(dir.join("verdict.json")).unwrap();
    let mut trace = std::fs::read_to_string(dir.join("trace.jsonl")).unwrap();
    trace.push_str("{\"id\":999999,\"t_us\":0,\"type\":\"run-end\"}\n");
    std::fs::write(dir.join("trace.jsonl"), trace).unwrap();
    let o = ksim(&["replay", &dir_s]);
    assert_eq!(o.code, 1, "{}", o.out);
    assert!(o.out.contains("TRACE DIFFERS"), "{}", o.out);
}

#[test]
fn a_given_fault_file_is_what_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = write(
        tmp.path(),
        "f.toml",
        "[[faults]]\nat_ms = 1000\nop = \"isolate\"\nnode = \"n2\"\n\n[[faults]]\nat_ms = 3000\nop = \"heal\"\n",
    );
    let dir = tmp.path().join("run");
    let o = ksim(&[
        "run",
        "ping-mesh",
        "--seed",
        "1",
        "--faults",
        &faults,
        "--out",
        &dir.display().to_string(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    let saved = std::fs::read_to_string(dir.join("scenario.toml")).unwrap();
    let file = scenarios::ScenarioFile::from_toml(&saved, "saved").unwrap();
    let faults = file.faults.unwrap();
    assert_eq!(faults.len(), 2);
    assert_eq!(
        faults[0].op,
        sim_core::FaultOp::Isolate {
            node: sim_core::NodeId(2)
        }
    );
}

#[test]
fn a_run_that_never_heals_is_a_story_that_did_not_happen_not_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = write(
        tmp.path(),
        "f.toml",
        "[[faults]]\nat_ms = 1000\nop = \"isolate\"\nnode = \"n1\"\n",
    );
    let dir = tmp.path().join("run");
    let o = ksim(&[
        "run",
        "ping-mesh",
        "--faults",
        &faults,
        "--no-report",
        "--out",
        &dir.display().to_string(),
    ]);
    // The liveness bound starts when every fault is gone; this run never got there.
    assert_eq!(o.code, 0, "{}", o.out);
    assert!(o.out.contains("mesh-healed"), "{}", o.out);
    assert!(o.out.contains("not-reached"), "{}", o.out);
}

#[test]
fn a_liveness_bug_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // Seed 2 is one the planted_bugs hunt finds (any of its seeds would do).
    let o = ksim(&[
        "run",
        "election",
        "--seed",
        "2",
        "--mutant",
        "fixed-election-timeout",
        "--no-report",
        "--out",
        &dir.display().to_string(),
    ]);
    assert_eq!(o.code, 4, "{}", o.out);
    assert!(o.out.contains("new-leader-after-isolation"), "{}", o.out);
}

#[test]
fn determinism_command_compares_seeds() {
    let o = ksim(&["determinism", "ping-mesh", "--seeds", "6", "--jobs", "2"]);
    assert_eq!(o.code, 0, "{}", o.out);
    assert!(
        o.out.contains("6 identical, 0 differ; 6 distinct traces"),
        "{}",
        o.out
    );
}

#[test]
fn unknown_scenario_lists_the_known_ones() {
    assert_usage_error(
        &ksim(&["run", "nope"]),
        "unknown scenario `nope` (known: ping-mesh",
    );
    assert_usage_error(&ksim(&["determinism", "nope"]), "unknown scenario");
}

#[test]
fn a_seed_that_is_not_a_u64_is_refused() {
    for bad in ["abc", "-1", "18446744073709551616", "1.5"] {
        assert_usage_error(&ksim(&["run", "ping-mesh", "--seed", bad]), "--seed");
    }
}

#[test]
fn malformed_toml_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "bad.toml", "[[faults]]\nat_ms = 10\nop = \n");
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "bad.toml:3:6:",
    );
    let f = write(
        tmp.path(),
        "typo.toml",
        "[[faults]]\nat_ms = 10\nop = \"kill\"\nnode = \"n1\"\nnoed = \"n2\"\n",
    );
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "typo.toml:5:1: fault 1: unknown field `noed`",
    );
    let s = write(
        tmp.path(),
        "scenario.toml",
        "scenario = \"ping-mesh\"\nseed = \"x\"\n",
    );
    assert_usage_error(&ksim(&["replay", &s]), "scenario.toml:2:8:");
    let c = write(tmp.path(), "config.toml", "nodes = [\n");
    assert_usage_error(&ksim(&["run", "ping-mesh", "--config", &c]), "config.toml:");
}

#[test]
fn a_fault_on_an_unknown_node_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "f.toml",
        "[[faults]]\nat_ms = 5\nop = \"kill\"\nnode = \"n9\"\n",
    );
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "fault 1: node: unknown node `n9` (this run has peers: peer-1 peer-2 peer-3; ids n1 to n3)",
    );
    let f = write(
        tmp.path(),
        "g.toml",
        "[[faults]]\nat_ms = 5\nop = \"kill\"\nnode = \"server\"\n",
    );
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "unknown node `server`",
    );
}

#[test]
fn partitions_list_each_node_at_most_once() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "f.toml",
        "[[faults]]\nat_ms = 5\nop = \"partition\"\ngroups = [[\"n1\", \"n2\"], [\"n2\", \"n3\"]]\n",
    );
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "n2 appears in more than one partition group",
    );
    // A node in no group keeps its links; nodes may be named.
    let f = write(
        tmp.path(),
        "g.toml",
        "[[faults]]\nat_ms = 5\nop = \"partition\"\ngroups = [[\"peer-1\"], [\"n2\"]]\n\n[[faults]]\nat_ms = 500\nop = \"heal\"\n",
    );
    let out = tmp.path().join("run").display().to_string();
    let o = ksim(&[
        "run",
        "ping-mesh",
        "--faults",
        &f,
        "--no-report",
        "--out",
        &out,
    ]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    let f = write(
        tmp.path(),
        "h.toml",
        "[[faults]]\nat_ms = 5\nop = \"partition\"\ngroups = [[\"peer-1\"], [\"client-1\"]]\n",
    );
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "fault 1: groups: unknown node `client-1` (this run has peers: peer-1 peer-2 peer-3; ids n1 to n3)",
    );
}

#[test]
fn zero_and_negative_durations_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "z.toml",
        "[[faults]]\nat_ms = 5\nop = \"disk-stall\"\nnode = \"n1\"\nduration_ms = 0\n",
    );
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "duration_ms must be more than zero",
    );
    let f = write(
        tmp.path(),
        "n.toml",
        "[[faults]]\nat_ms = 5\nop = \"disk-stall\"\nnode = \"n1\"\nduration_ms = -3\n",
    );
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", &f]),
        "n.toml:5:1: fault 1: invalid value: integer `-3`",
    );
    let f = write(
        tmp.path(),
        "t.toml",
        "[[faults]]\nat_ms = -5\nop = \"heal\"\n",
    );
    assert_usage_error(&ksim(&["run", "ping-mesh", "--faults", &f]), "t.toml:2:1:");
}

#[test]
fn an_impossible_cluster_size_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for n in ["0", "1", "65"] {
        let c = write(tmp.path(), "c.toml", &format!("nodes = {n}\n"));
        assert_usage_error(&ksim(&["run", "ping-mesh", "--config", &c]), "impossible");
    }
}

#[test]
fn an_unwritable_out_folder_is_refused_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "plain-file", "x");
    let o = ksim(&["run", "ping-mesh", "--out", &format!("{file}/sub")]);
    assert_usage_error(&o, "cannot write to");
    assert!(o.out.is_empty(), "ran anyway: {}", o.out);
}

#[test]
fn missing_files_are_named() {
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--faults", "/nonexistent/f.toml"]),
        "cannot read /nonexistent/f.toml",
    );
    assert_usage_error(
        &ksim(&["replay", "/nonexistent/run"]),
        "cannot read /nonexistent/run",
    );
}

#[test]
fn an_unknown_mutant_is_refused() {
    assert_usage_error(
        &ksim(&["run", "ping-mesh", "--mutant", "no-such-bug"]),
        "unknown mutant `no-such-bug` for ping-mesh",
    );
}

#[test]
fn run_writes_the_report_by_default_and_not_with_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let with = dir.path().join("with");
    let o = ksim(&[
        "run",
        "election",
        "--seed",
        "4",
        "--out",
        with.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    assert!(with.join("trace.perfetto.json").is_file(), "{}", o.out);
    assert!(o.out.contains("report: "), "{}", o.out);
    let without = dir.path().join("without");
    let o = ksim(&[
        "run",
        "election",
        "--seed",
        "4",
        "--no-report",
        "--out",
        without.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    assert!(!without.join("trace.perfetto.json").exists());
    assert!(!without.join("report.html").exists());
    // `ksim report` draws it afterwards, from the saved files alone.
    let o = ksim(&["report", without.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    assert_eq!(
        std::fs::read(with.join("trace.perfetto.json")).unwrap(),
        std::fs::read(without.join("trace.perfetto.json")).unwrap(),
        "redrawing from the folder gives the same export as drawing after the run"
    );
}

#[test]
fn report_rejects_what_is_not_a_run_folder_or_a_bad_window() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &ksim(&["report", dir.path().join("nope").to_str().unwrap()]),
        "not a run folder",
    );
    assert_usage_error(
        &ksim(&["report", dir.path().to_str().unwrap()]),
        "scenario.toml",
    );
    assert_usage_error(
        &ksim(&[
            "report",
            dir.path().to_str().unwrap(),
            "--from-ms",
            "9",
            "--to-ms",
            "3",
        ]),
        "after --to-ms",
    );
}

#[test]
fn report_nodes_are_named_as_the_run_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run").display().to_string();
    let o = ksim(&[
        "run",
        "ping-mesh",
        "--seed",
        "3",
        "--out",
        &dir,
        "--no-report",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    let o = ksim(&["report", &dir, "--nodes", "peer-1,n2", "--no-png"]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    let svg = std::fs::read_to_string(tmp.path().join("run/sequence.svg")).unwrap();
    assert!(
        svg.contains(">peer-1<") && svg.contains(">peer-2<"),
        "named lifelines"
    );
    assert!(!svg.contains(">peer-3<"), "peer-3 was not asked for");
    assert_usage_error(
        &ksim(&["report", &dir, "--nodes", "peer-1,x7"]),
        "--nodes: unknown node `x7` (this run has peers: peer-1 peer-2 peer-3; ids n1 to n3)",
    );
}

#[test]
fn a_run_folders_scenario_toml_is_a_config_that_reruns_the_same_trace() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let o = ksim(&[
        "run",
        "leader-crash",
        "--seed",
        "6",
        "--no-report",
        "--out",
        first.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    let scenario_toml = first.join("scenario.toml");
    let second = dir.path().join("second");
    let o = ksim(&[
        "run",
        "leader-crash",
        "--seed",
        "6",
        "--no-report",
        "--config",
        scenario_toml.to_str().unwrap(),
        "--out",
        second.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    assert_eq!(
        std::fs::read(first.join("trace.jsonl")).unwrap(),
        std::fs::read(second.join("trace.jsonl")).unwrap()
    );
    assert_usage_error(
        &ksim(&[
            "run",
            "election",
            "--config",
            scenario_toml.to_str().unwrap(),
            "--out",
            dir.path().join("third").to_str().unwrap(),
        ]),
        "is a scenario file for leader-crash, not election",
    );
}

#[test]
fn stop_at_first_violation_needs_a_raft_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run").display().to_string();
    let o = ksim(&[
        "run",
        "ping-mesh",
        "--stop-at-first-violation",
        "--no-report",
        "--out",
        &dir,
    ]);
    assert_eq!(o.code, 2, "{}{}", o.out, o.err);
    assert!(o.err.contains("ping-mesh has no Raft cluster"), "{}", o.err);
}
