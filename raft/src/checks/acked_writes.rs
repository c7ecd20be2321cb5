//! `acked-writes-survive`: no acknowledged write is ever lost. Once a client is told a write
//! was applied at log index `i` in term `t`, no node applies a different entry at `i`, and
//! no node that holds the entry loses it from its durable log (replaced or truncated).
//!
//! A node that never held the entry may still write something else at `i` for a while: a
//! deposed leader cut off in a minority appends what its clients send until it learns of
//! the new term, and those entries are never committed. That is not a loss.
//!
//! Reads the client's answer from the history (`value.index`, `value.term` of an `ok`
//! `write`), and the logs from the trace.
//!
//! Not an online check ([`sim_core::OnlineCheck`] folds trace events only): which writes
//! were acknowledged is in the client history, and an acknowledgement may be recorded
//! after the loss it makes a violation (a node drops an entry, then the client hears that
//! the write was applied), so the judgement needs the whole run.

use super::logs::DurableLogs;
use crate::events::RaftEvent;
use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, EntryType, Evidence, HistoryEntry, Outcome, RunView, TraceEvent};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct AckedWritesSurvive;

impl Check for AckedWritesSurvive {
    fn name(&self) -> &'static str {
        "acked-writes-survive"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        // One replay of the trace for all acknowledgements (a replay per acknowledgement
        // is quadratic: minutes on long runs). The verdict is the same as checking them
        // one by one in history order: the first acknowledgement, in history order, that
        // is lost, with the first event that loses it.
        let acks: Vec<(usize, &HistoryEntry, u64, u64)> = run
            .history
            .entries
            .iter()
            .enumerate()
            .filter(|(_, a)| a.entry_type == EntryType::Ok && !super::is_read_op(&a.f))
            .filter_map(|(pos, a)| {
                Some((
                    pos,
                    a,
                    a.value["index"].as_u64()?,
                    a.value["term"].as_u64()?,
                ))
            })
            .collect();
        let mut by_index: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (k, (_, _, index, _)) in acks.iter().enumerate() {
            by_index.entry(*index).or_default().push(k);
        }
        // For each acknowledgement (by its place in `acks`), the first event that loses it.
        let mut lost: BTreeMap<usize, &TraceEvent> = BTreeMap::new();
        let mut logs = DurableLogs::default();
        for event in &run.trace.events {
            let log = event.node.and_then(|n| logs.get(n));
            let held = |k: usize| {
                let (_, _, index, term) = acks[k];
                log.and_then(|l| l.entries.get(&index))
                    .is_some_and(|(t, _)| *t == term)
            };
            let after = |k: usize| event.t_us >= acks[k].1.t_us;
            let mut hit = |k: usize| {
                lost.entry(k).or_insert(event);
            };
            match event.layer::<RaftEvent>() {
                Some(RaftEvent::Apply {
                    index: i, term: t, ..
                }) => {
                    for &k in by_index.get(i).into_iter().flatten() {
                        if acks[k].3 != *t {
                            hit(k);
                        }
                    }
                }
                Some(RaftEvent::LogAppend { entries }) => {
                    for e in entries {
                        for &k in by_index.get(&e.index).into_iter().flatten() {
                            if e.term != acks[k].3 && held(k) && after(k) {
                                hit(k);
                            }
                        }
                    }
                }
                Some(RaftEvent::LogTruncate { from_index }) => {
                    for (_, ks) in by_index.range(*from_index..) {
                        for &k in ks {
                            if held(k) && after(k) {
                                hit(k);
                            }
                        }
                    }
                }
                _ => {}
            }
            logs.apply(event);
        }
        let Some((&k, event)) = lost.iter().min_by_key(|(k, _)| acks[**k].0) else {
            return Outcome::Pass;
        };
        let (_, ack, index, term) = acks[k];
        Outcome::violation(
            format!(
                "the write acknowledged as {} (index {index}, term {term}) to {} was lost",
                ack.op, ack.client
            ),
            vec![
                Evidence {
                    event: None,
                    t_us: Some(ack.t_us),
                    node: Some(ack.client),
                    note: format!("{} acknowledged at index {index} term {term}", ack.op),
                },
                Evidence::event(event, "the entry replaced or removed here"),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;
    use sim_core::{History, HistoryEntry, NodeId, OpId, SimTime};

    fn acked(index: u64, term: u64) -> History {
        History {
            entries: vec![HistoryEntry {
                op: OpId(0),
                client: NodeId(9),
                entry_type: EntryType::Ok,
                t_us: SimTime(1),
                f: "write".into(),
                key: None,
                value: serde_json::json!({"index": index, "term": term}),
            }],
        }
    }

    fn judge_with(b: &TraceBuilder, history: &History) -> Outcome {
        let trace = b.trace();
        AckedWritesSurvive.check(&RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history,
        })
    }

    #[test]
    fn a_kept_write_passes() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(2, 2)])
            .apply(1, 2, 2)
            .append(2, &[(2, 2)])
            .apply(2, 2, 2);
        assert!(judge_with(&b, &acked(2, 2)).is_pass());
    }

    #[test]
    fn an_overwritten_write_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(2, 2)]).apply(1, 2, 2).append(1, &[(2, 3)]);
        assert!(is_violation(&judge_with(&b, &acked(2, 2))));
    }

    #[test]
    fn a_write_applied_differently_elsewhere_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(2, 2)]).apply(1, 2, 2).apply(2, 2, 3);
        assert!(is_violation(&judge_with(&b, &acked(2, 2))));
    }

    #[test]
    fn a_deposed_leader_writing_elsewhere_at_that_index_is_not_a_loss() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(2, 2)]).apply(1, 2, 2).append(3, &[(2, 1)]);
        assert!(judge_with(&b, &acked(2, 2)).is_pass());
    }
}
