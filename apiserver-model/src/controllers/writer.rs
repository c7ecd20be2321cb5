//! The controllers' writes, through one place: each goes out only while the term that
//! decided it still runs (a controller-manager that lost its Lease exits, and its pending
//! writes die with it), and each carries the resourceVersion the decision was made on,
//! unless the planted bug `lease-without-fencing` drops it.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::Value;

use crate::apiserver::{DeleteOptions, Preconditions, Request};
use crate::client::{ApiClient, CallError};
use crate::verb::Verb;

/// Why a controller's write did not take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The term that decided it is over (leadership lost): never sent.
    #[error("the controller-manager stopped leading")]
    Stopped,
    /// The API refused it or did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// Where a controller's writes go (see the module docs).
#[derive(Clone, Debug)]
pub struct Writer {
    client: ApiClient,
    alive: Rc<Cell<bool>>,
    fencing: bool,
}

fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object["metadata"][field].as_str().unwrap_or("")
}

impl Writer {
    /// Writes through `client` while `alive`; `fencing`: keep resourceVersion
    /// preconditions.
    pub fn new(client: ApiClient, alive: Rc<Cell<bool>>, fencing: bool) -> Self {
        Writer {
            client,
            alive,
            fencing,
        }
    }

    /// Sends `request` if the term still runs.
    ///
    /// # Errors
    ///
    /// [`WriteError::Stopped`] after the term; the API's refusal or no answer.
    pub async fn call(&self, request: Request) -> Result<Value, WriteError> {
        if !self.alive.get() {
            return Err(WriteError::Stopped);
        }
        Ok(self.client.call(request).await?)
    }

    /// Creates `object` in `group`/`resource` (its namespace from the object).
    ///
    /// # Errors
    ///
    /// As [`Writer::call`].
    pub async fn create(
        &self,
        group: &str,
        resource: &str,
        object: Value,
    ) -> Result<Value, WriteError> {
        let mut request = Request::new(None, Verb::Create, group, resource);
        let ns = meta_str(&object, "namespace");
        if !ns.is_empty() {
            request = request.in_namespace(ns);
        }
        self.call(request.with_body(object)).await
    }

    /// Replaces `object` (or, with `subresource`, that part of it), on the
    /// resourceVersion it carries when fencing.
    ///
    /// # Errors
    ///
    /// As [`Writer::call`]; 409 Conflict when the object changed since it was read.
    pub async fn update(
        &self,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        mut object: Value,
    ) -> Result<Value, WriteError> {
        if !self.fencing {
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
        }
        let mut request =
            Request::new(None, Verb::Update, group, resource).named(meta_str(&object, "name"));
        let ns = meta_str(&object, "namespace");
        if !ns.is_empty() {
            request = request.in_namespace(ns);
        }
        if let Some(sub) = subresource {
            request = request.subresource(sub);
        }
        self.call(request.with_body(object)).await
    }

    /// Deletes `namespace/name` of `group`/`resource`.
    ///
    /// # Errors
    ///
    /// As [`Writer::call`].
    pub async fn delete(
        &self,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, WriteError> {
        let mut request = Request::new(None, Verb::Delete, group, resource).named(name);
        if !namespace.is_empty() {
            request = request.in_namespace(namespace);
        }
        self.call(request).await
    }

    /// Deletes `namespace/name` of `group`/`resource` with `options` (their resourceVersion
    /// precondition dropped when not fencing).
    ///
    /// # Errors
    ///
    /// As [`Writer::call`]; 409 Conflict when a precondition fails.
    pub async fn delete_with(
        &self,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
        mut options: DeleteOptions,
    ) -> Result<Value, WriteError> {
        if !self.fencing {
            if let Some(p) = options.preconditions.as_mut() {
                p.resource_version = None;
            }
        }
        let mut request = Request::new(None, Verb::Delete, group, resource)
            .named(name)
            .with_delete_options(options);
        if !namespace.is_empty() {
            request = request.in_namespace(namespace);
        }
        self.call(request).await
    }

    /// Deletes `namespace/name` of `group`/`resource` if it is still the object with `uid`
    /// at `resource_version`.
    ///
    /// # Errors
    ///
    /// As [`Writer::delete_with`].
    pub async fn delete_on(
        &self,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
        uid: &str,
        resource_version: &str,
    ) -> Result<Value, WriteError> {
        let options = DeleteOptions {
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: Some(resource_version.to_string()),
            }),
            ..DeleteOptions::default()
        };
        self.delete_with(group, resource, namespace, name, options)
            .await
    }

    /// The client (reads that must not come from an informer: the garbage collector's
    /// check that an owner is really gone).
    pub fn client(&self) -> &ApiClient {
        &self.client
    }
}
