//! The Kubernetes layer's trace events: what the API servers decided and how their caches
//! stand, recorded where it happens, typed, for checkers and reports to read as such.

use serde::{Deserialize, Serialize};

use crate::apiserver::AuditRecord;

/// One event of the Kubernetes layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum KubeEvent {
    /// An API server answered a request (its audit record).
    Audit(AuditRecord),
    /// An API server filled its caches from etcd at `revision` (at start, and again after
    /// its etcd watch fell behind compaction).
    CachesPrimed {
        /// The etcd revision listed at.
        revision: u64,
    },
    /// An API server opened its etcd watch of `/registry/` from `from` (again after a
    /// silence, on whichever member its client talks to).
    EtcdWatchOpened {
        /// The first revision it asks for.
        from: u64,
    },
    /// An API server ended a client's watch.
    WatchEnded {
        /// The watch (the client's request id).
        watch: u64,
        /// Why: `timeout`, `gone` (the client fell out of the window), `relist` (the caches
        /// were filled again).
        why: WatchEndReason,
    },
    /// An API server stored a pod's binding to a node.
    PodBound {
        /// `namespace/name`.
        pod: String,
        /// The pod's uid.
        uid: String,
        /// The node.
        node: String,
    },
    /// The scheduler decided where a pod goes (before binding it).
    PodScheduled {
        /// `namespace/name`.
        pod: String,
        /// The node.
        node: String,
    },
    /// No node fits a pod (kube-scheduler's summary: `0/3 nodes are available: ...`).
    PodUnschedulable {
        /// `namespace/name`.
        pod: String,
        /// The summary.
        message: String,
    },
    /// A kubelet admitted a pod bound to its node (what it now holds for it).
    PodAdmitted {
        /// `namespace/name`.
        pod: String,
        /// The pod's uid.
        uid: String,
        /// Its CPU request, millicores.
        cpu_milli: u64,
        /// Its memory request, bytes.
        memory_bytes: u64,
        /// The node's allocatable CPU, millicores.
        allocatable_cpu_milli: u64,
        /// The node's allocatable memory, bytes.
        allocatable_memory_bytes: u64,
    },
    /// A kubelet refused a pod that does not fit (`OutOfcpu`, `OutOfmemory`, `OutOfpods`).
    PodRejected {
        /// `namespace/name`.
        pod: String,
        /// Kubernetes' reason.
        reason: String,
    },
    /// A kubelet's pod is running (its containers started).
    PodStarted {
        /// `namespace/name`.
        pod: String,
    },
    /// A kubelet stopped a pod (deleted, or gone from the API) and freed what it held.
    PodStopped {
        /// `namespace/name`.
        pod: String,
        /// The pod's uid.
        uid: String,
    },
    /// The node lifecycle controller marked a silent node's conditions Unknown.
    NodeUnknown {
        /// The node.
        node: String,
    },
    /// The node lifecycle controller set a node's condition taints (empty: removed them).
    NodeTaints {
        /// The node.
        node: String,
        /// The taints it now carries, `key:effect`.
        taints: Vec<String>,
    },
    /// The taint eviction controller is deleting a pod from a node it may not stay on.
    PodEvicted {
        /// `namespace/name`.
        pod: String,
        /// The node.
        node: String,
    },
    /// A candidate took a leader-election Lease (or found it already held by itself).
    LeaderElected {
        /// The Lease, `namespace/name`.
        lease: String,
        /// The candidate's identity.
        holder: String,
        /// The Lease's `leaseTransitions` after the take.
        transitions: u64,
    },
    /// A leader failed to renew its Lease within the renew deadline and stopped leading.
    LeaderLost {
        /// The Lease, `namespace/name`.
        lease: String,
        /// The candidate's identity.
        holder: String,
    },
}

/// Why an API server ended a watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchEndReason {
    /// Its timeout passed.
    Timeout,
    /// Its next events have left the cache's window (410 Gone).
    Gone,
    /// The caches were filled again from etcd: the stream's continuity is lost.
    Relist,
}

impl sim_core::LayerEvent for KubeEvent {
    const LAYER: &'static str = "kube";

    fn summary(&self) -> String {
        match self {
            KubeEvent::Audit(a) => {
                let mut s = format!("{} {} {}", a.user, a.verb, a.resource);
                if let Some(name) = &a.name {
                    s.push_str(&format!(" {name}"));
                }
                format!("{s} -> {}", a.code)
            }
            KubeEvent::CachesPrimed { revision } => format!("caches primed at {revision}"),
            KubeEvent::EtcdWatchOpened { from } => format!("etcd watch from {from}"),
            KubeEvent::WatchEnded { watch, why } => format!("watch {watch} ended: {why:?}"),
            KubeEvent::PodScheduled { pod, node } => format!("{pod} -> {node}"),
            KubeEvent::PodBound { pod, node, .. } => format!("{pod} bound to {node}"),
            KubeEvent::PodUnschedulable { pod, message } => format!("{pod}: {message}"),
            KubeEvent::PodAdmitted { pod, .. } => format!("admitted {pod}"),
            KubeEvent::PodRejected { pod, reason } => format!("rejected {pod}: {reason}"),
            KubeEvent::PodStarted { pod } => format!("started {pod}"),
            KubeEvent::PodStopped { pod, .. } => format!("stopped {pod}"),
            KubeEvent::NodeUnknown { node } => format!("{node} Unknown"),
            KubeEvent::NodeTaints { node, taints } => {
                format!("{node} taints [{}]", taints.join(", "))
            }
            KubeEvent::PodEvicted { pod, node } => format!("evicting {pod} from {node}"),
            KubeEvent::LeaderElected { lease, holder, .. } => format!("{holder} leads {lease}"),
            KubeEvent::LeaderLost { lease, holder } => format!("{holder} lost {lease}"),
        }
    }
}

/// The trace layers of a control-plane world: the Raft and etcd layers, the API's messages
/// and the Kubernetes events.
pub fn layers() -> sim_core::Layers {
    raft::layers()
        .with::<crate::wire::ApiMessageFields>()
        .with::<KubeEvent>()
}
