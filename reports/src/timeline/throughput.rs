//! The throughput panel: acknowledged operations per second in fixed bins that widen
//! with the run, so a long run keeps about 120 bars.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::layout::Layout;
use super::text::{draw_heading, font, seconds_label};
use super::{HEADING_PX, LEFT_PX, OK_COLOUR, RIGHT_PX, X_LABELS_PX};
use crate::charts::fail;
use crate::model::OpEnd;

impl Layout<'_> {
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

    pub(super) fn draw_throughput<DB: DrawingBackend>(
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
}
