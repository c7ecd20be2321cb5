//! Validation: what kube-apiserver's strategies reject with 422 Invalid, for the fields this
//! model relies on. Each error carries its field path, as Kubernetes' `field.ErrorList`
//! does, and the request's Status lists them all (the status module formats them).
//!
//! Checked: object names (an RFC 1123 subdomain for most kinds, an RFC 1123 label for
//! namespaces), the namespace of namespaced objects, labels' syntax, finalizers (qualified
//! names, not both `orphan` and `foregroundDeletion`), the fields the model needs (a pod's
//! containers, a Deployment's selector matching its template), and on update the fields
//! Kubernetes makes immutable (name, namespace, uid, deletionTimestamp,
//! deletionGracePeriodSeconds, a Deployment's or ReplicaSet's selector, a bound pod's
//! `spec.nodeName`) and the finalizers an object being deleted may not gain.

use std::fmt;

use serde_json::Value;

use crate::resource::Resource;

/// What is wrong with one field (the kinds of Kubernetes' `field.Error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// Missing, and needed.
    Required,
    /// Present, with a value that is not allowed.
    Invalid(String),
    /// May not be changed once set.
    Immutable,
    /// Not allowed here at all.
    Forbidden,
}

/// One field's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path, `[i]` for list items (`spec.template.spec.containers[0].name`).
    pub path: String,
    /// What kind of error.
    pub kind: FieldErrorKind,
    /// Why, for a person.
    pub detail: String,
}

impl fmt::Display for FieldError {
    /// Kubernetes' wording: `spec.replicas: Invalid value: -1: must be ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FieldErrorKind::Required => write!(f, "{}: Required value", self.path)?,
            FieldErrorKind::Invalid(v) => write!(f, "{}: Invalid value: {v}", self.path)?,
            FieldErrorKind::Immutable => {
                write!(f, "{}: Invalid value: field is immutable", self.path)?
            }
            FieldErrorKind::Forbidden => write!(f, "{}: Forbidden", self.path)?,
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

fn required(path: &str, detail: &str) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: FieldErrorKind::Required,
        detail: detail.to_string(),
    }
}

fn invalid(path: &str, value: &Value, detail: impl Into<String>) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: FieldErrorKind::Invalid(value.to_string()),
        detail: detail.into(),
    }
}

fn immutable(path: &str) -> FieldError {
    FieldError {
        path: path.to_string(),
        kind: FieldErrorKind::Immutable,
        detail: String::new(),
    }
}

/// Why `name` is not an RFC 1123 label (at most 63 characters of `[a-z0-9-]`, starting and
/// ending with an alphanumeric), or `None` if it is one.
pub fn not_dns1123_label(name: &str) -> Option<String> {
    const MAX: usize = 63;
    if name.len() > MAX {
        return Some(format!("must be no more than {MAX} characters"));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !name.is_empty()
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum);
    (!ok).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character".to_string()
    })
}

/// Why `name` is not an RFC 1123 subdomain (at most 253 characters; dot-separated labels
/// of `[a-z0-9-]`, each starting and ending with an alphanumeric), or `None`.
pub fn not_dns1123_subdomain(name: &str) -> Option<String> {
    const MAX: usize = 253;
    if name.len() > MAX {
        return Some(format!("must be no more than {MAX} characters"));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| alnum(c) || c == '-')
                && part.starts_with(alnum)
                && part.ends_with(alnum)
        });
    (!ok).then(|| {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".to_string()
    })
}

/// Why `name` cannot be a URL path segment (`.`, `..`, or containing `/` or `%`), or
/// `None`: the only rule for RBAC object names.
pub fn not_path_segment(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some(format!("may not be '{name}'"));
    }
    ["/", "%"]
        .iter()
        .find(|c| name.contains(**c))
        .map(|c| format!("may not contain '{c}'"))
}

/// Why a label value is not one (at most 63 characters of `[A-Za-z0-9-_.]`, starting and
/// ending with an alphanumeric; empty is allowed), or `None`.
fn not_label_value(v: &str) -> Option<&'static str> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let ok = v.is_empty()
        || (v.len() <= 63
            && v.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
            && v.starts_with(alnum)
            && v.ends_with(alnum));
    (!ok).then_some("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
}

/// The finalizer the garbage collector honours by orphaning the object's dependents
/// (`metav1.FinalizerOrphanDependents`).
pub const FINALIZER_ORPHAN: &str = "orphan";
/// The finalizer the garbage collector honours by deleting the object's blocking
/// dependents first (`metav1.FinalizerDeleteDependents`).
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// Why `name` is not a qualified name (`validation.IsQualifiedName`: an optional RFC 1123
/// subdomain and `/`, then at most 63 characters of `[A-Za-z0-9-_.]` starting and ending
/// with an alphanumeric), in apimachinery's words, one message per fault.
pub fn not_qualified_name(value: &str) -> Vec<String> {
    const NAME_MAX: usize = 63;
    const REGEX_HINT: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else if let Some(why) = not_dns1123_subdomain(prefix) {
                errors.push(format!("prefix part {why}"));
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {REGEX_HINT} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )]
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > NAME_MAX {
        errors.push(format!(
            "name part must be no more than {NAME_MAX} characters"
        ));
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let well_formed = name.starts_with(alnum)
        && name.ends_with(alnum)
        && name
            .chars()
            .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'));
    if !well_formed {
        errors.push(format!("name part {REGEX_HINT}"));
    }
    errors
}

/// A list of strings as Go's `%#v` prints a `[]string` (how field errors show one).
fn go_strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items
        .into_iter()
        .map(|s| Value::from(s).to_string())
        .collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// An object's `metadata.finalizers`.
pub fn finalizers_of(object: &Value) -> Vec<&str> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `ValidateFinalizers`: each name qualified, and not both of the garbage collector's
/// (an owner cannot have its dependents orphaned and deleted first).
fn validate_finalizers(object: &Value, errors: &mut Vec<FieldError>) {
    const PATH: &str = "metadata.finalizers";
    let finalizers = finalizers_of(object);
    for f in &finalizers {
        for why in not_qualified_name(f) {
            errors.push(invalid(PATH, &Value::from(*f), why));
        }
    }
    if finalizers.contains(&FINALIZER_ORPHAN) && finalizers.contains(&FINALIZER_FOREGROUND) {
        errors.push(FieldError {
            path: PATH.to_string(),
            kind: FieldErrorKind::Invalid(go_strings(finalizers.iter().copied())),
            detail: format!(
                "finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set"
            ),
        });
    }
}

/// `ValidateNoNewFinalizers`: once an object is being deleted, the finalizers still to run
/// are all that may hold it; one added now could keep it for ever.
fn validate_no_new_finalizers(old: &Value, new: &Value, errors: &mut Vec<FieldError>) {
    let before: std::collections::BTreeSet<&str> = finalizers_of(old).into_iter().collect();
    let added: std::collections::BTreeSet<&str> = finalizers_of(new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if !added.is_empty() {
        errors.push(FieldError {
            path: "metadata.finalizers".to_string(),
            kind: FieldErrorKind::Forbidden,
            detail: format!(
                "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                go_strings(added)
            ),
        });
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Checks `metadata` of an object of `resource`.
fn validate_meta(resource: &Resource, object: &Value, errors: &mut Vec<FieldError>) {
    match str_at(object, &["metadata", "name"]) {
        None | Some("") => {
            if str_at(object, &["metadata", "generateName"]).is_none() {
                errors.push(required(
                    "metadata.name",
                    "name or generateName is required",
                ));
            }
        }
        Some(name) => {
            let why = match (resource.group, resource.kind) {
                ("", "Namespace") => not_dns1123_label(name),
                // RBAC objects are named like `system:kube-scheduler`: Kubernetes checks
                // them only as path segments (ValidateRBACName).
                ("rbac.authorization.k8s.io", _) => not_path_segment(name),
                _ => not_dns1123_subdomain(name),
            };
            if let Some(why) = why {
                errors.push(invalid("metadata.name", &Value::from(name), why));
            }
        }
    }
    if resource.namespaced {
        if let Some(ns) = str_at(object, &["metadata", "namespace"]) {
            if let Some(why) = not_dns1123_label(ns) {
                errors.push(invalid("metadata.namespace", &Value::from(ns), why));
            }
        }
    }
    if let Some(labels) = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    {
        for (key, value) in labels {
            let path = format!("metadata.labels[{key}]");
            if let Some(why) = value.as_str().and_then(not_label_value) {
                errors.push(invalid(&path, value, why));
            }
        }
    }
    validate_finalizers(object, errors);
}

/// Checks a pod spec at `path` (`spec`, or `spec.template.spec` in a workload).
fn validate_pod_spec(spec: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => errors.push(required(&format!("{path}.containers"), "")),
        Some(list) if list.is_empty() => errors.push(required(&format!("{path}.containers"), "")),
        Some(list) => {
            let mut seen = std::collections::BTreeSet::new();
            for (i, c) in list.iter().enumerate() {
                let at = format!("{path}.containers[{i}]");
                // Quantities are typed in Kubernetes: one that does not parse never decodes.
                for part in ["requests", "limits"] {
                    let values = c["resources"][part].as_object().into_iter().flatten();
                    for (name, q) in values {
                        let ok = q.as_str().is_some_and(crate::pod_resources::well_formed);
                        if !ok {
                            errors.push(invalid(
                                &format!("{at}.resources.{part}[{name}]"),
                                q,
                                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                            ));
                        }
                    }
                }
                match c.get("name").and_then(Value::as_str) {
                    None | Some("") => errors.push(required(&format!("{at}.name"), "")),
                    Some(name) => {
                        if let Some(why) = not_dns1123_label(name) {
                            errors.push(invalid(&format!("{at}.name"), &Value::from(name), why));
                        } else if !seen.insert(name) {
                            errors.push(FieldError {
                                path: format!("{at}.name"),
                                kind: FieldErrorKind::Invalid(Value::from(name).to_string()),
                                detail: "Duplicate value".to_string(),
                            });
                        }
                    }
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errors.push(required(&format!("{at}.image"), ""));
                }
            }
        }
    }
}

/// Whether `labels` has every `matchLabels` pair of `selector`.
fn selector_matches(selector: &Value, labels: Option<&Value>) -> bool {
    let Some(want) = selector.get("matchLabels").and_then(Value::as_object) else {
        return true;
    };
    want.iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Checks a Deployment's or ReplicaSet's spec.
fn validate_workload(object: &Value, errors: &mut Vec<FieldError>) {
    let spec = object.get("spec");
    if let Some(r) = spec.and_then(|s| s.get("replicas")) {
        if r.as_i64().is_some_and(|r| r < 0) {
            errors.push(invalid(
                "spec.replicas",
                r,
                "must be greater than or equal to 0",
            ));
        }
    }
    let Some(selector) = spec.and_then(|s| s.get("selector")) else {
        errors.push(required("spec.selector", ""));
        return;
    };
    let empty = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.is_empty())
        && selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .is_none_or(|m| m.is_empty());
    if empty {
        errors.push(invalid(
            "spec.selector",
            selector,
            "empty selector is invalid for deployment",
        ));
    }
    let labels = object.pointer("/spec/template/metadata/labels");
    if !selector_matches(selector, labels) {
        errors.push(invalid(
            "spec.template.metadata.labels",
            labels.unwrap_or(&Value::Null),
            "`selector` does not match template `labels`",
        ));
    }
    validate_pod_spec(
        object.pointer("/spec/template/spec"),
        "spec.template.spec",
        errors,
    );
}

/// Every error of `object` (of `resource`) as created: empty when valid.
pub fn validate_create(resource: &Resource, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_meta(resource, object, &mut errors);
    match (resource.group, resource.kind) {
        ("", "Pod") => validate_pod_spec(object.get("spec"), "spec", &mut errors),
        ("apps", "Deployment" | "ReplicaSet") => validate_workload(object, &mut errors),
        _ => {}
    }
    errors
}

/// Every error of `new` as an update of `old`: those of a create, and the immutable fields
/// it changes.
pub fn validate_update(resource: &Resource, old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errors = validate_create(resource, new);
    let mut fixed: Vec<(&str, &str)> = vec![
        ("metadata.name", "/metadata/name"),
        ("metadata.namespace", "/metadata/namespace"),
        ("metadata.uid", "/metadata/uid"),
        // The write path keeps both from the stored object once set (an update cannot
        // undo a delete); what is left to refuse is setting them by an update.
        ("metadata.deletionTimestamp", "/metadata/deletionTimestamp"),
        (
            "metadata.deletionGracePeriodSeconds",
            "/metadata/deletionGracePeriodSeconds",
        ),
    ];
    match (resource.group, resource.kind) {
        ("apps", "Deployment" | "ReplicaSet") => fixed.push(("spec.selector", "/spec/selector")),
        ("", "Pod") if old.pointer("/spec/nodeName").is_some() => {
            fixed.push(("spec.nodeName", "/spec/nodeName"));
        }
        _ => {}
    }
    for (path, pointer) in fixed {
        let (was, is) = (old.pointer(pointer), new.pointer(pointer));
        // An update that leaves out uid keeps it; one that sets another does not.
        if was != is && !(pointer == "/metadata/uid" && is.is_none()) {
            errors.push(immutable(path));
        }
    }
    if old.pointer("/metadata/deletionTimestamp").is_some() {
        validate_no_new_finalizers(old, new, &mut errors);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_kind;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}
        })
    }

    fn errors_of(kind: (&str, &str), object: &Value) -> Vec<String> {
        let r = by_kind(kind.0, kind.1).unwrap();
        validate_create(r, object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn rbac_names_are_path_segments() {
        assert_eq!(not_path_segment("system:kube-scheduler"), None);
        assert!(not_path_segment("a/b").is_some() && not_path_segment("..").is_some());
        assert!(not_dns1123_subdomain("system:kube-scheduler").is_some());
    }

    #[test]
    fn names_follow_rfc_1123() {
        assert_eq!(not_dns1123_subdomain("web-1.example"), None);
        for bad in ["Web", "-web", "web-", "web_1", "", "a..b"] {
            assert!(not_dns1123_subdomain(bad).is_some(), "{bad}");
        }
        assert!(not_dns1123_label("a.b").is_some());
        assert!(not_dns1123_label(&"a".repeat(64)).is_some());
        assert_eq!(not_dns1123_label(&"a".repeat(63)), None);
    }

    #[test]
    fn a_valid_deployment_has_no_errors_and_each_fault_names_its_field() {
        let d = ("apps/v1", "Deployment");
        assert_eq!(errors_of(d, &deployment()), Vec::<String>::new());
        let table: [(&str, Value, &str); 7] = [
            ("/metadata/name", json!("Web_1"), "metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain"),
            ("/spec/replicas", json!(-1), "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
            ("/spec/selector/matchLabels/app", json!("api"), "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"),
            ("/spec/template/spec/containers/0/image", json!(""), "spec.template.spec.containers[0].image: Required value"),
            ("/spec/template/spec/containers/0/name", json!("Nginx"), "spec.template.spec.containers[0].name: Invalid value: \"Nginx\": a lowercase RFC 1123 label"),
            ("/metadata/labels", json!({"tier": "-front"}), "metadata.labels[tier]: Invalid value: \"-front\": a valid label"),
            ("/spec/template/spec/containers/0", json!({"name": "nginx", "image": "nginx", "resources": {"requests": {"cpu": "-"}}}), "spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: \"-\": quantities must match"),
        ];
        for (pointer, value, want) in table {
            let mut o = deployment();
            *o.pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{pointer}")) = value;
            let got = errors_of(d, &o);
            assert_eq!(got.len(), 1, "{pointer}: {got:?}");
            assert!(
                got[0].starts_with(want),
                "{pointer}: {} lacks {want}",
                got[0]
            );
        }
        let mut o = deployment();
        o["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(errors_of(d, &o), vec!["spec.selector: Required value"]);
    }

    #[test]
    fn pods_need_containers_and_namespaces_are_labels() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}});
        assert_eq!(
            errors_of(("v1", "Pod"), &pod),
            vec!["spec.containers: Required value"]
        );
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
        assert_eq!(errors_of(("v1", "Namespace"), &ns).len(), 1);
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a.b"}});
        assert!(errors_of(("v1", "ConfigMap"), &cm).is_empty());
    }

    #[test]
    fn updates_may_not_change_immutable_fields() {
        let r = by_kind("apps/v1", "Deployment").unwrap();
        let old = deployment();
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        assert!(validate_update(r, &old, &new).is_empty());
        new["spec"]["selector"]["matchLabels"]["app"] = json!("api");
        new["spec"]["template"]["metadata"]["labels"]["app"] = json!("api");
        let e: Vec<String> = validate_update(r, &old, &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(e, vec!["spec.selector: Invalid value: field is immutable"]);
        let pods = by_kind("v1", "Pod").unwrap();
        let bound = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"nodeName": "worker-a", "containers": [{"name": "c", "image": "i"}]}});
        let mut moved = bound.clone();
        moved["spec"]["nodeName"] = json!("worker-b");
        assert_eq!(validate_update(pods, &bound, &moved).len(), 1);
    }

    fn with_finalizers(finalizers: &[&str]) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "finalizers": finalizers}})
    }

    #[test]
    fn finalizers_are_qualified_names_and_not_both_of_the_collectors() {
        let cm = ("v1", "ConfigMap");
        let table: [(&[&str], &[&str]); 6] = [
            (&["kubernetes", "example.com/cleanup", FINALIZER_ORPHAN], &[]),
            (&[FINALIZER_FOREGROUND], &[]),
            (
                &[FINALIZER_ORPHAN, FINALIZER_FOREGROUND],
                &["metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set"],
            ),
            (
                &["-cleanup"],
                &["metadata.finalizers: Invalid value: \"-cleanup\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"],
            ),
            (
                &["Example.com/x"],
                &["metadata.finalizers: Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"],
            ),
            (
                &["a/b/c"],
                &["metadata.finalizers: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"],
            ),
        ];
        for (finalizers, want) in table {
            assert_eq!(
                errors_of(cm, &with_finalizers(finalizers)),
                want.to_vec(),
                "{finalizers:?}"
            );
        }
    }

    #[test]
    fn an_object_being_deleted_gains_no_finalizers_and_keeps_its_deletion_fields() {
        let r = by_kind("v1", "ConfigMap").unwrap();
        let mut old = with_finalizers(&["example.com/a"]);
        // Not being deleted: finalizers come and go freely.
        let more = with_finalizers(&["example.com/a", "example.com/b"]);
        assert!(validate_update(r, &old, &more).is_empty());
        old["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:05Z");
        old["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        let mut new = old.clone();
        new["metadata"]["finalizers"] = json!(["example.com/a", "example.com/c", "example.com/b"]);
        let e: Vec<String> = validate_update(r, &old, &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            e,
            vec!["metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/b\", \"example.com/c\"}"]
        );
        // Removing them is what finalizing is.
        new["metadata"]["finalizers"] = json!([]);
        assert!(validate_update(r, &old, &new).is_empty());
        // An update may not start a deletion, nor change its grace.
        let live = with_finalizers(&[]);
        let e: Vec<String> = validate_update(r, &live, &old)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            e,
            vec![
                "metadata.deletionTimestamp: Invalid value: field is immutable",
                "metadata.deletionGracePeriodSeconds: Invalid value: field is immutable",
            ]
        );
    }
}
