//! The etcd capacity charts (`capacity-rtt`, `capacity-fsync`): write latency and
//! throughput against RTT and against fsync latency, from `capacity.csv`.

use super::*;

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

/// The two charts of `capacity.csv`: along RTT and along fsync latency.
pub(super) fn charts(bytes: &[u8], png: bool) -> Result<Vec<Chart>, ReportError> {
    let mut charts = Vec::new();
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
    Ok(charts)
}
