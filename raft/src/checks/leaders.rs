//! Who leads, and in which term, as the trace says so far.

use std::collections::BTreeMap;

use sim_core::{EventKind, NodeId, TraceEvent};

use crate::core::Role;
use crate::events::RaftEvent;

/// Each node's current leadership, following `role` and `node-crash` events.
#[derive(Clone, Debug, Default)]
pub struct Leaders {
    terms: BTreeMap<NodeId, u64>,
}

impl Leaders {
    /// Follows one event (events other than role changes and crashes are ignored).
    pub fn observe(&mut self, event: &TraceEvent) {
        let Some(node) = event.node else { return };
        match (event.layer::<RaftEvent>(), &event.kind) {
            (
                Some(RaftEvent::Role {
                    role: Role::Leader,
                    term,
                    ..
                }),
                _,
            ) => {
                self.terms.insert(node, *term);
            }
            (Some(RaftEvent::Role { .. }), _) | (_, EventKind::NodeCrash { .. }) => {
                self.terms.remove(&node);
            }
            _ => {}
        }
    }

    /// The term `node` leads, if it is a leader now.
    pub fn term_of(&self, node: NodeId) -> Option<u64> {
        self.terms.get(&node).copied()
    }
}
