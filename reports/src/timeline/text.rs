//! The timeline's text: fonts, the title and the panel headings, and how seconds are
//! printed, shared by every panel so they look alike.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{LEFT_PX, TEXT_COLOUR};
use crate::charts::fail;

pub(super) fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((crate::fonts::FAMILY, size).into_font()).color(&TEXT_COLOUR)
}

pub(super) fn bold(size: u32) -> TextStyle<'static> {
    TextStyle::from(
        (crate::fonts::FAMILY, size)
            .into_font()
            .style(FontStyle::Bold),
    )
    .color(&TEXT_COLOUR)
}

pub(super) fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// `2.5`, `20`, `0.25`: seconds as axis labels print them.
pub(super) fn seconds_label(s: f64) -> String {
    let rounded = (s * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

pub(super) fn draw_title<DB: DrawingBackend>(
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
pub(super) fn draw_heading<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
) -> Result<(), String> {
    area.draw(&Text::new(text.to_string(), (LEFT_PX as i32, 6), bold(13)))
        .map_err(fail)
}
