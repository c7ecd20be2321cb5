//! The legend under the panels: what each role bar, outage block, fault band and
//! operation colour means.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::layout::Layout;
use super::text::{anchored, font};
use super::{
    fault_colour, term_colour, DOWN_COLOUR, FAIL_COLOUR, INFO_COLOUR, OK_COLOUR, PAUSED_COLOUR,
};
use crate::charts::fail;

impl Layout<'_> {
    pub(super) fn draw_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
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
