//! `all-roads-lead-to-apiserver` (004 §11.2-11.3 of the course notes): every component
//! talks to the API server and nothing else; only API servers talk to etcd, and nothing
//! but an API server talks to a kubelet (the scheduler and the controllers never call a
//! kubelet: they write to the API, and the kubelet watches it).
//!
//! Roles come from the world's directory as [`crate::cluster`] lays it out: the groups
//! [`ETCD_GROUP`](crate::cluster::ETCD_GROUP) and
//! [`API_SERVER_GROUP`](crate::cluster::API_SERVER_GROUP), and components named `kubelet`.

use std::collections::BTreeSet;

use sim_core::{Directory, EventKind, Evidence, NodeId, OnlineCheck, Port, TraceEvent, Violation};

use crate::cluster::{API_SERVER_GROUP, ETCD_GROUP};

/// See the module docs.
#[derive(Debug, Default)]
pub struct AllRoadsLeadToApiServer {
    directory: Directory,
    etcd: BTreeSet<NodeId>,
    api_servers: BTreeSet<NodeId>,
    /// Where kubelets listen.
    kubelets: BTreeSet<(NodeId, Port)>,
}

impl OnlineCheck for AllRoadsLeadToApiServer {
    const NAME: &'static str = "all-roads-lead-to-apiserver";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        match &event.kind {
            EventKind::RunStart { directory, .. } => {
                for n in directory.nodes() {
                    if n.group == ETCD_GROUP {
                        self.etcd.insert(n.id);
                    }
                    if n.group == API_SERVER_GROUP {
                        self.api_servers.insert(n.id);
                    }
                    for c in &n.components {
                        if c.name == "kubelet" {
                            self.kubelets.insert((n.id, c.port));
                        }
                    }
                }
                self.directory = directory.clone();
                None
            }
            EventKind::Send {
                to, to_port, kind, ..
            } => {
                let from = event.node?;
                let name = |n: NodeId| super::name_of(&self.directory, n);
                let to_etcd = self.etcd.contains(to) && to_port.is_main();
                if to_etcd && !self.etcd.contains(&from) && !self.api_servers.contains(&from) {
                    return Some(Violation::new(
                        format!(
                            "{} sent {kind} to etcd member {}: only API servers talk to etcd",
                            name(from),
                            name(*to)
                        ),
                        vec![Evidence::event(event, "the message")],
                    ));
                }
                if self.kubelets.contains(&(*to, *to_port)) && !self.api_servers.contains(&from) {
                    return Some(Violation::new(
                        format!(
                            "{} sent {kind} to the kubelet of {}: components talk to the API server, not to kubelets",
                            name(from),
                            name(*to)
                        ),
                        vec![Evidence::event(event, "the message")],
                    ));
                }
                None
            }
            _ => None,
        }
    }
}
