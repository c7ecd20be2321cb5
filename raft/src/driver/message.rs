//! The messages of a Raft cluster on sim-core: Raft's own, and the client protocol.

use serde::{Deserialize, Serialize};

use sim_core::LayerRecord;

use super::app::{ClientOp, ClientReply, Describe, Membership, StateMachine};
use crate::core::{self, MessageKind};
use crate::events::MessageFields;

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
    C: Send + Describe + 'static,
    Q: Send + Describe + 'static,
    O: Send + Describe + 'static,
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

    fn fields(&self) -> Option<LayerRecord> {
        let fields = match self {
            Msg::Raft(m) => {
                let term = m.term.0;
                match &m.kind {
                    MessageKind::PreVote {
                        last_log_index,
                        last_log_term,
                    }
                    | MessageKind::RequestVote {
                        last_log_index,
                        last_log_term,
                    } => MessageFields::Vote {
                        term,
                        last_index: last_log_index.0,
                        last_term: last_log_term.0,
                    },
                    MessageKind::PreVoteResp { reject }
                    | MessageKind::RequestVoteResp { reject } => MessageFields::VoteResp {
                        term,
                        refused: *reject,
                    },
                    MessageKind::AppendEntries {
                        prev_log_index,
                        prev_log_term,
                        entries,
                        commit,
                    } => MessageFields::Append {
                        term,
                        prev_index: prev_log_index.0,
                        prev_term: prev_log_term.0,
                        entries: entries.len() as u64,
                        commit: commit.0,
                    },
                    MessageKind::AppendEntriesResp { outcome } => match outcome {
                        core::AppendOutcome::Accepted { match_index } => {
                            MessageFields::AppendAccepted {
                                term,
                                match_index: match_index.0,
                            }
                        }
                        core::AppendOutcome::Rejected {
                            rejected_index,
                            hint_index,
                            hint_term,
                        } => MessageFields::AppendRejected {
                            term,
                            rejected_index: rejected_index.0,
                            hint_index: hint_index.0,
                            hint_term: hint_term.0,
                        },
                    },
                    MessageKind::Heartbeat { commit, .. } => MessageFields::Heartbeat {
                        term,
                        commit: commit.0,
                    },
                    MessageKind::InstallSnapshot { snapshot } => MessageFields::Snapshot {
                        term,
                        index: snapshot.meta.index.0,
                        snapshot_term: snapshot.meta.term.0,
                    },
                    MessageKind::InstallSnapshotResp { last_index } => {
                        MessageFields::SnapshotResp {
                            term,
                            last_index: last_index.0,
                        }
                    }
                    MessageKind::ReadIndexResp { index, .. } => MessageFields::ReadIndexResp {
                        term,
                        index: index.0,
                    },
                    MessageKind::HeartbeatResp { .. } | MessageKind::ReadIndex { .. } => {
                        MessageFields::Term { term }
                    }
                }
            }
            Msg::Request { request, op } => MessageFields::Request {
                request: *request,
                op: match op {
                    ClientOp::Command(c) => c.describe(),
                    ClientOp::Query(q) => q.describe(),
                    ClientOp::ConfChange(change) => change.to_string(),
                },
            },
            Msg::Push { seq, output, .. } => MessageFields::Push {
                seq: *seq,
                output: output.describe(),
            },
            Msg::Reply { request, reply } => MessageFields::Reply {
                request: *request,
                answer: match reply {
                    ClientReply::Done { output, index, .. } => {
                        format!("index={index} {}", output.describe())
                    }
                    ClientReply::NotLeader { leader } => match leader {
                        Some(l) => format!("leader={l}"),
                        None => "no leader".to_string(),
                    },
                    ClientReply::ConfChanged {
                        index, membership, ..
                    } => format!("index={index} {}", describe(membership)),
                    ClientReply::Refused { reason, membership } => {
                        format!("refused ({reason}) {}", describe(membership))
                    }
                },
            },
        };
        Some(LayerRecord::new(fields))
    }
}
