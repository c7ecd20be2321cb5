//! Linearizable reads without a log write (ReadIndex, Raft thesis §6.4): the leader records
//! its commit index, confirms it is still leader with a heartbeat round acknowledged by a
//! quorum, and only then releases the read at that index.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::types::LogIndex;
use sim_core::NodeId;

/// A read that may be served once the application has applied `index`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub index: LogIndex,
    /// The caller's request id, echoed back.
    pub context: Vec<u8>,
}

/// A read waiting for its heartbeat quorum.
#[derive(Clone, Debug)]
pub struct ReadIndexStatus {
    /// The node that asked (the leader itself or a follower that forwarded it).
    pub from: NodeId,
    pub context: Vec<u8>,
    pub index: LogIndex,
    pub acks: BTreeSet<NodeId>,
}

/// Reads awaiting confirmation, in arrival order.
#[derive(Clone, Debug, Default)]
pub struct ReadOnly {
    pending: BTreeMap<Vec<u8>, ReadIndexStatus>,
    queue: VecDeque<Vec<u8>>,
}

impl ReadOnly {
    /// Records a read at `index`. A context already pending is ignored (callers must use
    /// unique contexts).
    pub fn add_request(
        &mut self,
        index: LogIndex,
        context: Vec<u8>,
        from: NodeId,
        self_id: NodeId,
    ) {
        if self.pending.contains_key(&context) {
            return;
        }
        let acks = BTreeSet::from([self_id]);
        self.pending.insert(
            context.clone(),
            ReadIndexStatus {
                from,
                context: context.clone(),
                index,
                acks,
            },
        );
        self.queue.push_back(context);
    }

    /// Records that `from` acknowledged the heartbeat tagged `context`; returns the acks so far.
    pub fn recv_ack(&mut self, from: NodeId, context: &[u8]) -> Option<&BTreeSet<NodeId>> {
        let status = self.pending.get_mut(context)?;
        status.acks.insert(from);
        Some(&status.acks)
    }

    /// Releases the read tagged `context` and every read queued before it: a quorum that
    /// confirmed leadership after the later request also covers the earlier ones.
    pub fn advance(&mut self, context: &[u8]) -> Vec<ReadIndexStatus> {
        if !self.pending.contains_key(context) {
            return Vec::new();
        }
        let mut released = Vec::new();
        while let Some(c) = self.queue.pop_front() {
            let done = c.as_slice() == context;
            if let Some(s) = self.pending.remove(&c) {
                released.push(s);
            }
            if done {
                break;
            }
        }
        released
    }

    /// The context of the newest pending read, to tag heartbeats with.
    pub fn last_pending_context(&self) -> Option<Vec<u8>> {
        self.queue.back().cloned()
    }

    /// Number of reads waiting.
    pub fn pending_count(&self) -> usize {
        self.queue.len()
    }
}
