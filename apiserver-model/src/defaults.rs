//! Defaulting: the values kube-apiserver fills in before validation, for the kinds the
//! model acts on, as Kubernetes' `SetDefaults_*` functions do (the source of each is beside
//! it), and the DefaultTolerationSeconds admission plugin.
//!
//! Defaults are applied to the typed k8s-openapi object, so a field name cannot be
//! misspelt; a kind without defaults here is stored as given.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentStrategy, ReplicaSet, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Toleration};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::resource::Resource;

/// `pkg/apis/apps/v1/defaults.go` SetDefaults_Deployment: `spec.replicas`.
pub const DEPLOYMENT_REPLICAS: i32 = 1;
/// SetDefaults_Deployment: a rolling update may go this far below the desired count.
pub const MAX_UNAVAILABLE: &str = "25%";
/// SetDefaults_Deployment: and this far above it.
pub const MAX_SURGE: &str = "25%";
/// SetDefaults_Deployment: old ReplicaSets kept for rollback.
pub const REVISION_HISTORY_LIMIT: i32 = 10;
/// SetDefaults_Deployment: seconds without progress before the Deployment reports
/// `Progressing=False` (ProgressDeadlineExceeded).
pub const PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// `pkg/apis/core/v1/defaults.go` SetDefaults_PodSpec, from
/// `v1.DefaultTerminationGracePeriodSeconds`.
pub const TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// SetDefaults_PodSpec: the scheduler that binds a pod nobody else claims
/// (`v1.DefaultSchedulerName`).
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";
/// `plugin/pkg/admission/defaulttolerationseconds`: how long a pod stays bound to a node
/// that is not ready or unreachable before taint-based eviction (both flags default 300).
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;
/// The taint the node lifecycle controller puts on a node whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// ... and on one whose Ready condition is Unknown (its kubelet stopped reporting).
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// SetDefaults_PodSpec and SetDefaults_Container, for the fields the model reads.
fn default_pod_spec(spec: &mut PodSpec) {
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.termination_grace_period_seconds
        .get_or_insert(TERMINATION_GRACE_PERIOD_SECONDS);
    spec.scheduler_name
        .get_or_insert_with(|| DEFAULT_SCHEDULER.into());
    spec.enable_service_links.get_or_insert(true);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(c);
    }
}

/// SetDefaults_Container: `Always` pulls an image with no tag or `:latest`, otherwise
/// `IfNotPresent`; the termination message goes to `/dev/termination-log`; ports are TCP.
fn default_container(c: &mut Container) {
    if c.image_pull_policy.is_none() {
        let image = c.image.as_deref().unwrap_or("");
        // The tag is after the last ':' that follows the last '/' (a registry port is not
        // a tag); a digest pins the image like a tag does.
        let last = image.rsplit('/').next().unwrap_or(image);
        let tag = last.split_once(':').map(|(_, t)| t);
        let pinned = image.contains('@') || tag.is_some_and(|t| t != "latest");
        c.image_pull_policy = Some(if pinned { "IfNotPresent" } else { "Always" }.into());
    }
    c.termination_message_path
        .get_or_insert_with(|| "/dev/termination-log".into());
    c.termination_message_policy
        .get_or_insert_with(|| "File".into());
    for p in c.ports.iter_mut().flatten() {
        p.protocol.get_or_insert_with(|| "TCP".into());
    }
}

/// SetDefaults_Deployment.
fn default_deployment(d: &mut Deployment) {
    let Some(spec) = d.spec.as_mut() else { return };
    spec.replicas.get_or_insert(DEPLOYMENT_REPLICAS);
    let strategy = spec
        .strategy
        .get_or_insert_with(DeploymentStrategy::default);
    let kind = strategy.type_.get_or_insert_with(|| "RollingUpdate".into());
    if kind == "RollingUpdate" {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        ru.max_unavailable
            .get_or_insert_with(|| IntOrString::String(MAX_UNAVAILABLE.into()));
        ru.max_surge
            .get_or_insert_with(|| IntOrString::String(MAX_SURGE.into()));
    }
    spec.revision_history_limit
        .get_or_insert(REVISION_HISTORY_LIMIT);
    spec.progress_deadline_seconds
        .get_or_insert(PROGRESS_DEADLINE_SECONDS);
    if let Some(pod) = spec.template.spec.as_mut() {
        default_pod_spec(pod);
    }
}

/// SetDefaults_ReplicaSet.
fn default_replica_set(rs: &mut ReplicaSet) {
    let Some(spec) = rs.spec.as_mut() else { return };
    spec.replicas.get_or_insert(DEPLOYMENT_REPLICAS);
    if let Some(pod) = spec.template.as_mut().and_then(|t| t.spec.as_mut()) {
        default_pod_spec(pod);
    }
}

/// The DefaultTolerationSeconds admission plugin: a pod that does not tolerate the
/// not-ready and unreachable NoExecute taints gets both, for 300 s, so a node failure
/// evicts it after five minutes rather than at once.
fn default_toleration_seconds(spec: &mut PodSpec) {
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for key in [TAINT_NOT_READY, TAINT_UNREACHABLE] {
        let covered = tolerations.iter().any(|t| {
            let effect_ok = t.effect.as_deref().is_none_or(|e| e == "NoExecute");
            let key_ok = t.key.as_deref().is_none_or(|k| k == key)
                && (t.key.is_some() || t.operator.as_deref() == Some("Exists"));
            effect_ok && key_ok
        });
        if !covered {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
                ..Toleration::default()
            });
        }
    }
}

/// Runs `f` on `object` decoded as `T`, and writes the result back; an object that does
/// not decode is left alone (validation reports it).
fn typed<T>(object: &mut Value, f: impl FnOnce(&mut T))
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    if let Ok(mut t) = serde_json::from_value::<T>(object.clone()) {
        f(&mut t);
        if let Ok(v) = serde_json::to_value(&t) {
            *object = v;
        }
    }
}

/// Fills in the defaults of `object`, an object of `resource` being created or updated.
pub fn apply(resource: &Resource, object: &mut Value) {
    match (resource.group, resource.kind) {
        ("apps", "Deployment") => typed(object, default_deployment),
        ("apps", "ReplicaSet") => typed(object, default_replica_set),
        ("", "Pod") => typed(object, |p: &mut Pod| {
            if let Some(spec) = p.spec.as_mut() {
                default_pod_spec(spec);
            }
        }),
        _ => {}
    }
}

/// The DefaultTolerationSeconds admission plugin on a pod being created; other kinds are
/// left alone.
pub fn admit_default_tolerations(resource: &Resource, object: &mut Value) {
    if (resource.group, resource.kind) == ("", "Pod") {
        typed(object, |p: &mut Pod| {
            if let Some(spec) = p.spec.as_mut() {
                default_toleration_seconds(spec);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_kind;
    use serde_json::json;

    #[test]
    fn a_deployment_gets_kubernetes_defaults() {
        let r = by_kind("apps/v1", "Deployment").unwrap();
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "a", "image": "nginx"},
                        {"name": "b", "image": "registry:5000/app:1.2"}]}}}
        });
        apply(r, &mut d);
        let s = &d["spec"];
        assert_eq!(s["replicas"], 1);
        assert_eq!(s["strategy"]["type"], "RollingUpdate");
        assert_eq!(s["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(s["strategy"]["rollingUpdate"]["maxUnavailable"], "25%");
        assert_eq!(s["revisionHistoryLimit"], 10);
        assert_eq!(s["progressDeadlineSeconds"], 600);
        let pod = &s["template"]["spec"];
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["containers"][1]["imagePullPolicy"], "IfNotPresent");
        // What the user set stays.
        let mut d2 = d.clone();
        d2["spec"]["replicas"] = json!(0);
        d2["spec"]["strategy"] = json!({"type": "Recreate"});
        apply(r, &mut d2);
        assert_eq!(d2["spec"]["replicas"], 0);
        assert_eq!(d2["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn pods_get_the_two_noexecute_tolerations_unless_they_have_them() {
        let r = by_kind("v1", "Pod").unwrap();
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i"}],
                "tolerations": [{"key": TAINT_UNREACHABLE, "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 5}]}});
        admit_default_tolerations(r, &mut p);
        let t = p["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0]["tolerationSeconds"], 5);
        assert_eq!(t[1]["key"], TAINT_NOT_READY);
        assert_eq!(t[1]["tolerationSeconds"], 300);
        // A pod tolerating every taint needs nothing more.
        let mut all = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i"}],
                "tolerations": [{"operator": "Exists"}]}});
        admit_default_tolerations(r, &mut all);
        assert_eq!(all["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }
}
