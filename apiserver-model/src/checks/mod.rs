//! The Kubernetes layer's named checks, each judged from the trace's typed events (the
//! kube layer and the messages) or from the history of API operations clients recorded
//! ([`crate::api_history`]), never from a component's own bookkeeping:
//!
//! - [`no_overcommit::NoOvercommit`] (`no-overcommit`): no kubelet holds more than its
//!   node's allocatable, and no pod is bound to a node without room for it;
//! - [`binding_once::BindingOnce`] (`binding-once`): a pod is bound to a node once;
//! - [`all_roads::AllRoadsLeadToApiServer`] (`all-roads-lead-to-apiserver`): only API
//!   servers talk to etcd, and only API servers talk to kubelets;
//! - [`linearizable_objects::LinearizableObjects`] (`linearizable-objects`): the API
//!   operations are linearizable per object ([`object_model::KubeObject`]), and reads the
//!   watch cache served are stale but real;
//! - [`resource_version_monotonic::ResourceVersionMonotonic`]
//!   (`resource-version-monotonic`): per object, writes' resourceVersions grow in real time;
//! - [`stale_update_conflicts::StaleUpdateConflicts`] (`stale-update-conflicts`): an update
//!   on a version a completed write has left gets 409, never 200.

pub mod all_roads;
pub mod binding_once;
pub mod linearizable_objects;
pub mod no_overcommit;
pub mod object_model;
pub mod resource_version_monotonic;
pub mod stale_update_conflicts;
#[cfg(test)]
mod test_history;

use sim_core::{Directory, NodeId};

/// A node's name for a message, its id when the directory does not know it.
fn name_of(directory: &Directory, node: NodeId) -> String {
    directory
        .nodes()
        .iter()
        .find(|n| n.id == node)
        .map_or_else(|| node.to_string(), |n| n.name.clone())
}
