//! `election-timing` (Raft paper Figure 16) with few trials: the CSV's shape and bounds,
//! determinism, the timing shape the figure is about, and the liveness check failing under
//! the planted bug that removes the randomness.

use scenarios::runner::run_scenario;
use scenarios::scenario::ScenarioRun;
use sim_core::Status;

fn run(seed: u64, config: &str, mutants: &[&str]) -> ScenarioRun {
    run_scenario("election-timing", seed, config, mutants).expect("the scenario runs")
}

fn data<'a>(run: &'a ScenarioRun, name: &str) -> &'a [u8] {
    &run.data
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} written"))
        .1
}

/// `(min_ms, max_ms, trial, election_ms)` rows.
fn rows(run: &ScenarioRun) -> Vec<(u64, u64, u64, f64)> {
    let csv = std::str::from_utf8(data(run, "election_times.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("timeout_min_ms,timeout_max_ms,trial,election_ms")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 4, "{l}");
            let (whole, frac) = f[3].split_once('.').expect("three decimals");
            assert_eq!(frac.len(), 3, "{l}");
            assert!(whole.parse::<u64>().is_ok());
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

const SMALL: &str =
    "trials = 6\nranges = [{ min_ms = 150, max_ms = 300 }, { min_ms = 12, max_ms = 24 }]\n";

#[test]
fn every_trial_writes_one_row_within_sensible_bounds() {
    for seed in [1, 2, 3] {
        let r = run(seed, SMALL, &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            r.verdict.failures().collect::<Vec<_>>()
        );
        let rows = rows(&r);
        assert_eq!(rows.len(), 12, "seed {seed}");
        for (min, max, trial, ms) in rows {
            assert!(trial < 6);
            assert!((min, max) == (150, 300) || (min, max) == (12, 24));
            // The followers last heard the leader at most one heartbeat (min / 2) before
            // the crash, so no election can finish sooner than min / 2 minus a tick; and
            // the liveness bound (100 maximum timeouts) caps it.
            assert!(
                ms >= min as f64 / 2.0 - 1.0,
                "seed {seed}: {ms} ms in {min}-{max}"
            );
            assert!(ms <= 100.0 * max as f64, "seed {seed}: {ms} ms");
        }
        let json: serde_json::Value =
            serde_json::from_slice(data(&r, "election_timing.json")).unwrap();
        let ranges = json["ranges"].as_array().unwrap();
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0]["trials"], 6);
        assert_eq!(ranges[0]["heartbeat_ms"], 75);
        assert!(json["latency_model"]["description"]
            .as_str()
            .unwrap()
            .contains("uniform"));
    }
}

#[test]
fn the_same_seed_gives_the_same_csv() {
    let a = run(7, SMALL, &[]);
    let b = run(7, SMALL, &[]);
    assert_eq!(
        data(&a, "election_times.csv"),
        data(&b, "election_times.csv")
    );
    assert_eq!(a.trace.hash(), b.trace.hash());
    let c = run(8, SMALL, &[]);
    assert_ne!(
        data(&a, "election_times.csv"),
        data(&c, "election_times.csv")
    );
}

/// The figure's point: without randomness split votes repeat; a wide range avoids them.
#[test]
fn a_fixed_timeout_splits_votes_more_often_than_a_wide_range() {
    let config =
        "trials = 20\nranges = [{ min_ms = 150, max_ms = 150 }, { min_ms = 150, max_ms = 300 }]\n";
    let r = run(3, config, &[]);
    assert_eq!(r.verdict.status(), Status::Pass);
    let json: serde_json::Value = serde_json::from_slice(data(&r, "election_timing.json")).unwrap();
    let split = |i: usize| json["ranges"][i]["multi_round_trials"].as_u64().unwrap();
    let p90 = |i: usize| json["ranges"][i]["p90_ms"].as_f64().unwrap();
    assert!(
        split(0) > 2 * split(1) + 5,
        "150-150: {} multi-round trials, 150-300: {}",
        split(0),
        split(1)
    );
    assert!(p90(0) > p90(1), "p90 {} vs {}", p90(0), p90(1));
}

/// With `fixed-election-timeout` every server draws the minimum and ticks in phase, so
/// candidacies collide round after round: elections overrun a bound of three maximum
/// timeouts that the same seeds meet without the bug, and `every-trial-elects` says so (or
/// `every-range-settles`, when not even a first leader settles in time).
#[test]
fn without_randomness_every_trial_elects_fails() {
    let config =
        "trials = 4\nbound_election_timeouts = 3\nranges = [{ min_ms = 150, max_ms = 300 }]\n";
    for seed in [1, 2] {
        let fine = run(seed, config, &[]);
        assert_eq!(fine.verdict.status(), Status::Pass, "seed {seed}");
        let r = run(seed, config, &["fixed-election-timeout"]);
        let failed: Vec<&str> = r.verdict.failures().map(|c| c.name.as_str()).collect();
        // Elections overrun their bound, or no first leader comes at all and the
        // cluster never settles for a trial, with every server healthy all the while.
        assert!(
            failed.contains(&"every-trial-elects") || failed.contains(&"every-range-settles"),
            "seed {seed}: {failed:?}"
        );
        assert_eq!(r.verdict.status(), Status::LivenessViolation);
    }
}

/// A server killed for good (a `--faults` file on top of the scenario) keeps the cluster
/// from settling: no trial runs, which is a story that did not happen, not a slow
/// election.
#[test]
fn a_server_down_for_good_is_a_story_not_reached_not_a_failure() {
    let mut file = scenarios::runner::file_for("election-timing", 1, SMALL, &[]).unwrap();
    file.faults = Some(vec![sim_core::TimedFault::new(
        0,
        sim_core::FaultOp::Kill {
            node: sim_core::NodeId::from_index(4),
        },
    )]);
    let r = scenarios::runner::execute(&scenarios::runner::prepare(&file).unwrap()).unwrap();
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
    assert!(matches!(
        outcome("every-trial-ran"),
        sim_core::Outcome::NotReached { .. }
    ));
    assert!(matches!(
        outcome("every-trial-elects"),
        sim_core::Outcome::NotApplicable { .. }
    ));
}
