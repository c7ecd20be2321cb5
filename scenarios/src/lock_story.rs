//! `lock-safety`'s checks: the story (A stopped past its lease, B took the lock over, A
//! wrote anyway), and `protected-writes-fenced`, which judges only a run in which all three
//! happened.
//!
//! A's stop is read from the trace (its `node-pause` and `node-resume`, or a `clock-skew`
//! fault on it), so a `--faults` file that resumes A early makes the story not happen
//! instead of passing; the holders and writes are what the clients were told by the
//! servers (the lock txns are not in the history: see `lock_safety.rs`).

use std::time::Duration;

use sim_core::{Check, CheckKind, EventKind, Evidence, FaultOp, Outcome, RunView, SimTime};

use crate::lock_safety::{Holder, ProtectedWrite};

/// The Sometimes check that A stopped past its lease.
pub const STOPPED: &str = "holder-stopped-past-lease";
/// The Sometimes check that B took the lock over.
pub const TAKEN_OVER: &str = "lock-taken-over";
/// The Sometimes check that A wrote after B took the lock.
pub const STALE_WROTE: &str = "stale-holder-wrote";

/// Virtual milliseconds (as the story records them) as a time.
fn at_ms(t_ms: f64) -> SimTime {
    SimTime((t_ms * 1000.0) as u64)
}

/// The first holder and the next one with a newer token, if the lock changed hands.
fn first_and_next(holders: &[Holder]) -> Option<(&Holder, &Holder)> {
    let first = holders.first()?;
    let next = holders
        .iter()
        .filter(|h| h.client != first.client && h.fencing_revision > first.fencing_revision)
        .min_by_key(|h| h.fencing_revision)?;
    Some((first, next))
}

/// `holder-stopped-past-lease` (Sometimes): while it held the lock, the first holder was
/// paused for longer than its granted TTL, or its clock was set back by more than it.
#[derive(Clone, Debug)]
pub struct HolderStoppedPastLease {
    /// The lock holders in order.
    pub holders: Vec<Holder>,
}

impl Check for HolderStoppedPastLease {
    fn name(&self) -> &'static str {
        STOPPED
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some(first) = self.holders.first() else {
            return Outcome::not_reached("nobody took the lock");
        };
        let (node, acquired) = (first.client, at_ms(first.acquired_ms));
        let ttl = Duration::from_secs(first.granted_ttl_s);
        let mut paused_at: Option<SimTime> = None;
        for e in run.trace.events.iter().filter(|e| e.t_us >= acquired) {
            match &e.kind {
                EventKind::NodePause if e.node == Some(node) => paused_at = Some(e.t_us),
                EventKind::NodeResume
                | EventKind::NodeCrash { .. }
                | EventKind::NodeStart { .. }
                    if e.node == Some(node) =>
                {
                    let stopped_for = paused_at.take().map(|p| e.t_us.since(p));
                    if stopped_for.is_some_and(|d| d > ttl) {
                        return Outcome::Pass;
                    }
                }
                EventKind::Fault {
                    fault: FaultOp::ClockSkew { node: n, skew_ms },
                } if *n == node
                    && skew_ms.unsigned_abs() > ttl.as_millis() as u64
                    && *skew_ms < 0 =>
                {
                    return Outcome::Pass;
                }
                _ => {}
            }
        }
        if paused_at.is_some_and(|p| run.trace.end_time().since(p) > ttl) {
            return Outcome::Pass;
        }
        Outcome::not_reached(format!(
            "{node} held the lock from {acquired} but was never paused, nor its clock set back, \
             for longer than its lease ({} s)",
            first.granted_ttl_s
        ))
    }
}

/// `lock-taken-over` (Sometimes): the first holder's lock key was deleted (its lease
/// expired) and another client then took the lock with a newer token.
#[derive(Clone, Debug)]
pub struct LockTakenOver {
    /// The lock holders in order.
    pub holders: Vec<Holder>,
}

impl Check for LockTakenOver {
    fn name(&self) -> &'static str {
        TAKEN_OVER
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        match first_and_next(&self.holders) {
            Some((first, next))
                if first
                    .lock_ended_revision
                    .is_some_and(|end| end <= next.fencing_revision) =>
            {
                Outcome::Pass
            }
            Some((first, _)) => Outcome::not_reached(format!(
                "another client took the lock, but the deletion of {:?}'s key was never seen",
                first.who
            )),
            None => Outcome::not_reached("no second client took the lock"),
        }
    }
}

/// `stale-holder-wrote` (Sometimes): the first holder sent a protected write after the
/// next holder had taken the lock: the write fencing must stop.
#[derive(Clone, Debug)]
pub struct StaleHolderWrote {
    /// The lock holders in order.
    pub holders: Vec<Holder>,
    /// The protected writes.
    pub writes: Vec<ProtectedWrite>,
}

impl Check for StaleHolderWrote {
    fn name(&self) -> &'static str {
        STALE_WROTE
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let Some((first, next)) = first_and_next(&self.holders) else {
            return Outcome::not_reached("the lock never changed hands");
        };
        let late = self.writes.iter().any(|w| {
            w.who == first.who
                && w.fencing_revision == first.fencing_revision
                && w.invoked_ms >= next.acquired_ms
        });
        if late {
            Outcome::Pass
        } else {
            Outcome::not_reached(format!(
                "{:?} sent no protected write after {:?} took the lock at {} ms",
                first.who, next.who, next.acquired_ms
            ))
        }
    }
}

/// `protected-writes-fenced` (safety): every write the resource took happened while its
/// writer held the lock, that is at a revision from its fencing token up to (not
/// including) the deletion of its lock key or the next holder's token, whichever is first.
/// A write applied later came from a holder that only believed it held the lock.
#[derive(Clone, Debug)]
pub struct ProtectedWritesFenced {
    /// The lock holders.
    pub holders: Vec<Holder>,
    /// The protected writes.
    pub writes: Vec<ProtectedWrite>,
}

impl ProtectedWritesFenced {
    /// The revision at which the tenure with `token` ended, if it did.
    fn tenure_end(&self, token: u64) -> Option<u64> {
        let own = self
            .holders
            .iter()
            .find(|h| h.fencing_revision == token)
            .and_then(|h| h.lock_ended_revision);
        let next = self
            .holders
            .iter()
            .map(|h| h.fencing_revision)
            .filter(|t| *t > token)
            .min();
        match (own, next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The holder whose tenure covers `revision`.
    fn holder_at(&self, revision: u64) -> Option<&Holder> {
        self.holders
            .iter()
            .filter(|h| h.fencing_revision <= revision)
            .max_by_key(|h| h.fencing_revision)
    }
}

impl Check for ProtectedWritesFenced {
    fn name(&self) -> &'static str {
        "protected-writes-fenced"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    /// Without the story no write came late, and the check would pass having judged
    /// nothing.
    fn needs(&self) -> &[&'static str] {
        &[STOPPED, TAKEN_OVER, STALE_WROTE]
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let mut evidence = Vec::new();
        for w in &self.writes {
            let (Some(true), Some(revision)) = (w.applied, w.revision) else {
                continue;
            };
            let end = self.tenure_end(w.fencing_revision);
            let inside = revision >= w.fencing_revision && end.is_none_or(|e| revision < e);
            if inside {
                continue;
            }
            let holder = self.holder_at(revision).map_or_else(
                || "nobody".to_string(),
                |h| format!("{:?} (fencing revision {})", h.who, h.fencing_revision),
            );
            evidence.push(Evidence::note(format!(
                "{:?} wrote {:?} at revision {revision} with fencing revision {}, whose lock ended at revision {}; the lock then belonged to {holder}",
                w.who,
                w.value,
                w.fencing_revision,
                end.map_or_else(|| "?".into(), |e| e.to_string())
            )));
        }
        if evidence.is_empty() {
            return Outcome::Pass;
        }
        let holders: Vec<String> = self
            .holders
            .iter()
            .map(|h| format!("{:?} from revision {}", h.who, h.fencing_revision))
            .collect();
        Outcome::violation(
            format!(
                "{} protected write(s) landed after the writer had lost the lock; holders: {}",
                evidence.len(),
                holders.join(", ")
            ),
            evidence,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock_safety::Who;
    use sim_core::NodeId;

    fn holder(who: Who, token: u64, ended: Option<u64>) -> Holder {
        Holder {
            who,
            client: NodeId(3),
            lease: 1,
            granted_ttl_s: 5,
            lease_granted_ms: 0.0,
            fencing_revision: token,
            acquired_ms: 0.0,
            lock_ended_revision: ended,
            noticed_loss_ms: None,
        }
    }

    fn write(who: Who, token: u64, revision: Option<u64>) -> ProtectedWrite {
        ProtectedWrite {
            who,
            value: format!("{who:?}"),
            fencing_revision: token,
            fenced: false,
            invoked_ms: 0.0,
            completed_ms: 0.0,
            applied: Some(revision.is_some()),
            revision,
        }
    }

    fn outcome(writes: Vec<ProtectedWrite>) -> Outcome {
        let trace = sim_core::Trace::default();
        let history = sim_core::History::default();
        let view = RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &history,
        };
        ProtectedWritesFenced {
            holders: vec![holder(Who::A, 2, Some(5)), holder(Who::B, 6, None)],
            writes,
        }
        .check(&view)
    }

    #[test]
    fn writes_inside_their_tenure_pass() {
        let ok = vec![
            write(Who::A, 2, Some(3)),
            write(Who::A, 2, Some(4)),
            write(Who::B, 6, Some(7)),
            write(Who::A, 2, None), // a fenced write refused: changed nothing
        ];
        assert!(outcome(ok).is_pass());
    }

    #[test]
    fn a_late_write_of_the_old_holder_is_caught() {
        // After A's key was deleted (revision 5) and before B took the lock.
        assert!(!outcome(vec![write(Who::A, 2, Some(5))]).is_pass());
        // After B took it: the evidence names B as the holder.
        let Outcome::Violation { message, evidence } =
            outcome(vec![write(Who::B, 6, Some(7)), write(Who::A, 2, Some(8))])
        else {
            panic!("expected a violation");
        };
        assert!(message.contains("A from revision 2") && message.contains("B from revision 6"));
        assert!(evidence[0].note.contains("belonged to B"), "{evidence:?}");
    }

    fn story_outcome(check: &dyn Check) -> Outcome {
        let (trace, history) = (sim_core::Trace::default(), sim_core::History::default());
        check.check(&RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &history,
        })
    }

    #[test]
    fn the_lock_changes_hands_only_with_a_second_holder_after_the_first_key_went() {
        let taken = |holders| story_outcome(&LockTakenOver { holders });
        let mut b = holder(Who::B, 6, None);
        b.client = NodeId(4);
        assert!(taken(vec![holder(Who::A, 2, Some(5)), b.clone()]).is_pass());
        assert!(matches!(
            taken(vec![holder(Who::A, 2, Some(5))]),
            Outcome::NotReached { .. }
        ));
        // B's token but no deletion of A's key seen: not this story.
        assert!(matches!(
            taken(vec![holder(Who::A, 2, None), b]),
            Outcome::NotReached { .. }
        ));
    }

    #[test]
    fn a_stale_write_is_one_sent_after_the_next_holder_took_the_lock() {
        let mut b = holder(Who::B, 6, None);
        b.client = NodeId(4);
        b.acquired_ms = 9_000.0;
        let stale = |invoked_ms| {
            let mut w = write(Who::A, 2, None);
            w.invoked_ms = invoked_ms;
            story_outcome(&StaleHolderWrote {
                holders: vec![holder(Who::A, 2, Some(5)), b.clone()],
                writes: vec![w],
            })
        };
        assert!(stale(9_500.0).is_pass());
        assert!(matches!(stale(8_000.0), Outcome::NotReached { .. }));
    }

    #[test]
    fn the_stop_must_outlast_the_lease() {
        use sim_core::{EventId, Trace, TraceEvent};
        let a = NodeId(3);
        let stop = |from_ms: u64, to_ms: u64| {
            let event = |i: u64, ms: u64, kind| TraceEvent {
                id: EventId(i),
                t_us: SimTime::from_ms(ms),
                node: Some(a),
                kind,
            };
            let trace = Trace {
                events: vec![
                    event(0, from_ms, EventKind::NodePause),
                    event(1, to_ms, EventKind::NodeResume),
                    event(2, 20_000, EventKind::RunEnd),
                ],
            };
            let history = sim_core::History::default();
            HolderStoppedPastLease {
                holders: vec![holder(Who::A, 2, None)],
            }
            .check(&RunView {
                seed: 0,
                nodes: &[],
                trace: &trace,
                history: &history,
            })
        };
        // The lease is 5 s.
        assert!(stop(1_000, 9_000).is_pass());
        assert!(matches!(stop(1_000, 4_000), Outcome::NotReached { .. }));
    }
}
