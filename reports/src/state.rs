//! Each node's state at any instant of a run, by replaying the trace event by event.
//!
//! The storyboard asks "what did every node believe at 4.2 s?", and the step-through viewer
//! asks the same after every event. Both get it from [`Replayer`], which applies one trace
//! event at a time to a [`NodeState`] per node: role, term, leader, log (index → term and
//! digest), commit index, whether it is up. The viewer's JavaScript does not re-derive any
//! of this: it is handed the changes this replay computed (see `html`), so the browser
//! and the Rust side cannot disagree.

use std::collections::BTreeMap;

use raft::core::Role;
use raft::events::{EntryRef, RaftEvent};
use sim_core::{EventKind, NodeId, TraceEvent};

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Running.
    Up,
    /// Crashed, powered off or exited, and not started again.
    Down,
    /// Paused.
    Paused,
}

impl Liveness {
    /// `up`, `down`, `paused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Up => "up",
            Liveness::Down => "down",
            Liveness::Paused => "paused",
        }
    }
}

/// What one node believed at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    /// Running, down or paused.
    pub liveness: Liveness,
    /// Its role (servers only; `None` before its first role event or while down).
    pub role: Option<Role>,
    /// Its current term.
    pub term: u64,
    /// The leader it knew of.
    pub leader: Option<NodeId>,
    /// Its durable log: index → entry (from a snapshot's index on, earlier ones compacted).
    pub log: BTreeMap<u64, EntryRef>,
    /// Last index covered by a snapshot (entries up to it are compacted away).
    pub snapshot_index: u64,
    /// Its commit index.
    pub commit: u64,
    /// The last index it applied.
    pub applied: u64,
    /// Incarnation (1 for the first start).
    pub incarnation: u32,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState {
            liveness: Liveness::Up,
            role: None,
            term: 0,
            leader: None,
            log: BTreeMap::new(),
            snapshot_index: 0,
            commit: 0,
            applied: 0,
            incarnation: 0,
        }
    }
}

impl NodeState {
    /// The index of its last log entry (0 for an empty log).
    pub fn last_index(&self) -> u64 {
        self.log
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.snapshot_index)
            .max(self.snapshot_index)
    }

    /// The entry at its commit index, if its log still holds it.
    pub fn committed_entry(&self) -> Option<&EntryRef> {
        self.log.get(&self.commit)
    }
}

/// Replays a trace one event at a time.
#[derive(Clone, Debug, Default)]
pub struct Replayer {
    states: BTreeMap<NodeId, NodeState>,
}

impl Replayer {
    /// A replay before any event, with every node of `nodes` up and empty.
    pub fn new(nodes: &[NodeId]) -> Self {
        Replayer {
            states: nodes.iter().map(|n| (*n, NodeState::default())).collect(),
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &TraceEvent) {
        let Some(node) = event.node else { return };
        let state = self.states.entry(node).or_default();
        match (event.layer::<RaftEvent>(), &event.kind) {
            (_, EventKind::NodeStart { incarnation }) => {
                // Volatile state is gone; the log and hard state come back from disk
                // (the node's own hard-state and log events re-report what it recovered,
                // so keep the durable log as it was).
                state.liveness = Liveness::Up;
                state.incarnation = *incarnation;
                state.role = None;
                state.leader = None;
                state.applied = 0;
            }
            (_, EventKind::NodeCrash { .. }) => {
                state.liveness = Liveness::Down;
                state.role = None;
                state.leader = None;
            }
            (_, EventKind::NodePause) => state.liveness = Liveness::Paused,
            (_, EventKind::NodeResume) => state.liveness = Liveness::Up,
            (Some(RaftEvent::Role { role, term, leader }), _) => {
                state.role = Some(*role);
                state.term = *term;
                state.leader = *leader;
            }
            (Some(RaftEvent::HardState { term, commit, .. }), _) => {
                state.term = state.term.max(*term);
                state.commit = state.commit.max(*commit);
            }
            (Some(RaftEvent::LogAppend { entries }), _) => {
                for entry in entries {
                    state.log.insert(entry.index, entry.clone());
                }
            }
            (Some(RaftEvent::LogTruncate { from_index }), _) => {
                state.log.split_off(from_index);
            }
            (Some(RaftEvent::Commit { index, .. }), _) => state.commit = *index,
            (Some(RaftEvent::Apply { index, .. }), _) => state.applied = *index,
            (Some(RaftEvent::Snapshot { index, .. }), _) => {
                state.snapshot_index = state.snapshot_index.max(*index);
                // Entries the snapshot covers are compacted; keep the entry at its index
                // so the committed value stays nameable.
                let keep = state.log.split_off(index);
                state.log = keep;
                state.commit = state.commit.max(*index);
            }
            _ => {}
        }
    }

    /// A node's state now.
    pub fn state(&self, node: NodeId) -> Option<&NodeState> {
        self.states.get(&node)
    }

    /// Every node's state now, in node order.
    pub fn states(&self) -> &BTreeMap<NodeId, NodeState> {
        &self.states
    }
}

/// Every node's state after all events at or before `t_us`.
pub fn states_at(
    events: &[TraceEvent],
    nodes: &[NodeId],
    t_us: u64,
) -> BTreeMap<NodeId, NodeState> {
    let mut replayer = Replayer::new(nodes);
    for event in events.iter().take_while(|e| e.t_us.0 <= t_us) {
        replayer.apply(event);
    }
    replayer.states
}
