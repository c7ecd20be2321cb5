//! DELETE, as kube-apiserver's generic registry does it (`registry/generic/registry/store.go`
//! `Delete`, `rest.BeforeDelete`, the pod strategy's `CheckGracefulDelete`):
//!
//! - The request's preconditions (uid, resourceVersion) must match the object read, or the
//!   answer is 409 with BeforeDelete's words; once the writes begin they are checked again at
//!   each try, with the storage layer's words.
//! - Propagation: the garbage collector's finalizers are set as the policy says (`orphan`
//!   for Orphan, `foregroundDeletion` for Foreground, neither for Background), the policy
//!   defaulting to the kind's: background for most, orphan where Kubernetes keeps an old
//!   version's default (see [`default_gc_policy`]).
//! - Pods are deleted gracefully: the grace period is the request's, else the pod's
//!   `terminationGracePeriodSeconds`, and 0 for a pod never scheduled or already finished.
//!   A grace period above 0 only marks the pod (`deletionTimestamp` = now + grace,
//!   `deletionGracePeriodSeconds` = grace) for its kubelet to stop it; a later delete may
//!   only shorten it, and the kubelet's own delete with grace 0 removes the pod.
//! - An object with finalizers is not removed: it is marked (`deletionTimestamp` now, grace
//!   0) and stays until updates have emptied its finalizers; the update that empties them
//!   deletes it (see the write path). Deleting it again changes nothing but the
//!   propagation finalizers.
//! - The answer is the object as stored once marked, or as it was when removed.
//!
//! The writes are conditional on the revision read; when another write gets in first the
//! server reads again and retries, as the registry's GuaranteedUpdate does, so a client
//! sees a conflict only when its preconditions no longer hold.
//!
//! Not modelled: the deprecated `orphanDependents` option (and the 202 it can bring), dry
//! runs, namespaces' own deletion (the namespace controller's `Terminating` phase).

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use sim_core::SimTime;

use super::write::{Next, Updated};
use super::{ApiServer, Backend, Preconditions, Propagation, Reply, Request, EPOCH_MS};
use crate::resource::Resource;
use crate::status::{ApiError, Target};
use crate::storage::Stored;
use crate::validation::{self, FINALIZER_FOREGROUND, FINALIZER_ORPHAN};

/// A kind's propagation when a delete names none (`rest.GarbageCollectionPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcPolicy {
    /// Dependents are deleted (in the background unless the request asks for foreground).
    DeleteDependents,
    /// Dependents are orphaned: the `orphan` finalizer is set.
    OrphanDependents,
    /// The kind is never garbage collected: no finalizer is ever set for it.
    Unsupported,
}

/// The default propagation of a delete of `kind` in `group`/`version`, as each registry's
/// `DefaultGarbageCollectionPolicy` says: the versions served before server-side garbage
/// collection keep their old default, orphaning, so that old clients' deletes mean what they
/// did; events are never collected.
pub fn default_gc_policy(group: &str, version: &str, kind: &str) -> GcPolicy {
    let orphan = match (group, kind) {
        // pkg/registry/core/replicationcontroller/strategy.go: orphan for v1.
        ("", "ReplicationController") => version == "v1",
        // pkg/registry/apps/replicaset/strategy.go and daemonset/strategy.go.
        ("extensions", "ReplicaSet" | "DaemonSet") => version == "v1beta1",
        ("apps", "ReplicaSet" | "DaemonSet") => version == "v1beta2",
        // pkg/registry/apps/deployment/strategy.go.
        ("extensions", "Deployment") => version == "v1beta1",
        // pkg/registry/apps/deployment/strategy.go and statefulset/strategy.go.
        ("apps", "Deployment" | "StatefulSet") => matches!(version, "v1beta1" | "v1beta2"),
        // pkg/registry/batch/job/strategy.go: orphan for batch/v1.
        ("batch", "Job") => version == "v1",
        // pkg/registry/batch/cronjob/strategy.go.
        ("batch", "CronJob") => matches!(version, "v1beta1" | "v2alpha1"),
        // pkg/registry/core/event/strategy.go (events.k8s.io is served from the same store).
        ("" | "events.k8s.io", "Event") => return GcPolicy::Unsupported,
        _ => false,
    };
    if orphan {
        GcPolicy::OrphanDependents
    } else {
        GcPolicy::DeleteDependents
    }
}

/// What BeforeDelete decides for the object it is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Before {
    /// No graceful deletion: remove now (unless finalizers hold it).
    Now,
    /// A graceful deletion is under way and the request does not shorten it: nothing to do.
    Pending,
    /// Graceful: the object was marked with this grace period.
    Graceful(i64),
}

/// Seconds since the Unix epoch of an RFC 3339 time, if it is one.
fn seconds_of(time: &str) -> Option<i64> {
    time.parse::<Timestamp>().ok().map(|t| t.as_second())
}

/// The RFC 3339 time `seconds` after the Unix epoch, to the second as `metav1.Time` is.
fn at_seconds(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Virtual time `now` in seconds since the Unix epoch (virtual 0 is [`EPOCH_MS`]).
fn now_seconds(now: SimTime) -> i64 {
    let us = i64::try_from(now.as_us()).unwrap_or(i64::MAX / 2);
    (EPOCH_MS * 1000 + us).div_euclid(1_000_000)
}

fn meta_i64(object: &Value, field: &str) -> Option<i64> {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_i64)
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
}

/// BeforeDelete's 409: the group-qualified kind, not the resource, names what conflicts
/// (`errors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ...)`).
fn precondition_conflict(resource: &Resource, name: &str, why: String) -> ApiError {
    let mut target = Target::new(resource, Some(name));
    target.plural = resource.kind;
    ApiError::Conflict { target, why }
}

/// The pod strategy's `CheckGracefulDelete`: the grace period of deleting `pod`, from the
/// request's, else the pod's own; 0 for a pod no kubelet runs (never scheduled, or done).
fn pod_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let mut period = requested
        .or_else(|| {
            pod.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(0);
    if pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        period = 0;
    }
    if matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    ) {
        period = 0;
    }
    period
}

/// `rest.BeforeDelete` on `object` (marked in place when graceful), with the request's
/// grace period `grace` (defaulted in place, as the registry defaults the options).
fn before_delete(
    resource: &Resource,
    object: &mut Value,
    grace: &mut Option<i64>,
    preconditions: Option<&Preconditions>,
    now: SimTime,
) -> Result<Before, ApiError> {
    let name = meta_str(object, "name").unwrap_or("").to_string();
    if let Some(p) = preconditions {
        let uid = meta_str(object, "uid").unwrap_or("");
        if let Some(want) = p.uid.as_deref().filter(|u| *u != uid) {
            return Err(precondition_conflict(
                resource,
                &name,
                format!("the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"),
            ));
        }
        let rv = meta_str(object, "resourceVersion").unwrap_or("");
        if let Some(want) = p.resource_version.as_deref().filter(|v| *v != rv) {
            return Err(precondition_conflict(
                resource,
                &name,
                format!("the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"),
            ));
        }
    }
    // Negative values are 1 s on the delete path.
    if grace.is_some_and(|g| g < 0) {
        *grace = Some(1);
    }
    if meta_i64(object, "deletionGracePeriodSeconds").is_some_and(|g| g < 0) {
        object["metadata"]["deletionGracePeriodSeconds"] = json!(1);
    }
    // Only pods are deleted gracefully (the only built-in RESTGracefulDeleteStrategy).
    if (resource.group, resource.kind) != ("", "Pod") {
        return Ok(Before::Now);
    }
    if let Some(since) = meta_str(object, "deletionTimestamp").map(str::to_string) {
        let Some(left) = meta_i64(object, "deletionGracePeriodSeconds").filter(|g| *g != 0) else {
            // Marked with no grace left: a removal that failed half way; remove it now.
            return Ok(Before::Now);
        };
        let Some(period) = *grace else {
            *grace = Some(left);
            return Ok(Before::Pending);
        };
        // Only a shorter grace period may be asked for.
        if period >= left {
            return Ok(Before::Pending);
        }
        let start = seconds_of(&since).unwrap_or_else(|| now_seconds(now) + left) - left;
        object["metadata"]["deletionTimestamp"] = json!(at_seconds(start + period));
        object["metadata"]["deletionGracePeriodSeconds"] = json!(period);
        return Ok(Before::Graceful(period));
    }
    let period = pod_grace(object, *grace);
    *grace = Some(period);
    object["metadata"]["deletionTimestamp"] = json!(at_seconds(now_seconds(now) + period));
    object["metadata"]["deletionGracePeriodSeconds"] = json!(period);
    // A controller must see that a deleted object changed: its generation moves.
    if let Some(generation) = meta_i64(object, "generation").filter(|g| *g > 0) {
        object["metadata"]["generation"] = json!(generation + 1);
    }
    Ok(Before::Graceful(period))
}

/// `deletionFinalizersForGarbageCollection`: the finalizers `object` should have for the
/// garbage collector under `policy` (the request's, else a collector finalizer the object
/// already has, else the kind's default), or `None` when they are the ones it has.
fn gc_finalizers(
    resource: &Resource,
    object: &Value,
    policy: Option<Propagation>,
) -> Option<Vec<String>> {
    let default = default_gc_policy(resource.group, resource.version, resource.kind);
    if default == GcPolicy::Unsupported {
        return None;
    }
    let current = validation::finalizers_of(object);
    let from_finalizers = current.iter().find_map(|f| match *f {
        FINALIZER_ORPHAN => Some(Propagation::Orphan),
        FINALIZER_FOREGROUND => Some(Propagation::Foreground),
        _ => None,
    });
    let chosen = policy.or(from_finalizers);
    let orphan = match chosen {
        Some(p) => p == Propagation::Orphan,
        None => default == GcPolicy::OrphanDependents,
    };
    let foreground = chosen == Some(Propagation::Foreground);
    let mut wanted: Vec<String> = current
        .iter()
        .filter(|f| **f != FINALIZER_ORPHAN && **f != FINALIZER_FOREGROUND)
        .map(|f| f.to_string())
        .collect();
    if orphan {
        wanted.push(FINALIZER_ORPHAN.to_string());
    }
    if foreground {
        wanted.push(FINALIZER_FOREGROUND.to_string());
    }
    let before: std::collections::BTreeSet<&str> = current.iter().copied().collect();
    let after: std::collections::BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
    (before != after).then_some(wanted)
}

/// `markAsDeleting`: an object that cannot be deleted gracefully but is held by finalizers
/// is marked as being deleted now, with no grace period left (what finalizers wait for).
fn mark_as_deleting(object: &mut Value, now: SimTime) {
    let since = meta_str(object, "deletionTimestamp").map(str::to_string);
    if since.is_none() {
        if let Some(generation) = meta_i64(object, "generation").filter(|g| *g > 0) {
            object["metadata"]["generation"] = json!(generation + 1);
        }
    }
    let now_s = now_seconds(now);
    if since
        .as_deref()
        .and_then(seconds_of)
        .is_none_or(|s| s > now_s)
    {
        object["metadata"]["deletionTimestamp"] = json!(at_seconds(now_s));
    }
    object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
}

/// Why the marking step stopped.
enum Stop {
    /// A graceful deletion is already under way (the object is answered as it is).
    AlreadyDeleting,
    /// Nothing to mark: remove the object now.
    DeleteNow,
}

impl<B: Backend> ApiServer<B> {
    /// DELETE of one object, at virtual time `now` (see the module doc).
    pub(super) async fn delete(
        &self,
        resource: &'static Resource,
        request: &Request,
        now: SimTime,
    ) -> Reply {
        let name = request.name.as_deref().unwrap_or("");
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        let Some(current) = self.read(resource, namespace, name).await? else {
            return Err(ApiError::NotFound {
                target: Target::new(resource, Some(name)),
            });
        };
        let key = resource.key(namespace, name);
        let options = &request.delete;
        let mut preconditions = options.preconditions.clone().unwrap_or_default();
        let mut grace = options.grace_period_seconds;
        let mut first = current.object.clone();
        let decision = before_delete(
            resource,
            &mut first,
            &mut grace,
            options.preconditions.as_ref(),
            now,
        )?;
        // The deletion under way stands; nor can this request change its finalizers.
        if decision == Before::Pending {
            return Ok(current.object);
        }
        let pending_finalizers = !validation::finalizers_of(&current.object).is_empty();
        let update_finalizers =
            gc_finalizers(resource, &current.object, options.propagation_policy).is_some();

        let mut ignore_not_found = false;
        let mut last_existing = None;
        let mut state = current.clone();
        if matches!(decision, Before::Graceful(_)) || pending_finalizers || update_finalizers {
            // updateForGracefulDeletionAndFinalizers.
            let mut held = false;
            let mut last_grace = 0;
            let step = |existing: &Stored| {
                let mut object = existing.object.clone();
                let decision = before_delete(
                    resource,
                    &mut object,
                    &mut grace,
                    options.preconditions.as_ref(),
                    now,
                )?;
                if decision == Before::Pending {
                    return Ok(Next::Stop(Stop::AlreadyDeleting));
                }
                if let Some(finalizers) =
                    gc_finalizers(resource, &object, options.propagation_policy)
                {
                    object["metadata"]["finalizers"] = json!(finalizers);
                }
                held = !validation::finalizers_of(&object).is_empty();
                match decision {
                    Before::Graceful(period) => {
                        last_grace = period;
                        Ok(Next::Write(object))
                    }
                    _ if held => {
                        mark_as_deleting(&mut object, now);
                        Ok(Next::Write(object))
                    }
                    _ => Ok(Next::Stop(Stop::DeleteNow)),
                }
            };
            match self
                .guaranteed_update(resource, name, &key, current.clone(), &preconditions, step)
                .await?
            {
                Updated::Stopped(Stop::AlreadyDeleting, _) => return Ok(current.object),
                Updated::Stopped(Stop::DeleteNow, at) => state = at,
                Updated::Stored(marked) => {
                    // Finalizers or a grace period hold it: marked is all for now.
                    if held || last_grace > 0 {
                        return Ok(marked.object);
                    }
                    // Graceful with no grace left (the kubelet's final delete): remove it,
                    // and should another request remove it first, that is as good.
                    ignore_not_found = true;
                    last_existing = Some(marked.object.clone());
                    if preconditions.resource_version.is_some() {
                        preconditions.resource_version = Some(marked.mod_revision.0.to_string());
                    }
                    state = marked;
                }
            }
        }
        match self
            .conditional_delete(resource, name, &key, state, &preconditions)
            .await
        {
            Ok(gone) => Ok(gone.object),
            Err(ApiError::NotFound { .. }) if ignore_not_found && last_existing.is_some() => {
                Ok(last_existing.unwrap_or_default())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_versions_orphan_by_default_and_events_are_never_collected() {
        use GcPolicy::*;
        let table = [
            ("apps", "v1", "Deployment", DeleteDependents),
            ("apps", "v1", "ReplicaSet", DeleteDependents),
            ("apps", "v1", "StatefulSet", DeleteDependents),
            ("apps", "v1", "DaemonSet", DeleteDependents),
            ("apps", "v1beta1", "Deployment", OrphanDependents),
            ("apps", "v1beta2", "Deployment", OrphanDependents),
            ("extensions", "v1beta1", "Deployment", OrphanDependents),
            ("apps", "v1beta2", "ReplicaSet", OrphanDependents),
            ("extensions", "v1beta1", "ReplicaSet", OrphanDependents),
            ("apps", "v1beta1", "StatefulSet", OrphanDependents),
            ("apps", "v1beta2", "DaemonSet", OrphanDependents),
            ("", "v1", "ReplicationController", OrphanDependents),
            ("batch", "v1", "Job", OrphanDependents),
            ("batch", "v1", "CronJob", DeleteDependents),
            ("batch", "v1beta1", "CronJob", OrphanDependents),
            ("", "v1", "Pod", DeleteDependents),
            ("", "v1", "ConfigMap", DeleteDependents),
            ("", "v1", "Event", Unsupported),
            ("events.k8s.io", "v1", "Event", Unsupported),
        ];
        for (group, version, kind, want) in table {
            assert_eq!(
                default_gc_policy(group, version, kind),
                want,
                "{group}/{version} {kind}"
            );
        }
    }

    #[test]
    fn times_are_seconds_since_the_unix_epoch() {
        assert_eq!(now_seconds(SimTime(5_000_000)), EPOCH_MS / 1000 + 5);
        assert_eq!(at_seconds(EPOCH_MS / 1000 + 35), "2026-01-01T00:00:35Z");
        assert_eq!(
            seconds_of("2026-01-01T00:00:35Z"),
            Some(EPOCH_MS / 1000 + 35)
        );
        assert_eq!(seconds_of("soon"), None);
    }

    fn pod(node: Option<&str>, phase: Option<&str>) -> Value {
        let mut p = json!({"metadata": {"name": "p"},
            "spec": {"terminationGracePeriodSeconds": 30, "containers": []}});
        if let Some(node) = node {
            p["spec"]["nodeName"] = json!(node);
        }
        if let Some(phase) = phase {
            p["status"] = json!({"phase": phase});
        }
        p
    }

    #[test]
    fn a_pod_no_kubelet_runs_has_no_grace_period() {
        let table = [
            (pod(Some("worker-a"), Some("Running")), None, 30),
            (pod(Some("worker-a"), Some("Running")), Some(5), 5),
            (pod(Some("worker-a"), Some("Running")), Some(0), 0),
            (pod(None, None), None, 0),
            (pod(None, None), Some(60), 0),
            (pod(Some("worker-a"), Some("Succeeded")), None, 0),
            (pod(Some("worker-a"), Some("Failed")), Some(10), 0),
        ];
        for (p, requested, want) in table {
            assert_eq!(pod_grace(&p, requested), want, "{p} {requested:?}");
        }
    }
}
