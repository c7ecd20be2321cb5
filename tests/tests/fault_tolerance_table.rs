//! `fault-tolerance-table`: the measured table matches the quorum formula (writes available
//! iff N - f >= N/2 + 1), an even N tolerates no more failures than N - 1, the run is
//! deterministic, bad configs are refused, and `availability-matches-quorum` fires on the
//! planted bug `quorum-of-reachable` (a leader that counts its majority among the members
//! it still hears from keeps committing after a majority died).
//!
//! The sweeps here are smaller than the default (N = 1..7, every f) to keep the file fast:
//! N = 2..5 with f in {0, 1, 2, 3} covers every boundary of N <= 5.

use scenarios::fault_tolerance::{
    combine, quorum, tolerated, AvailabilityMatchesQuorum, MembersKilled, Row,
};
use scenarios::runner::{execute, file_for, prepare};
use scenarios::{ScenarioError, ScenarioFile, ScenarioRun};
use sim_core::{Check, CheckKind, CheckResult, History, Outcome, RunView, Status, Trace, Verdict};

const SMALL: &str = "nodes_min = 2\nkills = [0, 1, 2, 3]\n[cluster]\nnodes = 5\n";

fn file(seed: u64, config: &str, mutants: &[&str]) -> ScenarioFile {
    file_for("fault-tolerance-table", seed, config, mutants).expect("test configs parse")
}

fn run(seed: u64, config: &str, mutants: &[&str]) -> ScenarioRun {
    execute(&prepare(&file(seed, config, mutants)).expect("valid")).expect("runs")
}

fn data<'a>(run: &'a ScenarioRun, name: &str) -> &'a [u8] {
    run.data_file(name).expect("data file")
}

fn report(run: &ScenarioRun) -> serde_json::Value {
    serde_json::from_slice(data(run, "fault_tolerance.json")).unwrap()
}

#[test]
fn the_measured_table_matches_the_quorum_formula() {
    for seed in [1, 2] {
        let r = run(seed, SMALL, &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            r.verdict.failures().collect::<Vec<_>>()
        );
        let json = report(&r);
        let rows = json["rows"].as_array().unwrap();
        // N = 2 (f 0..2), 3 (0..3), 4 (0..3), 5 (0..3).
        assert_eq!(rows.len(), 3 + 4 + 4 + 4);
        for row in rows {
            let (n, f) = (row["n"].as_u64().unwrap(), row["f"].as_u64().unwrap());
            // Available iff N - f >= N/2 + 1 (a quorum survives).
            let expected = n - f > n / 2;
            assert_eq!(row["available"].as_bool(), Some(expected), "N={n} f={f}");
            assert!(row["writes_attempted"].as_u64().unwrap() > 0, "N={n} f={f}");
            if expected {
                // Killing the leader costs an election: the first ack comes after it.
                let first = row["first_ack_after_kill_ms"].as_f64().unwrap();
                assert!(first > 0.0 && first < 5_000.0, "N={n} f={f}: {first}");
            } else {
                assert_eq!(row["writes_ok"].as_u64(), Some(0), "N={n} f={f}");
            }
        }
        // The lesson: an even N tolerates no more failures than N - 1.
        let per_n = json["per_n"].as_array().unwrap();
        let measured = |n: u64| {
            per_n.iter().find(|t| t["n"] == n).unwrap()["measured_tolerated"]
                .as_u64()
                .unwrap()
        };
        assert_eq!(measured(2), 0);
        assert_eq!(measured(3), 1);
        assert_eq!(measured(4), measured(3));
        assert_eq!(measured(5), 2);
        let csv = String::from_utf8(data(&r, "fault_tolerance.csv").to_vec()).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("N,f,quorum,tolerated,writes_ok,writes_attempted,available")
        );
        assert!(lines.any(|l| l.starts_with("4,2,3,1,0,") && l.ends_with(",false")));
        assert!(json["representative"]
            .as_str()
            .unwrap()
            .starts_with("N=5 f=2"));
    }
}

#[test]
fn a_run_is_deterministic_across_every_sub_run() {
    let config = "nodes_min = 3\nkills = [1, 2]\n[cluster]\nnodes = 4\n";
    let a = run(7, config, &[]);
    let b = run(7, config, &[]);
    assert_eq!(a.trace.hash(), b.trace.hash());
    // Every sub-run's trace hash is in the JSON, so this compares them all.
    assert_eq!(
        data(&a, "fault_tolerance.json"),
        data(&b, "fault_tolerance.json")
    );
}

#[test]
fn quorum_of_reachable_makes_a_minority_available_and_is_caught() {
    // Three members, two killed: correct Raft refuses every write; with the planted bug the
    // surviving leader counts a majority among the members it hears from (itself).
    let config = "nodes_min = 3\nkills = [2]\n[cluster]\nnodes = 3\n";
    let mut caught = 0;
    for seed in 0..3 {
        let clean = run(seed, config, &[]);
        assert_eq!(clean.verdict.status(), Status::Pass, "seed {seed}");
        let r = run(seed, config, &["quorum-of-reachable"]);
        let failing: Vec<&str> = r.verdict.failures().map(|c| c.name.as_str()).collect();
        if failing.contains(&"availability-matches-quorum") {
            assert_eq!(r.verdict.status(), Status::SafetyViolation, "{failing:?}");
            caught += 1;
        }
    }
    assert!(caught >= 2, "caught on {caught} of 3 seeds");
}

fn row(n: usize, f: usize, writes_ok: usize) -> Row {
    Row {
        n,
        f,
        quorum: quorum(n),
        tolerated: tolerated(n),
        writes_ok,
        writes_attempted: 10,
        available: writes_ok > 0,
        expected_available: n - f >= quorum(n),
        first_ack_after_kill_ms: None,
        leader: None,
        killed: vec![],
        killed_at_ms: None,
        seed: 0,
        trace_hash: String::new(),
        status: Status::Pass,
        story_missing: None,
    }
}

#[test]
fn availability_check_fails_both_ways_and_passes_the_formula() {
    let (trace, history) = (Trace::default(), History::default());
    let view = RunView {
        seed: 0,
        nodes: &[],
        trace: &trace,
        history: &history,
    };
    let check = |rows| AvailabilityMatchesQuorum { rows }.check(&view);
    assert_eq!(quorum(4), 3);
    assert_eq!(tolerated(4), 1);
    assert_eq!(tolerated(7), 3);
    assert!(check(vec![row(3, 1, 5), row(3, 2, 0), row(4, 2, 0)]).is_pass());
    // Writes acknowledged with 2 of 4 alive: something committed without a majority.
    let Outcome::Violation { message, .. } = check(vec![row(3, 1, 5), row(4, 2, 3)]) else {
        panic!("a minority must not be available");
    };
    assert!(message.contains("N=4 f=2"), "{message}");
    // No write with 2 of 3 alive: unavailable though a majority lives.
    assert!(!check(vec![row(3, 1, 0)]).is_pass());
    assert_eq!(
        AvailabilityMatchesQuorum { rows: vec![] }.kind(),
        CheckKind::Eventually
    );
}

#[test]
fn every_sub_run_goes_through_its_story_on_the_stock_sweep() {
    let r = run(1, SMALL, &[]);
    let outcome = |name: &str| {
        r.verdict
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} is judged"))
            .outcome
            .clone()
    };
    assert!(
        outcome("members-killed").is_pass(),
        "{:?}",
        outcome("members-killed")
    );
    assert!(outcome("availability-matches-quorum").is_pass());
    assert!(report(&r)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|row| row.get("story_missing").is_none()));
}

#[test]
fn kills_before_any_leader_are_not_the_story_and_availability_is_not_judged() {
    // The driver waits 1 ms for a leader: none is elected, so the kills take no leader
    // down, and a row's availability says nothing about surviving the leader's loss.
    let r = run(
        1,
        "leader_deadline_ms = 1
nodes_min = 3
kills = [1]
[cluster]
nodes = 3
",
        &[],
    );
    assert_eq!(r.verdict.status(), Status::Pass, "{:?}", r.failing_checks());
    let outcome = |name: &str| {
        r.verdict
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .outcome
            .clone()
    };
    let Outcome::NotReached { message } = outcome("members-killed") else {
        panic!("{:?}", outcome("members-killed"));
    };
    assert!(message.contains("N=3 f=1: no leader"), "{message}");
    assert!(matches!(
        outcome("availability-matches-quorum"),
        Outcome::NotApplicable { .. }
    ));
    // A row whose story is missing is not reached directly too.
    let (trace, history) = (Trace::default(), History::default());
    let view = RunView {
        seed: 0,
        nodes: &[],
        trace: &trace,
        history: &history,
    };
    let mut missing = row(3, 1, 5);
    missing.story_missing = Some("no write was invoked in the window".into());
    assert!(MembersKilled {
        rows: vec![row(3, 1, 5)]
    }
    .check(&view)
    .is_pass());
    assert!(matches!(
        MembersKilled {
            rows: vec![row(3, 1, 5), missing]
        }
        .check(&view),
        Outcome::NotReached { .. }
    ));
}

#[test]
fn combined_verdict_names_the_failing_sub_run() {
    let verdict = |outcome| Verdict {
        checks: vec![CheckResult {
            name: "election-safety".into(),
            kind: CheckKind::Always,
            outcome,
        }],
    };
    let bad = Outcome::violation("two leaders in term 3", vec![]);
    let combined = combine(&[
        ((3, 0), verdict(Outcome::Pass)),
        ((5, 2), verdict(bad)),
        ((5, 3), verdict(Outcome::Pass)),
    ]);
    assert_eq!(combined.len(), 1);
    let Outcome::Violation { message, evidence } = &combined[0].outcome else {
        panic!("a sub-run violation is the scenario's");
    };
    assert!(message.starts_with("N=5 f=2: two leaders"), "{message}");
    assert!(evidence.iter().any(|e| e.note.contains("N=5 f=2")));
    let all_pass = combine(&[((3, 0), verdict(Outcome::Pass))]);
    assert!(all_pass[0].outcome.is_pass());
}

#[test]
fn bad_configs_are_refused_with_a_reason() {
    let refused = |config: &str| match prepare(&file(0, config, &[])) {
        Err(ScenarioError::Config(m)) => m,
        other => panic!("{config:?} was not refused: {other:?}"),
    };
    assert!(refused("kills = [9]\n").contains("kills"));
    assert!(refused("kills = [2, 1]\n").contains("increasing"));
    assert!(refused("nodes_min = 8\n").contains("nodes_min"));
    assert!(refused("window_ms = 100\n").contains("window_ms"));
    assert!(refused("[cluster]\nnodes = 12\n").contains("cluster.nodes"));
    assert!(refused("[cluster]\nclients = 0\n").contains("clients"));
    assert!(refused("[cluster.chaos]\nepisodes_max = 2\n").contains("chaos"));
}
