//! `linearizable-objects`: the API operations of the history (those kubectl-like clients
//! recorded, [`crate::api_history`]) are linearizable per object, against the
//! [`KubeObject`] specification: resourceVersion is the object's version, a write's is
//! above every earlier one, a quorum read answers the latest state, a stale precondition is
//! a conflict. Kubernetes promises this for requests that reach etcd (API concepts,
//! "Resource versions": a get or list with no resourceVersion is "Most Recent", served by a
//! quorum read; writes go through etcd's compare-and-swap on the mod revision).
//!
//! Reads the API serves from its watch cache promise less, and are judged by what they
//! promise instead, never as linearizability violations (API concepts: resourceVersion
//! `"0"` is "Any", a version is "Not older than"; a list with Exact reads etcd at that
//! revision). Such an answer is "stale but real":
//!
//! - real: the object's version and content in it are ones a write produced: every `ok`
//!   write answered with that resourceVersion answered that content too (a delete answers
//!   the version it removed, a no-op update the version it left, so several may);
//! - not from the future: one of those writes, or a write of the object whose answer never
//!   came (which may have produced it unseen), was invoked before the read completed;
//! - not older than asked: no answered write of the object has a resourceVersion above the
//!   version shown and at most the one asked for (a get) or the list's own revision (a
//!   list, whose items are the state at that revision, which is at least the one asked for,
//!   or exactly it for Exact); a 404 (or an object missing from a list) is wrong when a
//!   write at or below that revision stored it and no delete could have removed it since.
//!
//! A quorum list is a read of every object of its collection at one moment: each object
//! in it becomes a quorum get of that object answered with its item (and, for a list with
//! no selector, each object of the collection the history knows and the list does not
//! have a quorum get answered 404), placed at the list's invocation and completion. That
//! forgets that the list saw all of them at once (it judges each object on its own), so it
//! accepts more than the API could do, and rejects nothing it could.
//!
//! A search that runs out of its step budget is "unknown" (exit 5), never a pass; a history
//! this layer cannot read is "unknown" too, with why.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sim_core::linearizability::{self, Budget, LinResult, DEFAULT_MAX_STEPS};
use sim_core::{
    Check, CheckKind, EntryType, Evidence, History, HistoryEntry, OpId, Outcome, RunView,
};

use super::object_model::KubeObject;
use crate::api_history::{self, Answer, ApiOp, ApiVerb, ReadFrom, Seen, LAYER};

/// See the module docs.
#[derive(Clone, Copy, Debug)]
pub struct LinearizableObjects {
    /// Search steps allowed per object.
    pub max_steps: u64,
}

impl Default for LinearizableObjects {
    /// [`DEFAULT_MAX_STEPS`].
    fn default() -> Self {
        LinearizableObjects {
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

impl Check for LinearizableObjects {
    fn name(&self) -> &'static str {
        "linearizable-objects"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        judge(run.history, &Budget::steps(self.max_steps)).outcome
    }
}

/// What [`judge`] found, with its figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    /// The verdict.
    pub outcome: Outcome,
    /// Operations the linearizability search checked (quorum ones, lists split per object).
    pub searched: usize,
    /// Objects (partitions) searched.
    pub objects: usize,
    /// Search steps taken.
    pub steps: u64,
    /// Reads from the watch cache (or at an Exact revision) judged as stale but real.
    pub cache_reads: usize,
}

/// The `linearizable-objects` verdict on `history` within `budget`.
pub fn judge(history: &History, budget: &Budget<'_>) -> Judged {
    let unknown = |reason: String| Judged {
        outcome: Outcome::Unknown { reason },
        searched: 0,
        objects: 0,
        steps: 0,
        cache_reads: 0,
    };
    let ops = match api_history::api_ops(history) {
        Ok(ops) => ops,
        Err(e) => return unknown(format!("the history cannot be checked: {e}")),
    };
    let cache_reads = ops.iter().filter(|op| served_from_cache(op)).count();
    if let Some(v) = stale_but_real(&ops) {
        return Judged {
            outcome: v,
            searched: 0,
            objects: 0,
            steps: 0,
            cache_reads,
        };
    }
    let quorum = quorum_history(history, &ops);
    let report = match linearizability::check_within(&KubeObject, &quorum, budget) {
        Ok(report) => report,
        Err(e) => return unknown(format!("the history cannot be checked: {e}")),
    };
    let outcome = match report.result {
        LinResult::Linearizable => Outcome::Pass,
        LinResult::Unknown { reason } => Outcome::Unknown { reason },
        LinResult::NotLinearizable(cx) => {
            let mut evidence: Vec<Evidence> = cx
                .ops
                .iter()
                .map(|op| Evidence {
                    event: None,
                    t_us: Some(op.invoke_us),
                    node: Some(op.client),
                    note: op.describe(),
                })
                .collect();
            if let Some(op) = cx.unplaceable {
                evidence.push(Evidence::note(format!(
                    "{op} cannot follow the longest linearizable prefix ({} ops)",
                    cx.linearized_prefix.len()
                )));
            }
            Outcome::violation(cx.message.clone(), evidence)
        }
    };
    Judged {
        outcome,
        searched: report.operations,
        objects: report.partitions,
        steps: report.steps,
        cache_reads,
    }
}

/// Whether `op` is a read the watch cache (or etcd at a past revision) answers.
fn served_from_cache(op: &ApiOp) -> bool {
    !op.verb.writes() && op.read != ReadFrom::Quorum
}

/// Whether `key` names an object (four parts) rather than a collection (three).
fn is_object_key(key: &str) -> bool {
    key.matches('/').count() == 3
}

/// The history the linearizability search reads: the quorum gets and the writes of
/// objects as recorded, and each answered quorum list split into one get per object.
fn quorum_history(history: &History, ops: &[ApiOp]) -> History {
    let by_op: BTreeMap<OpId, &ApiOp> = ops.iter().map(|op| (op.op, op)).collect();
    let objects: BTreeSet<&str> = ops
        .iter()
        .map(|op| op.key.as_str())
        .filter(|k| is_object_key(k))
        .collect();
    let mut next_id = history.entries.iter().map(|e| e.op.0).max().unwrap_or(0) + 1;
    // For each split list: the synthetic gets' ids and answers, by object key.
    let mut split: BTreeMap<OpId, Vec<(OpId, String, Value)>> = BTreeMap::new();
    for op in ops {
        let Some(Answer::List { items, .. }) = &op.answer else {
            continue;
        };
        if op.read != ReadFrom::Quorum {
            continue;
        }
        let filtered = op.invoke_value["filtered"] == true;
        let listed: BTreeMap<String, &Seen> = items
            .iter()
            .map(|(name, seen)| (format!("{}/{name}", op.key), seen))
            .collect();
        let mut gets = Vec::new();
        let prefix = format!("{}/", op.key);
        for key in objects.iter().filter(|k| k.starts_with(&prefix)) {
            let answer = match listed.get(*key) {
                Some(seen) => json!({"code": 200,
                    "resource_version": seen.resource_version.to_string(),
                    "content": seen.content}),
                None if !filtered => json!({"code": 404, "reason": "NotFound"}),
                None => continue,
            };
            gets.push((OpId(next_id), key.to_string(), answer));
            next_id += 1;
        }
        split.insert(op.op, gets);
    }
    let mut entries = Vec::new();
    for e in &history.entries {
        let Some(op) = by_op.get(&e.op) else {
            continue;
        };
        if op.verb == ApiVerb::List {
            let Some(gets) = split.get(&op.op) else {
                continue;
            };
            for (id, key, answer) in gets {
                let value = match e.entry_type {
                    EntryType::Invoke => json!({"layer": LAYER, "resource_version": null}),
                    _ => answer.clone(),
                };
                entries.push(HistoryEntry {
                    op: *id,
                    f: "get".to_string(),
                    key: Some(key.clone()),
                    value,
                    ..e.clone()
                });
            }
            continue;
        }
        if served_from_cache(op) || !is_object_key(&op.key) {
            continue;
        }
        // A create named by its answer: the key the answer gave.
        entries.push(HistoryEntry {
            key: Some(op.key.clone()),
            ..e.clone()
        });
    }
    History { entries }
}

/// One object's answered writes: (resourceVersion, content, op).
fn writes_of<'a>(ops: &'a [ApiOp], key: &str) -> Vec<(u64, &'a Value, &'a ApiOp)> {
    ops.iter()
        .filter(|op| op.verb.writes() && op.key == key)
        .filter_map(|op| op.seen().map(|s| (s.resource_version, &s.content, op)))
        .collect()
}

/// The first cache read that is not stale but real (see the module docs).
fn stale_but_real(ops: &[ApiOp]) -> Option<Outcome> {
    let evidence = |op: &ApiOp, note: &str| Evidence {
        event: None,
        t_us: Some(op.invoke_us),
        node: Some(op.client),
        note: format!("{note}: {}", op.describe()),
    };
    for read in ops.iter().filter(|op| served_from_cache(op)) {
        // (object key, what was seen, the revision it must be current at or after, and
        // whether exactly at it).
        let mut shown: Vec<(String, Option<&Seen>, u64, bool)> = Vec::new();
        match (&read.answer, read.read) {
            (Some(Answer::Object { seen, .. }), from) => {
                let asked = match from {
                    ReadFrom::NotOlderThan(n) | ReadFrom::Exact(n) => n,
                    ReadFrom::Any | ReadFrom::Quorum => 0,
                };
                shown.push((read.key.clone(), Some(seen), asked, false));
            }
            (Some(Answer::NotFound), ReadFrom::NotOlderThan(n) | ReadFrom::Exact(n)) => {
                shown.push((read.key.clone(), None, n, false));
            }
            (
                Some(Answer::List {
                    resource_version,
                    items,
                }),
                from,
            ) => {
                let at = *resource_version;
                let asked = match from {
                    ReadFrom::NotOlderThan(n) | ReadFrom::Exact(n) => n,
                    ReadFrom::Any | ReadFrom::Quorum => 0,
                };
                if at < asked || matches!(from, ReadFrom::Exact(n) if n != at) {
                    return Some(Outcome::violation(
                        format!(
                            "a list of {} asked for resourceVersion {asked} was answered at {at}",
                            read.key
                        ),
                        vec![evidence(read, "the list")],
                    ));
                }
                let listed: BTreeSet<String> = items
                    .iter()
                    .map(|(name, _)| format!("{}/{name}", read.key))
                    .collect();
                for (name, seen) in items {
                    shown.push((format!("{}/{name}", read.key), Some(seen), at, true));
                }
                if read.invoke_value["filtered"] != true {
                    let prefix = format!("{}/", read.key);
                    let known: BTreeSet<&str> = ops
                        .iter()
                        .map(|op| op.key.as_str())
                        .filter(|k| k.starts_with(&prefix) && is_object_key(k))
                        .collect();
                    for key in known.into_iter().filter(|k| !listed.contains(*k)) {
                        shown.push((key.to_string(), None, at, true));
                    }
                }
            }
            _ => {}
        }
        for (key, seen, at, exact) in shown {
            let writes = writes_of(ops, &key);
            let read_end = read.complete_pos.unwrap_or(usize::MAX);
            let Some(seen) = seen else {
                // Absent at revision `at`: wrong if a write at or below it stored the object
                // and no delete that could have removed it since was under way.
                let stored = writes
                    .iter()
                    .filter(|(rv, _, op)| *rv <= at && !(op.verb == ApiVerb::Delete && gone(op)))
                    .max_by_key(|(rv, _, _)| *rv);
                let Some((rv, _, w)) = stored else { continue };
                let removable = ops.iter().any(|d| {
                    d.verb == ApiVerb::Delete
                        && d.key == key
                        && d.invoke_pos < read_end
                        && match &d.answer {
                            None => true,
                            Some(Answer::Object { seen, gone: true }) => {
                                seen.resource_version >= *rv
                            }
                            _ => false,
                        }
                });
                if !removable {
                    return Some(Outcome::violation(
                        format!(
                            "{key} was missing from a cache read at resourceVersion {at}, \
                             though stored at {rv} and never deleted since"
                        ),
                        vec![evidence(w, "stored"), evidence(read, "the read")],
                    ));
                }
                continue;
            };
            let v = seen.resource_version;
            // Every answered write showing version v shows it with the same content (a
            // version has one content; a delete and a no-op update answer it too).
            let showing: Vec<&(u64, &Value, &ApiOp)> =
                writes.iter().filter(|(rv, _, _)| *rv == v).collect();
            if let Some((_, content, w)) = showing.iter().find(|(_, c, _)| **c != seen.content) {
                return Some(Outcome::violation(
                    format!(
                        "a cache read of {key} showed resourceVersion {v} with content {} \
                         which that version never had ({content})",
                        seen.content
                    ),
                    vec![evidence(w, "the write"), evidence(read, "the read")],
                ));
            }
            // Its writer is one of those, or a write whose answer never came: one of them
            // must have been sent before the read was answered.
            let sent_before = showing.iter().any(|(_, _, w)| w.invoke_pos < read_end)
                || ops.iter().any(|w| {
                    w.verb.writes() && w.key == key && w.answer.is_none() && w.invoke_pos < read_end
                });
            if !sent_before {
                let why = match showing.first() {
                    Some(_) => "written by an operation invoked after the read completed",
                    None => "which no write of the object produced",
                };
                let mut proof: Vec<Evidence> = showing
                    .iter()
                    .map(|(_, _, w)| evidence(w, "the write"))
                    .collect();
                proof.push(evidence(read, "the read"));
                return Some(Outcome::violation(
                    format!("a cache read of {key} showed resourceVersion {v}, {why}"),
                    proof,
                ));
            }
            if exact && v > at {
                return Some(Outcome::violation(
                    format!("a list at resourceVersion {at} showed {key} at {v}, a later version"),
                    vec![evidence(read, "the list")],
                ));
            }
            // Superseded by a later version at or below the revision it must be current at.
            if let Some((rv, _, w)) = writes
                .iter()
                .filter(|(rv, _, op)| {
                    *rv > v && *rv <= at && !(op.verb == ApiVerb::Delete && gone(op))
                })
                .min_by_key(|(rv, _, _)| *rv)
            {
                return Some(Outcome::violation(
                    format!(
                        "a cache read of {key} asked for resourceVersion {at} or later showed \
                         version {v}, which version {rv} had replaced by then: older than asked"
                    ),
                    vec![evidence(w, "the newer write"), evidence(read, "the read")],
                ));
            }
        }
    }
    None
}

/// Whether a delete's answer says the object was removed.
fn gone(op: &ApiOp) -> bool {
    matches!(op.answer, Some(Answer::Object { gone: true, .. }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_history::Recorder;

    fn verdict(h: &History) -> Outcome {
        judge(h, &Budget::steps(DEFAULT_MAX_STEPS)).outcome
    }

    /// Client 1 creates `c` at rv 10, updates it to rv 12 on that version; client 2 then
    /// reads it (quorum) and is told `read`.
    fn create_update_read(read: (u64, &str)) -> History {
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update(1, "c", Some(10), "b", Ok(12));
        h.get(2, "c", None, Some(read));
        h.history()
    }

    #[test]
    fn a_quorum_read_of_a_past_version_is_a_violation() {
        assert_eq!(verdict(&create_update_read((12, "b"))), Outcome::Pass);
        let Outcome::Violation { message, evidence } = verdict(&create_update_read((10, "a")))
        else {
            panic!("expected a violation");
        };
        assert!(message.contains("core/configmaps/default/c"), "{message}");
        assert!(
            evidence.iter().any(|e| e.note.contains("get")),
            "{evidence:?}"
        );
    }

    #[test]
    fn a_write_whose_version_does_not_grow_is_a_violation() {
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update(2, "c", None, "b", Ok(8));
        assert!(matches!(verdict(&h.history()), Outcome::Violation { .. }));
    }

    #[test]
    fn an_update_whose_answer_was_lost_may_or_may_not_have_happened() {
        for seen in [(10, "a"), (15, "b")] {
            let mut h = Recorder::default();
            h.create(1, "c", "a", Some(10));
            h.update_unanswered(1, "c", Some(10), "b");
            h.get(2, "c", None, Some(seen));
            assert_eq!(verdict(&h.history()), Outcome::Pass, "{seen:?}");
        }
        // But once a read saw it happen, a later read cannot see it undone.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update_unanswered(1, "c", Some(10), "b");
        h.get(2, "c", None, Some((15, "b")));
        h.get(3, "c", None, Some((10, "a")));
        assert!(matches!(verdict(&h.history()), Outcome::Violation { .. }));
    }

    #[test]
    fn a_stale_cache_read_is_judged_as_stale_but_real_not_as_a_linearizability_violation() {
        // Past but real, at rv "0": fine.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update(1, "c", Some(10), "b", Ok(12));
        h.get(2, "c", Some("0"), Some((10, "a")));
        let judged = judge(&h.history(), &Budget::steps(DEFAULT_MAX_STEPS));
        assert_eq!((judged.outcome, judged.cache_reads), (Outcome::Pass, 1));
        // Not older than 12, yet version 10: older than asked.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update(1, "c", Some(10), "b", Ok(12));
        h.get(2, "c", Some("12"), Some((10, "a")));
        let Outcome::Violation { message, .. } = verdict(&h.history()) else {
            panic!("expected a violation");
        };
        assert!(message.contains("older than asked"), "{message}");
        // A version with a content it never had: not real.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.get(2, "c", Some("0"), Some((10, "z")));
        let Outcome::Violation { message, .. } = verdict(&h.history()) else {
            panic!("expected a violation");
        };
        assert!(message.contains("never had"), "{message}");
    }

    #[test]
    fn a_cache_read_may_not_miss_an_object_or_show_one_from_the_future() {
        // Not found at "not older than 10", though stored at 10 and never deleted.
        let missing = |deleted: bool| {
            let mut h = Recorder::default();
            h.create(1, "c", "a", Some(10));
            if deleted {
                h.delete(1, "c", 10, "a");
            }
            h.get(2, "c", Some("10"), None);
            verdict(&h.history())
        };
        assert_eq!(missing(true), Outcome::Pass);
        let Outcome::Violation { message, .. } = missing(false) else {
            panic!("expected a violation");
        };
        assert!(message.contains("never deleted since"), "{message}");
        // A version written by an update sent after the read was answered.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.get(2, "c", Some("0"), Some((12, "b")));
        h.update(1, "c", Some(10), "b", Ok(12));
        let Outcome::Violation { message, .. } = verdict(&h.history()) else {
            panic!("expected a violation");
        };
        assert!(
            message.contains("invoked after the read completed"),
            "{message}"
        );
        // A version an unanswered create wrote, read from the cache, then deleted: the
        // delete answers the version it removed, after the read, and is not its writer.
        let mut h = Recorder::default();
        h.create(1, "c", "a", None);
        h.get(2, "c", Some("0"), Some((10, "a")));
        h.delete(1, "c", 10, "a");
        assert_eq!(verdict(&h.history()), Outcome::Pass);
        // A list from the cache shows the state at its own revision.
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update(1, "c", Some(10), "b", Ok(12));
        h.list(2, Some("0"), 11, &[("c", 10, "a")]);
        assert_eq!(verdict(&h.history()), Outcome::Pass);
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.update(1, "c", Some(10), "b", Ok(12));
        h.list(2, Some("0"), 13, &[("c", 10, "a")]);
        assert!(matches!(verdict(&h.history()), Outcome::Violation { .. }));
    }

    #[test]
    fn a_quorum_list_is_a_read_of_each_object() {
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.create(1, "d", "x", Some(11));
        h.update(1, "c", Some(10), "b", Ok(12));
        h.list(2, None, 12, &[("c", 12, "b"), ("d", 11, "x")]);
        assert_eq!(verdict(&h.history()), Outcome::Pass);
        let mut h = Recorder::default();
        h.create(1, "c", "a", Some(10));
        h.create(1, "d", "x", Some(11));
        h.update(1, "c", Some(10), "b", Ok(12));
        // The quorum list misses d and shows c's past version.
        h.list(2, None, 12, &[("c", 10, "a")]);
        assert!(matches!(verdict(&h.history()), Outcome::Violation { .. }));
    }

    #[test]
    fn other_layers_operations_are_left_alone() {
        let mut h = create_update_read((12, "b"));
        h.entries.push(HistoryEntry {
            op: OpId(99),
            client: sim_core::NodeId(9),
            entry_type: EntryType::Invoke,
            t_us: sim_core::SimTime(1),
            f: "put".into(),
            key: Some("x".into()),
            value: json!({"value": "1"}),
        });
        assert_eq!(verdict(&h), Outcome::Pass);
        assert_eq!(
            LinearizableObjects::default().name(),
            "linearizable-objects"
        );
    }

    #[test]
    fn an_exhausted_budget_is_unknown() {
        let h = create_update_read((12, "b"));
        assert!(matches!(
            judge(&h, &Budget::steps(1)).outcome,
            Outcome::Unknown { .. }
        ));
    }
}
