//! The sequential specifications histories are checked against.

mod cas_register;
mod etcd_kv;
mod list_map;
mod revisions;
mod string_kv;

pub use cas_register::{CasRegister, RegisterInput, RegisterOutput};
pub use etcd_kv::{EtcdKv, KeyState, KvInput, KvOutput, Rev};
pub use list_map::{ListInput, ListMap};
pub use string_kv::{StringInput, StringKv};

use std::sync::Arc;

use serde_json::Value;

/// A value in a model state: its canonical JSON text, so states hash and compare cheaply
/// (`serde_json::Value` is not `Hash`) and `3` and `"3"` stay different.
pub type Canon = Arc<str>;

/// The canonical form of a JSON value.
pub(crate) fn canon(v: &Value) -> Canon {
    Arc::from(v.to_string())
}

/// `None` for JSON null (Jepsen's nil: no value), else the canonical form.
pub(crate) fn canon_opt(v: &Value) -> Option<Canon> {
    (!v.is_null()).then(|| canon(v))
}

/// The two elements of a `[a b]` pair.
pub(crate) fn pair(v: &Value, what: &str) -> Result<(Value, Value), String> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((a.clone(), b.clone())),
        _ => Err(format!("{what} needs a [old new] pair, got {v}")),
    }
}
