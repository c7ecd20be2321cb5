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
//! This file also holds the plumbing every plotters picture shares ([`Picture`],
//! [`render_picture`]): draw once to SVG and, when asked, once more to pixels, with the
//! bundled font.
//!
//! # Why one file of this size
//!
//! Each scenario chart (election CDF, fault-tolerance heat map, capacity, stall latency) is
//! a few hundred lines drawn with the same axis, legend and bundled-font helpers here. Still
//! to do: one file per chart behind a `charts/` module, with the helpers in `charts/mod.rs`.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{fonts, ReportError, RunFolder};

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
        let lines = election_cdf(bytes)?;
        charts.push(draw_chart(
            "election-cdf",
            "Time to elect a leader after the leader crashes",
            "Each line is one election-timeout range: the further left and the steeper, the faster and more predictable elections are; narrow ranges split votes and drift right.",
            &CdfPicture { lines: &lines },
            png,
        )?);
    }
    if let Some(bytes) = run.data_file("fault_tolerance.csv") {
        let cells = fault_tolerance_cells(bytes)?;
        charts.push(draw_chart(
            "fault-tolerance",
            "Write availability with N members and f of them killed",
            "Green cells accept writes: each row stays green while f is at most (N-1)/2, so an even N tolerates no more failures than N-1.",
            &HeatMapPicture { cells: &cells },
            png,
        )?);
    }
    if let Some(bytes) = run.data_file("capacity.csv") {
        let points = capacity_points(bytes)?;
        for along in [Along::Rtt, Along::Fsync] {
            let (name, title, caption) = match along {
                Along::Rtt => (
                    "capacity-rtt",
                    "Write latency and throughput against network round trip",
                    "Latency grows with the round trip and throughput falls as 1/RTT; past the election timeout the cluster has no leader and serves nothing.",
                ),
                Along::Fsync => (
                    "capacity-fsync",
                    "Write latency and throughput against fsync latency",
                    "At low RTT the disk dominates: every write waits for fsyncs, so a slow disk costs as much as a slow network.",
                ),
            };
            charts.push(draw_chart(
                name,
                title,
                caption,
                &CapacityPicture {
                    points: &points,
                    along,
                },
                png,
            )?);
        }
    }
    if let Some(bytes) = run.data_file("latency.csv") {
        let ops = latency_ops(bytes)?;
        let stalls = match run.data_file("disk_stall.json") {
            Some(json) => stall_bands(json)?,
            None => Vec::new(),
        };
        charts.push(draw_chart(
            "write-latency",
            "Client operation latency over time, with the disk stalls",
            "Writes invoked inside a stall band wait until the disk returns (or leadership moves); outside the bands latency is back to normal.",
            &LatencyPicture {
                ops: &ops,
                stalls: &stalls,
            },
            png,
        )?);
    }
    Ok(charts)
}

// ---------------------------------------------------------------------------------------
// Plumbing shared by every plotters picture.

/// A picture plotters can draw on any backend (so SVG and PNG come from the same code).
pub(crate) trait Picture {
    /// What drawing learns besides pixels (the timeline's time axis).
    type Meta;
    /// Width and height.
    fn size_px(&self) -> (u32, u32);
    /// Draws on `root` (already sized); errors are plotters' messages.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>)
        -> Result<Self::Meta, String>;
}

/// A plotters error as text.
pub(crate) fn fail(error: impl std::fmt::Display) -> String {
    error.to_string()
}

/// A picture as SVG, optionally PNG, and what drawing it learned.
pub(crate) struct Rendered<M> {
    pub(crate) svg: String,
    pub(crate) png: Option<Vec<u8>>,
    pub(crate) meta: M,
}

/// Draws `picture` to SVG and, if `png`, to an RGB bitmap encoded as PNG.
pub(crate) fn render_picture<P: Picture>(
    name: &str,
    picture: &P,
    png: bool,
) -> Result<Rendered<P::Meta>, ReportError> {
    fonts::ensure_registered();
    let draw_error = |message: String| ReportError::Draw {
        picture: name.to_string(),
        message,
    };
    let (width, height) = picture.size_px();
    let mut svg = String::new();
    let meta = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        picture.draw(&root).map_err(draw_error)?
    };
    let png = if png {
        let mut rgb = vec![0u8; width as usize * height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            picture.draw(&root).map_err(draw_error)?;
        }
        Some(encode_png(&rgb, width, height).map_err(draw_error)?)
    } else {
        None
    };
    Ok(Rendered { svg, png, meta })
}

/// PNG bytes of an RGB buffer, with fixed encoder settings (no timestamps or text chunks),
/// so the same pixels always give the same file.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Default);
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(rgb).map_err(fail)?;
        writer.finish().map_err(fail)?;
    }
    Ok(bytes)
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

// ---------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------
// Election-time CDF.

/// One line of the election CDF: a timeout range and its sorted election times.
#[derive(Clone, Debug, PartialEq)]
pub struct CdfLine {
    /// The range's lower bound, milliseconds.
    pub timeout_min_ms: u64,
    /// Its upper bound.
    pub timeout_max_ms: u64,
    /// Time to elect of every trial that elected, ascending, milliseconds.
    pub election_ms: Vec<f64>,
}

impl CdfLine {
    /// The CDF's steps: after the i-th fastest election, the fraction elected by then.
    /// The last point is exactly 1.0.
    pub fn steps(&self) -> Vec<(f64, f64)> {
        let n = self.election_ms.len() as f64;
        self.election_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| (*ms, (i + 1) as f64 / n))
            .collect()
    }

    fn label(&self) -> String {
        format!(
            "{}\u{2013}{} ms (n={})",
            self.timeout_min_ms,
            self.timeout_max_ms,
            self.election_ms.len()
        )
    }
}

/// Reads `election_times.csv` into one line per timeout range (ordered by range).
///
/// # Errors
///
/// [`ReportError::Draw`] naming the file when it is malformed.
pub fn election_cdf(bytes: &[u8]) -> Result<Vec<CdfLine>, ReportError> {
    const FILE: &str = "election_times.csv";
    let csv = Csv::parse(
        FILE,
        bytes,
        &["timeout_min_ms", "timeout_max_ms", "election_ms"],
    )?;
    let mut ranges: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
    for row in 0..csv.rows.len() {
        let key = (
            csv.count(row, "timeout_min_ms")?,
            csv.count(row, "timeout_max_ms")?,
        );
        let ms = csv.number(row, "election_ms")?;
        if ms < 0.0 {
            return Err(malformed(
                FILE,
                format!("line {}: negative election time {ms}", row + 2),
            ));
        }
        ranges.entry(key).or_default().push(ms);
    }
    Ok(ranges
        .into_iter()
        .map(|((timeout_min_ms, timeout_max_ms), mut election_ms)| {
            election_ms.sort_by(f64::total_cmp);
            CdfLine {
                timeout_min_ms,
                timeout_max_ms,
                election_ms,
            }
        })
        .collect())
}

struct CdfPicture<'a> {
    lines: &'a [CdfLine],
}

impl Picture for CdfPicture<'_> {
    type Meta = ();

    fn size_px(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(fail)?;
        let all = self
            .lines
            .iter()
            .flat_map(|l| l.election_ms.iter().copied());
        let (min, max) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (lo, hi) = if min.is_finite() {
            decades(min.max(0.1), max.max(0.1))
        } else {
            (10.0, 10_000.0)
        };
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Time to elect a new leader (CDF per election-timeout range)",
                bold(16),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
            .map_err(fail)?;
        let ms = |v: &f64| tick(*v);
        let fraction = |v: &f64| format!("{v:.1}");
        chart
            .configure_mesh()
            .x_desc("time without a leader (ms, log scale)")
            .y_desc("cumulative fraction of trials")
            .x_label_formatter(&ms)
            .y_label_formatter(&fraction)
            .y_labels(6)
            .label_style(font(12))
            .axis_desc_style(font(13))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(fail)?;
        if self.lines.iter().all(|l| l.election_ms.is_empty()) {
            return no_data(root, "no trial elected a leader");
        }
        for (i, line) in self.lines.iter().enumerate() {
            let colour = SERIES_PALETTE[i % SERIES_PALETTE.len()];
            // A step function starting at 0 at the fastest election.
            let mut points = Vec::with_capacity(line.election_ms.len() * 2 + 1);
            let mut reached = 0.0;
            for (ms, fraction) in line.steps() {
                let ms = ms.clamp(lo, hi);
                points.push((ms, reached));
                points.push((ms, fraction));
                reached = fraction;
            }
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(fail)?
                .label(line.label())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 2), (x + 18, y + 2)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(font(12))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(fail)?;
        root.present().map_err(fail)
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

// ---------------------------------------------------------------------------------------
// Fault-tolerance heat map.

/// One measured cell of the fault-tolerance table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToleranceCell {
    /// Cluster size.
    pub n: u64,
    /// Members killed.
    pub f: u64,
    /// Majority of `n`.
    pub quorum: u64,
    /// Writes acknowledged after the kills.
    pub writes_ok: u64,
    /// Writes attempted after the kills.
    pub writes_attempted: u64,
    /// Whether writes were available.
    pub available: bool,
}

/// Reads `fault_tolerance.csv`, sorted by (N, f): the order the heat map draws its cells.
///
/// # Errors
///
/// [`ReportError::Draw`] naming the file when it is malformed.
pub fn fault_tolerance_cells(bytes: &[u8]) -> Result<Vec<ToleranceCell>, ReportError> {
    const FILE: &str = "fault_tolerance.csv";
    let csv = Csv::parse(
        FILE,
        bytes,
        &[
            "N",
            "f",
            "quorum",
            "writes_ok",
            "writes_attempted",
            "available",
        ],
    )?;
    let mut cells = Vec::with_capacity(csv.rows.len());
    for row in 0..csv.rows.len() {
        let cell = ToleranceCell {
            n: csv.count(row, "N")?,
            f: csv.count(row, "f")?,
            quorum: csv.count(row, "quorum")?,
            writes_ok: csv.count(row, "writes_ok")?,
            writes_attempted: csv.count(row, "writes_attempted")?,
            available: csv.boolean(row, "available")?,
        };
        if cell.n == 0 || cell.n > 64 || cell.f > cell.n {
            return Err(malformed(
                FILE,
                format!(
                    "line {}: N = {}, f = {} (expected 1 <= N <= 64, f <= N)",
                    row + 2,
                    cell.n,
                    cell.f
                ),
            ));
        }
        cells.push(cell);
    }
    cells.sort_by_key(|c| (c.n, c.f));
    cells.dedup_by_key(|c| (c.n, c.f));
    Ok(cells)
}

struct HeatMapPicture<'a> {
    cells: &'a [ToleranceCell],
}

const CELL_W_PX: i32 = 96;
const CELL_H_PX: i32 = 46;
const ROW_LABEL_PX: i32 = 170;
const HEAT_TOP_PX: i32 = 96;

impl HeatMapPicture<'_> {
    fn sizes(&self) -> (Vec<u64>, u64) {
        let mut ns: Vec<u64> = self.cells.iter().map(|c| c.n).collect();
        ns.sort_unstable();
        ns.dedup();
        let max_f = self.cells.iter().map(|c| c.f).max().unwrap_or(0);
        (ns, max_f)
    }
}

impl Picture for HeatMapPicture<'_> {
    type Meta = ();

    fn size_px(&self) -> (u32, u32) {
        let (ns, max_f) = self.sizes();
        let width = ROW_LABEL_PX + (max_f as i32 + 1) * CELL_W_PX + 40;
        let height = HEAT_TOP_PX + ns.len().max(1) as i32 * CELL_H_PX + 70;
        (width.max(640) as u32, height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(fail)?;
        root.draw(&Text::new(
            "Write availability: N members, f killed",
            (16, 14),
            bold(16),
        ))
        .map_err(fail)?;
        let (ns, max_f) = self.sizes();
        if ns.is_empty() {
            return no_data(root, "the table is empty");
        }
        root.draw(&Text::new(
            "f = members killed \u{2192}",
            (ROW_LABEL_PX, HEAT_TOP_PX - 44),
            font(13),
        ))
        .map_err(fail)?;
        for f in 0..=max_f {
            root.draw(&Text::new(
                format!("f = {f}"),
                (
                    ROW_LABEL_PX + f as i32 * CELL_W_PX + CELL_W_PX / 2,
                    HEAT_TOP_PX - 12,
                ),
                at(bold(13), HPos::Center, VPos::Center),
            ))
            .map_err(fail)?;
        }
        for (row, n) in ns.iter().enumerate() {
            let y = HEAT_TOP_PX + row as i32 * CELL_H_PX;
            let quorum = self
                .cells
                .iter()
                .find(|c| c.n == *n)
                .map_or(n / 2 + 1, |c| c.quorum);
            root.draw(&Text::new(
                format!("N = {n}"),
                (ROW_LABEL_PX - 12, y + CELL_H_PX / 2 - 8),
                at(bold(14), HPos::Right, VPos::Center),
            ))
            .map_err(fail)?;
            root.draw(&Text::new(
                format!("quorum {quorum}, tolerates {}", (n - 1) / 2),
                (ROW_LABEL_PX - 12, y + CELL_H_PX / 2 + 10),
                at(font(11), HPos::Right, VPos::Center),
            ))
            .map_err(fail)?;
            // Columns past N cannot be measured (f <= N); leave them blank.
            for f in 0..=(*n).min(max_f) {
                let x = ROW_LABEL_PX + f as i32 * CELL_W_PX;
                let cell = self.cells.iter().find(|c| c.n == *n && c.f == f);
                let fill = match cell {
                    Some(c) if c.available => AVAILABLE,
                    Some(_) => UNAVAILABLE,
                    None => UNMEASURED,
                };
                root.draw(&Rectangle::new(
                    [(x + 1, y + 1), (x + CELL_W_PX - 1, y + CELL_H_PX - 1)],
                    fill.filled(),
                ))
                .map_err(fail)?;
                let (main, detail) = match cell {
                    Some(c) => (
                        format!("{}/{}", c.writes_ok, c.writes_attempted),
                        if c.available {
                            "available"
                        } else {
                            "unavailable"
                        },
                    ),
                    None => ("\u{2013}".to_string(), "not measured"),
                };
                root.draw(&Text::new(
                    main,
                    (x + CELL_W_PX / 2, y + CELL_H_PX / 2 - 7),
                    at(bold(13), HPos::Center, VPos::Center),
                ))
                .map_err(fail)?;
                root.draw(&Text::new(
                    detail,
                    (x + CELL_W_PX / 2, y + CELL_H_PX / 2 + 10),
                    at(font(10), HPos::Center, VPos::Center),
                ))
                .map_err(fail)?;
            }
        }
        let bottom = HEAT_TOP_PX + ns.len() as i32 * CELL_H_PX + 22;
        root.draw(&Text::new(
            "cell: writes acknowledged / attempted after the kills; green = available, red = not",
            (ROW_LABEL_PX, bottom),
            font(12),
        ))
        .map_err(fail)?;
        root.present().map_err(fail)
    }
}

// ---------------------------------------------------------------------------------------
// etcd capacity.

/// One point of the capacity sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityPoint {
    /// Network round trip, milliseconds.
    pub rtt_ms: f64,
    /// fsync latency, milliseconds.
    pub fsync_ms: f64,
    /// Acknowledged writes per second.
    pub writes_per_s: f64,
    /// Median write latency (none without writes).
    pub write_p50_ms: Option<f64>,
    /// 99th percentile write latency.
    pub write_p99_ms: Option<f64>,
    /// Leaders elected in the window.
    pub leader_changes: u64,
}

/// Reads `capacity.csv`.
///
/// # Errors
///
/// [`ReportError::Draw`] naming the file when it is malformed.
pub fn capacity_points(bytes: &[u8]) -> Result<Vec<CapacityPoint>, ReportError> {
    let csv = Csv::parse(
        "capacity.csv",
        bytes,
        &[
            "rtt_ms",
            "fsync_ms",
            "writes_per_s",
            "write_p50_ms",
            "write_p99_ms",
            "leader_changes",
        ],
    )?;
    (0..csv.rows.len())
        .map(|row| {
            Ok(CapacityPoint {
                rtt_ms: csv.number(row, "rtt_ms")?,
                fsync_ms: csv.number(row, "fsync_ms")?,
                writes_per_s: csv.number(row, "writes_per_s")?,
                write_p50_ms: csv.optional(row, "write_p50_ms")?,
                write_p99_ms: csv.optional(row, "write_p99_ms")?,
                leader_changes: csv.count(row, "leader_changes")?,
            })
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Along {
    Rtt,
    Fsync,
}

struct CapacityPicture<'a> {
    points: &'a [CapacityPoint],
    along: Along,
}

/// A float as a map key (the sweep's values are finite).
fn key(v: f64) -> u64 {
    (v * 1000.0).round() as u64
}

impl CapacityPicture<'_> {
    /// The x value and the series value (the other swept parameter) of a point.
    fn split(&self, p: &CapacityPoint) -> (f64, f64) {
        match self.along {
            Along::Rtt => (p.rtt_ms, p.fsync_ms),
            Along::Fsync => (p.fsync_ms, p.rtt_ms),
        }
    }

    /// Points grouped by series value, each sorted by x.
    fn series(&self) -> Vec<(f64, Vec<&CapacityPoint>)> {
        let mut groups: BTreeMap<u64, (f64, Vec<&CapacityPoint>)> = BTreeMap::new();
        for p in self.points {
            let (_, s) = self.split(p);
            groups.entry(key(s)).or_insert((s, Vec::new())).1.push(p);
        }
        groups
            .into_values()
            .map(|(s, mut ps)| {
                ps.sort_by(|a, b| self.split(a).0.total_cmp(&self.split(b).0));
                (s, ps)
            })
            .collect()
    }
}

impl Picture for CapacityPicture<'_> {
    type Meta = ();

    fn size_px(&self) -> (u32, u32) {
        (1000, 820)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(fail)?;
        let (x_name, series_name) = match self.along {
            Along::Rtt => ("network round trip (ms, log scale)", "fsync"),
            Along::Fsync => ("fsync latency (ms, log scale)", "RTT"),
        };
        let (top, bottom) = root.split_vertically(470);
        let series = self.series();
        let xs = self.points.iter().map(|p| self.split(p).0);
        let (x_min, x_max) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !x_min.is_finite() {
            return no_data(root, "the sweep has no points");
        }
        let (x_lo, x_hi) = decades(x_min, x_max);
        let latencies = self
            .points
            .iter()
            .flat_map(|p| [p.write_p50_ms, p.write_p99_ms])
            .flatten();
        let (l_min, l_max) = latencies.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (l_lo, l_hi) = if l_min.is_finite() {
            decades(l_min.max(0.01), l_max.max(0.01))
        } else {
            (1.0, 1000.0)
        };
        let ms = |v: &f64| tick(*v);
        let mut latency = ChartBuilder::on(&top)
            .caption(
                format!(
                    "Write latency: p50 (solid) and p99 (dashed), one colour per {series_name}"
                ),
                bold(15),
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (l_lo..l_hi).log_scale())
            .map_err(fail)?;
        latency
            .configure_mesh()
            .x_desc(x_name)
            .y_desc("write latency (ms, log scale)")
            .x_label_formatter(&ms)
            .y_label_formatter(&ms)
            .label_style(font(12))
            .axis_desc_style(font(13))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(fail)?;
        for (i, (s, points)) in series.iter().enumerate() {
            let colour = SERIES_PALETTE[i % SERIES_PALETTE.len()];
            let p50: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|p| Some((self.split(p).0, p.write_p50_ms?.max(l_lo))))
                .collect();
            let p99: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|p| Some((self.split(p).0, p.write_p99_ms?.max(l_lo))))
                .collect();
            latency
                .draw_series(LineSeries::new(p50.clone(), colour.stroke_width(2)))
                .map_err(fail)?
                .label(format!("{series_name} {} ms", tick(*s)))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 2), (x + 18, y + 2)], colour.filled())
                });
            latency
                .draw_series(p50.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map_err(fail)?;
            latency
                .draw_series(DashedLineSeries::new(p99, 6, 4, colour.stroke_width(1)))
                .map_err(fail)?;
        }
        latency
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(11))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(fail)?;

        let max_rate = self
            .points
            .iter()
            .map(|p| p.writes_per_s)
            .fold(0.0, f64::max);
        let mut throughput = ChartBuilder::on(&bottom)
            .caption(
                format!("Write throughput (acknowledged writes per second), one colour per {series_name}"),
                bold(15),
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), 0.0..(max_rate * 1.1).max(1.0))
            .map_err(fail)?;
        let rate = |v: &f64| format!("{v:.0}");
        throughput
            .configure_mesh()
            .x_desc(x_name)
            .y_desc("writes / s")
            .x_label_formatter(&ms)
            .y_label_formatter(&rate)
            .label_style(font(12))
            .axis_desc_style(font(13))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(fail)?;
        for (i, (_, points)) in series.iter().enumerate() {
            let colour = SERIES_PALETTE[i % SERIES_PALETTE.len()];
            let line: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (self.split(p).0, p.writes_per_s))
                .collect();
            throughput
                .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))
                .map_err(fail)?;
            throughput
                .draw_series(line.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map_err(fail)?;
        }
        root.present().map_err(fail)
    }
}

// ---------------------------------------------------------------------------------------
// Latency over time with stall bands (disk-stall).

/// One client operation of `latency.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyOp {
    /// Invocation time, milliseconds.
    pub t_ms: f64,
    /// Function (`put`, `get`).
    pub f: String,
    /// Latency, milliseconds.
    pub latency_ms: f64,
    /// `ok`, `fail` or `info`.
    pub outcome: String,
}

/// Reads `latency.csv`.
///
/// # Errors
///
/// [`ReportError::Draw`] naming the file when it is malformed.
pub fn latency_ops(bytes: &[u8]) -> Result<Vec<LatencyOp>, ReportError> {
    let csv = Csv::parse(
        "latency.csv",
        bytes,
        &["t_ms", "f", "latency_ms", "outcome"],
    )?;
    (0..csv.rows.len())
        .map(|row| {
            Ok(LatencyOp {
                t_ms: csv.number(row, "t_ms")?,
                f: csv.text(row, "f").to_string(),
                latency_ms: csv.number(row, "latency_ms")?,
                outcome: csv.text(row, "outcome").to_string(),
            })
        })
        .collect()
}

/// A disk stall from `disk_stall.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct StallBand {
    /// The stalled node, as named in the file (`n1`).
    pub node: String,
    /// Start, milliseconds.
    pub start_ms: f64,
    /// End, milliseconds.
    pub end_ms: f64,
}

/// Reads the `stalls` of `disk_stall.json`.
///
/// # Errors
///
/// [`ReportError::Draw`] naming the file when it is not JSON or a stall lacks its bounds.
pub fn stall_bands(bytes: &[u8]) -> Result<Vec<StallBand>, ReportError> {
    const FILE: &str = "disk_stall.json";
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(FILE, e.to_string()))?;
    let Some(stalls) = json.get("stalls") else {
        return Ok(Vec::new());
    };
    let stalls = stalls
        .as_array()
        .ok_or_else(|| malformed(FILE, "`stalls` is not a list"))?;
    stalls
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let number = |name: &str| {
                s.get(name)
                    .and_then(serde_json::Value::as_f64)
                    .ok_or_else(|| {
                        malformed(
                            FILE,
                            format!("stalls[{i}].{name} is missing or not a number"),
                        )
                    })
            };
            let node = match s.get("node") {
                Some(serde_json::Value::String(name)) => name.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            Ok(StallBand {
                node,
                start_ms: number("start_ms")?,
                end_ms: number("end_ms")?,
            })
        })
        .collect()
}

struct LatencyPicture<'a> {
    ops: &'a [LatencyOp],
    stalls: &'a [StallBand],
}

impl Picture for LatencyPicture<'_> {
    type Meta = ();

    fn size_px(&self) -> (u32, u32) {
        (1100, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(fail)?;
        let end_ms = self
            .ops
            .iter()
            .map(|o| o.t_ms + o.latency_ms)
            .chain(self.stalls.iter().map(|s| s.end_ms))
            .fold(1.0, f64::max);
        let (l_min, l_max) = self
            .ops
            .iter()
            .map(|o| o.latency_ms.max(0.001))
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let (lo, hi) = if l_min.is_finite() {
            decades(l_min, l_max * 1.5)
        } else {
            (1.0, 1000.0)
        };
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Client operation latency at invocation time (shaded: disk stalls)",
                bold(16),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..end_ms / 1000.0, (lo..hi).log_scale())
            .map_err(fail)?;
        let ms = |v: &f64| tick(*v);
        chart
            .configure_mesh()
            .x_desc("virtual time (s)")
            .y_desc("latency (ms, log scale)")
            .y_label_formatter(&ms)
            .label_style(font(12))
            .axis_desc_style(font(13))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(fail)?;
        let band = RGBColor(140, 109, 49);
        for stall in self.stalls {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(stall.start_ms / 1000.0, lo), (stall.end_ms / 1000.0, hi)],
                    band.mix(0.18).filled(),
                )))
                .map_err(fail)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("stall {}", stall.node),
                    (stall.start_ms / 1000.0, hi),
                    at(font(11), HPos::Left, VPos::Top),
                )))
                .map_err(fail)?;
        }
        for (outcome, colour, label) in [
            ("ok", RGBColor(44, 160, 44), "ok"),
            ("info", RGBColor(140, 140, 140), "indeterminate (timed out)"),
            ("fail", RGBColor(214, 39, 40), "failed"),
        ] {
            chart
                .draw_series(self.ops.iter().filter(|o| o.outcome == outcome).map(|o| {
                    Circle::new(
                        (o.t_ms / 1000.0, o.latency_ms.clamp(lo, hi)),
                        3,
                        colour.mix(0.75).filled(),
                    )
                }))
                .map_err(fail)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(12))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(fail)?;
        root.present().map_err(fail)
    }
}
