//! The fault-tolerance heat map (`fault-tolerance`): write availability for N nodes and f
//! killed, from `fault_tolerance.csv`.

use super::*;

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

/// The chart of `fault_tolerance.csv`.
pub(super) fn chart(bytes: &[u8], png: bool) -> Result<Chart, ReportError> {
    let cells = fault_tolerance_cells(bytes)?;
    draw_chart(
        "fault-tolerance",
        "Write availability with N members and f of them killed",
        "Green cells accept writes: each row stays green while f is at most (N-1)/2, so an even N tolerates no more failures than N-1.",
        &HeatMapPicture { cells: &cells },
        png,
    )
}
