//! What an API server writes when it starts, as kube-apiserver's post-start hooks do: the
//! system namespaces (`default`, `kube-system`, `kube-public`, `kube-node-lease`: the
//! bootstrap controller and the system-namespaces controller) and the bootstrap RBAC policy
//! (the `rbac/bootstrap-roles` hook), each created unless it exists, through the server's
//! own request path under its loopback identity (`system:apiserver`, in `system:masters`).
//!
//! The roles are those of Kubernetes' bootstrap policy for the components the model runs,
//! cut to the resources they use: `system:kube-scheduler`, `system:kube-controller-manager`
//! and `system:node`. One difference, said plainly: Kubernetes authorizes kubelets with the
//! Node authorizer and the NodeRestriction admission plugin (a kubelet may only touch its
//! own Node and the pods bound to it); here `system:node` is bound to the `system:nodes`
//! group by RBAC, as Kubernetes did before 1.8, so any kubelet may write any node's objects.

use serde_json::{json, Value};

/// The namespaces every cluster has.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The loopback user an API server writes its bootstrap objects as.
pub const LOOPBACK_USER: &str = "system:apiserver";

/// One bootstrap object: its group, resource and body.
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapObject {
    /// API group.
    pub group: &'static str,
    /// Resource, plural.
    pub resource: &'static str,
    /// The object.
    pub body: Value,
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

const READ: [&str; 3] = ["get", "list", "watch"];
const WRITE: [&str; 7] = [
    "get", "list", "watch", "create", "update", "patch", "delete",
];

fn cluster_role(name: &str, rules: Vec<Value>) -> BootstrapObject {
    BootstrapObject {
        group: "rbac.authorization.k8s.io",
        resource: "clusterroles",
        body: json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name,
                "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "rules": rules}),
    }
}

fn binding(name: &str, subject_kind: &str, subject: &str) -> BootstrapObject {
    BootstrapObject {
        group: "rbac.authorization.k8s.io",
        resource: "clusterrolebindings",
        body: json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name,
                "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": subject_kind, "name": subject}]}),
    }
}

/// Everything an API server makes sure exists, namespaces first.
pub fn objects() -> Vec<BootstrapObject> {
    let mut out: Vec<BootstrapObject> = SYSTEM_NAMESPACES
        .iter()
        .map(|ns| BootstrapObject {
            group: "",
            resource: "namespaces",
            body: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        })
        .collect();
    let events = rule(
        &["", "events.k8s.io"],
        &["events"],
        &["create", "patch", "update"],
    );
    let leases = rule(
        &["coordination.k8s.io"],
        &["leases"],
        &[
            "create", "get", "list", "watch", "update", "patch", "delete",
        ],
    );
    out.push(cluster_role(
        "system:kube-scheduler",
        vec![
            rule(&[""], &["pods", "nodes", "namespaces"], &READ),
            rule(&[""], &["pods/binding"], &["create"]),
            rule(&[""], &["pods/status"], &["patch", "update"]),
            rule(&["apps"], &["replicasets", "statefulsets"], &READ),
            events.clone(),
            leases.clone(),
        ],
    ));
    out.push(cluster_role(
        "system:kube-controller-manager",
        vec![
            rule(
                &[""],
                &["pods", "nodes", "namespaces", "resourcequotas"],
                &WRITE,
            ),
            rule(
                &[""],
                &["pods/status", "nodes/status"],
                &["patch", "update"],
            ),
            rule(&["apps"], &["deployments", "replicasets"], &WRITE),
            rule(
                &["apps"],
                &["deployments/status", "replicasets/status"],
                &["patch", "update"],
            ),
            events.clone(),
            leases.clone(),
        ],
    ));
    out.push(cluster_role(
        "system:node",
        vec![
            rule(
                &[""],
                &["nodes"],
                &["create", "get", "list", "watch", "update", "patch"],
            ),
            rule(
                &[""],
                &["nodes/status", "pods/status"],
                &["patch", "update"],
            ),
            rule(&[""], &["pods"], &["get", "list", "watch", "delete"]),
            rule(&[""], &["configmaps", "secrets"], &READ),
            events,
            leases,
        ],
    ));
    out.push(binding(
        "system:kube-scheduler",
        "User",
        "system:kube-scheduler",
    ));
    out.push(binding(
        "system:kube-controller-manager",
        "User",
        "system:kube-controller-manager",
    ));
    out.push(binding("system:node", "Group", "system:nodes"));
    out
}
