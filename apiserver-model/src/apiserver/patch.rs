//! PATCH, as kube-apiserver's patch handler does it (`endpoints/handlers/patch.go`): the
//! patch is applied to the object as stored, and what comes out goes through the update
//! path (decoding, what a client may not change kept as stored, defaulting, validation, the
//! finalizer-emptying delete), retried from the new state when another write got in first.
//! A patch is re-applied at each try, so one without `metadata.resourceVersion` never
//! conflicts, and one with it conflicts once the object has moved past it (409).
//!
//! Three formats, by content type:
//! - JSON patch (RFC 6902) and JSON merge patch (RFC 7386) with the `json-patch` crate: the
//!   RFC-complete, maintained implementation on `serde_json` values; a JSON patch applies
//!   atomically, as evanphx/json-patch (kube-apiserver's) does, and a failed operation (a
//!   `test` that does not hold, a path that is not there) is 422 in kube-apiserver's words.
//! - Strategic merge patch ([`strategic_merge`]): a merge patch whose lists follow the API
//!   type's patch strategy (`x-kubernetes-patch-strategy` and `-merge-key`): merged by
//!   their key (containers by name, conditions by type, ownerReferences by uid), unions of
//!   strings (finalizers), or replaced (tolerations, and any list the type does not mark),
//!   with the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList` and `$setElementOrder`
//!   directives and apimachinery's ordering of merged lists. The strategies are those of
//!   the types the model acts on and their neighbours (see [`Ty`]); the lists of other
//!   kinds are replaced, as for a type without strategies.
//!
//! Not served: server-side apply (`application/apply-patch+yaml`), 415 like any unknown
//! content type; the 10 000-operation cap on a JSON patch.

use serde_json::{Map, Value};

use super::write::{place, prepare_update, stale, Part};
use super::{ApiServer, Backend, PatchType, Preconditions, Reply, Request};
use crate::resource::Resource;
use crate::status::{ApiError, Target};
use crate::storage;
use crate::validation::{FieldError, FieldErrorKind};

/// A patch document, checked once before it is applied at each try.
enum Parsed {
    /// RFC 6902 operations.
    Json(json_patch::Patch),
    /// An RFC 7386 merge patch.
    Merge(Value),
    /// A strategic merge patch (always an object).
    Strategic(Map<String, Value>),
}

/// The name a JSON type has in Go's `json: cannot unmarshal ...` error.
fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

impl Parsed {
    /// Reads `patch` as a `patch_type` document (400 when it is not one).
    fn new(patch_type: PatchType, patch: &Value) -> Result<Parsed, ApiError> {
        match patch_type {
            PatchType::Json => serde_json::from_value(patch.clone())
                .map(Parsed::Json)
                .map_err(|e| ApiError::BadRequest(e.to_string())),
            // evanphx/json-patch takes an object (merged), an array (the document becomes
            // it), or null (nothing to merge); anything else is not a merge patch.
            PatchType::Merge => match patch {
                Value::Object(_) | Value::Array(_) | Value::Null => {
                    Ok(Parsed::Merge(patch.clone()))
                }
                _ => Err(ApiError::BadRequest("Invalid JSON Patch".to_string())),
            },
            PatchType::StrategicMerge => match patch {
                Value::Object(m) => Ok(Parsed::Strategic(m.clone())),
                Value::Null => Ok(Parsed::Strategic(Map::new())),
                other => Err(ApiError::BadRequest(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    go_type_name(other)
                ))),
            },
        }
    }

    /// The object `original` (of `resource`) with the patch applied.
    fn apply(&self, resource: &Resource, original: &Value) -> Result<Value, ApiError> {
        let mut doc = original.clone();
        match self {
            Parsed::Json(ops) => {
                json_patch::patch(&mut doc, ops)
                    .map_err(|e| ApiError::PatchFailed(e.to_string()))?;
            }
            Parsed::Merge(Value::Null) => {}
            Parsed::Merge(patch) => json_patch::merge(&mut doc, patch),
            Parsed::Strategic(patch) => {
                doc = strategic_merge(resource, original, patch).map_err(SmpError::into_api)?;
            }
        }
        Ok(doc)
    }
}

/// The patched object decoded through its kind's type, as the patch handler decodes it
/// (strictly: an unknown field is refused): 422 on the field `patch` otherwise, naming no
/// kind or object, as kube-apiserver's `errors.NewInvalid(schema.GroupKind{}, "", ...)`.
fn decode_patched(resource: &Resource, patched: &Value) -> Result<Value, ApiError> {
    resource.decode(patched).map_err(|e| {
        let detail = if e.message == "unknown field" {
            format!("strict decoding error: unknown field \"{}\"", e.path)
        } else {
            e.to_string()
        };
        ApiError::Invalid {
            target: Target {
                plural: "",
                group: "",
                kind: "",
                subresource: None,
                name: Some(String::new()),
            },
            errors: vec![FieldError {
                path: "patch".to_string(),
                kind: FieldErrorKind::Invalid(Value::String(patched.to_string()).to_string()),
                detail,
            }],
        }
    })
}

impl<B: Backend> ApiServer<B> {
    /// PATCH of the object, or of its status (`part`).
    pub(super) async fn patch(
        &self,
        resource: &'static Resource,
        request: &Request,
        part: Part,
    ) -> Reply {
        let Some(patch_type) = request.patch_type else {
            let accepted: Vec<&str> = PatchType::ACCEPTED
                .iter()
                .map(|t| t.content_type())
                .collect();
            return Err(ApiError::UnsupportedMediaType(accepted.join(", ")));
        };
        let patch = request
            .body
            .as_ref()
            .ok_or_else(|| ApiError::BadRequest("the request has no body".to_string()))?;
        let parsed = Parsed::new(patch_type, patch)?;
        let name = request.name.as_deref().unwrap_or("");
        let namespace = request.namespace.as_deref().filter(|_| resource.namespaced);
        let Some(current) = self.read(resource, namespace, name).await? else {
            return Err(ApiError::NotFound {
                target: Target::new(resource, Some(name)),
            });
        };
        // A patch carries no preconditions of its own (`rest.DefaultUpdatedObjectInfo(nil,
        // ...)`): what it sets is checked as an update's body is.
        self.write_update(
            resource,
            namespace,
            name,
            current,
            &Preconditions::default(),
            |existing| {
                let patched = parsed.apply(resource, &existing.object)?;
                let mut object = decode_patched(resource, &patched)?;
                place(resource, request, &mut object)?;
                let patched_name = object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if patched_name != name {
                    return Err(ApiError::BadRequest(format!(
                        "the name of the object ({patched_name}) does not match the name on the URL ({name})"
                    )));
                }
                // The stored resourceVersion comes with the object patched; a patch that
                // sets another is a precondition, one that removes it is unconditional.
                if storage::precondition(resource, &object)?
                    .is_some_and(|rv| rv != existing.mod_revision)
                {
                    return Err(stale(resource, name));
                }
                prepare_update(resource, existing, object, part)
            },
        )
        .await
    }
}

/// Why a strategic merge patch cannot be applied, by the code kube-apiserver answers with
/// (`interpretStrategicMergePatchError`): a malformed directive is 400, a list of lists 422,
/// anything else reaches the client as an internal error, as it does from kube-apiserver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SmpError {
    /// 400.
    BadRequest(String),
    /// 422.
    Unprocessable(String),
    /// 500.
    Internal(String),
}

impl SmpError {
    fn into_api(self) -> ApiError {
        match self {
            SmpError::BadRequest(m) => ApiError::BadRequest(m),
            SmpError::Unprocessable(m) => ApiError::PatchFailed(m),
            SmpError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// apimachinery's `mergepatch` errors, in its words.
const BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

fn no_merge_key(element: &Value, key: &str) -> SmpError {
    SmpError::Internal(format!(
        "map: {element} does not contain declared merge key: {key}"
    ))
}

/// Where a value sits in the API's types, as far as a strategic merge patch needs to know:
/// the types whose fields carry a patch strategy, and the types that lead to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    /// A type no field of which has a strategy: its lists are replaced.
    Plain,
    /// A top-level object of this kind.
    Root(&'static str),
    /// `ObjectMeta`.
    Meta,
    /// `PodSpec`.
    PodSpec,
    /// `Container` (and `EphemeralContainer`).
    Container,
    /// `PodStatus`.
    PodStatus,
    /// `PodTemplateSpec` (also a Job template's: `JobTemplateSpec` has the same fields).
    Template,
    /// The spec of a kind that stamps pods from `template` (Deployment, ReplicaSet,
    /// StatefulSet, DaemonSet, ReplicationController, Job).
    TemplatedSpec,
    /// `CronJobSpec`.
    CronJobSpec,
    /// A status whose `conditions` merge by type.
    ConditionsStatus,
    /// `NodeSpec`.
    NodeSpec,
    /// `NodeStatus`.
    NodeStatus,
    /// `ServiceSpec`.
    ServiceSpec,
}

/// How a list field merges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListMerge {
    /// The patch's list replaces the object's (no `patchStrategy`).
    Replace,
    /// `patchStrategy: merge` on strings: a union.
    Union,
    /// `patchStrategy: merge` with `patchMergeKey`: objects merged by that field.
    ByKey(&'static str),
}

/// A field's type (a list's element type) and list strategy, from k8s.io/api's struct tags.
fn field(ty: Ty, name: &str) -> (Ty, ListMerge) {
    use ListMerge::{ByKey, Replace, Union};
    match (ty, name) {
        (Ty::Root(_), "metadata") | (Ty::Template, "metadata") => (Ty::Meta, Replace),
        (Ty::Root("Pod"), "spec") | (Ty::Template, "spec") => (Ty::PodSpec, Replace),
        (Ty::Root("Pod"), "status") => (Ty::PodStatus, Replace),
        (Ty::Root("PodTemplate"), "template") | (Ty::TemplatedSpec, "template") => {
            (Ty::Template, Replace)
        }
        (
            Ty::Root(
                "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicationController"
                | "Job",
            ),
            "spec",
        ) => (Ty::TemplatedSpec, Replace),
        (Ty::Root("CronJob"), "spec") => (Ty::CronJobSpec, Replace),
        // A CronJob's jobTemplate is a JobTemplateSpec: metadata and a JobSpec.
        (Ty::CronJobSpec, "jobTemplate") => (Ty::Template, Replace),
        (
            Ty::Root(
                "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicationController"
                | "Job"
                | "Namespace"
                | "PersistentVolumeClaim",
            ),
            "status",
        ) => (Ty::ConditionsStatus, Replace),
        (Ty::Root("Node"), "spec") => (Ty::NodeSpec, Replace),
        (Ty::Root("Node"), "status") => (Ty::NodeStatus, Replace),
        (Ty::Root("Service"), "spec") => (Ty::ServiceSpec, Replace),
        (Ty::Root("ServiceAccount"), "secrets") => (Ty::Plain, ByKey("name")),
        (Ty::Meta, "finalizers") => (Ty::Plain, Union),
        (Ty::Meta, "ownerReferences") => (Ty::Plain, ByKey("uid")),
        (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
            (Ty::Container, ByKey("name"))
        }
        (Ty::PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => {
            (Ty::Plain, ByKey("name"))
        }
        (Ty::PodSpec, "hostAliases") => (Ty::Plain, ByKey("ip")),
        (Ty::PodSpec, "topologySpreadConstraints") => (Ty::Plain, ByKey("topologyKey")),
        (Ty::Container, "ports") => (Ty::Plain, ByKey("containerPort")),
        (Ty::Container, "env") => (Ty::Plain, ByKey("name")),
        (Ty::Container, "volumeMounts") => (Ty::Plain, ByKey("mountPath")),
        (Ty::Container, "volumeDevices") => (Ty::Plain, ByKey("devicePath")),
        (Ty::PodStatus | Ty::ConditionsStatus | Ty::NodeStatus, "conditions") => {
            (Ty::Plain, ByKey("type"))
        }
        (Ty::PodStatus, "podIPs" | "hostIPs") => (Ty::Plain, ByKey("ip")),
        (Ty::PodStatus, "resourceClaimStatuses") => (Ty::Plain, ByKey("name")),
        (Ty::NodeStatus, "addresses") => (Ty::Plain, ByKey("type")),
        (Ty::NodeSpec, "podCIDRs") => (Ty::Plain, Union),
        (Ty::ServiceSpec, "ports") => (Ty::Plain, ByKey("port")),
        _ => (Ty::Plain, Replace),
    }
}

/// `original` (an object of `resource`) with the strategic merge patch `patch` applied
/// (apimachinery's `StrategicMergeMapPatch`, as the server runs it: deletion lists applied,
/// nulls not kept).
///
/// # Errors
///
/// A malformed directive, a list of lists, an element without its merge key.
pub(super) fn strategic_merge(
    resource: &Resource,
    original: &Value,
    patch: &Map<String, Value>,
) -> Result<Value, SmpError> {
    let original = match original {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch.clone(), Ty::Root(resource.kind)).map(Value::Object)
}

/// `mergeMap`: `patch` merged into `original`, a value of type `ty`.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, SmpError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(SmpError::Internal(format!(
                "unknown patch type: {directive} in map: {}",
                Value::Object(patch.clone())
            ))),
        };
    }
    retain_keys(&mut original, &mut patch)?;
    set_element_order(&mut original, &mut patch, ty)?;
    for (key, value) in patch {
        let (key, deleting) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(field) => (field.to_string(), true),
            None => (key, false),
        };
        if value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(existing) = original.remove(&key) else {
            original.insert(key, value);
            continue;
        };
        let (field_ty, strategy) = field(ty, &key);
        let merged = match (existing, value) {
            (Value::Object(o), Value::Object(p)) => Value::Object(merge_map(o, p, field_ty)?),
            (Value::Array(o), Value::Array(p)) => match strategy {
                ListMerge::Replace => Value::Array(p),
                ListMerge::Union => Value::Array(merge_list(o, p, field_ty, None, deleting)?),
                ListMerge::ByKey(k) => Value::Array(merge_list(o, p, field_ty, Some(k), deleting)?),
            },
            // Of different types, or scalars: the patch's value.
            (_, value) => value,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// `applyRetainKeysDirective`: `$retainKeys` lists the fields the map keeps (the patch may
/// set no others): the way to switch a union field such as a Deployment's strategy.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), SmpError> {
    let Some(list) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(keep) = list else {
        return Err(SmpError::BadRequest(BAD_RETAIN_KEYS.to_string()));
    };
    let kept = |k: &str| keep.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let directive =
            k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
        if !v.is_null() && !directive && !kept(k) {
            return Err(SmpError::BadRequest(BAD_RETAIN_KEYS.to_string()));
        }
    }
    original.retain(|k, _| kept(k));
    Ok(())
}

/// `mergePatchIntoOriginal`: each `$setElementOrder/<field>` gives the order of the list
/// `<field>` after the merge (its items first as listed, the object's others around them).
/// apimachinery also checks that the patch's items follow that order; that check is not
/// made here.
fn set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Ty,
) -> Result<(), SmpError> {
    let orders: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in orders {
        let order = match patch.remove(&directive) {
            Some(Value::Array(order)) => order,
            _ => return Err(SmpError::BadRequest(BAD_SET_ELEMENT_ORDER.to_string())),
        };
        let key = directive[SET_ELEMENT_ORDER.len()..].to_string();
        let as_list = |v: Option<Value>| match v {
            None => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list)),
            Some(other) => Err(SmpError::Internal(format!(
                "expected a list for {key}, found {other}"
            ))),
        };
        let in_original = as_list(original.get(&key).cloned())?;
        let in_patch = as_list(patch.remove(&key))?;
        let (field_ty, strategy) = field(ty, &key);
        let merge_key = match strategy {
            ListMerge::ByKey(k) => Some(k),
            _ => None,
        };
        let server = in_original.clone().unwrap_or_default();
        let merged = match (in_original, in_patch) {
            (Some(o), None) => o,
            (None, Some(p)) => p,
            (Some(o), Some(p)) => match strategy {
                ListMerge::Replace => p,
                _ => merge_list(o, p, field_ty, merge_key, false)?,
            },
            (None, None) => continue,
        };
        let (listed, others) = partition(merged, &order, merge_key)?;
        original.insert(
            key,
            Value::Array(normalize_order(listed, others, &order, &server, merge_key)),
        );
    }
    Ok(())
}

/// Whether `list` holds `item`: one with the same merge key, or an equal scalar; at
/// which position.
fn index_of(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    list.iter().position(|v| match merge_key {
        Some(k) => v.get(k).is_some() && v.get(k) == item.get(k),
        None => v == item,
    })
}

/// `partitionMapsByPresentInList` / `partitionPrimitivesByPresentInList`: the items of
/// `list` that `by` holds, and the others.
fn partition(
    list: Vec<Value>,
    by: &[Value],
    merge_key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let mut present = Vec::new();
    let mut others = Vec::new();
    for item in list {
        if let Some(k) = merge_key {
            if item.get(k).is_none() {
                return Err(no_merge_key(&item, k));
            }
        }
        if index_of(by, &item, merge_key).is_some() {
            present.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((present, others))
}

/// `normalizeElementOrder`: the patch's items in the patch's order, the object's others in
/// the object's order, and the two interleaved where the object's order places them
/// (`mergeSortedSlice`: an item of the object goes before a patch item it preceded in the
/// object; a patch item the object did not have goes before the rest).
fn normalize_order(
    mut patched: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let position = |order: &[Value], v: &Value| index_of(order, v, merge_key).unwrap_or(usize::MAX);
    patched.sort_by_key(|v| position(patch_order, v));
    server_only.sort_by_key(|v| position(server_order, v));
    let mut out = Vec::with_capacity(patched.len() + server_only.len());
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        patched.into_iter().peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (
                index_of(server_order, l, merge_key),
                index_of(server_order, r, merge_key),
            ) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// The JSON kind of a list element, for apimachinery's same-type check.
fn kind_of(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// `mergeSlice`: the list `patch` merged into `original`, of elements of type `elem`,
/// objects merged by `merge_key` (or strings united; or, for a `$deleteFromPrimitiveList`,
/// removed).
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem: Ty,
    merge_key: Option<&'static str>,
    deleting: bool,
) -> Result<Vec<Value>, SmpError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let mut kinds = original.iter().chain(&patch).map(kind_of);
    let kind = kinds.next().unwrap_or(0);
    if kind == 4 {
        return Err(SmpError::Unprocessable(NO_LIST_OF_LISTS.to_string()));
    }
    if kinds.any(|k| k != kind) {
        return Err(SmpError::Internal(format!(
            "list element types are not identical: {} {}",
            Value::Array(original),
            Value::Array(patch)
        )));
    }
    if kind != 5 {
        if deleting {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::new();
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        let (listed, others) = partition(merged, &patch, None)?;
        return Ok(normalize_order(listed, others, &patch, &original, None));
    }
    let Some(key) = merge_key else {
        return Err(SmpError::Internal(
            "cannot merge lists without merge key for type map".to_string(),
        ));
    };
    // `mergeSliceWithSpecialElements`: `$patch: delete` items remove theirs, a
    // `$patch: replace` item makes the other items the whole list.
    let mut original = original;
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE).map(|d| d.as_str()) {
            None => plain.push(item),
            Some(Some("delete")) => {
                let Some(value) = item.get(key) else {
                    return Err(no_merge_key(&item, key));
                };
                original.retain(|o| o.get(key) != Some(value));
            }
            Some(Some("replace")) => replace = true,
            Some(Some("merge")) => {
                return Err(SmpError::Internal(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ))
            }
            Some(_) => {
                return Err(SmpError::Internal(format!(
                    "unknown patch type: {} in map: {item}",
                    item[DIRECTIVE]
                )))
            }
        }
    }
    if replace {
        original = std::mem::take(&mut plain);
    }
    // `mergeSliceWithoutSpecialElements`: each item merged into the object's item with its
    // key, or appended.
    let mut merged = original.clone();
    for item in &plain {
        let Some(value) = item.get(key) else {
            return Err(no_merge_key(item, key));
        };
        match merged.iter().position(|o| o.get(key) == Some(value)) {
            Some(at) => {
                let (Value::Object(o), Value::Object(p)) = (merged[at].take(), item.clone()) else {
                    return Err(SmpError::Internal(format!(
                        "value for key {at} is not a map."
                    )));
                };
                merged[at] = Value::Object(merge_map(o, p, elem)?);
            }
            None => merged.push(item.clone()),
        }
    }
    let (listed, others) = partition(merged, &plain, Some(key))?;
    Ok(normalize_order(
        listed,
        others,
        &plain,
        &original,
        Some(key),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_kind;
    use serde_json::json;

    fn smp(api: &str, kind: &str, original: Value, patch: Value) -> Result<Value, SmpError> {
        let r = by_kind(api, kind).unwrap();
        strategic_merge(r, &original, patch.as_object().unwrap())
    }

    fn pod() -> Value {
        json!({"metadata": {"name": "web", "finalizers": ["example.com/a"],
                "labels": {"app": "web", "tier": "front"}},
            "spec": {
                "containers": [
                    {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1"}
                ],
                "tolerations": [{"key": "a", "operator": "Exists"}]},
            "status": {"conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False"}]}})
    }

    #[test]
    fn lists_merge_as_their_type_says() {
        let table: [(&str, Value, Value); 7] = [
            (
                "containers merge by name, the rest of each kept",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}),
                json!([
                    {"name": "app", "image": "nginx:1.28", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1"}
                ]),
            ),
            (
                "a new container goes first, as apimachinery orders it",
                json!({"spec": {"containers": [{"name": "log", "image": "fluentd"}]}}),
                json!([
                    {"name": "log", "image": "fluentd"},
                    {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1"}
                ]),
            ),
            (
                "$patch: delete removes by key",
                json!({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}),
                json!([{"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]}]),
            ),
            (
                "$patch: replace makes the list the patch's",
                json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}),
                json!([{"name": "only", "image": "x"}]),
            ),
            (
                "lists inside merged items follow their own type (env by name)",
                json!({"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}),
                json!([
                    {"name": "app", "image": "nginx:1.27",
                        "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1"}
                ]),
            ),
            (
                "$setElementOrder puts the list in the order given",
                json!({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                    "containers": [{"name": "app", "image": "nginx:1.28"}]}}),
                json!([
                    {"name": "sidecar", "image": "envoy:1"},
                    {"name": "app", "image": "nginx:1.28", "env": [{"name": "A", "value": "1"}]}
                ]),
            ),
            (
                "null removes a field",
                json!({"spec": {"containers": [{"name": "app", "env": null}]}}),
                json!([
                    {"name": "app", "image": "nginx:1.27"},
                    {"name": "sidecar", "image": "envoy:1"}
                ]),
            ),
        ];
        for (why, patch, containers) in table {
            let out = smp("v1", "Pod", pod(), patch).unwrap();
            assert_eq!(out["spec"]["containers"], containers, "{why}");
            assert_eq!(out["metadata"]["labels"]["tier"], "front", "{why}");
        }
    }

    #[test]
    fn tolerations_are_replaced_and_finalizers_united() {
        let out = smp(
            "v1",
            "Pod",
            pod(),
            json!({"metadata": {"finalizers": ["example.com/b"]},
                "spec": {"tolerations": [{"key": "b", "operator": "Exists"}]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "b", "operator": "Exists"}])
        );
        assert_eq!(
            out["metadata"]["finalizers"],
            json!(["example.com/b", "example.com/a"])
        );
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}])
        );
        let out = smp(
            "v1",
            "Pod",
            pod(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}}),
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!([]));
        // The same lists of another kind's own type are plain: replaced.
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let out = smp("v1", "ConfigMap", cm, json!({"data": {"b": "2"}})).unwrap();
        assert_eq!(out["data"], json!({"a": "1", "b": "2"}));
    }

    #[test]
    fn templates_and_owner_references_merge_by_key() {
        let d = json!({"metadata": {"name": "web", "ownerReferences": [
                {"uid": "u1", "name": "a", "kind": "X", "apiVersion": "v1"}]},
            "spec": {"template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}});
        let out = smp(
            "apps/v1",
            "Deployment",
            d,
            json!({"metadata": {"ownerReferences": [
                    {"uid": "u1", "name": "a", "kind": "X", "apiVersion": "v1", "controller": true}]},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "nginx", "ports": [{"containerPort": 443}]}]}},
                    "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        )
        .unwrap();
        assert_eq!(out["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 443}, {"containerPort": 80}])
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn malformed_patches_are_refused_with_kubernetes_codes() {
        let table: [(Value, SmpError); 5] = [
            (
                json!({"spec": {"containers": [{"image": "x"}]}}),
                SmpError::Internal(
                    "map: {\"image\":\"x\"} does not contain declared merge key: name".into(),
                ),
            ),
            (
                json!({"spec": {"$retainKeys": "all"}}),
                SmpError::BadRequest(BAD_RETAIN_KEYS.into()),
            ),
            (
                json!({"spec": {"$retainKeys": ["containers"], "tolerations": []}}),
                SmpError::BadRequest(BAD_RETAIN_KEYS.into()),
            ),
            (
                json!({"spec": {"$setElementOrder/containers": {"name": "x"}}}),
                SmpError::BadRequest(BAD_SET_ELEMENT_ORDER.into()),
            ),
            (
                json!({"metadata": {"finalizers": [1]}}),
                SmpError::Internal(
                    "list element types are not identical: [\"example.com/a\"] [1]".into(),
                ),
            ),
        ];
        for (patch, want) in table {
            assert_eq!(smp("v1", "Pod", pod(), patch.clone()), Err(want), "{patch}");
        }
        let mut bare = pod();
        bare["metadata"]["finalizers"] = json!([]);
        assert_eq!(
            smp(
                "v1",
                "Pod",
                bare,
                json!({"metadata": {"finalizers": [["a"]]}})
            ),
            Err(SmpError::Unprocessable(NO_LIST_OF_LISTS.into()))
        );
    }
}
