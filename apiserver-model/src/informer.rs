//! The informer: a component's local copy of one resource, kept by listing once and then
//! watching from the list's resourceVersion, as client-go's Reflector and Indexer do.
//! Controllers, the scheduler and the kubelets read this copy and react to its deltas; they
//! never poll the API server.
//!
//! Written sans-IO: [`Informer::want`] says which request to send next (a list, or a watch
//! from the last version seen), and the answers go back in through
//! [`Informer::on_list`], [`Informer::on_event`] and [`Informer::on_watch_error`], each
//! returning the [`Delta`]s handlers see. As client-go does:
//! - the first list asks for resourceVersion `"0"` (whatever the API server's cache holds,
//!   which may be stale: the root of Kubernetes issue 59848) unless told to read from etcd;
//! - a watch that ends is resumed from the last version seen, bookmarks included;
//! - a watch refused with 410 Gone is followed by a relist, from etcd (`""`), since the
//!   version it held is no longer served;
//! - a relist replaces the copy: objects that vanished meanwhile are Deleted;
//! - every resync period each object is delivered again as an update to itself, so a
//!   handler that missed or failed one gets another chance.

use std::collections::BTreeMap;

use raft::etcd::Revision;
use serde_json::Value;

use crate::status::ApiError;
use crate::watch_cache::{EventType, WatchEvent};

/// What the informer asks for next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// A list with this resourceVersion (`"0"`: from the cache; `""`: from etcd).
    List {
        /// The resourceVersion to send.
        resource_version: String,
    },
    /// A watch from this version (exclusive), with bookmarks.
    Watch {
        /// The last version seen.
        from: Revision,
    },
}

/// What a handler is told.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    /// An object appeared.
    Added(Value),
    /// It changed (or, on resync, is delivered again: `old == new`).
    Updated {
        /// Before.
        old: Value,
        /// After.
        new: Value,
    },
    /// It went away (its last known state).
    Deleted(Value),
}

impl Delta {
    /// The object as it is now (or was last, when deleted).
    pub fn object(&self) -> &Value {
        match self {
            Delta::Added(o) | Delta::Deleted(o) | Delta::Updated { new: o, .. } => o,
        }
    }
}

/// Where the first list reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstList {
    /// resourceVersion `"0"`: the API server's watch cache (client-go's default).
    FromCache,
    /// resourceVersion `""`: a quorum read from etcd.
    FromEtcd,
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct Informer {
    /// The objects, by namespace and name.
    store: BTreeMap<(String, String), Value>,
    /// The last version seen (a list's, an event's or a bookmark's).
    last: Revision,
    /// Whether a list has succeeded since the last 410 (or ever).
    synced: bool,
    first_list: FirstList,
    /// The next list must read etcd: the version held is gone.
    relist_from_etcd: bool,
    /// How often every object is delivered again, milliseconds (0: never).
    resync_ms: u64,
    last_resync_ms: u64,
}

fn key_of(o: &Value) -> (String, String) {
    let meta = &o["metadata"];
    (
        meta["namespace"].as_str().unwrap_or("").to_string(),
        meta["name"].as_str().unwrap_or("").to_string(),
    )
}

/// `namespace/name` of an object (`/name` for a cluster-scoped one): how components key
/// their work and how the trace names a pod.
pub fn namespaced_name(o: &Value) -> String {
    let (ns, name) = key_of(o);
    format!("{ns}/{name}")
}

fn version_of(o: &Value) -> Option<Revision> {
    o.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .map(Revision)
}

impl Informer {
    /// An informer that lists first as `first_list` says and resyncs every `resync_ms`.
    pub fn new(first_list: FirstList, resync_ms: u64) -> Self {
        Informer {
            store: BTreeMap::new(),
            last: Revision::NONE,
            synced: false,
            first_list,
            relist_from_etcd: false,
            resync_ms,
            last_resync_ms: 0,
        }
    }

    /// The request to send next.
    pub fn want(&self) -> Want {
        if self.synced {
            return Want::Watch { from: self.last };
        }
        let resource_version = if self.relist_from_etcd || self.first_list == FirstList::FromEtcd {
            ""
        } else {
            "0"
        };
        Want::List {
            resource_version: resource_version.to_string(),
        }
    }

    /// Whether the copy has been filled by a list (client-go's HasSynced).
    pub fn has_synced(&self) -> bool {
        self.synced
    }

    /// The last version seen.
    pub fn last_version(&self) -> Revision {
        self.last
    }

    /// The object `namespace/name`, if held.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Value> {
        self.store.get(&(namespace.to_string(), name.to_string()))
    }

    /// Every object held, by namespace and name.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.store.values()
    }

    /// A list's answer (an object with `items` and `metadata.resourceVersion`): replaces
    /// the copy and says what changed.
    pub fn on_list(&mut self, list: &Value, now_ms: u64) -> Vec<Delta> {
        let items: BTreeMap<(String, String), Value> = list["items"]
            .as_array()
            .map(|a| a.iter().map(|o| (key_of(o), o.clone())).collect())
            .unwrap_or_default();
        let mut deltas = Vec::new();
        for (key, old) in &self.store {
            if !items.contains_key(key) {
                deltas.push(Delta::Deleted(old.clone()));
            }
        }
        for (key, new) in &items {
            match self.store.get(key) {
                None => deltas.push(Delta::Added(new.clone())),
                Some(old) if old != new => deltas.push(Delta::Updated {
                    old: old.clone(),
                    new: new.clone(),
                }),
                Some(_) => {}
            }
        }
        self.store = items;
        self.last = list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|v| v.parse().ok())
            .map_or(self.last, Revision);
        self.synced = true;
        self.relist_from_etcd = false;
        self.last_resync_ms = now_ms;
        deltas
    }

    /// One watch event.
    pub fn on_event(&mut self, event: &WatchEvent) -> Vec<Delta> {
        self.last = self.last.max(event.revision);
        let key = key_of(&event.object);
        match event.kind {
            EventType::Bookmark => Vec::new(),
            EventType::Added | EventType::Modified => {
                let new = event.object.clone();
                match self.store.insert(key, new.clone()) {
                    None => vec![Delta::Added(new)],
                    Some(old) => vec![Delta::Updated { old, new }],
                }
            }
            EventType::Deleted => match self.store.remove(&key) {
                Some(_) => vec![Delta::Deleted(event.object.clone())],
                None => Vec::new(),
            },
        }
    }

    /// The watch failed: after 410 Gone the informer relists from etcd; after anything
    /// else (a timeout, a broken connection) it watches again from where it was.
    pub fn on_watch_error(&mut self, error: &ApiError) {
        if matches!(error, ApiError::Gone { .. }) {
            self.synced = false;
            self.relist_from_etcd = true;
        }
    }

    /// At `now_ms`: every object again, as an update to itself, if a resync period has
    /// passed since the last.
    pub fn resync(&mut self, now_ms: u64) -> Vec<Delta> {
        if self.resync_ms == 0 || !self.synced || now_ms < self.last_resync_ms + self.resync_ms {
            return Vec::new();
        }
        self.last_resync_ms = now_ms;
        self.store
            .values()
            .map(|o| Delta::Updated {
                old: o.clone(),
                new: o.clone(),
            })
            .collect()
    }

    /// The version of `namespace/name` in the copy (for KEP-5647's stale-controller check:
    /// act only once the copy has caught up with one's own last write).
    pub fn version_of(&self, namespace: &str, name: &str) -> Option<Revision> {
        self.get(namespace, name).and_then(version_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, rv: u64) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "resourceVersion": rv.to_string()}})
    }

    fn event(kind: EventType, name: &str, rv: u64) -> WatchEvent {
        WatchEvent {
            kind,
            object: pod(name, rv),
            revision: Revision(rv),
        }
    }

    fn names(deltas: &[Delta]) -> Vec<String> {
        deltas
            .iter()
            .map(|d| match d {
                Delta::Added(o) => format!("+{}", o["metadata"]["name"].as_str().unwrap()),
                Delta::Updated { new, .. } => {
                    format!("~{}", new["metadata"]["name"].as_str().unwrap())
                }
                Delta::Deleted(o) => format!("-{}", o["metadata"]["name"].as_str().unwrap()),
            })
            .collect()
    }

    #[test]
    fn list_then_watch_then_relist_after_410() {
        let mut i = Informer::new(FirstList::FromCache, 0);
        assert_eq!(
            i.want(),
            Want::List {
                resource_version: "0".into()
            }
        );
        let d = i.on_list(
            &json!({"metadata": {"resourceVersion": "10"}, "items": [pod("a", 5), pod("b", 9)]}),
            0,
        );
        assert_eq!(names(&d), ["+a", "+b"]);
        assert!(i.has_synced());
        assert_eq!(i.want(), Want::Watch { from: Revision(10) });
        assert_eq!(
            names(&i.on_event(&event(EventType::Modified, "a", 11))),
            ["~a"]
        );
        assert_eq!(
            names(&i.on_event(&event(EventType::Added, "c", 12))),
            ["+c"]
        );
        assert!(i.on_event(&event(EventType::Bookmark, "", 20)).is_empty());
        assert_eq!(i.want(), Want::Watch { from: Revision(20) });
        // A broken watch resumes where it was; 410 Gone relists from etcd.
        i.on_watch_error(&ApiError::Timeout("etcdserver: request timed out".into()));
        assert_eq!(i.want(), Want::Watch { from: Revision(20) });
        i.on_watch_error(&ApiError::Gone {
            requested: 20,
            oldest: 40,
        });
        assert_eq!(
            i.want(),
            Want::List {
                resource_version: String::new()
            }
        );
        // Meanwhile b was deleted and c changed: the relist says so.
        let d = i.on_list(
            &json!({"metadata": {"resourceVersion": "50"}, "items": [pod("a", 11), pod("c", 45)]}),
            1_000,
        );
        assert_eq!(names(&d), ["-b", "~c"]);
        assert_eq!(i.version_of("default", "c"), Some(Revision(45)));
    }

    #[test]
    fn resync_delivers_every_object_again_each_period() {
        let mut i = Informer::new(FirstList::FromEtcd, 30_000);
        assert_eq!(
            i.want(),
            Want::List {
                resource_version: String::new()
            }
        );
        i.on_list(
            &json!({"metadata": {"resourceVersion": "3"}, "items": [pod("a", 2)]}),
            0,
        );
        assert!(i.resync(29_999).is_empty());
        assert_eq!(names(&i.resync(30_000)), ["~a"]);
        assert!(i.resync(45_000).is_empty());
    }
}
