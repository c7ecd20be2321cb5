//! The laid-out window every rendering reads: lanes, clipping to the window, the instants
//! that get rows, and how each shown message's fate is drawn. One type, so the SVG and
//! the Mermaid text cannot disagree about what is shown.

use std::collections::BTreeMap;

use sim_core::{DropReason, NodeId};

use super::label::{grouped, seconds};
use super::{CommitQuorum, AXIS_PX, LANE_PX};
use crate::model::{node_set, Fate, MessageRecord, RunModel};

/// What happened to a shown message, as drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Drawn {
    Delivered(u64),
    Dropped(u64, DropReason),
    /// Still travelling at the end of the window or the run.
    Fading,
}

pub(super) fn drawn(message: &MessageRecord, to_us: u64) -> Drawn {
    match message.fate {
        Fate::Delivered { t_us, .. } if t_us <= to_us => Drawn::Delivered(t_us),
        Fate::Dropped { t_us, reason, .. } if t_us <= to_us && reason != DropReason::RunEnded => {
            Drawn::Dropped(t_us, reason)
        }
        _ => Drawn::Fading,
    }
}

/// How far along the arrow a drop is drawn, by where the network dropped it.
pub(super) fn drop_fraction(reason: DropReason) -> f64 {
    match reason {
        DropReason::Partitioned => 0.35,
        DropReason::PartitionedInFlight | DropReason::Lost | DropReason::RunEnded => 0.55,
        // Both reach the receiving machine: it is down, or nothing listens on the port.
        DropReason::ReceiverDown | DropReason::NoSuchPort => 0.88,
    }
}

/// Everything one rendering needs.
pub(super) struct View<'a> {
    pub(super) model: &'a RunModel,
    pub(super) nodes: &'a [NodeId],
    pub(super) lane: BTreeMap<NodeId, usize>,
    pub(super) from_us: u64,
    pub(super) to_us: u64,
    pub(super) shown: &'a [&'a MessageRecord],
    pub(super) quorums: &'a [CommitQuorum],
}

impl View<'_> {
    pub(super) fn note(&self) -> String {
        let servers: Vec<NodeId> = self
            .nodes
            .iter()
            .copied()
            .filter(|n| self.model.servers.contains(n))
            .collect();
        let clients: Vec<NodeId> = self
            .nodes
            .iter()
            .copied()
            .filter(|n| !self.model.servers.contains(n))
            .collect();
        let set = |nodes: &[NodeId]| {
            let mut sorted = nodes.to_vec();
            sorted.sort();
            node_set(&sorted, &self.model.directory)
        };
        let mut who = format!("servers {}", set(&servers));
        if !clients.is_empty() {
            who.push_str(&format!(", clients {}", set(&clients)));
        }
        format!(
            "{}–{} of {}, {} of {} messages, {}; idle gaps compressed",
            seconds(self.from_us).trim_end_matches(" s"),
            seconds(self.to_us),
            seconds(self.model.end_us),
            grouped(self.shown.len()),
            grouped(self.model.messages.len()),
            who
        )
    }

    pub(super) fn lane_x(&self, node: NodeId) -> f64 {
        AXIS_PX + LANE_PX / 2.0 + self.lane[&node] as f64 * LANE_PX
    }

    pub(super) fn clip(&self, start_us: u64, end_us: u64) -> Option<(u64, u64)> {
        let (s, e) = (start_us.max(self.from_us), end_us.min(self.to_us));
        (s <= e && start_us <= self.to_us && end_us >= self.from_us).then_some((s, e))
    }

    /// Every instant that gets a row.
    pub(super) fn instants(&self) -> Vec<u64> {
        let mut times = vec![self.from_us, self.to_us];
        for m in self.shown {
            times.push(m.sent_us);
            match drawn(m, self.to_us) {
                Drawn::Delivered(t) | Drawn::Dropped(t, _) => times.push(t),
                Drawn::Fading => {}
            }
        }
        let mut bounds = |s: u64, e: u64| {
            if let Some((s, e)) = self.clip(s, e) {
                times.push(s);
                times.push(e);
            }
        };
        for p in &self.model.partitions {
            bounds(p.start_us, p.end_us);
        }
        for f in &self.model.faults {
            bounds(f.start_us, f.end_us);
        }
        for r in &self.model.roles {
            if self.lane.contains_key(&r.node) {
                bounds(r.start_us, r.end_us);
            }
        }
        for o in &self.model.outages {
            if self.lane.contains_key(&o.node) {
                bounds(o.start_us, o.end_us);
            }
        }
        for q in self.quorums {
            times.push(q.t_us);
        }
        for op in &self.model.ops {
            if self.lane.contains_key(&op.client) {
                for t in [Some(op.invoke_us), op.complete_us].into_iter().flatten() {
                    if self.from_us <= t && t <= self.to_us {
                        times.push(t);
                    }
                }
            }
        }
        times
    }
}
