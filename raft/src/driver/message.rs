//! The messages of a Raft cluster on sim-core: Raft's own, and the client protocol.

use serde::{Deserialize, Serialize};

use super::app::{ClientOp, ClientReply, Membership, StateMachine};
use crate::core::{self, MessageKind};

/// Every message a Raft world carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg<C, Q, O> {
    /// Between Raft nodes.
    Raft(core::Message),
    /// From a client.
    Request {
        /// The client's request number.
        request: u64,
        /// What it asks.
        op: ClientOp<C, Q>,
    },
    /// To a client, unasked: a watch event. Pushes ride an ordered stream, as etcd's watch
    /// responses ride one gRPC stream over TCP: numbered per (server incarnation, client),
    /// so the client can put them back in order (see `Session`).
    Push {
        /// The server's incarnation (a restart starts a new stream).
        epoch: u64,
        /// Position in the stream, from 1.
        seq: u64,
        /// What the state machine sends.
        output: O,
    },
    /// To a client.
    Reply {
        /// The request it answers.
        request: u64,
        /// The answer.
        reply: ClientReply<O>,
    },
}

/// `voters=n1,n2 learners=n4`, for message details.
fn describe(membership: &Membership) -> String {
    let list = |nodes: &[sim_core::NodeId]| {
        nodes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "voters={} learners={}",
        list(&membership.voters),
        list(&membership.learners)
    )
}

/// The message type of a world replicating `S`.
pub type MsgOf<S> =
    Msg<<S as StateMachine>::Command, <S as StateMachine>::Query, <S as StateMachine>::Output>;

impl<C, Q, O> sim_core::Message for Msg<C, Q, O>
where
    C: Send + std::fmt::Debug + 'static,
    Q: Send + std::fmt::Debug + 'static,
    O: Send + std::fmt::Debug + 'static,
{
    fn kind(&self) -> &'static str {
        match self {
            Msg::Raft(m) => match &m.kind {
                MessageKind::PreVote { .. } => "pre-vote",
                MessageKind::PreVoteResp { .. } => "pre-vote-resp",
                MessageKind::RequestVote { .. } => "request-vote",
                MessageKind::RequestVoteResp { .. } => "request-vote-resp",
                MessageKind::AppendEntries { .. } => "append-entries",
                MessageKind::AppendEntriesResp { .. } => "append-entries-resp",
                MessageKind::Heartbeat { .. } => "heartbeat",
                MessageKind::HeartbeatResp { .. } => "heartbeat-resp",
                MessageKind::InstallSnapshot { .. } => "install-snapshot",
                MessageKind::InstallSnapshotResp { .. } => "install-snapshot-resp",
                MessageKind::ReadIndex { .. } => "read-index",
                MessageKind::ReadIndexResp { .. } => "read-index-resp",
            },
            Msg::Request {
                op: ClientOp::Command(_),
                ..
            } => "client-write",
            Msg::Request {
                op: ClientOp::Query(_),
                ..
            } => "client-read",
            Msg::Request {
                op: ClientOp::ConfChange(_),
                ..
            } => "client-conf-change",
            Msg::Push { .. } => "client-push",
            Msg::Reply {
                reply: ClientReply::Done { .. },
                ..
            } => "client-ok",
            Msg::Reply {
                reply: ClientReply::NotLeader { .. },
                ..
            } => "client-not-leader",
            Msg::Reply {
                reply: ClientReply::ConfChanged { .. },
                ..
            } => "client-conf-changed",
            Msg::Reply {
                reply: ClientReply::Refused { .. },
                ..
            } => "client-refused",
        }
    }

    fn detail(&self) -> String {
        match self {
            Msg::Raft(m) => {
                let term = m.term;
                match &m.kind {
                    MessageKind::PreVote {
                        last_log_index,
                        last_log_term,
                    }
                    | MessageKind::RequestVote {
                        last_log_index,
                        last_log_term,
                    } => format!("term={term} last={last_log_index}/{last_log_term}"),
                    MessageKind::PreVoteResp { reject } | MessageKind::RequestVoteResp { reject } => {
                        match reject {
                            None => format!("term={term} granted"),
                            Some(r) => format!("term={term} refused={r:?}"),
                        }
                    }
                    MessageKind::AppendEntries {
                        prev_log_index,
                        prev_log_term,
                        entries,
                        commit,
                    } => format!(
                        "term={term} prev={prev_log_index}/{prev_log_term} entries={} commit={commit}",
                        entries.len()
                    ),
                    MessageKind::AppendEntriesResp { outcome } => match outcome {
                        core::AppendOutcome::Accepted { match_index } => {
                            format!("term={term} match={match_index}")
                        }
                        core::AppendOutcome::Rejected {
                            rejected_index,
                            hint_index,
                            hint_term,
                        } => format!(
                            "term={term} rejected={rejected_index} hint={hint_term}/{hint_index}"
                        ),
                    },
                    MessageKind::Heartbeat { commit, .. } => format!("term={term} commit={commit}"),
                    MessageKind::InstallSnapshot { snapshot } => format!(
                        "term={term} snapshot={}/{}",
                        snapshot.meta.index, snapshot.meta.term
                    ),
                    MessageKind::InstallSnapshotResp { last_index } => {
                        format!("term={term} last={last_index}")
                    }
                    MessageKind::ReadIndexResp { index, .. } => format!("term={term} index={index}"),
                    MessageKind::HeartbeatResp { .. } | MessageKind::ReadIndex { .. } => {
                        format!("term={term}")
                    }
                }
            }
            Msg::Request { request, op } => match op {
                ClientOp::Command(c) => format!("req={request} {c:?}"),
                ClientOp::Query(q) => format!("req={request} {q:?}"),
                ClientOp::ConfChange(change) => format!("req={request} {change}"),
            },
            Msg::Push { seq, output, .. } => format!("seq={seq} {output:?}"),
            Msg::Reply { request, reply } => match reply {
                ClientReply::Done { output, index, .. } => {
                    format!("req={request} index={index} {output:?}")
                }
                ClientReply::NotLeader { leader } => match leader {
                    Some(l) => format!("req={request} leader={l}"),
                    None => format!("req={request} no leader"),
                },
                ClientReply::ConfChanged {
                    index, membership, ..
                } => format!("req={request} index={index} {}", describe(membership)),
                ClientReply::Refused { reason, membership } => {
                    format!("req={request} refused={reason:?} {}", describe(membership))
                }
            },
        }
    }
}
