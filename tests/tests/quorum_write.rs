//! `quorum-write`: a read through a lagging follower right after a majority-acknowledged
//! write. Linearizable reads (ReadIndex) see the write on every seed; serializable reads
//! and the planted bug `stale-follower-read` return the old value, and the checkers say so.

use scenarios::runner::{execute, prepare};
use scenarios::ScenarioFile;
use sim_core::Status;

struct Outcome {
    status: Status,
    failing: Vec<String>,
    story: serde_json::Value,
}

fn run(seed: u64, config: &str, mutants: &[&str]) -> Outcome {
    let file = ScenarioFile {
        scenario: "quorum-write".into(),
        seed,
        config: toml::from_str(config).expect("test configs parse"),
        mutants: mutants.iter().map(|m| m.to_string()).collect(),
        faults: None,
    };
    let prepared = prepare(&file).expect("test scenarios are valid");
    let run = execute(&prepared).expect("test scenarios run");
    let story = run
        .data
        .iter()
        .find(|(name, _)| name == "quorum_write.json")
        .map(|(_, bytes)| serde_json::from_slice(bytes).expect("the story is JSON"))
        .expect("quorum-write writes quorum_write.json");
    Outcome {
        status: run.verdict.status(),
        failing: run.verdict.failures().map(|c| c.name.clone()).collect(),
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
        // The same seed without the bug passes.
        assert_eq!(run(seed, "", &[]).status, Status::Pass);
    }
}
