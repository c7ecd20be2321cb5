//! etcd's global revision across keys.
//!
//! Splitting the history per key loses what ties keys together: one revision counter.
//! Two facts about it hold whatever the interleaving, and catch what per-key checking
//! cannot (a stale read served on another key, a revision handed out twice):
//!
//! - every write that created a revision (put, successful cas, effective delete) has its
//!   own revision;
//! - if operation A completed before B was invoked, B's revision is at least A's, and
//!   strictly greater when B created a revision (B's revision is then a new one, above the
//!   store's revision when A answered).
//!
//! Only `ok` operations count: an indeterminate one showed no revision.

use std::collections::BTreeMap;

use super::etcd_kv::EtcdKv;
use crate::linearizability::operation::{OpSummary, Operation};
use crate::linearizability::report::Counterexample;

/// The first cross-key revision violation in `ops`, if any.
pub(crate) fn cross_check(ops: &[Operation<EtcdKv>]) -> Option<Counterexample> {
    // (op index, revision, created), for ok operations that showed a revision.
    let revs: Vec<(usize, u64, bool)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| {
            let (rev, created) = op.output.as_ref()?.revision()?;
            Some((i, rev, created))
        })
        .collect();
    let found = |message: String, pair: [usize; 2]| Counterexample {
        key: None,
        message,
        ops: pair
            .iter()
            .map(|&i| ops[i].summary.clone())
            .collect::<Vec<OpSummary>>(),
        linearized_prefix: Vec::new(),
        unplaceable: None,
    };

    let mut created: BTreeMap<u64, usize> = BTreeMap::new();
    for &(i, rev, made) in &revs {
        if !made {
            continue;
        }
        if let Some(&first) = created.get(&rev) {
            return Some(found(
                format!(
                    "revision {rev} was created twice, by {} and {}",
                    ops[first].summary.op, ops[i].summary.op
                ),
                [first, i],
            ));
        }
        created.insert(rev, i);
    }

    // Sweep by invocation; `done` holds the operations completed before it, by return.
    let mut by_return: Vec<&(usize, u64, bool)> = revs.iter().collect();
    by_return.sort_by_key(|&&(i, _, _)| ops[i].return_pos);
    let mut by_call: Vec<&(usize, u64, bool)> = revs.iter().collect();
    by_call.sort_by_key(|&&(i, _, _)| ops[i].call_pos);
    let mut done = 0;
    let mut highest: Option<(u64, usize)> = None;
    for &&(b, rev_b, made_b) in &by_call {
        while let Some(&&(a, rev_a, _)) = by_return.get(done) {
            if !ops[a].precedes(&ops[b]) {
                break;
            }
            if highest.is_none_or(|(r, _)| rev_a > r) {
                highest = Some((rev_a, a));
            }
            done += 1;
        }
        if let Some((rev_a, a)) = highest {
            if rev_b < rev_a || (made_b && rev_b == rev_a) {
                let what = if made_b { "created" } else { "saw" };
                return Some(found(
                    format!(
                        "{} {what} revision {rev_b} although {} had already shown revision {rev_a} before it was invoked",
                        ops[b].summary.op, ops[a].summary.op
                    ),
                    [a, b],
                ));
            }
        }
    }
    None
}
