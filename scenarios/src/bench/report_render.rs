//! Drawing a run's whole report against simulating and judging the run
//! ([`report_render`]).

use serde::Serialize;

use super::wall_timed;

/// How long a report takes to draw, against the run it draws.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReportTiming {
    /// The scenario.
    pub scenario: String,
    /// Trace events.
    pub events: usize,
    /// Wall seconds to simulate and judge the run (the baseline).
    pub run_secs: f64,
    /// Wall seconds to draw every picture and export.
    pub render_secs: f64,
    /// Bytes written (all artifacts).
    pub bytes: usize,
    /// Files written.
    pub files: usize,
}

impl ReportTiming {
    /// Render time over run time.
    pub fn ratio(&self) -> f64 {
        if self.run_secs > 0.0 {
            self.render_secs / self.run_secs
        } else {
            0.0
        }
    }
}

/// Runs `scenario` with `seed` (timed: the baseline) and draws its report (timed).
///
/// # Panics
///
/// If the scenario is unknown or its report cannot be drawn (both bugs in the benchmark).
pub fn report_render(scenario: &str, seed: u64) -> ReportTiming {
    let file = crate::runner::file_for(scenario, seed, "", &[]).expect("a catalog scenario");
    let prepared = crate::runner::prepare(&file).expect("its defaults are valid");
    let (run, run_secs) = wall_timed(|| crate::runner::execute(&prepared).expect("it runs"));
    let events = run.trace.events.len();
    let folder = crate::output::run_folder(&prepared, run);
    let (artifacts, render_secs) = wall_timed(|| {
        reports::render(&folder, &reports::ReportOptions::default(), "out/bench")
            .expect("the report draws")
    });
    ReportTiming {
        scenario: scenario.to_string(),
        events,
        run_secs,
        render_secs,
        bytes: artifacts.iter().map(|a| a.bytes.len()).sum(),
        files: artifacts.len(),
    }
}
