//! `every-trial-elects` (liveness): every trial of every range elected a new leader
//! within its bound.

use sim_core::{Check, CheckKind, Evidence, Outcome, RunView, SimTime};

use super::{TimeoutRangeMs, Trial};

/// `every-trial-elects` (liveness): every trial of every range ran, and each elected a new
/// leader within its bound of the crash.
pub(super) struct EveryTrialElects<'a> {
    pub(super) trials: &'a [Trial],
    pub(super) unsettled: &'a [(usize, SimTime)],
    pub(super) ranges: &'a [TimeoutRangeMs],
    pub(super) trials_per_range: u64,
    pub(super) bounds_ms: Vec<u64>,
}

impl Check for EveryTrialElects<'_> {
    fn name(&self) -> &'static str {
        "every-trial-elects"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let label = |i: usize| format!("{}-{} ms", self.ranges[i].min_ms, self.ranges[i].max_ms);
        let mut problems: Vec<Evidence> = Vec::new();
        for &(i, at) in self.unsettled {
            problems.push(Evidence::note(format!(
                "range {}: the cluster did not settle by {at}; the range stopped early",
                label(i)
            )));
        }
        for (i, _) in self.ranges.iter().enumerate() {
            let ran = self.trials.iter().filter(|t| t.range == i).count() as u64;
            if ran < self.trials_per_range {
                problems.push(Evidence::note(format!(
                    "range {}: {ran} of {} trials ran",
                    label(i),
                    self.trials_per_range
                )));
            }
        }
        for t in self.trials {
            let bound_us = self.bounds_ms[t.range] * 1000;
            match t.election_us() {
                Some(us) if us <= bound_us => {}
                Some(us) => problems.push(Evidence::note(format!(
                    "range {} trial {}: {} crashed at {}, next leader after {} ms (bound {} ms)",
                    label(t.range),
                    t.trial,
                    t.leader,
                    t.crashed_at,
                    us / 1000,
                    bound_us / 1000
                ))),
                None => problems.push(Evidence::note(format!(
                    "range {} trial {}: {} crashed at {}, no new leader within {} ms",
                    label(t.range),
                    t.trial,
                    t.leader,
                    t.crashed_at,
                    bound_us / 1000
                ))),
            }
        }
        if problems.is_empty() {
            return Outcome::Pass;
        }
        let count = problems.len();
        problems.truncate(10);
        Outcome::violation(
            format!("{count} trial(s) or range(s) without a timely new leader"),
            problems,
        )
    }
}
