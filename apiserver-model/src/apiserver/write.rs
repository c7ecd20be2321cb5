//! Writes: create, update, delete and the pods' binding subresource.

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use raft::etcd::{KeyRange, RangeRequest};
use serde_json::{json, Value};
use sim_core::SimTime;

use super::{backend_error, ApiServer, Backend, Reply, Request, QUOTA_RETRIES};
use crate::resource::{self, Resource};
use crate::status::{ApiError, Target};
use crate::storage::{self, Stored};
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
fn place(resource: &Resource, request: &Request, object: &mut Value) -> Result<(), ApiError> {
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

    pub(super) async fn update(&self, resource: &'static Resource, request: &Request) -> Reply {
        let mut object = decoded(resource, request)?;
        place(resource, request, &mut object)?;
        let name = request.name.as_deref().unwrap_or("");
        if name_of(&object) != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&object)
            )));
        }
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        let Some(current) = self.read(resource, namespace, name).await? else {
            return Err(ApiError::NotFound {
                target: Target::new(resource, Some(name)),
            });
        };
        // No resourceVersion: an unconditional update, against the version just read.
        let expected = storage::precondition(resource, &object)?.unwrap_or(current.mod_revision);
        for field in ["uid", "creationTimestamp", "generation"] {
            if let Some(v) = current.object["metadata"].get(field) {
                object["metadata"][field] = v.clone();
            }
        }
        if has_status(resource) {
            keep_part(&mut object, &current.object, "status");
        }
        if has_generation(resource) && object.get("spec") != current.object.get("spec") {
            let generation = current.object["metadata"]["generation"]
                .as_i64()
                .unwrap_or(0);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        defaults::apply(resource, &mut object);
        let errors = validation::validate_update(resource, &current.object, &object);
        if !errors.is_empty() {
            return Err(ApiError::Invalid {
                target: Target::new(resource, Some(name)),
                errors,
            });
        }
        self.store_update(resource, namespace, name, expected, &object)
            .await
    }

    /// `<resource>/status`: the stored object with the body's status (spec and metadata as
    /// stored; the body's resourceVersion, if any, is the precondition).
    pub(super) async fn update_status(
        &self,
        resource: &'static Resource,
        request: &Request,
    ) -> Reply {
        let body = decoded(resource, request)?;
        let name = request.name.as_deref().unwrap_or("");
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
        let expected = storage::precondition(resource, &body)?.unwrap_or(current.mod_revision);
        let mut object = current.object.clone();
        keep_part(&mut object, &body, "status");
        if (resource.group, resource.kind) == ("apps", "Deployment") {
            // deploymentStatusStrategy takes only spec and labels from storage: the
            // controller writes the revision annotation with the status.
            object["metadata"]["annotations"] = body["metadata"]["annotations"].clone();
            if object["metadata"]["annotations"].is_null() {
                if let Some(meta) = object["metadata"].as_object_mut() {
                    meta.remove("annotations");
                }
            }
        }
        let errors = validation::validate_update(resource, &current.object, &object);
        if !errors.is_empty() {
            return Err(ApiError::Invalid {
                target: Target::new(resource, Some(name)),
                errors,
            });
        }
        self.store_update(resource, namespace, name, expected, &object)
            .await
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

    pub(super) async fn delete(&self, resource: &Resource, request: &Request) -> Reply {
        let name = request.name.as_deref().unwrap_or("");
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        let Some(current) = self.read(resource, namespace, name).await? else {
            return Err(ApiError::NotFound {
                target: Target::new(resource, Some(name)),
            });
        };
        let key = resource.key(namespace, name);
        let answer = self
            .backend
            .txn(storage::delete(&key, current.mod_revision))
            .await
            .map_err(backend_error)?;
        let stored = storage::deleted(resource, name, &answer)
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
        if let Some(bound) = current
            .object
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
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
            other => other.map(
                |_| json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}),
            ),
        }
    }
}
