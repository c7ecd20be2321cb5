//! `watch-no-gap`: every watch stream is ordered, atomic per revision, free of duplicates,
//! and misses no acknowledged write.
//!
//! Reads the watches from the trace (`watch-open`, then the client's `watch-delivery`
//! events for that watch) and the writes from the history (ok `put`, `delete` that deleted,
//! `cas` that swapped, each with the revision it created). For each stream:
//!
//! - **ordered, no duplicate, atomic**: revisions never go back within a delivery, and each
//!   delivery starts above the last revision of the one before. A revision split over two
//!   deliveries, or sent twice, breaks this.
//! - **no gap**: every acknowledged write to a watched key, at a revision from the watch's
//!   start up to the last revision the stream has reported on (its last change, or the
//!   header of a progress notification, which promises nothing changed up to there), was
//!   delivered, with the same key.
//!
//! Writes whose outcome is unknown have no known revision and are not required; a stream
//! the server canceled (compaction) is judged up to its end.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::{Check, CheckKind, EntryType, Evidence, NodeId, OpId, Outcome, RunView, TraceEvent};

use crate::etcd::events::EtcdEvent;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct WatchNoGap;

/// One watch stream as the trace shows it.
struct Stream<'a> {
    open: &'a TraceEvent,
    key: String,
    range_end: Option<String>,
    start_revision: u64,
    /// Highest revision covered so far (changes or progress).
    covered: u64,
    /// Last change revision delivered.
    last_change: u64,
    /// Delivered (revision, key).
    delivered: BTreeSet<(u64, String)>,
    canceled: bool,
}

impl Stream<'_> {
    fn contains(&self, key: &str) -> bool {
        match &self.range_end {
            None => key == self.key,
            Some(end) => key >= self.key.as_str() && key < end.as_str(),
        }
    }
}

/// An acknowledged write: who, which key, which revision.
struct Write {
    op: OpId,
    client: NodeId,
    key: String,
    revision: u64,
}

fn acknowledged_writes(run: &RunView<'_>) -> Vec<Write> {
    run.history
        .entries
        .iter()
        .filter(|e| e.entry_type == EntryType::Ok)
        .filter(|e| match e.f.as_str() {
            "put" => true,
            "delete" => e.value["deleted"].as_u64().unwrap_or(0) > 0,
            "cas" => e.value["succeeded"].as_bool() == Some(true),
            _ => false,
        })
        .filter_map(|e| {
            Some(Write {
                op: e.op,
                client: e.client,
                key: e.key.clone()?,
                revision: e.value["revision"].as_u64()?,
            })
        })
        .collect()
}

impl Check for WatchNoGap {
    fn name(&self) -> &'static str {
        "watch-no-gap"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut streams: BTreeMap<(NodeId, u64), Stream<'_>> = BTreeMap::new();
        for event in &run.trace.events {
            let Some(node) = event.node else { continue };
            match event.layer::<EtcdEvent>() {
                Some(EtcdEvent::WatchOpen {
                    watch,
                    key,
                    range_end,
                    start_revision,
                    ..
                }) => {
                    streams.insert(
                        (node, *watch),
                        Stream {
                            open: event,
                            key: key.clone(),
                            range_end: range_end.clone(),
                            start_revision: *start_revision,
                            covered: start_revision.saturating_sub(1),
                            last_change: 0,
                            delivered: BTreeSet::new(),
                            canceled: false,
                        },
                    );
                }
                Some(EtcdEvent::WatchDelivery {
                    watch,
                    header_revision,
                    changes,
                    canceled,
                }) => {
                    let Some(stream) = streams.get_mut(&(node, *watch)) else {
                        return Outcome::violation(
                            format!(
                                "{node} got a delivery for watch {watch}, which it never opened"
                            ),
                            vec![Evidence::event(event, "this delivery")],
                        );
                    };
                    if stream.canceled {
                        return Outcome::violation(
                            format!("watch {watch} of {node} delivered after it was canceled"),
                            vec![Evidence::event(event, "this delivery")],
                        );
                    }
                    if *canceled {
                        stream.canceled = true;
                        continue;
                    }
                    // Across deliveries: strictly above the last revision delivered (a
                    // revision split over two deliveries, or sent twice, fails here).
                    // Within one: never back, and no (revision, key) twice.
                    let mut previous = stream.last_change;
                    let mut within = BTreeSet::new();
                    for (i, change) in changes.iter().enumerate() {
                        let fine = if i == 0 {
                            change.revision > previous
                        } else {
                            change.revision >= previous
                                && !within.contains(&(change.revision, change.key.as_str()))
                        };
                        if !fine || change.revision < stream.start_revision {
                            return Outcome::violation(
                                format!(
                                    "watch {watch} of {node} delivered revision {} ({}) out of order, twice or split from its revision (after revision {previous})",
                                    change.revision, change.key
                                ),
                                vec![
                                    Evidence::event(stream.open, "the watch opened here"),
                                    Evidence::event(event, "this delivery"),
                                ],
                            );
                        }
                        if !stream.contains(&change.key) {
                            return Outcome::violation(
                                format!(
                                    "watch {watch} of {node} delivered {}, which it does not watch",
                                    change.key
                                ),
                                vec![Evidence::event(event, "this delivery")],
                            );
                        }
                        within.insert((change.revision, change.key.as_str()));
                        stream
                            .delivered
                            .insert((change.revision, change.key.clone()));
                        previous = change.revision;
                    }
                    stream.last_change = previous;
                    stream.covered = stream.covered.max(previous).max(if changes.is_empty() {
                        *header_revision
                    } else {
                        0
                    });
                }
                _ => {}
            }
        }
        let writes = acknowledged_writes(run);
        for ((node, watch), stream) in &streams {
            for w in &writes {
                let due = w.revision >= stream.start_revision
                    && w.revision <= stream.covered
                    && stream.contains(&w.key);
                if due && !stream.delivered.contains(&(w.revision, w.key.clone())) {
                    return Outcome::violation(
                        format!(
                            "watch {watch} of {node} skipped revision {} ({} by {} of {}), though it reported up to revision {}",
                            w.revision, w.key, w.op, w.client, stream.covered
                        ),
                        vec![Evidence::event(stream.open, "the watch opened here")],
                    );
                }
            }
        }
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::{EventId, EventKind, History, HistoryEntry, SimTime, Trace};

    use crate::etcd::events::WatchChange;

    const WATCHER: NodeId = NodeId(9);

    fn event(id: usize, kind: EventKind) -> TraceEvent {
        TraceEvent {
            id: EventId(id as u64),
            t_us: SimTime(id as u64 * 1_000),
            node: Some(WATCHER),
            kind,
        }
    }

    fn open(start_revision: u64) -> EventKind {
        EventKind::layer(EtcdEvent::WatchOpen {
            watch: 1,
            key: "k".into(),
            range_end: Some("l".into()),
            start_revision,
            server: NodeId(1),
        })
    }

    /// A delivery of `(revision, key)` changes; none is a progress notification at
    /// `header`.
    fn delivery(header: u64, changes: &[(u64, &str)]) -> EventKind {
        EventKind::layer(EtcdEvent::WatchDelivery {
            watch: 1,
            header_revision: header,
            changes: changes
                .iter()
                .map(|(revision, key)| WatchChange {
                    key: key.to_string(),
                    revision: *revision,
                    deleted: false,
                    value: format!("v{revision}"),
                })
                .collect(),
            canceled: false,
        })
    }

    /// Acknowledged puts of `(revision, key)`.
    fn puts(writes: &[(u64, &str)]) -> History {
        let mut entries = Vec::new();
        for (i, (revision, key)) in writes.iter().enumerate() {
            entries.push(HistoryEntry {
                op: OpId(i as u64),
                client: NodeId(5),
                entry_type: EntryType::Ok,
                t_us: SimTime(0),
                f: "put".into(),
                key: Some(key.to_string()),
                value: serde_json::json!({"revision": revision, "index": 1, "term": 1}),
            });
        }
        History { entries }
    }

    fn judge(kinds: Vec<EventKind>, history: &History) -> Outcome {
        let trace = Trace {
            events: kinds
                .into_iter()
                .enumerate()
                .map(|(i, k)| event(i, k))
                .collect(),
        };
        WatchNoGap.check(&RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history,
        })
    }

    fn is_violation(o: &Outcome) -> bool {
        matches!(o, Outcome::Violation { .. })
    }

    #[test]
    fn an_ordered_complete_stream_passes() {
        let h = puts(&[(2, "k1"), (3, "k2"), (3, "k3"), (4, "k1")]);
        let stream = vec![
            open(2),
            delivery(2, &[(2, "k1")]),
            delivery(3, &[(3, "k2"), (3, "k3")]),
            delivery(4, &[(4, "k1")]),
        ];
        assert!(judge(stream, &h).is_pass());
    }

    #[test]
    fn reordered_deliveries_fail() {
        let h = puts(&[(2, "k1"), (3, "k2")]);
        let stream = vec![
            open(2),
            delivery(3, &[(3, "k2")]),
            delivery(3, &[(2, "k1")]),
        ];
        assert!(is_violation(&judge(stream, &h)));
    }

    #[test]
    fn a_revision_split_over_two_deliveries_fails() {
        let h = puts(&[(3, "k2"), (3, "k3")]);
        let stream = vec![
            open(2),
            delivery(3, &[(3, "k2")]),
            delivery(3, &[(3, "k3")]),
        ];
        assert!(is_violation(&judge(stream, &h)));
    }

    #[test]
    fn a_duplicate_fails() {
        let h = puts(&[(2, "k1")]);
        let stream = vec![open(2), delivery(2, &[(2, "k1"), (2, "k1")])];
        assert!(is_violation(&judge(stream, &h)));
    }

    #[test]
    fn a_skipped_acknowledged_write_fails() {
        let h = puts(&[(2, "k1"), (3, "k2"), (4, "k1")]);
        let stream = vec![
            open(2),
            delivery(2, &[(2, "k1")]),
            delivery(4, &[(4, "k1")]),
        ];
        assert!(is_violation(&judge(stream, &h)));
    }

    #[test]
    fn a_progress_notification_promises_everything_up_to_its_revision() {
        let h = puts(&[(2, "k1"), (3, "k2")]);
        let quiet = vec![open(2), delivery(2, &[(2, "k1")])];
        assert!(judge(quiet, &h).is_pass(), "revision 3 may still come");
        let lying = vec![open(2), delivery(2, &[(2, "k1")]), delivery(3, &[])];
        assert!(is_violation(&judge(lying, &h)));
    }

    #[test]
    fn writes_outside_the_range_or_before_the_start_are_not_owed() {
        let h = puts(&[(2, "k1"), (3, "x"), (4, "k1")]);
        let stream = vec![open(4), delivery(4, &[(4, "k1")]), delivery(5, &[])];
        assert!(judge(stream, &h).is_pass());
    }

    #[test]
    fn a_key_outside_the_range_fails() {
        let h = puts(&[(2, "x")]);
        let stream = vec![open(2), delivery(2, &[(2, "x")])];
        assert!(is_violation(&judge(stream, &h)));
    }
}
