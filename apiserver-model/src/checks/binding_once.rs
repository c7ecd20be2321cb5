//! `binding-once`: a pod (by uid) is bound to a node once. The `binding` subresource
//! refuses a pod that already has a node (409); without that check (the planted bug
//! `bind-without-precondition`) a second binding moves a pod that may already run, and two
//! kubelets believe they own it.

use std::collections::BTreeMap;

use sim_core::{EventId, Evidence, OnlineCheck, TraceEvent, Violation};

use crate::events::KubeEvent;

/// See the module docs.
#[derive(Debug, Default)]
pub struct BindingOnce {
    /// By pod uid: the node and the event of its binding.
    bound: BTreeMap<String, (String, EventId)>,
}

impl OnlineCheck for BindingOnce {
    const NAME: &'static str = "binding-once";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        let KubeEvent::PodBound { pod, uid, node } = event.layer::<KubeEvent>()? else {
            return None;
        };
        if let Some((first, at)) = self.bound.get(uid) {
            return Some(Violation::new(
                format!("{pod} (uid {uid}) was bound twice: to {first}, then to {node}"),
                vec![
                    Evidence {
                        event: Some(*at),
                        t_us: None,
                        node: None,
                        note: format!("bound to {first}"),
                    },
                    Evidence::event(event, format!("bound again, to {node}")),
                ],
            ));
        }
        self.bound.insert(uid.clone(), (node.clone(), event.id));
        None
    }
}
