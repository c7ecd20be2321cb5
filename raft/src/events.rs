//! The Raft layer's trace events: what a member's role, votes, log, commit index, state
//! machine and membership did, written by the driver ([`crate::driver`]) into the world's
//! trace and read back, as this type, by the checkers, the scenarios' stories and the
//! reports (see `sim_core::layer`).
//!
//! Each event is a fact made durable or observable on one node, recorded on that node:
//! `hard-state`, `log-append` and `log-truncate` after the fsync that made them durable,
//! `role`, `commit` and `apply` when the core reported them. A message the core did not
//! act on is an `ignored` event with its reason, as raft-rs logs each message it drops, so
//! a delivered message never vanishes without a word.

use serde::{Deserialize, Serialize};
use sim_core::layer::LayerEvent;
use sim_core::NodeId;

use crate::core::{ConfChange, IgnoreReason, Role, VoteRejectReason};

/// A log entry as traces name it: position, term, and a short digest of its data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRef {
    /// Its index.
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// Short digest of its data.
    pub digest: EntryDigest,
}

/// A short digest of an entry's data, as traces and pictures name the entry: the first
/// four bytes of a BLAKE3 hash (`crate::driver::entry_digest` says of what), shown as 8
/// hex digits.
///
/// A number, not a string: every member digests every entry when it becomes durable and
/// again when it is applied, and the checks compare digests across members, so a heap
/// string per entry was an allocation and a string compare on the hot path for what is 32
/// bits. Human-readable formats (the JSON trace) write the hex text; binary ones (the
/// canonical encoding the trace hash is taken over) write the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryDigest(pub u32);

impl std::fmt::Display for EntryDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl std::str::FromStr for EntryDigest {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 8 {
            return Err(format!(
                "an entry digest is 8 hex digits, got {text:?} ({} characters)",
                text.len()
            ));
        }
        u32::from_str_radix(text, 16)
            .map(EntryDigest)
            .map_err(|_| format!("an entry digest is 8 hex digits, got {text:?}"))
    }
}

impl Serialize for EntryDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for EntryDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            u32::deserialize(deserializer).map(EntryDigest)
        }
    }
}

/// What happened on a Raft member. Serialized with a `type` tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RaftEvent {
    /// The member changed role or term.
    Role {
        /// Its new role.
        role: Role,
        /// Its current term.
        term: u64,
        /// The leader it knows of, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader: Option<NodeId>,
    },
    /// The member answered a vote (or pre-vote) request.
    Vote {
        /// The candidate.
        candidate: NodeId,
        /// The term of the request.
        term: u64,
        /// A pre-vote (does not change terms) or a real vote.
        pre_vote: bool,
        /// Why it was refused; none when granted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<VoteRejectReason>,
    },
    /// The member's hard state (term, vote, commit) became durable.
    HardState {
        /// Current term.
        term: u64,
        /// Vote in that term.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vote: Option<NodeId>,
        /// Commit index.
        commit: u64,
    },
    /// Entries became durable in the member's log (appended at their indexes, replacing
    /// any suffix a `log-truncate` removed).
    LogAppend {
        /// The entries.
        entries: Vec<EntryRef>,
    },
    /// The member removed its log entries from `from_index` on (a conflict with the
    /// leader).
    LogTruncate {
        /// First index removed.
        from_index: u64,
    },
    /// The member's commit index advanced.
    Commit {
        /// The new commit index.
        index: u64,
        /// The term of the entry at that index.
        term: u64,
    },
    /// The member applied a committed entry to its state machine.
    Apply {
        /// Its index.
        index: u64,
        /// Its term.
        term: u64,
        /// Short digest of its data.
        digest: EntryDigest,
    },
    /// The member took a snapshot (compacting its log) or installed one from the leader.
    Snapshot {
        /// Last index the snapshot covers.
        index: u64,
        /// Term of that entry.
        term: u64,
        /// Installed from the leader (`true`) or taken locally (`false`).
        installed: bool,
    },
    /// The member's view of the cluster membership changed.
    Membership {
        /// Voting members.
        voters: Vec<NodeId>,
        /// Non-voting members.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        learners: Vec<NodeId>,
    },
    /// The member, leading, proposed a membership change at `index` (the checkers of one
    /// change at a time read this).
    ConfChangeProposed {
        /// The change.
        change: ConfChange,
        /// The log index of its entry.
        index: u64,
        /// The term it was proposed in.
        term: u64,
    },
    /// The member refused a membership change and did nothing.
    ConfChangeRefused {
        /// The change.
        change: ConfChange,
        /// Why, in the core's words.
        reason: String,
    },
    /// The member stepped down: it had not heard from a quorum within an election timeout
    /// (check-quorum).
    CheckQuorumFailed {
        /// The term it led.
        term: u64,
    },
    /// The member did not act on a delivered message, and why.
    Ignored {
        /// The sender.
        from: NodeId,
        /// The message's term.
        term: u64,
        /// Why.
        reason: IgnoreReason,
    },
    /// Recovery found a torn record at the end of the WAL (a power failure mid-write) and
    /// discarded it.
    WalTornTail {
        /// Bytes discarded.
        discarded_bytes: u64,
    },
}

impl LayerEvent for RaftEvent {
    const LAYER: &'static str = "raft";
}

/// The key fields of a message of a Raft world, as the trace's `send` events keep them
/// (the message's kind, `append-entries` or `client-write`, is beside them): what the
/// sequence diagram labels and the checks on acks read, as types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum MessageFields {
    /// A vote or pre-vote request, with the candidate's last log position.
    Vote {
        /// The term asked for.
        term: u64,
        /// The candidate's last log index.
        last_index: u64,
        /// Its term.
        last_term: u64,
    },
    /// A vote or pre-vote answer.
    VoteResp {
        /// The voter's term.
        term: u64,
        /// Why it refused; none when it granted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<VoteRejectReason>,
    },
    /// Entries for a follower.
    Append {
        /// The leader's term.
        term: u64,
        /// The index before the entries.
        prev_index: u64,
        /// Its term.
        prev_term: u64,
        /// How many entries.
        entries: u64,
        /// The leader's commit index.
        commit: u64,
    },
    /// A follower accepted entries up to `match_index`.
    AppendAccepted {
        /// The follower's term.
        term: u64,
        /// The last index it now holds in agreement with the leader.
        match_index: u64,
    },
    /// A follower refused entries: its log does not hold the leader's `prev` entry.
    AppendRejected {
        /// The follower's term.
        term: u64,
        /// The `prev_index` it refused.
        rejected_index: u64,
        /// Where the leader should try next.
        hint_index: u64,
        /// The term of the follower's entry there.
        hint_term: u64,
    },
    /// A heartbeat.
    Heartbeat {
        /// The leader's term.
        term: u64,
        /// The commit index the follower may advance to.
        commit: u64,
    },
    /// A message that carries only its term (heartbeat answers, read-index requests).
    Term {
        /// The sender's term.
        term: u64,
    },
    /// A snapshot for a follower too far behind.
    Snapshot {
        /// The leader's term.
        term: u64,
        /// The last index it covers.
        index: u64,
        /// That entry's term.
        snapshot_term: u64,
    },
    /// A follower installed a snapshot.
    SnapshotResp {
        /// Its term.
        term: u64,
        /// Its last index now.
        last_index: u64,
    },
    /// A read index for a follower's read.
    ReadIndexResp {
        /// The leader's term.
        term: u64,
        /// The index the read must wait for.
        index: u64,
    },
    /// A client's request.
    Request {
        /// The client's request number.
        request: u64,
        /// What it asks, in the state machine's words.
        op: String,
    },
    /// A server's answer to a request.
    Reply {
        /// The request it answers.
        request: u64,
        /// The answer, in the state machine's words (`index=5 put rev=6`, `leader=n2`).
        answer: String,
    },
    /// A server's unasked message to a client (a watch event).
    Push {
        /// Its position in the server's stream.
        seq: u64,
        /// What it carries, in the state machine's words.
        output: String,
    },
}

impl MessageFields {
    /// The sender's term, for Raft messages.
    pub fn term(&self) -> Option<u64> {
        match self {
            MessageFields::Vote { term, .. }
            | MessageFields::VoteResp { term, .. }
            | MessageFields::Append { term, .. }
            | MessageFields::AppendAccepted { term, .. }
            | MessageFields::AppendRejected { term, .. }
            | MessageFields::Heartbeat { term, .. }
            | MessageFields::Term { term }
            | MessageFields::Snapshot { term, .. }
            | MessageFields::SnapshotResp { term, .. }
            | MessageFields::ReadIndexResp { term, .. } => Some(*term),
            MessageFields::Request { .. }
            | MessageFields::Reply { .. }
            | MessageFields::Push { .. } => None,
        }
    }

    /// The index an accepting append answer acknowledges.
    pub fn match_index(&self) -> Option<u64> {
        match self {
            MessageFields::AppendAccepted { match_index, .. } => Some(*match_index),
            _ => None,
        }
    }

    /// The commit index a leader's append or heartbeat carries.
    pub fn commit(&self) -> Option<u64> {
        match self {
            MessageFields::Append { commit, .. } | MessageFields::Heartbeat { commit, .. } => {
                Some(*commit)
            }
            _ => None,
        }
    }
}

impl LayerEvent for MessageFields {
    const LAYER: &'static str = "raft-message";

    fn summary(&self) -> String {
        match self {
            MessageFields::Vote {
                term,
                last_index,
                last_term,
            } => format!("term={term} last={last_index}/{last_term}"),
            MessageFields::VoteResp { term, refused } => match refused {
                None => format!("term={term} granted"),
                Some(reason) => format!("term={term} refused ({reason})"),
            },
            MessageFields::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => format!(
                "term={term} prev={prev_index}/{prev_term} entries={entries} commit={commit}"
            ),
            MessageFields::AppendAccepted { term, match_index } => {
                format!("term={term} match={match_index}")
            }
            MessageFields::AppendRejected {
                term,
                rejected_index,
                hint_index,
                hint_term,
            } => format!("term={term} rejected={rejected_index} hint={hint_term}/{hint_index}"),
            MessageFields::Heartbeat { term, commit } => format!("term={term} commit={commit}"),
            MessageFields::Term { term } => format!("term={term}"),
            MessageFields::Snapshot {
                term,
                index,
                snapshot_term,
            } => format!("term={term} snapshot={index}/{snapshot_term}"),
            MessageFields::SnapshotResp { term, last_index } => {
                format!("term={term} last={last_index}")
            }
            MessageFields::ReadIndexResp { term, index } => format!("term={term} index={index}"),
            MessageFields::Request { request, op } => format!("req={request} {op}"),
            MessageFields::Reply { request, answer } => format!("req={request} {answer}"),
            MessageFields::Push { seq, output } => format!("seq={seq} {output}"),
        }
    }
}
