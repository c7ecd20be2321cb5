//! `no-overcommit`: no node runs more than its allocatable, by what its kubelet admitted
//! (the sum of the requests of the pods it holds, each admission against the allocatable
//! it reports), and the scheduler never binds a pod to a node that has no room for it: a
//! kubelet that rejects a pod `OutOfcpu`, `OutOfmemory` or `OutOfpods` shows that the
//! scheduler overcommitted its node (the planted bug `scheduler-forgets-assumed`), even
//! though the kubelet's admission kept the node itself within bounds.

use std::collections::BTreeMap;

use sim_core::{Directory, EventKind, Evidence, NodeId, OnlineCheck, TraceEvent, Violation};

use crate::events::KubeEvent;

/// See the module docs.
#[derive(Debug, Default)]
pub struct NoOvercommit {
    directory: Directory,
    /// By node: pod -> (uid, CPU millicores, memory bytes).
    held: BTreeMap<NodeId, BTreeMap<String, (String, u64, u64)>>,
}

impl OnlineCheck for NoOvercommit {
    const NAME: &'static str = "no-overcommit";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        if let EventKind::RunStart { directory, .. } = &event.kind {
            self.directory = directory.clone();
            return None;
        }
        let kube = event.layer::<KubeEvent>()?;
        let node = event.node?;
        let name = || super::name_of(&self.directory, node);
        match kube {
            KubeEvent::PodAdmitted {
                pod,
                uid,
                cpu_milli,
                memory_bytes,
                allocatable_cpu_milli,
                allocatable_memory_bytes,
            } => {
                let held = self.held.entry(node).or_default();
                held.insert(pod.clone(), (uid.clone(), *cpu_milli, *memory_bytes));
                let cpu: u64 = held.values().map(|h| h.1).sum();
                let memory: u64 = held.values().map(|h| h.2).sum();
                if cpu > *allocatable_cpu_milli || memory > *allocatable_memory_bytes {
                    return Some(Violation::new(
                        format!(
                            "{} admitted {pod} and now holds {cpu}m CPU and {memory} bytes of \
                             {allocatable_cpu_milli}m and {allocatable_memory_bytes} allocatable",
                            name()
                        ),
                        vec![Evidence::event(event, "the admission")],
                    ));
                }
                None
            }
            KubeEvent::PodStopped { pod, uid } => {
                let held = self.held.entry(node).or_default();
                if held.get(pod).is_some_and(|h| &h.0 == uid) {
                    held.remove(pod);
                }
                None
            }
            KubeEvent::PodRejected { pod, reason } if reason.starts_with("OutOf") => {
                Some(Violation::new(
                    format!(
                        "{pod} was bound to {} without room for it: its kubelet rejected it {reason}",
                        name()
                    ),
                    vec![Evidence::event(event, "the rejection")],
                ))
            }
            _ => None,
        }
    }
}
