//! Fault operations and timed fault schedules.
//!
//! A schedule is a list of `[[faults]]` tables in TOML, each an `at_ms` and an `op` with its
//! fields, so that any run (including a shrunk failing one) is a file a person can read and
//! edit:
//!
//! ```toml
//! [[faults]]
//! at_ms = 1000
//! op = "partition"
//! groups = [["n1", "n2"], ["n3", "n4", "n5"]]
//!
//! [[faults]]
//! at_ms = 4000
//! op = "heal"
//! ```
//!
//! Ops set absolute states (a latency range, a loss probability, a skew), so applying one
//! twice is the same as once; `heal-all` returns everything to the run's defaults.
//!
//! This file holds the ops and the schedule; their errors are in `error.rs`, and reading a
//! fault file (node names, groups and roles resolved, errors with line and column) in
//! `parse.rs`.

mod error;
mod parse;

#[cfg(test)]
mod tests;

pub use error::FaultError;
pub use parse::{line_column, parse_fault_entries, toml_error};

use parse::resolve_nodes;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::directory::Directory;
use crate::fault_roles::{RoleSlot, RoleTarget, ROLE_PLACEHOLDER};
use crate::ids::{NodeId, ParseNodeIdError};

/// One fault operation. Field names carry their units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultOp {
    /// Split the network into groups; only nodes in the same group can talk. A node
    /// appears in at most one group; a node in none keeps every link (a partition of the
    /// servers need not place the clients). Replaces any earlier partition.
    Partition {
        /// The groups.
        groups: Vec<Vec<NodeId>>,
    },
    /// Cut one node off from all others (a partition into it and the rest).
    Isolate {
        /// The node.
        node: NodeId,
    },
    /// Cut one direction of one link: messages `from -> to` are dropped.
    CutLink {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
    },
    /// Restore one direction of one link cut by `cut-link`.
    RestoreLink {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
    },
    /// Remove the partition and every cut link.
    Heal,
    /// Set the latency of every link without its own setting: uniform in `[min_us, max_us]`.
    Latency {
        /// Lowest one-way latency, microseconds.
        min_us: u64,
        /// Highest one-way latency, microseconds.
        max_us: u64,
    },
    /// Set the latency of one direction of one link.
    LinkLatency {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
        /// Lowest one-way latency, microseconds.
        min_us: u64,
        /// Highest one-way latency, microseconds.
        max_us: u64,
    },
    /// Set the probability that any message is lost.
    Loss {
        /// Probability in `[0, 1]`.
        probability: f64,
    },
    /// Kill a node: every task ends, volatile state and unsynced writes are lost.
    Kill {
        /// The node.
        node: NodeId,
    },
    /// Start a node again over its disk (a running node is killed first).
    Restart {
        /// The node.
        node: NodeId,
    },
    /// Stop a node making progress; messages to it queue up.
    Pause {
        /// The node.
        node: NodeId,
    },
    /// Let a paused node go on.
    Resume {
        /// The node.
        node: NodeId,
    },
    /// Cut the power of nodes at once: they stop and lose unsynced writes; with `torn_write`
    /// a random prefix of each file's unsynced appends survives, ending mid-write.
    PowerFail {
        /// The nodes.
        nodes: Vec<NodeId>,
        /// Tear the unsynced tail instead of dropping it whole.
        #[serde(default)]
        torn_write: bool,
    },
    /// Block the node's fsyncs for a while: none completes before the stall ends.
    DiskStall {
        /// The node.
        node: NodeId,
        /// How long, milliseconds (more than zero).
        duration_ms: u64,
    },
    /// Set a node's local clock to virtual time plus `skew_ms` (may be negative).
    ClockSkew {
        /// The node.
        node: NodeId,
        /// Offset of its local clock, milliseconds.
        skew_ms: i64,
    },
    /// Heal the network, restore default latency and loss, resume paused nodes, restart
    /// dead ones, clear skews and stalls.
    HealAll,
}

impl FaultOp {
    /// The op's kebab-case name, as written in fault files.
    pub fn name(&self) -> &'static str {
        match self {
            FaultOp::Partition { .. } => "partition",
            FaultOp::Isolate { .. } => "isolate",
            FaultOp::CutLink { .. } => "cut-link",
            FaultOp::RestoreLink { .. } => "restore-link",
            FaultOp::Heal => "heal",
            FaultOp::Latency { .. } => "latency",
            FaultOp::LinkLatency { .. } => "link-latency",
            FaultOp::Loss { .. } => "loss",
            FaultOp::Kill { .. } => "kill",
            FaultOp::Restart { .. } => "restart",
            FaultOp::Pause { .. } => "pause",
            FaultOp::Resume { .. } => "resume",
            FaultOp::PowerFail { .. } => "power-fail",
            FaultOp::DiskStall { .. } => "disk-stall",
            FaultOp::ClockSkew { .. } => "clock-skew",
            FaultOp::HealAll => "heal-all",
        }
    }

    /// Every node the op names.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            FaultOp::Partition { groups } => groups.iter().flatten().copied().collect(),
            FaultOp::PowerFail { nodes, .. } => nodes.clone(),
            FaultOp::CutLink { from, to }
            | FaultOp::RestoreLink { from, to }
            | FaultOp::LinkLatency { from, to, .. } => vec![*from, *to],
            FaultOp::Isolate { node }
            | FaultOp::Kill { node }
            | FaultOp::Restart { node }
            | FaultOp::Pause { node }
            | FaultOp::Resume { node }
            | FaultOp::DiskStall { node, .. }
            | FaultOp::ClockSkew { node, .. } => vec![*node],
            FaultOp::Heal | FaultOp::Latency { .. } | FaultOp::Loss { .. } | FaultOp::HealAll => {
                vec![]
            }
        }
    }

    /// Checks the op against the world's nodes and the limits on its numbers.
    pub fn validate(&self, known: &[NodeId]) -> Result<(), FaultError> {
        self.validate_with(known, &[])
    }

    /// As [`FaultOp::validate`], for an op some of whose fields `roles` fill when it applies:
    /// their placeholders and the lists they join are not judged yet.
    pub fn validate_with(&self, known: &[NodeId], roles: &[RoleTarget]) -> Result<(), FaultError> {
        let has = |slot: RoleSlot| roles.iter().any(|r| r.slot == slot);
        self.check_limits()?;
        for node in self.nodes() {
            if node == ROLE_PLACEHOLDER && !roles.is_empty() {
                continue;
            }
            if !known.contains(&node) {
                return Err(FaultError::UnknownNode {
                    node,
                    known: known.to_vec(),
                });
            }
        }
        match self {
            FaultOp::Partition { groups } => {
                let mut seen = BTreeSet::new();
                for (i, group) in groups.iter().enumerate() {
                    if group.is_empty() && !has(RoleSlot::Group(i)) {
                        return Err(FaultError::EmptyGroup);
                    }
                    for node in group {
                        if !seen.insert(*node) {
                            return Err(FaultError::RepeatedInPartition { node: *node });
                        }
                    }
                }
            }
            FaultOp::PowerFail { nodes, .. } => {
                if nodes.is_empty() && !has(RoleSlot::Nodes) {
                    return Err(FaultError::NoNodes);
                }
                let mut seen = BTreeSet::new();
                if let Some(node) = nodes.iter().find(|n| !seen.insert(**n)) {
                    return Err(FaultError::RepeatedNode { node: *node });
                }
            }
            FaultOp::Latency { min_us, max_us } | FaultOp::LinkLatency { min_us, max_us, .. }
                if min_us > max_us =>
            {
                return Err(FaultError::LatencyRange {
                    min_us: *min_us,
                    max_us: *max_us,
                });
            }
            FaultOp::Loss { probability } if !(0.0..=1.0).contains(probability) => {
                return Err(FaultError::Probability(*probability));
            }
            FaultOp::DiskStall { duration_ms: 0, .. } => {
                return Err(FaultError::ZeroDuration {
                    field: "duration_ms",
                });
            }
            FaultOp::CutLink { from, to } | FaultOp::RestoreLink { from, to }
                if from == to && *from != ROLE_PLACEHOLDER =>
            {
                return Err(FaultError::SelfLink { node: *from });
            }
            _ => {}
        }
        Ok(())
    }
}

/// Largest time, duration or skew a fault may name, in its own unit (milliseconds or
/// microseconds): about 35 years in milliseconds, and well inside TOML's signed integers
/// and the microsecond clock.
pub const MAX_FAULT_VALUE: u64 = 1 << 40;

impl FaultOp {
    fn check_limits(&self) -> Result<(), FaultError> {
        let too_large = |field: &'static str, value: u64| {
            if value > MAX_FAULT_VALUE {
                Err(FaultError::TooLarge { field, value })
            } else {
                Ok(())
            }
        };
        match self {
            FaultOp::Latency { min_us, max_us } | FaultOp::LinkLatency { min_us, max_us, .. } => {
                too_large("min_us", *min_us)?;
                too_large("max_us", *max_us)
            }
            FaultOp::DiskStall { duration_ms, .. } => too_large("duration_ms", *duration_ms),
            FaultOp::ClockSkew { skew_ms, .. } => too_large("skew_ms", skew_ms.unsigned_abs()),
            _ => Ok(()),
        }
    }
}

/// A fault op and when it applies.
///
/// Its file form is a table of `at_ms`, `op` and the op's fields; a node field may name a
/// role (`node = "role:leader"`), kept in `roles` and resolved when the op applies (see
/// [`crate::fault_roles`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct TimedFault {
    /// Virtual time at which it applies, milliseconds since the start of the run.
    pub at_ms: u64,
    /// The op. A field a role stands in holds [`crate::fault_roles::ROLE_PLACEHOLDER`]
    /// (single nodes) or leaves the role's nodes out (lists) until it is resolved.
    pub op: FaultOp,
    /// The roles it names; empty for an op that names its nodes.
    pub roles: Vec<RoleTarget>,
}

/// A list of timed fault ops. Applied in time order; ops at the same time in file order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSchedule {
    /// The ops.
    #[serde(default)]
    pub faults: Vec<TimedFault>,
}

impl FaultSchedule {
    /// A schedule of the given ops.
    pub fn new(faults: Vec<TimedFault>) -> Self {
        FaultSchedule { faults }
    }

    /// Checks every op against the world's nodes.
    pub fn validate(&self, known: &[NodeId]) -> Result<(), FaultError> {
        for (i, fault) in self.faults.iter().enumerate() {
            let at_ms = if fault.at_ms > MAX_FAULT_VALUE {
                Err(FaultError::TooLarge {
                    field: "at_ms",
                    value: fault.at_ms,
                })
            } else {
                Ok(())
            };
            at_ms
                .and_then(|()| fault.op.validate_with(known, &fault.roles))
                .map_err(|e| FaultError::At {
                    index: i + 1,
                    op: fault.op.name(),
                    at_ms: fault.at_ms,
                    source: Box::new(e),
                })?;
        }
        Ok(())
    }

    /// The ops in the order they apply: by time, ties in file order.
    pub fn in_time_order(&self) -> Vec<TimedFault> {
        let mut faults = self.faults.clone();
        faults.sort_by_key(|f| f.at_ms);
        faults
    }

    /// The time of the last op, if any.
    pub fn last_at_ms(&self) -> Option<u64> {
        self.faults.iter().map(|f| f.at_ms).max()
    }

    /// Parses a fault file that names nodes by id (`n3`); `origin` names it in errors,
    /// which give line and column.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, FaultError> {
        Self::parse(text, origin, None)
    }

    /// Parses a fault file for a world: nodes may be named by id (`n3`), by name
    /// (`etcd-3`) or by group (`servers`, where a list of nodes is expected).
    pub fn from_toml_in(
        text: &str,
        origin: &str,
        directory: &Directory,
    ) -> Result<Self, FaultError> {
        Self::parse(text, origin, Some(directory))
    }

    fn parse(text: &str, origin: &str, directory: Option<&Directory>) -> Result<Self, FaultError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            faults: Vec<toml::Spanned<toml::Table>>,
        }
        let raw: Raw = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        Ok(FaultSchedule {
            faults: parse_fault_entries(text, origin, raw.faults, directory)?,
        })
    }

    /// The TOML form (`[[faults]]` tables), nodes by id.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a fault schedule always serializes")
    }

    /// The `[[faults]]` tables with nodes by their names in `directory`, as a person writes
    /// them; [`FaultSchedule::from_toml_in`] reads them back to the same schedule.
    pub fn to_named_tables(&self, directory: &Directory) -> Vec<toml::Table> {
        self.faults
            .iter()
            .map(|fault| {
                let mut table = toml::Table::try_from(fault).expect("a fault always serializes");
                let named = resolve_nodes(&mut table, &mut |id, _| {
                    let id: NodeId = id.parse().map_err(|e: ParseNodeIdError| e.to_string())?;
                    Ok(vec![directory.name(id).to_string()])
                });
                named.expect("a serialized fault names nodes by id");
                table
            })
            .collect()
    }
}
