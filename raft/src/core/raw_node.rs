//! `RawNode`: the IO-free interface a driver uses (etcd `rawnode.go`, raft-rs `raw_node.rs`).

use rand_core::RngCore;

use super::config::{Config, ConfigError, ProposeError};
use super::event::Event;
use super::message::Message;
use super::raft::Raft;
use super::read_only::ReadState;
use super::types::{
    ConfChange, ConfState, Entry, EntryKind, HardState, LogIndex, Role, Snapshot, SnapshotMeta,
    Term,
};
use sim_core::NodeId;

/// The durable state a node starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitialState {
    pub hard_state: HardState,
    /// The latest persisted snapshot; it carries the membership.
    pub snapshot: Snapshot,
    /// Persisted entries after the snapshot, contiguous.
    pub entries: Vec<Entry>,
}

impl InitialState {
    /// A fresh cluster of `voters`. Every founding member starts from the same state: a
    /// snapshot at index 1, term 1 holding the membership, so a member added later learns
    /// the founding membership from a snapshot (as in raft-rs) instead of from log entries
    /// it could not interpret. The caller persists this state like any other.
    pub fn bootstrap(voters: impl IntoIterator<Item = NodeId>) -> InitialState {
        let conf_state = ConfState {
            voters: voters.into_iter().collect(),
            learners: Default::default(),
        };
        InitialState {
            hard_state: HardState {
                term: Term(1),
                vote: None,
                commit: LogIndex(1),
            },
            snapshot: Snapshot {
                meta: SnapshotMeta {
                    index: LogIndex(1),
                    term: Term(1),
                    conf_state,
                },
                data: Vec::new(),
            },
            entries: Vec::new(),
        }
    }

    /// A node about to be added to an existing cluster: empty, not a member, and so never
    /// campaigning until the leader's snapshot tells it the membership.
    pub fn joining() -> InitialState {
        InitialState::default()
    }
}

/// State that is not persisted but that the driver may want to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    pub role: Role,
    pub leader: Option<NodeId>,
}

/// Everything the core wants done, handed out by [`RawNode::ready`].
///
/// # Contract
///
/// Handle a `Ready` in this order, then call [`RawNode::advance`] with it before asking for
/// the next one:
///
/// 1. Persist `snapshot` (if any), `entries` (replacing any stored entries at the same or
///    later indexes) and `hard_state` (if any), and wait until they are durable (fsync).
///    A vote or an acknowledged append that is lost in a crash lets a node vote twice in a
///    term or lets a leader count an entry that is gone, so none of `messages` may be sent
///    before this step completes.
/// 2. Send `messages`.
/// 3. Install `snapshot` into the state machine, then apply `committed_entries` in order.
///    They may include entries from `entries` of this same `Ready`, which is safe only
///    because step 1 made them durable first.
/// 4. Serve each of `read_states` once the state machine has applied its index.
///
/// Membership changes in `committed_entries` take effect in the core during `advance`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    pub soft_state: Option<SoftState>,
    pub hard_state: Option<HardState>,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
    pub messages: Vec<Message>,
    pub committed_entries: Vec<Entry>,
    pub read_states: Vec<ReadState>,
    /// What changed, for traces and checkers.
    pub events: Vec<Event>,
}

/// A summary of a node for tests, traces and status pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub leader: Option<NodeId>,
    pub hard_state: HardState,
    pub applied: LogIndex,
    pub last_index: LogIndex,
    pub conf_state: ConfState,
}

/// A Raft node without IO: feed it ticks, messages and proposals; take `Ready`s.
#[derive(Debug)]
pub struct RawNode<R: RngCore> {
    raft: Raft<R>,
    prev_hard_state: HardState,
    prev_soft_state: SoftState,
}

impl<R: RngCore> RawNode<R> {
    /// A node restored from `initial`. `rng` randomizes election timeouts; seed it from the
    /// run's seed so runs replay.
    pub fn new(config: Config, initial: InitialState, rng: R) -> Result<RawNode<R>, ConfigError> {
        let raft = Raft::new(
            config,
            initial.hard_state,
            initial.snapshot,
            initial.entries,
            rng,
        )?;
        let prev_hard_state = raft.hard_state();
        let prev_soft_state = SoftState {
            role: raft.role,
            leader: raft.leader,
        };
        Ok(RawNode {
            raft,
            prev_hard_state,
            prev_soft_state,
        })
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.raft.tick();
    }

    /// Starts an election now, as if the election timeout had elapsed.
    pub fn campaign(&mut self) {
        self.raft.hup();
    }

    /// Handles a message from a peer. Messages for another node are ignored.
    pub fn step(&mut self, msg: Message) {
        if msg.to == self.raft.id {
            self.raft.step(msg);
        }
    }

    /// Proposes application data; on the leader, returns the index it will have if committed.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<LogIndex, ProposeError> {
        self.raft.propose(EntryKind::Normal(data))
    }

    /// Proposes one membership change. It takes effect when applied; until then the
    /// leader refuses another.
    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<LogIndex, ProposeError> {
        self.raft.propose(EntryKind::ConfChange(change))
    }

    /// Asks for a linearizable read tagged with a caller-chosen unique `context`. A
    /// `ReadState` with the same context appears in a later `Ready` once the read is safe;
    /// if leadership is lost first, none appears and the caller retries.
    pub fn read_index(&mut self, context: Vec<u8>) -> Result<(), ProposeError> {
        self.raft.read_index(context)
    }

    /// Takes a snapshot of the applied state with the application's serialized `data` and
    /// drops the log entries it covers. The caller persists the returned snapshot.
    pub fn compact(&mut self, data: Vec<u8>) -> Snapshot {
        self.raft.compact(data)
    }

    fn soft_state(&self) -> SoftState {
        SoftState {
            role: self.raft.role,
            leader: self.raft.leader,
        }
    }

    /// Whether `ready` would return anything.
    pub fn has_ready(&self) -> bool {
        let r = &self.raft;
        self.soft_state() != self.prev_soft_state
            || r.hard_state() != self.prev_hard_state
            || !r.msgs.is_empty()
            || !r.log.unstable_entries().is_empty()
            || r.log.pending_snapshot().is_some()
            || r.log.has_next_committed_entries()
            || !r.read_states.is_empty()
            || !r.events.is_empty()
    }

    /// Collects what must be persisted, sent and applied. See [`Ready`] for the contract.
    pub fn ready(&mut self) -> Ready {
        let soft = self.soft_state();
        let hard = self.raft.hard_state();
        let r = &mut self.raft;
        let ready = Ready {
            soft_state: (soft != self.prev_soft_state).then_some(soft),
            hard_state: (hard != self.prev_hard_state).then_some(hard),
            snapshot: r.log.pending_snapshot().cloned(),
            entries: r.log.unstable_entries().to_vec(),
            messages: std::mem::take(&mut r.msgs),
            committed_entries: r.log.next_committed_entries(),
            read_states: std::mem::take(&mut r.read_states),
            events: std::mem::take(&mut r.events),
        };
        self.prev_soft_state = soft;
        self.prev_hard_state = hard;
        ready
    }

    /// Tells the core that `ready` was handled per the contract: its entries and snapshot
    /// are durable and its committed entries applied.
    pub fn advance(&mut self, ready: &Ready) {
        let r = &mut self.raft;
        if let Some(s) = &ready.snapshot {
            r.log.snapshot_applied(s.meta.index);
        }
        if let Some(e) = ready.entries.last() {
            r.log.stable_to(e.index, e.term);
        }
        for e in &ready.committed_entries {
            // `min` only matters under the `truncate_committed` mutant, where the commit
            // index can move back between `ready` and `advance`.
            let index = e.index.min(r.log.committed);
            r.log.applied_to(index);
            if let EntryKind::ConfChange(cc) = e.kind {
                r.apply_conf_change(e.index, cc);
            }
        }
    }

    /// A summary of the node.
    pub fn status(&self) -> Status {
        let r = &self.raft;
        Status {
            id: r.id,
            role: r.role,
            leader: r.leader,
            hard_state: r.hard_state(),
            applied: r.log.applied,
            last_index: r.log.last_index(),
            conf_state: r.conf.clone(),
        }
    }

    /// The entries still in the log (after the last snapshot), for checkers and tests.
    pub fn log_entries(&self) -> &[Entry] {
        self.raft.log.entries()
    }

    /// The term of the entry at `index`, if it is in the log or is the snapshot's last.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        self.raft.log.term(index)
    }

    #[cfg(test)]
    pub(crate) fn raft(&self) -> &Raft<R> {
        &self.raft
    }
}
