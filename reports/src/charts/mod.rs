//! The scenario charts: pictures of the numbers a scenario measured, drawn with plotters
//! from the data files in its run folder.
//!
//! | data file | chart | what it shows |
//! |---|---|---|
//! | `election_times.csv` (election-timing) | `election-cdf` | CDF of the time to elect, one line per election-timeout range, log x (Raft paper, Figure 16) |
//! | `fault_tolerance.csv` (fault-tolerance-table) | `fault-tolerance` | write availability for N nodes and f killed, with the measured writes in each cell |
//! | `capacity.csv` (etcd-capacity) | `capacity-rtt`, `capacity-fsync` | write latency (p50, p99) and write throughput against RTT, and against fsync latency |
//! | `latency.csv` + `disk_stall.json` (disk-stall) | `write-latency` | every write's latency at its invocation time, with the stall bands |
//!
//! A chart is drawn only when its file is there; a run without any of them has no charts.
//! A file that is there but does not parse is an error naming the file, never a panic:
//! a run folder is user input (it can be edited, truncated or come from another version).
//!
//! One file per chart (`election_cdf.rs`, `fault_tolerance.rs`, `capacity.rs`,
//! `write_latency.rs`), each reading its data file and drawing it; this module holds what
//! they share (the text styles, axis helpers and the CSV reader), and `picture.rs` the
//! plumbing every plotters picture shares, the timeline's too ([`Picture`],
//! [`render_picture`]): draw once to SVG and, when asked, once more to pixels, with the
//! bundled font.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{fonts, ReportError, RunFolder};

mod capacity;
mod election_cdf;
mod fault_tolerance;
mod picture;
mod write_latency;

pub use capacity::{capacity_points, CapacityPoint};
pub use election_cdf::{election_cdf, CdfLine};
pub use fault_tolerance::{fault_tolerance_cells, ToleranceCell};
pub(crate) use picture::{fail, render_picture, Picture};
pub use write_latency::{latency_ops, stall_bands, LatencyOp, StallBand};

/// One chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// File stem (`election-cdf`): the report writes `<name>.svg` and `<name>.png`.
    pub name: String,
    /// Heading.
    pub title: String,
    /// One sentence: what to look at.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG, when asked for.
    pub png: Option<Vec<u8>>,
}

/// Fill of an available fault-tolerance cell, as the SVG writes it.
pub const AVAILABLE_FILL: &str = "#8FD18F";
/// Fill of an unavailable fault-tolerance cell.
pub const UNAVAILABLE_FILL: &str = "#EE8A80";
/// Fill of a cell the sweep did not measure.
pub const UNMEASURED_FILL: &str = "#EEEEEE";
const AVAILABLE: RGBColor = RGBColor(0x8F, 0xD1, 0x8F);
const UNAVAILABLE: RGBColor = RGBColor(0xEE, 0x8A, 0x80);
const UNMEASURED: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);

/// Line colours of the multi-line charts, in series order.
pub const SERIES_PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const TEXT: RGBColor = RGBColor(30, 30, 30);

/// Draws every chart the run's data files allow, in a fixed order.
///
/// # Errors
///
/// [`ReportError::Draw`] naming the data file when one is malformed (missing column, bad
/// number, wrong JSON shape), or when plotters fails.
pub fn render(run: &RunFolder, png: bool) -> Result<Vec<Chart>, ReportError> {
    let mut charts = Vec::new();
    if let Some(bytes) = run.data_file("election_times.csv") {
        charts.push(election_cdf::chart(bytes, png)?);
    }
    if let Some(bytes) = run.data_file("fault_tolerance.csv") {
        charts.push(fault_tolerance::chart(bytes, png)?);
    }
    if let Some(bytes) = run.data_file("capacity.csv") {
        charts.extend(capacity::charts(bytes, png)?);
    }
    if let Some(bytes) = run.data_file("latency.csv") {
        charts.push(write_latency::chart(
            bytes,
            run.data_file("disk_stall.json"),
            png,
        )?);
    }
    Ok(charts)
}

fn draw_chart<P: Picture<Meta = ()>>(
    name: &str,
    title: &str,
    caption: &str,
    picture: &P,
    png: bool,
) -> Result<Chart, ReportError> {
    let rendered = render_picture(name, picture, png)?;
    Ok(Chart {
        name: name.to_string(),
        title: title.to_string(),
        caption: caption.to_string(),
        svg: rendered.svg,
        png: rendered.png,
    })
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((fonts::FAMILY, size).into_font()).color(&TEXT)
}

fn bold(size: u32) -> TextStyle<'static> {
    TextStyle::from((fonts::FAMILY, size).into_font().style(FontStyle::Bold)).color(&TEXT)
}

fn at(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// `0.1`, `2`, `1000`: a log-axis tick without float noise.
fn tick(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// A round power of ten at or below `v`, and one at or above.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = 10f64.powf(lo.max(1e-6).log10().floor());
    let hi = 10f64.powf(hi.max(lo).log10().ceil());
    (lo, if hi <= lo { lo * 10.0 } else { hi })
}

// Reading the data files.

/// A CSV file of plain numbers and words (no quoting: ksim writes none), by column name.
struct Csv<'a> {
    file: &'a str,
    header: Vec<&'a str>,
    rows: Vec<Vec<&'a str>>,
}

fn malformed(file: &str, message: impl Into<String>) -> ReportError {
    ReportError::Draw {
        picture: file.to_string(),
        message: message.into(),
    }
}

impl<'a> Csv<'a> {
    fn parse(file: &'a str, bytes: &'a [u8], required: &[&str]) -> Result<Self, ReportError> {
        let text = std::str::from_utf8(bytes).map_err(|e| malformed(file, e.to_string()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| malformed(file, "empty file (no header line)"))?
            .split(',')
            .map(str::trim)
            .collect();
        for column in required {
            if !header.contains(column) {
                return Err(malformed(
                    file,
                    format!("no column `{column}` in the header `{}`", header.join(",")),
                ));
            }
        }
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            let row: Vec<&str> = line.split(',').map(str::trim).collect();
            if row.len() != header.len() {
                return Err(malformed(
                    file,
                    format!(
                        "line {} has {} fields, the header {}",
                        i + 2,
                        row.len(),
                        header.len()
                    ),
                ));
            }
            rows.push(row);
        }
        Ok(Csv { file, header, rows })
    }

    fn text(&self, row: usize, column: &str) -> &'a str {
        let i = self
            .header
            .iter()
            .position(|c| *c == column)
            .expect("required columns are checked in parse");
        self.rows[row][i]
    }

    fn number(&self, row: usize, column: &str) -> Result<f64, ReportError> {
        self.optional(row, column)?
            .ok_or_else(|| malformed(self.file, format!("line {}: `{column}` is empty", row + 2)))
    }

    /// A number that may be empty (`write_p50_ms` of a point without writes).
    fn optional(&self, row: usize, column: &str) -> Result<Option<f64>, ReportError> {
        let text = self.text(row, column);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(malformed(
                self.file,
                format!("line {}: `{column}` = `{text}` is not a number", row + 2),
            )),
        }
    }

    fn boolean(&self, row: usize, column: &str) -> Result<bool, ReportError> {
        match self.text(row, column) {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(malformed(
                self.file,
                format!(
                    "line {}: `{column}` = `{other}` is not true or false",
                    row + 2
                ),
            )),
        }
    }

    fn count(&self, row: usize, column: &str) -> Result<u64, ReportError> {
        let v = self.number(row, column)?;
        if v < 0.0 || v.fract() != 0.0 {
            return Err(malformed(
                self.file,
                format!("line {}: `{column}` = {v} is not a count", row + 2),
            ));
        }
        Ok(v as u64)
    }
}

fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, text: &str) -> Result<(), String> {
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2, h as i32 / 2),
        at(font(14), HPos::Center, VPos::Center),
    ))
    .map_err(fail)?;
    root.present().map_err(fail)
}
