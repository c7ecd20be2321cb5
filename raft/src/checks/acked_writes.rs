//! `acked-writes-survive`: no acknowledged write is ever lost. Once a client is told a write
//! was applied at log index `i` in term `t`, no node applies a different entry at `i`, and
//! no node that holds the entry loses it from its durable log (replaced or truncated).
//!
//! A node that never held the entry may still write something else at `i` for a while: a
//! deposed leader cut off in a minority appends what its clients send until it learns of
//! the new term, and those entries are never committed. That is not a loss.
//!
//! Reads the client's answer from the history (`value.index`, `value.term` of an `ok`
//! write: the register's `write`, etcd's `put`, `delete`, `cas`), and the logs from the
//! trace.

use super::logs::DurableLogs;
use sim_core::{Check, CheckKind, EntryType, EventKind, Evidence, Outcome, RunView};

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
        for ack in &run.history.entries {
            if ack.entry_type != EntryType::Ok || super::is_read_op(&ack.f) {
                continue;
            }
            let (Some(index), Some(term)) =
                (ack.value["index"].as_u64(), ack.value["term"].as_u64())
            else {
                continue;
            };
            let mut logs = DurableLogs::default();
            for event in &run.trace.events {
                let held = event
                    .node
                    .and_then(|n| logs.get(n))
                    .and_then(|log| log.entries.get(&index))
                    .is_some_and(|(t, _)| *t == term);
                let conflicting = match &event.kind {
                    EventKind::Apply {
                        index: i, term: t, ..
                    } => *i == index && *t != term,
                    EventKind::LogAppend { entries } if held && event.t_us >= ack.t_us => {
                        entries.iter().any(|e| e.index == index && e.term != term)
                    }
                    EventKind::LogTruncate { from_index } if held && event.t_us >= ack.t_us => {
                        *from_index <= index
                    }
                    _ => false,
                };
                if conflicting {
                    return Outcome::violation(
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
                    );
                }
                logs.apply(event);
            }
        }
        Outcome::Pass
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
