//! The client-operations panel: one point per operation at (invocation, latency),
//! coloured by outcome, unanswered ones as triangles on the top edge.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::layout::Layout;
use super::text::{anchored, draw_heading, font, seconds_label};
use super::{FAIL_COLOUR, HEADING_PX, INFO_COLOUR, LEFT_PX, OK_COLOUR, RIGHT_PX, X_LABELS_PX};
use crate::charts::fail;
use crate::model::OpEnd;

impl Layout<'_> {
    pub(super) fn draw_ops<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
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
}
