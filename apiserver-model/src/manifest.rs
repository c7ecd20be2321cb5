//! Manifests: multi-document YAML files of Kubernetes objects, as `kubectl apply -f` reads
//! them, checked as the API server would check them before storing anything.
//!
//! YAML is read with serde-saphyr (serde_yaml is deprecated, serde_yml unsound; kube-rs
//! moved to serde-saphyr, which never panics on bad input and reports lines). Documents
//! are split at `---` lines, as Kubernetes' YAML reader does, so the document index and
//! line in an error are the user's own. A `v1` `List` (what `kubectl get -o yaml` writes)
//! is expanded into its items.
//!
//! Every object must name a served `apiVersion` and `kind`, decode through its
//! k8s-openapi type with no unknown field, and pass [`validation`](crate::validation) (an
//! invalid name is found here, not at the first request). The first problem is the error,
//! on one line: file, document, line, field path, what is wrong.

use std::fmt;

use kube_core::GroupVersion;
use serde_json::Value;

use crate::resource::{self, Resource};
use crate::validation;

/// One object of a manifest file, decoded and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Its document, counted from 1 in the file.
    pub document: usize,
    /// The line (1-based) its document's first key is on.
    pub line: usize,
    /// Its resource.
    pub resource: &'static Resource,
    /// The object as it would be stored (typed round trip; no defaults applied yet).
    pub object: Value,
}

impl Manifest {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `metadata.namespace`, if the object names one.
    pub fn namespace(&self) -> Option<&str> {
        self.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
    }
}

/// Why a manifest file cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// The file, as the user named it.
    pub file: String,
    /// The document, counted from 1.
    pub document: usize,
    /// The line of the problem when known, else of its document's start.
    pub line: usize,
    /// The field path (`spec.replicas`, `items[2].metadata.name`); empty for the document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: document {}: ",
            self.file, self.line, self.document
        )?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ManifestError {}

/// The documents of `text`: each one's first line (1-based) and its text. A line that is
/// `---` (optionally followed by spaces or a comment) starts a new document.
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = vec![(1, String::new())];
    for (i, line) in text.lines().enumerate() {
        let rest = line.strip_prefix("---");
        if rest.is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '#'])) {
            docs.push((i + 2, String::new()));
        } else if let Some((_, doc)) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs
}

/// Whether a document holds nothing but blank lines and comments.
fn is_empty(doc: &str) -> bool {
    doc.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
}

/// Reads every object of a manifest file.
///
/// # Errors
///
/// The first problem found, with file, document, line and field path.
pub fn parse(file: &str, text: &str) -> Result<Vec<Manifest>, ManifestError> {
    let mut out = Vec::new();
    let mut document = 0;
    for (start, doc) in documents(text) {
        if is_empty(&doc) {
            continue;
        }
        // Where the object starts: its document's first line that is not blank or a comment.
        let line = start
            + doc
                .lines()
                .position(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
                .unwrap_or(0);
        document += 1;
        let fail = |at: Option<usize>, path: &str, message: String| ManifestError {
            file: file.to_string(),
            document,
            line: at.unwrap_or(line),
            path: path.to_string(),
            message,
        };
        let value: Value = serde_saphyr::from_str(&doc).map_err(|e| {
            let at = e
                .location()
                .map(|l| start + usize::try_from(l.line()).unwrap_or(1).saturating_sub(1));
            let plain = e.without_snippet().to_string();
            let message = plain.lines().next().unwrap_or("bad YAML").to_string();
            fail(at, "", format!("bad YAML: {message}"))
        })?;
        let objects = match list_items(&value) {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("items[{i}]"), v))
                .collect(),
            None => vec![(String::new(), &value)],
        };
        for (prefix, object) in objects {
            let at = |p: &str| match (prefix.is_empty(), p.is_empty()) {
                (true, _) => p.to_string(),
                (false, true) => prefix.clone(),
                (false, false) => format!("{prefix}.{p}"),
            };
            let resource = identify(object).map_err(|(p, m)| fail(None, &at(p), m))?;
            let stored = resource
                .decode(object)
                .map_err(|e| fail(None, &at(&e.path), e.message))?;
            if let Some(e) = validation::validate_create(resource, &stored).first() {
                let message = e.to_string();
                let message = message
                    .strip_prefix(&format!("{}: ", e.path))
                    .unwrap_or(&message)
                    .to_string();
                return Err(fail(None, &at(&e.path), message));
            }
            out.push(Manifest {
                document,
                line,
                resource,
                object: stored,
            });
        }
    }
    Ok(out)
}

/// The items of a `v1` `List`, or `None` for any other object.
fn list_items(v: &Value) -> Option<&Vec<Value>> {
    let is_list = v.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && v.get("kind").and_then(Value::as_str) == Some("List");
    is_list.then(|| v.get("items").and_then(Value::as_array))?
}

/// The resource an object names, or the path and message of why it names none.
fn identify(object: &Value) -> Result<&'static Resource, (&'static str, String)> {
    if !object.is_object() {
        return Err(("", format!("expected an object, got {object}")));
    }
    let field = |name: &'static str| match object.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        None | Some(Value::Null) => Err((name, "Required value".to_string())),
        Some(other) => Err((name, format!("expected a string, got {other}"))),
    };
    let api_version = field("apiVersion")?;
    let kind = field("kind")?;
    api_version
        .parse::<GroupVersion>()
        .map_err(|e| ("apiVersion", format!("`{api_version}`: {e}")))?;
    resource::by_kind(api_version, kind).map_err(|e| {
        let path = match e {
            resource::LookupError::UnknownApiVersion(_) => "apiVersion",
            resource::LookupError::UnknownKind { .. } => "kind",
        };
        (path, e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "\
# a comment before the first document
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
        resources:
          requests: {cpu: 100m, memory: 128Mi}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
";

    fn err(text: &str) -> String {
        parse("m.yaml", text).unwrap_err().to_string()
    }

    #[test]
    fn documents_decode_into_their_resources() {
        let m = parse("m.yaml", DEPLOYMENT).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].resource.kind, m[0].name(), m[0].document),
            ("Deployment", "web", 1)
        );
        assert_eq!(
            (m[1].resource.kind, m[1].line, m[1].document),
            ("Service", 23, 2)
        );
        assert!(!m[1].resource.acted_on);
        assert_eq!(
            m[0].object["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
                ["cpu"],
            "100m"
        );
    }

    #[test]
    fn each_problem_names_file_document_line_and_path() {
        let wrong_type = DEPLOYMENT.replace("replicas: 3", "replicas: three");
        assert!(
            err(&wrong_type).starts_with("m.yaml:2: document 1: spec.replicas: invalid type"),
            "{}",
            err(&wrong_type)
        );
        let unknown = DEPLOYMENT.replace("targetPort: 80", "targetPort: 80, protocl: TCP");
        assert_eq!(
            err(&unknown),
            "m.yaml:23: document 2: spec.ports[0].protocl: unknown field"
        );
        let kind = DEPLOYMENT.replace("kind: Service", "kind: Servic");
        assert!(
            err(&kind).starts_with("m.yaml:23: document 2: kind: no kind `Servic` in v1"),
            "{}",
            err(&kind)
        );
        let version = DEPLOYMENT.replace("apps/v1", "apps/v9");
        assert!(
            err(&version).starts_with("m.yaml:2: document 1: apiVersion: no API version `apps/v9`"),
            "{}",
            err(&version)
        );
        let name = DEPLOYMENT.replace("name: web\n  labels", "name: Web_1\n  labels");
        assert!(
            err(&name).starts_with("m.yaml:2: document 1: metadata.name: Invalid value: \"Web_1\""),
            "{}",
            err(&name)
        );
        let missing = DEPLOYMENT.replace("kind: Service\n", "");
        assert_eq!(err(&missing), "m.yaml:23: document 2: kind: Required value");
        let syntax = DEPLOYMENT.replace(
            "  ports: [{port: 80, targetPort: 80}]",
            "  ports: [{port: 80",
        );
        let e = err(&syntax);
        assert!(
            e.starts_with("m.yaml:") && e.contains("document 2: bad YAML"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn a_list_is_expanded_and_its_items_are_named_by_index() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: B}}\n";
        assert!(
            err(list).starts_with("m.yaml:1: document 1: items[1].metadata.name: Invalid value"),
            "{}",
            err(list)
        );
        let ok = list.replace("name: B", "name: b");
        assert_eq!(parse("m.yaml", &ok).unwrap().len(), 2);
    }
}
