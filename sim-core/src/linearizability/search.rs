//! The Wing–Gong search with Lowe's memoization ("Testing for linearizability", 2016), as
//! Porcupine runs it.
//!
//! Calls and returns sit in one doubly linked list in real-time order. Walking from the
//! front, the search tries to linearize each call it meets (apply it to the model); a
//! call that applies is lifted out of the list with its return, and the walk restarts at
//! the front. Meeting a return means that operation should already have been linearized,
//! so the search backtracks: it undoes the last linearized call and tries the next one.
//! A set of (linearized operations, model state) pairs already explored cuts every path
//! that reaches a known configuration a second time. Indeterminate operations return after
//! everything, so they may be placed anywhere after their call, or last (never).
//!
//! The model may allow several successor states (an indeterminate compare-and-set that may
//! or may not have matched); each is tried in turn before moving on.
//!
//! Every model step and every backtrack counts against a step budget, so the search ends
//! (with "unknown") on histories too large or too concurrent to decide, without any clock.

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

    let mut state = model.init();
    let mut linearized = Bitset::new(n);
    let mut memo: HashSet<(Bitset, M::State)> = HashSet::new();
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let mut best: Option<(Vec<usize>, usize)> = None;
    let mut deepest = 0;
    let mut next_states = Vec::new();
    let mut steps: u64 = 0;
    let mut entry = links.next[head];

    // Tries the successor states in `candidates` for the call at `call`; on the first new
    // configuration, linearizes it and returns true.
    let mut try_place = |call: usize,
                         mut candidates: Vec<M::State>,
                         state: &mut M::State,
                         linearized: &mut Bitset,
                         stack: &mut Vec<Frame<M::State>>,
                         links: &mut Links|
     -> bool {
        let op = events[call].op;
        linearized.set(op);
        while let Some(candidate) = candidates.pop() {
            if memo.insert((linearized.clone(), candidate.clone())) {
                let before = std::mem::replace(state, candidate);
                stack.push(Frame {
                    call,
                    before,
                    untried: candidates,
                });
                links.unlink(call);
                links.unlink(return_of[op]);
                return true;
            }
        }
        linearized.clear(op);
        false
    };

    while links.next[head] != tail {
        if steps >= max_steps {
            return SearchOutcome::Budget { steps, deepest };
        }
        steps += 1;
        let event = events[entry];
        if event.is_call {
            let op = &ops[event.op];
            next_states.clear();
            model.step(&state, &op.input, op.output.as_ref(), &mut next_states);
            // Tried last-to-first by `pop`: reverse so the model's first choice goes first.
            let candidates: Vec<M::State> = next_states.drain(..).rev().collect();
            if try_place(
                entry,
                candidates,
                &mut state,
                &mut linearized,
                &mut stack,
                &mut links,
            ) {
                deepest = deepest.max(stack.len());
                entry = links.next[head];
            } else {
                entry = links.next[entry];
            }
        } else {
            // This operation had to be placed before its return and was not.
            if best
                .as_ref()
                .is_none_or(|(prefix, _)| stack.len() > prefix.len())
            {
                let prefix = stack.iter().map(|f| events[f.call].op).collect();
                best = Some((prefix, event.op));
            }
            // Undo the last linearized call; try its other successor states, else move on.
            let Some(frame) = stack.pop() else {
                let (prefix, stuck) = best.expect("recorded just above");
                return SearchOutcome::Violation {
                    prefix,
                    stuck,
                    steps,
                };
            };
            let op = events[frame.call].op;
            links.relink(return_of[op]);
            links.relink(frame.call);
            linearized.clear(op);
            state = frame.before;
            entry = if try_place(
                frame.call,
                frame.untried,
                &mut state,
                &mut linearized,
                &mut stack,
                &mut links,
            ) {
                links.next[head]
            } else {
                links.next[frame.call]
            };
        }
    }
    SearchOutcome::Linearizable { steps }
}
