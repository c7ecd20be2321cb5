//! Writes: create, update (whole or status) and the pods' binding subresource, and the
//! machinery delete and patch share with update: kube-apiserver's GuaranteedUpdate (read,
//! change, write conditional on the revision read, again from the new state when another
//! write got in first) and conditional delete, each checking the request's preconditions
//! at every try.

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use raft::etcd::{KeyRange, RangeRequest};
use serde_json::{json, Value};
use sim_core::SimTime;

use super::{backend_error, ApiServer, Backend, Preconditions, Reply, Request, QUOTA_RETRIES};
use crate::resource::{self, Resource};
use crate::status::{ApiError, Target};
use crate::storage::{self, Attempt, Stored};
use crate::{defaults, quota, validation};

/// `metadata.creationTimestamp` for virtual time `now`, RFC 3339 to the second as the API
/// writes it.
fn timestamp(now: SimTime) -> String {
    super::rfc3339(i64::try_from(now.as_us()).unwrap_or(i64::MAX / 2), false)
}

/// The body of a write, decoded through its kind's type (400 when it does not decode, as
/// kube-apiserver's strict decoding answers).
fn decoded(resource: &Resource, request: &Request) -> Result<Value, ApiError> {
    let body = request
        .body
        .as_ref()
        .ok_or_else(|| ApiError::BadRequest("the request has no body".to_string()))?;
    let mut body = body.clone();
    // The URL says which resource; a body may leave out apiVersion and kind.
    if let Some(o) = body.as_object_mut() {
        o.entry("apiVersion")
            .or_insert_with(|| json!(resource.api_version));
        o.entry("kind").or_insert_with(|| json!(resource.kind));
    }
    resource.decode(&body).map_err(|e| {
        if e.message == "unknown field" {
            ApiError::BadRequest(format!(
                "strict decoding error: unknown field \"{}\"",
                e.path
            ))
        } else {
            ApiError::BadRequest(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                resource.kind, resource.version, resource.kind
            ))
        }
    })
}

/// Checks the body's namespace against the request's and fills it in.
pub(super) fn place(
    resource: &Resource,
    request: &Request,
    object: &mut Value,
) -> Result<(), ApiError> {
    if !resource.namespaced {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
        return Ok(());
    }
    let ns = request.namespace.as_deref().unwrap_or("");
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(given) if given != ns => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .to_string(),
        )),
        _ => {
            object["metadata"]["namespace"] = json!(ns);
            Ok(())
        }
    }
}

/// Sets `object`'s top-level `field` to `from`'s (removing it when `from` has none).
fn keep_part(object: &mut Value, from: &Value, field: &str) {
    let Some(o) = object.as_object_mut() else {
        return;
    };
    match from.get(field) {
        Some(v) => {
            o.insert(field.to_string(), v.clone());
        }
        None => {
            o.remove(field);
        }
    }
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Kinds with a `status` subresource: an update of the object keeps the stored status, an
/// update of `<resource>/status` changes only the status (kube-apiserver's
/// PrepareForUpdate of each registry: what the user wants and what a controller observed
/// are written by different parties).
pub(super) fn has_status(resource: &Resource) -> bool {
    matches!(
        (resource.group, resource.kind),
        (
            "",
            "Namespace"
                | "Node"
                | "Pod"
                | "ResourceQuota"
                | "Service"
                | "PersistentVolume"
                | "PersistentVolumeClaim"
                | "ReplicationController"
        ) | (
            "apps",
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
        ) | ("batch", "Job" | "CronJob")
            | ("networking.k8s.io", "Ingress")
            | ("policy", "PodDisruptionBudget")
    )
}

/// Kinds whose `metadata.generation` counts changes of their spec.
fn has_generation(resource: &Resource) -> bool {
    matches!(
        (resource.group, resource.kind),
        ("apps", "Deployment" | "ReplicaSet") | ("", "Pod")
    )
}

/// How many times a write tries again from the object another write left before giving up
/// with 409 (see [`ApiServer::guaranteed_update`]).
pub(super) const UPDATE_RETRIES: usize = 16;

/// Which part of an object a write replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// The object (its status kept as stored, for kinds with a status subresource).
    Whole,
    /// Its status only (`<resource>/status`).
    Status,
}

/// What a GuaranteedUpdate step makes of the object it is shown.
pub(super) enum Next<T> {
    /// Store this in its place.
    Write(Value),
    /// Stop without writing, saying why.
    Stop(T),
}

/// How a GuaranteedUpdate ended.
pub(super) enum Updated<T> {
    /// With the object as now stored: written, or unchanged (nothing to write).
    Stored(Stored),
    /// The step stopped, at this state of the object.
    Stopped(T, Stored),
}

/// A failure to read etcd's answer: a bug, answered as 500.
fn internal(e: storage::StorageError) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// 409 with Kubernetes' "the object has been modified" words.
pub(super) fn stale(resource: &Resource, name: &str) -> ApiError {
    ApiError::Conflict {
        target: Target::new(resource, Some(name)),
        why: crate::status::STALE_UPDATE.to_string(),
    }
}

/// The storage layer's precondition check, as the 409 kube-apiserver answers it
/// (`storeerr.InterpretUpdateError` of an invalid-object StorageError).
fn check_preconditions(
    resource: &Resource,
    name: &str,
    key: &str,
    preconditions: &Preconditions,
    object: &Value,
) -> Result<(), ApiError> {
    storage::check_preconditions(
        key,
        preconditions.uid.as_deref(),
        preconditions.resource_version.as_deref(),
        object,
    )
    .map_err(|why| ApiError::Conflict {
        target: Target::new(resource, Some(name)),
        why,
    })
}

/// Sets `object`'s `metadata.<field>` to `from`'s, if `from` has it.
fn keep_meta(object: &mut Value, from: &Value, field: &str) {
    if let Some(v) = from.pointer(&format!("/metadata/{field}")) {
        object["metadata"][field] = v.clone();
    }
}

/// What an update of `existing` stores, from `object` (the body, or the patched object):
/// kube-apiserver's `rest.BeforeUpdate` and the kinds' PrepareForUpdate (what a client may
/// not change is taken from the stored object; a status is written through its own
/// subresource), defaulting, and validation (422).
pub(super) fn prepare_update(
    resource: &Resource,
    existing: &Stored,
    mut object: Value,
    part: Part,
) -> Result<Value, ApiError> {
    let current = &existing.object;
    let name = name_of(current).to_string();
    if part == Part::Status {
        let mut whole = current.clone();
        keep_part(&mut whole, &object, "status");
        if (resource.group, resource.kind) == ("apps", "Deployment") {
            // deploymentStatusStrategy takes only spec and labels from storage: the
            // controller writes the revision annotation with the status.
            match object["metadata"].get("annotations") {
                Some(a) => whole["metadata"]["annotations"] = a.clone(),
                None => {
                    if let Some(meta) = whole["metadata"].as_object_mut() {
                        meta.remove("annotations");
                    }
                }
            }
        }
        object = whole;
    } else {
        // A uid left out is the stored one. Another is refused: an update's by its uid
        // precondition (409), a patch's, which has none, by validation (422).
        if object
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            keep_meta(&mut object, current, "uid");
        }
        keep_meta(&mut object, current, "creationTimestamp");
        keep_meta(&mut object, current, "generation");
        // An update can never undo or move a deletion: its timestamp stays, and so does
        // its grace period unless the update names one (validation refuses another).
        keep_meta(&mut object, current, "deletionTimestamp");
        if object
            .pointer("/metadata/deletionGracePeriodSeconds")
            .is_none()
        {
            keep_meta(&mut object, current, "deletionGracePeriodSeconds");
        }
        if has_status(resource) {
            keep_part(&mut object, current, "status");
        }
        if has_generation(resource) && object.get("spec") != current.get("spec") {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(0);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        defaults::apply(resource, &mut object);
    }
    object["metadata"]["resourceVersion"] = json!(existing.mod_revision.0.to_string());
    let errors = validation::validate_update(resource, current, &object);
    if !errors.is_empty() {
        return Err(ApiError::Invalid {
            target: Target::new(resource, Some(&name)),
            errors,
        });
    }
    Ok(object)
}

/// `ShouldDeleteDuringUpdate`: an update that leaves no finalizers on an object whose
/// delete was waiting only for them (a deletionTimestamp with no grace period left)
/// deletes it.
fn should_delete_during_update(new: &Value, old: &Value) -> bool {
    validation::finalizers_of(new).is_empty()
        && old.pointer("/metadata/deletionTimestamp").is_some()
        && old
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .is_none_or(|grace| grace == 0)
}

impl<B: Backend> ApiServer<B> {
    pub(super) async fn create(
        &self,
        resource: &'static Resource,
        request: &Request,
        now: SimTime,
    ) -> Reply {
        let mut object = decoded(resource, request)?;
        place(resource, request, &mut object)?;
        if object
            .pointer("/metadata/resourceVersion")
            .is_some_and(|v| !v.is_null())
        {
            return Err(ApiError::BadRequest(
                "resourceVersion should not be set on objects to be created".to_string(),
            ));
        }
        let uid = self.next_uid();
        let meta = &mut object["metadata"];
        // `rest.BeforeCreate`: an object is created live, whatever deletion it claims.
        if let Some(meta) = meta.as_object_mut() {
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
        }
        if meta
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            if let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
                let suffix = &uid[uid.len().saturating_sub(5)..];
                meta["name"] = json!(format!("{prefix}{suffix}"));
            }
        }
        meta["uid"] = json!(uid);
        meta["creationTimestamp"] = json!(timestamp(now));
        if has_generation(resource) {
            meta["generation"] = json!(1);
        }
        // Mutating admission, then validation, then validating admission.
        defaults::apply(resource, &mut object);
        defaults::admit_default_tolerations(resource, &mut object);
        let errors = validation::validate_create(resource, &object);
        if !errors.is_empty() {
            return Err(ApiError::Invalid {
                target: Target::new(resource, Some(name_of(&object))),
                errors,
            });
        }
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        if let Some(ns) = namespace {
            self.admit_namespace(resource, ns, name_of(&object)).await?;
            self.charge_quota(resource, ns, &object).await?;
        }
        let key = resource.key(namespace, name_of(&object));
        let answer = self
            .backend
            .txn(storage::create(&key, &object))
            .await
            .map_err(backend_error)?;
        let stored = storage::created(resource, &object, &answer)
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        Ok(stored.object)
    }

    /// NamespaceLifecycle: a namespaced object needs its namespace to exist and not be
    /// terminating.
    async fn admit_namespace(
        &self,
        resource: &Resource,
        ns: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let namespaces = resource::by_kind("v1", "Namespace").expect("served");
        let Some(stored) = self.read(namespaces, None, ns).await? else {
            return Err(ApiError::NotFound {
                target: Target::new(namespaces, Some(ns)),
            });
        };
        let namespace: Namespace =
            serde_json::from_value(stored.object).map_err(|e| ApiError::Internal(e.to_string()))?;
        let phase = namespace.status.and_then(|s| s.phase);
        if phase.as_deref() == Some("Terminating") {
            return Err(ApiError::AdmissionDenied {
                target: Target::new(resource, Some(name)),
                reason: format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            });
        }
        Ok(())
    }

    /// ResourceQuota: charges the object to every quota of its namespace, each with its
    /// resourceVersion as precondition, rereading and retrying when another request charged
    /// it first; refuses when one is full.
    async fn charge_quota(
        &self,
        resource: &Resource,
        ns: &str,
        object: &Value,
    ) -> Result<(), ApiError> {
        let quotas = resource::by_kind("v1", "ResourceQuota").expect("served");
        let delta = quota::usage_of(resource, object);
        let prefix = format!("/registry/{}/{ns}/", quotas.plural);
        for _ in 0..QUOTA_RETRIES {
            let (kvs, _) = self
                .backend
                .range(RangeRequest::latest(KeyRange::prefix(&prefix)))
                .await
                .map_err(backend_error)?;
            let mut conflict = false;
            for kv in &kvs {
                let stored = storage::decode(kv).map_err(|e| ApiError::Internal(e.to_string()))?;
                let quota: ResourceQuota = serde_json::from_value(stored.object)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let charged =
                    quota::charge(&quota, &delta).map_err(|e| ApiError::AdmissionDenied {
                        target: Target::new(resource, Some(name_of(object))),
                        reason: e.to_string(),
                    })?;
                let Some(charged) = charged else { continue };
                let charged = serde_json::to_value(&charged)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let answer = self
                    .backend
                    .txn(storage::update(&kv.key, stored.mod_revision, &charged))
                    .await
                    .map_err(backend_error)?;
                if storage::updated(quotas, &charged, &answer)
                    .map_err(|e| ApiError::Internal(e.to_string()))?
                    .is_err()
                {
                    conflict = true;
                    break;
                }
            }
            if !conflict {
                return Ok(());
            }
        }
        Err(ApiError::Conflict {
            target: Target::new(quotas, None),
            why: crate::status::STALE_UPDATE.to_string(),
        })
    }

    /// PUT: the body replaces the object, through [`ApiServer::write_update`].
    pub(super) async fn update(&self, resource: &'static Resource, request: &Request) -> Reply {
        self.replace(resource, request, Part::Whole).await
    }

    /// `<resource>/status`: the stored object with the body's status (spec and metadata as
    /// stored; the body's resourceVersion, if any, is the precondition).
    pub(super) async fn update_status(
        &self,
        resource: &'static Resource,
        request: &Request,
    ) -> Reply {
        self.replace(resource, request, Part::Status).await
    }

    /// An update or status update from the request's body.
    async fn replace(&self, resource: &'static Resource, request: &Request, part: Part) -> Reply {
        let mut body = decoded(resource, request)?;
        let name = request.name.as_deref().unwrap_or("");
        if part == Part::Whole {
            place(resource, request, &mut body)?;
        }
        if name_of(&body) != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&body)
            )));
        }
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        let Some(current) = self.read(resource, namespace, name).await? else {
            return Err(ApiError::NotFound {
                target: Target::new(resource, Some(name)),
            });
        };
        // The body's resourceVersion must be the stored one at every try (none: whatever
        // is stored, an unconditional update); its uid is a storage precondition, as
        // `rest.DefaultUpdatedObjectInfo` makes it.
        let expected = storage::precondition(resource, &body)?;
        let preconditions = Preconditions {
            uid: body
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            resource_version: None,
        };
        self.write_update(
            resource,
            namespace,
            name,
            current,
            &preconditions,
            |existing| {
                if expected.is_some_and(|rv| rv != existing.mod_revision) {
                    return Err(stale(resource, name));
                }
                prepare_update(resource, existing, body.clone(), part)
            },
        )
        .await
    }

    /// kube-apiserver's `Store.Update` from the stored object `current`: `next` makes the
    /// object to store from what is stored (it runs again, on the new state, when another
    /// write got in first: the registry's GuaranteedUpdate retries in the server, and so a
    /// client without a resourceVersion never sees that race); an update that leaves no
    /// finalizers on an object whose deletion only waited for them deletes it
    /// (`deleteWithoutFinalizers`) and answers with the object as the update made it.
    pub(super) async fn write_update(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        current: Stored,
        preconditions: &Preconditions,
        mut next: impl FnMut(&Stored) -> Result<Value, ApiError>,
    ) -> Reply {
        let key = resource.key(namespace, name);
        let step = |existing: &Stored| {
            let object = next(existing)?;
            Ok(if should_delete_during_update(&object, &existing.object) {
                Next::Stop(object)
            } else {
                Next::Write(object)
            })
        };
        match self
            .guaranteed_update(resource, name, &key, current, preconditions, step)
            .await?
        {
            Updated::Stored(stored) => Ok(stored.object),
            Updated::Stopped(object, state) => {
                match self
                    .conditional_delete(resource, name, &key, state, preconditions)
                    .await
                {
                    // Several updates may empty the finalizers at once; one deletes.
                    Ok(_) | Err(ApiError::NotFound { .. }) => Ok(object),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// kube-apiserver's etcd3 GuaranteedUpdate: from `current`, checks `preconditions`, asks
    /// `step` what to store, and writes it conditional on the revision it was made from;
    /// when another write got in first, tries again from what etcd answered instead.
    /// Storing what is already stored writes nothing.
    ///
    /// Retries are bounded by [`UPDATE_RETRIES`] where kube-apiserver's are bounded only by
    /// the request's deadline, so that a hot object cannot hold one request for ever.
    pub(super) async fn guaranteed_update<T>(
        &self,
        resource: &Resource,
        name: &str,
        key: &str,
        mut current: Stored,
        preconditions: &Preconditions,
        mut step: impl FnMut(&Stored) -> Result<Next<T>, ApiError>,
    ) -> Result<Updated<T>, ApiError> {
        for _ in 0..UPDATE_RETRIES {
            check_preconditions(resource, name, key, preconditions, &current.object)?;
            let object = match step(&current)? {
                Next::Stop(why) => return Ok(Updated::Stopped(why, current)),
                Next::Write(object) => object,
            };
            if storage::same_stored(&object, &current.object) {
                return Ok(Updated::Stored(current));
            }
            let answer = self
                .backend
                .txn(storage::update(key, current.mod_revision, &object))
                .await
                .map_err(backend_error)?;
            match storage::update_attempt(&object, &answer).map_err(internal)? {
                Attempt::Done(stored) => return Ok(Updated::Stored(stored)),
                Attempt::Moved(now) => current = now,
                Attempt::Gone => {
                    return Err(ApiError::NotFound {
                        target: Target::new(resource, Some(name)),
                    })
                }
            }
        }
        Err(stale(resource, name))
    }

    /// The etcd3 store's conditional delete: from `current`, checks `preconditions` and
    /// deletes at the revision checked, trying again from what etcd answered when the
    /// object changed meanwhile. Returns the object as it was when deleted.
    pub(super) async fn conditional_delete(
        &self,
        resource: &Resource,
        name: &str,
        key: &str,
        mut current: Stored,
        preconditions: &Preconditions,
    ) -> Result<Stored, ApiError> {
        for _ in 0..UPDATE_RETRIES {
            check_preconditions(resource, name, key, preconditions, &current.object)?;
            let answer = self
                .backend
                .txn(storage::delete(key, current.mod_revision))
                .await
                .map_err(backend_error)?;
            match storage::delete_attempt(&answer).map_err(internal)? {
                Attempt::Done(gone) => return Ok(gone),
                Attempt::Moved(now) => current = now,
                Attempt::Gone => {
                    return Err(ApiError::NotFound {
                        target: Target::new(resource, Some(name)),
                    })
                }
            }
        }
        Err(stale(resource, name))
    }

    /// Writes `object` over the version `expected`.
    async fn store_update(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        expected: raft::etcd::Revision,
        object: &Value,
    ) -> Reply {
        let key = resource.key(namespace, name);
        let answer = self
            .backend
            .txn(storage::update(&key, expected, object))
            .await
            .map_err(backend_error)?;
        let stored: Stored = storage::updated(resource, object, &answer)
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        Ok(stored.object)
    }

    /// `pods/binding`: sets a pod's `spec.nodeName` once. A pod already bound is 409; there
    /// is no capacity check (the kubelet refuses what does not fit, as in Kubernetes).
    pub(super) async fn bind(&self, pods: &Resource, request: &Request) -> Reply {
        let name = request.name.as_deref().unwrap_or("");
        let body = request
            .body
            .as_ref()
            .ok_or_else(|| ApiError::BadRequest("the request has no body".to_string()))?;
        let node = body
            .pointer("/target/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::BadRequest("a binding needs target.name".to_string()))?;
        let namespace = request.namespace.as_deref();
        let Some(current) = self.read(pods, namespace, name).await? else {
            return Err(ApiError::NotFound {
                target: Target::new(pods, Some(name)),
            });
        };
        let mut target = Target::new(pods, Some(name));
        target.subresource = Some("binding");
        let checked = !self.bind_without_precondition.get();
        if let Some(bound) = current
            .object
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|_| checked)
        {
            return Err(ApiError::Conflict {
                target,
                why: format!("pod {name} is already assigned to node \"{bound}\""),
            });
        }
        let mut pod = current.object.clone();
        pod["spec"]["nodeName"] = json!(node);
        // Against the version read: a binding that raced another fails here, not twice.
        let reply = self
            .store_update(pods, namespace, name, current.mod_revision, &pod)
            .await;
        match reply {
            Err(ApiError::Conflict { .. }) => Err(ApiError::Conflict {
                target,
                why: crate::status::STALE_UPDATE.to_string(),
            }),
            Err(e) => Err(e),
            Ok(_) => {
                self.bindings.borrow_mut().push(super::Bound {
                    pod: format!("{}/{name}", namespace.unwrap_or("")),
                    uid: current.object["metadata"]["uid"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    node: node.to_string(),
                });
                Ok(json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}))
            }
        }
    }
}
