//! The story and its checks: every trial ran (`every-trial-ran`), in each the crashed
//! leader stayed down while the other servers held a healthy quorum
//! (`leader-crashed-with-quorum`, read from the trace), and, needing both,
//! `every-trial-elects` (liveness): each elected a new leader within its bound. A range cut
//! short because the cluster never settled is judged by `every-range-settles` (liveness):
//! a failure when every server was healthy and connected all the while, not applicable
//! when an added fault was in force.

use std::time::Duration;

use sim_core::{Check, CheckKind, Evidence, FaultTimeline, NodeId, Outcome, RunView, SimTime};

use super::{TimeoutRangeMs, Trial};

/// The Sometimes check that every range ran its trials.
pub(super) const RAN: &str = "every-trial-ran";
/// The Sometimes check that every trial's crash left a healthy quorum.
pub(super) const CRASHED: &str = "leader-crashed-with-quorum";

fn label(range: &TimeoutRangeMs) -> String {
    format!("{}-{} ms", range.min_ms, range.max_ms)
}

/// `every-trial-ran` (Sometimes): every range settled before each of its trials and ran
/// them all. A cluster that does not settle (an added fault kept a server down) stops its
/// range early: the experiment did not happen, which says nothing about elections.
pub(super) struct EveryTrialRan<'a> {
    pub(super) trials: &'a [Trial],
    pub(super) unsettled: &'a [(usize, SimTime)],
    pub(super) ranges: &'a [TimeoutRangeMs],
    pub(super) trials_per_range: u64,
}

impl Check for EveryTrialRan<'_> {
    fn name(&self) -> &'static str {
        RAN
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let mut missing: Vec<String> = Vec::new();
        for &(i, at) in self.unsettled {
            missing.push(format!(
                "range {}: the cluster did not settle by {at}; the range stopped early",
                label(&self.ranges[i])
            ));
        }
        for (i, range) in self.ranges.iter().enumerate() {
            let ran = self.trials.iter().filter(|t| t.range == i).count() as u64;
            if ran < self.trials_per_range {
                missing.push(format!(
                    "range {}: {ran} of {} trials ran",
                    label(range),
                    self.trials_per_range
                ));
            }
        }
        if missing.is_empty() {
            Outcome::Pass
        } else {
            Outcome::not_reached(missing.join("; "))
        }
    }
}

/// `leader-crashed-with-quorum` (Sometimes): in every trial, from the kill until the next
/// leader (or the bound, if none came), the trace shows the crashed leader down and the
/// other servers holding a healthy quorum without it: the precondition under which Raft
/// promises a new leader.
pub(super) struct LeaderCrashedWithQuorum<'a> {
    pub(super) trials: &'a [Trial],
    pub(super) ranges: &'a [TimeoutRangeMs],
    pub(super) servers: &'a [NodeId],
    pub(super) bounds_ms: Vec<u64>,
}

impl LeaderCrashedWithQuorum<'_> {
    /// Why the trial's story did not happen, if it did not.
    fn missing(&self, timeline: &FaultTimeline, t: &Trial) -> Option<String> {
        let bound_ms = self.bounds_ms[t.range];
        let for_ms = t
            .election_us()
            .map_or(bound_ms, |us| (us / 1000).min(bound_ms));
        let held = timeline
            .first_window(t.crashed_at, for_ms, |s| {
                s.is_down(t.leader)
                    && s.healthy_quorum(self.servers)
                        .is_some_and(|q| !q.contains(&t.leader))
            })
            .is_some_and(|(from, _)| from == t.crashed_at);
        (!held).then(|| {
            format!(
                "range {} trial {}: after {} was killed at {}, the others did not hold a \
                 healthy quorum without it for {for_ms} ms",
                label(&self.ranges[t.range]),
                t.trial,
                t.leader,
                t.crashed_at
            )
        })
    }
}

impl Check for LeaderCrashedWithQuorum<'_> {
    fn name(&self) -> &'static str {
        CRASHED
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        if self.trials.is_empty() {
            return Outcome::not_reached("no trial ran");
        }
        let timeline = FaultTimeline::of(run.trace);
        let missing: Vec<String> = self
            .trials
            .iter()
            .filter_map(|t| self.missing(&timeline, t))
            .collect();
        match missing.as_slice() {
            [] => Outcome::Pass,
            [first, ..] => Outcome::not_reached(format!(
                "{} of {} trials: {first}",
                missing.len(),
                self.trials.len()
            )),
        }
    }
}

/// `every-range-settles` (liveness): no range stopped early for want of a settled cluster
/// (one leader, committed in its term, every log caught up) while every server was healthy
/// and the network whole for the whole settle bound.
pub(super) struct EveryRangeSettles<'a> {
    pub(super) unsettled: &'a [(usize, SimTime)],
    pub(super) ranges: &'a [TimeoutRangeMs],
    pub(super) servers: &'a [NodeId],
    pub(super) bounds_ms: Vec<u64>,
}

impl Check for EveryRangeSettles<'_> {
    fn name(&self) -> &'static str {
        "every-range-settles"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let timeline = FaultTimeline::of(run.trace);
        let mut faulted = Vec::new();
        for &(i, gave_up) in self.unsettled {
            let bound_ms = self.bounds_ms[i];
            let from = SimTime(gave_up.as_us().saturating_sub(bound_ms * 1000));
            let calm = timeline
                .first_window(from, bound_ms, |s| {
                    s.links_whole_and_lossless() && self.servers.iter().all(|n| s.is_healthy(*n))
                })
                .is_some_and(|(start, _)| start == from);
            let range = label(&self.ranges[i]);
            if calm {
                return Outcome::violation(
                    format!(
                        "range {range}: every server was healthy and connected from {from},                          but the cluster had not settled (one leader, committed in its term,                          every log caught up) by {gave_up} ({bound_ms} ms)"
                    ),
                    vec![],
                );
            }
            faulted.push(format!("range {range} (gave up at {gave_up})"));
        }
        if faulted.is_empty() {
            Outcome::Pass
        } else {
            Outcome::not_applicable(format!(
                "faults were in force while {} failed to settle",
                faulted.join(", ")
            ))
        }
    }
}

/// `every-trial-elects` (liveness): each trial elected a new leader within its bound of
/// the crash.
pub(super) struct EveryTrialElects<'a> {
    pub(super) trials: &'a [Trial],
    pub(super) ranges: &'a [TimeoutRangeMs],
    pub(super) bounds_ms: Vec<u64>,
}

impl Check for EveryTrialElects<'_> {
    fn name(&self) -> &'static str {
        "every-trial-elects"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[RAN, CRASHED]
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let mut problems: Vec<Evidence> = Vec::new();
        for t in self.trials {
            let bound = Duration::from_millis(self.bounds_ms[t.range]);
            let range = label(&self.ranges[t.range]);
            match t.election_us().map(Duration::from_micros) {
                Some(took) if took <= bound => {}
                Some(took) => problems.push(Evidence::note(format!(
                    "range {range} trial {}: {} crashed at {}, next leader after {} ms (bound \
                     {} ms)",
                    t.trial,
                    t.leader,
                    t.crashed_at,
                    took.as_millis(),
                    bound.as_millis()
                ))),
                None => problems.push(Evidence::note(format!(
                    "range {range} trial {}: {} crashed at {}, no new leader within {} ms",
                    t.trial,
                    t.leader,
                    t.crashed_at,
                    bound.as_millis()
                ))),
            }
        }
        if problems.is_empty() {
            return Outcome::Pass;
        }
        let count = problems.len();
        problems.truncate(10);
        Outcome::violation(
            format!("{count} trial(s) without a timely new leader"),
            problems,
        )
    }
}
