//! The etcd server: the [`EtcdStore`] as the Raft driver's state machine.
//!
//! Writes (`put`, `delete`, `txn`, lease grant and revoke, compaction) are Raft commands:
//! every member applies them in log order, so every member's MVCC store agrees revision for
//! revision. Reads are queries: linearizable through ReadIndex by default (etcd's
//! `ReadOnlySafe`, `etcdserver/v3_server.go`), or served from the member's own state when
//! the node runs with serializable reads. Lease keep-alives and time-to-live go to the leader
//! only, whose lessor alone keeps deadlines (etcd `lessor.go`: only the primary lessor
//! expires leases); when a deadline passes the leader proposes the revoke from its tick.
//! Watches are registered on the member asked and fed from what it applies, so a lagging
//! member's watchers lag with it, as in etcd.

use sim_core::NodeId;

use super::request::{Command, Query, Response};
use super::store::EtcdStore;
use crate::driver::{NodeEnv, QueryMode, StateMachine};

impl StateMachine for EtcdStore {
    type Command = Command;
    type Query = Query;
    type Output = Response;

    fn apply(&mut self, command: &Command, env: &NodeEnv) -> Response {
        EtcdStore::apply(self, command, env.local_now_us, env.leader)
    }

    fn query(&mut self, client: NodeId, query: &Query, env: &NodeEnv) -> Response {
        EtcdStore::query(self, client, query, env.local_now_us, env.leader)
    }

    fn query_mode(query: &Query) -> QueryMode {
        match query {
            Query::Range(_) => QueryMode::Read,
            Query::LeaseKeepAlive { .. } | Query::LeaseTimeToLive { .. } => QueryMode::LeaderOnly,
            Query::WatchCreate(_) | Query::WatchCancel { .. } => QueryMode::Local,
        }
    }

    fn tick(&mut self, env: &NodeEnv) -> Vec<Command> {
        EtcdStore::tick(self, env.local_now_us, env.leader)
    }

    fn take_pushes(&mut self) -> Vec<(NodeId, Response)> {
        EtcdStore::take_pushes(self)
    }

    fn snapshot(&self) -> Vec<u8> {
        EtcdStore::snapshot(self)
    }

    fn restore(&mut self, data: &[u8]) {
        EtcdStore::restore(self, data)
    }
}
