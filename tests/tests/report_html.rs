//! report.html is one self-contained file whose embedded step data agrees with the Rust
//! replay, whose evidence links land on embedded events, whose fork schedule parses, and
//! whose bytes depend only on the run.

use std::collections::BTreeMap;
use std::path::Path;

use raft::events::RaftEvent;
use reports::html::{self, Pictures};
use reports::state::{states_at, Replayer};
use reports::viewer::{state_cells, ViewerLimits, FIELDS};
use reports::{RunFolder, RunModel, TimeAxis};
use scenarios::output::write_run;
use scenarios::runner::{execute, file_for, prepare};
use sim_core::{FaultOp, FaultSchedule, NodeId, Outcome, Status, TimedFault};

/// A run written to a folder and read back as the report reads it.
struct Run {
    _dir: tempfile::TempDir,
    folder: RunFolder,
    model: RunModel,
}

fn run(scenario: &str, seed: u64, config: &str, mutants: &[&str]) -> Run {
    let prepared = prepare(&file_for(scenario, seed, config, mutants).unwrap()).unwrap();
    let result = execute(&prepared).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &prepared, &result).unwrap();
    let folder = RunFolder::load(dir.path()).unwrap();
    let model = RunModel::new(&folder.trace, &folder.history);
    Run {
        _dir: dir,
        folder,
        model,
    }
}

/// A small hand-drawn timeline (a band per server) and its axis: the report must not care
/// who drew its pictures.
fn timeline(model: &RunModel) -> (String, TimeAxis) {
    let height = 40.0 + 24.0 * model.servers.len() as f64;
    let axis = TimeAxis {
        width_px: 800.0,
        height_px: height,
        left_px: 60.0,
        right_px: 780.0,
        top_px: 20.0,
        bottom_px: height - 20.0,
        start_us: 0,
        end_us: model.end_us,
    };
    let mut svg = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"{height}\">\n"
    );
    for (row, node) in model.servers.iter().enumerate() {
        let y = 20.0 + 24.0 * row as f64;
        svg.push_str(&format!("<text x=\"8\" y=\"{}\">{node}</text>\n", y + 16.0));
        for span in model.roles.iter().filter(|r| r.node == *node) {
            let x = axis.x_of(span.start_us);
            let w = (axis.x_of(span.end_us) - x).max(1.0);
            let fill = match span.role {
                raft::core::Role::Leader => "#2ca02c",
                raft::core::Role::Follower => "#c7d3e6",
                _ => "#ff7f0e",
            };
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" fill=\"{fill}\"/>\n"
            ));
        }
    }
    svg.push_str("</svg>\n");
    (svg, axis)
}

const SEQUENCE: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"60\"><line x1=\"10\" y1=\"10\" x2=\"190\" y2=\"50\" stroke=\"black\"/></svg>";
const CHART: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 50\" width=\"100\" height=\"50\"><rect width=\"40\" height=\"30\" fill=\"#1f77b4\"/></svg>";

fn render(run: &Run, limits: ViewerLimits) -> String {
    let (svg, axis) = timeline(&run.model);
    let pictures = Pictures {
        timeline: Some((&svg, axis)),
        sequence: Some((SEQUENCE, "messages of the first second")),
        storyboard: Some(SEQUENCE),
        charts: vec![("Commit latency", "one bar", CHART)],
    };
    html::render_with(&run.folder, &run.model, &pictures, "out/run dir", limits)
}

/// The embedded viewer data.
fn embedded(page: &str) -> serde_json::Value {
    let open = format!(
        "<script type=\"application/json\" id=\"{}\">",
        html::DATA_ELEMENT_ID
    );
    let start = page.find(&open).expect("the page embeds its data") + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).expect("the embedded data is JSON")
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Each node's cells after applying the embedded changes of events `0..=last` to the
/// embedded initial state, as the page's script does.
fn replay_embedded(data: &serde_json::Value, last: usize) -> Vec<Vec<String>> {
    let mut cells: Vec<Vec<String>> = data["initial"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    for event in &data["events"].as_array().unwrap()[..=last] {
        if let Some(changes) = event.get(4) {
            for change in changes.as_array().unwrap() {
                let node = change[0].as_u64().unwrap() as usize;
                let field = change[1].as_u64().unwrap() as usize;
                assert_eq!(
                    cells[node][field],
                    change[2].as_str().unwrap(),
                    "a change's old value is the cell's text before it"
                );
                cells[node][field] = change[3].as_str().unwrap().to_string();
            }
        }
    }
    cells
}

fn expected_cells(
    states: &BTreeMap<NodeId, reports::state::NodeState>,
    model: &RunModel,
) -> Vec<Vec<String>> {
    model
        .nodes
        .iter()
        .map(|node| state_cells(&states[node], &model.directory).to_vec())
        .collect()
}

/// Config that adds two random fault episodes to the scenario's own story, so that the
/// run's `scenario.toml` has a fault schedule.
const CHAOS: &str = "[cluster.chaos]\nepisodes_min = 2\nepisodes_max = 2\n";

/// A split-brain run whose planted bug is caught, with its evidence.
fn violating_run() -> Run {
    for seed in 0..50 {
        let run = run("split-brain", seed, "", &["quorum-of-reachable"]);
        if run.folder.verdict.status == Status::SafetyViolation {
            return run;
        }
    }
    panic!("no split-brain seed in 0..50 shows the quorum-of-reachable bug");
}

#[test]
fn the_report_is_self_contained() {
    let run = run("partition-5node", 1, "", &[]);
    let page = render(&run, ViewerLimits::default());
    assert!(page.starts_with("<!DOCTYPE html>\n"));
    for external in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "<script src",
        "<link",
        "@import",
        "url(http",
        "<iframe",
    ] {
        assert!(
            !page.contains(external),
            "the page loads something from outside: {external}"
        );
    }
    assert_eq!(
        page.matches("<script").count(),
        2,
        "one data element and one inline script"
    );
    assert!(
        !page.contains("<?xml"),
        "XML prologs are stripped from inline SVGs"
    );
    // Every picture is inline, the timeline gained a viewBox so it scales.
    assert!(page.contains("<svg viewBox=\"0 0 800 "));
    assert!(page.contains("messages of the first second"));
    assert!(page.contains("Commit latency") && page.contains("one bar"));
    for id in [
        "step-back",
        "step-forward",
        "jump-time",
        "jump",
        "position",
        "current-event",
        "state-panel",
        "active-faults",
        "fork",
        "fork-command",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "the page has #{id}");
    }
    // The header's facts and commands.
    let verdict = &run.folder.verdict;
    assert!(page.contains(&verdict.trace_hash.0));
    assert!(page.contains("PASS (exit 0)"));
    assert!(page.contains("ksim replay &#39;out/run dir&#39;"));
    assert!(page.contains(
        "ksim run partition-5node --seed 1 --config &#39;out/run dir/scenario.toml&#39;"
    ));
}

#[test]
fn every_check_and_its_evidence_link_to_embedded_events() {
    let run = violating_run();
    let page = render(&run, ViewerLimits::default());
    let data = embedded(&page);
    let ids: Vec<u64> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[0].as_u64().unwrap())
        .collect();
    assert!(page.contains("SAFETY VIOLATION (exit 3)"));
    assert!(page.contains("--mutant quorum-of-reachable"));
    let mut evidence_events = 0;
    for check in &run.folder.verdict.checks {
        assert!(
            page.contains(&format!("<td class=\"check-name\">{}</td>", check.name)),
            "check {} is listed",
            check.name
        );
        if let Outcome::Violation { evidence, .. } = &check.outcome {
            for event in evidence.iter().filter_map(|e| e.event) {
                evidence_events += 1;
                assert!(
                    page.contains(&format!(
                        "class=\"evidence-link\" href=\"#viewer\" data-event=\"{}\"",
                        event.0
                    )),
                    "evidence {event} of {} is a link",
                    check.name
                );
                assert!(ids.contains(&event.0), "evidence {event} is embedded");
            }
        }
    }
    assert!(evidence_events > 0, "the violation names events");
    // Links name only embedded events.
    for part in page.split("data-event=\"").skip(1) {
        let id: u64 = part[..part.find('"').unwrap()].parse().unwrap();
        assert!(ids.contains(&id), "link to e{id}, which the viewer lacks");
    }
}

#[test]
fn the_embedded_steps_replay_to_the_rust_final_state_and_back() {
    let run = run("partition-5node", 1, "", &[]);
    let page = render(&run, ViewerLimits::default());
    let data = embedded(&page);
    let nodes = strings(&data["nodes"]);
    assert_eq!(strings(&data["fields"]), FIELDS.to_vec());
    let events = data["events"].as_array().unwrap();
    assert_eq!(events.len(), run.folder.trace.events.len());
    assert_eq!(data["total_events"], run.folder.trace.events.len());
    let node_ids: Vec<NodeId> = run.model.nodes.clone();
    let names: Vec<String> = node_ids
        .iter()
        .map(|n| run.model.name(*n).to_string())
        .collect();
    assert_eq!(nodes, names, "the viewer names nodes as the directory does");
    let end = states_at(&run.folder.trace.events, &node_ids, run.model.end_us);
    assert_eq!(
        replay_embedded(&data, events.len() - 1),
        expected_cells(&end, &run.model)
    );
    // At every event where a leader appears, the embedded state agrees with the replay.
    let mut replayer = Replayer::new(&node_ids);
    let mut checked = 0;
    for (i, event) in run.folder.trace.events.iter().enumerate() {
        replayer.apply(event);
        if matches!(
            event.layer::<RaftEvent>(),
            Some(RaftEvent::Role {
                role: raft::core::Role::Leader,
                ..
            })
        ) {
            assert_eq!(
                replay_embedded(&data, i),
                expected_cells(replayer.states(), &run.model),
                "after {}",
                event.id
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the run elects a leader");
    // The partition is one fault, active from its event to the heal.
    let faults = data["faults"].as_array().unwrap();
    let partition = faults
        .iter()
        .find(|f| f["label"].as_str().unwrap().starts_with("partition"))
        .expect("the partition is listed");
    let span = run
        .model
        .faults
        .iter()
        .find(|f| f.kind == "partition")
        .unwrap();
    assert_eq!(partition["from_event"], span.start_event.0);
    assert_eq!(partition["to_event"], span.end_event.unwrap().0);
}

#[test]
fn a_window_starts_from_the_replayed_state_and_says_what_it_left_out() {
    let run = run("partition-5node", 1, "", &[]);
    let from_us = run.model.end_us / 2;
    let limits = ViewerLimits {
        from_us: Some(from_us),
        to_us: None,
        max_events: 1_000,
    };
    let page = render(&run, limits);
    let data = embedded(&page);
    let events = data["events"].as_array().unwrap();
    assert_eq!(events.len(), 1_000);
    let before = run
        .folder
        .trace
        .events
        .iter()
        .take_while(|e| e.t_us.0 < from_us)
        .count();
    assert_eq!(data["skipped_before"], before);
    assert_eq!(events[0][0], run.folder.trace.events[before].id.0);
    assert!(page.contains("id=\"window-note\""));
    let nodes = strings(&data["nodes"]);
    let node_ids: Vec<NodeId> = run.model.nodes.clone();
    let names: Vec<String> = node_ids
        .iter()
        .map(|n| run.model.name(*n).to_string())
        .collect();
    assert_eq!(nodes, names, "the viewer names nodes as the directory does");
    let mut replayer = Replayer::new(&node_ids);
    for event in &run.folder.trace.events[..before + 1_000] {
        replayer.apply(event);
    }
    assert_eq!(
        replay_embedded(&data, 999),
        expected_cells(replayer.states(), &run.model)
    );
}

#[test]
fn the_fork_schedule_parses_back_with_the_new_fault() {
    let run = run("partition-5node", 1, CHAOS, &[]);
    let page = render(&run, ViewerLimits::default());
    let data = embedded(&page);
    let schedule = html::schedule_of(&run.folder).unwrap();
    assert!(
        schedule.len() >= 2,
        "the chaos episodes are in the schedule"
    );
    let blocks = data["fork"]["schedule"].as_array().unwrap();
    assert_eq!(blocks.len(), schedule.len());
    // What the page writes for "kill n2 at 1500 ms": the blocks with the new one after
    // every fault at or before 1500 ms.
    let new_block =
        "# added by \"fork here\"\n[[faults]]\nat_ms = 1500\nop = \"kill\"\nnode = \"n2\"\n";
    let mut texts: Vec<String> = blocks
        .iter()
        .map(|b| b["toml"].as_str().unwrap().to_string())
        .collect();
    let at = blocks
        .iter()
        .rposition(|b| b["at_ms"].as_u64().unwrap() <= 1500)
        .map_or(0, |i| i + 1);
    texts.insert(at, new_block.to_string());
    let parsed = FaultSchedule::from_toml(&texts.join("\n"), "fork-faults.toml").unwrap();
    let mut wanted = schedule.clone();
    wanted.insert(at, TimedFault::new(1500, FaultOp::Kill { node: NodeId(2) }));
    assert_eq!(parsed.faults, wanted);
    assert_eq!(
        data["fork"]["rerun"],
        html::rerun_command(&run.folder, "out/run dir")
    );
}

#[test]
fn the_same_run_renders_the_same_bytes() {
    let run = run("partition-5node", 1, "", &[]);
    let first = render(&run, ViewerLimits::default());
    let again = RunFolder::load(Path::new(run._dir.path())).unwrap();
    let model = RunModel::new(&again.trace, &again.history);
    let second = render(
        &Run {
            _dir: tempfile::tempdir().unwrap(),
            folder: again,
            model,
        },
        ViewerLimits::default(),
    );
    assert!(first == second, "two renders of one run differ");
}

#[test]
fn a_report_without_pictures_still_steps_through() {
    let run = run("partition-5node", 1, "", &[]);
    let page = html::render(&run.folder, &run.model, &Pictures::default(), "out");
    assert!(!page.contains("id=\"timeline\""));
    assert!(page.contains("id=\"state-panel\""));
    assert_eq!(embedded(&page)["axis"], serde_json::Value::Null);
}
