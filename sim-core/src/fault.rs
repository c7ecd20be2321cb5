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

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::directory::Directory;
use crate::fault_roles::{role_of, RoleSlot, RoleTarget, ROLE_PLACEHOLDER};
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

/// A fault op that does not fit the world, or a fault file that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// The op names a node the world does not have.
    #[error("unknown node {node} (this run has {})", list(known))]
    UnknownNode {
        /// The unknown node.
        node: NodeId,
        /// The nodes that exist.
        known: Vec<NodeId>,
    },
    /// A partition lists a node twice.
    #[error("node {node} appears in more than one partition group")]
    RepeatedInPartition {
        /// The node.
        node: NodeId,
    },
    /// A partition has an empty group.
    #[error("a partition group is empty")]
    EmptyGroup,
    /// An op that needs nodes has none.
    #[error("the op names no nodes")]
    NoNodes,
    /// An op lists a node twice.
    #[error("node {node} is listed twice")]
    RepeatedNode {
        /// The node.
        node: NodeId,
    },
    /// A link from a node to itself.
    #[error("a link from {node} to itself cannot be cut")]
    SelfLink {
        /// The node.
        node: NodeId,
    },
    /// A latency range upside down.
    #[error("latency min_us {min_us} is above max_us {max_us}")]
    LatencyRange {
        /// Lower bound.
        min_us: u64,
        /// Upper bound.
        max_us: u64,
    },
    /// A probability outside `[0, 1]`.
    #[error("probability {0} is not between 0 and 1")]
    Probability(f64),
    /// A number beyond [`MAX_FAULT_VALUE`].
    #[error("{field} = {value} is too large (at most {MAX_FAULT_VALUE})")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A duration of zero.
    #[error("{field} must be more than zero")]
    ZeroDuration {
        /// The field.
        field: &'static str,
    },
    /// A fault at position `index` (one-based) is wrong.
    #[error("fault {index} ({op} at {at_ms} ms): {source}")]
    At {
        /// One-based position in the schedule.
        index: usize,
        /// Its op name.
        op: &'static str,
        /// Its time.
        at_ms: u64,
        /// What is wrong.
        source: Box<FaultError>,
    },
    /// The TOML does not parse or does not fit the schema.
    #[error("{origin}:{line}:{column}: {message}")]
    Toml {
        /// File name, or `<input>`.
        origin: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

fn list(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
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

/// The keys of a fault table that hold one node, a list of nodes, and groups of them.
const ONE_NODE_KEYS: [&str; 3] = ["node", "from", "to"];
const NODE_LIST_KEY: &str = "nodes";
const NODE_GROUPS_KEY: &str = "groups";

/// How one node reference is rewritten: `(reference, one)` to what it stands for, where
/// `one` says the key takes a single node.
type Expand<'a> = dyn FnMut(&str, bool) -> Result<Vec<String>, String> + 'a;

/// Rewrites every node reference of a fault table with `expand`; an error carries its key.
/// Role targets (`role:leader`) are left as they are: they resolve when the op applies.
fn resolve_nodes(table: &mut toml::Table, expand: &mut Expand<'_>) -> Result<(), (String, String)> {
    for (key, value) in table.iter_mut() {
        let failed = |e: String| (key.clone(), e);
        match (key.as_str(), value) {
            (_, toml::Value::String(reference)) if role_of(reference).is_some() => {}
            (k, toml::Value::String(reference)) if ONE_NODE_KEYS.contains(&k) => {
                if let [one] = expand(reference, true).map_err(failed)?.as_slice() {
                    *reference = one.clone();
                }
            }
            (NODE_LIST_KEY, toml::Value::Array(values)) => {
                resolve_list(values, expand).map_err(failed)?;
            }
            (NODE_GROUPS_KEY, toml::Value::Array(groups)) => {
                for group in groups {
                    if let toml::Value::Array(values) = group {
                        resolve_list(values, expand).map_err(failed)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Rewrites a list of node references, expanding groups in place.
fn resolve_list(values: &mut Vec<toml::Value>, expand: &mut Expand<'_>) -> Result<(), String> {
    let mut out = Vec::with_capacity(values.len());
    for value in values.drain(..) {
        match value {
            toml::Value::String(reference) if role_of(&reference).is_some() => {
                out.push(toml::Value::String(reference));
            }
            toml::Value::String(reference) => {
                out.extend(
                    expand(&reference, false)?
                        .into_iter()
                        .map(toml::Value::String),
                );
            }
            // Not a name: left for the schema to refuse with its own message.
            other => out.push(other),
        }
    }
    *values = out;
    Ok(())
}

/// Turns a TOML error into one line with the file, line and column.
pub fn toml_error(text: &str, origin: &str, err: &toml::de::Error) -> FaultError {
    let (line, column) = err
        .span()
        .map(|span| line_column(text, span.start))
        .unwrap_or((1, 1));
    FaultError::Toml {
        origin: origin.to_string(),
        line,
        column,
        message: err.message().trim().replace('\n', " "),
    }
}

/// Reads `[[faults]]` tables that were parsed with their spans.
///
/// Each entry is checked on its own so that an error names the entry and, where the
/// message lets us find it, the line of the offending key (serde loses spans inside
/// internally tagged enums, so the key is looked up in the entry's text).
///
/// With a `directory`, node references may be names and groups (see
/// [`FaultSchedule::from_toml_in`]); they are turned into ids before the schema reads them.
pub fn parse_fault_entries(
    text: &str,
    origin: &str,
    entries: Vec<toml::Spanned<toml::Table>>,
    directory: Option<&Directory>,
) -> Result<Vec<TimedFault>, FaultError> {
    let mut faults = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let span = entry.span();
        let mut table = entry.into_inner();
        if let Some(directory) = directory {
            let resolved = resolve_nodes(&mut table, &mut |reference, one| {
                let ids = if one {
                    directory.resolve_one(reference).map(|id| vec![id])
                } else {
                    directory.resolve(reference)
                };
                ids.map(|ids| ids.iter().map(NodeId::to_string).collect())
                    .map_err(|e| e.to_string())
            });
            if let Err((key, message)) = resolved {
                let offset = find_key(text, span.clone(), &key).unwrap_or(span.start);
                let (line, column) = line_column(text, offset);
                return Err(FaultError::Toml {
                    origin: origin.to_string(),
                    line,
                    column,
                    message: format!("fault {}: {key}: {message}", i + 1),
                });
            }
        }
        match TimedFault::deserialize(toml::Value::Table(table.clone())) {
            Ok(fault) => faults.push(fault),
            Err(e) => {
                let message = e.message().trim().replace('\n', " ");
                let offset = offending_key(&message, &table)
                    .and_then(|key| find_key(text, span.clone(), &key))
                    .unwrap_or(span.start);
                let (line, column) = line_column(text, offset);
                return Err(FaultError::Toml {
                    origin: origin.to_string(),
                    line,
                    column,
                    message: format!("fault {}: {message}", i + 1),
                });
            }
        }
    }
    Ok(faults)
}

/// The key an error message is about: named in it, or whose value it quotes.
fn offending_key(message: &str, table: &toml::Table) -> Option<String> {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        return rest.split('`').next().map(str::to_string);
    }
    table.iter().find_map(|(key, value)| {
        let quoted = match value {
            toml::Value::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        };
        message.contains(&quoted).then(|| key.clone())
    })
}

/// Byte offset of the line assigning `key` inside `span` of `text`.
fn find_key(text: &str, span: std::ops::Range<usize>, key: &str) -> Option<usize> {
    let body = text.get(span.clone())?;
    let mut offset = span.start;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                return Some(offset + (line.len() - trimmed.len()));
            }
        }
        offset += line.len();
    }
    None
}

/// One-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: u32) -> Vec<NodeId> {
        (1..=n).map(NodeId).collect()
    }

    fn cluster() -> Directory {
        let mut dir = Directory::new();
        dir.add_numbered_as("etcd", "servers", 3).unwrap();
        dir.add_numbered_as("client", "clients", 1).unwrap();
        dir
    }

    #[test]
    fn names_and_groups_resolve_to_ids_and_back() {
        let text = r#"
[[faults]]
at_ms = 1000
op = "partition"
groups = [["etcd-1"], ["etcd-2", "n3"]]

[[faults]]
at_ms = 2000
op = "power-fail"
nodes = ["servers"]

[[faults]]
at_ms = 3000
op = "cut-link"
from = "client-1"
to = "etcd-2"
"#;
        let dir = cluster();
        let s = FaultSchedule::from_toml_in(text, "f.toml", &dir).unwrap();
        assert_eq!(
            s.faults[0].op,
            FaultOp::Partition {
                groups: vec![vec![NodeId(1)], vec![NodeId(2), NodeId(3)]]
            }
        );
        assert_eq!(
            s.faults[1].op,
            FaultOp::PowerFail {
                nodes: nodes(3),
                torn_write: false
            }
        );
        assert_eq!(
            s.faults[2].op,
            FaultOp::CutLink {
                from: NodeId(4),
                to: NodeId(2)
            }
        );
        let tables = s.to_named_tables(&dir);
        assert_eq!(tables[2]["from"].as_str(), Some("client-1"));
        let written = toml::to_string(&toml::Table::from_iter([(
            "faults".to_string(),
            toml::Value::Array(tables.into_iter().map(toml::Value::Table).collect()),
        )]))
        .unwrap();
        assert!(written.contains("\"etcd-1\""), "{written}");
        assert_eq!(FaultSchedule::from_toml_in(&written, "w", &dir).unwrap(), s);
    }

    #[test]
    fn unknown_names_and_groups_for_one_node_point_at_their_line() {
        let dir = cluster();
        let err = FaultSchedule::from_toml_in(
            "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"etcd-7\"\n",
            "f.toml",
            &dir,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("f.toml:4:1: fault 1: node: unknown node `etcd-7`")
                && err.contains("servers: etcd-1 etcd-2 etcd-3"),
            "{err}"
        );
        let err = FaultSchedule::from_toml_in(
            "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"servers\"\n",
            "f.toml",
            &dir,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`servers` is a group of 3 nodes"), "{err}");
        // Without a world, names are not ids.
        assert!(FaultSchedule::from_toml(
            "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"etcd-1\"\n",
            "f"
        )
        .is_err());
    }

    #[test]
    fn reads_a_readable_schedule() {
        let text = r#"
[[faults]]
at_ms = 1000
op = "partition"
groups = [["n1", "n2"], ["n3"]]

[[faults]]
at_ms = 2000
op = "power-fail"
nodes = ["n1", "n3"]
torn_write = true

[[faults]]
at_ms = 3000
op = "heal"
"#;
        let s = FaultSchedule::from_toml(text, "f.toml").unwrap();
        assert_eq!(s.faults.len(), 3);
        assert_eq!(
            s.faults[0].op,
            FaultOp::Partition {
                groups: vec![vec![NodeId(1), NodeId(2)], vec![NodeId(3)]]
            }
        );
        s.validate(&nodes(3)).unwrap();
        assert_eq!(FaultSchedule::from_toml(&s.to_toml(), "x").unwrap(), s);
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err =
            FaultSchedule::from_toml("[[faults]]\nat_ms = 10\nop = \n", "f.toml").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("f.toml:3:"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn unknown_ops_and_fields_are_rejected() {
        let err = FaultSchedule::from_toml("[[faults]]\nat_ms = 1\nop = \"explode\"\n", "f")
            .unwrap_err()
            .to_string();
        assert!(err.contains("explode"), "{err}");
        let err = FaultSchedule::from_toml(
            "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"n1\"\ncolour = 3\n",
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("f:5:1: fault 1:") && err.contains("colour"),
            "{err}"
        );
    }

    #[test]
    fn negative_durations_do_not_parse() {
        let err = FaultSchedule::from_toml(
            "[[faults]]\nat_ms = 1\nop = \"disk-stall\"\nnode = \"n1\"\nduration_ms = -5\n",
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("f:5:1: fault 1:") && err.contains("-5"),
            "{err}"
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let check = |op: FaultOp| {
            FaultSchedule::new(vec![TimedFault::new(5, op)])
                .validate(&nodes(3))
                .unwrap_err()
                .to_string()
        };
        let msg = check(FaultOp::Kill { node: NodeId(9) });
        assert!(
            msg.contains("unknown node n9") && msg.contains("n1, n2, n3"),
            "{msg}"
        );
        let msg = check(FaultOp::Partition {
            groups: vec![vec![NodeId(1), NodeId(2)], vec![NodeId(2), NodeId(3)]],
        });
        assert!(msg.contains("n2 appears in more than one"), "{msg}");
        // A node in no group keeps its links: a partition need not list it.
        let partial = FaultOp::Partition {
            groups: vec![vec![NodeId(1)], vec![NodeId(2)]],
        };
        assert_eq!(
            FaultSchedule::new(vec![TimedFault::new(5, partial)]).validate(&nodes(3)),
            Ok(())
        );
        let msg = check(FaultOp::DiskStall {
            node: NodeId(1),
            duration_ms: 0,
        });
        assert!(msg.contains("duration_ms must be more than zero"), "{msg}");
        let msg = check(FaultOp::Loss { probability: 1.5 });
        assert!(msg.contains("1.5"), "{msg}");
        assert!(msg.starts_with("fault 1 (loss at 5 ms)"), "{msg}");
    }
}
