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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::request::{RangeRequest, TxnRequest, WatchCreateRequest};
    use crate::etcd::types::{Event, LeaseId};
    use crate::etcd::watch::WatchConfig;

    const S: u64 = 1_000_000;
    const CLIENT: NodeId = NodeId(9);

    fn watch(watch_id: u64, range: KeyRange, start: u64) -> Query {
        Query::WatchCreate(WatchCreateRequest {
            range,
            start_revision: Revision(start),
            prev_kv: true,
            progress_notify: false,
            watch_id,
        })
    }

    fn txn_put(pairs: &[(&str, &str)]) -> Command {
        Command::Txn(TxnRequest {
            compare: vec![],
            success: pairs
                .iter()
                .map(|(k, v)| RequestOp::Put(PutRequest::new(*k, *v)))
                .collect(),
            failure: vec![],
        })
    }

    /// The (revision, keys) of each events response for `watch_id`, checking along the way
    /// that a response never mixes in another watch.
    fn batches(pushes: &[(NodeId, Response)], watch_id: u64) -> Vec<Vec<(u64, String)>> {
        pushes
            .iter()
            .filter_map(|(_, r)| match r {
                Response::WatchEvents {
                    watch_id: w,
                    events,
                    ..
                } if *w == watch_id => Some(
                    events
                        .iter()
                        .map(|e: &Event| (e.revision().0, e.kv.key.clone()))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_watch_from_an_old_revision_replays_the_missed_events_then_goes_live() {
        let mut s = EtcdStore::new(StoreConfig {
            watch: WatchConfig {
                max_revisions_per_response: 2,
                ..WatchConfig::default()
            },
            ..StoreConfig::default()
        });
        s.apply(&put("a", "1"), 0, true); // 2
        s.apply(&txn_put(&[("b", "1"), ("c", "1")]), 0, true); // 3: two events
        s.apply(&put("x", "1"), 0, true); // 4: outside the range
        s.apply(&put("a", "2"), 0, true); // 5
        let created = s.query(CLIENT, &watch(7, KeyRange::interval("a", "d"), 3), 0, true);
        assert!(
            matches!(created, Response::WatchCreated { watch_id: 7, header } if header.revision == Revision(5))
        );
        let replay = s.take_pushes();
        // Revisions 3 and 5 (4 does not touch the range): whole revisions, two per response.
        assert_eq!(
            batches(&replay, 7),
            vec![vec![(3, "b".into()), (3, "c".into()), (5, "a".into())]]
        );
        s.apply(&txn_put(&[("a", "3"), ("b", "3")]), 0, true); // 6
        s.apply(&put("c", "3"), 0, true); // 7
        let live = s.take_pushes();
        assert_eq!(
            batches(&live, 7),
            vec![
                vec![(6, "a".into()), (6, "b".into())],
                vec![(7, "c".into())]
            ],
            "live delivery starts right after the replay: no gap, no duplicate"
        );
        let Response::WatchEvents { events, .. } = &live[0].1 else {
            panic!()
        };
        assert_eq!(events[0].prev_kv.as_ref().unwrap().value, "2");
    }

    #[test]
    fn catching_up_never_splits_a_revision() {
        let mut s = EtcdStore::new(StoreConfig {
            watch: WatchConfig {
                max_revisions_per_response: 2,
                ..WatchConfig::default()
            },
            ..StoreConfig::default()
        });
        s.apply(&txn_put(&[("a", "1"), ("b", "1")]), 0, false); // 2
        s.apply(&put("a", "2"), 0, false); // 3
        s.apply(&txn_put(&[("a", "3"), ("b", "3"), ("c", "3")]), 0, false); // 4
        s.query(CLIENT, &watch(1, KeyRange::prefix(""), 2), 0, false);
        let got = batches(&s.take_pushes(), 1);
        let revs: Vec<Vec<u64>> = got
            .iter()
            .map(|b| b.iter().map(|(r, _)| *r).collect())
            .collect();
        assert_eq!(revs, vec![vec![2, 2, 3], vec![4, 4, 4]]);
    }

    #[test]
    fn a_watch_at_a_compacted_revision_is_canceled_with_the_compact_revision() {
        let mut s = EtcdStore::default();
        for v in ["1", "2", "3"] {
            s.apply(&put("a", v), 0, false); // 2, 3, 4
        }
        assert_eq!(
            s.apply(
                &Command::Compact {
                    revision: Revision(3)
                },
                0,
                false
            ),
            Response::Compact {
                header: ResponseHeader {
                    revision: Revision(4)
                }
            }
        );
        match s.query(CLIENT, &watch(1, KeyRange::key("a"), 2), 0, false) {
            Response::WatchCanceled {
                compact_revision,
                reason,
                ..
            } => {
                assert_eq!(compact_revision, Revision(3));
                assert_eq!(reason, "mvcc: required revision has been compacted");
            }
            other => panic!("{other:?}"),
        }
        assert!(s.hub().is_empty());
        // From the compact revision itself is fine.
        assert!(matches!(
            s.query(CLIENT, &watch(2, KeyRange::key("a"), 3), 0, false),
            Response::WatchCreated { .. }
        ));
        assert_eq!(
            batches(&s.take_pushes(), 2),
            vec![vec![(3, "a".into()), (4, "a".into())]]
        );
        // Reads: below the compact revision fail, at it succeed, above current fail.
        let read = |rev| {
            Query::Range(RangeRequest {
                revision: Revision(rev),
                ..RangeRequest::latest(KeyRange::key("a"))
            })
        };
        assert_eq!(
            s.query(CLIENT, &read(2), 0, false),
            Response::Error(EtcdError::Compacted {
                compact_revision: Revision(3)
            })
        );
        assert!(matches!(
            s.query(CLIENT, &read(3), 0, false),
            Response::Range { count: 1, .. }
        ));
        assert_eq!(
            s.query(CLIENT, &read(5), 0, false),
            Response::Error(EtcdError::FutureRevision)
        );
    }

    fn grant(s: &mut EtcdStore, ttl_s: u64, now_us: u64, primary: bool) -> LeaseId {
        match s.apply(
            &Command::LeaseGrant {
                id: LeaseId::NONE,
                ttl_s,
            },
            now_us,
            primary,
        ) {
            Response::LeaseGrant { id, .. } => id,
            other => panic!("{other:?}"),
        }
    }

    fn put_with(key: &str, lease: LeaseId) -> Command {
        Command::Put(PutRequest {
            lease,
            ..PutRequest::new(key, "v")
        })
    }

    #[test]
    fn leases_expire_only_on_the_primary_and_promotion_restarts_their_clock() {
        let mut s = EtcdStore::default();
        let id = grant(&mut s, 10, 0, false);
        assert!(
            s.tick(60 * S, false).is_empty(),
            "a follower never expires leases"
        );
        assert_eq!(
            s.query(CLIENT, &Query::LeaseKeepAlive { id }, 60 * S, false),
            Response::Error(EtcdError::NotLeader)
        );
        // Becomes leader at 60 s: deadline 60 + 1 (election timeout) + 10.
        assert!(s.tick(60 * S, true).is_empty());
        assert!(s.tick(71 * S - 1, true).is_empty());
        match s.query(CLIENT, &Query::LeaseTimeToLive { id }, 65 * S, true) {
            Response::LeaseTimeToLive {
                ttl_s,
                granted_ttl_s,
                ..
            } => {
                assert_eq!((ttl_s, granted_ttl_s), (Some(6), 10));
            }
            other => panic!("{other:?}"),
        }
        // A keep-alive at 70 s pushes it to 80 s.
        assert!(matches!(
            s.query(CLIENT, &Query::LeaseKeepAlive { id }, 70 * S, true),
            Response::LeaseKeepAlive { ttl_s: 10, .. }
        ));
        assert!(s.tick(79 * S, true).is_empty());
        assert_eq!(s.tick(80 * S, true), vec![Command::LeaseRevoke { id }]);
        // Losing leadership forgets deadlines; regaining it restarts them.
        s.tick(81 * S, false);
        assert!(s.tick(81 * S, true).is_empty());
        assert_eq!(s.tick(92 * S, true), vec![Command::LeaseRevoke { id }]);
    }

    #[test]
    fn revoking_a_lease_deletes_its_keys_in_one_revision() {
        let mut s = EtcdStore::default();
        let id = grant(&mut s, 5, 0, true);
        let other = grant(&mut s, 5, 0, true);
        for k in ["a", "b", "c"] {
            s.apply(&put_with(k, id), 0, true); // 2, 3, 4
        }
        s.apply(&put_with("b", other), 0, true); // 5: b moves to the other lease
        s.apply(&put("c", "no lease"), 0, true); // 6: c leaves the lease
        s.apply(&put_with("d", id), 0, true); // 7
        s.query(CLIENT, &watch(1, KeyRange::prefix(""), 0), 0, true);
        let revoke = s.tick(10 * S, true);
        assert_eq!(revoke.len(), 2, "both leases expired");
        assert_eq!(
            s.apply(&revoke[0], 10 * S, true),
            Response::LeaseRevoke {
                header: ResponseHeader {
                    revision: Revision(8)
                }
            }
        );
        assert_eq!(
            batches(&s.take_pushes(), 1),
            vec![vec![(8, "a".into()), (8, "d".into())]]
        );
        assert!(s.mvcc().get("b").is_some() && s.mvcc().get("c").is_some());
        assert!(!s.leases().contains(id));
        assert_eq!(
            s.apply(&revoke[0], 10 * S, true),
            Response::Error(EtcdError::LeaseNotFound)
        );
        assert_eq!(
            s.apply(&put_with("e", id), 10 * S, true),
            Response::Error(EtcdError::LeaseNotFound)
        );
        assert!(
            s.tick(100 * S, true).len() == 1,
            "only the unrevoked lease is retried"
        );
    }

    #[test]
    fn progress_goes_to_idle_watches_that_asked_for_it() {
        let mut s = EtcdStore::new(StoreConfig {
            watch: WatchConfig {
                progress_interval_us: 10 * S,
                ..WatchConfig::default()
            },
            ..StoreConfig::default()
        });
        for (id, progress_notify) in [(1, true), (2, false)] {
            s.query(
                CLIENT,
                &Query::WatchCreate(WatchCreateRequest {
                    range: KeyRange::key("a"),
                    start_revision: Revision::NONE,
                    prev_kv: false,
                    progress_notify,
                    watch_id: id,
                }),
                0,
                false,
            );
        }
        s.tick(0, false);
        s.tick(9 * S, false);
        assert!(s.take_pushes().is_empty());
        s.tick(10 * S, false);
        assert_eq!(
            s.take_pushes(),
            vec![(
                CLIENT,
                Response::Progress {
                    header: ResponseHeader {
                        revision: Revision(1)
                    },
                    watch_id: 1
                }
            )]
        );
        s.apply(&put("a", "1"), 11 * S, false);
        s.take_pushes();
        s.tick(20 * S, false);
        assert!(s.take_pushes().is_empty(), "it was sent events this round");
        s.tick(30 * S, false);
        assert_eq!(s.take_pushes().len(), 1);
    }

    #[test]
    fn snapshot_and_restore_answer_the_same() {
        let mut s = EtcdStore::default();
        let id = grant(&mut s, 30, 0, false);
        s.apply(&put_with("a", id), 0, false);
        s.apply(&put("b", "1"), 0, false);
        s.apply(&put("b", "2"), 0, false);
        s.apply(
            &Command::DeleteRange(DeleteRangeRequest {
                range: KeyRange::key("a"),
                prev_kv: true,
            }),
            0,
            false,
        );
        s.apply(
            &Command::Compact {
                revision: Revision(3),
            },
            0,
            false,
        );
        let mut r = EtcdStore::default();
        r.restore(&s.snapshot());
        let queries = [
            Query::Range(RangeRequest::latest(KeyRange::prefix(""))),
            Query::Range(RangeRequest {
                revision: Revision(3),
                ..RangeRequest::latest(KeyRange::prefix(""))
            }),
            Query::Range(RangeRequest {
                revision: Revision(2),
                ..RangeRequest::latest(KeyRange::prefix(""))
            }),
            Query::LeaseTimeToLive { id },
            watch(1, KeyRange::prefix(""), 3),
        ];
        for q in &queries {
            assert_eq!(
                s.query(CLIENT, q, 0, false),
                r.query(CLIENT, q, 0, false),
                "{q:?}"
            );
        }
        assert_eq!(s.take_pushes(), r.take_pushes());
        let cmds = [
            put("c", "1"),
            put_with("d", id),
            Command::LeaseRevoke { id },
            Command::Compact {
                revision: Revision(6),
            },
        ];
        for c in &cmds {
            assert_eq!(s.apply(c, 0, false), r.apply(c, 0, false), "{c:?}");
        }
        assert_eq!(s.snapshot(), r.snapshot());
    }

    #[test]
    fn after_a_restore_watches_resume_or_are_canceled_if_compacted() {
        let mut leader = EtcdStore::default();
        let mut follower = EtcdStore::default();
        follower.query(CLIENT, &watch(1, KeyRange::prefix(""), 0), 0, false);
        follower.query(CLIENT, &watch(2, KeyRange::prefix(""), 0), 0, false);
        leader.apply(&put("a", "1"), 0, true); // 2
        let behind = leader.snapshot();
        leader.apply(&put("a", "2"), 0, true); // 3
        leader.apply(
            &Command::Compact {
                revision: Revision(3),
            },
            0,
            true,
        );
        // Watch 1 gets revision 2 from a snapshot that still holds it...
        follower.restore(&behind);
        assert_eq!(
            batches(&follower.take_pushes(), 1),
            vec![vec![(2, "a".into())]]
        );
        follower.query(CLIENT, &Query::WatchCancel { watch_id: 2 }, 0, false);
        follower.query(CLIENT, &watch(3, KeyRange::prefix(""), 0), 0, false);
        let mut fresh = EtcdStore::default();
        fresh.query(CLIENT, &watch(4, KeyRange::prefix(""), 0), 0, false);
        // ...but one that still needs revision 2 after compaction at 3 is canceled.
        fresh.restore(&leader.snapshot());
        assert!(matches!(
            fresh.take_pushes().as_slice(),
            [(
                _,
                Response::WatchCanceled {
                    watch_id: 4,
                    compact_revision: Revision(3),
                    ..
                }
            )]
        ));
        follower.restore(&leader.snapshot());
        let pushes = follower.take_pushes();
        assert_eq!(batches(&pushes, 1), vec![vec![(3, "a".into())]]);
        assert_eq!(batches(&pushes, 3), vec![vec![(3, "a".into())]]);
        assert_eq!(pushes.len(), 2);
    }
}
