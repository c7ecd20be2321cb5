//! ReadIndex reads: the leader confirms its leadership with a heartbeat round before it
//! answers with its commit index (Raft thesis §6.4).

use rand_core::RngCore;

use crate::core::config::ProposeError;
use crate::core::message::MessageKind;
use crate::core::read_only::ReadState;
use crate::core::types::{LogIndex, Role};
use sim_core::NodeId;

use super::Raft;

impl<R: RngCore> Raft<R> {
    /// Requests a linearizable read tagged `context` (unique per request).
    pub fn read_index(&mut self, context: Vec<u8>) -> Result<(), ProposeError> {
        match (self.role, self.leader) {
            (Role::Leader, _) => {
                self.leader_read(self.id, context);
                Ok(())
            }
            (_, Some(leader)) => {
                self.send(leader, MessageKind::ReadIndex { context });
                Ok(())
            }
            (_, None) => Err(ProposeError::NotLeader { leader: None }),
        }
    }

    pub(super) fn leader_read(&mut self, from: NodeId, context: Vec<u8>) {
        if !self.committed_entry_in_current_term() {
            self.reads_awaiting_commit.push((from, context));
            return;
        }
        let index = self.log.committed;
        let voters = self.quorum_voters();
        let alone = voters.len() == 1 && voters.contains(&self.id);
        // Mutant `no_check_quorum`: serve the read on the leader's own authority, as a lease
        // read would, without any lease being checked.
        if alone || self.cfg.mutants.no_check_quorum {
            self.respond_read(from, context, index);
            return;
        }
        self.read_only
            .add_request(index, context.clone(), from, self.id);
        self.bcast_heartbeat(Some(context));
    }

    pub(super) fn respond_read(&mut self, from: NodeId, context: Vec<u8>, index: LogIndex) {
        if from == self.id {
            self.read_states.push(ReadState { index, context });
        } else {
            self.send(from, MessageKind::ReadIndexResp { context, index });
        }
    }

    // ----- membership and snapshots -----
}
