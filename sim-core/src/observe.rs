//! One way to read a trace as it grows: a cursor, observers that fold it one event at a
//! time, and online checks that judge it as it is written.
//!
//! Supervisors ("kill the leader"), checks and reports all ask what the trace says so far.
//! Folding the whole trace again on every poll costs the square of its length; instead a
//! reader keeps its view between polls and a [`TraceCursor`] remembers how far it has read,
//! so each poll folds only the events written since ([`crate::World::observe`]). A view
//! that is an [`Observer`] reads a finished trace the same way ([`observe_all`]), so a
//! supervisor, a check and a report built on one view agree by construction.
//!
//! An [`OnlineCheck`] is a safety property written as such a fold: it sees one event at a
//! time and speaks at the first event that breaks the property. The same fold judges a
//! finished run (every `OnlineCheck` is a [`Check`], of kind
//! [`CheckKind::Always`]) and, given to [`crate::Sim::stop_at_first_violation`], a run while
//! it happens: the world feeds it each event as it is recorded and ends the run at the
//! first violation, as TigerBeetle's VOPR checks its state after every step, so a fuzzer does
//! not simulate the rest of a seed that has already failed. Only properties that a prefix
//! of the trace can break belong here (a liveness bound or a history check needs the end).

use crate::check::{Check, CheckKind, Evidence, Outcome, RunView};
use crate::ids::EventId;
use crate::time::SimTime;
use crate::trace::{Trace, TraceEvent};

/// How far a reader has read a trace: the index of the next event it has not seen.
///
/// A cursor belongs to one reader and one trace; it only moves forward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceCursor {
    next: usize,
}

impl TraceCursor {
    /// A cursor before the first event.
    pub fn start() -> Self {
        TraceCursor::default()
    }

    /// How many events the reader has seen.
    pub fn position(&self) -> usize {
        self.next
    }

    /// The events after the cursor, moving it past them.
    ///
    /// # Panics
    ///
    /// If `events` is shorter than what the cursor has already read (another trace).
    pub fn advance<'a>(&mut self, events: &'a [TraceEvent]) -> &'a [TraceEvent] {
        assert!(
            self.next <= events.len(),
            "a trace cursor read {} events of a trace that has {}",
            self.next,
            events.len()
        );
        let new = &events[self.next..];
        self.next = events.len();
        new
    }
}

/// A view of the run kept up to date one event at a time.
pub trait Observer {
    /// Folds one more event into the view.
    fn observe(&mut self, event: &TraceEvent);
}

/// Folds every event of `trace` into `view` (a finished run read as it was written).
pub fn observe_all<V: Observer>(view: &mut V, trace: &Trace) {
    for event in &trace.events {
        view.observe(event);
    }
}

/// What an online check found: one line a person can act on, and what shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// What went wrong.
    pub message: String,
    /// What shows it.
    pub evidence: Vec<Evidence>,
}

impl Violation {
    /// A violation with its evidence.
    pub fn new(message: impl Into<String>, evidence: Vec<Evidence>) -> Self {
        Violation {
            message: message.into(),
            evidence,
        }
    }
}

impl From<Violation> for Outcome {
    fn from(v: Violation) -> Self {
        Outcome::violation(v.message, v.evidence)
    }
}

/// A safety property judged one event at a time (see the module docs).
///
/// `Default` is the state before the first event: judging a finished run starts from it.
pub trait OnlineCheck: Default + Send + 'static {
    /// The check's name (`election-safety`), as [`Check::name`].
    const NAME: &'static str;

    /// Folds one more event; the violation, the first time the trace so far breaks the
    /// property. After a violation the check is not asked again.
    fn observe(&mut self, event: &TraceEvent) -> Option<Violation>;
}

/// Judging a finished run: the fold over every event from the start, stopping at the
/// first violation. `self`'s own state is not used, so one value serves any number of runs.
impl<C: OnlineCheck> Check for C {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut fresh = C::default();
        for event in &run.trace.events {
            if let Some(v) = fresh.observe(event) {
                return v.into();
            }
        }
        Outcome::Pass
    }
}

/// An online check behind a pointer, so a world can hold several of different types.
pub trait Monitor: Send {
    /// As [`OnlineCheck::NAME`].
    fn name(&self) -> &'static str;

    /// As [`OnlineCheck::observe`].
    fn observe(&mut self, event: &TraceEvent) -> Option<Violation>;
}

impl<C: OnlineCheck> Monitor for C {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        OnlineCheck::observe(self, event)
    }
}

/// A fresh monitor of check `C`, for [`crate::Sim::stop_at_first_violation`].
pub fn monitor<C: OnlineCheck>() -> Box<dyn Monitor> {
    Box::new(C::default())
}

/// Why a run ended before its supervisor was done: an online check's first violation.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop {
    /// The check that fired.
    pub check: &'static str,
    /// What it found.
    pub violation: Violation,
    /// The event that broke the property (the run ends right after it).
    pub event: EventId,
    /// When.
    pub t_us: SimTime,
}

/// The monitors a world feeds as it records, and the first violation they found.
#[derive(Default)]
pub(crate) struct Monitors {
    checks: Vec<Box<dyn Monitor>>,
    pub(crate) stop: Option<Stop>,
}

impl Monitors {
    pub(crate) fn new(checks: Vec<Box<dyn Monitor>>) -> Self {
        Monitors { checks, stop: None }
    }

    /// Whether any check watches the run (recording skips the feed otherwise).
    pub(crate) fn active(&self) -> bool {
        !self.checks.is_empty() && self.stop.is_none()
    }

    /// Feeds one event to every check; true the first time one fires.
    pub(crate) fn feed(&mut self, event: &TraceEvent) -> bool {
        if self.stop.is_some() {
            return false;
        }
        for check in &mut self.checks {
            if let Some(violation) = check.observe(event) {
                self.stop = Some(Stop {
                    check: check.name(),
                    violation,
                    event: event.id,
                    t_us: event.t_us,
                });
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::trace::EventKind;

    /// A toy property: no node crashes twice.
    #[derive(Default)]
    struct NoSecondCrash {
        crashed: Vec<NodeId>,
    }

    impl OnlineCheck for NoSecondCrash {
        const NAME: &'static str = "no-second-crash";

        fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
            let (EventKind::NodeCrash { .. }, Some(node)) = (&event.kind, event.node) else {
                return None;
            };
            if self.crashed.contains(&node) {
                return Some(Violation::new(
                    format!("{node} crashed twice"),
                    vec![Evidence::event(event, "second crash")],
                ));
            }
            self.crashed.push(node);
            None
        }
    }

    fn crash(id: u64, node: u32) -> TraceEvent {
        TraceEvent {
            id: EventId(id),
            t_us: SimTime(id * 1000),
            node: Some(NodeId(node)),
            kind: EventKind::NodeCrash {
                cause: crate::trace::CrashCause::Kill,
                lost_bytes: 0,
                torn_bytes_kept: 0,
            },
        }
    }

    #[test]
    fn a_cursor_hands_out_each_event_once() {
        let events = vec![crash(0, 1), crash(1, 2), crash(2, 3)];
        let mut cursor = TraceCursor::start();
        assert_eq!(cursor.advance(&events[..2]).len(), 2);
        assert_eq!(cursor.advance(&events[..2]).len(), 0);
        let rest = cursor.advance(&events);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].id, EventId(2));
        assert_eq!(cursor.position(), 3);
    }

    #[test]
    fn the_same_fold_judges_a_finished_run_and_feeds_a_monitor() {
        let trace = Trace {
            events: vec![crash(0, 1), crash(1, 2), crash(2, 1), crash(3, 1)],
        };
        let view = RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &crate::History::default(),
        };
        let outcome = NoSecondCrash::default().check(&view);
        assert_eq!(outcome.message(), Some("n1 crashed twice"));

        let mut monitors = Monitors::new(vec![monitor::<NoSecondCrash>()]);
        let fired: Vec<bool> = trace.events.iter().map(|e| monitors.feed(e)).collect();
        assert_eq!(fired, vec![false, false, true, false]);
        let stop = monitors.stop.clone().expect("the third event breaks it");
        assert_eq!((stop.check, stop.event), ("no-second-crash", EventId(2)));
        assert!(!monitors.active(), "a stopped run feeds no one");
    }
}
