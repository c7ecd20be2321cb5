//! `stale-update-conflicts`: an update whose precondition resourceVersion is older than a
//! write of the object that was answered before the update was sent gets 409 Conflict,
//! never 200. That is optimistic concurrency as Kubernetes states it (API conventions,
//! "Concurrency Control and Consistency": "if the resourceVersion ... does not match, the
//! update is rejected with 409 Conflict"; `registry/generic/registry/store.go` `Update`
//! and the etcd3 store's compare on the mod revision): the precondition names a version
//! the object has left, so the write would lose the one in between.
//!
//! A write "newer than the precondition" is one answered with a resourceVersion above it,
//! or a delete that removed the object at the precondition's version or later (the removal
//! itself took a later revision). Updates and patches with a precondition are judged; the
//! writes they are judged against are the answered ones (an unanswered write showed no
//! version). Deletes with a stale precondition answered 200 are the same mistake and are
//! judged too.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, History, Outcome, RunView};

use crate::api_history::{self, Answer, ApiOp, ApiVerb};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct StaleUpdateConflicts;

impl Check for StaleUpdateConflicts {
    fn name(&self) -> &'static str {
        "stale-update-conflicts"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        stale_update_conflicts(run.history)
    }
}

fn evidence(op: &ApiOp, note: &str) -> Evidence {
    Evidence {
        event: None,
        t_us: Some(op.invoke_us),
        node: Some(op.client),
        note: format!("{note}: {}", op.describe()),
    }
}

/// Whether `w`'s answer shows the object past version `p`.
fn newer_than(w: &ApiOp, p: u64) -> bool {
    match &w.answer {
        Some(Answer::Object { seen, gone: true }) if w.verb == ApiVerb::Delete => {
            seen.resource_version >= p
        }
        Some(Answer::Object { seen, .. }) => seen.resource_version > p,
        _ => false,
    }
}

/// The `stale-update-conflicts` verdict on `history`.
pub fn stale_update_conflicts(history: &History) -> Outcome {
    let ops = match api_history::api_ops(history) {
        Ok(ops) => ops,
        Err(e) => {
            return Outcome::Unknown {
                reason: format!("the history cannot be checked: {e}"),
            }
        }
    };
    let mut by_key: BTreeMap<&str, Vec<&ApiOp>> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.verb.writes()) {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    for writes in by_key.values() {
        for u in writes.iter().filter(|u| {
            matches!(u.verb, ApiVerb::Update | ApiVerb::Patch | ApiVerb::Delete)
                && u.seen().is_some()
        }) {
            let Some(p) = u.precondition else { continue };
            if let Some(w) = writes.iter().find(|w| w.precedes(u) && newer_than(w, p)) {
                return Outcome::violation(
                    format!(
                        "{}: {} on resourceVersion {p} succeeded, though {} had been answered \
                         past that version before it was sent (it should have been 409 Conflict)",
                        u.key, u.op, w.op
                    ),
                    vec![
                        evidence(w, "the newer write"),
                        evidence(u, "the stale write"),
                    ],
                );
            }
        }
    }
    Outcome::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_history::Recorder;

    /// c created at 10 and updated to 12; then an update on version 10 is answered
    /// `answer`.
    fn stale(answer: Result<u64, u64>) -> Outcome {
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update(1, "c", Some(10), "b", Ok(12));
        h.update(2, "c", Some(10), "z", answer);
        stale_update_conflicts(&h.history())
    }

    #[test]
    fn a_stale_update_that_succeeds_is_a_violation() {
        assert_eq!(stale(Err(409)), Outcome::Pass);
        let Outcome::Violation { message, evidence } = stale(Ok(15)) else {
            panic!("expected a violation");
        };
        assert!(message.contains("on resourceVersion 10"), "{message}");
        assert_eq!(evidence.len(), 2);
    }

    #[test]
    fn an_update_racing_the_newer_write_may_win() {
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        let newer = h.begin_update(1, "c", Some(10), "b");
        let racing = h.begin_update(2, "c", Some(10), "z");
        h.complete(
            newer,
            sim_core::OpOutcome::Ok,
            crate::checks::test_history::object(200, 12, "b"),
        );
        h.complete(
            racing,
            sim_core::OpOutcome::Ok,
            crate::checks::test_history::object(200, 13, "z"),
        );
        assert_eq!(stale_update_conflicts(&h.history()), Outcome::Pass);
        // After a delete of the version, an update on it must not succeed either.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.delete(1, "c", 10, "a");
        h.update(2, "c", Some(10), "z", Ok(13));
        assert!(matches!(
            stale_update_conflicts(&h.history()),
            Outcome::Violation { .. }
        ));
        assert_eq!(StaleUpdateConflicts.name(), "stale-update-conflicts");
    }
}
