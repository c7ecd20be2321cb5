//! The `membership-change` scenario: a loaded 3-node cluster adds n4 and n5 as learners,
//! promotes them, and removes a founder, one change at a time; the configuration converges
//! and no check fails. The planted bug `concurrent-conf-change` lets two racing operators'
//! changes be in flight at once, which `one-change-at-a-time` catches.

use raft::events::RaftEvent;
use scenarios::membership_change::{
    FinalShape, Membership, MembershipChanged, MembershipConverges, OneChangeAtATime, Removal,
};
use scenarios::runner::{execute, prepare, run_scenario};
use scenarios::{ScenarioFile, ScenarioRun};
use sim_core::{Check, EventKind, FaultOp, NodeId, Outcome, RunView, Status};

fn run(seed: u64, config: &str, mutants: &[&str]) -> ScenarioRun {
    run_scenario("membership-change", seed, config, mutants).expect("the scenario runs")
}

fn story(run: &ScenarioRun) -> serde_json::Value {
    let (_, bytes) = run
        .data
        .iter()
        .find(|(n, _)| n == "membership.json")
        .expect("membership.json is written");
    serde_json::from_slice(bytes).expect("it is JSON")
}

fn failing(run: &ScenarioRun) -> Vec<String> {
    run.failing_checks()
}

/// A shorter run than the default (which leaves room for slow elections).
const SHORT: &str = "duration_ms = 22500\n";

#[test]
fn removing_the_leader_converges_on_four_voters() {
    for seed in 0..3 {
        let r = run(seed, SHORT, &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            failing(&r)
        );
        let s = story(&r);
        assert_eq!(s["completed"], true);
        let changes = s["changes"].as_array().unwrap();
        let names: Vec<&str> = changes
            .iter()
            .map(|c| c["change"].as_str().unwrap())
            .collect();
        assert_eq!(
            names[..4],
            [
                "add-learner n4",
                "promote n4",
                "add-learner n5",
                "promote n5"
            ]
        );
        let removed = s["removed"].as_str().unwrap();
        assert_eq!(names[4], format!("remove {removed}"));
        // The leader removed itself: it applied the change, then someone else led.
        assert_eq!(changes[4]["applied_by"].as_str(), Some(removed));
        let after = &changes[4]["leader_after"];
        assert!(
            after.is_null() || after[0].as_str() != Some(removed),
            "{after}"
        );
        let voters = s["final_membership"]["voters"].as_array().unwrap();
        assert_eq!(voters.len(), 4);
        assert!(!voters.iter().any(|v| v == removed));
        // Each change's "before" is the previous one's "after".
        for pair in changes.windows(2) {
            assert_eq!(pair[0]["after"], pair[1]["before"]);
        }
        let progress = s["commit_progress"].as_array().unwrap();
        assert!(progress.last().unwrap()[1].as_u64().unwrap() > 100);
    }
}

#[test]
fn a_removed_follower_does_not_disrupt_the_cluster() {
    for seed in 0..4 {
        let r = run(seed, "remove = \"follower\"\nduration_ms = 22500\n", &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            failing(&r)
        );
        let s = story(&r);
        assert_eq!(s["removed_node_votes_granted"], 0, "seed {seed}");
        // Leadership never changed: the removed node's campaigns (if it never learned of
        // its removal) were refused under the leader's lease.
        assert_eq!(s["leaders"].as_array().unwrap().len(), 1, "seed {seed}");
    }
}

const RACE: &str = "operators = 2\nduration_ms = 22500\n[cluster]\nclients = 4\n";

#[test]
fn racing_operators_are_kept_to_one_change_at_a_time() {
    for seed in 0..3 {
        let r = run(seed, RACE, &[]);
        assert_eq!(
            r.verdict.status(),
            Status::Pass,
            "seed {seed}: {:?}",
            failing(&r)
        );
        assert_eq!(story(&r)["changes"].as_array().unwrap().len(), 5);
    }
}

#[test]
fn concurrent_conf_change_is_caught_and_the_same_seed_passes_without_it() {
    let r = run(2, RACE, &["concurrent-conf-change"]);
    assert_eq!(r.verdict.status(), Status::SafetyViolation);
    assert_eq!(failing(&r), ["one-change-at-a-time"]);
    let r = run(2, RACE, &[]);
    assert_eq!(r.verdict.status(), Status::Pass, "{:?}", failing(&r));
}

fn judge(check: &dyn Check, r: &ScenarioRun, events: Vec<sim_core::TraceEvent>) -> Outcome {
    let mut trace = r.trace.clone();
    trace.events = events;
    let view = RunView {
        seed: 0,
        nodes: &r.nodes,
        trace: &trace,
        history: &r.history,
    };
    check.check(&view)
}

#[test]
fn one_change_at_a_time_fails_on_a_second_proposal_while_one_is_pending() {
    let r = run(1, SHORT, &[]);
    let events = r.trace.events.clone();
    assert!(judge(&OneChangeAtATime, &r, events.clone()).is_pass());
    // Right after the first proposal, the same leader proposes another change.
    let at = events
        .iter()
        .position(|e| {
            matches!(
                e.layer::<RaftEvent>(),
                Some(RaftEvent::ConfChangeProposed { .. })
            )
        })
        .expect("changes are proposed");
    let mut second = events[at].clone();
    let Some(RaftEvent::ConfChangeProposed {
        change,
        index,
        term,
    }) = events[at].layer::<RaftEvent>().cloned()
    else {
        unreachable!("found above")
    };
    second.kind = EventKind::layer(RaftEvent::ConfChangeProposed {
        change,
        index: index + 1,
        term,
    });
    let mut tampered = events;
    tampered.insert(at + 1, second);
    assert!(matches!(
        judge(&OneChangeAtATime, &r, tampered),
        Outcome::Violation { .. }
    ));
}

fn shape() -> FinalShape {
    FinalShape {
        founders: (0..3).map(NodeId::from_index).collect(),
        joiners: (3..5).map(NodeId::from_index).collect(),
        remove: Removal::Leader,
    }
}

#[test]
fn membership_converges_fails_when_a_member_never_learns_the_final_configuration() {
    let r = run(1, SHORT, &[]);
    let check = MembershipConverges {
        shape: shape(),
        bound_ms: 5_000,
    };
    let events = r.trace.events.clone();
    assert!(judge(&MembershipChanged(shape()), &r, events.clone()).is_pass());
    let pass = judge(&check, &r, events.clone());
    assert!(pass.is_pass(), "{pass:?}");
    // n4 (a final voter) never records the final configuration.
    let n4 = NodeId::from_index(3);
    let last = events
        .iter()
        .rposition(|e| {
            e.node == Some(n4)
                && matches!(e.layer::<RaftEvent>(), Some(RaftEvent::Membership { .. }))
        })
        .unwrap();
    let mut tampered = events;
    tampered.remove(last);
    assert!(matches!(
        judge(&check, &r, tampered),
        Outcome::Violation { .. }
    ));
}

#[test]
fn membership_changed_is_not_reached_when_no_member_records_the_final_configuration() {
    let r = run(1, SHORT, &[]);
    let s = story(&r);
    let last: Membership = serde_json::from_value(s["final_membership"].clone()).unwrap();
    // Without the records of the final configuration, the story did not happen.
    let events: Vec<_> = r
        .trace
        .events
        .iter()
        .filter(
            |e| !matches!(e.layer::<RaftEvent>(), Some(RaftEvent::Membership { voters, .. }) if *voters == last.voters),
        )
        .cloned()
        .collect();
    assert!(matches!(
        judge(&MembershipChanged(shape()), &r, events),
        Outcome::NotReached { .. }
    ));
    // The story removes a follower, but this run removed the leader: not this story.
    let follower = FinalShape {
        remove: Removal::Follower,
        ..shape()
    };
    assert!(matches!(
        judge(&MembershipChanged(follower), &r, r.trace.events.clone()),
        Outcome::NotReached { .. }
    ));
}

#[test]
fn an_operator_cut_off_from_the_cluster_is_a_story_that_did_not_happen() {
    // The operator (client 0, the sixth node) is isolated before its first change and
    // gives up: no change is made, which says nothing about the system under test.
    let operator = NodeId::from_index(5);
    let mut file = ScenarioFile {
        scenario: "membership-change".into(),
        seed: 1,
        config: toml::from_str(SHORT).unwrap(),
        mutants: vec![],
        faults: None,
    };
    file.faults = Some(vec![sim_core::TimedFault::new(
        1_000,
        FaultOp::Isolate { node: operator },
    )]);
    let r = execute(&prepare(&file).unwrap()).unwrap();
    assert_eq!(r.verdict.status(), Status::Pass, "{:?}", failing(&r));
    assert_eq!(story(&r)["completed"], false);
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
        outcome("membership-changed"),
        Outcome::NotReached { .. }
    ));
    assert!(matches!(
        outcome("membership-converges"),
        Outcome::NotApplicable { .. }
    ));
}

#[test]
fn same_seed_same_trace() {
    assert_eq!(
        run(5, SHORT, &[]).trace.hash(),
        run(5, SHORT, &[]).trace.hash()
    );
}

#[test]
fn bad_configs_are_refused_with_a_reason() {
    for (config, says) in [
        ("founders = 5\n", "founders"),
        ("founders = 0\n", "founders"),
        ("operators = 3\n", "operators"),
        ("operators = 2\n[cluster]\nclients = 2\n", "cluster.clients"),
        ("first_change_at_ms = 10\n", "first_change_at_ms"),
        ("duration_ms = 4000\n", "duration_ms"),
        ("remove = \"everyone\"\n", "everyone"),
    ] {
        let file = ScenarioFile {
            scenario: "membership-change".into(),
            seed: 1,
            config: toml::from_str(config).unwrap(),
            mutants: vec![],
            faults: None,
        };
        let err = prepare(&file).expect_err(config).to_string();
        assert!(err.contains(says), "{config}: {err}");
    }
}
