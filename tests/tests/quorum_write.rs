//! `quorum-write`: a read through a lagging follower right after a majority-acknowledged
//! write. Linearizable reads (ReadIndex) see the write on every seed; serializable reads
//! and the planted bug `stale-follower-read` return the old value, and the checkers say so.

use scenarios::runner::run_scenario;
use sim_core::Status;

struct Outcome {
    status: Status,
    failing: Vec<String>,
    story: serde_json::Value,
}

fn run(seed: u64, config: &str, mutants: &[&str]) -> Outcome {
    let run = run_scenario("quorum-write", seed, config, mutants).expect("the scenario runs");
    let story = run
        .data_json("quorum_write.json")
        .expect("quorum-write writes quorum_write.json");
    Outcome {
        status: run.verdict.status(),
        failing: run.failing_checks(),
        story,
    }
}

#[test]
fn linearizable_reads_through_a_lagging_follower_see_the_acknowledged_write() {
    for seed in 0..5 {
        let out = run(seed, "", &[]);
        assert_eq!(out.status, Status::Pass, "seed {seed}: {:?}", out.failing);
        assert_eq!(
            out.story["read"]["value"], "5",
            "seed {seed}: {}",
            out.story
        );
        assert_eq!(out.story["stale"], false);
        assert_ne!(out.story["read"]["member"], out.story["leader"]);
        // The read had to wait for the slow link: ReadIndex costs a round trip to the leader.
        let waited = out.story["read"]["completed_ms"].as_f64().unwrap()
            - out.story["read"]["invoked_ms"].as_f64().unwrap();
        assert!(waited >= 300.0, "seed {seed}: answered in {waited} ms");
    }
}

#[test]
fn serializable_reads_are_stale_and_flagged() {
    for seed in 0..5 {
        let out = run(seed, "read_mode = \"serializable\"\n", &[]);
        assert_eq!(
            out.story["read"]["value"], "4",
            "seed {seed}: {}",
            out.story
        );
        assert_eq!(out.status, Status::SafetyViolation, "seed {seed}");
        assert!(
            out.failing.iter().any(|c| c == "reads-not-stale"),
            "seed {seed}: {:?}",
            out.failing
        );
    }
}

#[test]
fn the_planted_bug_stale_follower_read_is_caught() {
    for seed in 0..5 {
        let out = run(seed, "", &["stale-follower-read"]);
        assert_eq!(
            out.status,
            Status::SafetyViolation,
            "seed {seed}: {}",
            out.story
        );
        assert_eq!(out.story["stale"], true);
        // The checker named for the bug (README's planted-bug table) is among those fired.
        assert!(
            out.failing.iter().any(|c| c == "reads-not-stale"),
            "seed {seed}: {:?}",
            out.failing
        );
        // The same seed without the bug passes.
        assert_eq!(run(seed, "", &[]).status, Status::Pass);
    }
}
