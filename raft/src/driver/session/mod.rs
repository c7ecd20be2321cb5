//! A client's connection to a Raft cluster, shared by every task of its node: many
//! requests in flight at once, each matched to its reply by request id, leader hints
//! followed, deadlines kept, and the server's unasked messages (watch events) kept in
//! order for whoever reads them.
//!
//! Why shared: etcd's clientv3 multiplexes every RPC and every watch of a process over one
//! gRPC connection (HTTP/2 streams, each with its own stream id), so an API server serving
//! many clients waits on many etcd calls at once and holds its watches beside them. Here
//! the connection is a cheap clonable handle over one state (`Rc<RefCell<..>>`: a node's
//! tasks are madsim tasks on one thread): one receive loop (`router::dispatch`, spawned on
//! the node) reads the node's mailbox and routes each reply by its request id (our stream
//! id) to the call awaiting it, and each push to its stream. A reply nobody waits for any
//! more (its call timed out or was dropped) is counted ([`Session::late_replies`]) and
//! dropped: it can never complete another call, whose id differs. The target member is
//! shared too, so a leader hint one call learns sends the others there.
//!
//! What is modelled and what is not: request multiplexing, per-call deadlines, the shared
//! target, ordered push streams per server and their loss. Not modelled: flow control
//! and HTTP/2 windows (a call is one datagram), a per-connection limit on concurrent
//! streams (callers bound their own concurrency), and connection setup (the first
//! datagram simply goes out).
//!
//! The session knows nothing of histories: the typed clients built on it (the register's
//! [`super::run_client`], etcd's `EtcdClient`) decide what an outcome means. Its one rule
//! about retries is the one that keeps histories honest: a request the servers may have
//! acted on is never sent twice. A `NotLeader` answer proves the node did not propose it,
//! so the session resends to the hinted leader; silence proves nothing, so a write that
//! meets silence ends as [`CallError::Timeout`], indeterminate. Only requests the caller
//! marks idempotent (reads, keep-alives) are resent after an attempt's silence.
//!
//! Pushes travel as an ordered stream per server, as a watch stream does over TCP: the
//! network may reorder datagrams, so each push carries its server's incarnation and a
//! position, and the session hands them out in order. A push lost on the way stalls that
//! stream for good, as a broken connection would; the watcher notices the silence and
//! resumes on another member.

mod router;

use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sim_core::{Carries, NodeCtx, NodeId, SimTime};

use super::app::{ClientOp, ClientReply, Membership, StateMachine};
use super::message::{Msg, MsgOf};
use crate::core::ConfChange;
use router::{Router, Shared};

/// How long a session waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Give up on a request after this long, milliseconds (its outcome is then unknown).
    pub timeout_ms: u64,
    /// Resend an idempotent request to another server after this long without an answer,
    /// milliseconds.
    pub attempt_timeout_ms: u64,
    /// Wait before asking another server after a `NotLeader` without a hint, milliseconds.
    pub retry_ms: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            timeout_ms: 2_000,
            attempt_timeout_ms: 500,
            retry_ms: 50,
        }
    }
}

/// A node's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer<O> {
    /// What the state machine returned.
    pub output: O,
    /// The log index it was applied at (for reads, the index the state reflects).
    pub index: u64,
    /// The term of that entry (0 for reads).
    pub term: u64,
    /// The node that answered.
    pub from: NodeId,
}

/// Why a membership change did not take effect (as far as the caller knows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfChangeError {
    /// The leader refused it and did nothing.
    Refused {
        /// Why.
        reason: String,
        /// The leader's configuration.
        membership: Membership,
    },
    /// No answer before the deadline: it may or may not take effect.
    Timeout,
}

impl std::fmt::Display for ConfChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfChangeError::Refused { reason, .. } => write!(f, "refused: {reason}"),
            ConfChangeError::Timeout => f.write_str("timed out (outcome unknown)"),
        }
    }
}

impl std::error::Error for ConfChangeError {}

/// Why a call has no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No answer before the deadline: the request may or may not have taken effect.
    Timeout,
}

/// See the module docs. Cloning gives another handle to the same connection.
///
/// `M` is the world's message type: the cluster's own ([`MsgOf`]) in a Raft world, or one
/// that carries it beside other layers' traffic (see [`sim_core::carry`]).
pub struct Session<S: StateMachine, M = MsgOf<S>> {
    shared: Rc<Shared<S, M>>,
}

impl<S: StateMachine, M> Clone for Session<S, M> {
    fn clone(&self) -> Self {
        Session {
            shared: self.shared.clone(),
        }
    }
}

impl<S: StateMachine, M> std::fmt::Debug for Session<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.state.borrow();
        f.debug_struct("Session")
            .field("ctx", &self.shared.ctx)
            .field("target", &st.target)
            .field("in_flight", &st.in_flight())
            .field("late_replies", &st.late_replies)
            .finish()
    }
}

impl<S: StateMachine, M: Carries<MsgOf<S>>> Session<S, M> {
    /// A session from `ctx`'s node to `servers`, starting at a random one. It spawns the
    /// node's receive loop: from now on only the session reads the node's mailbox.
    ///
    /// # Panics
    ///
    /// If `servers` is empty.
    pub fn new(mut ctx: NodeCtx<M>, servers: Vec<NodeId>, config: SessionConfig) -> Self {
        assert!(!servers.is_empty(), "a client needs servers");
        // The context is shared read-only from now on, so the session keeps its rng (the
        // same stream of draws the context would have given).
        let mut rng = ctx.rng().clone();
        let target = servers[rng.gen_range(0..servers.len())];
        let shared = Rc::new(Shared {
            ctx,
            config,
            state: RefCell::new(Router::new(servers, target, rng)),
        });
        shared.ctx.spawn(router::dispatch(Rc::downgrade(&shared)));
        Session { shared }
    }

    /// The node's context (clock, history, trace).
    pub fn ctx(&self) -> &NodeCtx<M> {
        &self.shared.ctx
    }

    /// The node's rng (do not hold it across an `.await`).
    pub fn rng(&self) -> RefMut<'_, ChaCha8Rng> {
        RefMut::map(self.shared.state.borrow_mut(), |st| &mut st.rng)
    }

    /// The session's timeouts.
    pub fn config(&self) -> SessionConfig {
        self.shared.config
    }

    /// The server the next request goes to.
    pub fn target(&self) -> NodeId {
        self.shared.state.borrow().target
    }

    /// Sends the next requests to `node` (a client pinned to one member, as in the
    /// quorum-write story).
    pub fn connect(&self, node: NodeId) {
        self.shared.state.borrow_mut().target = node;
    }

    /// Picks another server at random (after a silence the current one may be gone).
    pub fn reconnect(&self) {
        let st = &mut *self.shared.state.borrow_mut();
        let count = st.servers.len();
        st.target = st.servers[st.rng.gen_range(0..count)];
    }

    /// Picks another server at random if the target is still `failed`: another call may
    /// already have moved on (to a leader it was told of), and that is kept.
    fn reconnect_from(&self, failed: NodeId) {
        if self.target() == failed {
            self.reconnect();
        }
    }

    /// Requests waiting for their answer now (from every task).
    pub fn in_flight(&self) -> usize {
        self.shared.state.borrow().in_flight()
    }

    /// Replies that came after their call had given up (or twice): dropped, completing
    /// nothing.
    pub fn late_replies(&self) -> u64 {
        self.shared.state.borrow().late_replies
    }

    /// Tells pushes apart by stream (an etcd watch id), for [`Session::next_push_of`].
    pub fn set_push_key(&self, key: fn(&S::Output) -> Option<u64>) {
        self.shared.state.borrow_mut().set_push_key(key);
    }

    /// Nobody reads stream `key` any more: its queued pushes and every later one are
    /// dropped.
    pub fn close_stream(&self, key: u64) {
        self.shared.state.borrow_mut().close_stream(key);
    }

    /// Sends `op` and waits for its answer, following leader hints; resends after an
    /// attempt's silence only if `idempotent`.
    pub async fn call(
        &self,
        op: ClientOp<S::Command, S::Query>,
        idempotent: bool,
    ) -> Result<Answer<S::Output>, CallError> {
        match self.exchange(op, idempotent).await? {
            (
                from,
                ClientReply::Done {
                    output,
                    index,
                    term,
                },
            ) => Ok(Answer {
                output,
                index,
                term,
                from,
            }),
            // Servers answer these to membership changes only; for a command or a query
            // they mean nothing, as silence would.
            (_, ClientReply::ConfChanged { .. } | ClientReply::Refused { .. }) => {
                Err(CallError::Timeout)
            }
            (_, ClientReply::NotLeader { .. }) => Err(CallError::Timeout),
        }
    }

    /// Asks the leader for one membership change (an operator's `etcdctl member ...`) and
    /// waits until it has applied it: the answer's output is the configuration then in
    /// force. Never resent after a silence (the leader may have proposed it), so a
    /// timeout leaves the outcome unknown: the caller asks again, and a change that did
    /// take effect is then refused with the configuration that shows it.
    pub async fn conf_change(
        &self,
        change: ConfChange,
    ) -> Result<Answer<Membership>, ConfChangeError> {
        match self.exchange(ClientOp::ConfChange(change), false).await {
            Ok((
                from,
                ClientReply::ConfChanged {
                    index,
                    term,
                    membership,
                },
            )) => Ok(Answer {
                output: membership,
                index,
                term,
                from,
            }),
            Ok((_, ClientReply::Refused { reason, membership })) => {
                Err(ConfChangeError::Refused { reason, membership })
            }
            Ok((_, ClientReply::Done { .. } | ClientReply::NotLeader { .. }))
            | Err(CallError::Timeout) => Err(ConfChangeError::Timeout),
        }
    }

    /// Sends `op` until a node gives an answer other than `NotLeader`, following leader
    /// hints; resends after an attempt's silence only if `idempotent`. Each attempt has
    /// its own request id, so an answer to an attempt given up on completes nothing.
    async fn exchange(
        &self,
        op: ClientOp<S::Command, S::Query>,
        idempotent: bool,
    ) -> Result<(NodeId, ClientReply<S::Output>), CallError> {
        let config = self.config();
        let ctx = self.ctx();
        let deadline = ctx.now().after(Duration::from_millis(config.timeout_ms));
        let mut asked = self.target();
        while ctx.now() < deadline {
            let request = {
                let mut st = self.shared.state.borrow_mut();
                asked = st.target;
                st.open_call()
            };
            ctx.send(
                asked,
                M::wrap(Msg::Request {
                    request,
                    op: op.clone(),
                }),
            );
            let attempt_end = if idempotent {
                let end = ctx
                    .now()
                    .after(Duration::from_millis(config.attempt_timeout_ms.max(1)));
                end.min(deadline)
            } else {
                deadline
            };
            match router::await_reply(&self.shared, request, attempt_end).await {
                Some((_, ClientReply::NotLeader { leader })) => match leader {
                    Some(l) if l != asked => self.connect(l),
                    _ => {
                        ctx.sleep(Duration::from_millis(config.retry_ms)).await;
                        self.reconnect_from(asked);
                    }
                },
                Some(answer) => return Ok(answer),
                None if idempotent => self.reconnect_from(asked),
                None => break,
            }
        }
        // The node we asked may be gone: the next request tries another.
        self.reconnect_from(asked);
        Err(CallError::Timeout)
    }

    /// The next unasked message from a server, of any stream, in its server's order,
    /// waiting until `deadline` at most.
    pub async fn next_push(&self, deadline: SimTime) -> Option<(NodeId, S::Output)> {
        router::await_push(&self.shared, None, deadline).await
    }

    /// The next push of stream `key` (see [`Session::set_push_key`]), in its server's
    /// order, waiting until `deadline` at most. Pushes of other streams stay queued.
    pub async fn next_push_of(&self, key: u64, deadline: SimTime) -> Option<(NodeId, S::Output)> {
        router::await_push(&self.shared, Some(key), deadline).await
    }

    /// Sleeps (pushes that arrive meanwhile are kept by the receive loop).
    pub async fn sleep(&self, duration: Duration) {
        self.ctx().sleep(duration).await;
    }

    /// Sleeps until `until` (pushes that arrive meanwhile are kept).
    pub async fn sleep_until(&self, until: SimTime) {
        self.ctx().sleep_until(until).await;
    }

    /// Pushes received and not taken yet.
    pub fn take_pushes(&self) -> Vec<(NodeId, S::Output)> {
        self.shared.state.borrow_mut().take_pushes(None)
    }
}
