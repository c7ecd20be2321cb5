//! Stopping at the first violation: with `cluster.stop_at_first_violation` the Raft safety checks judge the
//! run as it is recorded and end it at the first violation. The stopped trace is the
//! prefix of the full one, the check that stopped it is one the full run's verdict also
//! finds violated, liveness is not judged on the cut run, and a correct run is not
//! perturbed by being watched.

use scenarios::runner::{execute, prepare};
use scenarios::{ScenarioFile, ScenarioRun};
use sim_core::{CheckKind, EventKind, Outcome, Status};

fn split_brain(seed: u64, mutants: &[&str], stop: bool) -> ScenarioRun {
    let mutants: Vec<String> = mutants.iter().map(|m| format!("{m:?}")).collect();
    let text = format!(
        "scenario = \"split-brain\"\nseed = {seed}\nmutants = [{}]\n\n[config.cluster]\nstop_at_first_violation = {stop}\n",
        mutants.join(", ")
    );
    let file = ScenarioFile::from_toml(&text, "scenario.toml").expect("a valid scenario file");
    execute(&prepare(&file).expect("it prepares")).expect("it runs")
}

fn violated(run: &ScenarioRun) -> Vec<&str> {
    run.verdict
        .checks
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Violation { .. }))
        .map(|c| c.name.as_str())
        .collect()
}

#[test]
fn a_watched_run_stops_at_its_first_violation_and_is_the_prefix_of_the_full_run() {
    let full = split_brain(1, &["quorum-of-reachable"], false);
    let stopped = split_brain(1, &["quorum-of-reachable"], true);
    assert_eq!(stopped.verdict.status(), Status::SafetyViolation);

    // The cut run ends early: after the last event it shares with the full run come only
    // the drops of messages in flight and run-end.
    let shared = stopped
        .trace
        .events
        .iter()
        .zip(&full.trace.events)
        .take_while(|(a, b)| {
            serde_json::to_string(a).expect("events encode")
                == serde_json::to_string(b).expect("events encode")
        })
        .count();
    let tail = &stopped.trace.events[shared..];
    assert!(
        tail.iter()
            .all(|e| matches!(e.kind, EventKind::Drop { .. } | EventKind::RunEnd)),
        "after the shared prefix only drops and run-end: {:?}",
        tail.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        stopped.trace.events.len() * 10 < full.trace.events.len(),
        "the cut run is much shorter ({} events against {})",
        stopped.trace.events.len(),
        full.trace.events.len()
    );

    // What stopped it is a safety check the full run also fails.
    let full_violations = violated(&full);
    let stopped_violations = violated(&stopped);
    assert!(!stopped_violations.is_empty());
    for name in &stopped_violations {
        assert!(
            full_violations.contains(name),
            "{name} fired on the cut run but not on the full one ({full_violations:?})"
        );
    }
    // Liveness is not judged on a run cut short.
    for c in &stopped.verdict.checks {
        if c.kind == CheckKind::Eventually {
            assert!(
                c.outcome
                    .message()
                    .is_some_and(|m| m.contains("stopped at")),
                "{}: {:?}",
                c.name,
                c.outcome
            );
        }
    }
}

#[test]
fn watching_a_correct_run_changes_nothing() {
    let plain = split_brain(1, &[], false);
    let watched = split_brain(1, &[], true);
    assert_eq!(plain.verdict.status(), Status::Pass);
    assert_eq!(watched.trace.hash(), plain.trace.hash());
    assert_eq!(watched.verdict, plain.verdict);
}
