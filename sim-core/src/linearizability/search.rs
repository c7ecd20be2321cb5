//! The Wing–Gong search with Lowe's memoization ("Testing for linearizability", 2016), as
//! Porcupine runs it.
//!
//! Calls and returns sit in one doubly linked list in real-time order. The operations
//! that may be linearized next are the calls before the first return in the list; the
//! search applies one to the model, lifts it and its return out of the list, and goes on.
//! When none applies, the first return's operation cannot be placed in time, so the search
//! backtracks: it undoes the last linearized call and tries the next candidate after it.
//! Indeterminate operations return after everything, so they may be placed anywhere after
//! their call, or never: once only they are left, the history is explained.
//!
//! A memo of the configurations already explored (operations placed, model state) cuts
//! every path that reaches a known one a second time, or one that differs from a known one
//! only by more indeterminate operations placed (each of those may have never happened, so
//! whatever completes the larger set completes the smaller). Two more cuts keep pending
//! indeterminate operations from multiplying the search: one whose placement would leave
//! the state as it is is not placed (that is the same as never), and of several pending
//! with equal inputs only the first is tried (they are interchangeable). Without these, a
//! few pending indeterminate puts were tried at every level the search backtracked through,
//! each one a new configuration, and generated etcd histories with 8% of outcomes lost ran
//! out of a 2 M step budget (10 M steps to decide one; now 24 k).
//!
//! Candidates are tried earliest deadline first (by return), indeterminate ones last:
//! plain Wing–Gong tries them in call order, and an indeterminate operation, pending from
//! its call to the end, would then be tried first at every step, multiplying the search by
//! every subset of them before it ever gets to the operation that is due.
//!
//! The model may allow several successor states (an indeterminate compare-and-set that may
//! or may not have matched); each is tried in turn before moving on.
//!
//! Every model step and every backtrack counts against a step budget, so the search ends
//! (with "unknown") on histories too large or too concurrent to decide, without any clock.
//! A caller may also interrupt it (a wall-clock limit it keeps itself), asked every few
//! thousand steps.

// The memo is only ever probed by key: its iteration order never matters, and
// hashing beats ordering a (bitset, state) key by a wide margin on long histories. The
// hasher has fixed keys (no OS randomness), so even its timing is the same every run.
#[allow(clippy::disallowed_types)]
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::bitset::Bitset;
use super::model::Model;
use super::operation::Operation;
use super::{Budget, INTERRUPT_POLL_STEPS};

/// SipHash with fixed keys.
#[allow(deprecated)]
type FixedHasher = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// How the search of one partition ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SearchOutcome {
    /// Every operation was placed.
    Linearizable {
        /// Steps taken.
        steps: u64,
    },
    /// No order works.
    Violation {
        /// Indices of the longest linearizable prefix found, in order.
        prefix: Vec<usize>,
        /// Index of the operation that could not be placed after it.
        stuck: usize,
        /// Steps taken.
        steps: u64,
    },
    /// The budget ran out.
    Budget {
        /// Steps taken.
        steps: u64,
        /// Most operations placed at once.
        deepest: usize,
        /// The caller's interrupt stopped it, not the step limit.
        interrupted: bool,
    },
}

/// A call or a return in the linked list.
#[derive(Clone, Copy, Debug)]
struct Event {
    op: usize,
    is_call: bool,
}

/// A linearized call, and what to restore or try next if it has to be undone.
#[derive(Debug)]
struct Frame<S> {
    call: usize,
    /// Its position among the candidates of the configuration it was placed in.
    index: usize,
    before: S,
    /// Successor states not tried yet.
    untried: Vec<S>,
}

/// The operations placed so far, those with a known outcome and the indeterminate ones
/// apart: the memo keys on the first (with the model state) and compares the second by
/// inclusion. Having placed fewer indeterminate operations is never worse, since every one
/// left over may simply never have taken effect, so a configuration is dominated by any
/// explored one that agrees on the rest and placed a subset of its indeterminate ones.
#[derive(Debug)]
struct Placed {
    determinate: Bitset,
    indeterminate: Bitset,
}

impl Placed {
    fn set(&mut self, op: usize, indeterminate: bool) {
        if indeterminate {
            self.indeterminate.set(op);
        } else {
            self.determinate.set(op);
        }
    }

    fn clear(&mut self, op: usize, indeterminate: bool) {
        if indeterminate {
            self.indeterminate.clear(op);
        } else {
            self.determinate.clear(op);
        }
    }
}

/// The linked list of events, with removal and exact reinsertion (dancing links).
#[derive(Debug)]
struct Links {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Links {
    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = i;
        self.prev[n] = i;
    }
}

/// Searches for a linearization of `ops` (one partition) from the model's initial state.
#[allow(clippy::disallowed_types)] // The memo is only probed by key, never iterated: its order cannot leak into results.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[Operation<M>],
    budget: &Budget<'_>,
) -> SearchOutcome {
    let n = ops.len();
    // Events in real-time order; indeterminate returns go last, by operation.
    let mut events: Vec<(usize, Event)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        events.push((
            op.call_pos,
            Event {
                op: i,
                is_call: true,
            },
        ));
        let ret = op.return_pos.unwrap_or(usize::MAX - n + i);
        events.push((
            ret,
            Event {
                op: i,
                is_call: false,
            },
        ));
    }
    events.sort_by_key(|&(pos, _)| pos);
    let events: Vec<Event> = events.into_iter().map(|(_, e)| e).collect();
    let m = events.len();
    let head = m;
    let tail = m + 1;
    let mut links = Links {
        next: (0..m + 2)
            .map(|i| match i {
                _ if i == head => {
                    if m == 0 {
                        tail
                    } else {
                        0
                    }
                }
                _ if i + 1 < m => i + 1,
                _ => tail,
            })
            .collect(),
        prev: (0..m + 2)
            .map(|i| match i {
                0 => head,
                _ if i == tail => {
                    if m == 0 {
                        head
                    } else {
                        m - 1
                    }
                }
                _ if i == head => head,
                _ => i - 1,
            })
            .collect(),
    };
    let mut return_of = vec![0; n];
    for (i, e) in events.iter().enumerate() {
        if !e.is_call {
            return_of[e.op] = i;
        }
    }

    // The order candidates are tried in: earliest deadline first, indeterminate ones
    // (no deadline) last, since placing them only helps when nothing else fits.
    let priority = |e: usize| {
        let op = &ops[events[e].op];
        (op.return_pos.unwrap_or(usize::MAX), op.call_pos)
    };
    let mut state = model.init();
    let mut linearized = Placed {
        determinate: Bitset::new(n),
        indeterminate: Bitset::new(n),
    };
    #[allow(clippy::disallowed_types)]
    let mut memo: HashMap<(Bitset, M::State), Vec<Bitset>, FixedHasher> = HashMap::default();
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let mut best: Option<(Vec<usize>, usize)> = None;
    let mut deepest = 0;
    let mut next_states = Vec::new();
    let mut candidates = Vec::new();
    let mut steps: u64 = 0;
    let mut first_candidate = 0;

    // Linearizes the call at event `call` (the `index`th candidate) into the first of
    // `successors` not explored yet; false if all were.
    let mut place = |call: usize,
                     index: usize,
                     mut successors: Vec<M::State>,
                     state: &mut M::State,
                     linearized: &mut Placed,
                     stack: &mut Vec<Frame<M::State>>,
                     links: &mut Links|
     -> bool {
        let op = events[call].op;
        let indeterminate = ops[op].return_pos.is_none();
        linearized.set(op, indeterminate);
        while let Some(candidate) = successors.pop() {
            // Seen before, or with fewer indeterminate operations placed: that one was (or
            // is being) explored, and whatever completes this one completes it too.
            let seen = memo
                .entry((linearized.determinate.clone(), candidate.clone()))
                .or_default();
            if !seen
                .iter()
                .any(|fewer| fewer.is_subset(&linearized.indeterminate))
            {
                seen.push(linearized.indeterminate.clone());
                let before = std::mem::replace(state, candidate);
                stack.push(Frame {
                    call,
                    index,
                    before,
                    untried: successors,
                });
                links.unlink(call);
                links.unlink(return_of[op]);
                return true;
            }
        }
        linearized.clear(op, indeterminate);
        false
    };

    loop {
        if links.next[head] == tail {
            return SearchOutcome::Linearizable { steps };
        }
        // The calls before the first return: the operations that may go next.
        candidates.clear();
        let mut e = links.next[head];
        while events[e].is_call {
            candidates.push(e);
            e = links.next[e];
        }
        let blocking = events[e].op;
        // Indeterminate returns sit after every other event, so when one comes first every
        // operation with a known outcome is placed, and the pending indeterminate ones may
        // all simply never have taken effect: the history is explained.
        if ops[blocking].return_pos.is_none() {
            return SearchOutcome::Linearizable { steps };
        }
        candidates.sort_by_key(|&c| priority(c));
        let mut placed = false;
        for (index, &call) in candidates.iter().enumerate().skip(first_candidate) {
            let op = &ops[events[call].op];
            // Two pending indeterminate operations with equal inputs are interchangeable:
            // whatever order places the later-called one here can place the earlier one
            // here instead and the other where it was (both were called already, and
            // neither has a deadline). So only the first of them is tried.
            if op.output.is_none()
                && candidates[..index].iter().any(|&c| {
                    let other = &ops[events[c].op];
                    other.output.is_none() && other.input == op.input
                })
            {
                continue;
            }
            if steps >= budget.max_steps {
                return SearchOutcome::Budget {
                    steps,
                    deepest,
                    interrupted: false,
                };
            }
            if steps.is_multiple_of(INTERRUPT_POLL_STEPS) && budget.interrupted() {
                return SearchOutcome::Budget {
                    steps,
                    deepest,
                    interrupted: true,
                };
            }
            steps += 1;
            next_states.clear();
            model.step(&state, &op.input, op.output.as_ref(), &mut next_states);
            // `place` pops: reverse so the model's first successor is tried first.
            let mut successors: Vec<M::State> = next_states.drain(..).rev().collect();
            if op.output.is_none() {
                // An indeterminate operation that would leave the state as it is might as
                // well never have happened, which is always allowed: placing it here only
                // splits the search into copies that differ in nothing that matters.
                successors.retain(|s| *s != state);
            }
            if place(
                call,
                index,
                successors,
                &mut state,
                &mut linearized,
                &mut stack,
                &mut links,
            ) {
                placed = true;
                break;
            }
        }
        if placed {
            deepest = deepest.max(stack.len());
            first_candidate = 0;
            continue;
        }
        // Nothing fits before `blocking` returns.
        if best
            .as_ref()
            .is_none_or(|(prefix, _)| stack.len() > prefix.len())
        {
            let prefix = stack.iter().map(|f| events[f.call].op).collect();
            best = Some((prefix, blocking));
        }
        // Undo the last linearized call; try its other successor states, else the next
        // candidate after it.
        let Some(frame) = stack.pop() else {
            let (prefix, stuck) = best.expect("recorded just above");
            return SearchOutcome::Violation {
                prefix,
                stuck,
                steps,
            };
        };
        steps += 1;
        let op = events[frame.call].op;
        links.relink(return_of[op]);
        links.relink(frame.call);
        linearized.clear(op, ops[op].return_pos.is_none());
        state = frame.before;
        first_candidate = if place(
            frame.call,
            frame.index,
            frame.untried,
            &mut state,
            &mut linearized,
            &mut stack,
            &mut links,
        ) {
            0
        } else {
            frame.index + 1
        };
    }
}
