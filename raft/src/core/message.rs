//! Messages between Raft peers. The caller moves them; the core never touches a socket.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::types::{Entry, LogIndex, Snapshot, Term};
use sim_core::NodeId;

/// One message from `from` to `to`, stamped with the sender's view of the term (or, for a
/// pre-vote and a granted pre-vote response, the term the pre-candidate would campaign in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub kind: MessageKind,
}

/// Why a (pre-)vote was refused. Carried in the response and in `Event`s so that traces say
/// why an election failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoteRejectReason {
    /// The voter already voted for someone else in this term.
    AlreadyVoted { vote: NodeId },
    /// The voter follows a leader in this term and so will not vote.
    KnownLeader { leader: NodeId },
    /// The candidate's log is behind the voter's (election restriction, Raft §5.4.1).
    LogNotUpToDate {
        last_log_index: LogIndex,
        last_log_term: Term,
    },
    /// The candidate's term is lower than the voter's.
    StaleTerm,
    /// The voter heard from a live leader within the election timeout (check-quorum lease);
    /// no response is sent for this reason, it appears in events only.
    LeaderLease { leader: NodeId },
}

impl fmt::Display for VoteRejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VoteRejectReason::AlreadyVoted { vote } => write!(f, "already voted for {vote}"),
            VoteRejectReason::KnownLeader { leader } => write!(f, "follows leader {leader}"),
            VoteRejectReason::LogNotUpToDate {
                last_log_index,
                last_log_term,
            } => write!(
                f,
                "log not up to date (voter last {last_log_term}/{last_log_index})"
            ),
            VoteRejectReason::StaleTerm => write!(f, "stale term"),
            VoteRejectReason::LeaderLease { leader } => write!(f, "in lease of leader {leader}"),
        }
    }
}

/// The outcome of an AppendEntries at the follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppendOutcome {
    /// The follower's log matches the leader's up to `match_index`.
    Accepted { match_index: LogIndex },
    /// The consistency check failed at `rejected_index`. The hint is the follower's largest
    /// index at or below it whose term is at most the leader's `prev_log_term`, so the
    /// leader can skip a whole term of mismatching entries per round trip (fast
    /// backtracking, etcd `findConflictByTerm`).
    Rejected {
        rejected_index: LogIndex,
        hint_index: LogIndex,
        hint_term: Term,
    },
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    /// Would you vote for me in `term` (the message's term)? Does not change anyone's term,
    /// so a partitioned node rejoining cannot disrupt a stable leader (thesis §9.6).
    PreVote {
        last_log_index: LogIndex,
        last_log_term: Term,
    },
    PreVoteResp {
        reject: Option<VoteRejectReason>,
    },
    RequestVote {
        last_log_index: LogIndex,
        last_log_term: Term,
    },
    RequestVoteResp {
        reject: Option<VoteRejectReason>,
    },
    AppendEntries {
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        commit: LogIndex,
    },
    AppendEntriesResp {
        outcome: AppendOutcome,
    },
    /// Leader liveness; `commit` is capped at the follower's match index so a follower never
    /// commits an entry it may not have. `context` tags a ReadIndex round.
    Heartbeat {
        commit: LogIndex,
        context: Option<Vec<u8>>,
    },
    HeartbeatResp {
        context: Option<Vec<u8>>,
    },
    InstallSnapshot {
        snapshot: Snapshot,
    },
    /// The follower's last index after handling the snapshot.
    InstallSnapshotResp {
        last_index: LogIndex,
    },
    /// A follower forwards a linearizable read to the leader.
    ReadIndex {
        context: Vec<u8>,
    },
    /// The leader's answer: the read may be served once the follower applied `index`.
    ReadIndexResp {
        context: Vec<u8>,
        index: LogIndex,
    },
}

impl MessageKind {
    /// A short name for traces and golden output.
    pub fn name(&self) -> &'static str {
        match self {
            MessageKind::PreVote { .. } => "PreVote",
            MessageKind::PreVoteResp { .. } => "PreVoteResp",
            MessageKind::RequestVote { .. } => "RequestVote",
            MessageKind::RequestVoteResp { .. } => "RequestVoteResp",
            MessageKind::AppendEntries { .. } => "AppendEntries",
            MessageKind::AppendEntriesResp { .. } => "AppendEntriesResp",
            MessageKind::Heartbeat { .. } => "Heartbeat",
            MessageKind::HeartbeatResp { .. } => "HeartbeatResp",
            MessageKind::InstallSnapshot { .. } => "InstallSnapshot",
            MessageKind::InstallSnapshotResp { .. } => "InstallSnapshotResp",
            MessageKind::ReadIndex { .. } => "ReadIndex",
            MessageKind::ReadIndexResp { .. } => "ReadIndexResp",
        }
    }
}

fn ctx(c: &Option<Vec<u8>>) -> String {
    match c {
        Some(c) => format!(" ctx={:?}", String::from_utf8_lossy(c)),
        None => String::new(),
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}->{} {} term={}",
            self.from,
            self.to,
            self.kind.name(),
            self.term
        )?;
        match &self.kind {
            MessageKind::PreVote {
                last_log_index,
                last_log_term,
            }
            | MessageKind::RequestVote {
                last_log_index,
                last_log_term,
            } => {
                write!(f, " last={last_log_term}/{last_log_index}")
            }
            MessageKind::PreVoteResp { reject } | MessageKind::RequestVoteResp { reject } => {
                match reject {
                    None => write!(f, " granted"),
                    Some(r) => write!(f, " rejected ({r})"),
                }
            }
            MessageKind::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                commit,
            } => {
                write!(
                    f,
                    " prev={prev_log_term}/{prev_log_index} commit={commit} entries=["
                )?;
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{e}")?;
                }
                write!(f, "]")
            }
            MessageKind::AppendEntriesResp { outcome } => match outcome {
                AppendOutcome::Accepted { match_index } => write!(f, " match={match_index}"),
                AppendOutcome::Rejected {
                    rejected_index,
                    hint_index,
                    hint_term,
                } => write!(
                    f,
                    " rejected={rejected_index} hint={hint_term}/{hint_index}"
                ),
            },
            MessageKind::Heartbeat { commit, context } => {
                write!(f, " commit={commit}{}", ctx(context))
            }
            MessageKind::HeartbeatResp { context } => write!(f, "{}", ctx(context)),
            MessageKind::InstallSnapshot { snapshot } => write!(
                f,
                " snapshot={}/{} voters={:?} learners={:?}",
                snapshot.meta.term,
                snapshot.meta.index,
                snapshot
                    .meta
                    .conf_state
                    .voters
                    .iter()
                    .map(|n| n.0)
                    .collect::<Vec<_>>(),
                snapshot
                    .meta
                    .conf_state
                    .learners
                    .iter()
                    .map(|n| n.0)
                    .collect::<Vec<_>>()
            ),
            MessageKind::InstallSnapshotResp { last_index } => write!(f, " last={last_index}"),
            MessageKind::ReadIndex { context } => write!(f, "{}", ctx(&Some(context.clone()))),
            MessageKind::ReadIndexResp { context, index } => {
                write!(f, " index={index}{}", ctx(&Some(context.clone())))
            }
        }
    }
}
