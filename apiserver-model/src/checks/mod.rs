//! The Kubernetes layer's named checks, each judged from the trace's typed events (the
//! kube layer and the messages), never from a component's own bookkeeping:
//!
//! - [`no_overcommit::NoOvercommit`] (`no-overcommit`): no kubelet holds more than its
//!   node's allocatable, and no pod is bound to a node without room for it;
//! - [`binding_once::BindingOnce`] (`binding-once`): a pod is bound to a node once;
//! - [`all_roads::AllRoadsLeadToApiServer`] (`all-roads-lead-to-apiserver`): only API
//!   servers talk to etcd, and only API servers talk to kubelets.

pub mod all_roads;
pub mod binding_once;
pub mod no_overcommit;

use sim_core::{Directory, NodeId};

/// A node's name for a message, its id when the directory does not know it.
fn name_of(directory: &Directory, node: NodeId) -> String {
    directory
        .nodes()
        .iter()
        .find(|n| n.id == node)
        .map_or_else(|| node.to_string(), |n| n.name.clone())
}
