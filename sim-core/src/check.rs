//! Named checks and the verdict they add up to.
//!
//! A check has a name (`message-accounting`, `election-safety`, `linearizable-kv`) and a
//! kind: [`CheckKind::Always`] for safety properties that must hold at every moment, and
//! [`CheckKind::Eventually`] for liveness properties that must hold once faults heal, within
//! a bound the check states. Each returns a pass, a violation with evidence (events, times,
//! a message a person can act on), or "unknown" when it ran out of its budget.
//!
//! The verdict maps to the process exit codes in `DESIGN.md`: 0 pass, 3 safety violation,
//! 4 liveness violation, 5 undecided. A safety violation outranks a liveness one.

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

/// Safety or liveness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// Must hold at every moment (safety).
    Always,
    /// Must come true after faults heal, within a stated bound (liveness).
    Eventually,
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
}

impl Outcome {
    /// A violation with its evidence.
    pub fn violation(message: impl Into<String>, evidence: Vec<Evidence>) -> Self {
        Outcome::Violation {
            message: message.into(),
            evidence,
        }
    }

    /// Whether this is a pass.
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
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
    /// Safety or liveness.
    fn kind(&self) -> CheckKind;
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
    /// Runs `checks` over a run.
    pub fn judge(run: &RunView<'_>, checks: &[&dyn Check]) -> Self {
        Verdict {
            checks: checks
                .iter()
                .map(|c| CheckResult {
                    name: c.name().to_string(),
                    kind: c.kind(),
                    outcome: c.check(run),
                })
                .collect(),
        }
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

    /// The check results that are not passes.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.outcome.is_pass())
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
    }
}
