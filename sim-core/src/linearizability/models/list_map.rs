//! `list-map`: per key, a list that operations append to, read, or replace.
//!
//! `append v` adds `v` at the end; `get` returns the whole list (`[]` or nil when the key
//! was never written); `put v` replaces the list with `v` if it is a list, else with `[v]`.

use serde_json::Value;

use super::{canon, Canon};
use crate::linearizability::model::Model;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListMap;

/// A list-map operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListInput {
    /// Append one element.
    Append(Canon),
    /// Read the list.
    Get,
    /// Replace the list.
    Put(Vec<Canon>),
}

fn list(v: &Value) -> Vec<Canon> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(canon).collect(),
        other => vec![canon(other)],
    }
}

impl Model for ListMap {
    type Input = ListInput;
    /// The list a `get` returned; `None` for the other operations.
    type Output = Option<Vec<Canon>>;
    type State = Vec<Canon>;

    fn name(&self) -> &'static str {
        "list-map"
    }

    fn keyed(&self) -> bool {
        true
    }

    fn init(&self) -> Vec<Canon> {
        Vec::new()
    }

    fn decode(
        &self,
        f: &str,
        invoke: &Value,
        completion: Option<&Value>,
    ) -> Result<(ListInput, Option<Self::Output>), String> {
        let input = match f {
            "append" => ListInput::Append(canon(invoke)),
            "get" | "read" => ListInput::Get,
            "put" => ListInput::Put(list(invoke)),
            other => return Err(format!("the list-map model has no function `{other}`")),
        };
        let output = completion.map(|v| {
            if input == ListInput::Get {
                match v {
                    Value::Null | Value::Array(_) => Ok(Some(list(v))),
                    other => Err(format!("get must return a list, got {other}")),
                }
            } else {
                Ok(None)
            }
        });
        Ok((input, output.transpose()?))
    }

    fn read_only(&self, input: &ListInput) -> bool {
        *input == ListInput::Get
    }

    fn step(
        &self,
        state: &Vec<Canon>,
        input: &ListInput,
        output: Option<&Self::Output>,
        next: &mut Vec<Vec<Canon>>,
    ) {
        match input {
            ListInput::Append(v) => {
                let mut s = state.clone();
                s.push(v.clone());
                next.push(s);
            }
            ListInput::Put(items) => next.push(items.clone()),
            ListInput::Get => match output {
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

    fn steps(state: &[i64], f: &str, inv: Value, out: Option<Value>) -> Vec<Vec<Canon>> {
        let (i, o) = ListMap.decode(f, &inv, out.as_ref()).unwrap();
        let state: Vec<Canon> = state.iter().map(|v| canon(&json!(v))).collect();
        let mut next = Vec::new();
        ListMap.step(&state, &i, o.as_ref(), &mut next);
        next
    }

    fn l(v: &[i64]) -> Vec<Canon> {
        v.iter().map(|x| canon(&json!(x))).collect()
    }

    #[test]
    fn appends_gets_and_puts() {
        assert_eq!(
            steps(&[1], "append", json!(2), Some(json!(2))),
            vec![l(&[1, 2])]
        );
        assert_eq!(
            steps(&[1, 2], "get", Value::Null, Some(json!([1, 2]))),
            vec![l(&[1, 2])]
        );
        assert!(steps(&[1, 2], "get", Value::Null, Some(json!([2, 1]))).is_empty());
        assert!(steps(&[1], "get", Value::Null, Some(json!([1, 2]))).is_empty());
        assert_eq!(
            steps(&[], "get", Value::Null, Some(Value::Null)),
            vec![l(&[])]
        );
        assert_eq!(steps(&[1], "put", json!([7, 8]), None), vec![l(&[7, 8])]);
        assert_eq!(steps(&[1], "put", json!(7), None), vec![l(&[7])]);
        assert!(ListMap
            .decode("get", &Value::Null, Some(&json!(3)))
            .is_err());
    }
}
