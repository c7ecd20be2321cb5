//! Operations: a history's invocations paired with their completions.
//!
//! `fail` operations are dropped (they certainly did not happen). `info` operations, and
//! those invoked but never completed, are indeterminate: they have no output and no return
//! point, so the search may place them anywhere after their invocation (placing one after
//! everything else is the same as it never happening).
//!
//! Real-time order is taken from the entries' positions in the history, not from `t_us`:
//! entries are recorded in the order they happened, and two entries may share a
//! microsecond.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::{EntryType, History};
use crate::ids::{NodeId, OpId};
use crate::time::SimTime;

use super::model::Model;

/// What a report says about one operation: everything a person needs to find it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    /// The operation.
    pub op: OpId,
    /// Who issued it.
    pub client: NodeId,
    /// Its function (`read`, `put`, ...).
    pub f: String,
    /// Its key, if keyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The invocation's value.
    pub value_in: Value,
    /// The `ok` completion's value; `None` when the outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_out: Option<Value>,
    /// When it was invoked.
    pub invoke_us: SimTime,
    /// When it completed (`ok` or `info`); `None` if it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_us: Option<SimTime>,
}

impl OpSummary {
    /// One line: `op7 n2 cas key=x [1 2] -> ok true @1200..1500us`.
    pub fn describe(&self) -> String {
        let key = self
            .key
            .as_ref()
            .map(|k| format!(" key={k}"))
            .unwrap_or_default();
        let out = match &self.value_out {
            Some(v) => format!("ok {v}"),
            None => "unknown".to_string(),
        };
        let end = match self.complete_us {
            Some(t) => format!("{}", t.as_us()),
            None => "never".to_string(),
        };
        format!(
            "{} {} {}{key} {} -> {out} @{}..{end}us",
            self.op,
            self.client,
            self.f,
            self.value_in,
            self.invoke_us.as_us()
        )
    }
}

/// One operation decoded for a model.
#[derive(Debug)]
pub struct Operation<M: Model> {
    /// What a report shows of it.
    pub summary: OpSummary,
    /// The decoded input.
    pub input: M::Input,
    /// The decoded output; `None` when indeterminate.
    pub output: Option<M::Output>,
    /// Position of its invocation in the history.
    pub call_pos: usize,
    /// Position of its `ok` completion; `None` when indeterminate.
    pub return_pos: Option<usize>,
}

impl<M: Model> Clone for Operation<M> {
    fn clone(&self) -> Self {
        Operation {
            summary: self.summary.clone(),
            input: self.input.clone(),
            output: self.output.clone(),
            call_pos: self.call_pos,
            return_pos: self.return_pos,
        }
    }
}

impl<M: Model> Operation<M> {
    /// Whether this operation completed before `other` was invoked (real-time order).
    pub fn precedes(&self, other: &Operation<M>) -> bool {
        self.return_pos.is_some_and(|r| r < other.call_pos)
    }
}

/// Why a history cannot be checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("history entry {entry} ({op}): {message}")]
pub struct DecodeError {
    /// 0-based position of the offending entry in the history.
    pub entry: usize,
    /// Its operation.
    pub op: OpId,
    /// What is wrong.
    pub message: String,
}

/// Pairs every invocation with its completion and decodes the result for `model`, in
/// invocation order. `fail` operations are left out.
///
/// # Errors
///
/// A completion without an invocation, an operation invoked twice or completed twice, or
/// an operation the model cannot read.
pub fn operations<M: Model>(
    model: &M,
    history: &History,
) -> Result<Vec<Operation<M>>, DecodeError> {
    struct Open {
        entry: usize,
        completion: Option<(usize, EntryType)>,
    }
    let mut by_op: BTreeMap<OpId, Open> = BTreeMap::new();
    let mut order = Vec::new();
    for (pos, e) in history.entries.iter().enumerate() {
        let err = |message: &str| DecodeError {
            entry: pos,
            op: e.op,
            message: message.to_string(),
        };
        if e.entry_type == EntryType::Invoke {
            if by_op.contains_key(&e.op) {
                return Err(err("invoked twice"));
            }
            by_op.insert(
                e.op,
                Open {
                    entry: pos,
                    completion: None,
                },
            );
            order.push(e.op);
        } else {
            let open = by_op
                .get_mut(&e.op)
                .ok_or_else(|| err("completed but never invoked"))?;
            if open.completion.is_some() {
                return Err(err("completed twice"));
            }
            open.completion = Some((pos, e.entry_type));
        }
    }
    let mut ops = Vec::with_capacity(order.len());
    for id in order {
        let open = &by_op[&id];
        let inv = &history.entries[open.entry];
        let (ok_pos, complete_us) = match open.completion {
            Some((_, EntryType::Fail)) => continue,
            Some((pos, EntryType::Ok)) => (Some(pos), Some(history.entries[pos].t_us)),
            Some((pos, _)) => (None, Some(history.entries[pos].t_us)),
            None => (None, None),
        };
        let out_value = ok_pos.map(|p| &history.entries[p].value);
        // Blame the invocation if it alone cannot be read, else the completion.
        let blame = |entry: usize| {
            move |message| DecodeError {
                entry,
                op: id,
                message,
            }
        };
        model
            .decode(&inv.f, &inv.value, None)
            .map_err(blame(open.entry))?;
        let (input, output) = model
            .decode(&inv.f, &inv.value, out_value)
            .map_err(blame(ok_pos.unwrap_or(open.entry)))?;
        ops.push(Operation {
            summary: OpSummary {
                op: id,
                client: inv.client,
                f: inv.f.clone(),
                key: inv.key.clone(),
                value_in: inv.value.clone(),
                value_out: out_value.cloned(),
                invoke_us: inv.t_us,
                complete_us,
            },
            input,
            output,
            call_pos: open.entry,
            return_pos: ok_pos,
        });
    }
    Ok(ops)
}
