//! `resource-version-monotonic`: per object, the resourceVersions clients are told by
//! writes grow in real-time order. If write A of an object was answered before write B of
//! it was sent, B's resourceVersion is at least A's, and above it when B stored something
//! new: a create, or a content other than the one A answered. resourceVersion is etcd's
//! mod revision, and etcd's revision only grows (API concepts, "Resource versions": they
//! are compared for equality only by clients, but the server hands them out from one
//! increasing counter; etcd `mvcc/kvstore.go`).
//!
//! Equal is allowed where Kubernetes answers an unchanged object: an update that changes
//! nothing stores nothing and answers the current version (GuaranteedUpdate's short cut),
//! and a delete answers the version it removed, or the marked object as it is.
//!
//! Only answered writes count (`ok` with the object); an unanswered write showed nothing.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, History, Outcome, RunView};

use crate::api_history::{self, ApiOp, ApiVerb};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResourceVersionMonotonic;

impl Check for ResourceVersionMonotonic {
    fn name(&self) -> &'static str {
        "resource-version-monotonic"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        resource_version_monotonic(run.history)
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

/// The `resource-version-monotonic` verdict on `history`.
pub fn resource_version_monotonic(history: &History) -> Outcome {
    let ops = match api_history::api_ops(history) {
        Ok(ops) => ops,
        Err(e) => {
            return Outcome::Unknown {
                reason: format!("the history cannot be checked: {e}"),
            }
        }
    };
    let mut by_key: BTreeMap<&str, Vec<&ApiOp>> = BTreeMap::new();
    for op in ops
        .iter()
        .filter(|op| op.verb.writes() && op.seen().is_some())
    {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    for writes in by_key.values() {
        for b in writes {
            let Some(seen_b) = b.seen() else { continue };
            for a in writes.iter().filter(|a| a.precedes(b)) {
                let Some(seen_a) = a.seen() else { continue };
                let (ra, rb) = (seen_a.resource_version, seen_b.resource_version);
                let new = b.verb == ApiVerb::Create || seen_b.content != seen_a.content;
                if rb < ra || (rb == ra && new) {
                    let why = if rb < ra {
                        "went back"
                    } else {
                        "did not move though the object changed"
                    };
                    return Outcome::violation(
                        format!(
                            "{}: resourceVersion {why}: {} answered {ra}, then {} answered {rb}",
                            b.key, a.op, b.op
                        ),
                        vec![evidence(a, "earlier"), evidence(b, "later")],
                    );
                }
            }
        }
    }
    Outcome::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_history::Recorder;

    #[test]
    fn a_write_answered_below_an_earlier_one_is_a_violation() {
        let run = |second: u64| {
            let mut h = Recorder::default();
            h.create(1, "c", "a", Some(10));
            h.update(2, "c", None, "b", Ok(second));
            resource_version_monotonic(&h.history())
        };
        assert_eq!(run(14), Outcome::Pass);
        let Outcome::Violation { message, evidence } = run(7) else {
            panic!("expected a violation");
        };
        assert!(message.contains("went back"), "{message}");
        assert_eq!(evidence.len(), 2);
        // Same version, new content: it did not move though it changed.
        assert!(matches!(run(10), Outcome::Violation { .. }));
    }

    #[test]
    fn an_unchanged_object_keeps_its_version_and_concurrent_writes_are_free() {
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        // A no-op update answers the current version.
        h.update(2, "c", Some(10), "a", Ok(10));
        // A delete answers the version it removed.
        h.delete(1, "c", 10, "a");
        assert_eq!(resource_version_monotonic(&h.history()), Outcome::Pass);
        // Two overlapping writes may be answered in any order.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        let first = h.begin_update(1, "c", None, "b");
        let second = h.begin_update(2, "c", None, "c");
        h.complete(
            first,
            sim_core::OpOutcome::Ok,
            crate::checks::test_history::object(200, 13, "b"),
        );
        h.complete(
            second,
            sim_core::OpOutcome::Ok,
            crate::checks::test_history::object(200, 12, "c"),
        );
        assert_eq!(resource_version_monotonic(&h.history()), Outcome::Pass);
        assert_eq!(
            ResourceVersionMonotonic.name(),
            "resource-version-monotonic"
        );
    }
}
