//! The election-time CDF (`election-cdf`): one line per election-timeout range, log x, as
//! the Raft paper's Figure 16 draws it, from `election_times.csv`.

use super::*;

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

/// The chart of `election_times.csv`.
pub(super) fn chart(bytes: &[u8], png: bool) -> Result<Chart, ReportError> {
    let lines = election_cdf(bytes)?;
    draw_chart(
        "election-cdf",
        "Time to elect a leader after the leader crashes",
        "Each line is one election-timeout range: the further left and the steeper, the faster and more predictable elections are; narrow ranges split votes and drift right.",
        &CdfPicture { lines: &lines },
        png,
    )
}
