//! The watch cache: what kube-apiserver keeps of one resource, fed by a single etcd watch,
//! so lists with resourceVersion `"0"` and every watch are served without touching etcd
//! (`k8s.io/apiserver/pkg/storage/cacher`).
//!
//! It holds the latest version of every object and a window of recent events. The window
//! grows and shrinks as kube-apiserver's does: it starts at [`MIN_CAPACITY`] events, doubles
//! (up to [`MAX_CAPACITY`]) when it is full and its oldest event is younger than
//! [`EVENT_FRESH_MS`], and halves (keeping the newest events) when it is full and even its
//! newest quarter is older than that (`resizeCacheLocked`). A watch from a resourceVersion older than the window gets 410 Gone
//! ("too old resource version"), and its client must list again.
//!
//! A watch may filter by namespace, `spec.nodeName` (the kubelet's and the scheduler's field
//! selector) and labels; an object that stops matching is sent as DELETED, one that starts
//! matching as ADDED, as the cacher does. Bookmarks carry only a resourceVersion, so an idle
//! watcher can resume from a recent one rather than from before the window.

use std::collections::{BTreeMap, VecDeque};

use raft::etcd::{Event, EventKind, KeyValue, Revision};
use serde_json::Value;

use crate::status::ApiError;
use crate::storage::{self, StorageError};

/// The window's initial and smallest size (`cacher`'s default capacity, 100 events).
pub const MIN_CAPACITY: usize = 100;
/// Its largest size (`watch_cache.go` upper bound: 100 × 1024 events).
pub const MAX_CAPACITY: usize = 102_400;
/// How long the window aims to cover (`eventFreshDuration`, 75 s).
pub const EVENT_FRESH_MS: u64 = 75_000;
/// How often an idle watch that asked for bookmarks gets one (the cacher's one minute).
pub const BOOKMARK_EVERY_MS: u64 = 60_000;

/// A watch event's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The object appeared (or started matching the watch's filter).
    Added,
    /// It changed.
    Modified,
    /// It went away (or stopped matching).
    Deleted,
    /// Nothing but a resourceVersion: the watch has seen everything up to it.
    Bookmark,
}

/// One event as a watcher receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// Its type.
    pub kind: EventType,
    /// The object, `metadata.resourceVersion` the event's revision (for Deleted, the last
    /// version, at the deleting revision; for Bookmark, only the version).
    pub object: Value,
    /// The event's revision.
    pub revision: Revision,
}

/// Which objects a watch or list wants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only objects whose `spec.nodeName` is this (`""`: not yet scheduled).
    pub node_name: Option<String>,
    /// Only objects with all these labels.
    pub labels: BTreeMap<String, String>,
}

impl Filter {
    /// Whether `object` passes.
    pub fn matches(&self, object: &Value) -> bool {
        let meta = &object["metadata"];
        let ns_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| meta["namespace"].as_str() == Some(ns));
        let node_ok = self.node_name.as_deref().is_none_or(|n| {
            object
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                == n
        });
        let labels_ok = self
            .labels
            .iter()
            .all(|(k, v)| meta["labels"][k].as_str() == Some(v));
        ns_ok && node_ok && labels_ok
    }
}

/// One change in the window: the object before and after (either may be absent).
#[derive(Clone, Debug, PartialEq)]
struct Change {
    revision: Revision,
    at_ms: u64,
    before: Option<Value>,
    after: Option<Value>,
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct WatchCache {
    /// Latest objects by etcd key.
    objects: BTreeMap<String, Value>,
    /// Recent changes, oldest first.
    window: VecDeque<Change>,
    capacity: usize,
    /// The revision the cache is complete up to.
    revision: Revision,
    /// The revision the window starts after: a watch from here or later can be served.
    window_start: Revision,
}

impl WatchCache {
    /// A cache loaded from a range of the resource's keys read at `revision` (the
    /// cacher's initial list).
    ///
    /// # Errors
    ///
    /// When a stored value is not an object's JSON.
    pub fn from_list(kvs: &[KeyValue], revision: Revision) -> Result<Self, StorageError> {
        let objects = kvs
            .iter()
            .map(|kv| Ok((kv.key.clone(), storage::decode(kv)?.object)))
            .collect::<Result<_, StorageError>>()?;
        Ok(WatchCache {
            objects,
            window: VecDeque::new(),
            capacity: MIN_CAPACITY,
            revision,
            window_start: revision,
        })
    }

    /// The revision the cache is complete up to.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// How many events the window may hold now.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Applies etcd watch events (whole revisions, in order) received at `now_ms`.
    ///
    /// # Errors
    ///
    /// When a stored value is not an object's JSON.
    pub fn apply(&mut self, events: &[Event], now_ms: u64) -> Result<(), StorageError> {
        for e in events {
            let revision = e.revision();
            let key = e.kv.key.clone();
            let before = self.objects.get(&key).cloned();
            let after = match e.kind {
                EventKind::Put => Some(storage::decode(&e.kv)?.object),
                EventKind::Delete => None,
            };
            match &after {
                Some(a) => self.objects.insert(key, a.clone()),
                None => self.objects.remove(&key),
            };
            self.resize(now_ms);
            if self.window.len() == self.capacity {
                if let Some(oldest) = self.window.pop_front() {
                    self.window_start = oldest.revision;
                }
            }
            self.window.push_back(Change {
                revision,
                at_ms: now_ms,
                before,
                after,
            });
            self.revision = revision;
        }
        Ok(())
    }

    /// etcd's progress notification: nothing changed up to `revision`.
    pub fn progress(&mut self, revision: Revision) {
        self.revision = self.revision.max(revision);
    }

    /// Grows a full window whose oldest event is fresh; halves a full one whose newest
    /// quarter is already stale, dropping its oldest events.
    fn resize(&mut self, now_ms: u64) {
        if self.window.len() < self.capacity {
            return;
        }
        let age = |i: usize| now_ms.saturating_sub(self.window[i].at_ms);
        if age(0) < EVENT_FRESH_MS {
            self.capacity = (self.capacity * 2).min(MAX_CAPACITY);
        } else if age(self.window.len() - self.capacity / 4) > EVENT_FRESH_MS {
            self.capacity = (self.capacity / 2).max(MIN_CAPACITY);
            while self.window.len() > self.capacity {
                if let Some(oldest) = self.window.pop_front() {
                    self.window_start = oldest.revision;
                }
            }
        }
    }

    /// The object at etcd key `key` as the cache holds it (a get with a resourceVersion).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.objects.get(key)
    }

    /// A list from the cache (resourceVersion `"0"`, or NotOlderThan a version the cache
    /// has reached): the matching objects in key order, and the cache's revision.
    pub fn list(&self, filter: &Filter) -> (Vec<Value>, Revision) {
        let items = self
            .objects
            .values()
            .filter(|o| filter.matches(o))
            .cloned()
            .collect();
        (items, self.revision)
    }

    /// The events a watch from `from` (exclusive) sees, filtered; from revision 0, the
    /// current objects as Added first.
    ///
    /// # Errors
    ///
    /// 410 Gone when `from` is older than the window.
    pub fn watch_from(&self, from: Revision, filter: &Filter) -> Result<Vec<WatchEvent>, ApiError> {
        if from == Revision::NONE {
            let (items, revision) = self.list(filter);
            return Ok(items
                .into_iter()
                .map(|object| WatchEvent {
                    kind: EventType::Added,
                    revision: storage_revision(&object).unwrap_or(revision),
                    object,
                })
                .collect());
        }
        if from < self.window_start {
            return Err(ApiError::Gone {
                requested: from.0,
                oldest: self.window_start.0,
            });
        }
        // The window is in revision order: skip what the watcher has seen without reading it.
        let first = self.window.partition_point(|c| c.revision <= from);
        Ok(self
            .window
            .range(first..)
            .filter_map(|c| seen_as(c, filter))
            .collect())
    }

    /// A bookmark at the cache's revision.
    pub fn bookmark(&self) -> WatchEvent {
        WatchEvent {
            kind: EventType::Bookmark,
            object: serde_json::json!({"metadata": {"resourceVersion": self.revision.0.to_string()}}),
            revision: self.revision,
        }
    }
}

fn storage_revision(object: &Value) -> Option<Revision> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .map(Revision)
}

/// How a watcher with `filter` sees `change`: moving into the filter is Added, out of it
/// Deleted, within it Modified (or Added, Deleted for a create or delete).
fn seen_as(change: &Change, filter: &Filter) -> Option<WatchEvent> {
    let was = change.before.as_ref().filter(|o| filter.matches(o));
    let is = change.after.as_ref().filter(|o| filter.matches(o));
    let (kind, object) = match (was, is) {
        (None, Some(after)) => (EventType::Added, after.clone()),
        (Some(_), Some(after)) => (EventType::Modified, after.clone()),
        (Some(before), None) => {
            // The last state it was seen in, at the revision it went away.
            let mut last = change.after.clone().unwrap_or_else(|| before.clone());
            last["metadata"]["resourceVersion"] = Value::String(change.revision.0.to_string());
            (EventType::Deleted, last)
        }
        (None, None) => return None,
    };
    Some(WatchEvent {
        kind,
        object,
        revision: change.revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(key: &str, rev: u64, created: u64, node: &str) -> Event {
        let name = key.rsplit('/').next().unwrap();
        let object = json!({"metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node}});
        Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: key.into(),
                value: object.to_string(),
                create_revision: Revision(created),
                mod_revision: Revision(rev),
                version: 1,
                lease: raft::etcd::LeaseId::NONE,
            },
            prev_kv: None,
        }
    }

    fn delete(key: &str, rev: u64) -> Event {
        Event {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: key.into(),
                value: String::new(),
                create_revision: Revision::NONE,
                mod_revision: Revision(rev),
                version: 0,
                lease: raft::etcd::LeaseId::NONE,
            },
            prev_kv: None,
        }
    }

    fn kinds(events: &[WatchEvent]) -> Vec<(EventType, u64)> {
        events.iter().map(|e| (e.kind, e.revision.0)).collect()
    }

    #[test]
    fn watches_resume_filter_and_expire() {
        let mut c = WatchCache::from_list(&[], Revision(10)).unwrap();
        let p = "/registry/pods/default/";
        c.apply(&[put(&format!("{p}a"), 11, 11, "")], 0).unwrap();
        c.apply(&[put(&format!("{p}a"), 12, 11, "worker-a")], 10)
            .unwrap();
        c.apply(&[put(&format!("{p}b"), 13, 13, "")], 20).unwrap();
        c.apply(&[delete(&format!("{p}a"), 14)], 30).unwrap();
        assert_eq!(c.revision(), Revision(14));
        let all = Filter::default();
        use EventType::*;
        assert_eq!(
            kinds(&c.watch_from(Revision(10), &all).unwrap()),
            [(Added, 11), (Modified, 12), (Added, 13), (Deleted, 14)]
        );
        assert_eq!(
            kinds(&c.watch_from(Revision(12), &all).unwrap()),
            [(Added, 13), (Deleted, 14)]
        );
        // The kubelet of worker-a sees a arrive when bound and leave when deleted; the
        // scheduler (unscheduled pods) sees it leave when bound.
        let kubelet = Filter {
            node_name: Some("worker-a".into()),
            ..Filter::default()
        };
        assert_eq!(
            kinds(&c.watch_from(Revision(10), &kubelet).unwrap()),
            [(Added, 12), (Deleted, 14)]
        );
        let scheduler = Filter {
            node_name: Some(String::new()),
            ..Filter::default()
        };
        assert_eq!(
            kinds(&c.watch_from(Revision(10), &scheduler).unwrap()),
            [(Added, 11), (Deleted, 12), (Added, 13)]
        );
        let deleted = &c.watch_from(Revision(13), &all).unwrap()[0];
        assert_eq!(deleted.object["metadata"]["resourceVersion"], "14");
        assert_eq!(deleted.object["spec"]["nodeName"], "worker-a");
        // From 0: the current state as Added.
        let now = c.watch_from(Revision::NONE, &all).unwrap();
        assert_eq!(kinds(&now), [(Added, 13)]);
        // Before the window: 410 Gone, Kubernetes' words.
        let e = c.watch_from(Revision(9), &all).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (410, "too old resource version: 9 (10)")
        );
        assert_eq!(c.bookmark().object["metadata"]["resourceVersion"], "14");
    }

    #[test]
    fn the_window_grows_while_fresh_and_old_events_fall_out() {
        let mut c = WatchCache::from_list(&[], Revision(0)).unwrap();
        // 300 events in 3 s: the window doubles rather than drop fresh events.
        for i in 1..=300u64 {
            c.apply(
                &[put(&format!("/registry/pods/default/p{i}"), i, i, "")],
                i * 10,
            )
            .unwrap();
        }
        assert_eq!(c.capacity(), 400);
        assert!(c.watch_from(Revision(1), &Filter::default()).is_ok());
        // Ten minutes later, slow traffic: the window shrinks back and the oldest go.
        for i in 301..=1000u64 {
            c.apply(
                &[put(&format!("/registry/pods/default/q{i}"), i, i, "")],
                600_000 + i * 1_000,
            )
            .unwrap();
        }
        assert!(c.capacity() < 400, "{}", c.capacity());
        let e = c.watch_from(Revision(1), &Filter::default()).unwrap_err();
        assert_eq!(e.code(), 410);
        assert_eq!(c.list(&Filter::default()).0.len(), 1000);
    }
}
