//! The values the etcd store speaks in: revisions, lease ids, key-values, events, key
//! ranges and errors (etcd `api/mvccpb/kv.proto`, `api/v3rpc/rpctypes/error.go`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A revision of the whole key space. Every write that changes something makes the next
/// one; every key-value remembers the revision that created it and the one that last
/// changed it.
///
/// As in etcd, a fresh store is at revision 1 with no keys, so the first write makes
/// revision 2. In requests, revision 0 means "none" or "the latest".
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Revision(pub u64);

impl Revision {
    /// "No revision" in a response, "the latest" in a request.
    pub const NONE: Revision = Revision(0);
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A lease: a TTL that, when it runs out, deletes every key attached to it. 0 means "no
/// lease" (etcd's `NoLease`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct LeaseId(pub u64);

impl LeaseId {
    /// No lease.
    pub const NONE: LeaseId = LeaseId(0);

    /// Whether this is a real lease (not [`LeaseId::NONE`]).
    pub fn is_some(self) -> bool {
        self.0 != 0
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // etcd prints lease ids in hex (`etcdctl lease grant` → `lease 694d...`).
        write!(f, "{:x}", self.0)
    }
}

/// A key and its value as of some revision (etcd `mvccpb.KeyValue`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The revision of the put that created the key (since its last delete).
    pub create_revision: Revision,
    /// The revision of the last put to the key.
    pub mod_revision: Revision,
    /// Puts since creation: 1 after the creating put; a delete resets it.
    pub version: u64,
    /// The lease the key is attached to, or [`LeaseId::NONE`].
    pub lease: LeaseId,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Created or updated.
    Put,
    /// Deleted.
    Delete,
}

/// One change to one key, as a watcher sees it (etcd `mvccpb.Event`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// For a put, the new key-value. For a delete, the key with an empty value,
    /// `mod_revision` set to the deleting revision and everything else zero (as etcd's
    /// tombstones).
    pub kv: KeyValue,
    /// The key-value just before this change, when the watcher asked for it and the key
    /// existed.
    pub prev_kv: Option<KeyValue>,
}

impl Event {
    /// The revision this event happened at.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// The header every response carries. etcd's also names the cluster, member and raft
/// term; only the revision matters to this model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHeader {
    /// The store's revision when the response was made.
    pub revision: Revision,
}

/// The keys a request reads, deletes or watches: one key, or the half-open interval
/// `[key, range_end)`.
///
/// As in etcd, `range_end == "\0"` means "every key from `key` on", and
/// [`KeyRange::prefix`] of the empty prefix is `["\0", "\0")`, every key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyRange {
    /// The first key.
    pub key: String,
    /// One past the last key; `None` for just `key`; `Some("\0")` for no upper bound.
    pub range_end: Option<String>,
}

/// etcd's "no upper bound" range end.
const UNBOUNDED: &str = "\0";

impl KeyRange {
    /// Exactly one key.
    pub fn key(key: impl Into<String>) -> Self {
        KeyRange {
            key: key.into(),
            range_end: None,
        }
    }

    /// Every key that starts with `prefix` (etcd `clientv3.WithPrefix`: the range end is
    /// the prefix with its last character incremented).
    pub fn prefix(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        match prefix_end(&prefix) {
            Some(end) => KeyRange {
                key: prefix,
                range_end: Some(end),
            },
            None if prefix.is_empty() => KeyRange::all(),
            None => KeyRange::from_key(prefix),
        }
    }

    /// Every key at or after `key` (etcd `clientv3.WithFromKey`).
    pub fn from_key(key: impl Into<String>) -> Self {
        KeyRange {
            key: key.into(),
            range_end: Some(UNBOUNDED.to_string()),
        }
    }

    /// `[key, end)`.
    pub fn interval(key: impl Into<String>, end: impl Into<String>) -> Self {
        KeyRange {
            key: key.into(),
            range_end: Some(end.into()),
        }
    }

    /// Every key.
    pub fn all() -> Self {
        KeyRange::from_key(UNBOUNDED)
    }

    /// Whether this is a single key.
    pub fn is_single(&self) -> bool {
        self.range_end.is_none()
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &str) -> bool {
        match self.range_end.as_deref() {
            None => key == self.key,
            Some(UNBOUNDED) => key >= self.key.as_str(),
            Some(end) => key >= self.key.as_str() && key < end,
        }
    }

    /// The upper bound for a `BTreeMap::range` over keys, `None` when unbounded. A single
    /// key is bounded by itself (inclusive), which callers handle through
    /// [`KeyRange::is_single`].
    pub(crate) fn end_exclusive(&self) -> Option<&str> {
        match self.range_end.as_deref() {
            None | Some(UNBOUNDED) => None,
            Some(end) => Some(end),
        }
    }

    /// Whether the range holds no key at all (`range_end <= key`, and not unbounded).
    pub(crate) fn is_empty_interval(&self) -> bool {
        matches!(self.end_exclusive(), Some(end) if end <= self.key.as_str())
    }
}

impl fmt::Display for KeyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.range_end.as_deref() {
            None => write!(f, "{}", self.key),
            Some(UNBOUNDED) => write!(f, "{}..", self.key.escape_debug()),
            Some(end) => write!(f, "{}..{}", self.key, end),
        }
    }
}

/// The smallest string greater than every string starting with `prefix`: the prefix with
/// its last character incremented, dropping trailing characters that cannot be
/// incremented. `None` when there is none (empty prefix, or only `char::MAX`).
///
/// etcd does this on bytes; on `String`s we step code points instead, which orders the
/// same way because UTF-8 preserves code point order.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            char::MAX => None,
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Why a request failed. Messages are etcd's (`api/v3rpc/rpctypes/error.go`,
/// `server/storage/mvcc/kvstore.go`) so that traces read like etcd's logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EtcdError {
    /// The revision asked for is below the compact revision (etcd `ErrCompacted`).
    Compacted {
        /// The store's compact revision.
        compact_revision: Revision,
    },
    /// The revision asked for is above the current revision (etcd `ErrFutureRev`).
    FutureRevision,
    /// No such lease (or it has expired and its revoke is pending).
    LeaseNotFound,
    /// A grant named a lease id that is in use.
    LeaseExists,
    /// A grant asked for more than [`crate::etcd::lease::MAX_LEASE_TTL_S`].
    LeaseTtlTooLarge,
    /// This node cannot serve the request (lease keep-alive off the leader).
    NotLeader,
    /// A txn has more compares or ops per branch than [`crate::etcd::request::MAX_TXN_OPS`].
    TooManyOps,
    /// A txn branch puts one key twice, or puts a key it also deletes.
    DuplicateKey,
    /// The request is larger than [`crate::etcd::request::MAX_REQUEST_BYTES`].
    RequestTooLarge,
    /// A request without a key.
    EmptyKey,
}

impl fmt::Display for EtcdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EtcdError::Compacted { .. } => "mvcc: required revision has been compacted",
            EtcdError::FutureRevision => "mvcc: required revision is a future revision",
            EtcdError::LeaseNotFound => "etcdserver: requested lease not found",
            EtcdError::LeaseExists => "etcdserver: lease already exists",
            EtcdError::LeaseTtlTooLarge => "etcdserver: too large lease TTL",
            EtcdError::NotLeader => "etcdserver: not leader",
            EtcdError::TooManyOps => "etcdserver: too many operations in txn request",
            EtcdError::DuplicateKey => "etcdserver: duplicate key given in txn request",
            EtcdError::RequestTooLarge => "etcdserver: request is too large",
            EtcdError::EmptyKey => "etcdserver: key is not provided",
        })
    }
}

impl std::error::Error for EtcdError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges_hold_exactly_the_prefixed_keys() {
        let r = KeyRange::prefix("/registry/pods/");
        assert_eq!(r.range_end.as_deref(), Some("/registry/pods0"));
        assert!(r.contains("/registry/pods/a"));
        assert!(r.contains("/registry/pods/"));
        assert!(!r.contains("/registry/pods"));
        assert!(!r.contains("/registry/pods0"));
        assert!(!r.contains("/registry/podsX"));
        let all = KeyRange::prefix("");
        assert!(all.contains("a") && all.contains("\u{10FFFF}"));
        let odd = KeyRange::prefix("a\u{10FFFF}");
        assert_eq!(odd.range_end.as_deref(), Some("b"));
        assert!(odd.contains("a\u{10FFFF}z") && !odd.contains("b"));
    }

    #[test]
    fn single_keys_and_intervals() {
        assert!(KeyRange::key("a").contains("a"));
        assert!(!KeyRange::key("a").contains("ab"));
        let r = KeyRange::interval("b", "d");
        assert!(!r.contains("a") && r.contains("b") && r.contains("cz") && !r.contains("d"));
        assert!(KeyRange::from_key("b").contains("zzz"));
        assert!(KeyRange::interval("d", "b").is_empty_interval());
    }
}
