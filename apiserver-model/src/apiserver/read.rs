//! Reads: get (a quorum read from etcd, as a get with no resourceVersion is) and list,
//! with Kubernetes' resourceVersion semantics.

use raft::etcd::{EtcdError, KeyRange, RangeRequest, Revision};
use serde_json::{json, Value};

use super::{backend_error, ApiServer, Backend, BackendError, Reply, Request, VersionMatch};
use crate::resource::Resource;
use crate::status::{ApiError, Target};
use crate::storage::{self, Stored};
use crate::watch_cache::Filter;

impl<B: Backend> ApiServer<B> {
    /// The object at `name` in `namespace`, if it exists.
    pub(super) async fn read(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Stored>, ApiError> {
        let key = resource.key(namespace, name);
        let (kvs, _) = self
            .backend
            .range(RangeRequest::latest(KeyRange::key(&key)))
            .await
            .map_err(backend_error)?;
        kvs.first()
            .map(storage::decode)
            .transpose()
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// GET of one object, with a get's resourceVersion semantics (Kubernetes API concepts,
    /// "Semantics for get"): none is the most recent, a quorum read from etcd; `"0"` is any
    /// version, served from the watch cache; another version is "not older than", served
    /// from the cache once it has reached that version. That is the cacher's `Get`
    /// (`k8s.io/apiserver/pkg/storage/cacher/cacher.go`): an empty resourceVersion goes to
    /// storage, any other waits until the cache is fresh enough (up to 3 s, then "Too large
    /// resource version") and answers from it; with no cache yet, storage answers.
    /// (resourceVersionMatch is a list option only; a get ignores it.)
    ///
    /// The planted bug `quorum-get-from-cache` answers a get with no resourceVersion from
    /// the cache as well: an API server whose cache lags (cut off from etcd, or behind its
    /// watch) then answers a quorum read with a past state.
    pub(super) async fn get(&self, resource: &Resource, request: &Request) -> Reply {
        let name = request.name.as_deref().unwrap_or("");
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        let not_found = || ApiError::NotFound {
            target: Target::new(resource, Some(name)),
        };
        let version = request
            .list
            .resource_version
            .as_deref()
            .filter(|v| !v.is_empty());
        let asked = match version {
            None if !self.quorum_get_from_cache.get() => None,
            None | Some("0") => Some(Revision::NONE),
            Some(v) => Some(v.parse().map(Revision).map_err(|_| {
                ApiError::BadRequest(format!("invalid resourceVersion {v:?}: not a number"))
            })?),
        };
        if let Some(asked) = asked {
            let key = resource.key(namespace, name);
            let cached = self
                .caches
                .borrow()
                .get(&(resource.group, resource.plural))
                .map(|c| {
                    if c.revision() >= asked {
                        Ok(c.get(&key).cloned())
                    } else {
                        Err(c.revision())
                    }
                });
            match cached {
                Some(Ok(object)) => return object.ok_or_else(not_found),
                // The component waits before it asks (as for a list).
                Some(Err(current)) => {
                    return Err(ApiError::Timeout(format!(
                        "Too large resource version: {}, current: {}",
                        asked.0, current.0
                    )))
                }
                None => {}
            }
        }
        match self.read(resource, namespace, name).await? {
            Some(stored) => Ok(stored.object),
            None => Err(not_found()),
        }
    }

    pub(super) async fn list(&self, resource: &Resource, request: &Request) -> Reply {
        let mut filter = request.list.filter.clone();
        filter.namespace = request.namespace.clone().filter(|_| resource.namespaced);
        let version = request
            .list
            .resource_version
            .as_deref()
            .filter(|v| !v.is_empty());
        let (items, revision) = match version {
            None => {
                self.list_from_etcd(resource, &filter, Revision::NONE)
                    .await?
            }
            Some("0") => {
                let from_cache = self
                    .caches
                    .borrow()
                    .get(&(resource.group, resource.plural))
                    .map(|c| c.list(&filter));
                match from_cache {
                    Some(listed) => listed,
                    // No cache yet: etcd has everything the cache would.
                    None => {
                        self.list_from_etcd(resource, &filter, Revision::NONE)
                            .await?
                    }
                }
            }
            Some(v) => {
                let asked = v.parse().map(Revision).map_err(|_| {
                    ApiError::BadRequest(format!("invalid resourceVersion {v:?}: not a number"))
                })?;
                match request.list.version_match {
                    VersionMatch::Exact => self.list_from_etcd(resource, &filter, asked).await?,
                    VersionMatch::NotOlderThan => {
                        let cached = self
                            .caches
                            .borrow()
                            .get(&(resource.group, resource.plural))
                            .map(|c| {
                                if c.revision() >= asked {
                                    Ok(c.list(&filter))
                                } else {
                                    Err(c.revision())
                                }
                            });
                        match cached {
                            Some(Ok(listed)) => listed,
                            // kube-apiserver waits up to 3 s for its cache, then says this;
                            // the component waits before it asks.
                            Some(Err(current)) => {
                                return Err(ApiError::Timeout(format!(
                                    "Too large resource version: {}, current: {}",
                                    asked.0, current.0
                                )))
                            }
                            None => {
                                self.list_from_etcd(resource, &filter, Revision::NONE)
                                    .await?
                            }
                        }
                    }
                }
            }
        };
        Ok(json!({
            "apiVersion": resource.api_version,
            "kind": format!("{}List", resource.kind),
            "metadata": {"resourceVersion": revision.0.to_string()},
            "items": items,
        }))
    }

    /// The objects of `resource` passing `filter`, read from etcd at `at` (`NONE`: the
    /// latest, linearizable), and the revision read at.
    async fn list_from_etcd(
        &self,
        resource: &Resource,
        filter: &Filter,
        at: Revision,
    ) -> Result<(Vec<Value>, Revision), ApiError> {
        let prefix = match &filter.namespace {
            Some(ns) => format!("{}{ns}/", resource.key_prefix()),
            None => resource.key_prefix(),
        };
        let mut range = RangeRequest::latest(KeyRange::prefix(prefix));
        range.revision = at;
        let (kvs, header) = self.backend.range(range).await.map_err(|e| match e {
            BackendError::Refused(EtcdError::Compacted { compact_revision }) => ApiError::Gone {
                requested: at.0,
                oldest: compact_revision.0,
            },
            other => backend_error(other),
        })?;
        let mut items = Vec::new();
        for kv in &kvs {
            let stored = storage::decode(kv).map_err(|e| ApiError::Internal(e.to_string()))?;
            if filter.matches(&stored.object) {
                items.push(stored.object);
            }
        }
        let revision = if at == Revision::NONE { header } else { at };
        Ok((items, revision))
    }
}
