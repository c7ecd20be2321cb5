//! The disk-stall write latency chart (`write-latency`): every write's latency at its
//! invocation time with the stall bands, from `latency.csv` and `disk_stall.json`.

use super::*;

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

/// The chart of `latency.csv`, with the stalls of `disk_stall.json` if the run has it.
pub(super) fn chart(
    bytes: &[u8],
    stalls_json: Option<&[u8]>,
    png: bool,
) -> Result<Chart, ReportError> {
    let ops = latency_ops(bytes)?;
    let stalls = match stalls_json {
        Some(json) => stall_bands(json)?,
        None => Vec::new(),
    };
    draw_chart(
        "write-latency",
        "Client operation latency over time, with the disk stalls",
        "Writes invoked inside a stall band wait until the disk returns (or leadership moves); outside the bands latency is back to normal.",
        &LatencyPicture {
            ops: &ops,
            stalls: &stalls,
        },
        png,
    )
}
