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

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use raft::core::Role;
use sim_core::NodeId;

use crate::charts::{fail, render_picture, Picture};
use crate::model::{OpEnd, OutageKind, RunModel};
use crate::palette;
use crate::{ReportError, TimeAxis};

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

/// Everything decided before drawing: sizes, fault rows, sampling.
struct Layout<'a> {
    model: &'a RunModel,
    title: String,
    subtitle: String,
    end_us: u64,
    /// The fault row of each fault span (same order as `model.faults`).
    fault_rows: Vec<usize>,
    /// How many fault rows there are (at least one, so the panel keeps its shape).
    tracks: usize,
    /// Every `op_stride`-th operation is drawn.
    op_stride: usize,
    height_px: u32,
    lanes_panel_px: u32,
}

impl<'a> Layout<'a> {
    fn new(model: &'a RunModel, title: &str) -> Self {
        let end_us = model.end_us.max(1);
        let op_stride = model.ops.len().div_ceil(MAX_OP_POINTS).max(1);
        let mut title = title.to_string();
        if op_stride > 1 {
            title.push_str(&format!(" (operations: 1 in {op_stride} drawn)"));
        }
        let subtitle = format!(
            "seed {} \u{b7} {} s of virtual time \u{b7} {} servers \u{b7} {} client operations \u{b7} {} fault{}",
            model.seed,
            seconds_label(end_us as f64 / 1e6),
            model.servers.len(),
            model.ops.len(),
            model.faults.len(),
            if model.faults.len() == 1 { "" } else { "s" }
        );
        let fault_rows = fault_rows(model, end_us);
        let tracks = fault_rows.iter().max().map_or(1, |r| r + 1);
        let lanes_panel_px = HEADING_PX
            + tracks as u32 * TRACK_PX
            + model.servers.len().max(1) as u32 * LANE_PX
            + X_LABELS_PX;
        let height_px = TITLE_PX
            + lanes_panel_px
            + (HEADING_PX + OPS_PLOT_PX + X_LABELS_PX)
            + (HEADING_PX + THROUGHPUT_PLOT_PX + X_LABELS_PX)
            + (HEADING_PX + COMMIT_PLOT_PX + X_LABELS_PX + X_DESC_PX)
            + LEGEND_PX;
        Layout {
            model,
            title,
            subtitle,
            end_us,
            fault_rows,
            tracks,
            op_stride,
            height_px,
            lanes_panel_px,
        }
    }
}

/// Puts each fault in the first row whose previous band and label end before it starts
/// (rows beyond [`MAX_TRACKS`] share the last one). Pixel positions use the lanes panel's
/// x range, which the fixed label area and margin determine before anything is drawn.
fn fault_rows(model: &RunModel, end_us: u64) -> Vec<usize> {
    crate::fonts::ensure_registered();
    let axis = TimeAxis {
        width_px: f64::from(WIDTH_PX),
        height_px: 0.0,
        left_px: f64::from(LEFT_PX),
        right_px: f64::from(WIDTH_PX - RIGHT_PX),
        top_px: 0.0,
        bottom_px: 0.0,
        start_us: 0,
        end_us,
    };
    let label_font = (crate::fonts::FAMILY, 11).into_font();
    let mut row_ends_px: Vec<f64> = Vec::new();
    let mut rows = Vec::with_capacity(model.faults.len());
    for span in &model.faults {
        // Without a measurable font, assume 7 px a character.
        let label_px = label_font
            .box_size(&span.label)
            .map_or(span.label.len() as f64 * 7.0, |(w, _)| f64::from(w));
        let start_px = axis.x_of(span.start_us);
        let end_px = axis.x_of(span.end_us).max(start_px + label_px + 6.0);
        let row = match row_ends_px.iter().position(|end| *end + 4.0 <= start_px) {
            Some(row) => row,
            None if row_ends_px.len() < MAX_TRACKS => {
                row_ends_px.push(0.0);
                row_ends_px.len() - 1
            }
            None => MAX_TRACKS - 1,
        };
        row_ends_px[row] = row_ends_px[row].max(end_px);
        rows.push(row);
    }
    rows
}

impl Picture for Layout<'_> {
    type Meta = TimeAxis;

    fn size_px(&self) -> (u32, u32) {
        (WIDTH_PX, self.height_px)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<TimeAxis, String> {
        root.fill(&WHITE).map_err(fail)?;
        let (head, rest) = root.split_vertically(TITLE_PX);
        draw_title(&head, &self.title, &self.subtitle)?;
        let (lanes, rest) = rest.split_vertically(self.lanes_panel_px);
        let (ops, rest) = rest.split_vertically(HEADING_PX + OPS_PLOT_PX + X_LABELS_PX);
        let (throughput, rest) =
            rest.split_vertically(HEADING_PX + THROUGHPUT_PLOT_PX + X_LABELS_PX);
        let (commits, legend) =
            rest.split_vertically(HEADING_PX + COMMIT_PLOT_PX + X_LABELS_PX + X_DESC_PX);
        let axis = self.draw_lanes(&lanes)?;
        self.draw_ops(&ops)?;
        self.draw_throughput(&throughput)?;
        self.draw_commits(&commits)?;
        self.draw_legend(&legend)?;
        root.present().map_err(fail)?;
        Ok(TimeAxis {
            width_px: f64::from(WIDTH_PX),
            height_px: f64::from(self.height_px),
            ..axis
        })
    }
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((crate::fonts::FAMILY, size).into_font()).color(&TEXT_COLOUR)
}

fn bold(size: u32) -> TextStyle<'static> {
    TextStyle::from(
        (crate::fonts::FAMILY, size)
            .into_font()
            .style(FontStyle::Bold),
    )
    .color(&TEXT_COLOUR)
}

fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// `2.5`, `20`, `0.25`: seconds as axis labels print them.
fn seconds_label(s: f64) -> String {
    let rounded = (s * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<(), String> {
    area.draw(&Text::new(title.to_string(), (16, 8), bold(18)))
        .map_err(fail)?;
    area.draw(&Text::new(subtitle.to_string(), (16, 30), font(12)))
        .map_err(fail)?;
    Ok(())
}

/// A panel's heading, left-aligned over its plot.
fn draw_heading<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
) -> Result<(), String> {
    area.draw(&Text::new(text.to_string(), (LEFT_PX as i32, 6), bold(13)))
        .map_err(fail)
}

impl Layout<'_> {
    fn x_range(&self) -> std::ops::Range<f64> {
        0.0..self.end_us as f64
    }

    /// Lanes panel: fault rows, then one lane per server; y counts pixels up from the
    /// bottom of the plot, [`Self::y`] turns an offset from the top into it.
    fn draw_lanes<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<TimeAxis, String> {
        let model = self.model;
        draw_heading(
            area,
            "Servers: role over time (colour = term), faults above",
        )?;
        let tracks_px = self.tracks as u32 * TRACK_PX;
        let lanes_px = model.servers.len().max(1) as u32 * LANE_PX;
        let plot_h = f64::from(tracks_px + lanes_px);
        let mut chart = ChartBuilder::on(area)
            .margin_top(HEADING_PX)
            .margin_right(RIGHT_PX)
            .x_label_area_size(X_LABELS_PX)
            .y_label_area_size(LEFT_PX)
            .build_cartesian_2d(self.x_range(), 0.0..plot_h)
            .map_err(fail)?;
        let seconds = |v: &f64| seconds_label(*v / 1e6);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(16)
            .x_label_formatter(&seconds)
            .label_style(font(11))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()
            .map_err(fail)?;
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let axis = TimeAxis {
            width_px: f64::from(WIDTH_PX),
            height_px: f64::from(self.height_px),
            left_px: f64::from(xs.start),
            right_px: f64::from(xs.end),
            top_px: f64::from(ys.start),
            bottom_px: f64::from(ys.end),
            start_us: 0,
            end_us: self.end_us,
        };
        let y = |offset_px: f64| plot_h - offset_px;
        let x = |t_us: u64| t_us.min(self.end_us) as f64;
        let lane_top = |i: usize| f64::from(tracks_px) + (i as u32 * LANE_PX) as f64;
        let lane_of = |node: NodeId| model.servers.iter().position(|n| *n == node);

        // Lane backgrounds (alternating) and separators.
        for i in 0..model.servers.len() {
            let shade = if i % 2 == 0 {
                RGBColor(250, 250, 250)
            } else {
                RGBColor(243, 243, 243)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (0.0, y(lane_top(i))),
                        (self.end_us as f64, y(lane_top(i) + f64::from(LANE_PX))),
                    ],
                    shade.filled(),
                )))
                .map_err(fail)?;
        }

        // Fault bands behind the roles, and one labelled row per fault above the lanes.
        for (index, span) in model.faults.iter().enumerate() {
            let colour = fault_colour(span.kind);
            let x0 = x(span.start_us);
            let x1 = x(span.end_us);
            let lanes: Vec<usize> = if is_network_fault(span.kind) || span.nodes.is_empty() {
                (0..model.servers.len()).collect()
            } else {
                span.nodes.iter().filter_map(|n| lane_of(*n)).collect()
            };
            let instant = span.end_us <= span.start_us;
            // An instant is a line; a span a band, fainter over the lanes than in its row.
            let mut band = |top, bottom, opacity: f64| {
                if instant {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x0, top), (x0, bottom)],
                            colour.stroke_width(2),
                        )))
                        .map(|_| ())
                } else {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0, top), (x1, bottom)],
                            colour.mix(opacity).filled(),
                        )))
                        .map(|_| ())
                }
            };
            for lane in &lanes {
                band(
                    y(lane_top(*lane)),
                    y(lane_top(*lane) + f64::from(LANE_PX)),
                    0.16,
                )
                .map_err(fail)?;
            }
            let row = self.fault_rows[index];
            let start_px = axis.x_of(span.start_us);
            let top = y(f64::from(row as u32 * TRACK_PX) + 2.0);
            let bottom = y(f64::from((row as u32 + 1) * TRACK_PX) - 2.0);
            band(top, bottom, 0.35).map_err(fail)?;
            let label_x = (start_px + 4.0).round() as i32;
            let label_y = ((top + bottom) / 2.0).round();
            let (_, label_y_px) = chart.backend_coord(&(0.0, label_y));
            area.draw(&Text::new(
                span.label.clone(),
                (
                    label_x - area.get_base_pixel().0,
                    label_y_px - area.get_base_pixel().1,
                ),
                anchored(font(11), HPos::Left, VPos::Center),
            ))
            .map_err(fail)?;
        }

        // Roles.
        for span in &model.roles {
            let Some(lane) = lane_of(span.node) else {
                continue;
            };
            let colour = term_colour(span.term);
            let mid = lane_top(lane) + f64::from(LANE_PX) / 2.0;
            let (half_px, style): (f64, ShapeStyle) = match span.role {
                Role::Leader => (14.0, colour.filled()),
                Role::Candidate => (8.0, colour.filled()),
                Role::PreCandidate => (8.0, colour.mix(0.5).filled()),
                Role::Follower => (3.0, colour.filled()),
            };
            let (x0, x1) = (x(span.start_us), x(span.end_us));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, y(mid - half_px)), (x1, y(mid + half_px))],
                    style,
                )))
                .map_err(fail)?;
            if span.role == Role::Leader {
                let width_px = axis.x_of(span.end_us) - axis.x_of(span.start_us);
                let long = format!("L t{}", span.term);
                let label = if width_px > 44.0 {
                    Some(long)
                } else if width_px > 12.0 {
                    Some("L".to_string())
                } else {
                    None
                };
                if let Some(label) = label {
                    chart
                        .draw_series(std::iter::once(Text::new(
                            label,
                            ((x0 + x1) / 2.0, y(mid)),
                            anchored(bold(11), HPos::Center, VPos::Center).color(&WHITE),
                        )))
                        .map_err(fail)?;
                }
            }
        }

        // Outages over the roles.
        for outage in &model.outages {
            let Some(lane) = lane_of(outage.node) else {
                continue;
            };
            let (colour, text, text_colour) = match outage.kind {
                OutageKind::Down => (DOWN_COLOUR, "down", WHITE),
                OutageKind::Paused => (PAUSED_COLOUR, "paused", TEXT_COLOUR),
            };
            let (x0, x1) = (x(outage.start_us), x(outage.end_us));
            let top = y(lane_top(lane) + 5.0);
            let bottom = y(lane_top(lane) + f64::from(LANE_PX) - 5.0);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, top), (x1, bottom)],
                    colour.filled(),
                )))
                .map_err(fail)?;
            let width_px = axis.x_of(outage.end_us) - axis.x_of(outage.start_us);
            if width_px > 44.0 {
                chart
                    .draw_series(std::iter::once(Text::new(
                        text,
                        (
                            (x0 + x1) / 2.0,
                            y(lane_top(lane) + f64::from(LANE_PX) / 2.0),
                        ),
                        anchored(font(11), HPos::Center, VPos::Center).color(&text_colour),
                    )))
                    .map_err(fail)?;
            }
        }

        // Node faults again, as solid edges along their lanes: the translucent band behind
        // a leader's full-height bar would be hidden by it.
        for span in &model.faults {
            if is_network_fault(span.kind) || span.end_us <= span.start_us {
                continue;
            }
            let colour = fault_colour(span.kind);
            for lane in span.nodes.iter().filter_map(|n| lane_of(*n)) {
                for (from_px, to_px) in [(0.0, 3.0), (f64::from(LANE_PX) - 3.0, f64::from(LANE_PX))]
                {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [
                                (x(span.start_us), y(lane_top(lane) + from_px)),
                                (x(span.end_us), y(lane_top(lane) + to_px)),
                            ],
                            colour.filled(),
                        )))
                        .map_err(fail)?;
                }
            }
        }

        // Lane and row names in the label area.
        let base = area.get_base_pixel();
        for (i, node) in model.servers.iter().enumerate() {
            let (_, py) = chart.backend_coord(&(0.0, y(lane_top(i) + f64::from(LANE_PX) / 2.0)));
            area.draw(&Text::new(
                model.name(*node).to_string(),
                (LEFT_PX as i32 - 10, py - base.1),
                anchored(bold(13), HPos::Right, VPos::Center),
            ))
            .map_err(fail)?;
        }
        if !model.faults.is_empty() {
            let (_, py) = chart.backend_coord(&(0.0, y(f64::from(tracks_px) / 2.0)));
            area.draw(&Text::new(
                "faults",
                (LEFT_PX as i32 - 10, py - base.1),
                anchored(font(12), HPos::Right, VPos::Center),
            ))
            .map_err(fail)?;
        }
        Ok(axis)
    }

    fn draw_ops<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let model = self.model;
        let heading = if self.op_stride > 1 {
            format!(
                "Client operations: latency (ms, log scale) at invocation time; every {}th of {} drawn",
                self.op_stride,
                model.ops.len()
            )
        } else {
            "Client operations: latency (ms, log scale) at invocation time".to_string()
        };
        draw_heading(area, &heading)?;
        let drawn: Vec<&crate::model::OpRecord> =
            model.ops.iter().step_by(self.op_stride).collect();
        let latencies_ms: Vec<f64> = drawn
            .iter()
            .filter_map(|op| op.latency_us())
            .map(|us| us.max(1) as f64 / 1000.0)
            .collect();
        let min_ms = latencies_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max_ms = latencies_ms.iter().copied().fold(0.0, f64::max);
        let (lo_ms, hi_ms) = if latencies_ms.is_empty() {
            (1.0, 1000.0)
        } else {
            let lo = 10f64.powf(min_ms.log10().floor());
            let hi = 10f64.powf((max_ms * 1.5).log10().ceil());
            (lo, hi.max(lo * 10.0))
        };
        let mut chart = ChartBuilder::on(area)
            .margin_top(HEADING_PX)
            .margin_right(RIGHT_PX)
            .x_label_area_size(X_LABELS_PX)
            .y_label_area_size(LEFT_PX)
            .build_cartesian_2d(self.x_range(), (lo_ms..hi_ms).log_scale())
            .map_err(fail)?;
        let seconds = |v: &f64| seconds_label(*v / 1e6);
        let ms = |v: &f64| format!("{v} ms");
        chart
            .configure_mesh()
            .x_labels(16)
            .x_label_formatter(&seconds)
            .y_label_formatter(&ms)
            .label_style(font(11))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(222, 222, 222))
            .draw()
            .map_err(fail)?;
        if drawn.is_empty() {
            let (xs, ys) = chart.plotting_area().get_pixel_range();
            let base = area.get_base_pixel();
            area.draw(&Text::new(
                "no client operations in this run",
                (
                    (xs.start + xs.end) / 2 - base.0,
                    (ys.start + ys.end) / 2 - base.1,
                ),
                anchored(font(13), HPos::Center, VPos::Center),
            ))
            .map_err(fail)?;
            return Ok(());
        }
        // Ok first, then indeterminate, then failures on top: the rare outcomes stay visible.
        for (end, colour) in [
            (OpEnd::Ok, OK_COLOUR),
            (OpEnd::Info, INFO_COLOUR),
            (OpEnd::Fail, FAIL_COLOUR),
        ] {
            let points = drawn.iter().filter(|op| op.end == end).filter_map(|op| {
                let latency_ms = op.latency_us()?.max(1) as f64 / 1000.0;
                Some(Circle::new(
                    (op.invoke_us as f64, latency_ms.clamp(lo_ms, hi_ms)),
                    3,
                    colour.mix(0.75).filled(),
                ))
            });
            chart.draw_series(points).map_err(fail)?;
        }
        let unanswered = drawn
            .iter()
            .filter(|op| op.complete_us.is_none())
            .map(|op| TriangleMarker::new((op.invoke_us as f64, hi_ms), 5, INFO_COLOUR.filled()));
        chart.draw_series(unanswered).map_err(fail)?;
        Ok(())
    }

    /// The throughput bin: the smallest round width giving at most 120 bins.
    fn bin_us(&self) -> u64 {
        const BINS_US: [u64; 12] = [
            100_000,
            250_000,
            500_000,
            1_000_000,
            2_000_000,
            5_000_000,
            10_000_000,
            15_000_000,
            30_000_000,
            60_000_000,
            120_000_000,
            300_000_000,
        ];
        BINS_US
            .iter()
            .copied()
            .find(|bin| self.end_us.div_ceil(*bin) <= 120)
            .unwrap_or(self.end_us.div_ceil(120).max(1))
    }

    fn draw_throughput<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
        let bin_us = self.bin_us();
        draw_heading(
            area,
            &format!(
                "Throughput: acknowledged operations per second ({} s bins)",
                seconds_label(bin_us as f64 / 1e6)
            ),
        )?;
        let bins = self.end_us.div_ceil(bin_us).max(1) as usize;
        let mut counts = vec![0u64; bins];
        for op in &self.model.ops {
            if op.end == OpEnd::Ok {
                let bin = ((op.invoke_us / bin_us) as usize).min(bins - 1);
                counts[bin] += 1;
            }
        }
        let per_s = |count: u64| count as f64 * 1e6 / bin_us as f64;
        let max = counts.iter().copied().map(per_s).fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(area)
            .margin_top(HEADING_PX)
            .margin_right(RIGHT_PX)
            .x_label_area_size(X_LABELS_PX)
            .y_label_area_size(LEFT_PX)
            .build_cartesian_2d(self.x_range(), 0.0..(max * 1.15).max(1.0))
            .map_err(fail)?;
        let seconds = |v: &f64| seconds_label(*v / 1e6);
        let rate = |v: &f64| format!("{v:.0}/s");
        chart
            .configure_mesh()
            .x_labels(16)
            .y_labels(4)
            .x_label_formatter(&seconds)
            .y_label_formatter(&rate)
            .label_style(font(11))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(222, 222, 222))
            .draw()
            .map_err(fail)?;
        let mut steps = Vec::with_capacity(bins * 2);
        for (i, count) in counts.iter().enumerate() {
            let from = (i as u64 * bin_us) as f64;
            let to = (((i as u64 + 1) * bin_us).min(self.end_us)) as f64;
            steps.push((from, per_s(*count)));
            steps.push((to, per_s(*count)));
        }
        chart
            .draw_series(AreaSeries::new(steps, 0.0, OK_COLOUR.mix(0.25)).border_style(OK_COLOUR))
            .map_err(fail)?;
        Ok(())
    }

    fn draw_commits<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
        let model = self.model;
        draw_heading(
            area,
            "Commit index per server (lines on top of each other: servers at the same index)",
        )?;
        let max_index = model
            .commits
            .values()
            .filter_map(|points| points.last())
            .map(|p| p.index)
            .max()
            .unwrap_or(0);
        let mut chart = ChartBuilder::on(area)
            .margin_top(HEADING_PX)
            .margin_right(RIGHT_PX)
            .x_label_area_size(X_LABELS_PX + X_DESC_PX)
            .y_label_area_size(LEFT_PX)
            .build_cartesian_2d(self.x_range(), 0.0..(max_index as f64 * 1.08).max(1.0))
            .map_err(fail)?;
        let seconds = |v: &f64| seconds_label(*v / 1e6);
        let index = |v: &f64| format!("{v:.0}");
        chart
            .configure_mesh()
            .x_labels(16)
            .y_labels(5)
            .x_label_formatter(&seconds)
            .y_label_formatter(&index)
            .x_desc("virtual time (s)")
            .label_style(font(11))
            .axis_desc_style(font(12))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(222, 222, 222))
            .draw()
            .map_err(fail)?;
        let (xs, _) = chart.plotting_area().get_pixel_range();
        let columns = (xs.end - xs.start).max(1) as u64;
        let base = area.get_base_pixel();
        // Final index of each drawn line, for end labels grouped by index.
        let mut ends: BTreeMap<u64, Vec<(NodeId, RGBColor)>> = BTreeMap::new();
        for (i, node) in model.servers.iter().enumerate() {
            let Some(points) = model.commits.get(node) else {
                continue;
            };
            // One point per pixel column (the last one in it): the line looks the same and
            // stays small for long runs.
            let mut kept: Vec<(u64, u64)> = Vec::new();
            for p in points {
                let column = p.t_us.min(self.end_us) * columns / self.end_us;
                match kept.last_mut() {
                    Some(last) if last.0 * columns / self.end_us == column => {
                        *last = (p.t_us, p.index);
                    }
                    _ => kept.push((p.t_us, p.index)),
                }
            }
            let mut steps = vec![(0.0, 0.0)];
            let mut current = 0.0;
            for (t_us, index) in &kept {
                let t = (*t_us).min(self.end_us) as f64;
                steps.push((t, current));
                current = *index as f64;
                steps.push((t, current));
            }
            steps.push((self.end_us as f64, current));
            let colour = NODE_PALETTE[i % NODE_PALETTE.len()];
            chart
                .draw_series(LineSeries::new(steps, colour.stroke_width(2)))
                .map_err(fail)?;
            ends.entry(current as u64)
                .or_default()
                .push((*node, colour));
        }
        // Servers ending at the same index: their names stacked at the shared line end.
        for (index, nodes) in &ends {
            let (px, py) = chart.backend_coord(&(self.end_us as f64, *index as f64));
            let first_py = py - (nodes.len() as i32 - 1) * 6;
            for (k, (node, colour)) in nodes.iter().enumerate() {
                area.draw(&Text::new(
                    self.model.name(*node).to_string(),
                    (px + 5 - base.0, first_py + k as i32 * 12 - base.1),
                    anchored(bold(10), HPos::Left, VPos::Center).color(colour),
                ))
                .map_err(fail)?;
            }
        }
        Ok(())
    }

    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let mut x = 16;
        let row1 = 18;
        let row2 = 48;
        let swatch = |area: &DrawingArea<DB, Shift>,
                      x: i32,
                      y: i32,
                      half_h: i32,
                      style: ShapeStyle|
         -> Result<(), String> {
            area.draw(&Rectangle::new(
                [(x, y - half_h), (x + 26, y + half_h)],
                style,
            ))
            .map_err(fail)
        };
        let label = |area: &DrawingArea<DB, Shift>, x: i32, y: i32, text: &str| {
            area.draw(&Text::new(
                text.to_string(),
                (x, y),
                anchored(font(12), HPos::Left, VPos::Center),
            ))
            .map_err(fail)?;
            Ok::<i32, String>(area.estimate_text_size(text, &font(12)).map_err(fail)?.0 as i32 + 22)
        };
        let sample = term_colour(1);
        for (half_h, style, text) in [
            (9, sample.filled(), "leader (L t<term>)"),
            (5, sample.filled(), "candidate"),
            (5, sample.mix(0.5).filled(), "pre-candidate"),
            (2, sample.filled(), "follower"),
            (7, DOWN_COLOUR.filled(), "down"),
            (7, PAUSED_COLOUR.filled(), "paused"),
        ] {
            swatch(area, x, row1, half_h, style)?;
            x += 32 + label(area, x + 32, row1, text)?;
        }
        let mut terms: Vec<u64> = self.model.roles.iter().map(|r| r.term).collect();
        terms.sort_unstable();
        terms.dedup();
        if !terms.is_empty() {
            x += label(area, x, row1, "terms:")? - 16;
            for term in terms.iter().take(12) {
                swatch(area, x, row1, 7, term_colour(*term).filled())?;
                x += 32 + label(area, x + 32, row1, &format!("t{term}"))? - 12;
            }
            if terms.len() > 12 {
                label(area, x, row1, "\u{2026}")?;
            }
        }
        let mut x = 16;
        for (colour, text) in [
            (fault_colour("partition"), "partition / isolate"),
            (fault_colour("latency"), "latency / loss"),
            (fault_colour("kill"), "kill / power-fail / restart (line)"),
            (fault_colour("disk-stall"), "disk stall"),
        ] {
            swatch(area, x, row2, 7, colour.mix(0.35).filled())?;
            x += 32 + label(area, x + 32, row2, text)?;
        }
        for (colour, text) in [
            (OK_COLOUR, "op ok"),
            (FAIL_COLOUR, "op failed"),
            (INFO_COLOUR, "op indeterminate"),
        ] {
            area.draw(&Circle::new((x + 6, row2), 4, colour.filled()))
                .map_err(fail)?;
            x += 16 + label(area, x + 16, row2, text)?;
        }
        area.draw(&TriangleMarker::new((x + 6, row2), 5, INFO_COLOUR.filled()))
            .map_err(fail)?;
        label(area, x + 16, row2, "no answer by the end (top edge)")?;
        Ok(())
    }
}
