//! The etcd v3 store that the Raft nodes replicate: MVCC key space, transactions, leases,
//! watches and compaction, following etcd's API semantics and error names.
//!
//! This module is pure: no actors, no I/O, no clock reads. Time comes in as `now_us`, the
//! node's local clock in microseconds, and whether the node leads as `primary`. The
//! server glue (`server.rs`) feeds committed [`Command`]s to [`EtcdStore::apply`], answers
//! [`Query`]s with [`EtcdStore::query`], proposes what [`EtcdStore::tick`] returns (lease
//! revokes) and sends [`EtcdStore::take_pushes`] (watch events) to clients.
//!
//! One concept per file:
//!
//! - [`types`]: revisions, lease ids, key-values, events, key ranges, errors;
//! - [`request`]: commands, queries and responses;
//! - [`mvcc`]: the multi-version key space and compaction;
//! - [`txn`]: compares and atomic multi-op writes;
//! - [`lease`]: the replicated lease table and the leader-local lessor;
//! - [`watch`]: the per-node watch hub;
//! - [`store`]: [`EtcdStore`], which ties them together.
//!
//! What is replicated (and in snapshots): the key space with its history and the lease
//! table. What is local to a node: lease deadlines (only the leader's matter) and watches.

pub mod lease;
pub mod mvcc;
pub mod request;
pub mod store;
pub mod txn;
pub mod types;
pub mod watch;

pub use lease::{Lease, LeaseTable, Lessor, LessorConfig};
pub use mvcc::{Mvcc, RangeResult, WriteTxn};
pub use request::{
    Command, Compare, CompareResult, CompareTarget, DeleteRangeRequest, PutRequest, Query,
    RangeRequest, RequestOp, Response, TxnRequest, WatchCreateRequest,
};
pub use store::{EtcdStore, StoreConfig};
pub use types::{
    EtcdError, Event, EventKind, KeyRange, KeyValue, LeaseId, ResponseHeader, Revision,
};
pub use watch::{WatchConfig, WatchHub};

// The server side of the module: glue onto the Raft driver, the client, the scenario
// workload and the etcd checks.
pub mod client;
pub mod events;
mod server;
pub mod watch_check;
pub mod workload;

pub use client::{ClientError, EtcdClient, EtcdMsg, Watch, WatchUpdate};
pub use watch_check::WatchNoGap;
pub use workload::{run_kv_client, run_watcher, KvClientConfig};
