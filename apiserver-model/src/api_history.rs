//! API requests as history operations: what an [`ApiClient`](crate::client::ApiClient)
//! with recording on writes into the run's history for each request it sends, and the
//! typed reading of those entries that the API checks (`linearizable-objects`,
//! `resource-version-monotonic`, `stale-update-conflicts`) share.
//!
//! # One operation per request
//!
//! - `f`: the verb, `get`, `list`, `create`, `update`, `patch` or `delete` (watches are
//!   streams, not operations, and are not recorded);
//! - key: the object, `<group>/<resource>/<namespace>/<name>`, the core group spelt `core`
//!   and a cluster-scoped object's namespace empty (`core/namespaces//default`); a list's
//!   key is its collection, `<group>/<resource>/<namespace>` (three parts, an object's four);
//! - invocation value: `{"layer": "kube-api", ...}` with what the checks need: a read's
//!   `resource_version` (`null`, `"0"` or a version) and, for a list, its `match`
//!   (`NotOlderThan`, `Exact`) and whether a selector `filtered` it; a write's `precondition` (the resourceVersion it must find:
//!   an update's body `metadata.resourceVersion`, a delete's `preconditions`, a patch's
//!   `metadata.resourceVersion` when the patch sets one) and its `content` (what it writes,
//!   see [`content`]; a patch's is only known from its answer); a `subresource` if any.
//!
//! # Outcomes (Jepsen's `ok`, `fail`, `info`)
//!
//! - `ok`, value `{"code", "resource_version", "content"}`: the request succeeded (a
//!   delete's also says whether the object is `gone` or only marked for deletion; a list's
//!   has its `items`, each `{"name", "resource_version", "content"}`).
//! - `ok`, value `{"code", "reason"}`: a definite refusal that answers a question about the
//!   object's state: 404 NotFound (it does not exist) and 409 (AlreadyExists: it does;
//!   Conflict: its resourceVersion is not the precondition). Certainly not applied, and
//!   still an observation the checker must explain, as much as a read's: a 409 to an update
//!   on a version is the proof that the version was gone. Jepsen records a failed
//!   compare-and-set as `fail` and so loses that; here it stays.
//! - `fail`, value `{"code", "reason"}`: every other refusal (400, 401, 403, 405, 410, 415,
//!   422). Certainly not applied, and about the request (its credentials, permissions, body,
//!   version) rather than the object's state, so there is nothing for a model to explain:
//!   Knossos and the checker here drop `fail` operations.
//! - `info`, value `{"code", "reason"}` or `{"error": "no answer"}`: a 5xx (the API server
//!   timed out on etcd, 504, or failed inside, 500) or no answer at all. The request may or
//!   may not have taken effect, now or later (etcd may commit a write whose answer was
//!   lost): indeterminate.

use serde_json::{json, Map, Value};
use sim_core::{EntryType, History, NodeId, OpId, OpOutcome, SimTime};

use crate::apiserver::{PatchType, Request, VersionMatch};
use crate::client::CallError;
use crate::status::ApiError;
use crate::verb::Verb;

/// The `layer` field of every recorded invocation: what tells API operations from others
/// (an etcd client's `get` and `delete`) in one history.
pub const LAYER: &str = "kube-api";

/// The group's name in keys: `core` for the core group (`""` in URLs and RBAC rules).
fn group_name(group: &str) -> &str {
    if group.is_empty() {
        "core"
    } else {
        group
    }
}

/// The key of an object: `<group>/<resource>/<namespace>/<name>` (see the module docs).
pub fn object_key(group: &str, resource: &str, namespace: Option<&str>, name: &str) -> String {
    format!(
        "{}/{resource}/{}/{name}",
        group_name(group),
        namespace.unwrap_or("")
    )
}

/// The key of a collection: `<group>/<resource>/<namespace>`.
pub fn collection_key(group: &str, resource: &str, namespace: Option<&str>) -> String {
    format!(
        "{}/{resource}/{}",
        group_name(group),
        namespace.unwrap_or("")
    )
}

/// What an object holds apart from what the server manages: everything but `apiVersion`,
/// `kind`, `metadata` and `status` (a ConfigMap's `data`, a Deployment's `spec`). The
/// content a write sends is the content a later read must show (the checks compare them);
/// the server's metadata (uid, timestamps, generation) and status (written by others
/// through their own subresource) are left out.
pub fn content(object: &Value) -> Value {
    let mut out = Map::new();
    if let Some(o) = object.as_object() {
        for (k, v) in o {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn resource_version(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

/// Whether a delete's answer shows the object still stored, only marked for deletion:
/// finalizers hold it, or a grace period runs (the API server's rule in its delete path).
fn still_there(object: &Value) -> bool {
    let meta = &object["metadata"];
    meta.get("deletionTimestamp").is_some_and(|t| !t.is_null())
        && (meta["finalizers"].as_array().is_some_and(|f| !f.is_empty())
            || meta["deletionGracePeriodSeconds"]
                .as_i64()
                .is_some_and(|g| g > 0))
}

/// One request as the history records it.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The verb.
    pub f: &'static str,
    /// The object's (or collection's) key.
    pub key: String,
    /// What the checks need (see the module docs).
    pub value: Value,
}

/// The history operation of `request`, or `None` for a request that is not one (a watch,
/// a deletecollection, a binding, which is no operation on the pod's content).
pub fn invocation(request: &Request) -> Option<Invocation> {
    let f = match request.verb {
        Verb::Get => "get",
        Verb::List => "list",
        Verb::Create => "create",
        Verb::Update => "update",
        Verb::Patch => "patch",
        Verb::Delete => "delete",
        Verb::Watch | Verb::DeleteCollection => return None,
    };
    if request.subresource.as_deref() == Some("binding") {
        return None;
    }
    let ns = request.namespace.as_deref();
    let body_name = request
        .body
        .as_ref()
        .and_then(|b| b.pointer("/metadata/name"))
        .and_then(Value::as_str);
    let key = match (request.verb, request.name.as_deref().or(body_name)) {
        (Verb::List, _) => collection_key(&request.group, &request.resource, ns),
        (_, Some(name)) => object_key(&request.group, &request.resource, ns, name),
        // A create with a generated name has no key until its answer names it.
        (_, None) => collection_key(&request.group, &request.resource, ns),
    };
    let mut value = json!({"layer": LAYER});
    let v = &mut value;
    if let Some(sub) = &request.subresource {
        v["subresource"] = json!(sub);
    }
    let body = request.body.as_ref();
    match request.verb {
        Verb::Get => {
            v["resource_version"] = json!(request.list.resource_version.as_deref());
        }
        Verb::List => {
            v["resource_version"] = json!(request.list.resource_version.as_deref());
            v["match"] = json!(match request.list.version_match {
                VersionMatch::NotOlderThan => "NotOlderThan",
                VersionMatch::Exact => "Exact",
            });
            let filter = &request.list.filter;
            v["filtered"] = json!(filter.node_name.is_some() || !filter.labels.is_empty());
        }
        Verb::Create => {
            v["content"] = body.map(content).unwrap_or(Value::Null);
        }
        Verb::Update => {
            v["precondition"] = json!(body.and_then(resource_version));
            v["content"] = body.map(content).unwrap_or(Value::Null);
        }
        Verb::Patch => {
            let sets_version = matches!(
                request.patch_type,
                Some(PatchType::Merge | PatchType::StrategicMerge)
            );
            v["precondition"] = json!(body.filter(|_| sets_version).and_then(resource_version));
        }
        Verb::Delete => {
            let p = request.delete.preconditions.as_ref();
            v["precondition"] = json!(p.and_then(|p| p.resource_version.as_deref()));
            v["uid_precondition"] = json!(p.and_then(|p| p.uid.as_deref()));
        }
        Verb::Watch | Verb::DeleteCollection => {}
    }
    Some(Invocation {
        f,
        key: key.to_string(),
        value,
    })
}

/// How a request sent as `verb` ended, as the history records it (see the module docs).
pub fn completion(verb: Verb, result: &Result<Value, CallError>) -> (OpOutcome, Value) {
    match result {
        Ok(answer) if verb == Verb::List => {
            let items: Vec<Value> = answer["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|o| {
                            json!({"name": o["metadata"]["name"],
                                "resource_version": resource_version(o),
                                "content": content(o)})
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                OpOutcome::Ok,
                json!({"code": 200, "resource_version": resource_version(answer),
                    "items": items}),
            )
        }
        Ok(answer) => {
            let code = if verb == Verb::Create { 201 } else { 200 };
            let mut value = json!({"code": code,
                "resource_version": resource_version(answer),
                "content": content(answer)});
            if let Some(name) = answer.pointer("/metadata/name") {
                value["name"] = name.clone();
            }
            if verb == Verb::Delete {
                value["gone"] = json!(!still_there(answer));
            }
            (OpOutcome::Ok, value)
        }
        Err(CallError::Api(e)) => {
            let value = json!({"code": e.code(), "reason": e.reason()});
            let outcome = match e {
                ApiError::NotFound { .. }
                | ApiError::AlreadyExists { .. }
                | ApiError::Conflict { .. } => OpOutcome::Ok,
                _ if e.code() >= 500 => OpOutcome::Info,
                _ => OpOutcome::Fail,
            };
            (outcome, value)
        }
        Err(CallError::NoAnswer) => (OpOutcome::Info, json!({"error": "no answer"})),
    }
}

/// A recorded verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiVerb {
    /// `get`.
    Get,
    /// `list`.
    List,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `patch`.
    Patch,
    /// `delete`.
    Delete,
}

impl ApiVerb {
    const ALL: [ApiVerb; 6] = [
        ApiVerb::Get,
        ApiVerb::List,
        ApiVerb::Create,
        ApiVerb::Update,
        ApiVerb::Patch,
        ApiVerb::Delete,
    ];

    fn parse(f: &str) -> Option<ApiVerb> {
        ApiVerb::ALL.into_iter().find(|v| v.as_str() == f)
    }

    /// The verb as recorded (`get`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVerb::Get => "get",
            ApiVerb::List => "list",
            ApiVerb::Create => "create",
            ApiVerb::Update => "update",
            ApiVerb::Patch => "patch",
            ApiVerb::Delete => "delete",
        }
    }

    /// Whether it writes.
    pub fn writes(self) -> bool {
        !matches!(self, ApiVerb::Get | ApiVerb::List)
    }
}

/// Where a read is served from, by its resourceVersion (Kubernetes API concepts,
/// "Resource versions": semantics for get and list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// No resourceVersion: the most recent state, a quorum read from etcd (linearizable).
    Quorum,
    /// `"0"`: any state, from the watch cache.
    Any,
    /// A version with NotOlderThan (a get's only meaning): from the cache, once it has
    /// reached that version.
    NotOlderThan(u64),
    /// A list's version with Exact: etcd at that revision.
    Exact(u64),
}

/// One object in an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    /// Its resourceVersion.
    pub resource_version: u64,
    /// Its [`content`].
    pub content: Value,
}

/// What an `ok` operation was told.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The object (a read's, or a write's as stored); a delete's `gone` says it was
    /// removed rather than marked.
    Object {
        /// The object.
        seen: Seen,
        /// A delete's: removed (true) or only marked for deletion.
        gone: bool,
    },
    /// A list: the revision it was read at and its items by name.
    List {
        /// The list's resourceVersion.
        resource_version: u64,
        /// The items.
        items: Vec<(String, Seen)>,
    },
    /// 404: no such object.
    NotFound,
    /// 409 AlreadyExists: a create of an object that exists.
    AlreadyExists,
    /// 409 Conflict: the precondition did not hold.
    Conflict,
}

/// One API operation of a history.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiOp {
    /// The operation.
    pub op: OpId,
    /// The client.
    pub client: NodeId,
    /// The verb.
    pub verb: ApiVerb,
    /// The object's or collection's key.
    pub key: String,
    /// A read's source.
    pub read: ReadFrom,
    /// A write's precondition resourceVersion.
    pub precondition: Option<u64>,
    /// A write's content as sent (a create's and update's; `None` for a patch or delete).
    pub content: Option<Value>,
    /// A subresource (`status`).
    pub subresource: Option<String>,
    /// The answer; `None` when indeterminate (`info`, or never completed).
    pub answer: Option<Answer>,
    /// Position of the invocation in the history.
    pub invoke_pos: usize,
    /// Position of the completion; `None` if it never completed.
    pub complete_pos: Option<usize>,
    /// When it was invoked.
    pub invoke_us: SimTime,
    /// When it completed.
    pub complete_us: Option<SimTime>,
    /// The `ok` completion's value as recorded (for reports).
    pub answer_value: Option<Value>,
    /// The invocation's value as recorded.
    pub invoke_value: Value,
}

impl ApiOp {
    /// Whether this operation completed before `other` was invoked (real-time order).
    pub fn precedes(&self, other: &ApiOp) -> bool {
        self.complete_pos.is_some_and(|c| c < other.invoke_pos)
    }

    /// The object this operation's answer shows (a read's, or a write's as stored).
    pub fn seen(&self) -> Option<&Seen> {
        match &self.answer {
            Some(Answer::Object { seen, .. }) => Some(seen),
            _ => None,
        }
    }

    /// One line for a report: `op7 n12 update core/configmaps/default/c [rv 41] -> 200 rv
    /// 45 @1200..1500us`.
    pub fn describe(&self) -> String {
        let pre = self
            .precondition
            .map(|p| format!(" [precondition {p}]"))
            .unwrap_or_default();
        let read = match (self.verb, self.read) {
            (ApiVerb::Get | ApiVerb::List, ReadFrom::Quorum) => " [quorum]".to_string(),
            (ApiVerb::Get | ApiVerb::List, ReadFrom::Any) => " [rv 0]".to_string(),
            (ApiVerb::Get | ApiVerb::List, ReadFrom::NotOlderThan(v)) => {
                format!(" [rv {v} NotOlderThan]")
            }
            (ApiVerb::Get | ApiVerb::List, ReadFrom::Exact(v)) => format!(" [rv {v} Exact]"),
            _ => String::new(),
        };
        let answer = match &self.answer {
            None => "unknown".to_string(),
            Some(Answer::Object { seen, gone }) => format!(
                "rv {}{} {}",
                seen.resource_version,
                if self.verb == ApiVerb::Delete && !gone {
                    " (marked)"
                } else {
                    ""
                },
                seen.content
            ),
            Some(Answer::List {
                resource_version,
                items,
            }) => format!("list at rv {resource_version}, {} items", items.len()),
            Some(Answer::NotFound) => "404".to_string(),
            Some(Answer::AlreadyExists) => "409 AlreadyExists".to_string(),
            Some(Answer::Conflict) => "409 Conflict".to_string(),
        };
        let sent = match &self.content {
            Some(c) if self.verb.writes() => format!(" {c}"),
            _ => String::new(),
        };
        let end = self
            .complete_us
            .map_or_else(|| "never".to_string(), |t| t.as_us().to_string());
        format!(
            "{} {} {} {}{pre}{read}{sent} -> {answer} @{}..{end}us",
            self.op,
            self.client,
            self.verb.as_str(),
            self.key,
            self.invoke_us.as_us()
        )
    }
}

/// Why a history's API operations cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("history entry {entry} ({op}): {message}")]
pub struct ApiHistoryError {
    /// 0-based position of the entry.
    pub entry: usize,
    /// Its operation.
    pub op: OpId,
    /// What is wrong.
    pub message: String,
}

fn version_of(v: &Value, what: &str) -> Result<Option<u64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{what} {s:?} is not a number")),
        other => Err(format!("{what} must be a string, got {other}")),
    }
}

fn seen_of(v: &Value) -> Result<Seen, String> {
    Ok(Seen {
        resource_version: version_of(&v["resource_version"], "resource_version")?
            .ok_or_else(|| format!("an answer without a resource_version: {v}"))?,
        content: v.get("content").cloned().unwrap_or(Value::Null),
    })
}

fn answer_of(verb: ApiVerb, v: &Value) -> Result<Answer, String> {
    match v["code"].as_u64() {
        Some(404) => Ok(Answer::NotFound),
        Some(409) if v["reason"] == "AlreadyExists" => Ok(Answer::AlreadyExists),
        Some(409) => Ok(Answer::Conflict),
        Some(200 | 201) if verb == ApiVerb::List => {
            let items = v["items"]
                .as_array()
                .ok_or_else(|| format!("a list answer without items: {v}"))?
                .iter()
                .map(|i| {
                    let name = i["name"].as_str().unwrap_or("").to_string();
                    Ok((name, seen_of(i)?))
                })
                .collect::<Result<_, String>>()?;
            Ok(Answer::List {
                resource_version: version_of(&v["resource_version"], "resource_version")?
                    .unwrap_or(0),
                items,
            })
        }
        Some(200 | 201) => Ok(Answer::Object {
            seen: seen_of(v)?,
            gone: v["gone"].as_bool().unwrap_or(false),
        }),
        _ => Err(format!("an ok answer with no code this layer records: {v}")),
    }
}

/// The API operations of `history` (entries whose invocation has `layer: kube-api`), in
/// invocation order, each paired with its completion. `fail` operations are left out (they
/// certainly did not happen and tell nothing about the object); `info` ones and those never
/// completed have no answer. A create whose key is its collection (a generated name) takes
/// its answer's name.
///
/// # Errors
///
/// A completion without its invocation, or a value this layer does not write.
pub fn api_ops(history: &History) -> Result<Vec<ApiOp>, ApiHistoryError> {
    let mut ops: Vec<ApiOp> = Vec::new();
    let mut open: std::collections::BTreeMap<OpId, usize> = std::collections::BTreeMap::new();
    let mut failed = std::collections::BTreeSet::new();
    for (pos, e) in history.entries.iter().enumerate() {
        let err = |message: String| ApiHistoryError {
            entry: pos,
            op: e.op,
            message,
        };
        if e.entry_type == EntryType::Invoke {
            if e.value["layer"] != LAYER {
                continue;
            }
            let verb = ApiVerb::parse(&e.f).ok_or_else(|| err(format!("no API verb `{}`", e.f)))?;
            let v = &e.value;
            let rv = version_of(&v["resource_version"], "resource_version").map_err(&err)?;
            let read = match (v["resource_version"].as_str(), rv, v["match"].as_str()) {
                (Some("0"), _, _) => ReadFrom::Any,
                (_, None, _) => ReadFrom::Quorum,
                (_, Some(n), Some("Exact")) => ReadFrom::Exact(n),
                (_, Some(n), _) => ReadFrom::NotOlderThan(n),
            };
            open.insert(e.op, ops.len());
            ops.push(ApiOp {
                op: e.op,
                client: e.client,
                verb,
                key: e.key.clone().unwrap_or_default(),
                read,
                precondition: version_of(&v["precondition"], "precondition").map_err(&err)?,
                content: v.get("content").filter(|c| !c.is_null()).cloned(),
                subresource: v["subresource"].as_str().map(str::to_string),
                answer: None,
                invoke_pos: pos,
                complete_pos: None,
                invoke_us: e.t_us,
                complete_us: None,
                answer_value: None,
                invoke_value: v.clone(),
            });
            continue;
        }
        let Some(&i) = open.get(&e.op) else {
            continue;
        };
        let op = &mut ops[i];
        if op.complete_pos.is_some() {
            return Err(err("completed twice".to_string()));
        }
        op.complete_pos = Some(pos);
        op.complete_us = Some(e.t_us);
        match e.entry_type {
            EntryType::Ok => {
                let answer = answer_of(op.verb, &e.value).map_err(&err)?;
                if op.verb == ApiVerb::Create && op.key.matches('/').count() == 2 {
                    if let Some(name) = e.value["name"].as_str() {
                        op.key = format!("{}/{name}", op.key);
                    }
                }
                op.answer = Some(answer);
                op.answer_value = Some(e.value.clone());
            }
            EntryType::Fail => {
                failed.insert(e.op);
            }
            EntryType::Info | EntryType::Invoke => {}
        }
    }
    ops.retain(|op| !failed.contains(&op.op));
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::{DeleteOptions, Preconditions};
    use crate::status::Target;

    fn cm(name: &str, rv: Option<&str>, data: Value) -> Value {
        let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "uid": "u1"},
            "data": data});
        if let Some(rv) = rv {
            o["metadata"]["resourceVersion"] = json!(rv);
        }
        o
    }

    #[test]
    fn requests_are_keyed_by_object_and_carry_what_the_checks_need() {
        let base = |verb| Request::new(None, verb, "", "configmaps").in_namespace("default");
        let update =
            base(Verb::Update)
                .named("c")
                .with_body(cm("c", Some("41"), json!({"k": "v"})));
        let inv = invocation(&update).unwrap();
        assert_eq!(inv.f, "update");
        assert_eq!(inv.key, "core/configmaps/default/c");
        assert_eq!(
            inv.value,
            json!({"layer": "kube-api", "precondition": "41", "content": {"data": {"k": "v"}}})
        );
        let create = base(Verb::Create).with_body(cm("c", None, json!({})));
        assert_eq!(
            invocation(&create).unwrap().key,
            "core/configmaps/default/c"
        );
        let get = base(Verb::Get)
            .named("c")
            .at_version("0", VersionMatch::NotOlderThan);
        assert_eq!(invocation(&get).unwrap().value["resource_version"], "0");
        let list = base(Verb::List).at_version("7", VersionMatch::Exact);
        let inv = invocation(&list).unwrap();
        assert_eq!(
            (inv.key.as_str(), &inv.value["match"]),
            ("core/configmaps/default", &json!("Exact"))
        );
        let delete = base(Verb::Delete)
            .named("c")
            .with_delete_options(DeleteOptions {
                preconditions: Some(Preconditions {
                    uid: None,
                    resource_version: Some("9".into()),
                }),
                ..DeleteOptions::default()
            });
        assert_eq!(invocation(&delete).unwrap().value["precondition"], "9");
        let namespace = Request::new(None, Verb::Get, "", "namespaces").named("default");
        assert_eq!(
            invocation(&namespace).unwrap().key,
            "core/namespaces//default"
        );
        assert_eq!(invocation(&base(Verb::Watch)), None);
        let apps = Request::new(None, Verb::Get, "apps", "deployments")
            .in_namespace("default")
            .named("web");
        assert_eq!(
            invocation(&apps).unwrap().key,
            "apps/deployments/default/web"
        );
    }

    #[test]
    fn refusals_about_the_object_are_ok_others_fail_and_5xx_is_unknown() {
        let configmaps = crate::resource::by_kind("v1", "ConfigMap").unwrap();
        let target = Target::new(configmaps, Some("c"));
        let api = |e| Err(CallError::Api(e));
        let table = [
            (
                api(ApiError::NotFound {
                    target: target.clone(),
                }),
                OpOutcome::Ok,
            ),
            (
                api(ApiError::Conflict {
                    target: target.clone(),
                    why: "stale".into(),
                }),
                OpOutcome::Ok,
            ),
            (
                api(ApiError::AlreadyExists {
                    target: target.clone(),
                }),
                OpOutcome::Ok,
            ),
            (
                api(ApiError::Invalid {
                    target: target.clone(),
                    errors: vec![],
                }),
                OpOutcome::Fail,
            ),
            (api(ApiError::Unauthorized), OpOutcome::Fail),
            (api(ApiError::Timeout("etcd".into())), OpOutcome::Info),
            (api(ApiError::Internal("oops".into())), OpOutcome::Info),
            (Err(CallError::NoAnswer), OpOutcome::Info),
        ];
        for (result, want) in table {
            assert_eq!(completion(Verb::Update, &result).0, want, "{result:?}");
        }
        let (outcome, value) =
            completion(Verb::Delete, &Ok(cm("c", Some("12"), json!({"k": "v"}))));
        assert_eq!(outcome, OpOutcome::Ok);
        assert_eq!(
            value,
            json!({"code": 200, "resource_version": "12", "content": {"data": {"k": "v"}},
                "name": "c", "gone": true})
        );
        let mut marked = cm("c", Some("13"), json!({}));
        marked["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:05Z");
        marked["metadata"]["finalizers"] = json!(["example.com/hold"]);
        assert_eq!(completion(Verb::Delete, &Ok(marked)).1["gone"], false);
    }
}
