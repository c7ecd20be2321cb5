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
//!
//! # Files
//!
//! What each panel shows is decided first (`panels.rs`: the instants, the sides, the
//! states and conflicts), where nodes sit next (`layout.rs`, the same in every panel),
//! then it is drawn (`draw.rs`: the page and each panel; `server.rs`: one server's card).
//! This file keeps the types other code and the tests read, and the entry point.

mod draw;
mod layout;
mod panels;
mod server;

use raft::core::Role;
use raft::events::EntryRef;
use sim_core::{NodeId, Trace};

use crate::model::RunModel;
use crate::state::Liveness;

use draw::draw;
use panels::{after_instant, panel};

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
