//! The API server's request path, as kube-apiserver's handler chain runs it:
//! authentication, RBAC authorization, then per verb decoding, defaulting, mutating
//! admission (DefaultTolerationSeconds), validation, validating admission
//! (NamespaceLifecycle, ResourceQuota), and storage in etcd with optimistic concurrency.
//! Every request leaves an [`AuditRecord`], refused or not.
//!
//! The server is stateless: everything it knows is in etcd, read through its [`Backend`]
//! (the etcd client over the simulated network), so cutting it off from etcd is a fault
//! like any other. Its RBAC policy is handed to it ([`ApiServer::set_rbac`]) by whoever
//! watches the RBAC objects.
//!
//! Served: create, get, list, watch, update, patch and delete of every resource, update and
//! patch of the `status` subresource, and the pods' `binding` subresource. Gets and lists
//! follow Kubernetes' resourceVersion semantics: none is a quorum read from etcd, `"0"`
//! whatever the watch cache holds, a version (NotOlderThan) the cache once it has caught
//! up; a list with Exact reads etcd at that revision. The caches are primed and fed by whoever runs the server
//! ([`ApiServer::prime`], [`ApiServer::feed`]).
//!
//! Writes to an existing object go through kube-apiserver's GuaranteedUpdate: made from the
//! object read, written conditional on its revision, made again from the new state when
//! another write got in first (a write without a resourceVersion does not conflict; one with
//! a stale resourceVersion is 409), and not written at all when nothing changes. Delete
//! follows the generic registry: preconditions, propagation finalizers (`orphan`,
//! `foregroundDeletion`) with each kind's default, graceful deletion of pods, objects held
//! by their finalizers until an update empties them (the `delete` and `patch` modules say
//! how, each after the kube-apiserver code it follows).

mod audit;
mod backend;
pub mod bootstrap;
mod delete;
mod patch;
mod process;
mod read;
mod request;
mod watch;
mod write;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::Value;
use sim_core::SimTime;

pub use audit::{AuditRecord, AuthzDecision};
pub use backend::{Backend, BackendError};
pub use delete::{default_gc_policy, GcPolicy};
pub use process::{run_apiserver, ApiServerConfig, API_PORT};
pub use request::{
    DeleteOptions, ListOptions, PatchType, Preconditions, Propagation, Reply, Request, VersionMatch,
};
pub use watch::{resource_of_key, WatchStart, REGISTRY_PREFIX};

use crate::authn::Authenticator;
use crate::rbac::{Attributes, Decision, Rbac};
use crate::resource::{self, Resource};
use crate::status::{ApiError, Target};
use crate::verb::Verb;
use crate::watch_cache::WatchCache;

/// Virtual time 0 as a wall date, for `creationTimestamp` and the like: 2026-01-01T00:00:00Z
/// (any fixed date would do; one near today reads naturally in a manifest).
pub const EPOCH_MS: i64 = 1_767_225_600_000;

/// A time `us` microseconds after [`EPOCH_MS`] as Kubernetes writes it: RFC 3339 to the
/// second (`metav1.Time`) or to the microsecond (`metav1.MicroTime`, a Lease's renewTime).
pub fn rfc3339(us: i64, micros: bool) -> String {
    let us = EPOCH_MS * 1000 + us;
    let us = if micros {
        us
    } else {
        us - us.rem_euclid(1_000_000)
    };
    match k8s_openapi::jiff::Timestamp::from_microsecond(us) {
        Ok(t) if micros => format!("{t:.6}"),
        Ok(t) => t.to_string(),
        Err(_) => String::new(),
    }
}

/// How many times a create retries charging a quota whose usage another request changed
/// under it before giving up with the conflict.
const QUOTA_RETRIES: usize = 5;

/// One API server instance.
#[derive(Debug)]
pub struct ApiServer<B> {
    /// Its name (`apiserver-1`), the prefix of the uids it gives out.
    name: String,
    backend: B,
    authn: Authenticator,
    rbac: RefCell<Rbac>,
    audit: RefCell<Vec<AuditRecord>>,
    /// Objects created so far: uids are `<name>-<n>`, unique across servers, and the same
    /// in every run of a seed.
    created: Cell<u64>,
    /// The watch caches, by resource (`group/plural`), once primed.
    caches: RefCell<BTreeMap<(&'static str, &'static str), WatchCache>>,
    /// Bindings stored since the last [`ApiServer::take_bindings`].
    bindings: RefCell<Vec<Bound>>,
    /// Planted bug `bind-without-precondition`: a binding does not check that the pod has
    /// no node yet, so a second binding moves a bound pod.
    bind_without_precondition: Cell<bool>,
    /// Planted bug `quorum-get-from-cache`: a get with no resourceVersion (a quorum read)
    /// is answered from the watch cache, which may lag etcd.
    quorum_get_from_cache: Cell<bool>,
}

/// A binding the server stored: which pod (its uid) went to which node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// `namespace/name`.
    pub pod: String,
    /// The pod's uid.
    pub uid: String,
    /// The node.
    pub node: String,
}

impl<B: Backend> ApiServer<B> {
    /// A server named `name` storing in `backend`.
    pub fn new(name: &str, backend: B, authn: Authenticator, rbac: Rbac) -> Self {
        ApiServer {
            name: name.to_string(),
            backend,
            authn,
            rbac: RefCell::new(rbac),
            audit: RefCell::new(Vec::new()),
            created: Cell::new(0),
            caches: RefCell::new(BTreeMap::new()),
            bindings: RefCell::new(Vec::new()),
            bind_without_precondition: Cell::new(false),
            quorum_get_from_cache: Cell::new(false),
        }
    }

    /// Replaces the RBAC policy in force.
    pub fn set_rbac(&self, rbac: Rbac) {
        *self.rbac.borrow_mut() = rbac;
    }

    /// The bindings stored since the last call.
    pub fn take_bindings(&self) -> Vec<Bound> {
        std::mem::take(&mut *self.bindings.borrow_mut())
    }

    /// Plants (or removes) the bug `bind-without-precondition`.
    pub fn set_bind_without_precondition(&self, on: bool) {
        self.bind_without_precondition.set(on);
    }

    /// Plants (or removes) the bug `quorum-get-from-cache`.
    pub fn set_quorum_get_from_cache(&self, on: bool) {
        self.quorum_get_from_cache.set(on);
    }

    /// The audit records written since the last call.
    pub fn take_audit(&self) -> Vec<AuditRecord> {
        std::mem::take(&mut *self.audit.borrow_mut())
    }

    /// Lists `resource` from etcd and starts its watch cache at that revision; the caller
    /// then watches etcd from the revision returned and [`ApiServer::feed`]s the cache.
    ///
    /// # Errors
    ///
    /// When etcd does not answer, or holds what is not an object.
    pub async fn prime(
        &self,
        resource: &'static Resource,
    ) -> Result<raft::etcd::Revision, ApiError> {
        let (kvs, revision) = self
            .backend
            .range(raft::etcd::RangeRequest::latest(
                raft::etcd::KeyRange::prefix(resource.key_prefix()),
            ))
            .await
            .map_err(backend_error)?;
        let cache =
            WatchCache::from_list(&kvs, revision).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.caches
            .borrow_mut()
            .insert((resource.group, resource.plural), cache);
        Ok(revision)
    }

    /// Feeds etcd watch events of `resource` to its cache.
    ///
    /// # Errors
    ///
    /// When the cache was never primed, or a value is not an object.
    pub fn feed(
        &self,
        resource: &Resource,
        events: &[raft::etcd::Event],
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let mut caches = self.caches.borrow_mut();
        let cache = caches
            .get_mut(&(resource.group, resource.plural))
            .ok_or_else(|| ApiError::Internal(format!("no watch cache for {}", resource.plural)))?;
        cache
            .apply(events, now_ms)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Serves `request` at virtual time `now`.
    pub async fn handle(&self, request: &Request, now: SimTime) -> Reply {
        self.handle_coded(request, now).await.0
    }

    /// Serves `request` at virtual time `now`: the answer and its HTTP code.
    pub async fn handle_coded(&self, request: &Request, now: SimTime) -> (Reply, u16) {
        let (reply, user, decision) = self.serve(request, now).await;
        let code = reply_code(request, &reply);
        self.audit.borrow_mut().push(AuditRecord {
            user,
            verb: request.verb,
            resource: crate::wire::resource_label(request),
            namespace: request.namespace.clone(),
            name: crate::wire::request_name(request),
            decision,
            code,
        });
        (reply, code)
    }

    async fn serve(&self, request: &Request, now: SimTime) -> (Reply, String, AuthzDecision) {
        let user = match self.authn.authenticate(request.token.as_deref()) {
            Ok(user) => user,
            Err(e) => return (Err(e), String::new(), AuthzDecision::Unauthenticated),
        };
        let Some(resource) = resource::by_plural(&request.group, &request.resource) else {
            return (
                Err(ApiError::NoSuchResource),
                user.name,
                AuthzDecision::Deny,
            );
        };
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        let attributes = Attributes {
            verb: request.verb,
            group: resource.group,
            resource: resource.plural,
            subresource: request.subresource.as_deref(),
            namespace,
            name: request.name.as_deref(),
        };
        let decision = match self.rbac.borrow().authorize(&user, &attributes) {
            Decision::Allow(by) => AuthzDecision::Allow(by),
            Decision::Deny => {
                let mut target = Target::new(resource, request.name.as_deref());
                target.subresource = subresource_name(request);
                let e = ApiError::Forbidden {
                    target: Box::new(target),
                    user: user.name.clone(),
                    verb: request.verb,
                    namespace: namespace.map(str::to_string),
                };
                return (Err(e), user.name, AuthzDecision::Deny);
            }
        };
        let reply = self.dispatch(resource, request, now).await;
        (reply, user.name, decision)
    }

    async fn dispatch(
        &self,
        resource: &'static Resource,
        request: &Request,
        now: SimTime,
    ) -> Reply {
        if resource.namespaced
            && request.namespace.is_none()
            && !matches!(request.verb, Verb::List | Verb::Watch)
        {
            return Err(ApiError::BadRequest(format!(
                "{} is namespaced: the request must name a namespace",
                resource.plural
            )));
        }
        match (request.verb, request.subresource.as_deref()) {
            (Verb::Create, None) => self.create(resource, request, now).await,
            (Verb::Create, Some("binding")) if resource.plural == "pods" => {
                self.bind(resource, request).await
            }
            (Verb::Get, None) => self.get(resource, request).await,
            (Verb::List, None) => self.list(resource, request).await,
            (Verb::Update, None) => self.update(resource, request).await,
            (Verb::Update, Some("status")) if write::has_status(resource) => {
                self.update_status(resource, request).await
            }
            (Verb::Patch, None) => self.patch(resource, request, write::Part::Whole).await,
            (Verb::Patch, Some("status")) if write::has_status(resource) => {
                self.patch(resource, request, write::Part::Status).await
            }
            (Verb::Delete, None) => self.delete(resource, request, now).await,
            (Verb::Watch, None) => self.watch_start(request).map(|_| Value::Null),
            _ => Err(ApiError::MethodNotAllowed),
        }
    }

    /// The next uid this server gives out.
    fn next_uid(&self) -> String {
        let n = self.created.get() + 1;
        self.created.set(n);
        format!("{}-{n:06}", self.name)
    }
}

/// The HTTP code of `reply` to `request`: 201 for a created object, 200 for another
/// success, the error's own otherwise.
pub fn reply_code(request: &Request, reply: &Reply) -> u16 {
    match reply {
        Ok(_) if request.verb == Verb::Create => 201,
        Ok(_) => 200,
        Err(e) => e.code(),
    }
}

/// A subresource name as the `'static` str RBAC messages carry (the few the API serves).
fn subresource_name(request: &Request) -> Option<&'static str> {
    match request.subresource.as_deref()? {
        "binding" => Some("binding"),
        "status" => Some("status"),
        "scale" => Some("scale"),
        "eviction" => Some("eviction"),
        _ => Some("unknown"),
    }
}

/// An etcd failure as the API answers it.
fn backend_error(e: BackendError) -> ApiError {
    match e {
        BackendError::Timeout => ApiError::Timeout(e.to_string()),
        BackendError::Refused(_) | BackendError::Unexpected(_) => ApiError::Internal(e.to_string()),
    }
}

#[cfg(test)]
mod delete_tests;
#[cfg(test)]
mod tests;
