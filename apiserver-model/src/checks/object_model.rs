//! `kube-object`: the sequential specification of one Kubernetes object as its API serves
//! it, for `sim_core::linearizability` (keyed by object: each object's operations are
//! checked on their own, Herlihy and Wing's locality).
//!
//! The object is absent, or present with a resourceVersion and a [content]. The rules are
//! the API's (Kubernetes API concepts, "Resource versions" and "Concurrency control and
//! consistency"; the generic registry's `Store` in `k8s.io/apiserver/pkg/registry/generic/
//! registry/store.go`, over the etcd3 storage's `GuaranteedUpdate` and `conditionalDelete`
//! in `k8s.io/apiserver/pkg/storage/etcd3/store.go`):
//!
//! - a quorum `get` answers the current state: the object with its current resourceVersion
//!   and content, or 404;
//! - `create` of an absent object stores it at a resourceVersion greater than every earlier
//!   one of the object (etcd's revision only grows, and a delete took one too); of a present
//!   one, 409 AlreadyExists;
//! - `update` and `patch` of a present object whose resourceVersion is the precondition (or
//!   with none) store the new content at a greater resourceVersion, or, when nothing
//!   changes, store nothing and answer the current object as it is (GuaranteedUpdate's
//!   short cut: same resourceVersion, same content); a precondition that is not the current
//!   resourceVersion is 409 Conflict; an absent object is 404;
//! - `delete` of a present object whose resourceVersion is the precondition removes it and
//!   answers the object as it was (its last resourceVersion), or, when finalizers or a grace
//!   period hold it, marks it (a new resourceVersion; an object already being deleted
//!   answers as it is); a wrong precondition is 409, an absent object 404.
//!
//! An operation whose answer never came may have happened or not. A write that happened
//! unseen left an unknown resourceVersion, above every earlier one ([`Rv::AtLeast`]), and an
//! unknown content (the server defaults what it stores, so the content sent is not always
//! the content stored), both pinned by the next answer that shows them. That forgets a
//! little (an unseen write could only have stored its own content, defaulted), so it may
//! accept a history the API could not produce, never reject one it could.
//!
//! Refusals that are not about this object's state (a create's 404 for a missing
//! namespace, a 409 from a quota's own concurrency) are accepted in any state.
//!
//! The operations are the recorded ones of [`crate::api_history`]; the check hands over
//! only those the specification is for (quorum gets, and the writes).
//!
//! [content]: crate::api_history::content

use std::sync::Arc;

use serde_json::Value;
use sim_core::linearizability::Model;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct KubeObject;

/// A content, as its canonical JSON text (states hash and compare cheaply).
pub type Content = Arc<str>;

fn canon(v: &Value) -> Content {
    Arc::from(v.to_string())
}

/// A resourceVersion as far as the history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rv {
    /// Exactly this.
    Known(u64),
    /// Written unseen: at least this.
    AtLeast(u64),
}

impl Rv {
    /// The version after an answer showed `seen`, if it can be that.
    fn pin(self, seen: u64) -> Option<Rv> {
        match self {
            Rv::Known(k) => (k == seen).then_some(self),
            Rv::AtLeast(lo) => (seen >= lo).then_some(Rv::Known(seen)),
        }
    }

    /// Whether it is `v`: `Some` when certain.
    fn is(self, v: u64) -> Option<bool> {
        match self {
            Rv::Known(k) => Some(k == v),
            Rv::AtLeast(lo) if v < lo => Some(false),
            Rv::AtLeast(_) => None,
        }
    }
}

/// The object's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectState {
    /// Stored or not.
    pub present: bool,
    /// Its resourceVersion (meaningless when absent).
    pub rv: Rv,
    /// Its content; `None` when absent or not known yet.
    pub content: Option<Content>,
    /// A lower bound on the largest revision the object's writes have taken: a new write's
    /// resourceVersion is above it.
    pub floor: u64,
}

impl ObjectState {
    fn absent(floor: u64) -> Self {
        ObjectState {
            present: false,
            rv: Rv::Known(0),
            content: None,
            floor,
        }
    }

    /// The object as a write stored it at `rv` (`None`: unseen) with `content` (`None`:
    /// unknown).
    fn written(&self, rv: Option<u64>, content: Option<Content>) -> Self {
        match rv {
            Some(rv) => ObjectState {
                present: true,
                rv: Rv::Known(rv),
                content,
                floor: rv,
            },
            None => ObjectState {
                present: true,
                rv: Rv::AtLeast(self.floor + 1),
                content,
                floor: self.floor + 1,
            },
        }
    }

    /// The state once an answer showed the object at `rv` with `content`, if it can be
    /// this one.
    fn shows(&self, rv: u64, content: &Content) -> Option<Self> {
        if !self.present {
            return None;
        }
        let pinned = self.rv.pin(rv)?;
        if self.content.as_ref().is_some_and(|c| c != content) {
            return None;
        }
        Some(ObjectState {
            present: true,
            rv: pinned,
            content: Some(content.clone()),
            floor: self.floor.max(rv),
        })
    }

    /// The state if its resourceVersion is `precondition` (when there is one), pinned so.
    fn meets(&self, precondition: Option<u64>) -> Option<Self> {
        match precondition {
            None => Some(self.clone()),
            Some(p) => {
                let rv = self.rv.pin(p)?;
                Some(ObjectState {
                    rv,
                    floor: self.floor.max(p),
                    ..self.clone()
                })
            }
        }
    }

    /// Whether the precondition may fail here (409 Conflict).
    fn may_conflict(&self, precondition: Option<u64>) -> bool {
        match precondition {
            // Only a uid precondition, which the model does not follow, can conflict then.
            None => true,
            Some(p) => self.rv.is(p) != Some(true),
        }
    }
}

/// A `kube-object` operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectInput {
    /// A quorum get.
    Get,
    /// A create (its stored content is known from its answer only: the server defaults it).
    Create,
    /// An update (whole or of the `status` subresource, which leaves the content as it is)
    /// or a patch, on `precondition` if any.
    Write {
        /// The resourceVersion it must find.
        precondition: Option<u64>,
        /// It writes the `status` subresource only.
        keeps_content: bool,
    },
    /// A delete, on `precondition` if any.
    Delete {
        /// The resourceVersion it must find.
        precondition: Option<u64>,
    },
}

/// What an `ok` operation was told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectOutput {
    /// The object at `rv` with `content`; a delete's `gone` says it was removed.
    Object {
        /// Its resourceVersion.
        rv: u64,
        /// Its content.
        content: Content,
        /// A delete's: removed rather than marked.
        gone: bool,
    },
    /// 404.
    NotFound,
    /// 409 AlreadyExists.
    AlreadyExists,
    /// 409 Conflict.
    Conflict,
}

fn version(v: &Value, field: &str) -> Result<Option<u64>, String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("`{field}` {s:?} is not a resourceVersion")),
        Some(other) => Err(format!("`{field}` must be a string, got {other}")),
    }
}

impl Model for KubeObject {
    type Input = ObjectInput;
    type Output = ObjectOutput;
    type State = ObjectState;

    fn name(&self) -> &'static str {
        "kube-object"
    }

    fn keyed(&self) -> bool {
        true
    }

    fn init(&self) -> ObjectState {
        ObjectState::absent(0)
    }

    fn decode(
        &self,
        f: &str,
        invoke: &Value,
        completion: Option<&Value>,
    ) -> Result<(ObjectInput, Option<ObjectOutput>), String> {
        let precondition = version(invoke, "precondition")?;
        let input = match f {
            "get" => {
                if version(invoke, "resource_version")?.is_some()
                    || invoke["resource_version"] == "0"
                {
                    return Err("a get from the watch cache is no quorum read".to_string());
                }
                ObjectInput::Get
            }
            "create" => ObjectInput::Create,
            "update" | "patch" => ObjectInput::Write {
                precondition,
                keeps_content: invoke["subresource"] == "status",
            },
            "delete" => ObjectInput::Delete { precondition },
            other => return Err(format!("the kube-object model has no function `{other}`")),
        };
        let output = match completion {
            None => None,
            Some(out) => Some(match out["code"].as_u64() {
                Some(404) => ObjectOutput::NotFound,
                Some(409) if out["reason"] == "AlreadyExists" => ObjectOutput::AlreadyExists,
                Some(409) => ObjectOutput::Conflict,
                Some(200 | 201) => ObjectOutput::Object {
                    rv: version(out, "resource_version")?
                        .ok_or_else(|| format!("an answer without a resourceVersion: {out}"))?,
                    content: canon(out.get("content").unwrap_or(&Value::Null)),
                    gone: out["gone"].as_bool().unwrap_or(false),
                },
                _ => return Err(format!("an answer the model cannot read: {out}")),
            }),
        };
        Ok((input, output))
    }

    fn read_only(&self, input: &ObjectInput) -> bool {
        *input == ObjectInput::Get
    }

    fn step(
        &self,
        s: &ObjectState,
        input: &ObjectInput,
        output: Option<&ObjectOutput>,
        next: &mut Vec<ObjectState>,
    ) {
        use ObjectOutput as O;
        match (input, output) {
            (ObjectInput::Get, None) => next.push(s.clone()),
            (ObjectInput::Get, Some(O::Object { rv, content, .. })) => {
                next.extend(s.shows(*rv, content));
            }
            (ObjectInput::Get, Some(O::NotFound)) if !s.present => next.push(s.clone()),

            (ObjectInput::Create, None) => {
                next.push(s.clone());
                if !s.present {
                    next.push(s.written(None, None));
                }
            }
            (ObjectInput::Create, Some(O::Object { rv, content, .. })) => {
                if !s.present && *rv > s.floor {
                    next.push(s.written(Some(*rv), Some(content.clone())));
                }
            }
            (ObjectInput::Create, Some(O::AlreadyExists)) if s.present => next.push(s.clone()),
            // About the namespace, or a quota's own conflict: not this object's state.
            (ObjectInput::Create, Some(O::NotFound | O::Conflict)) => next.push(s.clone()),

            (
                ObjectInput::Write {
                    precondition,
                    keeps_content,
                },
                None,
            ) => {
                next.push(s.clone());
                if let Some(met) = s.present.then(|| s.meets(*precondition)).flatten() {
                    let content = if *keeps_content {
                        met.content.clone()
                    } else {
                        None
                    };
                    next.push(met.written(None, content));
                }
            }
            (ObjectInput::Write { precondition, .. }, Some(O::Object { rv, content, .. })) => {
                let Some(met) = s.present.then(|| s.meets(*precondition)).flatten() else {
                    return;
                };
                // Nothing changed: nothing stored, the object answered as it is.
                next.extend(met.shows(*rv, content));
                if *rv > met.floor {
                    next.push(met.written(Some(*rv), Some(content.clone())));
                }
            }
            (ObjectInput::Write { .. } | ObjectInput::Delete { .. }, Some(O::NotFound))
                if !s.present =>
            {
                next.push(s.clone());
            }
            (
                ObjectInput::Write { precondition, .. } | ObjectInput::Delete { precondition },
                Some(O::Conflict),
            ) if s.present && s.may_conflict(*precondition) => next.push(s.clone()),

            (ObjectInput::Delete { precondition }, None) => {
                next.push(s.clone());
                if let Some(met) = s.present.then(|| s.meets(*precondition)).flatten() {
                    next.push(ObjectState::absent(met.floor + 1));
                    next.push(met.written(None, met.content.clone()));
                }
            }
            (
                ObjectInput::Delete { precondition },
                Some(O::Object {
                    rv,
                    content,
                    gone: true,
                }),
            ) => {
                let Some(met) = s.present.then(|| s.meets(*precondition)).flatten() else {
                    return;
                };
                // The answer is the object as it was removed; the removal took a revision.
                if let Some(last) = met.shows(*rv, content) {
                    next.push(ObjectState::absent(last.floor + 1));
                }
            }
            (
                ObjectInput::Delete { precondition },
                Some(O::Object {
                    rv,
                    content,
                    gone: false,
                }),
            ) => {
                let Some(met) = s.present.then(|| s.meets(*precondition)).flatten() else {
                    return;
                };
                // Already being deleted: answered as it is; else marked at a new version.
                next.extend(met.shows(*rv, content));
                if *rv > met.floor {
                    next.push(met.written(Some(*rv), Some(content.clone())));
                }
            }
            // Any other answer cannot come in this state.
            (_, Some(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn out(rv: u64, data: &str) -> ObjectOutput {
        ObjectOutput::Object {
            rv,
            content: canon(&json!({"data": {"k": data}})),
            gone: false,
        }
    }

    fn step(s: &ObjectState, input: ObjectInput, output: Option<ObjectOutput>) -> Vec<ObjectState> {
        let mut next = Vec::new();
        KubeObject.step(s, &input, output.as_ref(), &mut next);
        next
    }

    fn one(states: Vec<ObjectState>) -> ObjectState {
        assert_eq!(states.len(), 1, "{states:?}");
        states.into_iter().next().unwrap()
    }

    #[test]
    fn versions_grow_and_preconditions_hold() {
        let s0 = KubeObject.init();
        let s1 = one(step(&s0, ObjectInput::Create, Some(out(5, "a"))));
        assert_eq!((s1.rv, s1.floor), (Rv::Known(5), 5));
        // A get shows exactly the current state.
        assert_eq!(one(step(&s1, ObjectInput::Get, Some(out(5, "a")))), s1);
        assert!(step(&s1, ObjectInput::Get, Some(out(5, "b"))).is_empty());
        assert!(step(&s1, ObjectInput::Get, Some(out(4, "a"))).is_empty());
        assert!(step(&s1, ObjectInput::Get, Some(ObjectOutput::NotFound)).is_empty());
        let on = |p| ObjectInput::Write {
            precondition: p,
            keeps_content: false,
        };
        // An update on the current version moves it up; on another it is a conflict.
        let s2 = one(step(&s1, on(Some(5)), Some(out(9, "b"))));
        assert_eq!(s2.rv, Rv::Known(9));
        assert!(step(&s1, on(Some(4)), Some(out(9, "b"))).is_empty());
        assert!(step(&s1, on(None), Some(out(3, "b"))).is_empty());
        assert_eq!(
            one(step(&s2, on(Some(5)), Some(ObjectOutput::Conflict))),
            s2
        );
        assert!(step(&s2, on(Some(9)), Some(ObjectOutput::Conflict)).is_empty());
        // A no-op update answers the object as it is.
        assert_eq!(one(step(&s2, on(None), Some(out(9, "b")))), s2);
        assert!(step(&s2, on(None), Some(out(9, "c"))).is_empty());
        // A delete answers the last version and takes a revision of its own.
        let gone = ObjectOutput::Object {
            rv: 9,
            content: canon(&json!({"data": {"k": "b"}})),
            gone: true,
        };
        let s3 = one(step(
            &s2,
            ObjectInput::Delete { precondition: None },
            Some(gone),
        ));
        assert!(!s3.present && s3.floor == 10);
        assert!(step(&s3, ObjectInput::Create, Some(out(10, "c"))).is_empty());
        assert_eq!(
            one(step(&s3, ObjectInput::Create, Some(out(11, "c")))).rv,
            Rv::Known(11)
        );
    }

    #[test]
    fn an_unseen_write_is_pinned_by_the_next_answer() {
        let s1 = one(step(
            &KubeObject.init(),
            ObjectInput::Create,
            Some(out(5, "a")),
        ));
        let after = step(
            &s1,
            ObjectInput::Write {
                precondition: Some(5),
                keeps_content: false,
            },
            None,
        );
        assert_eq!(after.len(), 2, "it happened or not: {after:?}");
        let unseen = &after[1];
        assert_eq!((unseen.rv, unseen.content.clone()), (Rv::AtLeast(6), None));
        let pinned = one(step(unseen, ObjectInput::Get, Some(out(8, "z"))));
        assert_eq!(pinned.rv, Rv::Known(8));
        assert!(step(unseen, ObjectInput::Get, Some(out(5, "a"))).is_empty());
        // A precondition that cannot hold: it cannot have happened.
        let stale = step(
            &s1,
            ObjectInput::Write {
                precondition: Some(4),
                keeps_content: false,
            },
            None,
        );
        assert_eq!(stale, vec![s1]);
    }

    #[test]
    fn cache_gets_are_not_this_models() {
        let e = KubeObject
            .decode("get", &json!({"resource_version": "0"}), None)
            .unwrap_err();
        assert!(e.contains("watch cache"), "{e}");
        let (input, output) = KubeObject
            .decode(
                "update",
                &json!({"precondition": "7", "content": {}}),
                Some(&json!({"code": 409, "reason": "Conflict"})),
            )
            .unwrap();
        assert_eq!(
            (input, output),
            (
                ObjectInput::Write {
                    precondition: Some(7),
                    keeps_content: false
                },
                Some(ObjectOutput::Conflict)
            )
        );
    }
}
