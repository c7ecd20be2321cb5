//! Fault targets by role: `role:leader` wherever a fault file takes nodes.
//!
//! "Kill the leader" is the fault a person means, but which node leads is known only while
//! the run goes on. So a schedule may name a role: components declare theirs with
//! [`crate::NodeCtx::set_role`] (the Raft driver declares `leader`, `follower`, ...; sim-core
//! gives the labels no meaning), and a role target resolves when its op applies, against the
//! roles declared at that instant. The trace's `fault` event records the concrete op, with
//! node ids, so the timeline, the checks and the reports see the nodes it hit; a `note`
//! (`role-target`) before it says which role it resolved. When no node holds a named role
//! at that instant, the op does nothing and a `fault-skipped` note says why.
//!
//! How a role fills each kind of field:
//!
//! - a single node (`node`, `from`, `to`): the op applies once per node holding the role
//!   (`kill role:follower` kills every follower; links of a node to itself are left out);
//! - a list (`nodes`): the holders join the list;
//! - a partition group (`groups = [["role:leader"], ["servers"]]`): the holders join that
//!   group and leave every other one, so "the leader against the other servers" needs no
//!   list of who the others are.
//!
//! In a [`TimedFault`] a role in a single-node field leaves [`ROLE_PLACEHOLDER`] in the op
//! (no node has that id); a role in a list leaves nothing. The file form writes the roles
//! back where they stood, so a schedule reads back the same.

use serde::{Deserialize, Serialize};

use crate::fault::{FaultOp, TimedFault};
use crate::ids::NodeId;

/// How a fault file names a role: `role:leader`.
pub const ROLE_PREFIX: &str = "role:";

/// What a single-node field of a role-targeted op holds until the op is resolved: `n0`,
/// which is no node (ids start at `n1`), so any use of it before resolution fails loudly.
pub const ROLE_PLACEHOLDER: NodeId = NodeId(0);

/// The field of an op a role stands in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleSlot {
    /// `node`.
    Node,
    /// `from`.
    From,
    /// `to`.
    To,
    /// `nodes` (power-fail).
    Nodes,
    /// `groups[i]` (partition), zero-based.
    Group(usize),
}

/// One role named in an op: where, and which role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleTarget {
    /// The field.
    pub slot: RoleSlot,
    /// The role (`leader`), without the `role:` prefix.
    pub role: String,
}

/// The role a reference names, if it is a role target (`role:leader` -> `leader`).
pub fn role_of(reference: &str) -> Option<&str> {
    reference.strip_prefix(ROLE_PREFIX)
}

/// Why a role-targeted op did nothing when it came due.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleMiss {
    /// No node held the role then.
    #[error("no node has declared role `{0}`")]
    NoHolder(String),
    /// Every resolution was a link of a node to itself.
    #[error("role `{0}` resolves only to links of a node to itself")]
    SelfLinksOnly(String),
}

/// The op as the schedule file writes it: `at_ms`, `op` and its fields.
#[derive(Serialize, Deserialize)]
struct Plain {
    at_ms: u64,
    #[serde(flatten)]
    op: FaultOp,
}

impl TimedFault {
    /// A fault that names its nodes by id.
    pub fn new(at_ms: u64, op: FaultOp) -> Self {
        TimedFault {
            at_ms,
            op,
            roles: Vec::new(),
        }
    }

    /// The concrete ops this fault is now, given the nodes holding each role (`holders`).
    /// A fault without role targets is its op.
    ///
    /// # Errors
    ///
    /// [`RoleMiss`] when a role it names has no holder, or it resolves to nothing else.
    pub fn resolve(&self, holders: impl Fn(&str) -> Vec<NodeId>) -> Result<Vec<FaultOp>, RoleMiss> {
        if self.roles.is_empty() {
            return Ok(vec![self.op.clone()]);
        }
        let mut found = Vec::with_capacity(self.roles.len());
        for target in &self.roles {
            let nodes = holders(&target.role);
            if nodes.is_empty() {
                return Err(RoleMiss::NoHolder(target.role.clone()));
            }
            found.push((target, nodes));
        }
        let mut op = self.op.clone();
        // Lists first: the holders join them.
        for (target, nodes) in &found {
            match (target.slot, &mut op) {
                (RoleSlot::Nodes, FaultOp::PowerFail { nodes: list, .. }) => {
                    for node in nodes {
                        if !list.contains(node) {
                            list.push(*node);
                        }
                    }
                }
                (RoleSlot::Group(i), FaultOp::Partition { groups }) => {
                    for group in groups.iter_mut() {
                        group.retain(|n| !nodes.contains(n));
                    }
                    if let Some(group) = groups.get_mut(i) {
                        group.extend(nodes.iter().copied());
                    }
                }
                _ => {}
            }
        }
        if let FaultOp::Partition { groups } = &mut op {
            groups.retain(|g| !g.is_empty());
        }
        // Then single fields: one op per combination of holders.
        let mut ops = vec![op];
        for (target, nodes) in &found {
            if matches!(target.slot, RoleSlot::Nodes | RoleSlot::Group(_)) {
                continue;
            }
            ops = ops
                .into_iter()
                .flat_map(|op| {
                    nodes.iter().map(move |node| {
                        let mut op = op.clone();
                        if let Some(field) = single_field(&mut op, target.slot) {
                            *field = *node;
                        }
                        op
                    })
                })
                .collect();
        }
        ops.retain(|op| !is_self_link(op));
        if ops.is_empty() {
            let role = found
                .first()
                .map(|(t, _)| t.role.clone())
                .unwrap_or_default();
            return Err(RoleMiss::SelfLinksOnly(role));
        }
        Ok(ops)
    }

    /// What the fault names, as a person reads it (`kill role:leader`), for notes.
    pub fn describe_roles(&self) -> String {
        let roles: Vec<String> = self
            .roles
            .iter()
            .map(|t| format!("{ROLE_PREFIX}{}", t.role))
            .collect();
        format!("{} {}", self.op.name(), roles.join(" "))
    }
}

/// The single-node field `slot` of `op`, if it has one.
fn single_field(op: &mut FaultOp, slot: RoleSlot) -> Option<&mut NodeId> {
    match (slot, op) {
        (
            RoleSlot::Node,
            FaultOp::Isolate { node }
            | FaultOp::Kill { node }
            | FaultOp::Restart { node }
            | FaultOp::Pause { node }
            | FaultOp::Resume { node }
            | FaultOp::DiskStall { node, .. }
            | FaultOp::ClockSkew { node, .. },
        ) => Some(node),
        (
            RoleSlot::From,
            FaultOp::CutLink { from, .. }
            | FaultOp::RestoreLink { from, .. }
            | FaultOp::LinkLatency { from, .. },
        ) => Some(from),
        (
            RoleSlot::To,
            FaultOp::CutLink { to, .. }
            | FaultOp::RestoreLink { to, .. }
            | FaultOp::LinkLatency { to, .. },
        ) => Some(to),
        _ => None,
    }
}

fn is_self_link(op: &FaultOp) -> bool {
    match op {
        FaultOp::CutLink { from, to }
        | FaultOp::RestoreLink { from, to }
        | FaultOp::LinkLatency { from, to, .. } => from == to,
        _ => false,
    }
}

fn slot_of_key(key: &str) -> Option<RoleSlot> {
    match key {
        "node" => Some(RoleSlot::Node),
        "from" => Some(RoleSlot::From),
        "to" => Some(RoleSlot::To),
        _ => None,
    }
}

fn key_of_slot(slot: RoleSlot) -> &'static str {
    match slot {
        RoleSlot::Node => "node",
        RoleSlot::From => "from",
        RoleSlot::To => "to",
        RoleSlot::Nodes => "nodes",
        RoleSlot::Group(_) => "groups",
    }
}

/// The file form: role targets written back where they stood.
impl From<TimedFault> for toml::Table {
    fn from(fault: TimedFault) -> Self {
        let plain = Plain {
            at_ms: fault.at_ms,
            op: fault.op,
        };
        let mut table = toml::Table::try_from(plain).expect("a fault always serializes");
        for target in fault.roles {
            let name = toml::Value::String(format!("{ROLE_PREFIX}{}", target.role));
            let key = key_of_slot(target.slot);
            match (target.slot, table.get_mut(key)) {
                (RoleSlot::Nodes, Some(toml::Value::Array(list))) => list.push(name),
                (RoleSlot::Group(i), Some(toml::Value::Array(groups))) => {
                    if let Some(toml::Value::Array(group)) = groups.get_mut(i) {
                        group.push(name);
                    }
                }
                _ => {
                    table.insert(key.to_string(), name);
                }
            }
        }
        table
    }
}

/// Reads the file form: `role:` references become [`RoleTarget`]s.
impl TryFrom<toml::Table> for TimedFault {
    type Error = String;

    fn try_from(mut table: toml::Table) -> Result<Self, String> {
        let mut roles = Vec::new();
        for (key, value) in table.iter_mut() {
            match value {
                toml::Value::String(reference) => {
                    if let (Some(slot), Some(role)) = (slot_of_key(key), role_of(reference)) {
                        roles.push(RoleTarget {
                            slot,
                            role: checked_role(role)?,
                        });
                        // Any id, to let the schema read the op; replaced below.
                        *reference = "n1".to_string();
                    }
                }
                toml::Value::Array(list) if key == "nodes" => {
                    take_roles(list, RoleSlot::Nodes, &mut roles)?;
                }
                toml::Value::Array(groups) if key == "groups" => {
                    for (i, group) in groups.iter_mut().enumerate() {
                        if let toml::Value::Array(list) = group {
                            take_roles(list, RoleSlot::Group(i), &mut roles)?;
                        }
                    }
                }
                _ => {}
            }
        }
        let plain = Plain::deserialize(toml::Value::Table(table))
            .map_err(|e| e.message().trim().to_string())?;
        let mut fault = TimedFault {
            at_ms: plain.at_ms,
            op: plain.op,
            roles,
        };
        for target in &fault.roles {
            if let Some(field) = single_field(&mut fault.op, target.slot) {
                *field = ROLE_PLACEHOLDER;
            }
        }
        Ok(fault)
    }
}

/// Moves the `role:` entries of a list into `roles`.
fn take_roles(
    list: &mut Vec<toml::Value>,
    slot: RoleSlot,
    roles: &mut Vec<RoleTarget>,
) -> Result<(), String> {
    let mut error = None;
    list.retain(|value| match value.as_str().and_then(role_of) {
        Some(role) => {
            match checked_role(role) {
                Ok(role) => roles.push(RoleTarget { slot, role }),
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
            false
        }
        None => true,
    });
    error.map_or(Ok(()), Err)
}

/// A role label: lowercase letters, digits and `-`, starting with a letter.
fn checked_role(role: &str) -> Result<String, String> {
    let ok = role.starts_with(|c: char| c.is_ascii_lowercase())
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(role.to_string())
    } else {
        Err(format!(
            "`{ROLE_PREFIX}{role}` is not a valid role (lowercase letters, digits and `-`, starting with a letter)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultSchedule;

    fn parse(text: &str) -> FaultSchedule {
        FaultSchedule::from_toml(text, "f.toml").unwrap()
    }

    #[test]
    fn roles_parse_resolve_and_write_back() {
        let s = parse(
            r#"
[[faults]]
at_ms = 10
op = "kill"
node = "role:leader"

[[faults]]
at_ms = 20
op = "partition"
groups = [["role:leader"], ["n1", "n2", "n3"]]
"#,
        );
        let kill = &s.faults[0];
        assert_eq!(
            kill.op,
            FaultOp::Kill {
                node: ROLE_PLACEHOLDER
            }
        );
        let leader = |role: &str| {
            if role == "leader" {
                vec![NodeId(2)]
            } else {
                vec![]
            }
        };
        assert_eq!(
            kill.resolve(leader),
            Ok(vec![FaultOp::Kill { node: NodeId(2) }])
        );
        assert_eq!(
            s.faults[1].resolve(leader),
            Ok(vec![FaultOp::Partition {
                groups: vec![vec![NodeId(2)], vec![NodeId(1), NodeId(3)]]
            }])
        );
        assert_eq!(
            kill.resolve(|_| vec![]),
            Err(RoleMiss::NoHolder("leader".into()))
        );
        // Written back as it was read.
        assert_eq!(parse(&s.to_toml()), s);
        assert!(s.to_toml().contains("\"role:leader\""), "{}", s.to_toml());
        s.validate(&[NodeId(1), NodeId(2), NodeId(3)]).unwrap();
    }

    #[test]
    fn a_single_field_applies_to_every_holder_and_skips_self_links() {
        let s = parse(
            "[[faults]]\nat_ms = 1\nop = \"cut-link\"\nfrom = \"role:follower\"\nto = \"n1\"\n",
        );
        let followers = |_: &str| vec![NodeId(1), NodeId(3)];
        assert_eq!(
            s.faults[0].resolve(followers),
            Ok(vec![FaultOp::CutLink {
                from: NodeId(3),
                to: NodeId(1)
            }])
        );
        assert!(matches!(
            s.faults[0].resolve(|_| vec![NodeId(1)]),
            Err(RoleMiss::SelfLinksOnly(_))
        ));
    }

    #[test]
    fn bad_role_names_point_at_their_line() {
        let err = FaultSchedule::from_toml(
            "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"role:Leader\"\n",
            "f.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("f.toml:4:1: fault 1:") && err.contains("not a valid role"),
            "{err}"
        );
    }
}
