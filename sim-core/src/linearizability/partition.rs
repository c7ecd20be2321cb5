//! P-compositionality: a keyed history is linearizable when each key's sub-history is
//! (Herlihy & Wing's locality, used by Porcupine), so each key is searched on its own.
//! A search explodes with the number of operations that overlap, and splitting per key
//! divides that as much as the workload spreads over keys.
//!
//! Composing the parts: the smallest failing partition is reported (the easiest one to
//! read); a partition that ran out of budget makes the whole unknown unless another fails.

use std::collections::BTreeMap;

use super::model::Model;
use super::operation::{OpSummary, Operation};
use super::report::{Counterexample, LinReport, LinResult};
use super::search::{search, SearchOutcome};
use super::Budget;

/// The operations of a history grouped by key (one group, `None`, for unkeyed models).
pub(crate) fn split<M: Model>(
    model: &M,
    ops: impl IntoIterator<Item = Operation<M>>,
) -> BTreeMap<Option<String>, Vec<Operation<M>>> {
    let mut parts: BTreeMap<Option<String>, Vec<Operation<M>>> = BTreeMap::new();
    for op in ops {
        let key = if model.keyed() {
            op.summary.key.clone()
        } else {
            None
        };
        parts.entry(key).or_default().push(op);
    }
    parts
}

/// Checks each partition within `budget` (its step limit applies to each) and composes
/// the verdict; then, if no partition failed, the model's cross-partition check.
///
/// Partitions are searched smallest first (by operations, then key) and the search stops
/// at the first that fails: that one is the smallest failing partition, the one a report
/// shows, and the larger ones (often the slowest to decide, as Porcupine's 50-client
/// key-value histories show) need not be searched at all. Once the budget's interrupt
/// fires, the partitions not searched yet are left unsearched too.
pub(crate) fn check_partitions<M: Model>(
    model: &M,
    ops: Vec<Operation<M>>,
    budget: &Budget<'_>,
) -> LinReport {
    let operations = ops.len();
    let cross = model.cross_check(&ops);
    let relevant = ops
        .into_iter()
        .filter(|op| op.output.is_some() || !model.read_only(&op.input));
    let mut parts: Vec<_> = split(model, relevant).into_iter().collect();
    // Stable: equal sizes stay in key order.
    parts.sort_by_key(|(_, part)| part.len());
    let partitions = parts.len();
    let mut steps = 0;
    let mut failure: Option<Counterexample> = None;
    let mut unknown: Option<String> = None;
    for (searched, (key, part)) in parts.iter_mut().enumerate() {
        model.canonicalize(part);
        match search(model, part, budget) {
            SearchOutcome::Linearizable { steps: s } => steps += s,
            SearchOutcome::Violation {
                prefix,
                stuck,
                steps: s,
            } => {
                steps += s;
                failure = Some(counterexample(key, part, &prefix, stuck));
                break;
            }
            SearchOutcome::Budget {
                steps: s,
                deepest,
                interrupted,
            } => {
                steps += s;
                let on = key
                    .as_ref()
                    .map(|k| format!(" on key {k}"))
                    .unwrap_or_default();
                let progress = format!("{} ops, at most {deepest} placed", part.len());
                if interrupted {
                    let reason = budget.interrupt.map_or("interrupted", |i| i.reason);
                    let left = partitions - searched - 1;
                    let rest = if left > 0 {
                        format!("; {left} more partition(s) not searched")
                    } else {
                        String::new()
                    };
                    unknown = Some(format!("{reason}{on} ({progress}){rest}"));
                    break;
                }
                if unknown.is_none() {
                    unknown = Some(format!(
                        "search budget of {} steps exhausted{on} ({progress})",
                        budget.max_steps
                    ));
                }
            }
        }
    }
    let result = match (failure, cross, unknown) {
        (Some(cx), _, _) | (None, Some(cx), _) => LinResult::NotLinearizable(Box::new(cx)),
        (None, None, Some(reason)) => LinResult::Unknown { reason },
        (None, None, None) => LinResult::Linearizable,
    };
    LinReport {
        result,
        operations,
        partitions,
        steps,
    }
}

/// The counterexample of a failed search: the unplaceable operation, those concurrent
/// with it, and the last few placed before it.
fn counterexample<M: Model>(
    key: &Option<String>,
    part: &[Operation<M>],
    prefix: &[usize],
    stuck: usize,
) -> Counterexample {
    let s = &part[stuck];
    let mut involved: Vec<usize> = (0..part.len())
        .filter(|&i| i == stuck || (!part[i].precedes(s) && !s.precedes(&part[i])))
        .collect();
    involved.extend(prefix.iter().rev().take(3).copied());
    involved.sort_by_key(|&i| part[i].call_pos);
    involved.dedup();
    involved.truncate(16);
    if !involved.contains(&stuck) {
        involved.pop();
        involved.push(stuck);
    }
    let ops: Vec<OpSummary> = involved.iter().map(|&i| part[i].summary.clone()).collect();
    let on = key
        .as_ref()
        .map(|k| format!(" on key {k}"))
        .unwrap_or_default();
    Counterexample {
        key: key.clone(),
        message: format!(
            "not linearizable{on}: after {} ops, no order can place {} ({} {} -> {})",
            prefix.len(),
            s.summary.op,
            s.summary.f,
            s.summary.value_in,
            s.summary
                .value_out
                .as_ref()
                .map_or_else(|| "unknown".to_string(), |v| v.to_string())
        ),
        ops,
        linearized_prefix: prefix.iter().map(|&i| part[i].summary.op).collect(),
        unplaceable: Some(s.summary.op),
    }
}
