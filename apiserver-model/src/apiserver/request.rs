//! A request to the API server and its answer, as kube-apiserver's handler chain sees them
//! once the URL is parsed: who (a bearer token), what (verb, resource, namespace, name),
//! and the body.

use serde_json::Value;

use crate::status::ApiError;
use crate::verb::Verb;
use crate::watch_cache::Filter;

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
    /// A list's or watch's resourceVersion and filter.
    pub list: ListOptions,
}

/// How a list's resourceVersion is to be matched (`resourceVersionMatch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionMatch {
    /// At least this version (the default when a version is given): from the watch cache,
    /// once it has caught up.
    #[default]
    NotOlderThan,
    /// Exactly this version: from etcd, at that revision (410 if compacted).
    Exact,
}

/// A list's or watch's options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `resourceVersion`: `None` (or `""`) for the most recent (a quorum read from etcd),
    /// `"0"` for anything the cache has, else a version.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub version_match: VersionMatch,
    /// Label and field selectors (and the namespace, taken from the request).
    pub filter: Filter,
    /// A watch's `allowWatchBookmarks`: send a BOOKMARK now and then on a quiet stream.
    pub allow_bookmarks: bool,
    /// A watch's `timeoutSeconds`: the server ends it after this long (none: its own
    /// choice, between `--min-request-timeout` and twice that).
    pub timeout_seconds: Option<u64>,
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
            list: ListOptions::default(),
        }
    }

    /// Listing or watching from `resource_version`, matched as `version_match`.
    pub fn at_version(mut self, resource_version: &str, version_match: VersionMatch) -> Self {
        self.list.resource_version = Some(resource_version.to_string());
        self.list.version_match = version_match;
        self
    }

    /// Only objects `filter` passes.
    pub fn filtered(mut self, filter: Filter) -> Self {
        self.list.filter = filter;
        self
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
