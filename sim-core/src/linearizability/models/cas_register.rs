//! Jepsen's compare-and-set register: one value, initially nil.
//!
//! `read` (ok value = the value, nil when never written), `write v`, `cas [old new]`
//! (`ok` means it swapped; a cas that did not match completes `fail` and is dropped).

use serde_json::Value;

use super::{canon, canon_opt, pair, Canon};
use crate::linearizability::model::Model;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct CasRegister;

/// A register operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Set it.
    Write(Canon),
    /// Set it to `new` if it is `old` (`None`: nil).
    Cas {
        /// Expected value.
        old: Option<Canon>,
        /// Value to set.
        new: Canon,
    },
}

/// What an `ok` register operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// The value read (`None`: nil).
    Read(Option<Canon>),
    /// A write or cas took effect.
    Done,
}

impl RegisterInput {
    /// Decodes a Jepsen register operation (shared with the keyed `kv` model).
    pub(crate) fn decode(
        f: &str,
        invoke: &Value,
        completion: Option<&Value>,
    ) -> Result<(Self, Option<RegisterOutput>), String> {
        let input = match f {
            "read" => RegisterInput::Read,
            "write" => RegisterInput::Write(canon(invoke)),
            "cas" => {
                let (old, new) = pair(invoke, "cas")?;
                RegisterInput::Cas {
                    old: canon_opt(&old),
                    new: canon(&new),
                }
            }
            other => return Err(format!("the register has no function `{other}`")),
        };
        let output = completion.map(|v| match input {
            RegisterInput::Read => RegisterOutput::Read(canon_opt(v)),
            _ => RegisterOutput::Done,
        });
        Ok((input, output))
    }

    /// The register's transition on `value`, pushed onto `next` (see [`Model::step`]).
    pub(crate) fn apply(
        &self,
        value: &Option<Canon>,
        output: Option<&RegisterOutput>,
        mut set: impl FnMut(Option<Option<Canon>>),
    ) {
        match (self, output) {
            (RegisterInput::Read, Some(RegisterOutput::Read(seen))) => {
                if seen == value {
                    set(None);
                }
            }
            (RegisterInput::Read, _) => set(None),
            (RegisterInput::Write(v), _) => set(Some(Some(v.clone()))),
            (RegisterInput::Cas { old, new }, out) => {
                if old == value {
                    set(Some(Some(new.clone())));
                } else if out.is_none() {
                    // Indeterminate and not matching: if it ran, it changed nothing.
                    set(None);
                }
            }
        }
    }
}

impl Model for CasRegister {
    type Input = RegisterInput;
    type Output = RegisterOutput;
    type State = Option<Canon>;

    fn name(&self) -> &'static str {
        "cas-register"
    }

    fn keyed(&self) -> bool {
        false
    }

    fn init(&self) -> Self::State {
        None
    }

    fn decode(
        &self,
        f: &str,
        invoke: &Value,
        completion: Option<&Value>,
    ) -> Result<(Self::Input, Option<Self::Output>), String> {
        RegisterInput::decode(f, invoke, completion)
    }

    fn read_only(&self, input: &RegisterInput) -> bool {
        *input == RegisterInput::Read
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
        next: &mut Vec<Self::State>,
    ) {
        input.apply(state, output, |changed| {
            next.push(changed.unwrap_or_else(|| state.clone()));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(state: Option<i64>, f: &str, inv: Value, out: Option<Value>) -> Vec<Option<Canon>> {
        let m = CasRegister;
        let (i, o) = m.decode(f, &inv, out.as_ref()).unwrap();
        let mut next = Vec::new();
        m.step(&state.map(|v| canon(&json!(v))), &i, o.as_ref(), &mut next);
        next
    }

    fn val(v: i64) -> Option<Canon> {
        Some(canon(&json!(v)))
    }

    #[test]
    fn reads_must_see_the_value() {
        assert_eq!(
            step(None, "read", Value::Null, Some(Value::Null)),
            vec![None]
        );
        assert!(step(None, "read", Value::Null, Some(json!(1))).is_empty());
        assert_eq!(
            step(Some(1), "read", Value::Null, Some(json!(1))),
            vec![val(1)]
        );
        assert!(step(Some(1), "read", Value::Null, Some(json!(2))).is_empty());
        assert_eq!(step(Some(1), "read", Value::Null, None), vec![val(1)]);
    }

    #[test]
    fn cas_swaps_only_on_a_match() {
        assert_eq!(
            step(Some(1), "cas", json!([1, 4]), Some(json!([1, 4]))),
            vec![val(4)]
        );
        assert!(step(Some(2), "cas", json!([1, 4]), Some(json!([1, 4]))).is_empty());
        // Indeterminate: matching means it swapped; not matching means no change.
        assert_eq!(step(Some(1), "cas", json!([1, 4]), None), vec![val(4)]);
        assert_eq!(step(Some(2), "cas", json!([1, 4]), None), vec![val(2)]);
        assert_eq!(step(Some(2), "write", json!(3), None), vec![val(3)]);
    }

    #[test]
    fn bad_operations_are_rejected() {
        let m = CasRegister;
        assert!(m.decode("cas", &json!(3), None).is_err());
        assert!(m.decode("append", &json!(3), None).is_err());
    }
}
