//! Role spans and outages, read from the cluster view the supervisors and checks share
//! ([`raft::view::ClusterView`]), and each server's commit points.

use raft::events::RaftEvent;
use raft::view::{self, ClusterView};
use sim_core::Trace;

use super::{CommitPoint, Outage, OutageKind, RoleSpan, RunModel};

impl RunModel {
    pub(super) fn fold_roles_and_outages(&mut self, trace: &Trace) {
        let end = self.end_us;
        let cluster = ClusterView::of(&trace.events);
        self.roles
            .extend(cluster.role_stretches().iter().map(|r| RoleSpan {
                node: r.node,
                role: r.role,
                term: r.term,
                leader: r.leader,
                start_us: r.from.0,
                end_us: r.to.map_or(end, |t| t.0),
                start_event: r.event,
            }));
        self.outages
            .extend(cluster.outages().iter().map(|o| Outage {
                node: o.node,
                kind: match o.kind {
                    view::OutageKind::Down => OutageKind::Down,
                    view::OutageKind::Paused => OutageKind::Paused,
                },
                start_us: o.from.0,
                end_us: o.to.map_or(end, |t| t.0),
            }));
        for event in &trace.events {
            let (Some(node), Some(RaftEvent::Commit { index, term })) =
                (event.node, event.layer::<RaftEvent>())
            else {
                continue;
            };
            self.commits.entry(node).or_default().push(CommitPoint {
                t_us: event.t_us.0,
                index: *index,
                term: *term,
                event: event.id,
            });
        }
    }
}
