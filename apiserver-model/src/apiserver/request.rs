//! A request to the API server and its answer, as kube-apiserver's handler chain sees them
//! once the URL is parsed: who (a bearer token), what (verb, resource, namespace, name),
//! and the body.

use serde_json::Value;

use crate::status::ApiError;
use crate::verb::Verb;

/// One API request.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The bearer token, `None` for no `Authorization` header.
    pub token: Option<String>,
    /// The verb.
    pub verb: Verb,
    /// The API group (`""` for core, `apps`, ...).
    pub group: String,
    /// The resource, plural (`pods`).
    pub resource: String,
    /// A subresource (`binding`, `status`).
    pub subresource: Option<String>,
    /// The namespace; `None` for a cluster-scoped resource.
    pub namespace: Option<String>,
    /// The object's name; `None` for a create or a collection.
    pub name: Option<String>,
    /// The object sent (create, update).
    pub body: Option<Value>,
}

impl Request {
    /// A request of `verb` on `group`/`resource` with no body, name or namespace.
    pub fn new(token: Option<&str>, verb: Verb, group: &str, resource: &str) -> Self {
        Request {
            token: token.map(str::to_string),
            verb,
            group: group.to_string(),
            resource: resource.to_string(),
            subresource: None,
            namespace: None,
            name: None,
            body: None,
        }
    }

    /// In namespace `ns`.
    pub fn in_namespace(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.to_string());
        self
    }

    /// Naming object `name`.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Of subresource `sub`.
    pub fn subresource(mut self, sub: &str) -> Self {
        self.subresource = Some(sub.to_string());
        self
    }

    /// Carrying `body`.
    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// The API server's answer.
pub type Reply = Result<Value, ApiError>;
