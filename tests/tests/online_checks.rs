//! The Raft safety checks judged online stop a real failing run where the finished run's
//! verdict says it broke.
//!
//! For a few planted bugs, a seed whose verdict has a violation from one of
//! `raft::checks::online_safety_checks()` is found; then the run's trace is fed to those
//! checks one event at a time, as `Sim::stop_at_first_violation` feeds them. The first to
//! fire must say exactly what the verdict says for it, no violated check's evidence may
//! point before that event (the run stops at its first violation, not a later one), and
//! the trace cut just before that event must pass every check while the trace cut just
//! after it must fail the same way.

use raft::checks::{online_safety_checks, safety_checks};
use scenarios::runner::{execute, prepare};
use scenarios::{ScenarioFile, ScenarioRun};
use sim_core::{Outcome, RunView, Trace};

/// A busy cluster on a jittery network (as `planted_bugs`).
const BUSY: &str = "[cluster]\nclients = 4\n[cluster.client]\ninterval_ms = 5\n[cluster.net.latency]\nmin_us = 1000\nmax_us = 30000\n";

/// A few kills, partitions, pauses, power failures and lossy periods, then `heal-all` (as
/// `planted_bugs`).
const CHAOS: &str = "[cluster.chaos]\nepisodes_min = 2\nepisodes_max = 6\nwindow_start_ms = 1000\nwindow_end_ms = 9000\n";

/// The election story with a nemesis that kills the first voter right after it answers.
const CRASH_VOTER: &str = "crash_first_voter = true\n";

fn run(scenario: &str, seed: u64, config: &str, mutant: &str) -> ScenarioRun {
    let file = ScenarioFile {
        scenario: scenario.into(),
        seed,
        config: toml::from_str(config).expect("test configs parse"),
        mutants: vec![mutant.to_string()],
        faults: None,
    };
    let prepared = prepare(&file).expect("test scenarios are valid");
    execute(&prepared).expect("test scenarios run")
}

/// The names of the checks that judge online.
fn online_names() -> Vec<&'static str> {
    online_safety_checks().iter().map(|m| m.name()).collect()
}

/// The first seed in `seeds` whose verdict has a violation from an online check.
fn failing_run(
    mutant: &str,
    scenario: &str,
    config: &str,
    seeds: std::ops::Range<u64>,
) -> ScenarioRun {
    let names = online_names();
    for seed in seeds.clone() {
        let run = run(scenario, seed, config, mutant);
        let caught = run.verdict.checks.iter().any(|c| {
            names.contains(&c.name.as_str()) && matches!(c.outcome, Outcome::Violation { .. })
        });
        if caught {
            return run;
        }
    }
    panic!("{mutant}: no seed in {seeds:?} broke an online check on {scenario}");
}

/// Judges `trace` with every trace-only Raft safety check: each check's name and outcome.
fn judge(run: &ScenarioRun, trace: &Trace) -> Vec<(&'static str, Outcome)> {
    let view = RunView {
        seed: 0,
        nodes: &run.nodes,
        trace,
        history: &run.history,
    };
    safety_checks()
        .iter()
        .map(|c| (c.name(), c.check(&view)))
        .collect()
}

fn stops_where_the_verdict_says(
    mutant: &str,
    scenario: &str,
    config: &str,
    seeds: std::ops::Range<u64>,
) {
    let run = failing_run(mutant, scenario, config, seeds);
    let mut monitors = online_safety_checks();
    let (at, name, violation) = run
        .trace
        .events
        .iter()
        .enumerate()
        .find_map(|(i, event)| {
            monitors
                .iter_mut()
                .find_map(|m| m.observe(event).map(|v| (i, m.name(), v)))
        })
        .unwrap_or_else(|| {
            panic!("{mutant}: the verdict has a violation the online checks never saw")
        });
    let stop = run.trace.events[at].id;
    eprintln!(
        "{mutant}: {name} stopped the run at {stop}: {}",
        violation.message
    );

    let names = online_names();
    for check in &run.verdict.checks {
        if !names.contains(&check.name.as_str()) {
            continue;
        }
        if check.name == name {
            assert_eq!(
                check.outcome,
                Outcome::from(violation.clone()),
                "{mutant}: {name}"
            );
        }
        if let Outcome::Violation { evidence, .. } = &check.outcome {
            let last = evidence.iter().filter_map(|e| e.event).max();
            assert!(
                last >= Some(stop),
                "{mutant}: {} broke at {last:?}, before the stop at {stop}",
                check.name
            );
        }
    }

    let before = Trace {
        events: run.trace.events[..at].to_vec(),
    };
    for (check, outcome) in judge(&run, &before) {
        assert!(
            outcome.is_pass(),
            "{mutant}: {check} fails before the stop: {outcome:?}"
        );
    }
    let through = Trace {
        events: run.trace.events[..=at].to_vec(),
    };
    let (_, outcome) = judge(&run, &through)
        .into_iter()
        .find(|(check, _)| *check == name)
        .expect("the check that fired is a safety check");
    assert_eq!(
        outcome,
        Outcome::from(violation),
        "{mutant}: {name} on the prefix"
    );
}

#[test]
fn truncate_committed_stops_at_its_first_violation() {
    stops_where_the_verdict_says("truncate-committed", "leader-crash", BUSY, 0..20);
}

#[test]
fn quorum_of_reachable_stops_at_its_first_violation() {
    stops_where_the_verdict_says("quorum-of-reachable", "split-brain", "", 0..50);
}

#[test]
fn forget_vote_on_restart_stops_at_its_first_violation() {
    stops_where_the_verdict_says("forget-vote-on-restart", "election", CRASH_VOTER, 0..20);
}

#[test]
fn vote_without_log_check_stops_at_its_first_violation() {
    // leader-completeness: the check that speaks at the second event of a violating pair.
    stops_where_the_verdict_says("vote-without-log-check", "leader-crash", CHAOS, 0..200);
}
