//! The sequence (Lamport) diagram: one lifeline per node, time flowing down, one arrow per
//! message, as SVG and as Mermaid `sequenceDiagram` text.
//!
//! # What it shows
//!
//! - A lifeline per shown node: servers first, then clients (`Window::nodes` restricts
//!   them). A message is shown when it was sent inside the window (`from_us ..= to_us`)
//!   and both its ends are shown; every shown message has exactly one arrow, so a reader
//!   never wonders whether a missing arrow means "not sent" or "not drawn".
//! - Delivered messages go from (sender, send time) to (receiver, delivery time). Dropped
//!   ones stop partway in a cross labelled with the reason: a message refused at the
//!   sender's side of a cut (`partitioned`) crosses out early, one lost on the wire
//!   (`lost`, `partitioned-in-flight`) halfway, one that reached a dead receiver
//!   (`receiver-down`) just short of it. Messages still travelling when the window (or
//!   the run) ends fade out towards the receiver.
//! - Partition periods are shaded bands across the diagram, labelled with their groups;
//!   inside a band a dashed red wall separates neighbouring lifelines on different sides.
//!   Other faults are marked where they start; down and paused lifelines are dashed.
//! - Leader terms are coloured bars on the leader's lifeline ("leader t4"); candidates
//!   get a hollow bar. Colours follow the term, as in the timeline.
//! - Commit quorums: the acks that made each of the leader's commits are drawn thick and
//!   red, and the commit is marked on the leader's lifeline.
//!
//! # Which acks formed a commit quorum
//!
//! Raft's leader commits index `i` once a majority of the servers hold the entry (and it
//! is from the leader's own term). The leader counts itself; every other vote is an
//! `append-entries-resp` that accepted with `match_index ≥ i`. So for each commit event
//! on a node that leads term `T` at that instant, the acks are the `append-entries-resp`
//! messages delivered to it while it led `T` (not before its term began, not after the
//! commit), in term `T`, with `match ≥ i`; from each follower the earliest one counts,
//! and the first `majority − 1` of those by delivery time are the quorum (the last of
//! them is the ack that tipped it). Heartbeat responses carry no match index, so they
//! never count. When fewer than `majority − 1` such acks exist the commit is marked in
//! red as "no majority": that is what the planted bug `quorum-of-reachable` looks like.
//!
//! # Vertical scale
//!
//! Time flows down, but not linearly: a run mixes sub-millisecond local hops with
//! heartbeat intervals and election timeouts of hundreds of milliseconds, and a linear
//! scale makes either the hops invisible or the diagram kilometres long. So the distinct
//! instants of the window (sends, deliveries, drops, commits, role changes, fault
//! bounds) are rows, and the gap between consecutive rows grows with the logarithm of
//! the time between them, from [`ROW_MIN_PX`] up to [`GAP_MAX_PX`]. Order is kept
//! exactly (happens-before arrows always point down or sideways), equal instants share a
//! row, and a longer pause always looks longer; gaps longer than [`GAP_MARK_US`] carry
//! their real length on the time axis ("+250 ms"), so nobody reads the picture as linear.
//! One row per event (pure Lamport order) would hide how long an election took, which is
//! half of what students should see.
//!
//! # Default window
//!
//! A whole run has tens of thousands of messages. Without explicit bounds the window
//! starts a little before the most instructive moment: the first fault, or without
//! faults the first client write (the write path is the lesson of `quorum-write`), or the
//! first election. It keeps [`LEAD_ARROWS`] messages before that moment for context and
//! grows forward until [`DEFAULT_MAX_ARROWS`] messages are shown.
//!
//! # Files
//!
//! Every part reads one laid-out `View` of the window, so the SVG and the Mermaid text
//! show the same arrows:
//! - `window.rs`: which instants and lifelines are shown (the default window);
//! - `quorum.rs`: which acks formed each commit quorum;
//! - `view.rs`: the laid-out window (lanes, clipping, the instants that get rows, how
//!   each message's fate is drawn);
//! - `scale.rs`: the log-compressed vertical scale;
//! - `label.rs`: the words on arrows and axes;
//! - `draw.rs`: the SVG document and its background (legend, partition bands, time axis,
//!   lifelines, role bars, fault marks);
//! - `arrows.rs`: the message arrows and the placement of their labels;
//! - `marks.rs`: commit and client-operation marks;
//! - `mermaid.rs`: the Mermaid `sequenceDiagram` text.

mod arrows;
mod draw;
mod label;
mod marks;
mod mermaid;
mod quorum;
mod scale;
mod view;
mod window;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use sim_core::NodeId;

use crate::model::{MessageRecord, RunModel};
use crate::Window;

pub use label::arrow_label;
pub use mermaid::mermaid_text;
pub use quorum::{ack_match, commit_quorums, majority, CommitQuorum};

use view::View;
use window::{choose_range, lifelines};

/// Messages shown by default: a few heartbeat rounds, an election and a replicated write
/// fit; more and the diagram becomes a wall of arrows.
pub const DEFAULT_MAX_ARROWS: usize = 200;
/// Messages kept before the instructive moment of the default window, for context.
pub const LEAD_ARROWS: usize = 40;
/// The smallest gap between two distinct instants, pixels (one label line).
pub const ROW_MIN_PX: f64 = 11.0;
/// Extra pixels per doubling of the gap in milliseconds.
pub const ROW_LOG_PX: f64 = 9.0;
/// The largest gap between two instants, pixels.
pub const GAP_MAX_PX: f64 = 110.0;
/// Gaps longer than this are labelled with their real length on the time axis.
pub const GAP_MARK_US: u64 = 20_000;

/// Horizontal distance between lifelines.
const LANE_PX: f64 = 180.0;
/// Width of the time axis on the left.
const AXIS_PX: f64 = 96.0;
/// Height of the title, note, legend and lifeline heads.
const HEADER_PX: f64 = 118.0;
/// Space below the last instant (lifeline feet).
const FOOTER_PX: f64 = 56.0;
/// Font size of arrow labels.
const LABEL_FONT_PX: f64 = 10.0;
/// Approximate advance of one label character at [`LABEL_FONT_PX`] (DejaVu Sans).
const LABEL_CHAR_PX: f64 = 5.9;
/// Longest arrow label, characters (the full detail is in the arrow's tooltip).
const LABEL_MAX_CHARS: usize = 34;

/// Colour of the acks that formed a commit quorum, and of drops.
const QUORUM_COLOUR: &str = "#d62728";
const DROP_COLOUR: &str = "#c0392b";

/// A rendered sequence diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    /// The SVG document.
    pub svg: String,
    /// The same window as Mermaid `sequenceDiagram` text.
    pub mermaid: String,
    /// First instant shown.
    pub from_us: u64,
    /// Last instant shown (inclusive).
    pub to_us: u64,
    /// The lifelines, left to right.
    pub nodes: Vec<NodeId>,
    /// Arrows drawn (one per shown message).
    pub arrows: usize,
    /// One line saying what is shown.
    pub note: String,
}

/// Draws the sequence diagram of `window` (see the module doc for the defaults).
pub fn render(model: &RunModel, window: &Window) -> Sequence {
    let allowed = |n: &NodeId| window.nodes.as_ref().is_none_or(|only| only.contains(n));
    let candidates: Vec<&MessageRecord> = model
        .messages
        .iter()
        .filter(|m| allowed(&m.from) && allowed(&m.to))
        .collect();
    let (from_us, to_us) = choose_range(model, window, &candidates);
    let nodes = lifelines(model, window, from_us, to_us);
    let lane: BTreeMap<NodeId, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let shown: Vec<&MessageRecord> = candidates
        .iter()
        .copied()
        .filter(|m| from_us <= m.sent_us && m.sent_us <= to_us)
        .collect();
    let quorums: Vec<CommitQuorum> = commit_quorums(model, from_us, to_us)
        .into_iter()
        .filter(|q| lane.contains_key(&q.leader))
        .collect();
    let view = View {
        model,
        nodes: &nodes,
        lane,
        from_us,
        to_us,
        shown: &shown,
        quorums: &quorums,
    };
    let note = view.note();
    let svg = view.svg(&note);
    let mermaid = view.mermaid(&note);
    Sequence {
        svg,
        mermaid,
        from_us,
        to_us,
        nodes,
        arrows: shown.len(),
        note,
    }
}
