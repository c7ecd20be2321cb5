//! `network-respects-faults`: a message is delivered only if its link was up when it was
//! sent and when it arrived; it is dropped as partitioned exactly when the link was down,
//! and never blamed on random loss while the link was cut.
//!
//! The link state is rebuilt here from the fault events alone, independently of
//! [`crate::network`], so that a bug there cannot hide itself.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::{Check, CheckKind, Evidence, Outcome, RunView};
use crate::fault::FaultOp;
use crate::ids::{MessageId, NodeId};
use crate::trace::{DropReason, EventKind};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetworkRespectsFaults;

#[derive(Default)]
struct LinkModel {
    group: BTreeMap<NodeId, usize>,
    cut: BTreeSet<(NodeId, NodeId)>,
}

impl LinkModel {
    fn up(&self, from: NodeId, to: NodeId) -> bool {
        from == to
            || (!self.cut.contains(&(from, to))
                && match (self.group.get(&from), self.group.get(&to)) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                })
    }

    fn apply(&mut self, op: &FaultOp, nodes: &[NodeId]) {
        match op {
            FaultOp::Partition { groups } => {
                self.group = groups
                    .iter()
                    .enumerate()
                    .flat_map(|(g, members)| members.iter().map(move |n| (*n, g)))
                    .collect();
            }
            FaultOp::Isolate { node } => {
                self.group = nodes.iter().map(|n| (*n, usize::from(n == node))).collect();
            }
            FaultOp::CutLink { from, to } => {
                self.cut.insert((*from, *to));
            }
            FaultOp::RestoreLink { from, to } => {
                self.cut.remove(&(*from, *to));
            }
            FaultOp::Heal | FaultOp::HealAll => {
                self.group.clear();
                self.cut.clear();
            }
            _ => {}
        }
    }
}

impl Check for NetworkRespectsFaults {
    fn name(&self) -> &'static str {
        "network-respects-faults"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut links = LinkModel::default();
        let mut up_at_send: BTreeMap<MessageId, bool> = BTreeMap::new();
        for event in &run.trace.events {
            match &event.kind {
                EventKind::Fault { fault } => links.apply(fault, run.nodes),
                EventKind::Send { msg, to, .. } => {
                    let from = event.node.expect("sends have a node");
                    up_at_send.insert(*msg, links.up(from, *to));
                }
                EventKind::Deliver { msg, from, .. } => {
                    let to = event.node.expect("deliveries have a node");
                    let sent_up = up_at_send.get(msg).copied().unwrap_or(true);
                    if !sent_up || !links.up(*from, to) {
                        return Outcome::violation(
                            format!("message {msg} crossed the cut link {from} -> {to}"),
                            vec![Evidence::event(event, "delivered across a cut link")],
                        );
                    }
                }
                EventKind::Drop {
                    msg,
                    from,
                    to,
                    reason,
                    ..
                } => {
                    let wrongly = match reason {
                        DropReason::Partitioned => up_at_send.get(msg).copied().unwrap_or(true),
                        DropReason::PartitionedInFlight => links.up(*from, *to),
                        // The network looks at the link before it rolls for loss.
                        DropReason::Lost => !up_at_send.get(msg).copied().unwrap_or(true),
                        _ => false,
                    };
                    if wrongly {
                        return Outcome::violation(
                            format!(
                                "message {msg} on {from} -> {to} was dropped as {}, which the link state at the time rules out",
                                reason.as_str()
                            ),
                            vec![Evidence::event(event, "a drop with the wrong reason")],
                        );
                    }
                }
                _ => {}
            }
        }
        Outcome::Pass
    }
}
