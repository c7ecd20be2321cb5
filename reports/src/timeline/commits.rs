//! The commit-index panel: a step line per server, one point per pixel column, so a
//! lagging follower shows as a line below the others.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use sim_core::NodeId;

use super::layout::Layout;
use super::text::{anchored, bold, draw_heading, font, seconds_label};
use super::{HEADING_PX, LEFT_PX, NODE_PALETTE, RIGHT_PX, X_DESC_PX, X_LABELS_PX};
use crate::charts::fail;

impl Layout<'_> {
    pub(super) fn draw_commits<DB: DrawingBackend>(
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
}
