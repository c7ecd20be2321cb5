//! Hand-built histories of API operations on ConfigMaps in `default`, recorded as
//! [`crate::api_history`] records them, for the checks' tests.

use serde_json::{json, Value};
use sim_core::{EntryType, History, HistoryEntry, NodeId, OpId, OpOutcome, SimTime};

use crate::api_history::{collection_key, object_key, LAYER};

/// Records operations one entry at a time (each entry 10 µs after the one before).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    entries: Vec<HistoryEntry>,
}

/// A ConfigMap's content: `{"data": {"k": data}}`.
pub(crate) fn content(data: &str) -> Value {
    json!({"data": {"k": data}})
}

/// An answer showing the object at `rv` with `data`.
pub(crate) fn object(code: u64, rv: u64, data: &str) -> Value {
    json!({"code": code, "resource_version": rv.to_string(), "content": content(data)})
}

/// A refusal's answer.
pub(crate) fn refused(code: u64, reason: &str) -> Value {
    json!({"code": code, "reason": reason})
}

impl Recorder {
    fn key(name: &str) -> String {
        object_key("", "configmaps", Some("default"), name)
    }

    /// Invokes `f` on `name` (`None`: the collection) by `client` with `value`'s fields.
    pub(crate) fn invoke(
        &mut self,
        client: u32,
        f: &str,
        name: Option<&str>,
        value: Value,
    ) -> OpId {
        let op = OpId(self.entries.len() as u64);
        let mut v = json!({"layer": LAYER});
        if let Some(fields) = value.as_object() {
            for (k, x) in fields {
                v[k] = x.clone();
            }
        }
        self.entries.push(HistoryEntry {
            op,
            client: NodeId(client),
            entry_type: EntryType::Invoke,
            t_us: SimTime(self.entries.len() as u64 * 10),
            f: f.to_string(),
            key: Some(match name {
                Some(n) => Self::key(n),
                None => collection_key("", "configmaps", Some("default")),
            }),
            value: v,
        });
        op
    }

    /// Completes `op` with `outcome` and `value`.
    pub(crate) fn complete(&mut self, op: OpId, outcome: OpOutcome, value: Value) {
        let invoke = self
            .entries
            .iter()
            .find(|e| e.op == op)
            .expect("invoked")
            .clone();
        self.entries.push(HistoryEntry {
            entry_type: outcome.into(),
            t_us: SimTime(self.entries.len() as u64 * 10),
            value,
            ..invoke
        });
    }

    /// A create of `name` with `data`, answered at `rv` (`None`: no answer).
    pub(crate) fn create(&mut self, client: u32, name: &str, data: &str, rv: Option<u64>) {
        let op = self.invoke(
            client,
            "create",
            Some(name),
            json!({"content": content(data)}),
        );
        match rv {
            Some(rv) => self.complete(op, OpOutcome::Ok, object(201, rv, data)),
            None => self.complete(op, OpOutcome::Info, json!({"error": "no answer"})),
        }
    }

    /// Invokes an update of `name` to `data` on `precondition`.
    pub(crate) fn begin_update(
        &mut self,
        client: u32,
        name: &str,
        precondition: Option<u64>,
        data: &str,
    ) -> OpId {
        self.invoke(
            client,
            "update",
            Some(name),
            json!({"precondition": precondition.map(|p| p.to_string()), "content": content(data)}),
        )
    }

    /// An update of `name` to `data` on `precondition`: answered at a version, or refused
    /// with a code (404, 409).
    pub(crate) fn update(
        &mut self,
        client: u32,
        name: &str,
        precondition: Option<u64>,
        data: &str,
        answer: Result<u64, u64>,
    ) {
        let op = self.begin_update(client, name, precondition, data);
        match answer {
            Ok(rv) => self.complete(op, OpOutcome::Ok, object(200, rv, data)),
            Err(404) => self.complete(op, OpOutcome::Ok, refused(404, "NotFound")),
            Err(code) => self.complete(op, OpOutcome::Ok, refused(code, "Conflict")),
        }
    }

    /// An update whose answer never came (504).
    pub(crate) fn update_unanswered(
        &mut self,
        client: u32,
        name: &str,
        precondition: Option<u64>,
        data: &str,
    ) {
        let op = self.begin_update(client, name, precondition, data);
        self.complete(op, OpOutcome::Info, refused(504, "Timeout"));
    }

    /// A get of `name` at `resource_version`, answered with `seen` (`None`: 404).
    pub(crate) fn get(
        &mut self,
        client: u32,
        name: &str,
        resource_version: Option<&str>,
        seen: Option<(u64, &str)>,
    ) {
        let op = self.invoke(
            client,
            "get",
            Some(name),
            json!({"resource_version": resource_version}),
        );
        let answer = match seen {
            Some((rv, data)) => object(200, rv, data),
            None => refused(404, "NotFound"),
        };
        self.complete(op, OpOutcome::Ok, answer);
    }

    /// A delete of `name`, answered with the removed version `rv` and `data`.
    pub(crate) fn delete(&mut self, client: u32, name: &str, rv: u64, data: &str) {
        let op = self.invoke(client, "delete", Some(name), json!({"precondition": null}));
        let mut answer = object(200, rv, data);
        answer["gone"] = json!(true);
        self.complete(op, OpOutcome::Ok, answer);
    }

    /// An unfiltered list at `resource_version`, answered at revision `at` with `items`
    /// (name, version, data).
    pub(crate) fn list(
        &mut self,
        client: u32,
        resource_version: Option<&str>,
        at: u64,
        items: &[(&str, u64, &str)],
    ) {
        let op = self.invoke(
            client,
            "list",
            None,
            json!({"resource_version": resource_version, "match": "NotOlderThan",
                "filtered": false}),
        );
        let items: Vec<Value> = items
            .iter()
            .map(|(name, rv, data)| {
                json!({"name": name, "resource_version": rv.to_string(), "content": content(data)})
            })
            .collect();
        self.complete(
            op,
            OpOutcome::Ok,
            json!({"code": 200, "resource_version": at.to_string(), "items": items}),
        );
    }

    /// The history so far.
    pub(crate) fn history(&self) -> History {
        History {
            entries: self.entries.clone(),
        }
    }
}
