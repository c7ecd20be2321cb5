//! The fold of Raft role changes, crashes, pauses and commits into role spans, outages and
//! each server's commit points.

use std::collections::BTreeMap;

use raft::events::RaftEvent;
use sim_core::{EventKind, NodeId, Trace};

use super::{CommitPoint, Outage, OutageKind, RoleSpan, RunModel};

impl RunModel {
    pub(super) fn fold_roles_and_outages(&mut self, trace: &Trace) {
        let end = self.end_us;
        let mut open_role: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut open_outage: BTreeMap<NodeId, usize> = BTreeMap::new();
        for event in &trace.events {
            let Some(node) = event.node else { continue };
            let t = event.t_us.0;
            let close_role = |roles: &mut Vec<RoleSpan>, open: &mut BTreeMap<NodeId, usize>| {
                if let Some(i) = open.remove(&node) {
                    roles[i].end_us = t;
                }
            };
            match (event.layer::<RaftEvent>(), &event.kind) {
                (Some(RaftEvent::Role { role, term, leader }), _) => {
                    close_role(&mut self.roles, &mut open_role);
                    open_role.insert(node, self.roles.len());
                    self.roles.push(RoleSpan {
                        node,
                        role: *role,
                        term: *term,
                        leader: *leader,
                        start_us: t,
                        end_us: end,
                        start_event: event.id,
                    });
                }
                (_, EventKind::NodeCrash { .. }) => {
                    close_role(&mut self.roles, &mut open_role);
                    if let Some(i) = open_outage.remove(&node) {
                        // A paused node that is killed: the pause ends, the outage goes on.
                        self.outages[i].end_us = t;
                    }
                    open_outage.insert(node, self.outages.len());
                    self.outages.push(Outage {
                        node,
                        kind: OutageKind::Down,
                        start_us: t,
                        end_us: end,
                    });
                }
                (_, EventKind::NodePause) => {
                    open_outage.insert(node, self.outages.len());
                    self.outages.push(Outage {
                        node,
                        kind: OutageKind::Paused,
                        start_us: t,
                        end_us: end,
                    });
                }
                (_, EventKind::NodeStart { .. }) | (_, EventKind::NodeResume) => {
                    if let Some(i) = open_outage.remove(&node) {
                        self.outages[i].end_us = t;
                    }
                }
                (Some(RaftEvent::Commit { index, term }), _) => {
                    self.commits.entry(node).or_default().push(CommitPoint {
                        t_us: t,
                        index: *index,
                        term: *term,
                        event: event.id,
                    });
                }
                _ => {}
            }
        }
    }
}
