//! Negative tests for the story checks: each check is shown FIRING on a real run whose
//! behaviour is bad for the claim it makes (a config or a planted bug that produces the
//! behaviour), and the same seed with the default config passes it. The positive side
//! (the stock stories pass) is in each scenario's own test file.
//!
//! Each test searches a few seeds for the first run the check fires on, so a change in
//! timing moves the seed rather than breaking the test; the budget is small and stated,
//! and the seed found is printed (`--nocapture`).

use scenarios::runner::run_scenario;
use scenarios::ScenarioRun;
use sim_core::Outcome;

fn run(scenario: &str, seed: u64, config: &str, mutants: &[&str]) -> ScenarioRun {
    run_scenario(scenario, seed, config, mutants)
        .unwrap_or_else(|e| panic!("{scenario} seed {seed}: {e}"))
}

/// The checks that reported a violation (not those that were unknown).
fn violated(run: &ScenarioRun) -> Vec<String> {
    run.verdict
        .checks
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Violation { .. }))
        .map(|c| c.name.clone())
        .collect()
}

/// The outcome of the check `name` in `run`.
fn outcome<'a>(run: &'a ScenarioRun, name: &str) -> &'a Outcome {
    &run.verdict
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} did not run: {:?}", violated(run)))
        .outcome
}

/// Finds the first seed in `seeds` on which `check` fires with `config` and `mutants`,
/// then asserts that the same seed with the `control` config and no mutant passes it.
fn fires(
    scenario: &str,
    check: &str,
    (config, mutants): (&str, &[&str]),
    control: &str,
    seeds: std::ops::Range<u64>,
) {
    for seed in seeds.clone() {
        let bad = run(scenario, seed, config, mutants);
        if violated(&bad).iter().any(|c| c == check) {
            let good = run(scenario, seed, control, &[]);
            assert!(
                outcome(&good, check).is_pass(),
                "{scenario} seed {seed}: {check} fires on the control config too: {:?}",
                outcome(&good, check)
            );
            eprintln!(
                "{check}: fires on {scenario} seed {seed} with {config:?} {mutants:?}: {:?}",
                outcome(&bad, check)
            );
            return;
        }
    }
    panic!("{check} never fired on {scenario} seeds {seeds:?} with {config:?} {mutants:?}");
}

/// Without pre-vote, the isolated leader campaigns again and again on its own side,
/// raising its term; when it returns, its higher term deposes the leader in office. That
/// is the disruption pre-vote exists to prevent.
#[test]
fn stable_after_rejoin_fires_without_pre_vote() {
    fires(
        "election",
        "stable-after-rejoin",
        ("[cluster.raft]\npre_vote = false\n", &[]),
        "",
        0..5,
    );
}

/// With every follower's election timeout fixed (the planted bug
/// `fixed-election-timeout`), the two followers left after the leader is isolated time
/// out on the same tick, vote for themselves and split the vote again and again: no new
/// leader within the bound.
#[test]
fn new_leader_after_isolation_fires_when_votes_keep_splitting() {
    fires(
        "election",
        "new-leader-after-isolation",
        ("", &["fixed-election-timeout"]),
        "",
        0..10,
    );
}

/// Two long stalls (as `disk_stall.rs`'s quickest story).
const LONG: &str = "stalls = 2\ngap_ms = 4000\nduration_ms = 19000\n";

/// With split votes forever after the stalled leader falls silent, no leader takes writes
/// after the stall either: no write is acknowledged within the resume bound.
#[test]
fn writes_resume_after_stall_fires_when_no_leader_is_elected() {
    fires(
        "disk-stall",
        "writes-resume-after-stall",
        (LONG, &["fixed-election-timeout"]),
        LONG,
        0..10,
    );
}

/// A stall of 890 ms is short (under the 1000 ms election timeout less a 100 ms
/// heartbeat), so the story claims leadership holds. It does on the default disk, even on
/// a network whose one-way latency jitters from 1 to 400 ms (tried: the check never fired
/// on 10 seeds). On a slow disk, every fsync 100 to 300 ms (etcd's "leader failed to send
/// out heartbeat on time ... slow disk"), the leader's heartbeats already come late, since
/// the node loop sends only after each fsync; a stall on top of that silences it past a
/// follower's timeout, which starts an election, and a new term is elected inside the
/// window the claim covers: the check fires.
#[test]
fn leadership_holds_on_short_stall_fires_on_a_slow_disk() {
    let short = "stall_ms = 890\nstalls = 3\ngap_ms = 4000\nduration_ms = 20000\n";
    let slow_disk = "[cluster.disk]\nfsync_min_us = 100000\nfsync_max_us = 300000\n";
    // The same stalls on the default disk hold.
    fires(
        "disk-stall",
        "leadership-holds-on-short-stall",
        (&format!("{short}{slow_disk}"), &[]),
        short,
        0..10,
    );
}

/// The ping mesh's stories: with no faults drawn nothing is cut, so `faults-cut-messages`
/// is not reached; with a node killed for good the mesh is never whole again, so
/// `mesh-healed` is not reached and `mesh-reconnects` (which would otherwise fail: the dead
/// node's links stay silent) is not applicable rather than a violation.
#[test]
fn ping_mesh_stories_are_not_reached_when_they_did_not_happen() {
    let quiet = run(
        "ping-mesh",
        1,
        "[faults]\nepisodes_min = 0\nepisodes_max = 0\n",
        &[],
    );
    assert!(
        matches!(
            outcome(&quiet, "faults-cut-messages"),
            Outcome::NotReached { .. }
        ),
        "{:?}",
        outcome(&quiet, "faults-cut-messages")
    );
    assert!(outcome(&quiet, "mesh-healed").is_pass());
    assert!(outcome(&quiet, "mesh-reconnects").is_pass());

    let file = scenarios::ScenarioFile::from_toml(
        "scenario = \"ping-mesh\"\nseed = 1\n\n[[faults]]\nat_ms = 3000\nop = \"kill\"\nnode = \"peer-2\"\n",
        "scenario.toml",
    )
    .expect("a valid scenario file");
    let killed = scenarios::runner::execute(&scenarios::runner::prepare(&file).unwrap()).unwrap();
    assert!(outcome(&killed, "faults-cut-messages").is_pass());
    assert!(
        matches!(outcome(&killed, "mesh-healed"), Outcome::NotReached { .. }),
        "{:?}",
        outcome(&killed, "mesh-healed")
    );
    assert!(
        matches!(
            outcome(&killed, "mesh-reconnects"),
            Outcome::NotApplicable { .. }
        ),
        "{:?}",
        outcome(&killed, "mesh-reconnects")
    );
    assert_eq!(killed.verdict.status(), sim_core::Status::Pass);
}
