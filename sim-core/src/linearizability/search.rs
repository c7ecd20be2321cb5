//! The Wing–Gong search with Lowe's memoization ("Testing for linearizability", 2016), as
//! Porcupine runs it.
//!
//! Calls and returns sit in one doubly linked list in real-time order. The operations
//! that may be linearized next are the calls before the first return in the list; the
//! search applies one to the model, lifts it and its return out of the list, and goes on.
//! When none applies, the first return's operation cannot be placed in time, so the search
//! backtracks: it undoes the last linearized call and tries the next candidate after it.
//! A set of (operations linearized, model state) pairs already explored cuts every path
//! that reaches a known configuration a second time. Indeterminate operations return after
//! everything, so they may be placed anywhere after their call, or last (never).
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

#[allow(clippy::disallowed_types)] // Membership only, never iterated: see `search`.
use std::collections::HashSet;

use super::bitset::Bitset;
use super::model::Model;
use super::operation::Operation;

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
#[allow(clippy::disallowed_types)] // The memo is only probed for membership, never iterated: its order cannot leak into results.
pub(crate) fn search<M: Model>(model: &M, ops: &[Operation<M>], max_steps: u64) -> SearchOutcome {
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
    let mut linearized = Bitset::new(n);
    let mut memo: HashSet<(Bitset, M::State)> = HashSet::new();
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
                     linearized: &mut Bitset,
                     stack: &mut Vec<Frame<M::State>>,
                     links: &mut Links|
     -> bool {
        let op = events[call].op;
        linearized.set(op);
        while let Some(candidate) = successors.pop() {
            if memo.insert((linearized.clone(), candidate.clone())) {
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
        linearized.clear(op);
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
        candidates.sort_by_key(|&c| priority(c));
        let mut placed = false;
        for (index, &call) in candidates.iter().enumerate().skip(first_candidate) {
            if steps >= max_steps {
                return SearchOutcome::Budget { steps, deepest };
            }
            steps += 1;
            let op = &ops[events[call].op];
            next_states.clear();
            model.step(&state, &op.input, op.output.as_ref(), &mut next_states);
            // `place` pops: reverse so the model's first successor is tried first.
            let successors: Vec<M::State> = next_states.drain(..).rev().collect();
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
        linearized.clear(op);
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
