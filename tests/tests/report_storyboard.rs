//! The partition storyboard shows the leaders the trace says, each side's quorum, and the
//! conflicting committed values of a split brain, and nothing of the sort without one.

use ksim_tests::snapshot::assert_snapshot;
use raft::core::Role;
use reports::state::states_at;
use reports::storyboard::{self, Storyboard};
use reports::RunModel;
use scenarios::runner::run_scenario;
use scenarios::scenario::ScenarioRun;
use sim_core::NodeId;

fn board(run: &ScenarioRun) -> (RunModel, Storyboard) {
    let model = RunModel::new(&run.trace, &run.history);
    let board = storyboard::render(&model, &run.trace).expect("the run has a partition");
    (model, board)
}

/// Each panel's leaders are the trace's: the role spans and a replay of the events agree.
fn assert_leaders_match_the_trace(run: &ScenarioRun, model: &RunModel, board: &Storyboard) {
    assert_eq!(
        board
            .panels
            .iter()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>(),
        ["before", "during", "after"]
    );
    for panel in &board.panels {
        let replayed: Vec<(NodeId, u64)> = states_at(&run.trace.events, &model.nodes, panel.t_us)
            .iter()
            .filter(|(_, s)| s.role == Some(Role::Leader))
            .map(|(n, s)| (*n, s.term))
            .collect();
        assert_eq!(panel.leaders, replayed, "{} at {}", panel.title, panel.t_us);
        assert_eq!(panel.leaders, model.leaders_at(panel.t_us));
        for (leader, term) in &panel.leaders {
            let marked = format!(r#"data-node="{leader}" data-role="leader" data-term="{term}""#);
            assert!(board.svg.contains(&marked), "{} not marked", leader);
        }
    }
    let period = &model.partitions[0];
    let [before, during, after] = &board.panels[..] else {
        unreachable!()
    };
    assert!(before.t_us < period.start_us);
    assert!(period.start_us <= during.t_us && during.t_us < period.end_us);
    assert!(after.t_us >= period.end_us);
    assert!(during.cut && !before.cut && !after.cut);
}

#[test]
fn partition_5node_storyboard() {
    let run = run_scenario("partition-5node", 1, "", &[]).unwrap();
    let (model, board) = board(&run);
    assert_leaders_match_the_trace(&run, &model, &board);
    let during = &board.panels[1];
    // One leader, on the side with a quorum; the other side has none.
    assert_eq!(during.leaders.len(), 1);
    let leader = during.leaders[0].0;
    for side in &during.groups {
        assert_eq!(side.quorum, side.servers_up >= 3);
        assert_eq!(side.nodes.contains(&leader), side.quorum);
    }
    assert!(board.svg.contains("quorum 3/5 ✓") && board.svg.contains("no quorum 2/5"));
    assert_eq!(board.panels[2].leaders.len(), 1);
    assert!(board.panels.iter().all(|p| p.conflicts.is_empty()));
    assert!(!board.svg.contains(r#"class="conflict""#));
    assert_snapshot("storyboard-partition-5node-seed1.svg", &board.svg);
}

#[test]
fn split_brain_without_the_bug_has_at_most_one_leader_per_side_and_no_conflict() {
    for (config, nodes) in [
        ("", 4),
        ("[cluster]\nnodes = 3\n", 3),
        ("[cluster]\nnodes = 5\n", 5),
    ] {
        for seed in 1..=2 {
            let run = run_scenario("split-brain", seed, config, &[]).unwrap();
            let (model, board) = board(&run);
            assert_eq!(model.servers.len(), nodes);
            assert_leaders_match_the_trace(&run, &model, &board);
            let during = &board.panels[1];
            for side in &during.groups {
                let leaders = during
                    .leaders
                    .iter()
                    .filter(|(n, _)| side.nodes.contains(n))
                    .count();
                assert!(
                    leaders <= 1,
                    "{nodes} nodes seed {seed}: {:?}",
                    during.leaders
                );
                if !side.quorum {
                    // A side without a quorum commits nothing during the split.
                    for card in during
                        .servers
                        .iter()
                        .filter(|c| side.nodes.contains(&c.node))
                    {
                        let before = board.panels[0]
                            .servers
                            .iter()
                            .find(|c| c.node == card.node)
                            .unwrap();
                        assert!(
                            card.commit
                                <= before
                                    .commit
                                    .max(model.commit_at(card.node, model.partitions[0].start_us)),
                            "{nodes} nodes seed {seed}: {card:?}"
                        );
                    }
                }
            }
            if nodes == 4 {
                assert!(
                    during.groups.iter().all(|g| !g.quorum),
                    "2/2: no side has 3 of 4"
                );
            }
            assert!(board.panels.iter().all(|p| p.conflicts.is_empty()));
            assert!(!board.svg.contains(r#"class="conflict""#));
        }
    }
}

#[test]
fn split_brain_with_quorum_of_reachable_shows_two_leaders_and_the_conflicting_commits() {
    // Every seed of 0..6 splits the brain with this bug; 1 and 4 are kept.
    for seed in [1, 4] {
        let run = run_scenario("split-brain", seed, "", &["quorum-of-reachable"]).unwrap();
        let (model, board) = board(&run);
        assert_leaders_match_the_trace(&run, &model, &board);
        let during = &board.panels[1];
        assert_eq!(during.leaders.len(), 2, "seed {seed}: {:?}", during.leaders);
        for side in &during.groups {
            assert!(during.leaders.iter().any(|(n, _)| side.nodes.contains(n)));
            assert!(!side.quorum);
        }
        let conflict = during.conflicts.first().expect("a conflict is marked");
        assert!(conflict.values.len() >= 2);
        // Both values really are committed at that index on their holders.
        let states = states_at(&run.trace.events, &model.nodes, during.t_us);
        for (entry, holders) in &conflict.values {
            for n in holders {
                let s = &states[n];
                assert!(s.commit >= conflict.index);
                assert_eq!(s.log.get(&conflict.index), Some(entry));
            }
        }
        let mark = format!(r#"<g class="conflict" data-index="{}">"#, conflict.index);
        assert!(board.svg.contains(&mark));
        assert!(board.svg.contains("2 LEADERS"));
    }
}

/// For each place `marker` occurs: the term of the `data-term` after it and the first fill
/// colour after that (the shape the group draws).
fn term_fills(svg: &str, marker: &str) -> Vec<(u64, String)> {
    let mut found = Vec::new();
    for (at, _) in svg.match_indices(marker) {
        let group = &svg[at..];
        let term: u64 = group
            .split("data-term=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .and_then(|t| t.parse().ok())
            .expect("a data-term");
        let fill = group
            .split("fill=\"")
            .nth(1)
            .and_then(|f| f.split('"').next())
            .expect("a fill")
            .to_lowercase();
        found.push((term, fill));
    }
    found
}

#[test]
fn a_term_has_one_colour_in_every_picture() {
    let run = run_scenario("partition-5node", 1, "", &[]).unwrap();
    let (model, board) = board(&run);
    let sequence = reports::sequence::render(&model, &reports::Window::default());
    let timeline = reports::timeline::render(&model, "t", false).unwrap();
    let leaders = term_fills(&board.svg, r#"data-role="leader" data-term="#);
    let bars = term_fills(&sequence.svg, r#"<g class="band leader""#);
    assert!(
        leaders.len() >= 2 && bars.len() >= 2,
        "{leaders:?} {bars:?}"
    );
    let mut terms = std::collections::BTreeSet::new();
    for (term, fill) in leaders.iter().chain(&bars) {
        let colour = reports::palette::term(*term);
        assert_eq!(*fill, colour.hex(), "term {term}");
        // plotters writes the timeline's bars in upper case.
        assert!(
            timeline.svg.to_lowercase().contains(&colour.hex()),
            "the timeline draws term {term}"
        );
        terms.insert(*term);
    }
    assert!(
        terms.len() >= 2,
        "the story has two leader terms: {terms:?}"
    );
}
