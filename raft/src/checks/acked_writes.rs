//! `acked-writes-survive`: no acknowledged write is ever lost. Once a client is told a write
//! was applied at log index `i` in term `t`, no node ever puts a different entry at `i`
//! (in its durable log or its state machine).
//!
//! Reads the client's answer from the history (`value.index`, `value.term` of an `ok`
//! `write`), and the logs from the trace.

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
            if ack.entry_type != EntryType::Ok || ack.f != "write" {
                continue;
            }
            let (Some(index), Some(term)) =
                (ack.value["index"].as_u64(), ack.value["term"].as_u64())
            else {
                continue;
            };
            for event in &run.trace.events {
                let conflicting = match &event.kind {
                    EventKind::LogAppend { entries } if event.t_us >= ack.t_us => {
                        entries.iter().any(|e| e.index == index && e.term != term)
                    }
                    EventKind::Apply {
                        index: i, term: t, ..
                    } => *i == index && *t != term,
                    _ => false,
                };
                if conflicting {
                    return Outcome::violation(
                        format!(
                            "the write acknowledged as {} (index {index}, term {term}) to {} was replaced",
                            ack.op, ack.client
                        ),
                        vec![
                            Evidence {
                                event: None,
                                t_us: Some(ack.t_us),
                                node: Some(ack.client),
                                note: format!("{} acknowledged at index {index} term {term}", ack.op),
                            },
                            Evidence::event(event, "a different entry at that index"),
                        ],
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
        b.append(1, &[(2, 2)]).apply(1, 2, 2).append(2, &[(2, 3)]);
        assert!(is_violation(&judge_with(&b, &acked(2, 2))));
    }
}
