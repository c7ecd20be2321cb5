//! `kv`: a keyed store that takes both Jepsen's keyed register operations and ksim's etcd
//! client operations, checked per key.
//!
//! etcd keeps one global revision counter: every put, successful compare-and-set and
//! effective delete creates a new revision, larger than every earlier one. Each key has a
//! `create_revision`, a `mod_revision` and a `version` (puts since creation; a delete makes
//! the key absent, all three 0). Every answer carries the store's header revision.
//!
//! Per key, the state tracks the value, the version, both revisions, and `floor`: a lower
//! bound on the global revision at this point of the linearization (the largest revision
//! any operation on this key has shown so far). Restricted to one key, a linearization of
//! the whole store still sees revisions only grow, so a write must create a revision above
//! the floor and a read's header revision must not be below it. A write whose outcome is
//! unknown created an unknown revision: it is recorded as "at least floor + 1"
//! ([`Rev::AtLeast`]) until a read pins it. That is an over-approximation (it forgets that
//! the unknown revision equals the create revision, for instance), so it may accept a
//! history etcd could not produce, but it never rejects one it could. What the per-key view
//! cannot see, revisions across keys, [`EtcdKv::cross_check`] checks on the whole history.
//!
//! ksim's etcd client records (JSON): `get` → `{value, mod_revision, create_revision,
//! version, revision}`; `put {value}` → `{revision}`; `delete` → `{deleted, revision}`;
//! `cas {expected_mod_revision, value}` → `{succeeded, revision}` (an etcd txn: if
//! `mod_revision == expected` then put; expected 0 means "absent").

use std::collections::BTreeSet;

use serde_json::Value;

use super::cas_register::{RegisterInput, RegisterOutput};
use super::{canon, canon_opt, Canon};
use crate::linearizability::model::Model;
use crate::linearizability::operation::Operation;
use crate::linearizability::report::Counterexample;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct EtcdKv;

/// A revision as far as the history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rev {
    /// Exactly this.
    Known(u64),
    /// Written by an operation whose answer was lost: at least this, not known yet.
    AtLeast(u64),
}

impl Rev {
    /// The revision after a read reported `observed`, or `None` if it cannot be that.
    fn pin(self, observed: u64) -> Option<Rev> {
        match self {
            Rev::Known(k) => (k == observed).then_some(self),
            Rev::AtLeast(lo) => (observed >= lo).then_some(Rev::Known(observed)),
        }
    }

    /// Whether it equals `e`: `Some` when certain, `None` when it may or may not.
    fn equals(self, e: u64) -> Option<bool> {
        match self {
            Rev::Known(k) => Some(k == e),
            Rev::AtLeast(lo) if e < lo => Some(false),
            Rev::AtLeast(_) => None,
        }
    }
}

/// One key's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyState {
    /// The value; `None` when absent.
    pub value: Option<Canon>,
    /// Puts since creation (0 when absent).
    pub version: u64,
    /// Revision of the put that created it (0 when absent).
    pub create: Rev,
    /// Revision of its last change (0 when absent).
    pub modr: Rev,
    /// Lower bound on the store's revision at this point.
    pub floor: u64,
}

impl KeyState {
    /// The key after a put of `v` that created revision `rev` (`None`: unknown).
    fn put(&self, v: Canon, rev: Option<u64>) -> Self {
        let r = rev.map_or(Rev::AtLeast(self.floor + 1), Rev::Known);
        KeyState {
            create: if self.value.is_none() { r } else { self.create },
            value: Some(v),
            version: self.version + 1,
            modr: r,
            floor: rev.unwrap_or(self.floor + 1),
        }
    }

    /// The key after an effective delete at revision `rev` (`None`: unknown).
    fn deleted(&self, rev: Option<u64>) -> Self {
        KeyState {
            value: None,
            version: 0,
            create: Rev::Known(0),
            modr: Rev::Known(0),
            floor: rev.unwrap_or(self.floor + 1),
        }
    }

    /// The key after an answer with header revision `header`, if the store can be there.
    fn observed(&self, header: u64) -> Option<Self> {
        (header >= self.floor).then(|| KeyState {
            floor: header,
            ..self.clone()
        })
    }
}

/// A `kv` operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvInput {
    /// Jepsen's keyed register operations (`read`, `write`, `cas [old new]`).
    Register(RegisterInput),
    /// etcd `get`.
    Get,
    /// etcd `put`.
    Put(Canon),
    /// etcd `delete`.
    Delete,
    /// etcd txn: put `value` if the key's mod revision is `expected` (0: absent).
    Cas {
        /// Expected mod revision.
        expected: u64,
        /// Value to put.
        value: Canon,
    },
}

/// What an `ok` `kv` operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutput {
    /// A register operation's answer.
    Register(RegisterOutput),
    /// A `get`.
    Get {
        /// The value (`None`: absent).
        value: Option<Canon>,
        /// Its mod revision.
        mod_revision: u64,
        /// Its create revision.
        create_revision: u64,
        /// Its version.
        version: u64,
        /// Header revision.
        revision: u64,
    },
    /// A `put`: the revision it created.
    Put {
        /// New revision.
        revision: u64,
    },
    /// A `delete`.
    Delete {
        /// Whether a key was deleted.
        deleted: bool,
        /// New revision if deleted, else the header revision.
        revision: u64,
    },
    /// A `cas`.
    Cas {
        /// Whether it put.
        succeeded: bool,
        /// New revision on success, else the header revision.
        revision: u64,
    },
}

impl KvOutput {
    /// The revision this answer shows and whether the operation created it.
    pub fn revision(&self) -> Option<(u64, bool)> {
        match *self {
            KvOutput::Register(_) => None,
            KvOutput::Get { revision, .. } => Some((revision, false)),
            KvOutput::Put { revision } => Some((revision, true)),
            KvOutput::Delete { deleted, revision } => Some((revision, deleted)),
            KvOutput::Cas {
                succeeded,
                revision,
            } => Some((revision, succeeded)),
        }
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name)
        .ok_or_else(|| format!("missing field `{name}` in {v}"))
}

fn u64_field(v: &Value, name: &str) -> Result<u64, String> {
    field(v, name)?
        .as_u64()
        .ok_or_else(|| format!("field `{name}` must be a non-negative integer in {v}"))
}

fn bool_field(v: &Value, name: &str) -> Result<bool, String> {
    let f = field(v, name)?;
    f.as_bool()
        .or_else(|| f.as_u64().filter(|&n| n <= 1).map(|n| n == 1))
        .ok_or_else(|| format!("field `{name}` must be a boolean in {v}"))
}

impl Model for EtcdKv {
    type Input = KvInput;
    type Output = KvOutput;
    type State = KeyState;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn keyed(&self) -> bool {
        true
    }

    fn init(&self) -> KeyState {
        KeyState {
            value: None,
            version: 0,
            create: Rev::Known(0),
            modr: Rev::Known(0),
            floor: 0,
        }
    }

    fn decode(
        &self,
        f: &str,
        invoke: &Value,
        completion: Option<&Value>,
    ) -> Result<(KvInput, Option<KvOutput>), String> {
        let etcd_cas = f == "cas" && invoke.is_object();
        if matches!(f, "read" | "write") || (f == "cas" && !etcd_cas) {
            let (input, output) = RegisterInput::decode(f, invoke, completion)?;
            return Ok((KvInput::Register(input), output.map(KvOutput::Register)));
        }
        let input = match f {
            "get" => KvInput::Get,
            "put" => KvInput::Put(canon(field(invoke, "value")?)),
            "delete" => KvInput::Delete,
            "cas" => KvInput::Cas {
                expected: u64_field(invoke, "expected_mod_revision")?,
                value: canon(field(invoke, "value")?),
            },
            other => return Err(format!("the kv model has no function `{other}`")),
        };
        let output = match completion {
            None => None,
            Some(out) => Some(match input {
                KvInput::Get => KvOutput::Get {
                    value: canon_opt(field(out, "value")?),
                    mod_revision: u64_field(out, "mod_revision")?,
                    create_revision: u64_field(out, "create_revision")?,
                    version: u64_field(out, "version")?,
                    revision: u64_field(out, "revision")?,
                },
                KvInput::Put(_) => KvOutput::Put {
                    revision: u64_field(out, "revision")?,
                },
                KvInput::Delete => KvOutput::Delete {
                    deleted: bool_field(out, "deleted")?,
                    revision: u64_field(out, "revision")?,
                },
                KvInput::Cas { .. } => KvOutput::Cas {
                    succeeded: bool_field(out, "succeeded")?,
                    revision: u64_field(out, "revision")?,
                },
                KvInput::Register(_) => unreachable!("register operations returned above"),
            }),
        };
        Ok((input, output))
    }

    fn read_only(&self, input: &KvInput) -> bool {
        matches!(input, KvInput::Get | KvInput::Register(RegisterInput::Read))
    }

    fn step(
        &self,
        s: &KeyState,
        input: &KvInput,
        output: Option<&KvOutput>,
        next: &mut Vec<KeyState>,
    ) {
        let absent = s.value.is_none();
        match (input, output) {
            (KvInput::Register(reg), out) => {
                let out = match out {
                    Some(KvOutput::Register(o)) => Some(o),
                    Some(_) => return,
                    None => None,
                };
                reg.apply(&s.value, out, |changed| {
                    next.push(match changed {
                        None => s.clone(),
                        Some(Some(v)) => s.put(v, None),
                        Some(None) => s.deleted(None),
                    });
                });
            }
            (KvInput::Get, None) => next.push(s.clone()),
            (
                KvInput::Get,
                Some(&KvOutput::Get {
                    ref value,
                    mod_revision,
                    create_revision,
                    version,
                    revision,
                }),
            ) => {
                if *value != s.value || version != s.version || revision < mod_revision {
                    return;
                }
                if absent && (mod_revision, create_revision) != (0, 0) {
                    return;
                }
                if version == 1 && create_revision != mod_revision {
                    return;
                }
                let (Some(modr), Some(create)) =
                    (s.modr.pin(mod_revision), s.create.pin(create_revision))
                else {
                    return;
                };
                if let Some(after) = (KeyState {
                    modr,
                    create,
                    ..s.clone()
                })
                .observed(revision)
                {
                    next.push(after);
                }
            }
            (KvInput::Put(v), None) => next.push(s.put(v.clone(), None)),
            (KvInput::Put(v), Some(&KvOutput::Put { revision })) => {
                if revision > s.floor {
                    next.push(s.put(v.clone(), Some(revision)));
                }
            }
            (KvInput::Delete, None) => next.push(if absent { s.clone() } else { s.deleted(None) }),
            (KvInput::Delete, Some(&KvOutput::Delete { deleted, revision })) => {
                if absent && !deleted {
                    next.extend(s.observed(revision));
                } else if !absent && deleted && revision > s.floor {
                    next.push(s.deleted(Some(revision)));
                }
            }
            (KvInput::Cas { expected, value }, out) => {
                let matches = s.modr.equals(*expected);
                match out {
                    None => {
                        if matches != Some(false) {
                            next.push(s.put(value.clone(), None));
                        }
                        if matches != Some(true) {
                            next.push(s.clone());
                        }
                    }
                    Some(&KvOutput::Cas {
                        succeeded: true,
                        revision,
                    }) => {
                        if matches != Some(false) && revision > s.floor {
                            next.push(s.put(value.clone(), Some(revision)));
                        }
                    }
                    Some(&KvOutput::Cas {
                        succeeded: false,
                        revision,
                    }) => {
                        if matches != Some(true) {
                            next.extend(s.observed(revision));
                        }
                    }
                    Some(_) => {}
                }
            }
            // An answer of the wrong shape for its operation: impossible.
            (_, Some(_)) => {}
        }
    }

    /// Replaces every written value that no `get` of the partition returned with one
    /// placeholder. Such a value can only ever make a `get` fail (no `get` shows it), so
    /// which unread value a key holds never matters; with one placeholder, states that
    /// differ only in it are one state, and two indeterminate puts of unread values have
    /// equal inputs, which the search tries only once (see `search`). Jepsen's register
    /// operations compare values (`cas [old new]`), so a partition holding any is left as
    /// it is.
    fn canonicalize(&self, part: &mut [Operation<Self>]) {
        if part
            .iter()
            .any(|op| matches!(op.input, KvInput::Register(_)))
        {
            return;
        }
        let read: BTreeSet<Canon> = part
            .iter()
            .filter_map(|op| match &op.output {
                Some(KvOutput::Get { value, .. }) => value.clone(),
                _ => None,
            })
            .collect();
        // Not JSON text, so no canonical JSON value equals it.
        let unread: Canon = Canon::from("<a value no get returned>");
        for op in part.iter_mut() {
            if let KvInput::Put(v) | KvInput::Cas { value: v, .. } = &mut op.input {
                if !read.contains(v) {
                    *v = unread.clone();
                }
            }
        }
    }

    fn cross_check(&self, ops: &[Operation<Self>]) -> Option<Counterexample> {
        super::revisions::cross_check(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(s: &KeyState, f: &str, inv: Value, out: Option<Value>) -> Vec<KeyState> {
        let (i, o) = EtcdKv.decode(f, &inv, out.as_ref()).unwrap();
        let mut next = Vec::new();
        EtcdKv.step(s, &i, o.as_ref(), &mut next);
        next
    }

    fn one(s: &KeyState, f: &str, inv: Value, out: Option<Value>) -> KeyState {
        let n = steps(s, f, inv, out);
        assert_eq!(n.len(), 1, "{n:?}");
        n.into_iter().next().unwrap()
    }

    fn get(value: Value, m: u64, c: u64, v: u64, r: u64) -> Option<Value> {
        Some(
            json!({"value": value, "mod_revision": m, "create_revision": c, "version": v, "revision": r}),
        )
    }

    #[test]
    fn puts_and_gets_track_revisions_and_versions() {
        let s0 = EtcdKv.init();
        assert_eq!(
            one(&s0, "get", Value::Null, get(Value::Null, 0, 0, 0, 0)),
            s0
        );
        let s1 = one(
            &s0,
            "put",
            json!({"value": "a"}),
            Some(json!({"revision": 3})),
        );
        let s2 = one(
            &s1,
            "put",
            json!({"value": "b"}),
            Some(json!({"revision": 5})),
        );
        assert_eq!(
            (s2.version, s2.create, s2.modr),
            (2, Rev::Known(3), Rev::Known(5))
        );
        assert_eq!(
            one(&s2, "get", Value::Null, get(json!("b"), 5, 3, 2, 9)).floor,
            9
        );
        // Wrong value, version, revisions, a header below the floor: all impossible.
        for out in [
            get(json!("a"), 5, 3, 2, 9),
            get(json!("b"), 5, 3, 1, 9),
            get(json!("b"), 4, 3, 2, 9),
            get(json!("b"), 5, 2, 2, 9),
            get(json!("b"), 5, 3, 2, 4),
        ] {
            assert!(
                steps(&s2, "get", Value::Null, out.clone()).is_empty(),
                "{out:?}"
            );
        }
        // A put must create a revision above everything seen.
        assert!(steps(
            &s2,
            "put",
            json!({"value": "c"}),
            Some(json!({"revision": 5}))
        )
        .is_empty());
    }

    #[test]
    fn an_unknown_put_revision_is_pinned_by_a_later_get() {
        let s0 = EtcdKv.init();
        let s1 = one(
            &s0,
            "put",
            json!({"value": "a"}),
            Some(json!({"revision": 2})),
        );
        let s2 = one(&s1, "put", json!({"value": "b"}), None);
        assert_eq!((s2.modr, s2.floor), (Rev::AtLeast(3), 3));
        // A read cannot claim the unknown put has revision 2 (the known one's).
        assert!(steps(&s2, "get", Value::Null, get(json!("b"), 2, 2, 2, 7)).is_empty());
        let s3 = one(&s2, "get", Value::Null, get(json!("b"), 6, 2, 2, 7));
        assert_eq!((s3.modr, s3.floor), (Rev::Known(6), 7));
    }

    #[test]
    fn cas_compares_the_mod_revision() {
        let s0 = EtcdKv.init();
        let create = |e, ok: bool, r| {
            steps(
                &s0,
                "cas",
                json!({"expected_mod_revision": e, "value": "x"}),
                Some(json!({"succeeded": ok, "revision": r})),
            )
        };
        assert_eq!(create(0, true, 4)[0].modr, Rev::Known(4));
        assert!(create(0, false, 4).is_empty());
        assert!(create(3, true, 4).is_empty());
        assert_eq!(create(3, false, 4).len(), 1);
        // Indeterminate against an unknown revision: it may have matched or not.
        let unknown = one(&s0, "put", json!({"value": "a"}), None);
        let both = steps(
            &unknown,
            "cas",
            json!({"expected_mod_revision": 5, "value": "x"}),
            None,
        );
        assert_eq!(both.len(), 2);
        let never = steps(
            &unknown,
            "cas",
            json!({"expected_mod_revision": 0, "value": "x"}),
            None,
        );
        assert_eq!(never, vec![unknown.clone()]);
    }

    #[test]
    fn deletes_reset_the_key() {
        let s0 = EtcdKv.init();
        let s1 = one(
            &s0,
            "put",
            json!({"value": "a"}),
            Some(json!({"revision": 2})),
        );
        let s2 = one(
            &s1,
            "delete",
            Value::Null,
            Some(json!({"deleted": 1, "revision": 3})),
        );
        assert_eq!(s2.value, None);
        assert_eq!(s2.version, 0);
        assert!(steps(
            &s1,
            "delete",
            Value::Null,
            Some(json!({"deleted": 0, "revision": 3}))
        )
        .is_empty());
        assert!(steps(
            &s2,
            "delete",
            Value::Null,
            Some(json!({"deleted": 1, "revision": 4}))
        )
        .is_empty());
        assert_eq!(
            steps(
                &s2,
                "delete",
                Value::Null,
                Some(json!({"deleted": 0, "revision": 3}))
            )
            .len(),
            1
        );
        assert!(steps(&s2, "get", Value::Null, get(Value::Null, 2, 2, 0, 3)).is_empty());
    }

    #[test]
    fn jepsen_register_operations_work_per_key() {
        let s0 = EtcdKv.init();
        let s1 = one(&s0, "write", json!(3), Some(json!(3)));
        assert_eq!(one(&s1, "read", Value::Null, Some(json!(3))), s1);
        assert!(steps(&s1, "read", Value::Null, Some(json!(4))).is_empty());
        assert_eq!(
            one(&s1, "cas", json!([3, 4]), Some(json!([3, 4]))).value,
            Some(canon(&json!(4)))
        );
        assert!(steps(&s1, "cas", json!([2, 4]), Some(json!([2, 4]))).is_empty());
    }
}
