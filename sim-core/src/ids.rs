//! Typed identifiers shared by every crate.
//!
//! Ids are small `Copy` newtypes so that a node, a message and a trace event can never be
//! confused for one another (raft-rs and stateright do the same). `NodeId` prints and parses
//! as `n1`, `n2`, ... because that is how fault files and traces name nodes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A simulated node (server or client). Numbered from 1; written `n1`, `n2`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// Zero-based position of this node in the world's node table.
    pub fn index(self) -> usize {
        (self.0 as usize)
            .checked_sub(1)
            .expect("NodeId is numbered from 1")
    }

    /// The id of the node at zero-based position `index`.
    pub fn from_index(index: usize) -> Self {
        NodeId(u32::try_from(index + 1).expect("node index fits in u32"))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Why a string is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a node name (expected n1, n2, ...)")]
pub struct ParseNodeIdError(pub String);

impl FromStr for NodeId {
    type Err = ParseNodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix('n')
            .and_then(|digits| digits.parse::<u32>().ok())
            .filter(|&n| n >= 1)
            .map(NodeId)
            .ok_or_else(|| ParseNodeIdError(s.to_string()))
    }
}

/// `n1` in readable formats (JSON, TOML); the bare number in binary ones (the trace
/// hash's canonical encoding).
impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return serializer.serialize_u32(self.0);
        }
        // Written whole, without `collect_str`'s formatter (a trace writes many of these).
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(self.0);
        let mut name = [0u8; 11];
        name[0] = b'n';
        name[1..=digits.len()].copy_from_slice(digits.as_bytes());
        serializer.serialize_str(
            std::str::from_utf8(&name[..=digits.len()]).expect("`n` and ASCII digits"),
        )
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return u32::deserialize(deserializer).map(NodeId);
        }
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One message sent through the simulated network; unique within a run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct MessageId(pub u64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

/// One trace event; ids are dense and increase in the order events were recorded.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct EventId(pub u64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

/// One client operation in the history; unique within a run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct OpId(pub u64);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_round_trip_through_text() {
        for n in [1, 2, 17, 4000] {
            let id = NodeId(n);
            assert_eq!(id.to_string().parse::<NodeId>(), Ok(id));
        }
    }

    #[test]
    fn node_ids_are_names_in_json_and_numbers_in_binary() {
        for n in [1, 9, 10, 4000, u32::MAX] {
            let id = NodeId(n);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"n{n}\""));
            assert_eq!(serde_json::from_str::<NodeId>(&json).unwrap(), id);
            let binary = postcard::to_allocvec(&id).unwrap();
            assert_eq!(binary, postcard::to_allocvec(&n).unwrap());
            assert_eq!(postcard::from_bytes::<NodeId>(&binary).unwrap(), id);
        }
    }

    #[test]
    fn bad_node_names_are_rejected() {
        for bad in ["", "n", "n0", "x1", "n-1", "1", "n1x"] {
            assert!(bad.parse::<NodeId>().is_err(), "{bad} parsed");
        }
    }
}
