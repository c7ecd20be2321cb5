//! [`EtcdStore`]: the key space, the lease table, the lessor and the watch hub behind one
//! interface for the server glue.

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

use super::lease::{LeaseTable, Lessor, LessorConfig, DEFAULT_MIN_LEASE_TTL_S};
use super::mvcc::Mvcc;
use super::request::{Command, DeleteRangeRequest, PutRequest, Query, RequestOp, Response};
use super::txn::{apply_ops, apply_txn};
use super::types::{EtcdError, KeyRange, ResponseHeader, Revision};
use super::watch::{WatchConfig, WatchHub};

/// Settings of a store. Every node of a cluster must use the same `min_lease_ttl_s`, as
/// it shapes replicated state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreConfig {
    /// Shortest lease TTL (see [`super::lease::min_lease_ttl_s`]).
    pub min_lease_ttl_s: u64,
    /// Lease expiry timing on the leader.
    pub lessor: LessorConfig,
    /// Watch progress and batching.
    pub watch: WatchConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            min_lease_ttl_s: DEFAULT_MIN_LEASE_TTL_S,
            lessor: LessorConfig::default(),
            watch: WatchConfig::default(),
        }
    }
}

/// The replicated part, as snapshots carry it.
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    mvcc: Mvcc,
    leases: LeaseTable,
}

/// An etcd member's state: the replicated key space and lease table, plus this node's
/// lessor (lease deadlines, meaningful only while it leads) and watch hub.
///
/// Deterministic: the same commands, queries and clock readings in the same order give the
/// same responses and pushes.
#[derive(Debug)]
pub struct EtcdStore {
    config: StoreConfig,
    mvcc: Mvcc,
    leases: LeaseTable,
    lessor: Lessor,
    hub: WatchHub,
}

impl Default for EtcdStore {
    fn default() -> Self {
        EtcdStore::new(StoreConfig::default())
    }
}

impl EtcdStore {
    /// An empty store at revision 1, not primary, with no watches.
    pub fn new(config: StoreConfig) -> Self {
        EtcdStore {
            config,
            mvcc: Mvcc::new(),
            leases: LeaseTable::new(),
            lessor: Lessor::new(config.lessor),
            hub: WatchHub::new(config.watch),
        }
    }

    /// The settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The key space.
    pub fn mvcc(&self) -> &Mvcc {
        &self.mvcc
    }

    /// The lease table.
    pub fn leases(&self) -> &LeaseTable {
        &self.leases
    }

    /// The lessor.
    pub fn lessor(&self) -> &Lessor {
        &self.lessor
    }

    /// The watches.
    pub fn hub(&self) -> &WatchHub {
        &self.hub
    }

    /// The latest revision.
    pub fn current_revision(&self) -> Revision {
        self.mvcc.current_revision()
    }

    /// The compact revision ([`Revision::NONE`] before the first compaction).
    pub fn compact_revision(&self) -> Revision {
        self.mvcc.compact_revision()
    }

    fn header(&self) -> ResponseHeader {
        ResponseHeader {
            revision: self.mvcc.current_revision(),
        }
    }

    /// Promotes or demotes the lessor when leadership changed.
    fn observe_role(&mut self, primary: bool, now_us: u64) {
        if primary && !self.lessor.is_primary() {
            self.lessor.promote(&self.leases, now_us);
        } else if !primary && self.lessor.is_primary() {
            self.lessor.demote();
        }
    }

    /// Applies a committed command (every node, in log order), then queues the watch
    /// events it caused. On the primary the lessor starts or stops tracking granted and
    /// revoked leases.
    pub fn apply(&mut self, cmd: &Command, now_us: u64, primary: bool) -> Response {
        self.observe_role(primary, now_us);
        let response = self.apply_command(cmd, now_us);
        self.hub.sync(&self.mvcc);
        response
    }

    fn apply_command(&mut self, cmd: &Command, now_us: u64) -> Response {
        if let Err(e) = cmd.validate() {
            return Response::Error(e);
        }
        match cmd {
            Command::Put(p) => self.apply_single(RequestOp::Put(p.clone())),
            Command::DeleteRange(d) => self.apply_single(RequestOp::DeleteRange(d.clone())),
            Command::Txn(t) => apply_txn(&mut self.mvcc, &mut self.leases, t),
            Command::LeaseGrant { id, ttl_s } => {
                match self.leases.grant(*id, *ttl_s, self.config.min_lease_ttl_s) {
                    Ok(lease) => {
                        let (id, ttl_s) = (lease.id, lease.ttl_s);
                        self.lessor.on_grant(id, ttl_s, now_us);
                        Response::LeaseGrant {
                            header: self.header(),
                            id,
                            ttl_s,
                        }
                    }
                    Err(e) => Response::Error(e),
                }
            }
            Command::LeaseRevoke { id } => {
                let Some(lease) = self.leases.get(*id) else {
                    return Response::Error(EtcdError::LeaseNotFound);
                };
                // All attached keys go in one revision (etcd's revoke deletes them in one
                // write txn).
                let ops: Vec<RequestOp> = lease
                    .keys
                    .iter()
                    .map(|k| {
                        RequestOp::DeleteRange(DeleteRangeRequest {
                            range: KeyRange::key(k.clone()),
                            prev_kv: false,
                        })
                    })
                    .collect();
                let (revision, _) = apply_ops(&mut self.mvcc, &mut self.leases, &ops)
                    .expect("deletes have nothing to check");
                self.leases.remove(*id);
                self.lessor.on_revoke(*id);
                Response::LeaseRevoke {
                    header: ResponseHeader { revision },
                }
            }
            Command::Compact { revision } => match self.mvcc.compact(*revision) {
                Ok(()) => Response::Compact {
                    header: self.header(),
                },
                Err(e) => Response::Error(e),
            },
        }
    }

    /// A put or delete: a one-op write.
    fn apply_single(&mut self, op: RequestOp) -> Response {
        match apply_ops(&mut self.mvcc, &mut self.leases, std::slice::from_ref(&op)) {
            Ok((_, mut responses)) => responses.pop().expect("one op, one response"),
            Err(e) => Response::Error(e),
        }
    }

    /// Answers a query from this node's state. `owner` is the client (watches are
    /// theirs). Lease keep-alives work only on the primary ([`EtcdError::NotLeader`]
    /// elsewhere); time-to-live reports a remaining TTL only there.
    pub fn query(&mut self, owner: NodeId, q: &Query, now_us: u64, primary: bool) -> Response {
        self.observe_role(primary, now_us);
        match q {
            Query::Range(r) => {
                if r.range.key.is_empty() {
                    return Response::Error(EtcdError::EmptyKey);
                }
                match self.mvcc.range(r) {
                    Ok(res) => Response::Range {
                        header: self.header(),
                        kvs: res.kvs,
                        count: res.count,
                        more: res.more,
                    },
                    Err(e) => Response::Error(e),
                }
            }
            Query::LeaseKeepAlive { id } => {
                if !self.lessor.is_primary() {
                    return Response::Error(EtcdError::NotLeader);
                }
                if !self.leases.contains(*id) {
                    return Response::Error(EtcdError::LeaseNotFound);
                }
                match self.lessor.keep_alive(*id, now_us) {
                    Ok(ttl_s) => Response::LeaseKeepAlive {
                        header: self.header(),
                        id: *id,
                        ttl_s,
                    },
                    Err(e) => Response::Error(e),
                }
            }
            Query::LeaseTimeToLive { id } => match self.leases.get(*id) {
                Some(lease) => Response::LeaseTimeToLive {
                    header: self.header(),
                    id: *id,
                    ttl_s: self
                        .lessor
                        .remaining_us(*id, now_us)
                        .map(|us| us.div_ceil(1_000_000)),
                    granted_ttl_s: lease.ttl_s,
                    keys: lease.keys.iter().cloned().collect(),
                },
                None => Response::Error(EtcdError::LeaseNotFound),
            },
            Query::WatchCreate(w) => {
                if w.range.key.is_empty() {
                    return Response::Error(EtcdError::EmptyKey);
                }
                self.hub.create(owner, w, &self.mvcc)
            }
            Query::WatchCancel { watch_id } => self.hub.cancel(owner, *watch_id, &self.mvcc),
        }
    }

    /// Time passes: promotes or demotes the lessor if leadership changed, queues due
    /// progress notifications, and returns the revokes of expired leases for the caller to
    /// propose (only on the primary).
    pub fn tick(&mut self, now_us: u64, primary: bool) -> Vec<Command> {
        self.observe_role(primary, now_us);
        self.hub.progress(now_us, &self.mvcc);
        self.lessor
            .expired(now_us)
            .into_iter()
            .map(|id| Command::LeaseRevoke { id })
            .collect()
    }

    /// Watch responses (events, progress, cancellations) to send, to whom, in order.
    pub fn take_pushes(&mut self) -> Vec<(NodeId, Response)> {
        self.hub.take_pushes()
    }

    /// Drops every watch of a client whose stream is gone. Returns how many.
    pub fn cancel_watches_of(&mut self, owner: NodeId) -> usize {
        self.hub.cancel_owner(owner)
    }

    /// The replicated state (key space with history, lease table) as bytes.
    ///
    /// # Panics
    ///
    /// Never in practice: the state is plain data that serde_json always encodes.
    pub fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(&SnapshotData {
            mvcc: self.mvcc.clone(),
            leases: self.leases.clone(),
        })
        .expect("the store serializes")
    }

    /// Replaces the replicated state with a snapshot's.
    ///
    /// Watches survive: each carries on from its next revision, getting the snapshot's
    /// history from there, or is cancelled with the compact revision if that history is
    /// gone (as a watch at a compacted revision would be). The lessor is demoted, so a
    /// leader that restores re-promotes on its next call and restarts every lease's
    /// deadline (no lease expires early because of a restore).
    ///
    /// # Panics
    ///
    /// If `data` is not a snapshot of this store: the Raft log only carries our own.
    pub fn restore(&mut self, data: &[u8]) {
        let SnapshotData { mvcc, leases } =
            serde_json::from_slice(data).expect("snapshots are the store's own");
        self.mvcc = mvcc;
        self.leases = leases;
        self.lessor.demote();
        self.hub.sync(&self.mvcc);
    }
}

/// A put of `key = value` as a command (handy for clients and tests).
pub fn put(key: impl Into<String>, value: impl Into<String>) -> Command {
    Command::Put(PutRequest::new(key, value))
}
