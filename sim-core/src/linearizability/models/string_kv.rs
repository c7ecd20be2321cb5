//! `string-kv`: per key, a string that operations read, replace, or append to by
//! concatenation: the key-value model of Porcupine's test histories (`get`, `put`,
//! `append`, every value a string; a key never written reads as `""`).
//!
//! Users rarely name it: `ksim check-history --model kv` switches to it when a history
//! appends (ksim's etcd `kv` model has no append), and `--model list-map` when a read
//! returns a string rather than a list ([`super::super::ModelKind::resolve`]).

use std::sync::Arc;

use serde_json::Value;

use crate::linearizability::model::Model;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringKv;

/// A string-kv operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StringInput {
    /// Read the value.
    Get,
    /// Replace it.
    Put(Arc<str>),
    /// Concatenate to it.
    Append(Arc<str>),
}

/// A value that must be a string (JSON null is accepted as a read of nothing: `""`).
fn text(v: &Value, what: &str) -> Result<Arc<str>, String> {
    match v {
        Value::String(s) => Ok(Arc::from(s.as_str())),
        Value::Null => Ok(Arc::from("")),
        other => Err(format!(
            "{what} must be a string in a string-valued history, got {other}"
        )),
    }
}

impl Model for StringKv {
    type Input = StringInput;
    /// The string a `get` returned; `None` for the other operations.
    type Output = Option<Arc<str>>;
    type State = Arc<str>;

    fn name(&self) -> &'static str {
        "string-kv"
    }

    fn keyed(&self) -> bool {
        true
    }

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn decode(
        &self,
        f: &str,
        invoke: &Value,
        completion: Option<&Value>,
    ) -> Result<(StringInput, Option<Self::Output>), String> {
        let input = match f {
            "get" | "read" => StringInput::Get,
            "put" | "write" => StringInput::Put(text(invoke, "a put's value")?),
            "append" => StringInput::Append(text(invoke, "an append's value")?),
            other => {
                return Err(format!(
                    "the string-kv model has no function `{other}` (it has get, put and append)"
                ))
            }
        };
        let output = match (&input, completion) {
            (_, None) => None,
            (StringInput::Get, Some(v)) => Some(Some(text(v, "a get's result")?)),
            (_, Some(_)) => Some(None),
        };
        Ok((input, output))
    }

    fn read_only(&self, input: &StringInput) -> bool {
        *input == StringInput::Get
    }

    fn step(
        &self,
        state: &Arc<str>,
        input: &StringInput,
        output: Option<&Self::Output>,
        next: &mut Vec<Arc<str>>,
    ) {
        match input {
            StringInput::Put(v) => next.push(v.clone()),
            StringInput::Append(v) => next.push(Arc::from(format!("{state}{v}"))),
            StringInput::Get => match output {
                Some(Some(seen)) if seen != state => {}
                _ => next.push(state.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(state: &str, f: &str, inv: Value, out: Option<Value>) -> Vec<Arc<str>> {
        let (i, o) = StringKv.decode(f, &inv, out.as_ref()).unwrap();
        let mut next = Vec::new();
        StringKv.step(&Arc::from(state), &i, o.as_ref(), &mut next);
        next
    }

    #[test]
    fn appends_concatenate_and_gets_must_match() {
        assert_eq!(
            steps(
                "x 0 1 y",
                "append",
                json!("x 1 0 y"),
                Some(json!("x 1 0 y"))
            ),
            vec![Arc::from("x 0 1 yx 1 0 y")]
        );
        assert_eq!(steps("ab", "put", json!("c"), None), vec![Arc::from("c")]);
        assert_eq!(
            steps("ab", "get", Value::Null, Some(json!("ab"))),
            vec![Arc::from("ab")]
        );
        assert!(steps("ab", "get", Value::Null, Some(json!("a"))).is_empty());
        assert_eq!(
            steps("", "get", Value::Null, Some(Value::Null)),
            vec![Arc::from("")]
        );
        let bad = StringKv.decode("append", &json!(3), None).unwrap_err();
        assert!(bad.contains("must be a string"), "{bad}");
        let bad = StringKv.decode("cas", &json!("a"), None).unwrap_err();
        assert!(bad.contains("no function `cas`"), "{bad}");
    }
}
