//! What clients ask the etcd store and what it answers (etcd `api/etcdserverpb/rpc.proto`,
//! trimmed to the fields this model uses).
//!
//! Writes are [`Command`]s: replicated through the Raft log and applied on every node.
//! Reads, lease keep-alives and watch requests are [`Query`]s: answered by one node from
//! its own state. Everything the store says is a [`Response`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::driver::Describe;

use super::types::{EtcdError, Event, KeyRange, KeyValue, LeaseId, ResponseHeader, Revision};

/// Most compares, or ops in one txn branch (etcd `embed.DefaultMaxTxnOps`).
pub const MAX_TXN_OPS: usize = 128;

/// Largest request etcd accepts (`embed.DefaultMaxRequestBytes`, 1.5 MiB).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024 * 3 / 2;

/// Bytes charged per request and per op on top of its strings, standing in for the
/// protobuf framing and integer fields that [`Command::size_bytes`] does not encode.
const OVERHEAD_BYTES: usize = 16;

/// Read keys (etcd `RangeRequest`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeRequest {
    /// The keys.
    pub range: KeyRange,
    /// Read as of this revision; [`Revision::NONE`] for the latest.
    pub revision: Revision,
    /// At most this many key-values; 0 for no limit.
    pub limit: u64,
    /// Only count the keys.
    pub count_only: bool,
}

impl RangeRequest {
    /// The latest value of `range`, no limit.
    pub fn latest(range: KeyRange) -> Self {
        RangeRequest {
            range,
            revision: Revision::NONE,
            limit: 0,
            count_only: false,
        }
    }
}

/// Write one key (etcd `PutRequest`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRequest {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// Attach the key to this lease ([`LeaseId::NONE`] detaches it from any).
    pub lease: LeaseId,
    /// Return the key-value it replaced.
    pub prev_kv: bool,
}

impl PutRequest {
    /// `key = value`, no lease, no prev_kv.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        PutRequest {
            key: key.into(),
            value: value.into(),
            lease: LeaseId::NONE,
            prev_kv: false,
        }
    }
}

/// Delete keys (etcd `DeleteRangeRequest`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    /// The keys.
    pub range: KeyRange,
    /// Return the deleted key-values.
    pub prev_kv: bool,
}

/// What a [`Compare`] looks at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareTarget {
    /// The value. Compared on a missing key, always false.
    Value(String),
    /// The version (0 for a missing key).
    Version(u64),
    /// The create revision (0 for a missing key).
    CreateRevision(Revision),
    /// The mod revision (0 for a missing key).
    ModRevision(Revision),
    /// The lease (0 for a missing key or no lease).
    Lease(LeaseId),
}

/// How a [`Compare`] relates the key's field to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    /// `field == target`
    Equal,
    /// `field != target`
    NotEqual,
    /// `field > target`
    Greater,
    /// `field < target`
    Less,
}

/// One condition of a txn on one key (etcd `Compare`, without its `range_end`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The key.
    pub key: String,
    /// The field and the value to compare it with.
    pub target: CompareTarget,
    /// The relation that must hold.
    pub result: CompareResult,
}

/// One op of a txn branch (etcd `RequestOp`; nested txns are not modelled).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestOp {
    /// Read, seeing the writes of the ops before it in the same txn.
    Range(RangeRequest),
    /// Write.
    Put(PutRequest),
    /// Delete.
    DeleteRange(DeleteRangeRequest),
}

/// If every compare holds, run `success`, else `failure`; atomically, at one revision
/// (etcd `TxnRequest`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    /// The conditions, all of which must hold.
    pub compare: Vec<Compare>,
    /// Ops when they do.
    pub success: Vec<RequestOp>,
    /// Ops when they do not.
    pub failure: Vec<RequestOp>,
}

/// A write, replicated through the Raft log and applied on every node in log order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Write one key.
    Put(PutRequest),
    /// Delete keys.
    DeleteRange(DeleteRangeRequest),
    /// A transaction.
    Txn(TxnRequest),
    /// Create a lease.
    LeaseGrant {
        /// The id; [`LeaseId::NONE`] lets the store pick one (deterministically, from
        /// replicated state, so every node picks the same).
        id: LeaseId,
        /// Requested TTL; raised to the store's minimum.
        ttl_s: u64,
    },
    /// Delete a lease and every key attached to it.
    LeaseRevoke {
        /// The lease.
        id: LeaseId,
    },
    /// Forget history below a revision.
    Compact {
        /// The new compact revision.
        revision: Revision,
    },
}

/// Asks to watch keys (etcd `WatchCreateRequest`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchCreateRequest {
    /// The keys.
    pub range: KeyRange,
    /// First revision to report; [`Revision::NONE`] for "changes after now".
    pub start_revision: Revision,
    /// Include each event's previous key-value.
    pub prev_kv: bool,
    /// Send periodic progress notifications when idle.
    pub progress_notify: bool,
    /// The client's name for this watch (unique per client).
    pub watch_id: u64,
}

/// A read or a request about this node's local (unreplicated) state, answered by one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// Read keys.
    Range(RangeRequest),
    /// Refresh a lease's deadline (only the leader tracks deadlines).
    LeaseKeepAlive {
        /// The lease.
        id: LeaseId,
    },
    /// A lease's granted and remaining TTL, and its keys.
    LeaseTimeToLive {
        /// The lease.
        id: LeaseId,
    },
    /// Start a watch; events follow as pushes.
    WatchCreate(WatchCreateRequest),
    /// Stop a watch.
    WatchCancel {
        /// The client's id of the watch.
        watch_id: u64,
    },
}

/// Everything the store answers, to a request or unsolicited (watch pushes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Keys read.
    Range {
        /// Header; the current revision even for reads at an older one (as etcd).
        header: ResponseHeader,
        /// The key-values, in key order, at most `limit` (empty if `count_only`).
        kvs: Vec<KeyValue>,
        /// How many keys the range holds, ignoring the limit.
        count: u64,
        /// Whether the limit cut the answer short.
        more: bool,
    },
    /// A key written.
    Put {
        /// Header (the revision of the put).
        header: ResponseHeader,
        /// The value it replaced, if asked for and there was one.
        prev_kv: Option<KeyValue>,
    },
    /// Keys deleted.
    DeleteRange {
        /// Header (the revision of the delete, or the current one if nothing was deleted).
        header: ResponseHeader,
        /// How many keys.
        deleted: u64,
        /// The deleted key-values, if asked for.
        prev_kvs: Vec<KeyValue>,
    },
    /// A transaction.
    Txn {
        /// Header (the txn's revision).
        header: ResponseHeader,
        /// Whether the compares held (so `success` ran).
        succeeded: bool,
        /// One response per op of the branch that ran.
        responses: Vec<Response>,
    },
    /// A lease created.
    LeaseGrant {
        /// Header.
        header: ResponseHeader,
        /// Its id.
        id: LeaseId,
        /// Its TTL (after raising to the minimum).
        ttl_s: u64,
    },
    /// A lease and its keys deleted.
    LeaseRevoke {
        /// Header (the revision that deleted its keys, if any).
        header: ResponseHeader,
    },
    /// A lease refreshed.
    LeaseKeepAlive {
        /// Header.
        header: ResponseHeader,
        /// The lease.
        id: LeaseId,
        /// Its new remaining TTL, the granted TTL.
        ttl_s: u64,
    },
    /// A lease's state.
    LeaseTimeToLive {
        /// Header.
        header: ResponseHeader,
        /// The lease.
        id: LeaseId,
        /// Remaining seconds (rounded up); `None` (etcd's -1) when it has expired and its
        /// revoke is pending, or when this node is not the leader and so tracks no
        /// deadlines.
        ttl_s: Option<u64>,
        /// The granted TTL.
        granted_ttl_s: u64,
        /// Keys attached to it, in order.
        keys: Vec<String>,
    },
    /// History compacted.
    Compact {
        /// Header.
        header: ResponseHeader,
    },
    /// A watch started.
    WatchCreated {
        /// Header (the revision the watch was created at).
        header: ResponseHeader,
        /// The client's id of the watch.
        watch_id: u64,
    },
    /// A watch ended: on request, or because its start revision was compacted.
    WatchCanceled {
        /// Header.
        header: ResponseHeader,
        /// The client's id of the watch.
        watch_id: u64,
        /// The store's compact revision when that is why ([`Revision::NONE`] otherwise):
        /// the client must re-read and watch again from a newer revision.
        compact_revision: Revision,
        /// Why, in etcd's words; empty for a requested cancel.
        reason: String,
    },
    /// Changes a watch asked for: whole revisions, in order.
    WatchEvents {
        /// Header (the store's revision when sent).
        header: ResponseHeader,
        /// The client's id of the watch.
        watch_id: u64,
        /// The events.
        events: Vec<Event>,
    },
    /// Nothing changed for a watch; the store is at `header.revision`.
    Progress {
        /// Header.
        header: ResponseHeader,
        /// The client's id of the watch.
        watch_id: u64,
    },
    /// The request failed.
    Error(EtcdError),
}

impl Response {
    /// The header, if the response has one.
    pub fn header(&self) -> Option<ResponseHeader> {
        match self {
            Response::Range { header, .. }
            | Response::Put { header, .. }
            | Response::DeleteRange { header, .. }
            | Response::Txn { header, .. }
            | Response::LeaseGrant { header, .. }
            | Response::LeaseRevoke { header }
            | Response::LeaseKeepAlive { header, .. }
            | Response::LeaseTimeToLive { header, .. }
            | Response::Compact { header }
            | Response::WatchCreated { header, .. }
            | Response::WatchCanceled { header, .. }
            | Response::WatchEvents { header, .. }
            | Response::Progress { header, .. } => Some(*header),
            Response::Error(_) => None,
        }
    }
}

impl RequestOp {
    fn key_is_empty(&self) -> bool {
        match self {
            RequestOp::Range(r) => r.range.key.is_empty(),
            RequestOp::Put(p) => p.key.is_empty(),
            RequestOp::DeleteRange(d) => d.range.key.is_empty(),
        }
    }

    fn size_bytes(&self) -> usize {
        OVERHEAD_BYTES
            + match self {
                RequestOp::Range(r) => range_bytes(&r.range),
                RequestOp::Put(p) => p.key.len() + p.value.len(),
                RequestOp::DeleteRange(d) => range_bytes(&d.range),
            }
    }

    fn describe(&self) -> String {
        match self {
            RequestOp::Range(r) => format!("range {}", r.range),
            RequestOp::Put(p) => format!("put {}={}", p.key, p.value),
            RequestOp::DeleteRange(d) => format!("delete {}", d.range),
        }
    }
}

fn range_bytes(range: &KeyRange) -> usize {
    range.key.len() + range.range_end.as_ref().map_or(0, String::len)
}

/// etcd's `checkIntervals` for one branch: no key put twice, no key both put and deleted.
/// (Deletes may overlap each other.)
fn check_branch_keys(ops: &[RequestOp]) -> Result<(), EtcdError> {
    let mut puts = BTreeSet::new();
    for op in ops {
        if let RequestOp::Put(p) = op {
            if !puts.insert(p.key.as_str()) {
                return Err(EtcdError::DuplicateKey);
            }
        }
    }
    let deleted = |key: &str| {
        ops.iter()
            .any(|op| matches!(op, RequestOp::DeleteRange(d) if d.range.contains(key)))
    };
    if puts.iter().any(|k| deleted(k)) {
        return Err(EtcdError::DuplicateKey);
    }
    Ok(())
}

impl TxnRequest {
    /// The API server's checks (etcd `checkTxnRequest` and `checkIntervals`): at most
    /// [`MAX_TXN_OPS`] compares or ops per branch, every key given, no duplicate keys in a
    /// branch.
    ///
    /// # Errors
    ///
    /// [`EtcdError::TooManyOps`], [`EtcdError::EmptyKey`], [`EtcdError::DuplicateKey`].
    pub fn validate(&self) -> Result<(), EtcdError> {
        let most = self
            .compare
            .len()
            .max(self.success.len())
            .max(self.failure.len());
        if most > MAX_TXN_OPS {
            return Err(EtcdError::TooManyOps);
        }
        if self.compare.iter().any(|c| c.key.is_empty())
            || self.success.iter().any(RequestOp::key_is_empty)
            || self.failure.iter().any(RequestOp::key_is_empty)
        {
            return Err(EtcdError::EmptyKey);
        }
        check_branch_keys(&self.success)?;
        check_branch_keys(&self.failure)
    }
}

impl Command {
    /// The checks etcd makes before proposing (key given, txn shape, size). The store makes
    /// them again when applying, so a command that skipped them fails the same way on
    /// every node.
    ///
    /// # Errors
    ///
    /// [`EtcdError::EmptyKey`], [`EtcdError::TooManyOps`], [`EtcdError::DuplicateKey`],
    /// [`EtcdError::RequestTooLarge`].
    pub fn validate(&self) -> Result<(), EtcdError> {
        match self {
            Command::Put(p) if p.key.is_empty() => return Err(EtcdError::EmptyKey),
            Command::DeleteRange(d) if d.range.key.is_empty() => return Err(EtcdError::EmptyKey),
            Command::Txn(t) => t.validate()?,
            _ => {}
        }
        if self.size_bytes() > MAX_REQUEST_BYTES {
            return Err(EtcdError::RequestTooLarge);
        }
        Ok(())
    }

    /// An estimate of the encoded size: the bytes of every key, range end, value and
    /// compared value, plus a small fixed charge per request and per op.
    pub fn size_bytes(&self) -> usize {
        OVERHEAD_BYTES
            + match self {
                Command::Put(p) => p.key.len() + p.value.len(),
                Command::DeleteRange(d) => range_bytes(&d.range),
                Command::Txn(t) => {
                    let compares: usize = t
                        .compare
                        .iter()
                        .map(|c| {
                            OVERHEAD_BYTES
                                + c.key.len()
                                + match &c.target {
                                    CompareTarget::Value(v) => v.len(),
                                    _ => 0,
                                }
                        })
                        .sum();
                    let ops: usize = t
                        .success
                        .iter()
                        .chain(&t.failure)
                        .map(RequestOp::size_bytes)
                        .sum();
                    compares + ops
                }
                Command::LeaseGrant { .. }
                | Command::LeaseRevoke { .. }
                | Command::Compact { .. } => 0,
            }
    }
}

impl Describe for Response {
    /// `put rev=6`, `range 2 kvs rev=6`, `error: ...`.
    fn describe(&self) -> String {
        let rev = self
            .header()
            .map_or_else(String::new, |h| format!(" rev={}", h.revision));
        match self {
            Response::Range { kvs, count, .. } => {
                if kvs.len() as u64 == *count {
                    format!("range {} kvs{rev}", kvs.len())
                } else {
                    format!("range {} of {count} kvs{rev}", kvs.len())
                }
            }
            Response::Put { .. } => format!("put{rev}"),
            Response::DeleteRange { deleted, .. } => format!("delete {deleted}{rev}"),
            Response::Txn { succeeded, .. } => {
                let branch = if *succeeded { "success" } else { "failure" };
                format!("txn {branch}{rev}")
            }
            Response::LeaseGrant { id, ttl_s, .. } => format!("lease-grant {id} ttl={ttl_s}s{rev}"),
            Response::LeaseRevoke { .. } => format!("lease-revoke{rev}"),
            Response::LeaseKeepAlive { id, ttl_s, .. } => {
                format!("lease-keepalive {id} ttl={ttl_s}s{rev}")
            }
            Response::LeaseTimeToLive { id, ttl_s, .. } => match ttl_s {
                Some(ttl) => format!("lease-ttl {id} {ttl}s{rev}"),
                None => format!("lease-ttl {id} expired{rev}"),
            },
            Response::Compact { .. } => format!("compact{rev}"),
            Response::WatchCreated { watch_id, .. } => format!("watch-created #{watch_id}{rev}"),
            Response::WatchCanceled { watch_id, .. } => {
                format!("watch-canceled #{watch_id}{rev}")
            }
            Response::WatchEvents {
                watch_id, events, ..
            } => format!("watch #{watch_id} {} events{rev}", events.len()),
            Response::Progress { watch_id, .. } => format!("progress #{watch_id}{rev}"),
            Response::Error(e) => format!("error: {e}"),
        }
    }
}

impl Describe for Query {
    /// `range /a.. rev=3`.
    fn describe(&self) -> String {
        match self {
            Query::Range(r) => {
                let mut s = format!("range {}", r.range);
                if r.revision != Revision::NONE {
                    s.push_str(&format!(" rev={}", r.revision));
                }
                if r.limit > 0 {
                    s.push_str(&format!(" limit={}", r.limit));
                }
                if r.count_only {
                    s.push_str(" count-only");
                }
                s
            }
            Query::LeaseKeepAlive { id } => format!("lease-keepalive {id}"),
            Query::LeaseTimeToLive { id } => format!("lease-ttl {id}"),
            Query::WatchCreate(w) => format!(
                "watch-create #{} {} from={}",
                w.watch_id, w.range, w.start_revision
            ),
            Query::WatchCancel { watch_id } => format!("watch-cancel #{watch_id}"),
        }
    }
}

impl Describe for Command {
    /// `put count=5`.
    fn describe(&self) -> String {
        match self {
            Command::Put(p) if p.lease.is_some() => {
                format!("put {}={} lease={}", p.key, p.value, p.lease)
            }
            Command::Put(p) => format!("put {}={}", p.key, p.value),
            Command::DeleteRange(d) => format!("delete {}", d.range),
            Command::Txn(t) => {
                let ops = |ops: &[RequestOp]| {
                    ops.iter()
                        .map(RequestOp::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                format!(
                    "txn if {} cmp then [{}] else [{}]",
                    t.compare.len(),
                    ops(&t.success),
                    ops(&t.failure)
                )
            }
            Command::LeaseGrant { id, ttl_s } => format!("lease-grant {id} ttl={ttl_s}s"),
            Command::LeaseRevoke { id } => format!("lease-revoke {id}"),
            Command::Compact { revision } => format!("compact {revision}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str) -> RequestOp {
        RequestOp::Put(PutRequest::new(k, "v"))
    }

    fn txn(success: Vec<RequestOp>) -> Command {
        Command::Txn(TxnRequest {
            compare: vec![],
            success,
            failure: vec![],
        })
    }

    #[test]
    fn txn_checks_match_etcd() {
        assert_eq!(txn(vec![put("a"), put("b")]).validate(), Ok(()));
        assert_eq!(
            txn(vec![put("a"), put("a")]).validate(),
            Err(EtcdError::DuplicateKey)
        );
        let del = RequestOp::DeleteRange(DeleteRangeRequest {
            range: KeyRange::prefix("a"),
            prev_kv: false,
        });
        assert_eq!(
            txn(vec![del.clone(), put("ab")]).validate(),
            Err(EtcdError::DuplicateKey)
        );
        assert_eq!(txn(vec![del.clone(), del, put("b")]).validate(), Ok(()));
        let many: Vec<RequestOp> = (0..=MAX_TXN_OPS).map(|i| put(&format!("k{i}"))).collect();
        assert_eq!(txn(many).validate(), Err(EtcdError::TooManyOps));
        assert_eq!(txn(vec![put("")]).validate(), Err(EtcdError::EmptyKey));
    }

    #[test]
    fn oversized_requests_are_refused() {
        let big = "x".repeat(MAX_REQUEST_BYTES);
        assert_eq!(
            Command::Put(PutRequest::new("k", big)).validate(),
            Err(EtcdError::RequestTooLarge)
        );
        let fits = "x".repeat(MAX_REQUEST_BYTES - 100);
        assert_eq!(Command::Put(PutRequest::new("k", fits)).validate(), Ok(()));
        assert_eq!(
            Command::Put(PutRequest::new("count", "5")).describe(),
            "put count=5"
        );
    }
}
