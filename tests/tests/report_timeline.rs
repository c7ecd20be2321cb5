//! The timeline picture: a snapshot for a fixed run, and structural checks read back from
//! the SVG (every fault band at its exact time, a label per lane, a valid PNG of the
//! declared size, byte-identical output for the same input, bounded output for huge runs).

use std::collections::BTreeMap;

use ksim_tests::snapshot::assert_snapshot;
use raft::core::Role;
use reports::model::{CommitPoint, OpEnd, OpRecord, RoleSpan};
use reports::timeline::{fault_colour, render, svg_hex, MAX_OP_POINTS};
use reports::{RunModel, TimeAxis};
use scenarios::runner::run_scenario;
use sim_core::{EventId, NodeId, OpId};

fn model(scenario: &str, seed: u64) -> RunModel {
    let run = run_scenario(scenario, seed, "", &[]).expect("the scenario runs");
    RunModel::new(&run.trace, &run.history)
}

/// One SVG element as plotters writes it: its attributes and its text content.
struct Element {
    attrs: BTreeMap<String, String>,
    text: String,
}

impl Element {
    fn num(&self, name: &str) -> f64 {
        self.attrs[name].parse().expect("a numeric attribute")
    }
}

/// Every `<tag ...>` of the document (plotters writes one attribute list per tag, with
/// double-quoted values, and text content on the lines after `<text>`).
fn elements(svg: &str, tag: &str) -> Vec<Element> {
    let open = format!("<{tag} ");
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find('>').expect("a closed tag");
        let mut attrs = BTreeMap::new();
        let mut list = after[..end].trim_end_matches('/');
        while let Some(eq) = list.find("=\"") {
            let name = list[..eq].trim().to_string();
            let value_end = list[eq + 2..].find('"').expect("a quoted value");
            attrs.insert(name, list[eq + 2..eq + 2 + value_end].to_string());
            list = &list[eq + 2 + value_end + 1..];
        }
        let body = &after[end + 1..];
        let text = if tag == "text" {
            body[..body.find("</text>").expect("closed text")]
                .trim()
                .to_string()
        } else {
            String::new()
        };
        out.push(Element { attrs, text });
        rest = &after[end..];
    }
    out
}

/// The pixel column plotters draws an instant at: it floors the exact position, with a
/// small epsilon (`plotters::coord::ranged1d` numeric `map`).
fn column(axis: &TimeAxis, t_us: u64) -> i64 {
    (axis.x_of(t_us) + 1e-3).floor() as i64
}

fn check_fault_bands(model: &RunModel) {
    let timeline = render(model, "test", false).unwrap();
    let axis = timeline.axis;
    let rects = elements(&timeline.svg, "rect");
    let lines = elements(&timeline.svg, "polyline");
    assert!(!model.faults.is_empty(), "the run has faults to draw");
    for span in &model.faults {
        let colour = svg_hex(fault_colour(span.kind));
        let (x0, x1) = (column(&axis, span.start_us), column(&axis, span.end_us));
        if span.end_us > span.start_us {
            let band = rects.iter().find(|r| {
                r.attrs["fill"] == colour
                    && r.num("x") as i64 == x0
                    && (r.num("x") + r.num("width")) as i64 == x1
            });
            assert!(
                band.is_some(),
                "no band for {} from {} to {} us (x {x0}..{x1}, fill {colour})",
                span.label,
                span.start_us,
                span.end_us
            );
        } else {
            let marker = lines.iter().find(|l| {
                l.attrs["stroke"] == colour
                    && l.attrs["points"]
                        .split_whitespace()
                        .all(|p| p.split(',').next() == Some(&x0.to_string()))
            });
            assert!(
                marker.is_some(),
                "no marker line for {} at x {x0}",
                span.label
            );
        }
        let labelled = elements(&timeline.svg, "text")
            .iter()
            .any(|t| t.text == span.label);
        assert!(labelled, "no label `{}`", span.label);
    }
}

#[test]
fn partition_5node_seed_1_matches_its_snapshot() {
    let timeline = render(
        &model("partition-5node", 1),
        "partition-5node seed 1",
        false,
    )
    .unwrap();
    assert!(
        timeline.svg.len() < 300_000,
        "snapshot too big: {}",
        timeline.svg.len()
    );
    assert_snapshot("timeline-partition-5node-seed1.svg", &timeline.svg);
}

#[test]
fn every_fault_span_has_a_band_at_its_exact_time() {
    // A partition (network-wide band), then a kill (a node band) and a restart (an
    // instantaneous marker).
    check_fault_bands(&model("partition-5node", 1));
    check_fault_bands(&model("leader-crash", 1));
}

#[test]
fn every_server_has_a_lane_label_inside_the_lanes_panel() {
    let model = model("partition-5node", 1);
    let timeline = render(&model, "test", false).unwrap();
    let axis = timeline.axis;
    assert!(axis.left_px < axis.right_px && axis.right_px <= axis.width_px);
    assert!(axis.top_px < axis.bottom_px && axis.bottom_px <= axis.height_px);
    assert_eq!((axis.start_us, axis.end_us), (0, model.end_us));
    let texts = elements(&timeline.svg, "text");
    assert_eq!(model.servers.len(), 5);
    for node in &model.servers {
        let label = texts.iter().find(|t| {
            t.text == model.name(*node).to_string()
                && t.num("x") < axis.left_px
                && (axis.top_px..axis.bottom_px).contains(&t.num("y"))
        });
        assert!(label.is_some(), "no lane label for {}", model.name(*node));
    }
}

#[test]
fn the_png_is_a_png_of_the_declared_size_and_rendering_is_deterministic() {
    let model = model("leader-crash", 1);
    let a = render(&model, "leader-crash seed 1", true).unwrap();
    let b = render(&model, "leader-crash seed 1", true).unwrap();
    assert_eq!(a.svg, b.svg);
    let png = a.png.as_deref().expect("asked for a PNG");
    assert_eq!(
        Some(png),
        b.png.as_deref(),
        "PNG bytes differ between renders"
    );
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(
        (f64::from(width), f64::from(height)),
        (a.axis.width_px, a.axis.height_px)
    );
    assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
    let svg_root = elements(&a.svg, "svg");
    assert_eq!(svg_root[0].num("width"), a.axis.width_px);
    assert_eq!(svg_root[0].num("height"), a.axis.height_px);
}

/// A 600 s model with 200 000 operations and a commit point every millisecond: the
/// picture must stay bounded and say that it sampled.
fn huge_model() -> RunModel {
    let servers: Vec<NodeId> = (1..=5).map(NodeId).collect();
    let end_us = 600_000_000;
    let mut model = RunModel {
        seed: 9,
        nodes: servers.clone(),
        servers: servers.clone(),
        end_us,
        ..RunModel::default()
    };
    for (i, node) in servers.iter().enumerate() {
        model.roles.push(RoleSpan {
            node: *node,
            role: if i == 0 { Role::Leader } else { Role::Follower },
            term: 1,
            leader: Some(servers[0]),
            start_us: 0,
            end_us,
            start_event: EventId(0),
        });
        let points = (0..600_000u64)
            .map(|k| CommitPoint {
                t_us: k * 1000,
                index: k,
                term: 1,
                event: EventId(k),
            })
            .collect();
        model.commits.insert(*node, points);
    }
    model.ops = (0..200_000u64)
        .map(|k| OpRecord {
            op: OpId(k),
            client: NodeId(9),
            f: "put".into(),
            key: None,
            argument: serde_json::Value::Null,
            result: None,
            invoke_us: k * 3000,
            complete_us: Some(k * 3000 + 2000 + k % 7 * 1000),
            end: if k % 50 == 0 { OpEnd::Fail } else { OpEnd::Ok },
        })
        .collect();
    model
}

#[test]
fn a_huge_run_is_sampled_and_says_so() {
    let timeline = render(&huge_model(), "huge", false).unwrap();
    let circles = elements(&timeline.svg, "circle").len();
    // Sampled operations, plus the legend's three dots.
    assert!(circles <= MAX_OP_POINTS + 3, "{circles} circles");
    assert!(circles > MAX_OP_POINTS / 2, "{circles} circles");
    assert!(
        timeline.svg.contains("(operations: 1 in 50 drawn)"),
        "the title names the sampling"
    );
    assert!(
        timeline.svg.len() < 2_000_000,
        "{} bytes",
        timeline.svg.len()
    );
}
