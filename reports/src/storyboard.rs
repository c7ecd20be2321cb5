//! The partition storyboard: three snapshots of the cluster around the run's first
//! network partition, side by side, so a student sees what a partition does to Raft
//! without reading a single message.
//!
//! 1. **before**: the instant before the partition begins: one leader, every link up.
//! 2. **during**: the instant before the heal, when both sides have settled: the sides
//!    drawn apart with a red cut, the links across it dashed and crossed out, each side
//!    labelled with whether it holds a quorum (a majority of *all* servers, counted among
//!    its running servers). Correct Raft leads and commits only on a quorum side.
//! 3. **after**: once, after the heal, a single leader is followed by every running
//!    server and all of them have caught up to the commit index it had then (or the end
//!    of the run, if that never happens).
//!
//! Nodes keep their positions in all three panels (arranged by the partition's groups),
//! so the eye follows a node across them. Each server shows its role and term (the
//! leader ringed, "leader t5"), its commit index and the entry there (term and digest:
//! "commit 57 · t3 #ab12cd34"); down and paused nodes are grey. Clients are small squares
//! on their side. When two servers hold *different* committed entries at the same index,
//! which correct Raft never allows, the panel marks the index and both values in red:
//! that is the split brain the planted bug `quorum-of-reachable` produces.
//!
//! The states come from [`crate::state::states_at`], the leaders from the role spans of
//! [`RunModel`]; the two agree (tested), so the picture says what the trace says.

use std::collections::BTreeMap;

use raft::core::Role;
use raft::events::EntryRef;
use sim_core::{NodeId, Trace};

use crate::model::{node_set, PartitionPeriod, RunModel};
use crate::palette;
use crate::state::{states_at, Liveness, NodeState};
use crate::svg::{escape, num, Svg};

/// Width of one panel.
const PANEL_PX: f64 = 520.0;
/// Space between panels (an arrow goes there).
const PANEL_GAP_PX: f64 = 40.0;
/// Height of the page title.
const TITLE_PX: f64 = 56.0;
/// Vertical distance between two servers of a group.
const ROW_PX: f64 = 74.0;
/// Radius of a server's circle.
const NODE_R_PX: f64 = 20.0;
/// The rendered storyboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Storyboard {
    /// The SVG document.
    pub svg: String,
    /// The panels, before / during / after.
    pub panels: Vec<Panel>,
}

/// One snapshot of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panel {
    /// `before`, `during` or `after`.
    pub title: String,
    /// The heading drawn on the panel.
    pub heading: String,
    /// The instant shown (the state after every event at or before it).
    pub t_us: u64,
    /// The leaders then, with their terms, in node order.
    pub leaders: Vec<(NodeId, u64)>,
    /// Whether the partition's cut is in force in this panel.
    pub cut: bool,
    /// Each side of the partition, as drawn (servers and clients).
    pub groups: Vec<GroupQuorum>,
    /// Every server's state then.
    pub servers: Vec<ServerCard>,
    /// Indexes at which servers hold different committed entries.
    pub conflicts: Vec<Conflict>,
}

/// One side of the partition and whether it can form a quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupQuorum {
    /// Its nodes (servers, then clients).
    pub nodes: Vec<NodeId>,
    /// Its running servers.
    pub servers_up: usize,
    /// All servers of the cluster.
    pub servers_total: usize,
    /// Whether `servers_up` is a majority of `servers_total`.
    pub quorum: bool,
}

/// What a server believed at the panel's instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCard {
    /// The server.
    pub node: NodeId,
    /// Running, down or paused.
    pub liveness: Liveness,
    /// Its role, if it had one.
    pub role: Option<Role>,
    /// Its term.
    pub term: u64,
    /// Its commit index.
    pub commit: u64,
    /// The entry at its commit index, if its log still holds it.
    pub committed: Option<EntryRef>,
}

/// Servers that committed different entries at the same index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The index.
    pub index: u64,
    /// Each distinct committed entry there, with the servers that hold it.
    pub values: Vec<(EntryRef, Vec<NodeId>)>,
}

/// Draws the storyboard of the run's first partition; `None` if the network was never
/// partitioned (a period with groups; single cut links have no sides to draw).
pub fn render(model: &RunModel, trace: &Trace) -> Option<Storyboard> {
    let period = model.partitions.iter().find(|p| !p.groups.is_empty())?;
    let (after_us, settled) = after_instant(model, period);
    let times = [
        (
            "before",
            "1 · before the partition",
            period.start_us.saturating_sub(1),
            false,
        ),
        (
            "during",
            "2 · during: just before the heal",
            period.end_us.saturating_sub(1).max(period.start_us),
            true,
        ),
        (
            "after",
            if settled {
                "3 · after the heal: one leader, caught up"
            } else {
                "3 · after the heal: the run's end (never settled)"
            },
            after_us,
            false,
        ),
    ];
    let panels: Vec<Panel> = times
        .iter()
        .map(|(title, heading, t_us, cut)| {
            let mut p = panel(model, trace, period, title, *t_us, *cut);
            p.heading = heading.to_string();
            p
        })
        .collect();
    let svg = draw(model, period, &panels);
    Some(Storyboard { svg, panels })
}

/// The instant of the "after" panel: the first moment after the heal when one leader is
/// followed by every running server and all of them have reached the commit index the
/// leader had when that began; the end of the run if never (then `false`).
fn after_instant(model: &RunModel, period: &PartitionPeriod) -> (u64, bool) {
    let heal = period.end_us;
    // Candidate instants: role changes and commits after the heal.
    let mut instants: Vec<u64> = model
        .roles
        .iter()
        .map(|r| r.start_us)
        .chain(model.commits.values().flatten().map(|c| c.t_us))
        .filter(|t| *t >= heal)
        .collect();
    instants.sort_unstable();
    instants.dedup();
    let up_at = |node: NodeId, t: u64| {
        !model
            .outages
            .iter()
            .any(|o| o.node == node && o.start_us <= t && t < o.end_us)
    };
    let settled = instants.iter().copied().find(|t| {
        let leaders = model.leaders_at(*t);
        let [(leader, term)] = leaders.as_slice() else {
            return false;
        };
        model.servers.iter().filter(|n| up_at(**n, *t)).all(|n| {
            model
                .role_at(*n, *t)
                .is_some_and(|r| r.term == *term && (n == leader || r.leader == Some(*leader)))
        })
    });
    // The run's last instant inside every open span (spans are half-open).
    let last = model.end_us.saturating_sub(1).max(heal);
    let Some(settled) = settled else {
        return (last, false);
    };
    let leader = model.leaders_at(settled)[0].0;
    let target = model.commit_at(leader, settled);
    let caught_up = instants
        .iter()
        .copied()
        .filter(|t| *t >= settled)
        .find(|t| {
            model
                .servers
                .iter()
                .filter(|n| up_at(**n, *t))
                .all(|n| model.commit_at(*n, *t) >= target)
        });
    caught_up.map_or((last, false), |t| (t, true))
}

fn panel(
    model: &RunModel,
    trace: &Trace,
    period: &PartitionPeriod,
    title: &str,
    t_us: u64,
    cut: bool,
) -> Panel {
    let states = states_at(&trace.events, &model.nodes, t_us);
    let blank = NodeState::default();
    let servers: Vec<ServerCard> = model
        .servers
        .iter()
        .map(|n| {
            let s = states.get(n).unwrap_or(&blank);
            ServerCard {
                node: *n,
                liveness: s.liveness,
                role: s.role,
                term: s.term,
                commit: s.commit,
                committed: s.committed_entry().cloned(),
            }
        })
        .collect();
    let total = model.servers.len();
    let groups = sides(model, period)
        .into_iter()
        .map(|nodes| {
            let servers_up = nodes
                .iter()
                .filter(|n| {
                    model.servers.contains(n)
                        && states.get(n).is_none_or(|s| s.liveness == Liveness::Up)
                })
                .count();
            GroupQuorum {
                nodes,
                servers_up,
                servers_total: total,
                quorum: servers_up > total / 2,
            }
        })
        .collect();
    Panel {
        title: title.to_string(),
        heading: String::new(),
        t_us,
        leaders: model.leaders_at(t_us),
        cut,
        groups,
        servers,
        conflicts: conflicts(model, &states),
    }
}

/// The partition's groups, servers first in each, then the nodes no group names (they
/// reach everybody) as a last group of their own.
fn sides(model: &RunModel, period: &PartitionPeriod) -> Vec<Vec<NodeId>> {
    let order = |group: &[NodeId]| -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = model
            .servers
            .iter()
            .filter(|n| group.contains(n))
            .copied()
            .collect();
        nodes.extend(model.clients.iter().filter(|n| group.contains(n)));
        nodes
    };
    let mut groups: Vec<Vec<NodeId>> = period
        .groups
        .iter()
        .map(|g| order(g))
        .filter(|g| !g.is_empty())
        .collect();
    let rest: Vec<NodeId> = model
        .nodes
        .iter()
        .copied()
        .filter(|n| !groups.iter().any(|g| g.contains(n)))
        .collect();
    if !rest.is_empty() {
        groups.push(order(&rest));
    }
    groups
}

/// Indexes where two servers hold different committed entries, lowest first.
fn conflicts(model: &RunModel, states: &BTreeMap<NodeId, NodeState>) -> Vec<Conflict> {
    let mut by_index: BTreeMap<u64, BTreeMap<(u64, String), Vec<NodeId>>> = BTreeMap::new();
    for n in &model.servers {
        let Some(s) = states.get(n) else { continue };
        for (index, entry) in s.log.range(..=s.commit) {
            by_index
                .entry(*index)
                .or_default()
                .entry((entry.term, entry.digest.clone()))
                .or_default()
                .push(*n);
        }
    }
    by_index
        .into_iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|(index, values)| Conflict {
            index,
            values: values
                .into_iter()
                .map(|((term, digest), nodes)| {
                    (
                        EntryRef {
                            index,
                            term,
                            digest,
                        },
                        nodes,
                    )
                })
                .collect(),
        })
        .collect()
}

/// Where each node sits in a panel (the same in every panel).
#[derive(Debug)]
struct Layout {
    /// Centre of each node.
    at: BTreeMap<NodeId, (f64, f64)>,
    /// Whether a node's text goes left of it (first group) or right.
    text_left: BTreeMap<NodeId, bool>,
    /// x of the cut between neighbouring groups.
    cuts_x: Vec<f64>,
    /// x of each group's column centre.
    columns_x: Vec<f64>,
    /// y below the lowest node.
    bottom: f64,
}

fn layout(model: &RunModel, groups: &[Vec<NodeId>]) -> Layout {
    let top = TITLE_PX + 120.0;
    let column_w = PANEL_PX / groups.len().max(1) as f64;
    let mut at = BTreeMap::new();
    let mut text_left = BTreeMap::new();
    let mut circles_x = Vec::new();
    let mut columns_x = Vec::new();
    let mut bottom: f64 = top;
    for (i, group) in groups.iter().enumerate() {
        let left = i == 0 && groups.len() > 1;
        let x = if left {
            column_w * (i as f64 + 1.0) - 70.0
        } else {
            column_w * i as f64 + 70.0
        };
        circles_x.push(x);
        columns_x.push(column_w * (i as f64 + 0.5));
        let mut y = top;
        for n in group.iter().filter(|n| model.servers.contains(n)) {
            at.insert(*n, (x, y));
            text_left.insert(*n, left);
            y += ROW_PX;
        }
        for n in group.iter().filter(|n| !model.servers.contains(n)) {
            at.insert(*n, (x, y - 14.0));
            text_left.insert(*n, left);
            y += 34.0;
        }
        bottom = bottom.max(y);
    }
    let cuts_x = circles_x.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    Layout {
        at,
        text_left,
        cuts_x,
        columns_x,
        bottom,
    }
}

fn seconds(t_us: u64) -> String {
    format!("{}.{:03} s", t_us / 1_000_000, (t_us % 1_000_000) / 1000)
}

fn draw(model: &RunModel, period: &PartitionPeriod, panels: &[Panel]) -> String {
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

fn server(
    svg: &mut Svg,
    model: &RunModel,
    p: &Panel,
    card: &ServerCard,
    (x, y): (f64, f64),
    text_left: bool,
    conflict: Option<&String>,
) {
    let leader = p.leaders.iter().any(|(n, _)| *n == card.node);
    let up = card.liveness == Liveness::Up;
    svg.raw(&format!(
        r#"<g class="server" data-node="{}" data-role="{}" data-term="{}" data-commit="{}" data-liveness="{}">"#,
        card.node,
        card.role.map_or("none", raft::core::Role::as_str),
        card.term,
        card.commit,
        card.liveness.as_str()
    ));
    let term_fill = palette::term(card.term).hex();
    let (fill, stroke, stroke_px) = if !up {
        ("#d5d8dc", "#999", 1.5)
    } else if leader {
        (term_fill.as_str(), "#f1c40f", 5.0)
    } else {
        match card.role {
            Some(Role::Candidate) | Some(Role::PreCandidate) => ("#fdebd0", "#e67e22", 2.0),
            _ => ("#eaf1fb", "#4a6fa5", 1.5),
        }
    };
    svg.circle(
        x,
        y,
        NODE_R_PX,
        &format!(
            r#"fill="{fill}" stroke="{stroke}" stroke-width="{}""#,
            num(stroke_px)
        ),
    );
    // The node's name inside its circle: a long name (`etcd-3`) in a smaller font, so it
    // stays inside the 40 px disc.
    let name = model.name(card.node).to_string();
    let font_px = match name.chars().count() {
        0..=3 => 12,
        4..=5 => 10,
        _ => 9,
    };
    svg.text(
        x,
        y + 4.0,
        &name,
        &format!(
            r#"text-anchor="middle" font-weight="bold" font-size="{font_px}" fill="{}""#,
            if leader && up { "white" } else { "#222" }
        ),
    );
    let role_text = if !up {
        card.liveness.as_str().to_string()
    } else {
        match card.role {
            Some(Role::Leader) => format!("leader t{}", card.term),
            Some(r) => format!("{} t{}", r.as_str(), card.term),
            None => format!("t{}", card.term),
        }
    };
    let committed = match &card.committed {
        Some(e) => format!("commit {} · t{} #{}", card.commit, e.term, e.digest),
        None if card.commit == 0 => "commit 0 · nothing yet".to_string(),
        None => format!("commit {} · (compacted)", card.commit),
    };
    let tx = if text_left {
        x - NODE_R_PX - 8.0
    } else {
        x + NODE_R_PX + 8.0
    };
    let anchor = if text_left {
        r#" text-anchor="end""#
    } else {
        ""
    };
    let role_colour = if !up {
        "#888".to_string()
    } else if leader {
        palette::term(card.term).hex()
    } else {
        "#333".to_string()
    };
    svg.text(
        tx,
        y - 5.0,
        &role_text,
        &format!(
            r#"fill="{role_colour}"{anchor}{}"#,
            if leader {
                r#" font-weight="bold" font-size="13""#
            } else {
                ""
            }
        ),
    );
    svg.text(
        tx,
        y + 11.0,
        &committed,
        &format!(
            r##"fill="{}" font-size="11"{anchor}"##,
            if up { "#444" } else { "#999" }
        ),
    );
    if let Some(text) = conflict {
        svg.text(
            tx,
            y + 26.0,
            text,
            &format!(
                r#"fill="{}" font-size="11" font-weight="bold"{anchor}"#,
                "#c0392b"
            ),
        );
    }
    svg.raw("</g>");
}
