//! The vertical scale: instants to y pixels with log-compressed gaps (the parent module's
//! doc says why time is not linear here).

use super::{GAP_MAX_PX, ROW_LOG_PX, ROW_MIN_PX};

/// Maps instants to y pixels with log-compressed gaps (see the module doc).
#[derive(Debug)]
pub(super) struct TimeScale {
    pub(super) times: Vec<u64>,
    pub(super) ys: Vec<f64>,
}

impl TimeScale {
    pub(super) fn new(mut times: Vec<u64>, top_px: f64) -> Self {
        times.sort_unstable();
        times.dedup();
        let mut ys = Vec::with_capacity(times.len());
        let mut y = top_px;
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                y += gap_px(t - times[i - 1]);
            }
            ys.push(y);
        }
        TimeScale { times, ys }
    }

    pub(super) fn y(&self, t_us: u64) -> f64 {
        match self.times.binary_search(&t_us) {
            Ok(i) => self.ys[i],
            Err(0) => self.ys.first().copied().unwrap_or(0.0),
            Err(i) if i >= self.times.len() => self.ys.last().copied().unwrap_or(0.0),
            Err(i) => {
                let (t0, t1) = (self.times[i - 1] as f64, self.times[i] as f64);
                let f = (t_us as f64 - t0) / (t1 - t0);
                self.ys[i - 1] + f * (self.ys[i] - self.ys[i - 1])
            }
        }
    }

    pub(super) fn bottom(&self) -> f64 {
        self.ys.last().copied().unwrap_or(0.0)
    }
}

/// The pixels between two instants `dt_us` apart.
pub(super) fn gap_px(dt_us: u64) -> f64 {
    if dt_us == 0 {
        return 0.0;
    }
    let ms = dt_us as f64 / 1000.0;
    (ROW_MIN_PX + ROW_LOG_PX * (1.0 + ms).log2()).min(GAP_MAX_PX)
}
