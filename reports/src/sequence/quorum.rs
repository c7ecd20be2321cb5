//! Which acks formed a commit quorum (the rule is in the parent module's doc): its own
//! file because the HTML report and the tests ask it directly, without drawing.

use std::collections::BTreeMap;

use raft::core::Role;
use sim_core::{EventId, MessageId, NodeId};

use crate::model::{Fate, MessageRecord, RunModel};

/// The acks that let a leader commit an index (see the module doc for the rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitQuorum {
    /// The leader.
    pub leader: NodeId,
    /// Its term.
    pub term: u64,
    /// The committed index.
    pub index: u64,
    /// When it committed.
    pub t_us: u64,
    /// The commit event.
    pub event: EventId,
    /// The acks that formed the quorum, in delivery order (at most `majority − 1`).
    pub acks: Vec<MessageId>,
    /// Whether the leader and `acks` make a majority of the servers.
    pub majority: bool,
}

/// The majority of `servers` servers.
pub fn majority(servers: usize) -> usize {
    servers / 2 + 1
}

/// The match index an `append-entries-resp` accepted, if it accepted.
pub fn ack_match(message: &MessageRecord) -> Option<u64> {
    message.raft()?.match_index()
}

/// The commit quorums of the leaders' commits between `from_us` and `to_us` (inclusive).
pub fn commit_quorums(model: &RunModel, from_us: u64, to_us: u64) -> Vec<CommitQuorum> {
    let need = majority(model.servers.len()).saturating_sub(1);
    // Accepting acks by receiver, in delivery order.
    let mut acks_to: BTreeMap<NodeId, Vec<(u64, &MessageRecord)>> = BTreeMap::new();
    for m in &model.messages {
        if let (Fate::Delivered { t_us, .. }, Some(_)) = (m.fate, ack_match(m)) {
            acks_to.entry(m.to).or_default().push((t_us, m));
        }
    }
    for list in acks_to.values_mut() {
        list.sort_by_key(|(t, m)| (*t, m.id));
    }
    let mut out = Vec::new();
    for (node, points) in &model.commits {
        for point in points
            .iter()
            .filter(|p| from_us <= p.t_us && p.t_us <= to_us)
        {
            let Some(span) = model
                .role_at(*node, point.t_us)
                .filter(|r| r.role == Role::Leader)
            else {
                continue;
            };
            let mut first_by_follower: BTreeMap<NodeId, (u64, MessageId)> = BTreeMap::new();
            for (t, m) in acks_to.get(node).map(Vec::as_slice).unwrap_or(&[]) {
                if *t < span.start_us || *t > point.t_us {
                    continue;
                }
                let accepted = ack_match(m).unwrap_or(0);
                if m.term() == Some(span.term) && accepted >= point.index {
                    first_by_follower.entry(m.from).or_insert((*t, m.id));
                }
            }
            let mut firsts: Vec<(u64, MessageId)> = first_by_follower.into_values().collect();
            firsts.sort();
            firsts.truncate(need);
            out.push(CommitQuorum {
                leader: *node,
                term: span.term,
                index: point.index,
                t_us: point.t_us,
                event: point.event,
                majority: firsts.len() >= need,
                acks: firsts.into_iter().map(|(_, id)| id).collect(),
            });
        }
    }
    out.sort_by_key(|q| (q.t_us, q.event));
    out
}
