//! A kubectl for scenarios and tests: the commands a person types (`apply`, `get`, `list`,
//! `scale`, `set image`, `edit`, `delete`), each made of the API requests kubectl makes,
//! over one [`ApiClient`].
//!
//! Read-modify-write commands (`scale`, `set image`, `edit`, and `apply` of an object that
//! exists) read the object, change it, and update it on the resourceVersion read, so a
//! write that raced theirs makes the update 409 Conflict rather than lose it; on a conflict
//! they read again and retry, at most [`CONFLICT_RETRIES`] times, about 10 ms apart. That is
//! client-go's `retry.RetryOnConflict` with `retry.DefaultRetry` (5 steps of 10 ms, jitter
//! 0.1; `k8s.io/client-go/util/retry/util.go`), the loop kubectl's `edit` and controllers'
//! status writers use. Any other refusal, and a request that got no answer, end the
//! command with that error: kubectl does not resend a write whose fate it does not know.
//!
//! A kubectl records the requests it sends in the history (it switches its client's
//! recording on, [`ApiClient::set_recording`]; see [`crate::api_history`]): a person's
//! commands are the operations the API checks judge, while the components' own clients stay
//! out of it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::apiserver::{DeleteOptions, Request, VersionMatch};
use crate::client::{ApiClient, CallError};
use crate::resource::{self, LookupError, Resource};
use crate::status::ApiError;
use crate::verb::Verb;

/// How many times a read-modify-write command retries a conflict before it gives up with
/// it: `retry.DefaultRetry.Steps` (client-go `util/retry/util.go`).
pub const CONFLICT_RETRIES: usize = 5;

/// The pause between two tries of a conflicting write, milliseconds (`retry.DefaultRetry`'s
/// 10 ms), jittered by up to a tenth (its `Jitter: 0.1`) from the client's seeded rng.
const CONFLICT_BACKOFF_MS: u64 = 10;

/// Why a kubectl command failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KubectlError {
    /// The API refused a request, or did not answer one.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The object's `apiVersion` and `kind` are not a served resource: kubectl's REST
    /// mapping fails before any request ("no matches for kind").
    #[error("resource mapping not found: {0}")]
    NoMapping(#[from] LookupError),
    /// The object has no `metadata.name` (kubectl: "resource name may not be empty").
    #[error("resource name may not be empty")]
    NoName,
    /// `set image` named a container the object's pod template does not have.
    #[error("unable to find container named {0:?}")]
    NoContainer(String),
}

impl KubectlError {
    /// The API's refusal, if that is why.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            KubectlError::Call(CallError::Api(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether the request went unanswered (it may or may not have been served).
    pub fn no_answer(&self) -> bool {
        matches!(self, KubectlError::Call(CallError::NoAnswer))
    }
}

/// The result of a kubectl command.
pub type KubectlResult<T> = Result<T, KubectlError>;

/// See the module docs. Cloning gives another handle on the same connection.
#[derive(Clone, Debug)]
pub struct Kubectl {
    client: ApiClient,
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or("")
}

fn namespace_of(object: &Value) -> Option<&str> {
    object["metadata"]["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
}

/// A request of `verb` on `group`/`resource`, in `namespace` if one is given.
fn request(verb: Verb, group: &str, resource: &str, namespace: Option<&str>) -> Request {
    let r = Request::new(None, verb, group, resource);
    match namespace {
        Some(ns) => r.in_namespace(ns),
        None => r,
    }
}

/// Whether `e` is a 409 Conflict on a stale resourceVersion (not an AlreadyExists).
fn is_conflict(e: &KubectlError) -> bool {
    matches!(e.api(), Some(ApiError::Conflict { .. }))
}

/// `live` with `manifest`'s fields laid over it: every top-level field the manifest has
/// (other than `metadata`, `status`, `apiVersion`, `kind`) replaces the live one whole, and
/// the manifest's labels and annotations are set among the live ones. Fields the manifest
/// does not mention (the server's metadata, finalizers, owner references, status, labels
/// others added) stay as they are.
fn overlay(live: &Value, manifest: &Value) -> Value {
    let mut merged = live.clone();
    if let (Some(out), Some(given)) = (merged.as_object_mut(), manifest.as_object()) {
        for (field, value) in given {
            if !matches!(
                field.as_str(),
                "metadata" | "status" | "apiVersion" | "kind"
            ) {
                out.insert(field.clone(), value.clone());
            }
        }
    }
    for map in ["labels", "annotations"] {
        if let Some(given) = manifest["metadata"][map].as_object() {
            let meta = &mut merged["metadata"];
            if !meta[map].is_object() {
                meta[map] = json!({});
            }
            for (k, v) in given {
                meta[map][k] = v.clone();
            }
        }
    }
    merged
}

impl Kubectl {
    /// A kubectl over `client`; switches the client's history recording on.
    pub fn new(client: ApiClient) -> Self {
        client.set_recording(true);
        Kubectl { client }
    }

    /// The client underneath.
    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    async fn call(&self, request: Request) -> KubectlResult<Value> {
        Ok(self.client.call(request).await?)
    }

    /// The served resource of `object`'s `apiVersion` and `kind`.
    fn mapping(object: &Value) -> KubectlResult<&'static Resource> {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let kind = object["kind"].as_str().unwrap_or("");
        Ok(resource::by_kind(api_version, kind)?)
    }

    /// Waits `retry.DefaultRetry`'s jittered step before the next try of a conflict.
    async fn back_off(&self) {
        let jitter_us = self.client.rng_below(CONFLICT_BACKOFF_MS * 100);
        self.client
            .ctx()
            .sleep(Duration::from_micros(
                CONFLICT_BACKOFF_MS * 1_000 + jitter_us,
            ))
            .await;
    }

    /// `kubectl create -f`: creates `object` (its namespace and resource from the object).
    ///
    /// # Errors
    ///
    /// The API's refusal (409 AlreadyExists, 422, 403, ...) or no answer; no mapping for the
    /// object's kind.
    pub async fn create(&self, object: Value) -> KubectlResult<Value> {
        let r = Self::mapping(&object)?;
        let ns = namespace_of(&object).map(str::to_string);
        let req = request(Verb::Create, r.group, r.plural, ns.as_deref());
        self.call(req.with_body(object)).await
    }

    /// `kubectl replace -f`: updates the object to `object`. Its own
    /// `metadata.resourceVersion`, if it has one, is the update's precondition (409 if the
    /// object has moved on); without one the update is unconditional.
    ///
    /// # Errors
    ///
    /// As [`Kubectl::create`] (404 for an object that does not exist, 409 for a stale
    /// resourceVersion); [`KubectlError::NoName`] for an object without a name.
    pub async fn update(&self, object: Value) -> KubectlResult<Value> {
        let r = Self::mapping(&object)?;
        let name = name_of(&object).to_string();
        if name.is_empty() {
            return Err(KubectlError::NoName);
        }
        let ns = namespace_of(&object).map(str::to_string);
        let req = request(Verb::Update, r.group, r.plural, ns.as_deref()).named(&name);
        self.call(req.with_body(object)).await
    }

    /// `kubectl apply -f`, as it converges: creates `object`; if it exists, reads it, lays
    /// the manifest over it and updates it on the resourceVersion read, again from a fresh
    /// read on a conflict (and creates it again if it went away in between). The object as
    /// stored is the answer.
    ///
    /// Real `kubectl apply` sends a patch instead: client-side, a three-way strategic merge
    /// patch computed from the `last-applied-configuration` annotation, the manifest and the
    /// live object (so it also removes fields an earlier apply set and this manifest no
    /// longer has, and merges lists by their keys); server-side (`--server-side`), an apply
    /// patch the server merges by field ownership. This one is a two-way overlay: the
    /// manifest's top-level fields (`spec`, `data`, ...) replace the live ones whole, its
    /// labels and annotations are added to the live ones, and everything it does not
    /// mention stays. For a manifest applied whole, as scenarios do, both end with the
    /// manifest's spec; the difference shows only for fields a later manifest drops.
    ///
    /// # Errors
    ///
    /// The API's refusal (other than the AlreadyExists and conflicts it handles), a
    /// conflict still there after [`CONFLICT_RETRIES`] retries, or no answer.
    pub async fn apply(&self, object: Value) -> KubectlResult<Value> {
        let r = Self::mapping(&object)?;
        let name = name_of(&object).to_string();
        if name.is_empty() {
            return Err(KubectlError::NoName);
        }
        let ns = namespace_of(&object).map(str::to_string);
        let ns = ns.as_deref();
        let mut tries = 0;
        loop {
            let created = self.create(object.clone()).await;
            if !matches!(
                created.as_ref().map_err(KubectlError::api),
                Err(Some(ApiError::AlreadyExists { .. }))
            ) {
                return created;
            }
            let live = match self.get(r.group, r.plural, ns, &name).await {
                // Deleted since the create was refused: create it again.
                Err(e) if matches!(e.api(), Some(ApiError::NotFound { .. })) => continue,
                other => other?,
            };
            let req = request(Verb::Update, r.group, r.plural, ns).named(&name);
            match self.call(req.with_body(overlay(&live, &object))).await {
                Err(e) if is_conflict(&e) && tries < CONFLICT_RETRIES => {
                    tries += 1;
                    self.back_off().await;
                }
                other => return other,
            }
        }
    }

    /// `kubectl get <resource> <name>`: the object, read from etcd (no resourceVersion: a
    /// quorum read, the latest state).
    ///
    /// # Errors
    ///
    /// 404 when there is no such object; any other refusal, or no answer.
    pub async fn get(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> KubectlResult<Value> {
        self.call(request(Verb::Get, group, resource, namespace).named(name))
            .await
    }

    /// `kubectl get --raw '...?resourceVersion=<v>'`: the object as the API server's watch
    /// cache has it, `"0"` any version it holds, another version one not older than that
    /// (the server waits for its cache, then answers 504 "Too large resource version").
    ///
    /// # Errors
    ///
    /// As [`Kubectl::get`].
    pub async fn get_at(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        resource_version: &str,
    ) -> KubectlResult<Value> {
        let req = request(Verb::Get, group, resource, namespace)
            .named(name)
            .at_version(resource_version, VersionMatch::NotOlderThan);
        self.call(req).await
    }

    /// A list at `resource_version` matched as `version_match` (`"0"`: the watch cache's;
    /// NotOlderThan: the cache's once it has caught up; Exact: etcd at that revision).
    ///
    /// # Errors
    ///
    /// As [`Kubectl::list`]; 410 Gone for an Exact revision etcd has compacted.
    pub async fn list_at(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        resource_version: &str,
        version_match: VersionMatch,
    ) -> KubectlResult<Value> {
        let req = request(Verb::List, group, resource, namespace)
            .at_version(resource_version, version_match);
        self.call(req).await
    }

    /// `kubectl get <resource>`: the list (its `items` and the `metadata.resourceVersion`
    /// it was read at), a quorum read from etcd.
    ///
    /// # Errors
    ///
    /// The API's refusal, or no answer.
    pub async fn list(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> KubectlResult<Value> {
        self.call(request(Verb::List, group, resource, namespace))
            .await
    }

    /// `kubectl edit` without the editor: reads the object, lets `f` change it, updates it
    /// on the resourceVersion read, and starts again from a fresh read on a conflict (at
    /// most [`CONFLICT_RETRIES`] retries). The object as stored is the answer.
    ///
    /// # Errors
    ///
    /// The API's refusal of the read or the update, a conflict still there after the
    /// retries, or no answer.
    pub async fn edit(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        f: impl Fn(&mut Value),
    ) -> KubectlResult<Value> {
        self.try_edit(group, resource, namespace, name, |o| {
            f(o);
            Ok(())
        })
        .await
    }

    /// [`Kubectl::edit`] with a change that may refuse the object read (nothing is written
    /// then).
    async fn try_edit(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        f: impl Fn(&mut Value) -> KubectlResult<()>,
    ) -> KubectlResult<Value> {
        let mut tries = 0;
        loop {
            let mut object = self.get(group, resource, namespace, name).await?;
            f(&mut object)?;
            let req = request(Verb::Update, group, resource, namespace).named(name);
            match self.call(req.with_body(object)).await {
                Err(e) if is_conflict(&e) && tries < CONFLICT_RETRIES => {
                    tries += 1;
                    self.back_off().await;
                }
                other => return other,
            }
        }
    }

    /// `kubectl scale --replicas`: `spec.replicas` set to `replicas` by [`Kubectl::edit`].
    /// (kubectl writes the `scale` subresource; the model serves none, and a whole-object
    /// update on the version read is the same write with the same conflict rule.)
    ///
    /// # Errors
    ///
    /// As [`Kubectl::edit`].
    pub async fn scale(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        replicas: u64,
    ) -> KubectlResult<Value> {
        self.edit(group, resource, namespace, name, |o| {
            o["spec"]["replicas"] = json!(replicas);
        })
        .await
    }

    /// `kubectl set image <resource>/<name> <container>=<image>`: the container's image in
    /// the pod template (`spec.template.spec.containers`, or a pod's own `spec.containers`)
    /// set by [`Kubectl::edit`].
    ///
    /// # Errors
    ///
    /// As [`Kubectl::edit`]; [`KubectlError::NoContainer`] when no container has that name
    /// (nothing is written).
    pub async fn set_image(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        container: &str,
        image: &str,
    ) -> KubectlResult<Value> {
        self.try_edit(group, resource, namespace, name, |o| {
            let path = if o.pointer("/spec/template/spec/containers").is_some() {
                "/spec/template/spec/containers"
            } else {
                "/spec/containers"
            };
            let named = o
                .pointer_mut(path)
                .and_then(Value::as_array_mut)
                .and_then(|cs| cs.iter_mut().find(|c| c["name"] == container))
                .ok_or_else(|| KubectlError::NoContainer(container.to_string()))?;
            named["image"] = json!(image);
            Ok(())
        })
        .await
    }

    /// `kubectl delete <resource> <name>` with `options` (propagation, grace period,
    /// preconditions): the object as deleted, or as marked for deletion when finalizers or a
    /// grace period keep it.
    ///
    /// # Errors
    ///
    /// 404 when there is no such object, 409 when a precondition fails; any other refusal,
    /// or no answer.
    pub async fn delete(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        options: DeleteOptions,
    ) -> KubectlResult<Value> {
        let req = request(Verb::Delete, group, resource, namespace)
            .named(name)
            .with_delete_options(options);
        self.call(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_lays_the_manifest_over_the_live_object() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "resourceVersion": "7",
                "uid": "u-1", "labels": {"team": "a", "added-by": "someone"},
                "finalizers": ["example.com/keep"]},
            "data": {"old": "1", "kept": "no"}});
        let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "labels": {"team": "b"}},
            "data": {"new": "2"}});
        let merged = overlay(&live, &manifest);
        // The manifest's data replaces the live data whole.
        assert_eq!(merged["data"], json!({"new": "2"}));
        // The update goes on the version read, with the server's metadata kept.
        assert_eq!(merged["metadata"]["resourceVersion"], "7");
        assert_eq!(merged["metadata"]["uid"], "u-1");
        assert_eq!(
            merged["metadata"]["finalizers"],
            json!(["example.com/keep"])
        );
        assert_eq!(
            merged["metadata"]["labels"],
            json!({"team": "b", "added-by": "someone"})
        );
    }

    #[test]
    fn errors_say_what_kubectl_says() {
        let e = KubectlError::from(CallError::NoAnswer);
        assert!(e.no_answer() && e.api().is_none());
        let unmapped = Kubectl::mapping(&json!({"apiVersion": "v1", "kind": "Gizmo"}));
        assert!(
            matches!(unmapped, Err(KubectlError::NoMapping(_))),
            "{unmapped:?}"
        );
        assert_eq!(
            KubectlError::NoName.to_string(),
            "resource name may not be empty"
        );
    }
}
