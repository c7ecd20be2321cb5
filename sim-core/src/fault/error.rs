//! Why a fault op does not fit the world or a fault file cannot be read: each error says
//! what is wrong and, for a file, where (line and column).

use super::MAX_FAULT_VALUE;
use crate::ids::NodeId;

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
