//! Storage: how the API server keeps objects in etcd, as kube-apiserver's etcd3 store does,
//! written as plans (the etcd transaction to send) and results (what its answer means),
//! so the decisions are tested without a network and the API server component only
//! carries them over the etcd client.
//!
//! - An object is stored as JSON at its resource's key, without `resourceVersion`: the
//!   version is the key's etcd mod revision, written into `metadata.resourceVersion` when
//!   the object is read back (kube-apiserver's APIObjectVersioner).
//! - Create is a txn "the key's mod revision is 0, then put": an existing name fails it,
//!   and the API answers 409 AlreadyExists.
//! - Update and delete with a resourceVersion precondition are a txn "mod revision equals
//!   it, then put (or delete); else read the key": a failed compare with the key present is
//!   409 Conflict with Kubernetes' "the object has been modified" message, with the key
//!   gone 404. An unconditional update or delete compares with the revision it just read.
//! - A caller that retries, as kube-apiserver's GuaranteedUpdate and conditional delete do,
//!   reads what the failed compare found ([`Attempt::Moved`]) and tries again from it,
//!   without another round trip; before each try it checks the request's preconditions
//!   ([`check_preconditions`]) against the object as it now is.
//! - A write that would store what is stored already is no write (GuaranteedUpdate's no-op
//!   check, [`same_stored`]): no new revision, no watch event.

use raft::etcd::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, KeyRange, KeyValue, PutRequest,
    RangeRequest, RequestOp, Response, Revision, TxnRequest,
};
use serde_json::Value;

use crate::resource::Resource;
use crate::status::{ApiError, Target, STALE_UPDATE};

/// An object read from etcd.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The object, `metadata.resourceVersion` set to its mod revision.
    pub object: Value,
    /// The key's mod revision.
    pub mod_revision: Revision,
}

/// Why etcd's answer cannot be read as an object: a bug, never a user's error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The stored value is not an object's JSON.
    #[error("stored value at {key} is not JSON: {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// serde_json's words.
        message: String,
    },
    /// etcd answered something other than what the plan asked for.
    #[error("unexpected etcd response: {0}")]
    Unexpected(String),
}

/// The text stored for `object`: its JSON without `metadata.resourceVersion`.
pub fn encode(object: &Value) -> String {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    object.to_string()
}

/// The object in `kv`, with its resourceVersion.
///
/// # Errors
///
/// When the value is not JSON.
pub fn decode(kv: &KeyValue) -> Result<Stored, StorageError> {
    let mut object: Value = serde_json::from_str(&kv.value).map_err(|e| StorageError::Corrupt {
        key: kv.key.clone(),
        message: e.to_string(),
    })?;
    set_version(&mut object, kv.mod_revision);
    Ok(Stored {
        object,
        mod_revision: kv.mod_revision,
    })
}

/// The resourceVersion a request carries in `metadata.resourceVersion`, if any.
///
/// # Errors
///
/// 422 for one that is not a number (etcd revisions are).
pub fn precondition(resource: &Resource, object: &Value) -> Result<Option<Revision>, ApiError> {
    match object.pointer("/metadata/resourceVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            s.parse()
                .map(|v| Some(Revision(v)))
                .map_err(|_| ApiError::Invalid {
                    target: target_of(resource, object),
                    errors: vec![crate::validation::FieldError {
                        path: "metadata.resourceVersion".into(),
                        kind: crate::validation::FieldErrorKind::Invalid(format!("{s:?}")),
                        detail: "must be a resourceVersion this server gave out".into(),
                    }],
                })
        }
        Some(other) => Err(ApiError::Invalid {
            target: target_of(resource, object),
            errors: vec![crate::validation::FieldError {
                path: "metadata.resourceVersion".into(),
                kind: crate::validation::FieldErrorKind::Invalid(other.to_string()),
                detail: "must be a string".into(),
            }],
        }),
    }
}

fn target_of(resource: &Resource, object: &Value) -> Target {
    Target::new(
        resource,
        object.pointer("/metadata/name").and_then(Value::as_str),
    )
}

fn mod_revision_is(key: &str, revision: Revision) -> Compare {
    Compare {
        key: key.to_string(),
        target: CompareTarget::ModRevision(revision),
        result: CompareResult::Equal,
    }
}

fn read(key: &str) -> RequestOp {
    RequestOp::Range(RangeRequest::latest(KeyRange::key(key)))
}

/// The txn that creates `object` at `key`.
pub fn create(key: &str, object: &Value) -> TxnRequest {
    TxnRequest {
        compare: vec![mod_revision_is(key, Revision::NONE)],
        success: vec![RequestOp::Put(PutRequest::new(key, encode(object)))],
        failure: vec![],
    }
}

/// The txn that replaces the object at `key` if its mod revision is still `expected`;
/// else reads it, so the answer can tell a conflict from a deletion.
pub fn update(key: &str, expected: Revision, object: &Value) -> TxnRequest {
    TxnRequest {
        compare: vec![mod_revision_is(key, expected)],
        success: vec![RequestOp::Put(PutRequest::new(key, encode(object)))],
        failure: vec![read(key)],
    }
}

/// The txn that deletes the object at `key` if its mod revision is still `expected`
/// (returning what it deleted); else reads it.
pub fn delete(key: &str, expected: Revision) -> TxnRequest {
    TxnRequest {
        compare: vec![mod_revision_is(key, expected)],
        success: vec![RequestOp::DeleteRange(DeleteRangeRequest {
            range: KeyRange::key(key),
            prev_kv: true,
        })],
        failure: vec![read(key)],
    }
}

/// The txn's answer, as `(succeeded, responses, revision)` (what the etcd client returns).
pub type TxnAnswer = (bool, Vec<Response>, Revision);

/// What a write conditional on the mod revision came to, for a caller that retries.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    /// Done: the object as written (an update), or as it was when deleted (a delete).
    Done(Stored),
    /// The key moved on since the revision compared with: what it holds now.
    Moved(Stored),
    /// The key is gone.
    Gone,
}

/// What the read that ran instead of a failed write found.
fn found_instead(responses: &[Response]) -> Result<Attempt, StorageError> {
    match responses.first() {
        Some(Response::Range { kvs, .. }) => Ok(match kvs.first() {
            Some(kv) => Attempt::Moved(decode(kv)?),
            None => Attempt::Gone,
        }),
        other => Err(StorageError::Unexpected(format!("{other:?}"))),
    }
}

/// What the answer to [`update`] of `object` means.
///
/// # Errors
///
/// When etcd answered what the plan did not ask for, or holds what is not JSON.
pub fn update_attempt(object: &Value, answer: &TxnAnswer) -> Result<Attempt, StorageError> {
    let (succeeded, responses, revision) = answer;
    if *succeeded {
        return Ok(Attempt::Done(with_version(object, *revision)));
    }
    found_instead(responses)
}

/// What the answer to [`delete`] means ([`Attempt::Done`] holds the object deleted).
///
/// # Errors
///
/// When etcd answered what the plan did not ask for, or holds what is not JSON.
pub fn delete_attempt(answer: &TxnAnswer) -> Result<Attempt, StorageError> {
    let (succeeded, responses, _) = answer;
    if !*succeeded {
        return found_instead(responses);
    }
    match responses.first() {
        Some(Response::DeleteRange { prev_kvs, .. }) => match prev_kvs.first() {
            Some(kv) => Ok(Attempt::Done(decode(kv)?)),
            None => Ok(Attempt::Gone),
        },
        other => Err(StorageError::Unexpected(format!("{other:?}"))),
    }
}

/// Whether storing `object` would store exactly what `stored` holds (resourceVersions
/// aside: they are not stored).
pub fn same_stored(object: &Value, stored: &Value) -> bool {
    let bare = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        v
    };
    bare(object) == bare(stored)
}

/// The storage layer's check of a write's preconditions against the object at `key` as it
/// is now (`storage.Preconditions.Check`), failing with the text of the StorageError that
/// kube-apiserver wraps in its 409 (`Operation cannot be fulfilled on ...: StorageError:
/// invalid object, ...`), so a client sees the same words as from a real cluster.
///
/// # Errors
///
/// The StorageError's text when the uid or the resourceVersion is not the object's.
pub fn check_preconditions(
    key: &str,
    uid: Option<&str>,
    resource_version: Option<&str>,
    object: &Value,
) -> Result<(), String> {
    let meta = |field: &str| {
        object
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let failed = |what: &str, wanted: &str, found: &str| {
        // Code 4 is ErrCodeInvalidObj; the ResourceVersion of an invalid-object error is
        // always 0 (`storage.NewInvalidObjError`).
        Err(format!(
            "StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {found}"
        ))
    };
    if let Some(uid) = uid.filter(|u| *u != meta("uid")) {
        return failed("UID", uid, meta("uid"));
    }
    if let Some(rv) = resource_version.filter(|rv| *rv != meta("resourceVersion")) {
        return failed("ResourceVersion", rv, meta("resourceVersion"));
    }
    Ok(())
}

/// What a create's answer means: the object as stored, or 409 AlreadyExists.
pub fn created(
    resource: &Resource,
    object: &Value,
    answer: &TxnAnswer,
) -> Result<Result<Stored, ApiError>, StorageError> {
    let (succeeded, _, revision) = answer;
    if !succeeded {
        return Ok(Err(ApiError::AlreadyExists {
            target: target_of(resource, object),
        }));
    }
    Ok(Ok(with_version(object, *revision)))
}

/// Writes `revision` into `metadata.resourceVersion` (kube-apiserver's versioner).
fn set_version(object: &mut Value, revision: Revision) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".to_string(),
            Value::String(revision.0.to_string()),
        );
    }
}

fn with_version(object: &Value, revision: Revision) -> Stored {
    let mut object = object.clone();
    set_version(&mut object, revision);
    Stored {
        object,
        mod_revision: revision,
    }
}

/// An attempt that did not go through, as the API answers it: the key is there at another
/// version (409 Conflict) or gone (404).
fn refused(target: Target, attempt: Attempt) -> ApiError {
    match attempt {
        Attempt::Gone => ApiError::NotFound { target },
        Attempt::Moved(_) | Attempt::Done(_) => ApiError::Conflict {
            target,
            why: STALE_UPDATE.to_string(),
        },
    }
}

/// What an update's answer means: the object as stored, 409 Conflict (it changed since
/// `expected`), or 404 (it is gone).
///
/// # Errors
///
/// When etcd's answer cannot be read.
pub fn updated(
    resource: &Resource,
    object: &Value,
    answer: &TxnAnswer,
) -> Result<Result<Stored, ApiError>, StorageError> {
    Ok(match update_attempt(object, answer)? {
        Attempt::Done(stored) => Ok(stored),
        other => Err(refused(target_of(resource, object), other)),
    })
}

/// What a delete's answer means: the object as it was when deleted, 409 Conflict, or 404.
///
/// # Errors
///
/// When etcd's answer cannot be read.
pub fn deleted(
    resource: &Resource,
    name: &str,
    answer: &TxnAnswer,
) -> Result<Result<Stored, ApiError>, StorageError> {
    Ok(match delete_attempt(answer)? {
        Attempt::Done(stored) => Ok(stored),
        other => Err(refused(Target::new(resource, Some(name)), other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_kind;
    use raft::etcd::{Command, EtcdStore};
    use serde_json::json;

    /// Runs `txn` on a real etcd store, as the leader would apply it.
    fn run(store: &mut EtcdStore, txn: TxnRequest) -> TxnAnswer {
        match store.apply(&Command::Txn(txn), 0, true) {
            Response::Txn {
                header,
                succeeded,
                responses,
            } => (succeeded, responses, header.revision),
            other => panic!("{other:?}"),
        }
    }

    fn cm(data: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"}, "data": {"k": data}})
    }

    #[test]
    fn create_update_and_delete_follow_kubernetes_optimistic_concurrency() {
        let r = by_kind("v1", "ConfigMap").unwrap();
        let key = r.key(Some("default"), "cfg");
        let mut store = EtcdStore::default();
        let first = created(r, &cm("a"), &run(&mut store, create(&key, &cm("a"))))
            .unwrap()
            .unwrap();
        let rv = first.mod_revision;
        assert_eq!(
            first.object["metadata"]["resourceVersion"],
            rv.0.to_string()
        );
        // A second create of the name is AlreadyExists.
        let again = created(r, &cm("b"), &run(&mut store, create(&key, &cm("b")))).unwrap();
        assert_eq!(again.unwrap_err().reason(), "AlreadyExists");
        // The stored text has no resourceVersion; reading it back sets it.
        let kv = store
            .mvcc()
            .range(&RangeRequest::latest(KeyRange::key(&key)))
            .unwrap()
            .kvs[0]
            .clone();
        assert!(!kv.value.contains("resourceVersion"), "{}", kv.value);
        assert_eq!(decode(&kv).unwrap(), first);
        // An update from the version read succeeds and moves it on...
        let second = updated(r, &cm("b"), &run(&mut store, update(&key, rv, &cm("b"))))
            .unwrap()
            .unwrap();
        assert!(second.mod_revision > rv);
        // ... and one from the old version is 409 with Kubernetes' words.
        let stale = updated(r, &cm("c"), &run(&mut store, update(&key, rv, &cm("c"))))
            .unwrap()
            .unwrap_err();
        assert_eq!(stale.code(), 409);
        assert!(stale.to_string().ends_with(STALE_UPDATE), "{stale}");
        // Delete with a stale precondition is a conflict; with the current one it deletes.
        let d = deleted(r, "cfg", &run(&mut store, delete(&key, rv))).unwrap();
        assert_eq!(d.unwrap_err().reason(), "Conflict");
        let d = deleted(
            r,
            "cfg",
            &run(&mut store, delete(&key, second.mod_revision)),
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.object["data"]["k"], "b");
        // Gone: update and delete are 404.
        let gone = updated(r, &cm("d"), &run(&mut store, update(&key, rv, &cm("d")))).unwrap();
        assert_eq!(gone.unwrap_err().code(), 404);
        let gone = deleted(r, "cfg", &run(&mut store, delete(&key, rv))).unwrap();
        assert_eq!(gone.unwrap_err().code(), 404);
    }

    #[test]
    fn a_failed_compare_says_what_the_key_holds_now() {
        let r = by_kind("v1", "ConfigMap").unwrap();
        let key = r.key(Some("default"), "cfg");
        let mut store = EtcdStore::default();
        let first = created(r, &cm("a"), &run(&mut store, create(&key, &cm("a"))))
            .unwrap()
            .unwrap();
        let second = match update_attempt(
            &cm("b"),
            &run(&mut store, update(&key, first.mod_revision, &cm("b"))),
        )
        .unwrap()
        {
            Attempt::Done(s) => s,
            other => panic!("{other:?}"),
        };
        // From the old revision: not written, and the answer carries the object as it is.
        let stale = update_attempt(
            &cm("c"),
            &run(&mut store, update(&key, first.mod_revision, &cm("c"))),
        )
        .unwrap();
        assert_eq!(stale, Attempt::Moved(second.clone()));
        let stale = delete_attempt(&run(&mut store, delete(&key, first.mod_revision))).unwrap();
        assert_eq!(stale, Attempt::Moved(second.clone()));
        let gone = delete_attempt(&run(&mut store, delete(&key, second.mod_revision))).unwrap();
        assert_eq!(gone, Attempt::Done(second.clone()));
        let after = delete_attempt(&run(&mut store, delete(&key, second.mod_revision))).unwrap();
        assert_eq!(after, Attempt::Gone);
        // Storing what is stored is no change, whatever the resourceVersions say.
        let mut same = second.object.clone();
        same["metadata"]["resourceVersion"] = json!("1");
        assert!(same_stored(&same, &second.object));
        assert!(!same_stored(&cm("z"), &second.object));
    }

    #[test]
    fn preconditions_fail_with_the_storage_errors_words() {
        let mut o = cm("a");
        o["metadata"]["uid"] = json!("u-1");
        o["metadata"]["resourceVersion"] = json!("7");
        let key = "/registry/configmaps/default/cfg";
        assert_eq!(check_preconditions(key, Some("u-1"), Some("7"), &o), Ok(()));
        assert_eq!(check_preconditions(key, None, None, &o), Ok(()));
        assert_eq!(
            check_preconditions(key, Some("u-0"), None, &o),
            Err("StorageError: invalid object, Code: 4, Key: /registry/configmaps/default/cfg, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: u-0, UID in object meta: u-1".to_string())
        );
        assert_eq!(
            check_preconditions(key, Some("u-1"), Some("6"), &o),
            Err("StorageError: invalid object, Code: 4, Key: /registry/configmaps/default/cfg, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: ResourceVersion in precondition: 6, ResourceVersion in object meta: 7".to_string())
        );
    }

    #[test]
    fn a_precondition_must_be_a_revision() {
        let r = by_kind("v1", "ConfigMap").unwrap();
        let mut o = cm("a");
        assert_eq!(precondition(r, &o), Ok(None));
        o["metadata"]["resourceVersion"] = json!("17");
        assert_eq!(precondition(r, &o), Ok(Some(Revision(17))));
        o["metadata"]["resourceVersion"] = json!("yesterday");
        assert_eq!(precondition(r, &o).unwrap_err().code(), 422);
    }
}
