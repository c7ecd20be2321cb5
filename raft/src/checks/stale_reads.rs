//! `reads-not-stale`: a read reflects every write acknowledged before it was invoked.
//!
//! A node answers a read with the log index its state machine had applied (see the
//! driver's client protocol). If a write was acknowledged at index `j` before the read was
//! invoked, a linearizable read must come from a state at index `j` or later. A read
//! answered from an older state is stale: what a partitioned leader serving reads without
//! confirming its leadership (the planted bug `no-check-quorum`), or a follower serving
//! local reads, can return. This is a cheap, sound subset of linearizability for the
//! register; the full checker comes with the etcd scenarios.
//!
//! Not an online check ([`sim_core::OnlineCheck`] folds trace events only): both the reads
//! and the acknowledgements it compares are client history entries, not trace events.

use sim_core::{Check, CheckKind, EntryType, Evidence, Outcome, RunView};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadsNotStale;

impl Check for ReadsNotStale {
    fn name(&self) -> &'static str {
        "reads-not-stale"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let entries = &run.history.entries;
        // Write acknowledgements in time order: (time, index).
        let acks: Vec<_> = entries
            .iter()
            .filter(|e| e.entry_type == EntryType::Ok && !super::is_read_op(&e.f))
            .filter_map(|e| e.value["index"].as_u64().map(|i| (e.t_us, i, e)))
            .collect();
        for done in entries
            .iter()
            .filter(|e| e.entry_type == EntryType::Ok && super::is_read_op(&e.f))
        {
            let Some(read_index) = done.value["index"].as_u64() else {
                continue;
            };
            let Some(invoked) = entries
                .iter()
                .find(|e| e.op == done.op && e.entry_type == EntryType::Invoke)
            else {
                continue;
            };
            let newest = acks
                .iter()
                .filter(|(t, _, _)| *t < invoked.t_us)
                .max_by_key(|(_, i, _)| *i);
            if let Some((_, acked_index, ack)) = newest {
                if *acked_index > read_index {
                    return Outcome::violation(
                        format!(
                            "stale read: {} invoked at {} saw the state at index {read_index}, but {} had been acknowledged at index {acked_index}",
                            done.op, invoked.t_us, ack.op
                        ),
                        vec![
                            Evidence {
                                event: None,
                                t_us: Some(ack.t_us),
                                node: Some(ack.client),
                                note: format!("{} acknowledged at index {acked_index}", ack.op),
                            },
                            Evidence {
                                event: None,
                                t_us: Some(done.t_us),
                                node: Some(done.client),
                                note: format!("{} answered from index {read_index}: {}", done.op, done.value["output"]),
                            },
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
    use sim_core::{History, HistoryEntry, NodeId, OpId, SimTime, Trace};

    fn entry(op: u64, t: u64, f: &str, entry_type: EntryType, index: Option<u64>) -> HistoryEntry {
        HistoryEntry {
            op: OpId(op),
            client: NodeId(9),
            entry_type,
            t_us: SimTime(t),
            f: f.into(),
            key: None,
            value: index.map_or(serde_json::Value::Null, |i| serde_json::json!({"index": i})),
        }
    }

    fn judge(entries: Vec<HistoryEntry>) -> Outcome {
        let trace = Trace::default();
        let history = History { entries };
        ReadsNotStale.check(&RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &history,
        })
    }

    #[test]
    fn a_fresh_read_passes_and_concurrent_writes_do_not_count() {
        assert!(judge(vec![
            entry(0, 10, "write", EntryType::Invoke, None),
            entry(0, 20, "write", EntryType::Ok, Some(5)),
            entry(1, 15, "read", EntryType::Invoke, None),
            entry(1, 30, "read", EntryType::Ok, Some(4)),
            entry(2, 40, "read", EntryType::Invoke, None),
            entry(2, 50, "read", EntryType::Ok, Some(5)),
        ])
        .is_pass());
    }

    #[test]
    fn a_read_older_than_an_earlier_ack_fails() {
        assert!(!judge(vec![
            entry(0, 10, "write", EntryType::Invoke, None),
            entry(0, 20, "write", EntryType::Ok, Some(5)),
            entry(1, 25, "read", EntryType::Invoke, None),
            entry(1, 30, "read", EntryType::Ok, Some(4)),
        ])
        .is_pass());
    }
}
