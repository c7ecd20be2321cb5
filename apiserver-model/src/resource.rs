//! The resources this API server serves: every built-in kind a manifest may hold, with its
//! group, version, plural and scope, and the typed decoding that checks it.
//!
//! The list is discovery's (`kubectl api-resources` on a current cluster), each entry a
//! k8s-openapi type, so the names, scopes and field types are Kubernetes' own rather than a
//! copy that could drift. The model acts on only some of them (pods, nodes, deployments,
//! ...); the rest are stored, listed and watched as any API server does (see
//! [`Resource::acted_on`]).

use std::fmt;

use k8s_openapi::api::{
    apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination, core::v1 as core,
    discovery::v1 as discovery, events::v1 as events, networking::v1 as networking,
    policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde_json::Value;

/// A resource's scope, as a value (k8s-openapi gives it as a type).
trait Scope {
    const NAMESPACED: bool;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// What decoding one object found wrong: the field path (`spec.replicas`; empty for the
/// object itself) and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Dotted field path, with `[i]` for list items.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

/// One resource the API serves.
#[derive(Clone, Copy)]
pub struct Resource {
    /// API group, empty for the core group.
    pub group: &'static str,
    /// API version within the group (`v1`).
    pub version: &'static str,
    /// The `apiVersion` field's value: `group/version`, or the version alone for core.
    pub api_version: &'static str,
    /// The kind (`Deployment`).
    pub kind: &'static str,
    /// The plural, lower case (`deployments`): URL segment, RBAC resource, storage prefix.
    pub plural: &'static str,
    /// Namespaced or cluster-wide.
    pub namespaced: bool,
    /// Whether a component of the model acts on objects of this kind; the others are only
    /// stored, listed and watched.
    pub acted_on: bool,
    /// Decodes an object of this kind through its k8s-openapi type: wrong types and unknown
    /// fields are errors with their path; the object comes back as Kubernetes would store
    /// it (the typed value serialized again).
    decode: fn(&Value) -> Result<Value, DecodeError>,
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ({})", self.api_version, self.kind, self.plural)
    }
}

impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        self.group == other.group && self.version == other.version && self.kind == other.kind
    }
}

impl Eq for Resource {}

impl Resource {
    fn of<T>(acted_on: bool) -> Resource
    where
        T: k8s_openapi::Resource + serde::de::DeserializeOwned + serde::Serialize,
        T::Scope: Scope,
    {
        Resource {
            group: T::GROUP,
            version: T::VERSION,
            api_version: T::API_VERSION,
            kind: T::KIND,
            plural: T::URL_PATH_SEGMENT,
            namespaced: <T::Scope as Scope>::NAMESPACED,
            acted_on,
            decode: decode_as::<T>,
        }
    }

    /// Checks `object` against this kind's schema; see [`Resource::decode`](Self).
    ///
    /// # Errors
    ///
    /// The first wrong type or unknown field, with its path.
    pub fn decode(&self, object: &Value) -> Result<Value, DecodeError> {
        (self.decode)(object)
    }

    /// The etcd key prefix of this resource's objects, as kube-apiserver lays them out:
    /// `/registry/<plural>/` (the core and apps groups' resources, like most, keep the bare
    /// plural; kube-apiserver prefixes a few others with their group, which this model does
    /// not need).
    pub fn key_prefix(&self) -> String {
        format!("/registry/{}/", self.plural)
    }

    /// The etcd key of one object: `/registry/<plural>/<namespace>/<name>`, or
    /// `/registry/<plural>/<name>` for a cluster-scoped one.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("/registry/{}/{ns}/{name}", self.plural),
            None => format!("/registry/{}/{name}", self.plural),
        }
    }
}

/// Every resource served, core first, in discovery's order within a group.
pub fn all() -> &'static [Resource] {
    static ALL: std::sync::OnceLock<Vec<Resource>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        vec![
            // core/v1
            Resource::of::<core::Namespace>(true),
            Resource::of::<core::Node>(true),
            Resource::of::<core::Pod>(true),
            Resource::of::<core::Binding>(true),
            Resource::of::<core::ResourceQuota>(true),
            Resource::of::<core::Event>(true),
            Resource::of::<core::ConfigMap>(false),
            Resource::of::<core::Secret>(false),
            Resource::of::<core::Service>(false),
            Resource::of::<core::ServiceAccount>(false),
            Resource::of::<core::Endpoints>(false),
            Resource::of::<core::LimitRange>(false),
            Resource::of::<core::PersistentVolume>(false),
            Resource::of::<core::PersistentVolumeClaim>(false),
            Resource::of::<core::PodTemplate>(false),
            Resource::of::<core::ReplicationController>(false),
            // apps/v1
            Resource::of::<apps::Deployment>(true),
            Resource::of::<apps::ReplicaSet>(true),
            Resource::of::<apps::StatefulSet>(false),
            Resource::of::<apps::DaemonSet>(false),
            Resource::of::<apps::ControllerRevision>(false),
            // batch/v1
            Resource::of::<batch::Job>(false),
            Resource::of::<batch::CronJob>(false),
            // coordination.k8s.io/v1
            Resource::of::<coordination::Lease>(true),
            // discovery.k8s.io/v1
            Resource::of::<discovery::EndpointSlice>(false),
            // events.k8s.io/v1
            Resource::of::<events::Event>(false),
            // networking.k8s.io/v1
            Resource::of::<networking::Ingress>(false),
            Resource::of::<networking::IngressClass>(false),
            Resource::of::<networking::NetworkPolicy>(false),
            // policy/v1
            Resource::of::<policy::PodDisruptionBudget>(false),
            // rbac.authorization.k8s.io/v1
            Resource::of::<rbac::Role>(true),
            Resource::of::<rbac::ClusterRole>(true),
            Resource::of::<rbac::RoleBinding>(true),
            Resource::of::<rbac::ClusterRoleBinding>(true),
            // scheduling.k8s.io/v1
            Resource::of::<scheduling::PriorityClass>(false),
            // storage.k8s.io/v1
            Resource::of::<storage::StorageClass>(false),
        ]
    })
}

/// Why a manifest's `apiVersion` and `kind` name no resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No group/version of that name is served.
    #[error("no API version `{0}` is served (try v1, apps/v1, batch/v1, rbac.authorization.k8s.io/v1, coordination.k8s.io/v1, ...)")]
    UnknownApiVersion(String),
    /// The group/version exists, the kind does not.
    #[error("no kind `{kind}` in {api_version} (it has {known})")]
    UnknownKind {
        /// The apiVersion asked for.
        api_version: String,
        /// The kind asked for.
        kind: String,
        /// The kinds it does have, comma separated.
        known: String,
    },
}

/// The resource of an `apiVersion` and `kind`.
///
/// # Errors
///
/// When either is not served, naming what is.
pub fn by_kind(api_version: &str, kind: &str) -> Result<&'static Resource, LookupError> {
    let in_version: Vec<&Resource> = all()
        .iter()
        .filter(|r| r.api_version == api_version)
        .collect();
    if in_version.is_empty() {
        return Err(LookupError::UnknownApiVersion(api_version.to_string()));
    }
    in_version
        .iter()
        .copied()
        .find(|r| r.kind == kind)
        .ok_or_else(|| LookupError::UnknownKind {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            known: in_version
                .iter()
                .map(|r| r.kind)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The resource of a group and plural (how a request names it: `apps`, `deployments`).
pub fn by_plural(group: &str, plural: &str) -> Option<&'static Resource> {
    all()
        .iter()
        .find(|r| r.group == group && r.plural == plural)
}

/// Decodes through `T` and finds the fields `T` does not have.
fn decode_as<T>(object: &Value) -> Result<Value, DecodeError>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T = serde_path_to_error::deserialize(object).map_err(|e| DecodeError {
        path: dotted(&e.path().to_string()),
        message: e.inner().to_string(),
    })?;
    let stored = serde_json::to_value(&typed).map_err(|e| DecodeError {
        path: String::new(),
        message: e.to_string(),
    })?;
    if let Some(path) = unknown_field(object, &stored, &mut String::new()) {
        return Err(DecodeError {
            path,
            message: "unknown field".to_string(),
        });
    }
    Ok(stored)
}

/// serde_path_to_error writes `spec.containers[0].name`, and `.` for the root.
fn dotted(path: &str) -> String {
    if path == "." {
        String::new()
    } else {
        path.to_string()
    }
}

/// The first field of `given` (in its own order) that the typed round trip `kept` lost:
/// a field the schema does not have. Nulls are skipped (a null field is an absent one).
fn unknown_field(given: &Value, kept: &Value, path: &mut String) -> Option<String> {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => {
            for (name, value) in g {
                if value.is_null() {
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
                let found = match k.get(name) {
                    None => Some(path.clone()),
                    Some(kept) => unknown_field(value, kept, path),
                };
                path.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (value, kept)) in g.iter().zip(k).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = unknown_field(value, kept, path);
                path.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        // A scalar the schema turned into an object (an IntOrString, a Quantity) or the
        // like: the types already agreed, so nothing is unknown below.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_are_found_with_their_plural_scope_and_key() {
        let d = by_kind("apps/v1", "Deployment").unwrap();
        assert_eq!(
            (d.plural, d.namespaced, d.acted_on),
            ("deployments", true, true)
        );
        assert_eq!(
            d.key(Some("default"), "web"),
            "/registry/deployments/default/web"
        );
        let n = by_kind("v1", "Node").unwrap();
        assert!(!n.namespaced);
        assert_eq!(
            n.key(Some("ignored"), "worker-a"),
            "/registry/nodes/worker-a"
        );
        assert_eq!(
            by_plural("coordination.k8s.io", "leases").unwrap().kind,
            "Lease"
        );
        assert!(!by_kind("v1", "ConfigMap").unwrap().acted_on);
    }

    #[test]
    fn unknown_api_versions_and_kinds_say_what_is_served() {
        let e = by_kind("apps/v2", "Deployment").unwrap_err();
        assert!(e.to_string().contains("no API version `apps/v2`"), "{e}");
        let e = by_kind("apps/v1", "Deploymnet").unwrap_err();
        assert!(
            e.to_string().contains("no kind `Deploymnet` in apps/v1"),
            "{e}"
        );
        assert!(e.to_string().contains("Deployment, ReplicaSet"), "{e}");
    }

    #[test]
    fn decoding_names_the_path_of_a_wrong_type_or_an_unknown_field() {
        let d = by_kind("apps/v1", "Deployment").unwrap();
        let ok = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                        "resources": {"requests": {"cpu": "100m"}}}]}}}
        });
        let stored = d.decode(&ok).unwrap();
        assert_eq!(stored["spec"]["replicas"], 3);
        let mut bad = ok.clone();
        bad["spec"]["replicas"] = json!("three");
        let e = d.decode(&bad).unwrap_err();
        assert_eq!(e.path, "spec.replicas");
        assert!(e.message.contains("invalid type"), "{e}");
        let mut bad = ok.clone();
        bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = json!("Always");
        let e = d.decode(&bad).unwrap_err();
        assert_eq!(e.path, "spec.template.spec.containers[0].imagePullPolice");
        assert_eq!(e.message, "unknown field");
        // A null field is an absent one, not an unknown one.
        let mut nulls = ok;
        nulls["spec"]["paused"] = Value::Null;
        assert!(d.decode(&nulls).is_ok());
    }
}
