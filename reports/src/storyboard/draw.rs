//! The storyboard's SVG: the page with its three panels, and in each the sides, the cut,
//! the links across it, the quorum labels and any conflicting commits.

use std::collections::BTreeMap;

use sim_core::NodeId;

use super::layout::{layout, Layout};
use super::server::server;
use super::{GroupQuorum, Panel, PANEL_GAP_PX, PANEL_PX, TITLE_PX};
use crate::model::{node_set, PartitionPeriod, RunModel};
use crate::svg::{escape, num, Svg};

fn seconds(t_us: u64) -> String {
    format!("{}.{:03} s", t_us / 1_000_000, (t_us % 1_000_000) / 1000)
}

pub(super) fn draw(model: &RunModel, period: &PartitionPeriod, panels: &[Panel]) -> String {
    let groups: Vec<Vec<NodeId>> = panels
        .first()
        .map(|p| p.groups.iter().map(|g| g.nodes.clone()).collect())
        .unwrap_or_default();
    let lay = layout(model, &groups);
    let max_conflicts = panels.iter().map(conflict_lines).max().unwrap_or(0);
    // From the panel's top edge to its bottom edge.
    let panel_h = lay.bottom - TITLE_PX + 24.0 + max_conflicts as f64 * 16.0;
    let width = panels.len() as f64 * (PANEL_PX + PANEL_GAP_PX) - PANEL_GAP_PX + 24.0;
    let height = TITLE_PX + panel_h + 12.0;
    let mut svg = Svg::new(width, height);
    svg.text(
        12.0,
        24.0,
        &format!(
            "Partition storyboard · seed {} · partition {} from {} to {}",
            model.seed,
            period.label,
            seconds(period.start_us),
            seconds(period.end_us)
        ),
        r#"font-size="16" font-weight="bold""#,
    );
    svg.text(
        12.0,
        44.0,
        &format!(
            "A side can elect a leader and commit only with a quorum: a majority ({} of {}) of all servers.",
            model.servers.len() / 2 + 1,
            model.servers.len()
        ),
        r##"fill="#444""##,
    );
    for (i, p) in panels.iter().enumerate() {
        let x0 = 12.0 + i as f64 * (PANEL_PX + PANEL_GAP_PX);
        if i > 0 {
            let y = TITLE_PX + panel_h / 2.0;
            svg.raw(&format!(
                r##"<polygon points="{},{} {},{} {},{}" fill="#999"/>"##,
                num(x0 - 30.0),
                num(y - 10.0),
                num(x0 - 12.0),
                num(y),
                num(x0 - 30.0),
                num(y + 10.0)
            ));
        }
        svg.raw(&format!(
            r#"<g class="panel" data-title="{}" data-t-us="{}" transform="translate({},0)">"#,
            escape(&p.title),
            p.t_us,
            num(x0)
        ));
        draw_panel(&mut svg, model, &lay, p, panel_h);
        svg.raw("</g>");
    }
    svg.finish()
}

fn draw_panel(svg: &mut Svg, model: &RunModel, lay: &Layout, p: &Panel, panel_h: f64) {
    let top = TITLE_PX;
    svg.rect(
        0.0,
        top,
        PANEL_PX,
        panel_h,
        r##"rx="8" fill="#fafbfc" stroke="#ccd""##,
    );
    svg.text(
        12.0,
        top + 22.0,
        &p.heading,
        r#"font-size="14" font-weight="bold""#,
    );
    svg.text(
        PANEL_PX - 12.0,
        top + 22.0,
        &format!("t = {}", seconds(p.t_us)),
        r##"text-anchor="end" fill="#555""##,
    );
    let leaders_text = match p.leaders.as_slice() {
        [] => "no leader".to_string(),
        [(n, t)] => format!("leader {} (term {t})", model.name(*n)),
        many => format!(
            "{} LEADERS: {}",
            many.len(),
            many.iter()
                .map(|(n, t)| format!("{} t{t}", model.name(*n)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    svg.text(
        12.0,
        top + 42.0,
        &leaders_text,
        if p.leaders.len() > 1 {
            r##"fill="#c0392b" font-weight="bold""##
        } else {
            r##"fill="#333""##
        },
    );

    // Links: every pair of nodes that talk (servers with servers, clients with servers).
    let nodes: Vec<NodeId> = lay.at.keys().copied().collect();
    let group_of = |n: NodeId| p.groups.iter().position(|g| g.nodes.contains(&n));
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            let (sa, sb) = (model.servers.contains(a), model.servers.contains(b));
            if !sa && !sb {
                continue;
            }
            let (pa, pb) = (lay.at[a], lay.at[b]);
            let across = group_of(*a) != group_of(*b);
            if p.cut && across {
                svg.raw(&format!(
                    r#"<g class="link cut" data-from="{a}" data-to="{b}">"#
                ));
                svg.line(
                    pa.0,
                    pa.1,
                    pb.0,
                    pb.1,
                    r##"stroke="#e74c3c" stroke-width="1.2" stroke-dasharray="5 4" stroke-opacity="0.7""##,
                );
                // The ✕ where the link crosses the cut.
                let cut_x = lay
                    .cuts_x
                    .iter()
                    .copied()
                    .find(|x| (pa.0.min(pb.0)..=pa.0.max(pb.0)).contains(x))
                    .unwrap_or((pa.0 + pb.0) / 2.0);
                let f = if (pb.0 - pa.0).abs() < 1.0 {
                    0.5
                } else {
                    (cut_x - pa.0) / (pb.0 - pa.0)
                };
                let (cx, cy) = (cut_x, pa.1 + (pb.1 - pa.1) * f);
                let attrs = r##"stroke="#c0392b" stroke-width="2.2""##;
                svg.line(cx - 4.0, cy - 4.0, cx + 4.0, cy + 4.0, attrs);
                svg.line(cx - 4.0, cy + 4.0, cx + 4.0, cy - 4.0, attrs);
                svg.raw("</g>");
            } else {
                let colour = if sa && sb { "#b8c4d6" } else { "#cfe3cf" };
                svg.line(
                    pa.0,
                    pa.1,
                    pb.0,
                    pb.1,
                    &format!(r#"class="link" stroke="{colour}" stroke-width="1.2""#),
                );
            }
        }
    }

    // The cut, and each side's quorum.
    if p.cut {
        for x in &lay.cuts_x {
            svg.line(
                *x,
                top + 52.0,
                *x,
                top + panel_h - 16.0 - 16.0 * conflict_lines(p) as f64,
                r##"class="cut" stroke="#c0392b" stroke-width="3" stroke-dasharray="10 6""##,
            );
        }
        for (g, x) in p.groups.iter().zip(&lay.columns_x) {
            quorum_label(svg, g, *x, top + 70.0);
        }
    } else {
        let up: usize = p.groups.iter().map(|g| g.servers_up).sum();
        let total = model.servers.len();
        let whole = GroupQuorum {
            nodes: Vec::new(),
            servers_up: up,
            servers_total: total,
            quorum: up > total / 2,
        };
        quorum_label(svg, &whole, PANEL_PX / 2.0, top + 70.0);
    }

    // Conflicting committed entries, by node.
    let mut conflict_of: BTreeMap<NodeId, String> = BTreeMap::new();
    if let Some(c) = p.conflicts.first() {
        for (entry, holders) in &c.values {
            for n in holders {
                conflict_of.insert(
                    *n,
                    format!("@{}: t{} #{} ✕", c.index, entry.term, entry.digest),
                );
            }
        }
    }

    for card in &p.servers {
        let Some(&(x, y)) = lay.at.get(&card.node) else {
            continue;
        };
        server(
            svg,
            model,
            p,
            card,
            (x, y),
            lay.text_left[&card.node],
            conflict_of.get(&card.node),
        );
    }
    for n in &model.clients {
        let Some(&(x, y)) = lay.at.get(n) else {
            continue;
        };
        svg.raw(&format!(r#"<g class="client" data-node="{n}">"#));
        svg.rect(
            x - 11.0,
            y - 11.0,
            22.0,
            22.0,
            r##"rx="4" fill="#eef7ee" stroke="#4a8f4a""##,
        );
        let left = lay.text_left[n];
        svg.text(
            if left { x - 17.0 } else { x + 17.0 },
            y + 4.0,
            &model.name(*n).to_string(),
            if left {
                r##"text-anchor="end" fill="#2e7d32""##
            } else {
                r##"fill="#2e7d32""##
            },
        );
        svg.raw("</g>");
    }

    // Conflicts, spelled out at the bottom.
    let mut y = top + panel_h - 8.0 - 16.0 * (conflict_lines(p) as f64 - 1.0);
    for c in p.conflicts.iter().take(3) {
        let values: Vec<String> = c
            .values
            .iter()
            .map(|(e, nodes)| {
                format!(
                    "t{} #{} {}",
                    e.term,
                    e.digest,
                    node_set(nodes, &model.directory)
                )
            })
            .collect();
        svg.raw(&format!(r#"<g class="conflict" data-index="{}">"#, c.index));
        svg.text(
            12.0,
            y,
            &format!(
                "✕ index {} committed twice: {}",
                c.index,
                values.join(" ≠ ")
            ),
            r##"fill="#c0392b" font-weight="bold" font-size="11""##,
        );
        svg.raw("</g>");
        y += 16.0;
    }
    if p.conflicts.len() > 3 {
        svg.text(
            12.0,
            y,
            &format!(
                "… {} conflicting indexes in all: a split brain (two leaders committed)",
                p.conflicts.len()
            ),
            r##"fill="#c0392b" font-size="11""##,
        );
    }
}

/// Lines of conflict text under a panel: up to three indexes and a total.
fn conflict_lines(p: &Panel) -> usize {
    p.conflicts.len().min(3) + usize::from(p.conflicts.len() > 3)
}

fn quorum_label(svg: &mut Svg, g: &GroupQuorum, x: f64, y: f64) {
    let (text, colour) = if g.quorum {
        (
            format!("quorum {}/{} ✓", g.servers_up, g.servers_total),
            "#1e8449",
        )
    } else {
        (
            format!("no quorum {}/{} ✗", g.servers_up, g.servers_total),
            "#c0392b",
        )
    };
    svg.raw(&format!(
        r#"<g class="quorum" data-quorum="{}" data-up="{}" data-total="{}">"#,
        g.quorum, g.servers_up, g.servers_total
    ));
    let w = text.chars().count() as f64 * 7.6 + 16.0;
    svg.rect(
        x - w / 2.0,
        y - 14.0,
        w,
        20.0,
        &format!(r#"rx="10" fill="white" stroke="{colour}" stroke-width="1.5""#),
    );
    svg.text(
        x,
        y + 1.0,
        &text,
        &format!(r#"text-anchor="middle" fill="{colour}" font-weight="bold""#),
    );
    svg.raw("</g>");
}
