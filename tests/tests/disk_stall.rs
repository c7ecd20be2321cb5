//! The `disk-stall` scenario: a stalled leader's fsyncs stop its heartbeats, so a long
//! stall moves leadership and a short one does not; writes resume after each stall, and
//! nothing committed is lost.

use scenarios::runner::{prepare, run_scenario};
use scenarios::{ScenarioFile, ScenarioRun};
use sim_core::Status;

fn run(seed: u64, config: &str, mutants: &[&str]) -> ScenarioRun {
    run_scenario("disk-stall", seed, config, mutants).expect("the scenario runs")
}

fn data(run: &ScenarioRun, name: &str) -> serde_json::Value {
    run.data_json(name)
        .expect("the data file is written, as JSON")
}

fn failing(run: &ScenarioRun) -> Vec<String> {
    run.failing_checks()
}

/// Two long stalls, short gaps: the quickest run of the story.
const LONG: &str = "stalls = 2\ngap_ms = 4000\nduration_ms = 19000\n";

#[test]
fn long_stalls_move_leadership_and_writes_resume() {
    for seed in 0..3 {
        let r = run(seed, LONG, &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            failing(&r)
        );
        let names: Vec<&str> = r.verdict.checks.iter().map(|c| c.name.as_str()).collect();
        assert!(
            names.contains(&"leadership-moves-on-long-stall"),
            "{names:?}"
        );
        assert!(names.contains(&"writes-resume-after-stall"), "{names:?}");
        let d = data(&r, "disk_stall.json");
        assert_eq!(d["regime"], "moves");
        let stalls = d["stalls"].as_array().unwrap();
        assert_eq!(stalls.len(), 2);
        for s in stalls {
            assert_eq!(s["moved"], true, "seed {seed}: {s}");
            assert_ne!(s["next_leader"], s["node"], "seed {seed}: {s}");
            // The write latency spikes during the band, well above the calm median.
            let spike = s["write_wait_max_ms"].as_f64().unwrap();
            let calm = d["write_latency_p50_calm_ms"].as_f64().unwrap();
            assert!(
                spike > 10.0 * calm,
                "seed {seed}: spike {spike} calm {calm}"
            );
        }
        let csv = &r.data.iter().find(|(n, _)| n == "latency.csv").unwrap().1;
        let csv = String::from_utf8(csv.clone()).unwrap();
        assert!(csv.starts_with("t_ms,op,f,latency_ms,outcome\n"));
        assert!(csv.lines().count() > 50);
    }
}

#[test]
fn short_stalls_hold_leadership() {
    let config = "stall_ms = 500\nstalls = 3\ngap_ms = 4000\nduration_ms = 20000\n";
    for seed in 0..3 {
        let r = run(seed, config, &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            failing(&r)
        );
        let d = data(&r, "disk_stall.json");
        assert_eq!(d["regime"], "holds");
        for s in d["stalls"].as_array().unwrap() {
            assert_eq!(s["moved"], false, "seed {seed}: {s}");
            assert!(s["write_wait_max_ms"].as_f64().unwrap() >= 400.0, "{s}");
        }
    }
}

#[test]
fn same_seed_same_trace() {
    let a = run(7, LONG, &[]);
    let b = run(7, LONG, &[]);
    assert_eq!(a.trace.hash(), b.trace.hash());
}

#[test]
fn bad_configs_are_refused_with_a_reason() {
    for (config, says) in [
        ("stall_ms = 0\n", "stall_ms"),
        ("stalls = 3\ngap_ms = 100\n", "gap_ms"),
        ("first_stall_at_ms = 100\n", "first_stall_at_ms"),
        ("duration_ms = 5000\n", "duration_ms"),
        ("[cluster]\nnodes = 2\n", "nodes"),
    ] {
        let file = ScenarioFile {
            scenario: "disk-stall".into(),
            seed: 1,
            config: toml::from_str(config).unwrap(),
            mutants: vec![],
            faults: None,
        };
        let err = prepare(&file).expect_err(config).to_string();
        assert!(err.contains(says), "{config}: {err}");
    }
}

/// The planted bug `fixed-election-timeout` (every follower times out on the same tick)
/// splits the votes after the stalled leader falls silent: leadership does not move within
/// the bound (on seeds 1 to 5 of this config; seed 0 happens to elect in time). The same
/// seed passes without it.
#[test]
fn fixed_election_timeouts_keep_leadership_from_moving() {
    let r = run(1, LONG, &["fixed-election-timeout"]);
    assert_eq!(
        r.verdict.status(),
        Status::LivenessViolation,
        "{:?}",
        failing(&r)
    );
    assert!(failing(&r).contains(&"leadership-moves-on-long-stall".to_string()));
    let r = run(1, LONG, &[]);
    assert_eq!(r.verdict.status(), Status::Pass, "{:?}", failing(&r));
}
