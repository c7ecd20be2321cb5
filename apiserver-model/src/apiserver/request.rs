//! A request to the API server and its answer, as kube-apiserver's handler chain sees them
//! once the URL is parsed: who (a bearer token), what (verb, resource, namespace, name),
//! the body, and the options a verb takes from the query or the body (a list's
//! resourceVersion, a delete's `DeleteOptions`, a patch's content type).

use serde::{Deserialize, Serialize};
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
    /// A delete's options (the `DeleteOptions` body kubectl and client-go send).
    pub delete: DeleteOptions,
    /// A patch's format: the request's `Content-Type`. A patch request carries the patch
    /// document in [`Request::body`]; `None` is a body of no patch format (415).
    pub patch_type: Option<PatchType>,
}

/// What becomes of an object's dependents (the objects whose ownerReferences name it) when
/// it is deleted: `metav1.DeletionPropagation`, spelt as Kubernetes spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    /// The dependents stay, their ownerReferences to it removed by the garbage collector
    /// (the `orphan` finalizer holds the owner until it has).
    Orphan,
    /// The owner goes at once; the garbage collector deletes the dependents afterwards.
    Background,
    /// The owner stays, with the `foregroundDeletion` finalizer, until the garbage
    /// collector has deleted the dependents that block it.
    Foreground,
}

/// Conditions the object must still meet for a delete to go ahead
/// (`metav1.Preconditions`): a mismatch is 409 Conflict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// The uid: guards against deleting a namesake created after the one the client saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The resourceVersion: guards against deleting an object changed since it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// A delete's options (`metav1.DeleteOptions`, less dryRun and the deprecated
/// orphanDependents).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    /// What becomes of the dependents; `None` is the kind's default (background for most,
    /// orphan for a few kinds and versions kept so for compatibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_policy: Option<Propagation>,
    /// Seconds the object may take to go (a pod's containers to stop); `None` is the
    /// object's own (a pod's `spec.terminationGracePeriodSeconds`), 0 at once, a negative
    /// value 1 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    /// What the object must still be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Preconditions>,
}

/// A patch's format, as its `Content-Type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902 JSON patch (`application/json-patch+json`): a list of operations.
    Json,
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`): an object merged in,
    /// `null` removing a field, lists replaced whole.
    Merge,
    /// Kubernetes' strategic merge patch (`application/strategic-merge-patch+json`): a
    /// merge patch whose lists of objects merge by a key (containers by name, conditions
    /// by type) where the API type says so.
    StrategicMerge,
}

impl PatchType {
    /// The patch types the API server accepts, in the order kube-apiserver lists them in
    /// its 415 answer.
    pub const ACCEPTED: [PatchType; 3] =
        [PatchType::Json, PatchType::Merge, PatchType::StrategicMerge];

    /// The content type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
        }
    }

    /// The patch type of a `Content-Type` (parameters such as `; charset=utf-8` ignored, as
    /// kube-apiserver ignores them), if it is one served.
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let bare = content_type.split(';').next().unwrap_or("").trim();
        PatchType::ACCEPTED
            .into_iter()
            .find(|t| t.content_type() == bare)
    }
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
            delete: DeleteOptions::default(),
            patch_type: None,
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

    /// A delete with `options`.
    pub fn with_delete_options(mut self, options: DeleteOptions) -> Self {
        self.delete = options;
        self
    }

    /// Carrying the patch document `patch` of format `patch_type` (the request's verb must
    /// be [`Verb::Patch`] to be served as one).
    pub fn with_patch(mut self, patch_type: PatchType, patch: Value) -> Self {
        self.patch_type = Some(patch_type);
        self.body = Some(patch);
        self
    }
}

/// The API server's answer.
pub type Reply = Result<Value, ApiError>;
