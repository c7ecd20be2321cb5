//! `etcd-capacity`: small sweeps of RTT and fsync latency. Throughput falls as the RTT
//! grows, leadership holds at low RTT (and the story check catches it when it does not),
//! every point is judged by the safety checks (a violation names its point), and the
//! sweep is deterministic.

use scenarios::runner::run_scenario;
use scenarios::ScenarioRun;
use serde_json::Value;
use sim_core::{Outcome, Status};

fn run(seed: u64, config: &str, mutants: &[&str]) -> ScenarioRun {
    run_scenario("etcd-capacity", seed, config, mutants).expect("the scenario runs")
}

fn data(r: &ScenarioRun, name: &str) -> Vec<u8> {
    r.data.iter().find(|(n, _)| n == name).unwrap().1.clone()
}

fn points(r: &ScenarioRun) -> Vec<Value> {
    let json: Value = serde_json::from_slice(&data(r, "capacity.json")).unwrap();
    json["points"].as_array().unwrap().clone()
}

const SMALL: &str = "rtt_ms = [1, 50]\nfsync_ms = [1, 10]\nwindow_ms = 500\n";

#[test]
fn throughput_falls_with_rtt_and_fsync_and_leadership_holds() {
    for seed in [1, 2] {
        let r = run(seed, SMALL, &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            r.verdict.failures().collect::<Vec<_>>()
        );
        let p = points(&r);
        assert_eq!(p.len(), 4);
        let w = |i: usize| p[i]["writes_per_s"].as_f64().unwrap();
        let rd = |i: usize| p[i]["reads_per_s"].as_f64().unwrap();
        // Points are RTT-major: (1, 1), (1, 10), (50, 1), (50, 10).
        assert!(
            w(0) > 5.0 * w(2),
            "seed {seed}: writes at 1 ms RTT vs 50 ms: {p:?}"
        );
        assert!(rd(0) > 5.0 * rd(2), "seed {seed}: reads: {p:?}");
        assert!(w(0) > w(1), "slower fsync, fewer writes: {p:?}");
        let p50 = |i: usize| p[i]["write_p50_ms"].as_f64().unwrap();
        assert!(p50(2) >= 50.0, "a write costs at least one RTT: {p:?}");
        for q in &p {
            assert_eq!(q["leader_changes"], 0, "{q}");
        }
        let csv = String::from_utf8(data(&r, "capacity.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("rtt_ms,fsync_ms,writes_per_s,reads_per_s,write_p50_ms,write_p99_ms,read_p50_ms,read_p99_ms,leader_changes")
        );
        assert_eq!(lines.count(), 4);
    }
}

#[test]
fn rtt_past_the_election_timeout_leaves_no_working_leader() {
    // Election timeout 1000 ms: at 1000 ms RTT a leader still emerges (pre-vote and vote
    // fit in its randomized timeout); at 2000 ms no election can finish, nothing commits.
    let r = run(3, "rtt_ms = [10, 1000, 2000]\nfsync_ms = [1]\n", &[]);
    let p = points(&r);
    let w = |i: usize| p[i]["writes_per_s"].as_f64().unwrap();
    assert!(p[1]["first_leader_ms"].as_f64().unwrap() > p[0]["first_leader_ms"].as_f64().unwrap());
    assert!(w(1) < w(0) / 50.0, "throughput collapses: {p:?}");
    assert!(p[2]["first_leader_ms"].is_null(), "{p:?}");
    assert_eq!(w(2), 0.0);
    assert_eq!(r.verdict.status(), Status::Pass);
}

#[test]
fn a_disk_slower_than_the_heartbeat_deposes_leaders() {
    let r = run(
        1,
        "rtt_ms = [1]\nfsync_ms = [600]\nwindow_ms = 10000\n",
        &[],
    );
    let p = points(&r);
    assert!(p[0]["changes_after_first"].as_u64().unwrap() > 0, "{p:?}");
    assert_eq!(r.verdict.status(), Status::LivenessViolation);
}

#[test]
fn the_story_check_catches_unstable_leadership_at_low_rtt() {
    // An election timeout (3 ms) below the RTT (10 ms): every node times out before any
    // heartbeat can arrive, so leaders come and go even on a "fast" network.
    let unstable = "rtt_ms = [10]\nfsync_ms = [1]\nwindow_ms = 500\n\
                    [cluster.raft]\ntick_ms = 1\nelection_ticks = 3\n";
    let r = run(1, unstable, &[]);
    let check = r
        .verdict
        .checks
        .iter()
        .find(|c| c.name == "leadership-stable-at-low-rtt")
        .unwrap();
    assert!(
        matches!(check.outcome, Outcome::Violation { .. }),
        "{check:?}"
    );
    assert_eq!(r.verdict.status(), Status::LivenessViolation);
    // The same sweep with etcd's timing passes it.
    let r = run(1, "rtt_ms = [10]\nfsync_ms = [1]\nwindow_ms = 500\n", &[]);
    assert_eq!(r.verdict.status(), Status::Pass);
}

#[test]
fn a_client_cut_off_is_not_the_story_and_leadership_is_not_judged() {
    // The first writer (the fourth node) is isolated for the whole sweep: its load never
    // reaches the cluster, so the point says nothing about leadership under the load.
    let mut file = scenarios::runner::file_for(
        "etcd-capacity",
        1,
        "rtt_ms = [5]\nfsync_ms = [1]\nwindow_ms = 500\n",
        &[],
    )
    .unwrap();
    file.faults = Some(vec![sim_core::TimedFault::new(
        0,
        sim_core::FaultOp::Isolate {
            node: sim_core::NodeId::from_index(3),
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
    let Outcome::NotReached { message } = outcome("load-reached-cluster") else {
        panic!("{:?}", outcome("load-reached-cluster"));
    };
    assert!(message.contains("rtt 5 ms"), "{message}");
    assert!(matches!(
        outcome("leadership-stable-at-low-rtt"),
        Outcome::NotApplicable { .. }
    ));
    assert!(points(&r)[0]["load_missing"].is_string());
}

#[test]
fn a_safety_violation_at_one_point_fails_and_names_it() {
    let config = "rtt_ms = [1, 100]\nfsync_ms = [1]\nwindow_ms = 1000\n";
    let r = run(1, config, &["stale-follower-read"]);
    assert_eq!(r.verdict.status(), Status::SafetyViolation);
    let failed = r.verdict.failures().next().unwrap();
    let Outcome::Violation { message, evidence } = &failed.outcome else {
        panic!("{failed:?}");
    };
    assert!(message.starts_with("at rtt "), "{message}");
    assert!(evidence.iter().all(|e| e.note.starts_with("at rtt ")));
    // Without the planted bug the same seed passes.
    assert_eq!(run(1, config, &[]).verdict.status(), Status::Pass);
}

#[test]
fn same_seed_same_sweep() {
    let config = "rtt_ms = [5]\nfsync_ms = [1]\nwindow_ms = 300\n";
    let (x, y) = (run(9, config, &[]), run(9, config, &[]));
    assert_eq!(x.trace.hash(), y.trace.hash());
    assert_eq!(data(&x, "capacity.csv"), data(&y, "capacity.csv"));
    // The summary trace carries each point's own trace hash.
    assert!(x.trace.events.iter().any(|e| matches!(
        &e.kind,
        sim_core::EventKind::Note { label, detail } if label == "capacity-point" && detail.contains("trace_hash=")
    )));
}
