//! `linearizable-kv`: the run's client history is linearizable against etcd's key-value
//! semantics (the `kv` model: per-key values, versions and revisions, and the global
//! revision order across keys).
//!
//! A search that runs out of its step budget is "unknown" (exit 5), never a pass; a history
//! the model cannot read (a client recording something else) is "unknown" too, with why.

use crate::check::{Check, CheckKind, Evidence, Outcome, RunView};
use crate::history::History;
use crate::linearizability::{self, models::EtcdKv, LinResult, DEFAULT_MAX_STEPS};

/// See the module docs.
#[derive(Clone, Copy, Debug)]
pub struct LinearizableKv {
    /// Search steps allowed per key.
    pub max_steps: u64,
}

impl Default for LinearizableKv {
    /// [`DEFAULT_MAX_STEPS`].
    fn default() -> Self {
        LinearizableKv {
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

impl Check for LinearizableKv {
    fn name(&self) -> &'static str {
        "linearizable-kv"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        linearizable_kv(run.history, self.max_steps)
    }
}

/// The `linearizable-kv` verdict on `history` with `max_steps` search steps per key.
pub fn linearizable_kv(history: &History, max_steps: u64) -> Outcome {
    let report = match linearizability::check(&EtcdKv, history, max_steps) {
        Ok(report) => report,
        Err(e) => {
            return Outcome::Unknown {
                reason: format!("the history cannot be checked: {e}"),
            }
        }
    };
    match report.result {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{EntryType, HistoryEntry};
    use crate::ids::{NodeId, OpId};
    use crate::time::SimTime;
    use crate::trace::Trace;
    use serde_json::{json, Value};

    fn entry(op: u64, t: EntryType, f: &str, value: Value) -> HistoryEntry {
        HistoryEntry {
            op: OpId(op),
            client: NodeId(op as u32 + 1),
            entry_type: t,
            t_us: SimTime(op * 100 + u64::from(t != EntryType::Invoke) * 50),
            f: f.into(),
            key: Some("count".into()),
            value,
        }
    }

    fn judge(seen: &str, max_steps: u64) -> Outcome {
        let history = History {
            entries: vec![
                entry(0, EntryType::Invoke, "put", json!({"value": "5"})),
                entry(0, EntryType::Ok, "put", json!({"revision": 2})),
                entry(1, EntryType::Invoke, "get", Value::Null),
                entry(
                    1,
                    EntryType::Ok,
                    "get",
                    json!({"value": seen, "mod_revision": 2, "create_revision": 2, "version": 1, "revision": 2}),
                ),
            ],
        };
        let trace = Trace::default();
        let run = RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &history,
        };
        LinearizableKv { max_steps }.check(&run)
    }

    #[test]
    fn a_stale_read_is_a_violation_with_the_ops_and_times() {
        assert_eq!(judge("5", DEFAULT_MAX_STEPS), Outcome::Pass);
        let Outcome::Violation { message, evidence } = judge("4", DEFAULT_MAX_STEPS) else {
            panic!("expected a violation");
        };
        assert!(message.contains("key count"), "{message}");
        assert!(evidence
            .iter()
            .any(|e| e.t_us == Some(SimTime(100)) && e.note.contains("op1 n2 get")));
        assert_eq!(LinearizableKv::default().name(), "linearizable-kv");
    }

    #[test]
    fn an_exhausted_budget_is_unknown() {
        assert!(matches!(judge("5", 1), Outcome::Unknown { .. }));
    }
}
