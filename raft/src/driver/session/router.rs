//! The session's shared state and its one receive loop: every message the node's mailbox
//! holds is read by [`dispatch`] and routed, a reply to the call that waits for its
//! request id, a push to the ordered stream of its server.
//!
//! The calls and stream readers of a node's tasks never read the mailbox themselves: two
//! readers of one mailbox would take each other's messages (sim-core keeps one receive
//! waker a node). They wait on their own slot here instead, woken by the loop.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use rand_chacha::ChaCha8Rng;
use sim_core::time::{poll_deadline, DeadlineTimer};
use sim_core::{Carries, NodeCtx, NodeId, SimTime};

use super::SessionConfig;
use crate::driver::app::{ClientReply, StateMachine};
use crate::driver::message::{Msg, MsgOf};

/// What every handle of one session shares.
pub(super) struct Shared<S: StateMachine, M> {
    pub(super) ctx: NodeCtx<M>,
    pub(super) config: SessionConfig,
    pub(super) state: RefCell<Router<S::Output>>,
}

/// A call's place in the router: waiting (with the waker of its task), or answered.
#[derive(Debug)]
enum Slot<O> {
    Waiting(Option<Waker>),
    Answered(NodeId, ClientReply<O>),
}

/// The mutable part of a session.
pub(super) struct Router<O> {
    pub(super) servers: Vec<NodeId>,
    /// The member the next request goes to, shared by every call: a leader hint one call
    /// learns helps the others.
    pub(super) target: NodeId,
    /// The node's rng, taken from its context (which every handle only reads).
    pub(super) rng: ChaCha8Rng,
    next_request: u64,
    calls: BTreeMap<u64, Slot<O>>,
    /// Pushes in their stream's order, not taken yet, with the stream they belong to.
    pushes: VecDeque<(Option<u64>, NodeId, O)>,
    push_wakers: Vec<Waker>,
    streams: BTreeMap<NodeId, PushStream<O>>,
    /// How to tell a push's stream (none: every push is unkeyed).
    push_key: Option<fn(&O) -> Option<u64>>,
    /// Streams nobody reads any more: their pushes are dropped on arrival.
    closed: BTreeSet<u64>,
    /// Replies that found no call waiting (it had timed out or already been answered).
    pub(super) late_replies: u64,
}

/// One server's push stream as the client reassembles it.
#[derive(Debug)]
struct PushStream<O> {
    epoch: u64,
    next_seq: u64,
    early: BTreeMap<u64, O>,
}

impl<O> Router<O> {
    pub(super) fn new(servers: Vec<NodeId>, target: NodeId, rng: ChaCha8Rng) -> Self {
        Router {
            servers,
            target,
            rng,
            next_request: 0,
            calls: BTreeMap::new(),
            pushes: VecDeque::new(),
            push_wakers: Vec::new(),
            streams: BTreeMap::new(),
            push_key: None,
            closed: BTreeSet::new(),
            late_replies: 0,
        }
    }

    /// A fresh request id with a slot waiting for its reply.
    pub(super) fn open_call(&mut self) -> u64 {
        self.next_request += 1;
        self.calls.insert(self.next_request, Slot::Waiting(None));
        self.next_request
    }

    /// Calls waiting for a reply now.
    pub(super) fn in_flight(&self) -> usize {
        self.calls.len()
    }

    pub(super) fn set_push_key(&mut self, key: fn(&O) -> Option<u64>) {
        self.push_key = Some(key);
    }

    /// Drops the stream `key`'s queued pushes and every later one.
    pub(super) fn close_stream(&mut self, key: u64) {
        self.closed.insert(key);
        self.pushes.retain(|(k, _, _)| *k != Some(key));
    }

    /// Takes every queued push of stream `key` (of any stream: `None`).
    pub(super) fn take_pushes(&mut self, key: Option<u64>) -> Vec<(NodeId, O)> {
        let (taken, kept) = std::mem::take(&mut self.pushes)
            .into_iter()
            .partition(|(k, _, _)| key.is_none() || *k == key);
        self.pushes = kept;
        taken.into_iter().map(|(_, from, o)| (from, o)).collect()
    }

    /// Routes one message from the mailbox.
    fn deliver(&mut self, from: NodeId, msg: Msg<impl Sized, impl Sized, O>) {
        match msg {
            Msg::Reply { request, reply } => match self.calls.get_mut(&request) {
                Some(slot @ Slot::Waiting(_)) => {
                    if let Slot::Waiting(Some(waker)) =
                        std::mem::replace(slot, Slot::Answered(from, reply))
                    {
                        waker.wake();
                    }
                }
                // An answer to an attempt given up on, or a second answer: it belongs to
                // no call that waits, so it completes none.
                Some(Slot::Answered(..)) | None => self.late_replies += 1,
            },
            Msg::Push { epoch, seq, output } => self.receive_push(from, epoch, seq, output),
            // Nothing else is for a client.
            Msg::Raft(_) | Msg::Request { .. } => {}
        }
    }

    /// Puts a push in its stream; whatever is now in order becomes available.
    fn receive_push(&mut self, from: NodeId, epoch: u64, seq: u64, output: O) {
        let stream = self.streams.entry(from).or_insert(PushStream {
            epoch,
            next_seq: 1,
            early: BTreeMap::new(),
        });
        if epoch < stream.epoch {
            return; // from an incarnation that has since restarted
        }
        if epoch > stream.epoch {
            *stream = PushStream {
                epoch,
                next_seq: 1,
                early: BTreeMap::new(),
            };
        }
        if seq >= stream.next_seq {
            stream.early.insert(seq, output);
        }
        let mut arrived = false;
        while let Some(output) = stream.early.remove(&stream.next_seq) {
            stream.next_seq += 1;
            let key = self.push_key.and_then(|k| k(&output));
            if key.is_some_and(|k| self.closed.contains(&k)) {
                continue;
            }
            self.pushes.push_back((key, from, output));
            arrived = true;
        }
        if arrived {
            for waker in self.push_wakers.drain(..) {
                waker.wake();
            }
        }
    }
}

/// The receive loop: reads the node's mailbox and routes every message, until the last
/// handle of the session is gone (it notices at the next message) or the node dies. Mail
/// of another layer (nothing a Raft server sends) has no call or stream to go to and is
/// noted and dropped.
pub(super) async fn dispatch<S: StateMachine, M: Carries<MsgOf<S>>>(shared: Weak<Shared<S, M>>) {
    while let Some(s) = shared.upgrade() {
        match s.ctx.recv().await.narrow::<MsgOf<S>>() {
            Ok(env) => s.state.borrow_mut().deliver(env.from, env.msg),
            Err(env) => s.ctx.note("foreign-message", env.msg.kind()),
        }
    }
}

/// Forgets a call's slot when its waiter goes (answered, timed out, or dropped), so a
/// late reply finds no one to complete.
struct Forget<'a, S: StateMachine, M> {
    shared: &'a Shared<S, M>,
    request: u64,
}

impl<S: StateMachine, M> Drop for Forget<'_, S, M> {
    fn drop(&mut self) {
        self.shared.state.borrow_mut().calls.remove(&self.request);
    }
}

/// Waits until `deadline` for the reply to `request` (opened with [`Router::open_call`]).
pub(super) async fn await_reply<S: StateMachine, M>(
    shared: &Rc<Shared<S, M>>,
    request: u64,
    deadline: SimTime,
) -> Option<(NodeId, ClientReply<S::Output>)> {
    let _forget = Forget {
        shared: shared.as_ref(),
        request,
    };
    let mut timer: DeadlineTimer = None;
    std::future::poll_fn(|cx| {
        {
            let mut st = shared.state.borrow_mut();
            match st.calls.get_mut(&request) {
                Some(Slot::Waiting(waker)) => *waker = Some(cx.waker().clone()),
                Some(Slot::Answered(..)) => {
                    if let Some(Slot::Answered(from, reply)) = st.calls.remove(&request) {
                        return Poll::Ready(Some((from, reply)));
                    }
                }
                None => return Poll::Ready(None),
            }
        }
        poll_deadline(cx, &mut timer, deadline)
    })
    .await
}

/// Waits until `deadline` for the next push of stream `key` (any stream: `None`).
pub(super) async fn await_push<S: StateMachine, M>(
    shared: &Rc<Shared<S, M>>,
    key: Option<u64>,
    deadline: SimTime,
) -> Option<(NodeId, S::Output)> {
    let mut timer: DeadlineTimer = None;
    std::future::poll_fn(|cx| {
        {
            let mut st = shared.state.borrow_mut();
            let position = st
                .pushes
                .iter()
                .position(|(k, _, _)| key.is_none() || *k == key);
            if let Some((_, from, output)) = position.and_then(|i| st.pushes.remove(i)) {
                return Poll::Ready(Some((from, output)));
            }
            if !st.push_wakers.iter().any(|w| w.will_wake(cx.waker())) {
                st.push_wakers.push(cx.waker().clone());
            }
        }
        poll_deadline(cx, &mut timer, deadline)
    })
    .await
}
