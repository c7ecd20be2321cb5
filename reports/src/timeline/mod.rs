//! The timeline: a whole run on one time axis, drawn with plotters.
//!
//! Four panels share one x axis (virtual seconds), so a reader can look straight down from
//! an event in one panel to its effect in the others:
//! 1. **lanes**: one lane per server, its role over time coloured by term (leader: full
//!    bar labelled `L t4`; candidate: half bar; pre-candidate: half bar, lighter; follower:
//!    thin bar), outages on top (down: dark block, paused: light block), and above the
//!    lanes one labelled row per fault ("fault tracks") with a translucent band carried
//!    down across the lanes it affects: all lanes for network faults, the node's own lane
//!    for node faults (with solid edges along the lane, as a leader's bar hides the band).
//!    Instantaneous faults (a restart) are a vertical line.
//! 2. **client operations**: one point per operation at (invocation time, latency),
//!    green ok, red failed, grey indeterminate; operations that never got an answer sit on
//!    the panel's top edge as grey triangles.
//! 3. **throughput**: acknowledged operations per second, in fixed bins.
//! 4. **commit index** of each server over time, a step line per server.
//!
//! Big runs stay drawable: operations are sampled with a fixed stride when there are more
//! than [`MAX_OP_POINTS`] (the title says so), commit lines keep one point per pixel
//! column, and the throughput bins widen with the run. Everything is drawn in a fixed
//! order from the model's vectors, so the same model gives the same bytes.
//!
//! # Files
//!
//! One file a panel (`lanes.rs`, `ops.rs`, `throughput.rs`, `commits.rs`, `legend.rs`),
//! each an `impl` on the `Layout` that `layout.rs` decides before anything is drawn (sizes,
//! fault rows, sampling); `text.rs` holds the fonts and headings they share. This file
//! keeps the sizes, the colours other pictures and tests read, and the entry point.

mod commits;
mod lanes;
mod layout;
mod legend;
mod ops;
mod text;
mod throughput;

use plotters::prelude::*;

use crate::charts::render_picture;
use crate::model::RunModel;
use crate::palette;
use crate::{ReportError, TimeAxis};

use layout::Layout;

/// The most operation points the operations panel draws; above it, every k-th operation.
pub const MAX_OP_POINTS: usize = 4_000;

/// Picture width.
const WIDTH_PX: u32 = 1400;
/// Left label area of every panel (lane names, y axis labels).
const LEFT_PX: u32 = 120;
/// Right margin of every panel (commit line end labels).
const RIGHT_PX: u32 = 56;
/// The title band.
const TITLE_PX: u32 = 48;
/// Space above each panel's plot for its heading.
const HEADING_PX: u32 = 24;
/// The x axis labels under each panel.
const X_LABELS_PX: u32 = 26;
/// The x axis description under the last panel.
const X_DESC_PX: u32 = 18;
/// One fault track row.
const TRACK_PX: u32 = 20;
/// At most this many fault rows; more faults share the last one.
const MAX_TRACKS: usize = 8;
/// One server lane.
const LANE_PX: u32 = 36;
/// The plot heights of the other panels.
const OPS_PLOT_PX: u32 = 190;
const THROUGHPUT_PLOT_PX: u32 = 100;
const COMMIT_PLOT_PX: u32 = 150;
/// The legend band at the bottom.
const LEGEND_PX: u32 = 74;

/// Commit-index lines, one per server (in server order).
const NODE_PALETTE: [RGBColor; 8] = [
    RGBColor(27, 158, 119),
    RGBColor(217, 95, 2),
    RGBColor(117, 112, 179),
    RGBColor(231, 41, 138),
    RGBColor(102, 166, 30),
    RGBColor(230, 171, 2),
    RGBColor(166, 118, 29),
    RGBColor(102, 102, 102),
];
const OK_COLOUR: RGBColor = RGBColor(44, 160, 44);
const FAIL_COLOUR: RGBColor = RGBColor(214, 39, 40);
const INFO_COLOUR: RGBColor = RGBColor(140, 140, 140);
const DOWN_COLOUR: RGBColor = RGBColor(70, 70, 70);
const PAUSED_COLOUR: RGBColor = RGBColor(205, 205, 205);
const TEXT_COLOUR: RGBColor = RGBColor(30, 30, 30);

/// A rendered timeline.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// The SVG document.
    pub svg: String,
    /// The same picture as PNG, when asked for.
    pub png: Option<Vec<u8>>,
    /// Where time lies on the lanes panel, in the picture's pixels.
    pub axis: TimeAxis,
}

/// The colour of a term's role bars (see [`crate::palette`]).
pub fn term_colour(term: u64) -> RGBColor {
    palette::term(term).rgb()
}

/// Whether a fault kind acts on the whole network (its band spans every lane) rather than
/// on its nodes (its band covers their lanes).
pub fn is_network_fault(kind: &str) -> bool {
    matches!(
        kind,
        "partition" | "isolate" | "cut-link" | "latency" | "link-latency" | "loss"
    )
}

/// The colour of a fault kind's band: one per family, so a reader tells a partition from a
/// slow disk without reading the label.
pub fn fault_colour(kind: &str) -> RGBColor {
    match kind {
        "partition" | "isolate" | "cut-link" => RGBColor(214, 39, 40),
        "latency" | "link-latency" | "loss" => RGBColor(230, 140, 20),
        "kill" | "power-fail" | "restart" => RGBColor(60, 60, 60),
        "pause" => RGBColor(120, 120, 120),
        "disk-stall" => RGBColor(140, 109, 49),
        "clock-skew" => RGBColor(123, 65, 115),
        _ => RGBColor(100, 100, 100),
    }
}

/// The SVG fill plotters writes for a colour (`#RRGGBB`), for tests that look for a band.
pub fn svg_hex(colour: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2)
}

/// Draws the timeline of a run.
///
/// `title` heads the picture; a note is appended when operations were sampled.
///
/// # Errors
///
/// [`ReportError::Draw`] if plotters fails (a bug here, not an input problem).
pub fn render(model: &RunModel, title: &str, png: bool) -> Result<Timeline, ReportError> {
    let layout = Layout::new(model, title);
    let rendered = render_picture("timeline", &layout, png)?;
    Ok(Timeline {
        svg: rendered.svg,
        png: rendered.png,
        axis: rendered.meta,
    })
}
