//! `network-respects-faults`: a message is delivered only if its link was up when it was
//! sent and when it arrived; it is dropped as partitioned exactly when the link was down,
//! and never blamed on random loss while the link was cut.
//!
//! The link state is rebuilt here from the fault events alone, independently of
//! [`crate::network`], so that a bug there cannot hide itself.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::Evidence;
use crate::fault::FaultOp;
use crate::ids::{MessageId, NodeId};
use crate::observe::{OnlineCheck, Violation};
use crate::trace::{DropReason, EventKind, TraceEvent};

/// See the module docs. Judged online: the state is the link model, the run's nodes (from
/// `run-start`: an isolation cuts a node off from all of them) and whether each message's
/// link was up when it was sent.
#[derive(Clone, Debug, Default)]
pub struct NetworkRespectsFaults {
    links: LinkModel,
    nodes: Vec<NodeId>,
    up_at_send: BTreeMap<MessageId, bool>,
}

#[derive(Clone, Debug, Default)]
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

impl OnlineCheck for NetworkRespectsFaults {
    const NAME: &'static str = "network-respects-faults";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        match &event.kind {
            EventKind::RunStart { nodes, .. } => self.nodes.clone_from(nodes),
            EventKind::Fault { fault } => self.links.apply(fault, &self.nodes),
            EventKind::Send { msg, to, .. } => {
                let from = event.node.expect("sends have a node");
                self.up_at_send.insert(*msg, self.links.up(from, *to));
            }
            EventKind::Deliver { msg, from, .. } => {
                let to = event.node.expect("deliveries have a node");
                let sent_up = self.up_at_send.get(msg).copied().unwrap_or(true);
                if !sent_up || !self.links.up(*from, to) {
                    return Some(Violation::new(
                        format!("message {msg} crossed the cut link {from} -> {to}"),
                        vec![Evidence::event(event, "delivered across a cut link")],
                    ));
                }
            }
            EventKind::Drop {
                msg,
                from,
                to,
                reason,
                ..
            } => {
                let sent_up = self.up_at_send.get(msg).copied().unwrap_or(true);
                let wrongly = match reason {
                    DropReason::Partitioned => sent_up,
                    DropReason::PartitionedInFlight => self.links.up(*from, *to),
                    // The network looks at the link before it rolls for loss.
                    DropReason::Lost => !sent_up,
                    _ => false,
                };
                if wrongly {
                    return Some(Violation::new(
                        format!(
                            "message {msg} on {from} -> {to} was dropped as {}, which the link state at the time rules out",
                            reason.as_str()
                        ),
                        vec![Evidence::event(event, "a drop with the wrong reason")],
                    ));
                }
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Port;
    use crate::check::{Check, RunView};
    use crate::ids::EventId;
    use crate::time::SimTime;
    use crate::trace::Trace;

    fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    fn at(events: &mut Vec<TraceEvent>, node: Option<u32>, kind: EventKind) {
        let id = events.len() as u64;
        events.push(TraceEvent {
            id: EventId(id),
            t_us: SimTime(id * 1000),
            node: node.map(n),
            kind,
        });
    }

    fn send(events: &mut Vec<TraceEvent>, msg: u64, from: u32, to: u32) {
        let kind = EventKind::Send {
            msg: MessageId(msg),
            to: n(to),
            from_port: Port::default(),
            to_port: Port::default(),
            kind: "ping".into(),
            fields: None,
        };
        at(events, Some(from), kind);
    }

    fn deliver(events: &mut Vec<TraceEvent>, msg: u64, from: u32, to: u32) {
        let kind = EventKind::Deliver {
            msg: MessageId(msg),
            from: n(from),
            from_port: Port::default(),
            to_port: Port::default(),
        };
        at(events, Some(to), kind);
    }

    /// Three nodes; n1 is isolated from the run-start's nodes after message 1 is sent.
    fn isolated_run() -> Vec<TraceEvent> {
        let mut events = Vec::new();
        let kind = EventKind::RunStart {
            seed: 0,
            nodes: vec![n(1), n(2), n(3)],
            directory: Default::default(),
        };
        at(&mut events, None, kind);
        send(&mut events, 1, 2, 3);
        send(&mut events, 2, 2, 1);
        deliver(&mut events, 2, 2, 1);
        let fault = FaultOp::Isolate { node: n(1) };
        at(&mut events, None, EventKind::Fault { fault });
        deliver(&mut events, 1, 2, 3);
        send(&mut events, 3, 3, 1);
        events
    }

    #[test]
    fn online_it_fires_at_the_first_delivery_across_a_cut_and_not_before() {
        let mut events = isolated_run();
        let bad = events.len();
        deliver(&mut events, 3, 3, 1);
        send(&mut events, 4, 1, 2);
        deliver(&mut events, 4, 1, 2);

        let mut check = NetworkRespectsFaults::default();
        let fired: Vec<usize> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| check.observe(e).map(|_| i))
            .take(1)
            .collect();
        assert_eq!(
            fired,
            vec![bad],
            "silent before the bad delivery, fires at it"
        );

        let trace = Trace { events };
        let outcome = NetworkRespectsFaults::default().check(&RunView {
            seed: 0,
            nodes: &[n(1), n(2), n(3)],
            trace: &trace,
            history: &crate::History::default(),
        });
        assert_eq!(
            outcome.message(),
            Some("message m3 crossed the cut link n3 -> n1")
        );
    }

    #[test]
    fn links_the_isolation_left_up_still_deliver() {
        let events = isolated_run();
        let mut check = NetworkRespectsFaults::default();
        assert!(events.iter().all(|e| check.observe(e).is_none()));
    }
}
