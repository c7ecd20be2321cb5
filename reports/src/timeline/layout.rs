//! What the timeline decides before drawing: the picture's height, each fault's row, the
//! operations' sampling stride; and the order its panels are drawn in.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::text::{draw_title, seconds_label};
use super::{
    COMMIT_PLOT_PX, HEADING_PX, LANE_PX, LEFT_PX, LEGEND_PX, MAX_OP_POINTS, MAX_TRACKS,
    OPS_PLOT_PX, RIGHT_PX, THROUGHPUT_PLOT_PX, TITLE_PX, TRACK_PX, WIDTH_PX, X_DESC_PX,
    X_LABELS_PX,
};
use crate::charts::{fail, Picture};
use crate::model::RunModel;
use crate::TimeAxis;

/// Everything decided before drawing: sizes, fault rows, sampling.
pub(super) struct Layout<'a> {
    pub(super) model: &'a RunModel,
    pub(super) title: String,
    pub(super) subtitle: String,
    pub(super) end_us: u64,
    /// The fault row of each fault span (same order as `model.faults`).
    pub(super) fault_rows: Vec<usize>,
    /// How many fault rows there are (at least one, so the panel keeps its shape).
    pub(super) tracks: usize,
    /// Every `op_stride`-th operation is drawn.
    pub(super) op_stride: usize,
    pub(super) height_px: u32,
    pub(super) lanes_panel_px: u32,
}

impl<'a> Layout<'a> {
    pub(super) fn new(model: &'a RunModel, title: &str) -> Self {
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

impl Layout<'_> {
    pub(super) fn x_range(&self) -> std::ops::Range<f64> {
        0.0..self.end_us as f64
    }
}
