//! A client's connection to a Raft cluster: one request at a time, leader hints followed,
//! deadlines kept, and the server's unasked messages (watch events) kept for later.
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

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::{NodeCtx, NodeId, SimTime};

use super::app::{ClientOp, ClientReply, Membership, StateMachine};
use super::message::{Msg, MsgOf};
use crate::core::ConfChange;

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

/// See the module docs.
#[derive(Debug)]
pub struct Session<S: StateMachine> {
    ctx: NodeCtx<MsgOf<S>>,
    servers: Vec<NodeId>,
    target: NodeId,
    next_request: u64,
    pushes: VecDeque<(NodeId, S::Output)>,
    streams: BTreeMap<NodeId, PushStream<S::Output>>,
    config: SessionConfig,
}

/// One server's push stream as the client reassembles it.
#[derive(Debug)]
struct PushStream<O> {
    epoch: u64,
    next_seq: u64,
    early: BTreeMap<u64, O>,
}

impl<S: StateMachine> Session<S> {
    /// A session from `ctx`'s node to `servers`, starting at a random one.
    ///
    /// # Panics
    ///
    /// If `servers` is empty.
    pub fn new(mut ctx: NodeCtx<MsgOf<S>>, servers: Vec<NodeId>, config: SessionConfig) -> Self {
        assert!(!servers.is_empty(), "a client needs servers");
        let target = servers[ctx.rng().gen_range(0..servers.len())];
        Session {
            ctx,
            servers,
            target,
            next_request: 0,
            pushes: VecDeque::new(),
            streams: BTreeMap::new(),
            config,
        }
    }

    /// The node's context (clock, history, trace).
    pub fn ctx(&self) -> &NodeCtx<MsgOf<S>> {
        &self.ctx
    }

    /// The node's context, mutably (its rng).
    pub fn ctx_mut(&mut self) -> &mut NodeCtx<MsgOf<S>> {
        &mut self.ctx
    }

    /// The session's timeouts.
    pub fn config(&self) -> SessionConfig {
        self.config
    }

    /// The server the next request goes to.
    pub fn target(&self) -> NodeId {
        self.target
    }

    /// Sends the next request to `node` (a client pinned to one member, as in the
    /// quorum-write story).
    pub fn connect(&mut self, node: NodeId) {
        self.target = node;
    }

    /// Picks another server at random (after a silence the current one may be gone).
    pub fn reconnect(&mut self) {
        let next = self.servers[self.ctx.rng().gen_range(0..self.servers.len())];
        self.target = next;
    }

    /// Sends `op` and waits for its answer, following leader hints; resends after an
    /// attempt's silence only if `idempotent`.
    pub async fn call(
        &mut self,
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
        &mut self,
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
    /// hints; resends after an attempt's silence only if `idempotent`.
    async fn exchange(
        &mut self,
        op: ClientOp<S::Command, S::Query>,
        idempotent: bool,
    ) -> Result<(NodeId, ClientReply<S::Output>), CallError> {
        let deadline = self
            .ctx
            .now()
            .after(Duration::from_millis(self.config.timeout_ms));
        while self.ctx.now() < deadline {
            self.next_request += 1;
            let request = self.next_request;
            self.ctx.send(
                self.target,
                Msg::Request {
                    request,
                    op: op.clone(),
                },
            );
            let attempt_end = if idempotent {
                let end = self
                    .ctx
                    .now()
                    .after(Duration::from_millis(self.config.attempt_timeout_ms.max(1)));
                end.min(deadline)
            } else {
                deadline
            };
            match self.await_reply(request, attempt_end).await {
                Some((_, ClientReply::NotLeader { leader })) => match leader {
                    Some(l) if l != self.target => self.target = l,
                    _ => {
                        self.ctx
                            .sleep(Duration::from_millis(self.config.retry_ms))
                            .await;
                        self.reconnect();
                    }
                },
                Some(answer) => return Ok(answer),
                None if idempotent => self.reconnect(),
                None => break,
            }
        }
        // The node we asked may be gone: the next request tries another.
        self.reconnect();
        Err(CallError::Timeout)
    }

    /// Waits until `deadline` for the answer to `request`, keeping pushes that arrive.
    async fn await_reply(
        &mut self,
        request: u64,
        deadline: SimTime,
    ) -> Option<(NodeId, ClientReply<S::Output>)> {
        loop {
            let env = self.ctx.recv_until(deadline).await?;
            match env.msg {
                Msg::Reply { request: r, reply } if r == request => return Some((env.from, reply)),
                Msg::Push { epoch, seq, output } => self.receive_push(env.from, epoch, seq, output),
                // Answers to attempts given up on, and anything not for a client.
                _ => {}
            }
        }
    }

    /// Puts a push in its stream; whatever is now in order becomes available.
    fn receive_push(&mut self, from: NodeId, epoch: u64, seq: u64, output: S::Output) {
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
        while let Some(output) = stream.early.remove(&stream.next_seq) {
            stream.next_seq += 1;
            self.pushes.push_back((from, output));
        }
    }

    /// The next unasked message from a server, in its stream's order, waiting until
    /// `deadline` at most.
    pub async fn next_push(&mut self, deadline: SimTime) -> Option<(NodeId, S::Output)> {
        loop {
            if let Some(push) = self.pushes.pop_front() {
                return Some(push);
            }
            let env = self.ctx.recv_until(deadline).await?;
            if let Msg::Push { epoch, seq, output } = env.msg {
                self.receive_push(env.from, epoch, seq, output);
            }
        }
    }

    /// Sleeps, keeping pushes that arrive meanwhile.
    pub async fn sleep(&mut self, duration: Duration) {
        let until = self.ctx.now().after(duration);
        self.sleep_until(until).await;
    }

    /// Sleeps until `until`, keeping pushes that arrive meanwhile.
    pub async fn sleep_until(&mut self, until: SimTime) {
        while let Some(env) = self.ctx.recv_until(until).await {
            if let Msg::Push { epoch, seq, output } = env.msg {
                self.receive_push(env.from, epoch, seq, output);
            }
        }
    }

    /// Pushes received and not taken yet.
    pub fn take_pushes(&mut self) -> Vec<(NodeId, S::Output)> {
        self.pushes.drain(..).collect()
    }
}
