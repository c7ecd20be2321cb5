//! Reads: get (a quorum read from etcd, as a get with no resourceVersion is).

use raft::etcd::{KeyRange, RangeRequest};

use super::{backend_error, ApiServer, Backend, Reply, Request};
use crate::resource::Resource;
use crate::status::{ApiError, Target};
use crate::storage::{self, Stored};

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

    pub(super) async fn get(&self, resource: &Resource, request: &Request) -> Reply {
        let name = request.name.as_deref().unwrap_or("");
        match self
            .read(resource, request.namespace.as_deref(), name)
            .await?
        {
            Some(stored) => Ok(stored.object),
            None => Err(ApiError::NotFound {
                target: Target::new(resource, Some(name)),
            }),
        }
    }
}
