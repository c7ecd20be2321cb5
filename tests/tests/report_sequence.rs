//! The sequence (Lamport) diagram draws every message of its window once, with its fate,
//! the partition bands at their exact bounds, and the acks that really formed each
//! commit quorum; its Mermaid twin has one arrow line per shown message.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use ksim_tests::snapshot::assert_snapshot;
use raft::events::MessageFields;
use reports::model::{Fate, MessageRecord};
use reports::sequence::{self, Sequence};
use reports::{RunModel, Window};
use scenarios::runner::run_scenario;
use sim_core::DropReason;

fn model(scenario: &'static str) -> &'static RunModel {
    static QUORUM: OnceLock<RunModel> = OnceLock::new();
    static PARTITION: OnceLock<RunModel> = OnceLock::new();
    let cell = match scenario {
        "quorum-write" => &QUORUM,
        "partition-5node" => &PARTITION,
        other => panic!("no cached run for {other}"),
    };
    cell.get_or_init(|| {
        let run = run_scenario(scenario, 1, "", &[]).unwrap();
        RunModel::new(&run.trace, &run.history)
    })
}

/// The partition-5node window: 100 ms before the partition to 700 ms after it.
fn partition_window(model: &RunModel) -> Window {
    let start = model.partitions[0].start_us;
    Window {
        from_us: Some(start - 100_000),
        to_us: Some(start + 700_000),
        nodes: None,
    }
}

/// The opening tags of the elements whose class starts with `class`.
fn elements<'a>(svg: &'a str, class: &str) -> Vec<&'a str> {
    let needle = format!(r#"<g class="{class}"#);
    svg.match_indices(&needle)
        .map(|(i, _)| {
            let end = svg[i..].find('>').unwrap();
            &svg[i..i + end]
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!(r#" {name}=""#);
    let start = tag.find(&needle)? + needle.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The markup of message `id`: from its group's opening tag to the next message's (the
/// arrows are written one after another).
fn message_element(svg: &str, id: u64) -> &str {
    let needle = format!(r#" data-msg="{id}""#);
    let at = svg
        .find(&needle)
        .unwrap_or_else(|| panic!("no arrow for m{id}"));
    let start = svg[..at].rfind("<g ").unwrap();
    let end = svg[at + needle.len()..]
        .find(" data-msg=\"")
        .map_or(svg.len(), |e| at + needle.len() + e);
    &svg[start..end]
}

/// Messages the diagram must show: sent in the window, both ends on a lifeline.
fn expected<'a>(model: &'a RunModel, seq: &Sequence) -> Vec<&'a MessageRecord> {
    model
        .messages
        .iter()
        .filter(|m| seq.from_us <= m.sent_us && m.sent_us <= seq.to_us)
        .filter(|m| seq.nodes.contains(&m.from) && seq.nodes.contains(&m.to))
        .collect()
}

fn renders() -> Vec<(&'static RunModel, Sequence)> {
    let q = model("quorum-write");
    let p = model("partition-5node");
    let restricted = Window {
        nodes: Some(vec![
            sim_core::NodeId(1),
            sim_core::NodeId(2),
            sim_core::NodeId(3),
        ]),
        ..partition_window(p)
    };
    vec![
        (q, sequence::render(q, &Window::default())),
        (p, sequence::render(p, &Window::default())),
        (p, sequence::render(p, &partition_window(p))),
        (p, sequence::render(p, &restricted)),
    ]
}

#[test]
fn quorum_write_default_window_snapshot() {
    let m = model("quorum-write");
    let seq = sequence::render(m, &Window::default());
    assert!(seq.arrows > 0 && seq.arrows <= sequence::DEFAULT_MAX_ARROWS + 8);
    assert!(
        seq.svg.contains("client-write"),
        "the write path is in the window"
    );
    assert_eq!(
        seq,
        sequence::render(m, &Window::default()),
        "deterministic"
    );
    assert_snapshot("sequence-quorum-write-seed1.svg", &seq.svg);
    assert_snapshot("sequence-quorum-write-seed1.mmd", &seq.mermaid);
}

#[test]
fn partition_window_across_the_partition_start_snapshot() {
    let m = model("partition-5node");
    let seq = sequence::render(m, &partition_window(m));
    assert_snapshot("sequence-partition-5node-seed1.svg", &seq.svg);
    assert_snapshot("sequence-partition-5node-seed1.mmd", &seq.mermaid);
}

#[test]
fn every_message_in_the_window_has_exactly_one_arrow() {
    for (model, seq) in renders() {
        let want: BTreeSet<u64> = expected(model, &seq).iter().map(|m| m.id.0).collect();
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for tag in elements(&seq.svg, "msg") {
            *seen
                .entry(attr(tag, "data-msg").unwrap().parse().unwrap())
                .or_default() += 1;
        }
        assert_eq!(
            seq.svg.matches(" data-msg=\"").count(),
            seen.values().sum::<usize>()
        );
        assert!(seen.values().all(|n| *n == 1), "an arrow drawn twice");
        let got: BTreeSet<u64> = seen.keys().copied().collect();
        assert_eq!(got, want, "{}", seq.note);
        assert_eq!(seq.arrows, want.len());
        assert!(!want.is_empty());
    }
}

#[test]
fn dropped_messages_end_in_a_cross_with_their_reason() {
    let mut crosses = 0;
    for (model, seq) in renders() {
        for m in expected(model, &seq) {
            let element = message_element(&seq.svg, m.id.0);
            match m.fate {
                Fate::Dropped { t_us, reason, .. }
                    if t_us <= seq.to_us && reason != DropReason::RunEnded =>
                {
                    assert!(element.contains(r#"data-fate="dropped""#), "{element}");
                    let want = format!(r#"data-reason="{}""#, reason.as_str());
                    assert!(element.contains(&want), "{element}");
                    assert!(element.contains(r#"<g class="cross">"#), "{element}");
                    crosses += 1;
                }
                Fate::Delivered { t_us, .. } if t_us <= seq.to_us => {
                    assert!(element.contains(r#"data-fate="delivered""#), "{element}");
                    assert!(!element.contains("class=\"cross\""), "{element}");
                }
                _ => assert!(element.contains(r#"data-fate="in-flight""#), "{element}"),
            }
        }
    }
    assert!(crosses > 0, "the partition drops messages in its window");
}

#[test]
fn partition_periods_in_the_window_have_a_band_with_exact_bounds() {
    let mut bands = 0;
    for (model, seq) in renders() {
        let drawn: BTreeSet<(u64, u64)> = elements(&seq.svg, "band partition")
            .iter()
            .map(|tag| {
                (
                    attr(tag, "data-start-us").unwrap().parse().unwrap(),
                    attr(tag, "data-end-us").unwrap().parse().unwrap(),
                )
            })
            .collect();
        let want: BTreeSet<(u64, u64)> = model
            .partitions
            .iter()
            .filter(|p| p.start_us <= seq.to_us && p.end_us >= seq.from_us)
            .map(|p| (p.start_us, p.end_us))
            .collect();
        assert_eq!(drawn, want, "{}", seq.note);
        bands += drawn.len();
    }
    assert!(bands > 0);
}

/// `append-entries-resp` accepted match index and term, read from the message's typed
/// fields here rather than through the diagram's own helpers.
fn accepted_match(m: &MessageRecord) -> Option<(u64, u64)> {
    match m.fields.as_ref()?.get::<MessageFields>()? {
        MessageFields::AppendAccepted { term, match_index } => Some((*term, *match_index)),
        _ => None,
    }
}

#[test]
fn highlighted_quorum_acks_were_delivered_before_the_commit_and_make_a_majority() {
    let mut checked = 0;
    for (model, seq) in renders() {
        let majority = model.servers.len() / 2 + 1;
        let by_id: BTreeMap<u64, &MessageRecord> =
            model.messages.iter().map(|m| (m.id.0, m)).collect();
        let mut acks_listed = BTreeSet::new();
        for tag in elements(&seq.svg, "commit") {
            let leader = attr(tag, "data-node").unwrap();
            let index: u64 = attr(tag, "data-index").unwrap().parse().unwrap();
            let term: u64 = attr(tag, "data-term").unwrap().parse().unwrap();
            let t_us: u64 = attr(tag, "data-t-us").unwrap().parse().unwrap();
            let acks: Vec<u64> = attr(tag, "data-acks")
                .unwrap()
                .split_whitespace()
                .map(|a| a.parse().unwrap())
                .collect();
            let mut voters = BTreeSet::from([leader.to_string()]);
            for id in &acks {
                let m = by_id[id];
                assert_eq!(m.to.to_string(), leader);
                assert_eq!(m.kind, "append-entries-resp");
                let (ack_term, matched) = accepted_match(m).expect("an accepting ack");
                assert_eq!(ack_term, term);
                assert!(matched >= index, "{}", m.detail);
                match m.fate {
                    Fate::Delivered { t_us: at, .. } => assert!(at <= t_us),
                    other => panic!("ack m{id} not delivered: {other:?}"),
                }
                voters.insert(m.from.to_string());
                acks_listed.insert(*id);
            }
            let claims_majority = attr(tag, "data-majority") == Some("true");
            assert_eq!(claims_majority, voters.len() >= majority, "{tag}");
            // Correct Raft never commits without a majority.
            assert!(claims_majority, "{tag}");
            checked += 1;
        }
        // Every highlighted arrow is an ack of a drawn commit, and vice versa when shown.
        let highlighted: BTreeSet<u64> = elements(&seq.svg, "msg quorum-ack")
            .iter()
            .map(|tag| attr(tag, "data-msg").unwrap().parse().unwrap())
            .collect();
        let shown: BTreeSet<u64> = expected(model, &seq).iter().map(|m| m.id.0).collect();
        let listed_and_shown: BTreeSet<u64> = acks_listed.intersection(&shown).copied().collect();
        assert_eq!(highlighted, listed_and_shown, "{}", seq.note);
    }
    assert!(checked > 0, "the windows hold commits");
}

/// `a #59; b` -> `a  b`: Mermaid entity codes removed.
fn without_entities(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('#') {
        out.push_str(&rest[..at]);
        let code = &rest[at + 1..];
        match code.find(';') {
            Some(end) if end > 0 && code[..end].chars().all(|c| c.is_ascii_alphanumeric()) => {
                rest = &code[end + 1..];
            }
            _ => {
                out.push('#');
                rest = code;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn mermaid_has_one_arrow_line_per_shown_message_and_the_lifelines_as_participants() {
    for (model, seq) in renders() {
        let text = &seq.mermaid;
        assert!(text.starts_with("sequenceDiagram\n"));
        let participants: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("participant "))
            .map(|p| p.split_whitespace().next().unwrap().to_string())
            .collect();
        let lifelines: Vec<String> = seq.nodes.iter().map(|n| n.to_string()).collect();
        assert_eq!(participants, lifelines);
        let arrows: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                let head = l.split(':').next().unwrap_or("");
                head.contains("->>") || head.contains("-x") || head.contains("-)")
            })
            .collect();
        let want = expected(model, &seq);
        assert_eq!(arrows.len(), want.len());
        // In send order, each line names its message's ends.
        for (line, m) in arrows.iter().zip(&want) {
            assert!(line.starts_with(&m.from.to_string()), "{line} vs {m:?}");
            let head = line.split(':').next().unwrap();
            assert!(head.ends_with(&m.to.to_string()), "{line} vs {m:?}");
            let dropped = matches!(m.fate, Fate::Dropped { t_us, reason, .. }
                if t_us <= seq.to_us && reason != DropReason::RunEnded);
            assert_eq!(head.contains("-x"), dropped, "{line}");
        }
        // Nothing Mermaid would read as a statement break or an entity start.
        for line in text.lines().skip(1) {
            let body = line.split_once(':').map_or("", |(_, b)| b);
            assert!(
                !without_entities(body).contains([';', '#', '<', '>', '{', '}']),
                "{line}"
            );
        }
        let opens = text
            .lines()
            .filter(|l| l.trim().starts_with("rect "))
            .count();
        let ends = text.lines().filter(|l| l.trim() == "end").count();
        assert_eq!(opens, ends);
    }
}

#[test]
fn lifelines_follow_the_window_nodes_servers_first() {
    let p = model("partition-5node");
    let only = vec![
        sim_core::NodeId(6),
        sim_core::NodeId(2),
        sim_core::NodeId(4),
    ];
    let seq = sequence::render(
        p,
        &Window {
            nodes: Some(only.clone()),
            ..partition_window(p)
        },
    );
    let mut want = only.clone();
    want.sort();
    let got: BTreeSet<_> = seq.nodes.iter().copied().collect();
    assert_eq!(got, want.into_iter().collect());
    let first_client = seq.nodes.iter().position(|n| p.clients.contains(n));
    let last_server = seq.nodes.iter().rposition(|n| p.servers.contains(n));
    assert!(last_server < first_client);
    for tag in elements(&seq.svg, "msg") {
        for end in ["data-from", "data-to"] {
            let node: sim_core::NodeId = attr(tag, end).unwrap().parse().unwrap();
            assert!(only.contains(&node));
        }
    }
}
