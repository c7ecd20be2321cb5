//! The world's directory: every node's id, the name that says what it is, and its group.
//!
//! A [`NodeId`] is how the simulator addresses a node (dense, `Copy`, cheap to hash into the
//! trace); a name is how a person does (`etcd-1`, `client-2`, later `apiserver-1`), and a
//! group is how a fault names several at once (`servers`, `clients`). Ids stay in every
//! event; the directory rides in the trace's `run-start` event, so every reader (reports,
//! the CLI) can put names on the ids without knowing which scenario ran.
//!
//! Fault files may name nodes by id (`n3`), by name (`etcd-3`) or by group (`servers`,
//! expanded to its members where a list is expected): [`Directory::resolve`] turns each
//! into ids, with an error that lists what exists.
//!
//! A node may host several components (an etcd member beside its client; later a kubelet
//! beside a container runtime on `worker-a`), each on its own port: they are named
//! `<node>/<component>` (`worker-a/kubelet`). For faults a component stands for its node,
//! since the components of a node share its fate: killing `worker-a/kubelet` kills
//! `worker-a`. Components ride in [`NodeInfo`] and so in `run-start` (written only when a
//! node has any, so older traces keep their bytes).
//!
//! sim-core gives no meaning to any name or group: the layer that builds the world chooses
//! them (the Raft scenarios use `servers`, `clients`, `watchers`).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::Port;
use crate::ids::NodeId;

/// The group of a node added without one (`Sim::node`).
pub const DEFAULT_GROUP: &str = "nodes";

/// One node's entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its id.
    pub id: NodeId,
    /// Its name, unique in the world (`etcd-1`).
    pub name: String,
    /// Its group (`servers`).
    pub group: String,
    /// The components it hosts besides its main actor, in the order they were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentInfo>,
}

/// One component a node hosts: its name and the port it listens on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// Its name on the node (`kubelet`); `worker-a/kubelet` in full.
    pub name: String,
    /// Its port.
    pub port: Port,
}

/// Every node of a world, in id order (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Directory {
    nodes: Vec<NodeInfo>,
}

/// A name or group the directory cannot take, or a reference it cannot resolve.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// Names and groups are lowercase ASCII letters, digits, `-` and `/`, starting with a
    /// letter, so they read the same in TOML, file names and SVG.
    #[error("`{0}` is not a valid node or group name (lowercase letters, digits, `-` and `/`, starting with a letter)")]
    BadName(String),
    /// Two nodes share a name, or a name is also a group.
    #[error("`{0}` names two things in this world")]
    Taken(String),
    /// A name of the `n<digits>` form that is not that node's own id would be read as an id.
    #[error("`{name}` looks like the id of another node (it would be read as {name}, not {id})")]
    IdLike {
        /// The name.
        name: String,
        /// The node it was meant for.
        id: NodeId,
    },
    /// A reference to nothing in this world.
    #[error("unknown node `{reference}` (this run has {known})")]
    Unknown {
        /// What was asked for.
        reference: String,
        /// What exists, for the message.
        known: String,
    },
    /// A component's port is already another component's (or the main actor's) on the
    /// same node.
    #[error("port {port} of `{node}` is taken (by `{by}`)")]
    PortTaken {
        /// The node.
        node: String,
        /// The port.
        port: Port,
        /// What listens on it already.
        by: String,
    },
    /// A group where one node is expected.
    #[error("`{group}` is a group of {count} nodes; name one node here")]
    GroupForOne {
        /// The group.
        group: String,
        /// Its size.
        count: usize,
    },
}

fn valid_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '/')
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Self {
        Directory::default()
    }

    /// `count` nodes named by their ids (`n1`, `n2`, ...), all in [`DEFAULT_GROUP`].
    pub fn numbered(count: usize) -> Self {
        let mut dir = Directory::new();
        for _ in 0..count {
            dir.add_numbered();
        }
        dir
    }

    /// Adds a node named by its id, in [`DEFAULT_GROUP`].
    pub fn add_numbered(&mut self) -> NodeId {
        let id = NodeId::from_index(self.nodes.len());
        self.nodes.push(NodeInfo {
            id,
            name: id.to_string(),
            group: DEFAULT_GROUP.to_string(),
            components: Vec::new(),
        });
        id
    }

    /// Adds a node; it gets the next id.
    ///
    /// # Errors
    ///
    /// A bad or taken name or group (see [`DirectoryError`]).
    pub fn add(&mut self, name: &str, group: &str) -> Result<NodeId, DirectoryError> {
        for s in [name, group] {
            if !valid_name(s) {
                return Err(DirectoryError::BadName(s.to_string()));
            }
        }
        let id = NodeId::from_index(self.nodes.len());
        if let Ok(other) = name.parse::<NodeId>() {
            if other != id {
                return Err(DirectoryError::IdLike {
                    name: name.to_string(),
                    id,
                });
            }
        }
        let taken = self.nodes.iter().any(|n| n.name == name || n.group == name)
            || self.nodes.iter().any(|n| n.name == group)
            || name == group;
        if taken {
            let which = if self.nodes.iter().any(|n| n.name == group) {
                group
            } else {
                name
            };
            return Err(DirectoryError::Taken(which.to_string()));
        }
        self.nodes.push(NodeInfo {
            id,
            name: name.to_string(),
            group: group.to_string(),
            components: Vec::new(),
        });
        Ok(id)
    }

    /// Adds a component named `component` on port `port` to the node `node` (by name or
    /// id); `main_port` says whether the node's main actor holds [`Port::MAIN`].
    ///
    /// # Errors
    ///
    /// An unknown node, a bad or repeated component name, or a taken port.
    pub fn add_component(
        &mut self,
        node: &str,
        component: &str,
        port: Port,
        main_port: bool,
    ) -> Result<NodeId, DirectoryError> {
        if !valid_name(component) || component.contains('/') {
            return Err(DirectoryError::BadName(component.to_string()));
        }
        let id = self.resolve_one(node)?;
        let info = &mut self.nodes[id.index()];
        let full = format!("{}/{component}", info.name);
        if info.components.iter().any(|c| c.name == component) {
            return Err(DirectoryError::Taken(full));
        }
        let by = if main_port && port == Port::MAIN {
            Some(info.name.clone())
        } else {
            info.components
                .iter()
                .find(|c| c.port == port)
                .map(|c| format!("{}/{}", info.name, c.name))
        };
        if let Some(by) = by {
            return Err(DirectoryError::PortTaken {
                node: info.name.clone(),
                port,
                by,
            });
        }
        info.components.push(ComponentInfo {
            name: component.to_string(),
            port,
        });
        Ok(id)
    }

    /// The full name of the component on `port` of `node` (`worker-a/kubelet`); the node's
    /// name for its main port or a port no component declared.
    pub fn address_name(&self, node: NodeId, port: Port) -> String {
        match self
            .get(node)
            .and_then(|n| n.components.iter().find(|c| c.port == port))
        {
            Some(c) => format!("{}/{}", self.name(node), c.name),
            None => self.name(node).to_string(),
        }
    }

    /// Adds `count` nodes named `{prefix}-1`, `{prefix}-2`, ... in `group`; their ids.
    ///
    /// # Errors
    ///
    /// As [`Directory::add`].
    pub fn add_numbered_as(
        &mut self,
        prefix: &str,
        group: &str,
        count: usize,
    ) -> Result<Vec<NodeId>, DirectoryError> {
        (1..=count)
            .map(|i| self.add(&format!("{prefix}-{i}"), group))
            .collect()
    }

    /// Every node, in id order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Every id, in order.
    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The entry of `id`, if the world has it.
    pub fn get(&self, id: NodeId) -> Option<&NodeInfo> {
        self.nodes.get(id.0.checked_sub(1)? as usize)
    }

    /// The name of `id`; its id written out when the directory does not have it (a trace
    /// from before names, or a node added without one).
    pub fn name(&self, id: NodeId) -> NodeName<'_> {
        NodeName {
            id,
            name: self.get(id).map(|n| n.name.as_str()),
        }
    }

    /// The members of `group`, in id order.
    pub fn group(&self, group: &str) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.group == group)
            .map(|n| n.id)
            .collect()
    }

    /// Every group, in name order.
    pub fn groups(&self) -> BTreeSet<&str> {
        self.nodes.iter().map(|n| n.group.as_str()).collect()
    }

    /// The nodes `reference` stands for: an id (`n3`), a name (`etcd-3`), a component
    /// (`worker-a/kubelet`: its node, whose fate it shares) or a group (`servers`: every
    /// member).
    ///
    /// # Errors
    ///
    /// [`DirectoryError::Unknown`] when it is none of these.
    pub fn resolve(&self, reference: &str) -> Result<Vec<NodeId>, DirectoryError> {
        if let Some(n) = self.nodes.iter().find(|n| n.name == reference) {
            return Ok(vec![n.id]);
        }
        if let Some((node, component)) = reference.rsplit_once('/') {
            let host = self
                .nodes
                .iter()
                .find(|n| n.name == node && n.components.iter().any(|c| c.name == component));
            if let Some(n) = host {
                return Ok(vec![n.id]);
            }
        }
        if let Ok(id) = reference.parse::<NodeId>() {
            if self.get(id).is_some() {
                return Ok(vec![id]);
            }
        }
        let members = self.group(reference);
        if !members.is_empty() {
            return Ok(members);
        }
        Err(DirectoryError::Unknown {
            reference: reference.to_string(),
            known: self.describe(),
        })
    }

    /// The one node `reference` stands for (a group of one counts).
    ///
    /// # Errors
    ///
    /// Unknown, or a group of several.
    pub fn resolve_one(&self, reference: &str) -> Result<NodeId, DirectoryError> {
        let ids = self.resolve(reference)?;
        match ids.as_slice() {
            [one] => Ok(*one),
            _ => Err(DirectoryError::GroupForOne {
                group: reference.to_string(),
                count: ids.len(),
            }),
        }
    }

    /// What exists, for error messages: `clients: client-1; servers: etcd-1 etcd-2; ids n1
    /// to n3`.
    pub fn describe(&self) -> String {
        let groups = self
            .groups()
            .into_iter()
            .map(|group| {
                let names: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|n| n.group == group)
                    .map(|n| {
                        let parts: Vec<String> = n
                            .components
                            .iter()
                            .map(|c| format!("{}/{}", n.name, c.name))
                            .collect();
                        if parts.is_empty() {
                            n.name.clone()
                        } else {
                            format!("{} ({})", n.name, parts.join(", "))
                        }
                    })
                    .collect();
                format!("{group}: {}", names.join(" "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        match self.nodes.last() {
            Some(last) => format!("{groups}; ids n1 to {}", last.id),
            None => "no nodes".to_string(),
        }
    }
}

/// A node's name for display: its directory name, or its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeName<'a> {
    id: NodeId,
    name: Option<&'a str>,
}

impl NodeName<'_> {
    /// The id named.
    pub fn id(self) -> NodeId {
        self.id
    }
}

impl fmt::Display for NodeName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Directory {
        let mut dir = Directory::new();
        dir.add_numbered_as("etcd", "servers", 3).unwrap();
        dir.add_numbered_as("client", "clients", 2).unwrap();
        dir
    }

    #[test]
    fn names_ids_and_groups_resolve() {
        let dir = cluster();
        assert_eq!(dir.resolve("etcd-2").unwrap(), vec![NodeId(2)]);
        assert_eq!(dir.resolve("n4").unwrap(), vec![NodeId(4)]);
        assert_eq!(
            dir.resolve("servers").unwrap(),
            vec![NodeId(1), NodeId(2), NodeId(3)]
        );
        assert_eq!(dir.resolve_one("client-2").unwrap(), NodeId(5));
        assert_eq!(dir.name(NodeId(4)).to_string(), "client-1");
        assert_eq!(dir.name(NodeId(9)).to_string(), "n9");
    }

    #[test]
    fn unknown_references_list_what_exists() {
        let dir = cluster();
        let err = dir.resolve("etcd-9").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown node `etcd-9` (this run has clients: client-1 client-2; servers: etcd-1 etcd-2 etcd-3; ids n1 to n5)"
        );
        assert!(dir.resolve("n6").is_err());
        let err = dir.resolve_one("clients").unwrap_err().to_string();
        assert_eq!(err, "`clients` is a group of 2 nodes; name one node here");
    }

    #[test]
    fn bad_and_clashing_names_are_refused() {
        let mut dir = cluster();
        assert_eq!(
            dir.add("Etcd-4", "servers"),
            Err(DirectoryError::BadName("Etcd-4".into()))
        );
        assert_eq!(
            dir.add("etcd-1", "servers"),
            Err(DirectoryError::Taken("etcd-1".into()))
        );
        assert_eq!(
            dir.add("servers", "extra"),
            Err(DirectoryError::Taken("servers".into()))
        );
        assert_eq!(
            dir.add("op", "etcd-1"),
            Err(DirectoryError::Taken("etcd-1".into()))
        );
        assert!(matches!(
            dir.add("n2", "extra"),
            Err(DirectoryError::IdLike { .. })
        ));
        assert_eq!(dir.add("n6", "extra"), Ok(NodeId(6)));
    }
}
