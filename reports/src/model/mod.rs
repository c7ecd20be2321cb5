//! What every picture is drawn from: a run's trace and history folded once into spans,
//! messages and operations.
//!
//! The trace is a flat list of events; a picture wants intervals ("n3 led term 4 from
//! 1.2 s to 3.9 s", "the partition lasted from 2 s to 6 s") and pairs ("m812 was sent at
//! 2.001 s and dropped at 2.004 s"). Folding once here means the timeline, the sequence
//! diagram, the storyboard, the viewer and the Perfetto export agree on every interval, and
//! the structural tests check one fold against the trace instead of five.
//!
//! Spans are half-open `[start_us, end_us)` in virtual microseconds; a span still open when
//! the run ends ends at [`RunModel::end_us`]. Every span also names the trace events that
//! opened and closed it, so a picture can link back to the exact event.
//!
//! # Files
//!
//! This file holds the fold itself ([`RunModel`]) and its queries; the record types are in
//! `records.rs`, each fold step in its own file (`roles.rs`: roles, outages and commits;
//! `faults.rs`: faults and partitions; `messages.rs`; `ops.rs`), and the words pictures
//! share for node sets, faults and durations in `labels.rs`.

mod faults;
mod labels;
mod messages;
mod ops;
mod records;
mod roles;

use std::collections::BTreeMap;

use raft::core::Role;
use sim_core::{Directory, EventKind, History, NodeId, NodeName, Trace};

pub use labels::{fault_label, format_ms, node_set};
pub use records::{
    CommitPoint, Fate, FaultSpan, MessageRecord, OpEnd, OpRecord, Outage, OutageKind,
    PartitionPeriod, RoleSpan,
};

/// A run, folded.
#[derive(Clone, Debug, Default)]
pub struct RunModel {
    /// The run's seed (from the trace's `run-start`).
    pub seed: u64,
    /// Every node of the world, in the order the run listed them.
    pub nodes: Vec<NodeId>,
    /// Their names and groups (empty for a trace from before names: ids stand in).
    pub directory: Directory,
    /// Nodes that ran consensus (they have role events), in node order.
    pub servers: Vec<NodeId>,
    /// The other nodes: clients, watchers, operators.
    pub clients: Vec<NodeId>,
    /// Time of the last event.
    pub end_us: u64,
    /// Each server's role over time; consecutive spans of a node do not overlap.
    pub roles: Vec<RoleSpan>,
    /// Periods a node was down (crashed, not yet restarted) or paused.
    pub outages: Vec<Outage>,
    /// Every fault, as a span from the op that began it to the op (or event) that ended it.
    pub faults: Vec<FaultSpan>,
    /// The network partition in force over time (from partition, isolate, cut-link and
    /// their heals); gaps are times with every link up.
    pub partitions: Vec<PartitionPeriod>,
    /// Every message, in send order.
    pub messages: Vec<MessageRecord>,
    /// Every client operation, in invocation order.
    pub ops: Vec<OpRecord>,
    /// Each server's commit index over time: `(t_us, index, event)`, increasing in time.
    pub commits: BTreeMap<NodeId, Vec<CommitPoint>>,
}

impl RunModel {
    /// What pictures call `node`: its name (`etcd-1`), or its id in a trace without names.
    pub fn name(&self, node: NodeId) -> NodeName<'_> {
        self.directory.name(node)
    }

    /// Folds a trace and its history.
    pub fn new(trace: &Trace, history: &History) -> Self {
        let mut model = RunModel {
            end_us: trace.end_time().0,
            ..RunModel::default()
        };
        for event in &trace.events {
            if let EventKind::RunStart {
                seed,
                nodes,
                directory,
            } = &event.kind
            {
                model.seed = *seed;
                model.nodes = nodes.clone();
                model.directory = directory.clone();
                break;
            }
        }
        model.fold_roles_and_outages(trace);
        model.fold_faults(trace);
        model.fold_messages(trace);
        model.fold_ops(history);
        for node in &model.nodes {
            if model.roles.iter().any(|r| r.node == *node) {
                model.servers.push(*node);
            } else {
                model.clients.push(*node);
            }
        }
        model
    }

    /// The role span of `node` at time `t_us`, if it was up and had a role.
    pub fn role_at(&self, node: NodeId, t_us: u64) -> Option<&RoleSpan> {
        self.roles
            .iter()
            .rfind(|r| r.node == node && r.start_us <= t_us && t_us < r.end_us.max(r.start_us + 1))
    }

    /// The leaders at time `t_us` (more than one in a split brain, or while a deposed
    /// leader has not yet heard of the new term), with their terms, in node order.
    pub fn leaders_at(&self, t_us: u64) -> Vec<(NodeId, u64)> {
        self.servers
            .iter()
            .filter_map(|n| {
                self.role_at(*n, t_us)
                    .filter(|r| r.role == Role::Leader)
                    .map(|r| (*n, r.term))
            })
            .collect()
    }

    /// The network shape at time `t_us`, if any link was cut.
    pub fn partition_at(&self, t_us: u64) -> Option<&PartitionPeriod> {
        self.partitions
            .iter()
            .find(|p| p.start_us <= t_us && t_us < p.end_us)
    }

    /// Faults active at time `t_us` (instantaneous ones at exactly their time).
    pub fn faults_at(&self, t_us: u64) -> Vec<&FaultSpan> {
        self.faults
            .iter()
            .filter(|f| {
                f.start_us <= t_us
                    && (t_us < f.end_us || (f.start_us == f.end_us && t_us == f.start_us))
            })
            .collect()
    }

    /// A server's commit index at time `t_us` (0 before its first commit; commit points
    /// of earlier incarnations count, as the index is recovered from disk on restart).
    pub fn commit_at(&self, node: NodeId, t_us: u64) -> u64 {
        self.commits
            .get(&node)
            .and_then(|points| points.iter().take_while(|p| p.t_us <= t_us).last())
            .map_or(0, |p| p.index)
    }

    /// The distinct terms that had a leader, in order, for colouring.
    pub fn leader_terms(&self) -> Vec<u64> {
        let mut terms: Vec<u64> = self
            .roles
            .iter()
            .filter(|r| r.role == Role::Leader)
            .map(|r| r.term)
            .collect();
        terms.sort_unstable();
        terms.dedup();
        terms
    }
}
