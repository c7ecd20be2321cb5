//! The report's step-through viewer, driven in headless Chromium, shows what the Rust replay
//! computed: `tests/browser/step_through.mjs` clicks through a real run's report and
//! compares the state panel with rows this test computes with `reports::state::Replayer`.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/browser/node_modules` (the README's test
//! command, `./test`, installs them). Without them the tests fail and say how to install;
//! they never skip, so a machine that cannot run them cannot pass CI by accident.

use std::path::{Path, PathBuf};
use std::process::Command;

use raft::core::Role;
use raft::events::RaftEvent;
use reports::html::{self, Pictures};
use reports::state::Replayer;
use reports::viewer::state_cells;
use reports::{RunFolder, RunModel, TimeAxis};
use scenarios::output::write_run;
use scenarios::runner::{execute, file_for, prepare, Prepared};
use scenarios::scenario::ScenarioRun;
use sim_core::{FaultOp, FaultSchedule, Status, TimedFault};

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Fails, with how to install, if the browser test's tools are missing.
fn require_tools() {
    let install = "run the suite with `./test`, which installs them, or install them by hand: \
                   `apt-get install -y chromium` and `npm ci --prefix tests/browser`";
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "`node` is not on PATH; {install} (node itself: apt-get install -y nodejs)"
    );
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing; {install}"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules/playwright-core is missing; {install}"
    );
}

/// Each server's row of the state panel: node, then its cells.
fn rows(replayer: &Replayer, model: &RunModel) -> Vec<Vec<String>> {
    model
        .servers
        .iter()
        .map(|node| {
            let mut row = vec![model.name(*node).to_string()];
            row.extend(state_cells(
                replayer.state(*node).unwrap(),
                &model.directory,
            ));
            row
        })
        .collect()
}

/// A plain timeline picture: the report places any SVG with its axis.
fn timeline(model: &RunModel) -> (String, TimeAxis) {
    let height = 40.0 + 24.0 * model.servers.len() as f64;
    let axis = TimeAxis {
        width_px: 900.0,
        height_px: height,
        left_px: 50.0,
        right_px: 880.0,
        top_px: 14.0,
        bottom_px: height - 14.0,
        start_us: 0,
        end_us: model.end_us,
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (row, node) in model.servers.iter().enumerate() {
        let y = 20.0 + 24.0 * row as f64;
        svg.push_str(&format!("<text x=\"8\" y=\"{}\">{node}</text>\n", y + 15.0));
        for span in model.roles.iter().filter(|r| r.node == *node) {
            let x = axis.x_of(span.start_us);
            let w = (axis.x_of(span.end_us) - x).max(1.0);
            let fill = match span.role {
                Role::Leader => "#2ca02c",
                Role::Follower => "#c7d3e6",
                _ => "#ff7f0e",
            };
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" fill=\"{fill}\"/>\n"
            ));
        }
    }
    for fault in &model.faults {
        let x = axis.x_of(fault.start_us);
        let w = (axis.x_of(fault.end_us) - x).max(2.0);
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"14\" width=\"{w:.1}\" height=\"{}\" fill=\"#d62728\" fill-opacity=\"0.12\"/>\n",
            height - 28.0
        ));
    }
    svg.push_str("</svg>\n");
    (svg, axis)
}

/// Runs a scenario into a folder, renders its report there, has the browser script click
/// through it, and checks the fork file it read back.
fn check_in_browser(scenario: &str, seed: u64, config: &str, mutants: &[&str]) {
    let prepared = prepare(&file_for(scenario, seed, config, mutants).unwrap()).unwrap();
    let result = execute(&prepared).unwrap();
    check_run_in_browser(&prepared, &result);
}

/// [`check_in_browser`] for a run already made.
fn check_run_in_browser(prepared: &Prepared, result: &ScenarioRun) {
    require_tools();
    let (scenario, seed) = (prepared.file.scenario.as_str(), prepared.file.seed);
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), prepared, result).unwrap();
    let folder = RunFolder::load(dir.path()).unwrap();
    let model = RunModel::new(&folder.trace, &folder.history);
    let (svg, axis) = timeline(&model);
    let run_dir = dir.path().to_str().unwrap();
    let page = html::render(
        &folder,
        &model,
        &Pictures {
            timeline: Some((&svg, axis)),
            ..Pictures::default()
        },
        run_dir,
    );
    let report = dir.path().join("report.html");
    std::fs::write(&report, &page).unwrap();

    // What the page must show, from the Rust replay.
    let events = &folder.trace.events;
    let servers = &model.servers;
    let mut replayer = Replayer::new(&model.nodes);
    let mut rows_at = Vec::with_capacity(events.len());
    for event in events {
        replayer.apply(event);
        rows_at.push(rows(&replayer, &model));
    }
    // A few steps in, ending on an event that changes the panel.
    let steps = (3..events.len())
        .find(|&i| rows_at[i] != rows_at[i - 1])
        .expect("some early event changes a server's state");
    let changed_row = rows_at[steps]
        .iter()
        .zip(&rows_at[steps - 1])
        .find(|(now, before)| now != before)
        .map(|(now, _)| now.clone())
        .unwrap();
    // Jump into the first fault if there is one (so faults are active), else to the first
    // leader; the time has microsecond precision so the jump lands after that event.
    let jump_us = match model.faults.first() {
        Some(fault) => (fault.start_us + fault.end_us) / 2,
        None => {
            events
                .iter()
                .find(|e| {
                    matches!(
                        e.layer::<RaftEvent>(),
                        Some(RaftEvent::Role {
                            role: Role::Leader,
                            ..
                        })
                    )
                })
                .expect("a leader is elected")
                .t_us
                .0
        }
    };
    let jump_index = events.iter().rposition(|e| e.t_us.0 <= jump_us).unwrap();
    let jump_event = &events[jump_index];
    let faults_at_jump: Vec<String> = model
        .faults_at(jump_event.t_us.0)
        .iter()
        .map(|f| f.label.clone())
        .collect();
    let evidence_links = page
        .matches("class=\"evidence-link\" href=\"#viewer\" data-event=")
        .count();
    let fork_node = servers[servers.len() - 1];
    let fork_at_ms = jump_event.t_us.0 / 1000;
    let rerun = html::rerun_command(&folder, run_dir);
    let fork_out = dir.path().join("fork-command.txt");
    let expected = serde_json::json!({
        "rows_start": rows_at[0],
        "steps": steps,
        "rows_before_last": rows_at[steps - 1],
        "rows_after_steps": rows_at[steps],
        "expect_text": [changed_row[0], changed_row[2], changed_row[3]],
        "jump_ms": jump_us as f64 / 1000.0,
        "jump_id": jump_event.id.0,
        "rows_at_jump": rows_at[jump_index],
        "faults_at_jump": faults_at_jump,
        "evidence_links": evidence_links,
        "fork_kind": "kill",
        "fork_node": model.name(fork_node).to_string(),
        "fork_at_ms": fork_at_ms,
        "rerun": rerun,
        "fork_out": fork_out,
    });
    let expected_path = dir.path().join("expected.json");
    std::fs::write(
        &expected_path,
        serde_json::to_vec_pretty(&expected).unwrap(),
    )
    .unwrap();

    let mut command = Command::new("node");
    command
        .arg(browser_dir().join("step_through.mjs"))
        .arg(&report)
        .arg(&expected_path);
    // KSIM_REPORT_SCREENSHOT=<file.png> keeps a picture of the page for a person to look at.
    // A test-only switch read outside any simulation, so the environment ban does not apply.
    #[allow(clippy::disallowed_methods)]
    let screenshot = std::env::var("KSIM_REPORT_SCREENSHOT");
    if let Ok(shot) = screenshot {
        command.arg(format!("{shot}.{scenario}.png"));
    }
    let output = command.output().expect("node runs");
    assert!(
        output.status.success(),
        "the browser check of {scenario} seed {seed} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // The fork the page wrote: this run's schedule plus the kill, and the rerun command.
    let fork = std::fs::read_to_string(&fork_out).unwrap();
    let toml = fork
        .strip_prefix("cat > fork-faults.toml <<'EOF'\n")
        .and_then(|rest| rest.split_once("EOF\n"))
        .map(|(toml, _)| toml)
        .expect("the fork command is a heredoc");
    let parsed = FaultSchedule::from_toml_in(toml, "fork-faults.toml", &model.directory)
        .unwrap_or_else(|e| panic!("the fork file does not parse: {e}\n{toml}"));
    let mut wanted = html::schedule_of(&folder).unwrap();
    let at = wanted
        .iter()
        .rposition(|f| f.at_ms <= fork_at_ms)
        .map_or(0, |i| i + 1);
    wanted.insert(
        at,
        TimedFault::new(fork_at_ms, FaultOp::Kill { node: fork_node }),
    );
    assert_eq!(parsed.faults, wanted);
    assert!(fork.ends_with(&format!("EOF\n{rerun} --faults fork-faults.toml\n")));
}

#[test]
fn the_viewer_steps_through_a_partition_run_as_rust_replays_it() {
    // Two chaos episodes on top of the scripted partition, so the fork adds to a schedule.
    check_in_browser(
        "partition-5node",
        1,
        "[cluster.chaos]\nepisodes_min = 2\nepisodes_max = 2\n",
        &[],
    );
}

#[test]
fn the_viewer_follows_evidence_links_of_a_caught_planted_bug() {
    // The first seed of the planted-bug hunt that catches quorum-of-reachable.
    for seed in 0..50 {
        let file = file_for("split-brain", seed, "", &["quorum-of-reachable"]).unwrap();
        let prepared = prepare(&file).unwrap();
        let result = execute(&prepared).unwrap();
        if result.verdict.status() == Status::SafetyViolation {
            check_run_in_browser(&prepared, &result);
            return;
        }
    }
    panic!("no split-brain seed in 0..50 shows the quorum-of-reachable bug");
}
