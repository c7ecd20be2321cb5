//! The linearizability checker's cost per history size ([`linearizability_check`]) on
//! generated 5-client etcd histories of 1k and 10k operations over 10 keys.

use serde::Serialize;

use super::{wall_timed, BenchConfig, BENCH_SEED};

/// One timing of the linearizability checker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CheckerTiming {
    /// Operations in the history.
    pub ops: usize,
    /// Search steps the checker took.
    pub steps: u64,
    /// Wall-clock seconds the check took (generating the history excluded).
    pub wall_secs: f64,
    /// Percent of operations whose outcome was lost (indeterminate).
    pub lost_percent: u32,
    /// Whether it found the history linearizable (it is, by construction).
    pub linearizable: bool,
}

/// Times the `kv` checker on a generated 5-client etcd history of `ops` operations over 10
/// keys with `lost_percent` of outcomes lost, with [`BENCH_SEED`].
pub fn linearizability_check(ops: usize, lost_percent: u32) -> CheckerTiming {
    use sim_core::linearizability::generate::{etcd_kv_history, GenConfig};
    use sim_core::linearizability::{LinResult, ModelKind, DEFAULT_MAX_STEPS};
    let history = etcd_kv_history(&GenConfig {
        ops,
        seed: BENCH_SEED,
        indeterminate_percent: lost_percent,
        ..GenConfig::default()
    });
    let (report, wall_secs) = wall_timed(|| {
        ModelKind::Kv
            .check(&history, DEFAULT_MAX_STEPS)
            .expect("generated histories are well-formed")
    });
    CheckerTiming {
        ops,
        steps: report.steps,
        wall_secs,
        lost_percent,
        linearizable: report.result == LinResult::Linearizable,
    }
}

/// The (operations, percent lost) histories [`run`] times the checker on; the quick
/// configuration (a debug-build smoke test) only the 1k ones.
pub fn checker_cases(cfg: &BenchConfig) -> &'static [(usize, u32)] {
    const ALL: [(usize, u32); 4] = [(1_000, 0), (10_000, 0), (1_000, 2), (10_000, 2)];
    if *cfg == BenchConfig::quick() {
        &[(1_000, 0), (1_000, 2)]
    } else {
        &ALL
    }
}
