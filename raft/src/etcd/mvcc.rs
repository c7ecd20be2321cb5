//! The replicated key space with its history (etcd `server/storage/mvcc`).
//!
//! Every key keeps the versions it has had since the compact revision, so the store can
//! answer a range at an old revision; every revision keeps its events, so a watch can
//! resume from any revision since the compact revision. A change to several keys (a txn,
//! a delete of a range, a lease revoke) is one revision; its events share that revision
//! and keep the order in which they were made (etcd's sub-revisions).
//!
//! The store holds the latest data only in memory and is serialised whole into snapshots;
//! etcd's bbolt backend and key index are one structure here.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::request::RangeRequest;
use super::types::{EtcdError, Event, EventKind, KeyRange, KeyValue, LeaseId, Revision};

/// The revision of a fresh store (etcd starts at 1, so the first write makes 2).
const FIRST_REVISION: u64 = 1;

/// One state of a key: what a put left, or the tombstone of a delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Version {
    /// The revision that made this state.
    revision: u64,
    /// The key-value, or `None` for a tombstone.
    kv: Option<KeyValue>,
}

/// The result of a range read, before it becomes a [`super::Response`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeResult {
    /// Key-values in key order, at most the limit; empty when only counting.
    pub kvs: Vec<KeyValue>,
    /// Keys in the range at that revision, ignoring the limit.
    pub count: u64,
    /// Whether the limit cut `kvs` short.
    pub more: bool,
}

/// The multi-version key space: the current revision, the compact revision, every key's
/// versions since the compaction, and every revision's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mvcc {
    /// The latest revision.
    current: u64,
    /// History below this revision is gone; 0 before the first compaction.
    compacted: u64,
    /// Each key's versions, oldest first. A key whose only remaining state would be a
    /// tombstone at or below the compact revision is dropped.
    keys: BTreeMap<String, Vec<Version>>,
    /// The events of each revision at or above the compact revision (the compact revision
    /// itself is kept, so a watch may start exactly there).
    events: BTreeMap<u64, Vec<Event>>,
}

impl Default for Mvcc {
    fn default() -> Self {
        Mvcc::new()
    }
}

impl Mvcc {
    /// An empty store at revision 1.
    pub fn new() -> Self {
        Mvcc {
            current: FIRST_REVISION,
            compacted: 0,
            keys: BTreeMap::new(),
            events: BTreeMap::new(),
        }
    }

    /// The latest revision.
    pub fn current_revision(&self) -> Revision {
        Revision(self.current)
    }

    /// The compact revision ([`Revision::NONE`] if never compacted): reads and watches
    /// below it fail with [`EtcdError::Compacted`].
    pub fn compact_revision(&self) -> Revision {
        Revision(self.compacted)
    }

    /// Keys that exist now.
    pub fn len(&self) -> usize {
        self.keys
            .values()
            .filter(|h| h.last().is_some_and(|v| v.kv.is_some()))
            .count()
    }

    /// Whether no key exists now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A key's latest key-value.
    pub fn get(&self, key: &str) -> Option<&KeyValue> {
        self.keys.get(key)?.last()?.kv.as_ref()
    }

    /// The revision a read of `requested` sees: the latest for [`Revision::NONE`].
    ///
    /// # Errors
    ///
    /// [`EtcdError::FutureRevision`] above the current revision, [`EtcdError::Compacted`]
    /// below the compact revision (etcd `rangeKeys`).
    pub fn check_read_revision(&self, requested: Revision) -> Result<Revision, EtcdError> {
        if requested.0 > self.current {
            return Err(EtcdError::FutureRevision);
        }
        if requested == Revision::NONE {
            return Ok(Revision(self.current));
        }
        if requested.0 < self.compacted {
            return Err(self.compacted_error());
        }
        Ok(requested)
    }

    fn compacted_error(&self) -> EtcdError {
        EtcdError::Compacted {
            compact_revision: Revision(self.compacted),
        }
    }

    /// Reads a range at the request's revision.
    ///
    /// # Errors
    ///
    /// As [`Mvcc::check_read_revision`].
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResult, EtcdError> {
        let at = self.check_read_revision(req.revision)?;
        Ok(self.range_at(&req.range, at.0, req.limit, req.count_only))
    }

    /// Reads a range at revision `at`, which the caller has checked.
    fn range_at(&self, range: &KeyRange, at: u64, limit: u64, count_only: bool) -> RangeResult {
        let mut kvs = Vec::new();
        let mut count = 0u64;
        for history in self.histories(range) {
            if let Some(kv) = version_at(history, at) {
                count += 1;
                if !count_only && (limit == 0 || (kvs.len() as u64) < limit) {
                    kvs.push(kv.clone());
                }
            }
        }
        let more = !count_only && limit > 0 && count > limit;
        RangeResult { kvs, count, more }
    }

    /// The histories of the keys in `range`, in key order.
    fn histories<'a>(
        &'a self,
        range: &KeyRange,
    ) -> Box<dyn Iterator<Item = &'a Vec<Version>> + 'a> {
        if range.is_single() {
            return Box::new(self.keys.get(&range.key).into_iter());
        }
        if range.is_empty_interval() {
            return Box::new(std::iter::empty());
        }
        let upper = match range.end_exclusive() {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        Box::new(
            self.keys
                .range::<str, _>((Bound::Included(range.key.as_str()), upper))
                .map(|(_, h)| h),
        )
    }

    /// Starts a write: every change made through it lands at the next revision, which
    /// becomes current when [`WriteTxn::end`] is called if anything changed.
    pub fn write(&mut self) -> WriteTxn<'_> {
        let revision = self.current + 1;
        WriteTxn {
            mvcc: self,
            revision,
            events: Vec::new(),
        }
    }

    /// Puts one key in a revision of its own. Returns the new revision and the replaced
    /// key-value.
    pub fn put(&mut self, key: &str, value: &str, lease: LeaseId) -> (Revision, Option<KeyValue>) {
        let mut w = self.write();
        let prev = w.put(key, value, lease);
        (w.end(), prev)
    }

    /// Deletes a range in one revision (none if nothing matched). Returns the revision
    /// after it and the deleted key-values.
    pub fn delete_range(&mut self, range: &KeyRange) -> (Revision, Vec<KeyValue>) {
        let mut w = self.write();
        let deleted = w.delete_range(range);
        (w.end(), deleted)
    }

    /// Forgets history below `revision`: each key keeps its latest state at or below it (a
    /// key deleted by then disappears), and the events of earlier revisions go.
    ///
    /// # Errors
    ///
    /// [`EtcdError::Compacted`] if `revision` is not above the compact revision,
    /// [`EtcdError::FutureRevision`] if it is above the current revision (etcd
    /// `kvstore.updateCompactRev`).
    pub fn compact(&mut self, revision: Revision) -> Result<(), EtcdError> {
        let rev = revision.0;
        if rev <= self.compacted {
            return Err(self.compacted_error());
        }
        if rev > self.current {
            return Err(EtcdError::FutureRevision);
        }
        self.keys.retain(|_, history| {
            let at_or_below = history.partition_point(|v| v.revision <= rev);
            let keep_from = match at_or_below.checked_sub(1) {
                // The state at `rev` is a live value: keep it.
                Some(i) if history[i].kv.is_some() => i,
                // A tombstone or nothing: the key does not exist at `rev`.
                _ => at_or_below,
            };
            history.drain(..keep_from);
            !history.is_empty()
        });
        self.events = self.events.split_off(&rev);
        self.compacted = rev;
        Ok(())
    }

    /// The events of revisions `from..=self.current`, per revision, oldest first; only
    /// revisions that changed something.
    ///
    /// # Errors
    ///
    /// [`EtcdError::Compacted`] if `from` is below the compact revision.
    pub fn events_since(
        &self,
        from: Revision,
    ) -> Result<impl Iterator<Item = (Revision, &[Event])> + '_, EtcdError> {
        if from.0 < self.compacted {
            return Err(self.compacted_error());
        }
        Ok(self
            .events
            .range(from.0..)
            .map(|(rev, events)| (Revision(*rev), events.as_slice())))
    }
}

/// A key's state at revision `at`, if it existed then.
fn version_at(history: &[Version], at: u64) -> Option<&KeyValue> {
    let i = history.partition_point(|v| v.revision <= at);
    history.get(i.checked_sub(1)?)?.kv.as_ref()
}

/// A write in progress: every change lands at one revision (etcd `storeTxnWrite`).
///
/// Changes are visible to reads through [`WriteTxn::range`] right away; the revision
/// becomes the store's current one at [`WriteTxn::end`], and only if something changed.
#[derive(Debug)]
pub struct WriteTxn<'a> {
    mvcc: &'a mut Mvcc,
    revision: u64,
    events: Vec<Event>,
}

impl WriteTxn<'_> {
    /// The store as this write sees it.
    pub fn mvcc(&self) -> &Mvcc {
        self.mvcc
    }

    /// Whether this write has changed anything yet.
    pub fn has_changes(&self) -> bool {
        !self.events.is_empty()
    }

    /// Reads a range, seeing this write's changes (etcd reads a write txn at
    /// `begin + 1` once it has changes). Explicit revisions are checked against the
    /// revision the write began at.
    ///
    /// # Errors
    ///
    /// As [`Mvcc::check_read_revision`].
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResult, EtcdError> {
        let at = self.mvcc.check_read_revision(req.revision)?;
        let at = if req.revision == Revision::NONE && self.has_changes() {
            self.revision
        } else {
            at.0
        };
        Ok(self
            .mvcc
            .range_at(&req.range, at, req.limit, req.count_only))
    }

    /// Puts `key = value` attached to `lease`. Returns the key-value it replaced.
    pub fn put(&mut self, key: &str, value: &str, lease: LeaseId) -> Option<KeyValue> {
        let history = self.mvcc.keys.entry(key.to_string()).or_default();
        let prev = history.last().and_then(|v| v.kv.clone());
        let (create_revision, version) = match &prev {
            Some(p) => (p.create_revision, p.version + 1),
            None => (Revision(self.revision), 1),
        };
        let kv = KeyValue {
            key: key.to_string(),
            value: value.to_string(),
            create_revision,
            mod_revision: Revision(self.revision),
            version,
            lease,
        };
        push_version(history, self.revision, Some(kv.clone()));
        self.events.push(Event {
            kind: EventKind::Put,
            kv,
            prev_kv: prev.clone(),
        });
        prev
    }

    /// Deletes every key in `range` that exists. Returns the deleted key-values, in key
    /// order.
    pub fn delete_range(&mut self, range: &KeyRange) -> Vec<KeyValue> {
        let doomed: Vec<KeyValue> = self
            .mvcc
            .histories(range)
            .filter_map(|h| h.last().and_then(|v| v.kv.clone()))
            .collect();
        for prev in &doomed {
            let history = self
                .mvcc
                .keys
                .get_mut(&prev.key)
                .expect("a key just read is in the store");
            push_version(history, self.revision, None);
            self.events.push(Event {
                kind: EventKind::Delete,
                kv: KeyValue {
                    key: prev.key.clone(),
                    value: String::new(),
                    create_revision: Revision::NONE,
                    mod_revision: Revision(self.revision),
                    version: 0,
                    lease: LeaseId::NONE,
                },
                prev_kv: Some(prev.clone()),
            });
        }
        doomed
    }

    /// Finishes the write. Returns the store's revision after it: the new revision if
    /// anything changed, else the unchanged current one.
    pub fn end(self) -> Revision {
        if !self.events.is_empty() {
            self.mvcc.current = self.revision;
            self.mvcc.events.insert(self.revision, self.events);
        }
        Revision(self.mvcc.current)
    }
}

/// Records a key's new state at `revision`, replacing a state made earlier in the same
/// write (a txn may delete a key and a later op in it touch it again only through a
/// range, but a lease revoke and direct callers can touch a key twice).
fn push_version(history: &mut Vec<Version>, revision: u64, kv: Option<KeyValue>) {
    if let Some(last) = history.last_mut() {
        if last.revision == revision {
            last.kv = kv;
            return;
        }
    }
    history.push(Version { revision, kv });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(range: KeyRange) -> RangeRequest {
        RangeRequest::latest(range)
    }

    fn at(range: KeyRange, rev: u64) -> RangeRequest {
        RangeRequest {
            revision: Revision(rev),
            ..RangeRequest::latest(range)
        }
    }

    #[test]
    fn first_write_is_revision_two_and_versions_count_puts() {
        let mut m = Mvcc::new();
        assert_eq!(m.current_revision(), Revision(1));
        assert_eq!(m.put("a", "1", LeaseId::NONE).0, Revision(2));
        assert_eq!(m.put("a", "2", LeaseId::NONE).0, Revision(3));
        let kv = m.get("a").unwrap();
        assert_eq!(
            (kv.create_revision, kv.mod_revision, kv.version),
            (Revision(2), Revision(3), 2)
        );
        assert_eq!(m.delete_range(&KeyRange::key("a")).0, Revision(4));
        assert_eq!(m.put("a", "3", LeaseId::NONE).0, Revision(5));
        let kv = m.get("a").unwrap();
        assert_eq!((kv.create_revision, kv.version), (Revision(5), 1));
    }

    #[test]
    fn deleting_nothing_makes_no_revision_and_a_range_delete_makes_one() {
        let mut m = Mvcc::new();
        assert_eq!(m.delete_range(&KeyRange::key("x")), (Revision(1), vec![]));
        m.put("a", "1", LeaseId::NONE);
        m.put("b", "1", LeaseId::NONE);
        let (rev, gone) = m.delete_range(&KeyRange::prefix(""));
        assert_eq!((rev, gone.len()), (Revision(4), 2));
        let evs: Vec<_> = m.events_since(Revision(4)).unwrap().collect();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].1.len(), 2);
    }

    #[test]
    fn old_revisions_read_old_values() {
        let mut m = Mvcc::new();
        m.put("a", "1", LeaseId::NONE); // 2
        m.put("a", "2", LeaseId::NONE); // 3
        m.delete_range(&KeyRange::key("a")); // 4
        let value = |r: RangeResult| r.kvs.first().map(|kv| kv.value.clone());
        assert_eq!(
            value(m.range(&at(KeyRange::key("a"), 2)).unwrap()).as_deref(),
            Some("1")
        );
        assert_eq!(
            value(m.range(&at(KeyRange::key("a"), 3)).unwrap()).as_deref(),
            Some("2")
        );
        assert_eq!(value(m.range(&latest(KeyRange::key("a"))).unwrap()), None);
        assert_eq!(
            m.range(&at(KeyRange::key("a"), 5)),
            Err(EtcdError::FutureRevision)
        );
    }

    #[test]
    fn compaction_keeps_the_state_at_its_revision_and_refuses_older_reads() {
        let mut m = Mvcc::new();
        m.put("a", "1", LeaseId::NONE); // 2
        m.put("b", "1", LeaseId::NONE); // 3
        m.delete_range(&KeyRange::key("b")); // 4
        m.put("a", "2", LeaseId::NONE); // 5
        m.compact(Revision(4)).unwrap();
        let gone = EtcdError::Compacted {
            compact_revision: Revision(4),
        };
        assert_eq!(m.range(&at(KeyRange::all(), 3)), Err(gone.clone()));
        let r = m.range(&at(KeyRange::all(), 4)).unwrap();
        assert_eq!(r.kvs.len(), 1);
        assert_eq!(r.kvs[0].value, "1");
        assert_eq!(m.compact(Revision(4)), Err(gone.clone()));
        assert_eq!(m.compact(Revision(3)), Err(gone));
        assert_eq!(m.compact(Revision(6)), Err(EtcdError::FutureRevision));
        assert!(m.events_since(Revision(3)).is_err());
        assert_eq!(m.events_since(Revision(4)).unwrap().count(), 2);
        assert!(
            !m.keys.contains_key("b"),
            "a key deleted before the compaction is dropped"
        );
    }

    #[test]
    fn limits_count_and_more() {
        let mut m = Mvcc::new();
        for k in ["a", "b", "c"] {
            m.put(k, "v", LeaseId::NONE);
        }
        let r = m
            .range(&RangeRequest {
                limit: 2,
                ..latest(KeyRange::all())
            })
            .unwrap();
        assert_eq!((r.kvs.len(), r.count, r.more), (2, 3, true));
        let r = m
            .range(&RangeRequest {
                count_only: true,
                ..latest(KeyRange::interval("b", "z"))
            })
            .unwrap();
        assert_eq!((r.kvs.len(), r.count, r.more), (0, 2, false));
    }
}
