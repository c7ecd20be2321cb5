//! Ports and addresses: where on a node a message goes.
//!
//! A node is a machine; the components it hosts (an etcd member, a client, later an API
//! server, a kubelet) are its processes, and each listens on its own [`Port`], as each
//! process of a host binds its own socket (turmoil and madsim give every simulated node
//! per-port sockets for the same reason). A port has its own inbox, so a component waiting
//! for one reply is not handed another component's mail, and one conversation can await its
//! answer while other messages arrive elsewhere.
//!
//! The network's faults stay per node: a partition cuts the machine, so every port of it.
//! [`Port::MAIN`] (0) is the default port: a node with one actor has only it, and every
//! address made from a bare [`NodeId`] names it, so actors written before ports keep
//! working and their traces keep their bytes (the trace writes a port only when it is not
//! the main one).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::NodeId;

/// One inbox of a node (see the module docs). `Port::MAIN` is the default.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Port(pub u16);

impl Port {
    /// The default port: a node's main actor listens here, and a bare node id addresses it.
    pub const MAIN: Port = Port(0);

    /// Whether this is [`Port::MAIN`] (for `skip_serializing_if`: traces write only other
    /// ports).
    pub fn is_main(&self) -> bool {
        *self == Port::MAIN
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A node and one of its ports: where a message is sent from or to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address {
    /// The machine.
    pub node: NodeId,
    /// The inbox on it.
    pub port: Port,
}

impl Address {
    /// `node`'s `port`.
    pub fn new(node: NodeId, port: Port) -> Self {
        Address { node, port }
    }
}

/// A bare node id is its main port.
impl From<NodeId> for Address {
    fn from(node: NodeId) -> Self {
        Address {
            node,
            port: Port::MAIN,
        }
    }
}

/// `n3` for the main port, `n3:2` for another.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port.is_main() {
            write!(f, "{}", self.node)
        } else {
            write!(f, "{}:{}", self.node, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_id_is_its_main_port() {
        let a: Address = NodeId(3).into();
        assert_eq!(a, Address::new(NodeId(3), Port::MAIN));
        assert_eq!(a.to_string(), "n3");
        assert_eq!(Address::new(NodeId(3), Port(2)).to_string(), "n3:2");
        assert!(Port::default().is_main() && !Port(1).is_main());
    }
}
