//! `message-accounting`: every message sent has exactly one fate, recorded after its send:
//! delivered to its receiver, or dropped with a reason, on the link it was sent on; and
//! nothing is delivered to a node that is down.
//!
//! Not an online check ([`crate::OnlineCheck`]): "exactly one fate" includes "at least
//! one", which only the end of the run can judge (a message in flight is not yet lost).

use std::collections::BTreeMap;

use crate::check::{Check, CheckKind, Evidence, Outcome, RunView};
use crate::ids::{MessageId, NodeId};
use crate::trace::{EventKind, TraceEvent};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct MessageAccounting;

impl Check for MessageAccounting {
    fn name(&self) -> &'static str {
        "message-accounting"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        // msg -> (send event, receiver, fate event if any)
        let mut sends: BTreeMap<MessageId, (&TraceEvent, NodeId, Option<&TraceEvent>)> =
            BTreeMap::new();
        let mut up: BTreeMap<NodeId, bool> = BTreeMap::new();
        for event in &run.trace.events {
            match &event.kind {
                EventKind::NodeStart { .. } => {
                    up.insert(event.node.expect("node events have a node"), true);
                }
                EventKind::NodeCrash { .. } => {
                    up.insert(event.node.expect("node events have a node"), false);
                }
                EventKind::Send { msg, to, .. }
                    if sends.insert(*msg, (event, *to, None)).is_some() =>
                {
                    return Outcome::violation(
                        format!("message {msg} was sent twice"),
                        vec![Evidence::event(event, "second send")],
                    );
                }
                EventKind::Deliver { msg, .. } | EventKind::Drop { msg, .. } => {
                    let Some(entry) = sends.get_mut(msg) else {
                        return Outcome::violation(
                            format!("message {msg} has a fate but was never sent"),
                            vec![Evidence::event(event, "fate without a send")],
                        );
                    };
                    if let Some(first) = entry.2 {
                        return Outcome::violation(
                            format!("message {msg} has two fates"),
                            vec![
                                Evidence::event(first, "first fate"),
                                Evidence::event(event, "second fate"),
                            ],
                        );
                    }
                    let (send, to) = (entry.0, entry.1);
                    let from = send.node.expect("sends have a node");
                    let routed = match &event.kind {
                        EventKind::Deliver { from: f, .. } => *f == from && event.node == Some(to),
                        EventKind::Drop { from: f, to: t, .. } => *f == from && *t == to,
                        _ => unreachable!("matched above"),
                    };
                    if !routed {
                        return Outcome::violation(
                            format!("message {msg} ({from} -> {to}) has a fate on another link"),
                            vec![
                                Evidence::event(send, "sent here"),
                                Evidence::event(event, "its fate names other nodes"),
                            ],
                        );
                    }
                    if let EventKind::Deliver { .. } = event.kind {
                        if !up.get(&to).copied().unwrap_or(false) {
                            return Outcome::violation(
                                format!("message {msg} was delivered to {to} while it was down"),
                                vec![Evidence::event(event, "delivery to a down node")],
                            );
                        }
                    }
                    entry.2 = Some(event);
                }
                _ => {}
            }
        }
        let lost: Vec<Evidence> = sends
            .values()
            .filter(|(_, _, fate)| fate.is_none())
            .take(10)
            .map(|(send, _, _)| Evidence::event(send, "sent, never delivered or dropped"))
            .collect();
        if lost.is_empty() {
            Outcome::Pass
        } else {
            Outcome::violation(
                format!(
                    "{} message(s) vanished without a fate",
                    sends.values().filter(|s| s.2.is_none()).count()
                ),
                lost,
            )
        }
    }
}
