//! The lanes panel: fault tracks above one lane per server, roles coloured by term,
//! outages on top, and fault bands carried down across the lanes they affect. It returns
//! the time axis the HTML report's cursor follows.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use raft::core::Role;
use sim_core::NodeId;

use super::layout::Layout;
use super::text::{anchored, bold, draw_heading, font, seconds_label};
use super::{
    fault_colour, is_network_fault, term_colour, DOWN_COLOUR, HEADING_PX, LANE_PX, LEFT_PX,
    PAUSED_COLOUR, RIGHT_PX, TEXT_COLOUR, TRACK_PX, WIDTH_PX, X_LABELS_PX,
};
use crate::charts::fail;
use crate::model::OutageKind;
use crate::TimeAxis;

impl Layout<'_> {
    /// Lanes panel: fault rows, then one lane per server; y counts pixels up from the
    /// bottom of the plot, [`Self::y`] turns an offset from the top into it.
    pub(super) fn draw_lanes<DB: DrawingBackend>(
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
}
