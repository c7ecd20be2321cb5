//! Named checks and the verdict they add up to.
//!
//! A check has a name (`message-accounting`, `election-safety`, `linearizable-kv`) and a
//! kind, as stateright's properties and Antithesis' assertions have:
//!
//! - [`CheckKind::Always`]: a safety property that must hold at every moment;
//! - [`CheckKind::Eventually`]: a liveness property that must hold once faults are really
//!   gone, within a bound the check states;
//! - [`CheckKind::Sometimes`]: the story happened at least once (the partition cut the
//!   leader off, a new leader was elected inside it). A story check whose precondition never
//!   occurred would otherwise pass without having judged anything.
//!
//! Each returns a pass, a violation with evidence (events, times, a message a person can act
//! on), "unknown" when it ran out of its budget, "not applicable" when what it judges did
//! not happen in this run (added faults changed the story), or, for a Sometimes check,
//! "not reached". A check names the Sometimes checks it [`needs`](Check::needs); when one of
//! them is not reached, the verdict marks the dependent check not applicable without running
//! it.
//!
//! The verdict maps to the process exit codes in `DESIGN.md`: 0 pass, 3 safety violation,
//! 4 liveness violation, 5 undecided. A safety violation outranks a liveness one. Exit
//! codes 3 and 4 are for properties of the system under test only: a story that did not
//! happen (not reached, not applicable) is reported as such and is never a violation.

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::ids::{EventId, NodeId};
use crate::time::SimTime;
use crate::trace::Trace;

/// Exit code: every check passed.
pub const EXIT_PASS: i32 = 0;
/// Exit code: bad input or usage.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: a safety (`Always`) check failed.
pub const EXIT_SAFETY: i32 = 3;
/// Exit code: a liveness (`Eventually`) check failed.
pub const EXIT_LIVENESS: i32 = 4;
/// Exit code: a check could not decide within its budget.
pub const EXIT_UNDECIDED: i32 = 5;

/// Safety, liveness, or the story's reachability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// Must hold at every moment (safety).
    Always,
    /// Must come true after faults heal, within a stated bound (liveness).
    Eventually,
    /// Must happen at least once: the scenario's story took place.
    Sometimes,
}

impl CheckKind {
    /// What the kind is called in reports (`safety`, `liveness`, `story`).
    pub fn label(self) -> &'static str {
        match self {
            CheckKind::Always => "safety",
            CheckKind::Eventually => "liveness",
            CheckKind::Sometimes => "story",
        }
    }
}

/// One piece of evidence: an event, a time, and what it shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The event, if the evidence is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventId>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_us: Option<SimTime>,
    /// The node, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// What it shows.
    pub note: String,
}

impl Evidence {
    /// Evidence pointing at a trace event.
    pub fn event(event: &crate::trace::TraceEvent, note: impl Into<String>) -> Self {
        Evidence {
            event: Some(event.id),
            t_us: Some(event.t_us),
            node: event.node,
            note: note.into(),
        }
    }

    /// Evidence that is only a remark.
    pub fn note(note: impl Into<String>) -> Self {
        Evidence {
            event: None,
            t_us: None,
            node: None,
            note: note.into(),
        }
    }
}

/// What a check concluded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// The property held.
    Pass,
    /// It did not.
    Violation {
        /// One line saying what went wrong.
        message: String,
        /// What shows it.
        evidence: Vec<Evidence>,
    },
    /// The check could not decide within its budget.
    Unknown {
        /// Why.
        reason: String,
    },
    /// What the check judges did not happen in this run (the story it depends on was
    /// changed by added faults, or the run healed too late): nothing was judged.
    NotApplicable {
        /// What did not happen.
        reason: String,
    },
    /// A Sometimes check: the story did not happen.
    NotReached {
        /// What was looked for and not found.
        message: String,
    },
}

impl Outcome {
    /// A violation with its evidence.
    pub fn violation(message: impl Into<String>, evidence: Vec<Evidence>) -> Self {
        Outcome::Violation {
            message: message.into(),
            evidence,
        }
    }

    /// Nothing was judged, because `reason` did not happen.
    pub fn not_applicable(reason: impl Into<String>) -> Self {
        Outcome::NotApplicable {
            reason: reason.into(),
        }
    }

    /// A Sometimes check's story did not happen.
    pub fn not_reached(message: impl Into<String>) -> Self {
        Outcome::NotReached {
            message: message.into(),
        }
    }

    /// Whether this is a pass.
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }

    /// Whether this says the story did not happen (not reached, or not applicable).
    pub fn is_story_missing(&self) -> bool {
        matches!(
            self,
            Outcome::NotApplicable { .. } | Outcome::NotReached { .. }
        )
    }

    /// The one-word status reports print (`pass`, `violation`, `unknown`,
    /// `not-applicable`, `not-reached`), as serialized.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Violation { .. } => "violation",
            Outcome::Unknown { .. } => "unknown",
            Outcome::NotApplicable { .. } => "not-applicable",
            Outcome::NotReached { .. } => "not-reached",
        }
    }

    /// The outcome's message, reason or nothing (a pass).
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::Violation { message, .. } | Outcome::NotReached { message } => Some(message),
            Outcome::Unknown { reason } | Outcome::NotApplicable { reason } => Some(reason),
        }
    }
}

/// What checks look at: the run's trace and history.
#[derive(Clone, Copy, Debug)]
pub struct RunView<'a> {
    /// The seed.
    pub seed: u64,
    /// The nodes.
    pub nodes: &'a [NodeId],
    /// The trace.
    pub trace: &'a Trace,
    /// The history.
    pub history: &'a History,
}

/// A named property of a run.
pub trait Check {
    /// Its name, kebab-case, stable (verdicts and docs refer to it).
    fn name(&self) -> &'static str;
    /// Safety, liveness or story.
    fn kind(&self) -> CheckKind;
    /// The Sometimes checks (by name, judged in the same verdict) whose story this check
    /// judges: if one is not reached, this check is not applicable and is not run.
    fn needs(&self) -> &[&'static str] {
        &[]
    }
    /// Judges the run.
    fn check(&self, run: &RunView<'_>) -> Outcome;
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Its kind.
    pub kind: CheckKind,
    /// What it concluded.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The overall judgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every check passed.
    Pass,
    /// A safety check failed.
    SafetyViolation,
    /// A liveness check failed (and no safety check did).
    LivenessViolation,
    /// Some check could not decide (and none failed).
    Undecided,
}

impl Status {
    /// The process exit code for this status.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Pass => EXIT_PASS,
            Status::SafetyViolation => EXIT_SAFETY,
            Status::LivenessViolation => EXIT_LIVENESS,
            Status::Undecided => EXIT_UNDECIDED,
        }
    }
}

/// Every check's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Results in the order the checks ran.
    pub checks: Vec<CheckResult>,
}

impl Verdict {
    /// Runs `checks` over a run. The Sometimes checks run first, so a check that
    /// [`needs`](Check::needs) a story that was not reached is marked not applicable
    /// instead of run; results keep the order of `checks`.
    ///
    /// # Panics
    ///
    /// If a check needs a name that is not a Sometimes check in `checks` (a scenario's
    /// wiring mistake).
    pub fn judge(run: &RunView<'_>, checks: &[&dyn Check]) -> Self {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; checks.len()];
        for (slot, c) in outcomes.iter_mut().zip(checks) {
            if c.kind() == CheckKind::Sometimes {
                *slot = Some(c.check(run));
            }
        }
        for (i, c) in checks.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let missing: Vec<&str> = c
                .needs()
                .iter()
                .copied()
                .filter(|need| {
                    let story = checks
                        .iter()
                        .position(|s| s.kind() == CheckKind::Sometimes && s.name() == *need)
                        .unwrap_or_else(|| {
                            panic!(
                                "{} needs `{need}`, which is not a Sometimes check here",
                                c.name()
                            )
                        });
                    !outcomes[story].as_ref().is_some_and(Outcome::is_pass)
                })
                .collect();
            outcomes[i] = Some(if missing.is_empty() {
                c.check(run)
            } else {
                Outcome::not_applicable(format!(
                    "its story did not happen: {} not reached",
                    missing.join(", ")
                ))
            });
        }
        Verdict {
            checks: checks
                .iter()
                .zip(outcomes)
                .map(|(c, outcome)| CheckResult {
                    name: c.name().to_string(),
                    kind: c.kind(),
                    outcome: outcome.expect("every check is judged"),
                })
                .collect(),
        }
    }

    /// As [`Verdict::judge`], for a run that `stop` may have ended early
    /// ([`crate::Sim::stop_at_first_violation`]): its trace ends at a safety violation,
    /// so the liveness checks, whose bounds ran past the end, are not applicable rather
    /// than judged on a run cut short.
    pub fn judge_until(
        run: &RunView<'_>,
        checks: &[&dyn Check],
        stop: Option<&crate::observe::Stop>,
    ) -> Self {
        let Some(stop) = stop else {
            return Verdict::judge(run, checks);
        };
        let judged: Vec<&dyn Check> = checks
            .iter()
            .copied()
            .filter(|c| c.kind() != CheckKind::Eventually)
            .collect();
        let mut verdict = Verdict::judge(run, &judged);
        let reason = format!(
            "the run stopped at {}'s first violation at {:.3} ms",
            stop.check,
            stop.t_us.as_us() as f64 / 1000.0
        );
        let mut rest = std::mem::take(&mut verdict.checks).into_iter();
        verdict.checks = checks
            .iter()
            .map(|c| match c.kind() {
                CheckKind::Eventually => CheckResult {
                    name: c.name().to_string(),
                    kind: c.kind(),
                    outcome: Outcome::not_applicable(reason.clone()),
                },
                _ => rest.next().expect("one result a judged check"),
            })
            .collect();
        verdict
    }

    /// The checks whose story did not happen: Sometimes checks not reached, and the checks
    /// that were therefore (or for their own reasons) not applicable.
    pub fn stories_missing(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.outcome.is_story_missing())
    }

    /// The overall status: safety violations first, then liveness, then undecided.
    pub fn status(&self) -> Status {
        let failed = |kind| {
            self.checks
                .iter()
                .any(|c| c.kind == kind && matches!(c.outcome, Outcome::Violation { .. }))
        };
        if failed(CheckKind::Always) {
            Status::SafetyViolation
        } else if failed(CheckKind::Eventually) {
            Status::LivenessViolation
        } else if self
            .checks
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Unknown { .. }))
        {
            Status::Undecided
        } else {
            Status::Pass
        }
    }

    /// The check results that are violations or undecided (not a missing story).
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| {
            matches!(
                c.outcome,
                Outcome::Violation { .. } | Outcome::Unknown { .. }
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(kind: CheckKind, outcome: Outcome) -> CheckResult {
        CheckResult {
            name: "x".into(),
            kind,
            outcome,
        }
    }

    #[test]
    fn status_ranks_safety_over_liveness_over_unknown() {
        let bad = || Outcome::violation("no", vec![]);
        let unknown = || Outcome::Unknown {
            reason: "budget".into(),
        };
        let v = |checks| Verdict { checks };
        assert_eq!(v(vec![]).status(), Status::Pass);
        assert_eq!(
            v(vec![
                result(CheckKind::Eventually, bad()),
                result(CheckKind::Always, bad())
            ])
            .status(),
            Status::SafetyViolation
        );
        assert_eq!(
            v(vec![
                result(CheckKind::Always, unknown()),
                result(CheckKind::Eventually, bad())
            ])
            .status(),
            Status::LivenessViolation
        );
        assert_eq!(
            v(vec![result(CheckKind::Always, unknown())]).status(),
            Status::Undecided
        );
        assert_eq!(Status::SafetyViolation.exit_code(), 3);
        assert_eq!(Status::LivenessViolation.exit_code(), 4);
        assert_eq!(Status::Undecided.exit_code(), 5);
        assert_eq!(
            v(vec![
                result(CheckKind::Sometimes, Outcome::not_reached("no partition")),
                result(CheckKind::Always, Outcome::not_applicable("no partition")),
            ])
            .status(),
            Status::Pass,
            "a story that did not happen is not a violation"
        );
    }

    /// A check with a fixed kind, outcome and needs, counting its runs.
    struct Fixed {
        name: &'static str,
        kind: CheckKind,
        outcome: Outcome,
        needs: &'static [&'static str],
        runs: std::cell::Cell<u32>,
    }

    impl Check for Fixed {
        fn name(&self) -> &'static str {
            self.name
        }
        fn kind(&self) -> CheckKind {
            self.kind
        }
        fn needs(&self) -> &[&'static str] {
            self.needs
        }
        fn check(&self, _run: &RunView<'_>) -> Outcome {
            self.runs.set(self.runs.get() + 1);
            self.outcome.clone()
        }
    }

    fn fixed(
        name: &'static str,
        kind: CheckKind,
        outcome: Outcome,
        needs: &'static [&'static str],
    ) -> Fixed {
        Fixed {
            name,
            kind,
            outcome,
            needs,
            runs: std::cell::Cell::new(0),
        }
    }

    fn empty_run<R>(f: impl FnOnce(&RunView<'_>) -> R) -> R {
        let (trace, history) = (Trace::default(), History::default());
        f(&RunView {
            seed: 1,
            nodes: &[],
            trace: &trace,
            history: &history,
        })
    }

    #[test]
    fn a_check_whose_story_was_not_reached_is_not_applicable_and_not_run() {
        let story = fixed(
            "partition-cut-leader-off",
            CheckKind::Sometimes,
            Outcome::not_reached("never"),
            &[],
        );
        let dependent = fixed(
            "majority-keeps-committing",
            CheckKind::Eventually,
            Outcome::violation("would fail", vec![]),
            &["partition-cut-leader-off"],
        );
        // The dependent comes first: Sometimes checks are judged before it regardless.
        let verdict = empty_run(|run| Verdict::judge(run, &[&dependent, &story]));
        assert_eq!(dependent.runs.get(), 0);
        assert_eq!(verdict.checks[0].name, "majority-keeps-committing");
        assert!(matches!(
            verdict.checks[0].outcome,
            Outcome::NotApplicable { .. }
        ));
        assert_eq!(verdict.status(), Status::Pass);
        assert_eq!(verdict.stories_missing().count(), 2);
        assert_eq!(verdict.failures().count(), 0);
    }

    #[test]
    fn a_check_whose_story_happened_is_judged() {
        let story = fixed("cut", CheckKind::Sometimes, Outcome::Pass, &[]);
        let dependent = fixed(
            "keeps-committing",
            CheckKind::Eventually,
            Outcome::violation("no commit", vec![]),
            &["cut"],
        );
        let verdict = empty_run(|run| Verdict::judge(run, &[&story, &dependent]));
        assert_eq!(dependent.runs.get(), 1);
        assert_eq!(verdict.status(), Status::LivenessViolation);
    }

    #[test]
    #[should_panic(expected = "not a Sometimes check")]
    fn needing_an_unknown_story_is_a_wiring_bug() {
        let dependent = fixed("x", CheckKind::Always, Outcome::Pass, &["nowhere"]);
        empty_run(|run| Verdict::judge(run, &[&dependent]));
    }
}
