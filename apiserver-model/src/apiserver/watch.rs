//! Watches, and the caches behind them, as kube-apiserver's cacher keeps them: every
//! resource's cache filled by one list of `/registry/` and then fed by one etcd watch of it,
//! each event routed to its resource's cache by the key's plural; a watch request checked
//! (authentication, RBAC and audit as for any request), then served from the cache.
//!
//! One etcd watch for every resource rather than one each: etcd's traffic is then one
//! stream, and every cache advances to the revision of every event (or progress
//! notification), so a NotOlderThan list of a quiet resource is served as soon as any
//! resource has moved past the version asked for, as kube-apiserver's consistent reads from
//! cache do with progress notifications.

use raft::etcd::{Event, KeyRange, RangeRequest, Revision};
use serde_json::Value;

use super::{backend_error, ApiServer, Backend, Request};
use crate::rbac::Rbac;
use crate::resource::{self, Resource};
use crate::status::ApiError;
use crate::watch_cache::{Filter, WatchCache, WatchEvent};

/// The prefix every object's key starts with.
pub const REGISTRY_PREFIX: &str = "/registry/";

/// The resource whose objects live under `key` (`/registry/<plural>/...`).
pub fn resource_of_key(key: &str) -> Option<&'static Resource> {
    let plural = key.strip_prefix(REGISTRY_PREFIX)?.split('/').next()?;
    resource::all().iter().find(|r| r.plural == plural)
}

/// Where a watch starts and what it sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchStart {
    /// The resource.
    pub resource: &'static Resource,
    /// Events after this revision (0: the current objects as ADDED first).
    pub from: Revision,
    /// Which objects.
    pub filter: Filter,
}

impl<B: Backend> ApiServer<B> {
    /// Lists every object in etcd and starts every resource's cache at that revision; the
    /// caller then watches `/registry/` from the revision after it and [`ApiServer::feed_all`]s.
    ///
    /// # Errors
    ///
    /// When etcd does not answer, or holds what is not an object.
    pub async fn prime_all(&self) -> Result<Revision, ApiError> {
        let (kvs, revision) = self
            .backend
            .range(RangeRequest::latest(KeyRange::prefix(REGISTRY_PREFIX)))
            .await
            .map_err(backend_error)?;
        let mut caches = std::collections::BTreeMap::new();
        for r in resource::all() {
            let prefix = r.key_prefix();
            let mine: Vec<_> = kvs
                .iter()
                .filter(|kv| kv.key.starts_with(&prefix))
                .cloned()
                .collect();
            let cache = WatchCache::from_list(&mine, revision)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            caches.insert((r.group, r.plural), cache);
        }
        *self.caches.borrow_mut() = caches;
        Ok(revision)
    }

    /// Feeds etcd watch events (whole revisions, in order) of `/registry/` to the caches of
    /// their resources, and moves every cache to `header_revision`. Returns the resources
    /// that changed. Keys of no known resource are skipped (nothing serves them).
    ///
    /// # Errors
    ///
    /// When a cache was never primed, or a value is not an object.
    pub fn feed_all(
        &self,
        events: &[Event],
        header_revision: Revision,
        now_ms: u64,
    ) -> Result<Vec<&'static Resource>, ApiError> {
        let mut changed: Vec<&'static Resource> = Vec::new();
        let mut caches = self.caches.borrow_mut();
        // Events of one resource in a row go in together (a txn's are one revision).
        let mut start = 0;
        while start < events.len() {
            let resource = resource_of_key(&events[start].kv.key);
            let mut end = start + 1;
            while end < events.len() && resource_of_key(&events[end].kv.key) == resource {
                end += 1;
            }
            if let Some(r) = resource {
                let cache = caches.get_mut(&(r.group, r.plural)).ok_or_else(|| {
                    ApiError::Internal(format!("no watch cache for {}", r.plural))
                })?;
                cache
                    .apply(&events[start..end], now_ms)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                if !changed.contains(&r) {
                    changed.push(r);
                }
            }
            start = end;
        }
        for cache in caches.values_mut() {
            cache.progress(header_revision);
        }
        Ok(changed)
    }

    /// The revision the caches are complete up to (none before [`ApiServer::prime_all`]).
    pub fn cache_revision(&self) -> Option<Revision> {
        self.caches
            .borrow()
            .values()
            .map(WatchCache::revision)
            .min()
    }

    /// The objects `resource`'s cache holds (empty before priming).
    pub fn cached(&self, resource: &Resource) -> Vec<Value> {
        self.caches
            .borrow()
            .get(&(resource.group, resource.plural))
            .map(|c| c.list(&Filter::default()).0)
            .unwrap_or_default()
    }

    /// The RBAC policy the caches hold (objects that do not decode are left out: the API
    /// validated them when they were written).
    pub fn rbac_from_cache(&self) -> Rbac {
        fn typed<T: serde::de::DeserializeOwned>(objects: Vec<Value>) -> Vec<T> {
            objects
                .into_iter()
                .filter_map(|o| serde_json::from_value(o).ok())
                .collect()
        }
        let of = |plural| {
            resource::by_plural("rbac.authorization.k8s.io", plural)
                .map(|r| self.cached(r))
                .unwrap_or_default()
        };
        Rbac {
            roles: typed(of("roles")),
            cluster_roles: typed(of("clusterroles")),
            role_bindings: typed(of("rolebindings")),
            cluster_role_bindings: typed(of("clusterrolebindings")),
        }
    }

    /// Checks a watch request past authentication and RBAC (audited as any request) and
    /// where it starts; the events come from [`ApiServer::watch_events`].
    ///
    /// # Errors
    ///
    /// As any request (401, 403, 404 for an unknown resource), 400 for a version that is
    /// not a number, 410 Gone for one older than the cache's window.
    pub async fn open_watch(
        &self,
        request: &Request,
        now: sim_core::SimTime,
    ) -> (Result<WatchStart, ApiError>, u16) {
        let (reply, code) = self.handle_coded(request, now).await;
        let start = reply.and_then(|_| self.watch_start(request));
        match start {
            Ok(start) => (Ok(start), code),
            Err(e) => {
                let code = e.code();
                (Err(e), code)
            }
        }
    }

    /// What a watch request asks for, checked against the cache (the authorized part of
    /// [`ApiServer::open_watch`], also run by `dispatch` so the audit record has the code).
    pub(super) fn watch_start(&self, request: &Request) -> Result<WatchStart, ApiError> {
        let resource = resource::by_plural(&request.group, &request.resource)
            .ok_or(ApiError::NoSuchResource)?;
        let mut filter = request.list.filter.clone();
        filter.namespace = request.namespace.clone().filter(|_| resource.namespaced);
        let from = match request.list.resource_version.as_deref() {
            None | Some("") | Some("0") => Revision::NONE,
            Some(v) => v.parse().map(Revision).map_err(|_| {
                ApiError::BadRequest(format!("invalid resourceVersion {v:?}: not a number"))
            })?,
        };
        // Checked now so the refusal is this request's answer.
        self.watch_events(resource, from, &filter)?;
        Ok(WatchStart {
            resource,
            from,
            filter,
        })
    }

    /// The events a watch of `resource` from `from` (exclusive) sees now.
    ///
    /// # Errors
    ///
    /// 410 Gone when `from` has left the window; 500 before the caches are primed.
    pub fn watch_events(
        &self,
        resource: &Resource,
        from: Revision,
        filter: &Filter,
    ) -> Result<Vec<WatchEvent>, ApiError> {
        let caches = self.caches.borrow();
        let cache = caches
            .get(&(resource.group, resource.plural))
            .ok_or_else(|| ApiError::Internal(format!("no watch cache for {}", resource.plural)))?;
        cache.watch_from(from, filter)
    }

    /// A bookmark at `resource`'s cache revision.
    pub fn bookmark(&self, resource: &Resource) -> Option<WatchEvent> {
        self.caches
            .borrow()
            .get(&(resource.group, resource.plural))
            .map(WatchCache::bookmark)
    }
}
