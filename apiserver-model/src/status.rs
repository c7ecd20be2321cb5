//! The API's errors as Kubernetes reports them: an HTTP code, a `reason` and the message
//! kube-apiserver writes (clients match on reason and code; people read the message), as a
//! `metav1.Status`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

use crate::resource::Resource;
use crate::validation::FieldError;
use crate::verb::Verb;

/// What a request was refused for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401: a bearer token that maps to no user.
    #[error("Unauthorized")]
    Unauthorized,
    /// 403: RBAC allows no rule for the request.
    #[error("{}", forbidden_message(.target, .user, *.verb, .namespace.as_deref()))]
    Forbidden {
        /// The resource (and name, subresource) asked for.
        target: Box<Target>,
        /// Who asked.
        user: String,
        /// The verb.
        verb: Verb,
        /// The namespace, `None` for the cluster scope.
        namespace: Option<String>,
    },
    /// 403: an admission plugin refused (quota, a terminating namespace, ...).
    #[error("{} is forbidden: {reason}", .target.qualified())]
    AdmissionDenied {
        /// The resource asked for.
        target: Target,
        /// The plugin's words.
        reason: String,
    },
    /// 404.
    #[error("{} not found", .target.qualified())]
    NotFound {
        /// What was not found.
        target: Target,
    },
    /// 409, reason AlreadyExists: a create of a name in use.
    #[error("{} already exists", .target.qualified())]
    AlreadyExists {
        /// The object in the way.
        target: Target,
    },
    /// 409, reason Conflict: an update or delete whose resourceVersion precondition is stale,
    /// or a binding of a pod already bound.
    #[error("Operation cannot be fulfilled on {}: {why}", .target.qualified())]
    Conflict {
        /// The object.
        target: Target,
        /// Kubernetes' words for the case (see [`STALE_UPDATE`]).
        why: String,
    },
    /// 422, reason Invalid: validation failed.
    #[error("{}", invalid_message(.target, .errors))]
    Invalid {
        /// The object.
        target: Target,
        /// Every field error.
        errors: Vec<FieldError>,
    },
    /// 410, reason Expired: a watch or list from a resourceVersion older than the cache (or
    /// etcd's compaction) still holds.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone {
        /// The version asked for.
        requested: u64,
        /// The oldest version that could be served.
        oldest: u64,
    },
    /// 504, reason Timeout: storage did not answer in time (etcd without a quorum, or cut off).
    #[error("{0}")]
    Timeout(String),
    /// 400, reason BadRequest: the request itself is malformed (no body, a body that does
    /// not decode, a namespace that contradicts the URL's).
    #[error("{0}")]
    BadRequest(String),
    /// 404, reason NotFound: no such resource is served (not an object: the URL).
    #[error("the server could not find the requested resource")]
    NoSuchResource,
    /// 405, reason MethodNotAllowed: the verb is not served on this resource.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// 415, reason UnsupportedMediaType: a patch whose content type is none of those
    /// accepted, listed here comma separated (`negotiation.NewUnsupportedMediaTypeError`).
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {0}"
    )]
    UnsupportedMediaType(String),
    /// 422, reason Invalid: a patch that cannot be applied (a JSON patch `test` that fails,
    /// a path that does not exist). kube-apiserver answers with its generic words for a 422
    /// (`errors.NewGenericServerResponse`) and drops the patch library's; they are kept
    /// here, out of the message, for whoever debugs a run.
    #[error("the server rejected our request due to an error in our request")]
    PatchFailed(String),
    /// 500, reason InternalError: etcd refused, or answered what cannot be read.
    #[error("Internal error occurred: {0}")]
    Internal(String),
}

/// The conflict message of an update with a stale resourceVersion
/// (`registry/generic/registry/store.go`, `OptimisticLockErrorMsg`).
pub const STALE_UPDATE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// A resource, and the object in it, that a request is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The plural (`pods`).
    pub plural: &'static str,
    /// Its group, empty for core.
    pub group: &'static str,
    /// Its kind (`Pod`), for "is invalid" messages.
    pub kind: &'static str,
    /// A subresource (`binding`, `status`).
    pub subresource: Option<&'static str>,
    /// The object's name, when the request names one.
    pub name: Option<String>,
}

impl Target {
    /// A target of `resource`, with a name or not.
    pub fn new(resource: &Resource, name: Option<&str>) -> Self {
        Target {
            plural: resource.plural,
            group: resource.group,
            kind: resource.kind,
            subresource: None,
            name: name.map(str::to_string),
        }
    }

    /// `pods "web"`, `deployments.apps "web"`, or `pods` for a request with no name.
    fn qualified(&self) -> String {
        let resource = if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        };
        match &self.name {
            Some(name) => format!("{resource} \"{name}\""),
            None => resource,
        }
    }
}

fn forbidden_message(t: &Target, user: &str, verb: Verb, namespace: Option<&str>) -> String {
    let resource = match t.subresource {
        Some(sub) => format!("{}/{sub}", t.plural),
        None => t.plural.to_string(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    format!(
        "{} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
        t.qualified(),
        t.group
    )
}

fn invalid_message(t: &Target, errors: &[FieldError]) -> String {
    let kind = if t.group.is_empty() {
        t.kind.to_string()
    } else {
        format!("{}.{}", t.kind, t.group)
    };
    let name = t.name.as_deref().unwrap_or("");
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    match list.as_slice() {
        [one] => format!("{kind} \"{name}\" is invalid: {one}"),
        many => format!("{kind} \"{name}\" is invalid: [{}]", many.join(", ")),
    }
}

impl ApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } | ApiError::AdmissionDenied { .. } => 403,
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Gone { .. } => 410,
            ApiError::Invalid { .. } => 422,
            ApiError::Timeout(_) => 504,
            ApiError::BadRequest(_) => 400,
            ApiError::NoSuchResource => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::PatchFailed(_) => 422,
            ApiError::Internal(_) => 500,
        }
    }

    /// The `reason` (metav1.StatusReason).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } | ApiError::AdmissionDenied { .. } => "Forbidden",
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Gone { .. } => "Expired",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Timeout(_) => "Timeout",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::NoSuchResource => "NotFound",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::PatchFailed(_) => "Invalid",
            ApiError::Internal(_) => "InternalError",
        }
    }

    /// The error as the `metav1.Status` the API server answers with.
    pub fn to_status(&self) -> Status {
        let target = match self {
            ApiError::Forbidden { target, .. } => Some(&**target),
            ApiError::AdmissionDenied { target, .. }
            | ApiError::NotFound { target }
            | ApiError::AlreadyExists { target }
            | ApiError::Conflict { target, .. }
            | ApiError::Invalid { target, .. } => Some(target),
            _ => None,
        };
        let causes = match self {
            ApiError::Invalid { errors, .. } => Some(
                errors
                    .iter()
                    .map(|e| StatusCause {
                        field: Some(e.path.clone()),
                        message: Some(e.to_string()),
                        reason: Some(
                            match e.kind {
                                crate::validation::FieldErrorKind::Required => "FieldValueRequired",
                                crate::validation::FieldErrorKind::Forbidden => {
                                    "FieldValueForbidden"
                                }
                                _ => "FieldValueInvalid",
                            }
                            .to_string(),
                        ),
                    })
                    .collect(),
            ),
            _ => None,
        };
        Status {
            status: Some("Failure".to_string()),
            code: Some(i32::from(self.code())),
            reason: Some(self.reason().to_string()),
            message: Some(self.to_string()),
            details: target.map(|t| StatusDetails {
                name: t.name.clone(),
                group: Some(t.group.to_string()).filter(|g| !g.is_empty()),
                kind: Some(t.plural.to_string()),
                causes,
                ..StatusDetails::default()
            }),
            ..Status::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_kind;
    use crate::validation::{FieldError, FieldErrorKind};

    fn target(api: &str, kind: &str, name: Option<&str>) -> Target {
        Target::new(by_kind(api, kind).unwrap(), name)
    }

    #[test]
    fn messages_are_kubernetes_own() {
        let e = ApiError::Forbidden {
            target: Box::new(target("v1", "Pod", Some("web"))),
            user: "reader".into(),
            verb: Verb::Delete,
            namespace: Some("default".into()),
        };
        assert_eq!(e.code(), 403);
        assert_eq!(
            e.to_string(),
            "pods \"web\" is forbidden: User \"reader\" cannot delete resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        let mut binding = target("v1", "Pod", Some("web"));
        binding.subresource = Some("binding");
        let e = ApiError::Forbidden {
            target: Box::new(binding),
            user: "system:anonymous".into(),
            verb: Verb::Create,
            namespace: Some("default".into()),
        };
        assert!(
            e.to_string()
                .contains("cannot create resource \"pods/binding\""),
            "{e}"
        );
        let e = ApiError::Conflict {
            target: target("apps/v1", "Deployment", Some("web")),
            why: STALE_UPDATE.into(),
        };
        assert_eq!(
            e.to_string(),
            format!("Operation cannot be fulfilled on deployments.apps \"web\": {STALE_UPDATE}")
        );
        assert_eq!((e.code(), e.reason()), (409, "Conflict"));
        let e = ApiError::NotFound {
            target: target("v1", "Node", Some("worker-a")),
        };
        assert_eq!(e.to_string(), "nodes \"worker-a\" not found");
        assert_eq!(
            ApiError::Gone {
                requested: 5,
                oldest: 120
            }
            .to_string(),
            "too old resource version: 5 (120)"
        );
        let e = ApiError::UnsupportedMediaType("application/json-patch+json".into());
        assert_eq!((e.code(), e.reason()), (415, "UnsupportedMediaType"));
        assert_eq!(e.to_string(), "the body of the request was in an unknown format - accepted media types include: application/json-patch+json");
        let e = ApiError::PatchFailed("testing value /spec failed".into());
        assert_eq!((e.code(), e.reason()), (422, "Invalid"));
        assert_eq!(
            e.to_string(),
            "the server rejected our request due to an error in our request"
        );
    }

    #[test]
    fn invalid_lists_every_field_error_in_the_status() {
        let errors = vec![
            FieldError {
                path: "metadata.name".into(),
                kind: FieldErrorKind::Invalid("\"Web\"".into()),
                detail: "bad".into(),
            },
            FieldError {
                path: "spec.selector".into(),
                kind: FieldErrorKind::Required,
                detail: String::new(),
            },
        ];
        let e = ApiError::Invalid {
            target: target("apps/v1", "Deployment", Some("Web")),
            errors,
        };
        assert_eq!(
            e.to_string(),
            "Deployment.apps \"Web\" is invalid: [metadata.name: Invalid value: \"Web\": bad, spec.selector: Required value]"
        );
        let s = e.to_status();
        assert_eq!(s.code, Some(422));
        let causes = s.details.unwrap().causes.unwrap();
        assert_eq!(causes[1].field.as_deref(), Some("spec.selector"));
        assert_eq!(causes[1].reason.as_deref(), Some("FieldValueRequired"));
    }
}
