//! An etcd client (clientv3 in spirit) for scenarios, and later for the API server.
//!
//! It talks to any member through a [`Session`]: it follows leader hints, resends reads
//! and keep-alives after a silence, and never resends a write that may have been proposed.
//! As clientv3 multiplexes every RPC and watch of a process over one gRPC connection, one
//! client serves every task of its node: its methods take `&self` and a clone is another
//! handle to the same connection, so many calls can be in flight at once (each matched to
//! its reply by request id) while watches deliver beside them. Each [`Watch`] has its own
//! stream of [`WatchUpdate`]s, in its server's order; [`EtcdClient::next_watch`] reads
//! the updates of every watch not read through a handle.
//! Every key-value operation lands in the history with its invocation and completion; an
//! operation whose outcome is unknown (a timeout, a member gone) is recorded as `info`
//! (indeterminate), never as failed; an etcd error (the request certainly did nothing) is
//! `fail`. The history values follow the contract of the `kv` linearizability model in
//! `sim_core::linearizability` (`get`, `put`, `delete`, `cas`), plus the log `index` and
//! `term` of writes, which `acked-writes-survive` reads.
//!
//! Lease, compaction and general txn calls are not key-value history: they are outside the
//! `kv` model. A client whose keys a lease may delete behind the model's back (a lock
//! holder) switches recording off with [`EtcdClient::set_recording`].

use std::cell::Cell;
use std::rc::Rc;

use crate::etcd::events::{EtcdEvent, WatchChange};
use serde_json::{json, Value};
use sim_core::{Carries, NodeCtx, NodeId, OpId, OpOutcome, SimTime};

use super::request::{
    Command, Compare, CompareResult, CompareTarget, DeleteRangeRequest, PutRequest, Query,
    RangeRequest, RequestOp, Response, TxnRequest, WatchCreateRequest,
};
use super::store::EtcdStore;
use super::types::{
    EtcdError, Event, EventKind as EtcdEventKind, KeyRange, KeyValue, LeaseId, Revision,
};
use crate::driver::{Answer, ClientOp, MsgOf, Session, SessionConfig};

/// The message type of an etcd world.
pub type EtcdMsg = MsgOf<EtcdStore>;

/// Why a call did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// No answer in time: it may or may not have taken effect.
    Indeterminate,
    /// etcd refused it; it did not take effect.
    Etcd(EtcdError),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Indeterminate => f.write_str("timed out (outcome unknown)"),
            ClientError::Etcd(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What a watch delivered.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchUpdate {
    /// Changes, whole revisions in order.
    Events {
        /// The watch.
        watch_id: u64,
        /// The server's revision when sent.
        header_revision: Revision,
        /// The events.
        events: Vec<Event>,
    },
    /// Nothing changed up to `header_revision`.
    Progress {
        /// The watch.
        watch_id: u64,
        /// The server's revision.
        header_revision: Revision,
    },
    /// The server ended the watch; `compact_revision` is set when history was compacted
    /// past the watch (re-read, then watch from a newer revision).
    Canceled {
        /// The watch.
        watch_id: u64,
        /// The compact revision, if that is why.
        compact_revision: Revision,
    },
}

/// See the module docs. Cloning gives another handle to the same connection (its watch
/// ids, its recording switch).
///
/// `M` is the world's message type: [`EtcdMsg`] in an etcd world, or one that carries it
/// (the control plane's, where the API servers are etcd's clients).
#[derive(Debug)]
pub struct EtcdClient<M = EtcdMsg> {
    session: Session<EtcdStore, M>,
    shared: Rc<ClientState>,
}

impl<M> Clone for EtcdClient<M> {
    fn clone(&self) -> Self {
        EtcdClient {
            session: self.session.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// What every handle of one client shares.
#[derive(Debug, Default)]
struct ClientState {
    /// Record key-value operations in the history.
    recording: Cell<bool>,
    /// The last watch id given out: ids are unique per client, as the server keys its
    /// watches by (client, id).
    next_watch: Cell<u64>,
}

/// One watch's own stream of updates (see [`EtcdClient::watch`]). Dropping it closes the
/// stream: updates of the watch still queued, or arriving later, are dropped unread (the
/// server's watch is not cancelled).
#[derive(Debug)]
#[must_use = "dropping a Watch closes its stream"]
pub struct Watch<M: Carries<EtcdMsg> = EtcdMsg> {
    client: EtcdClient<M>,
    id: u64,
    server: NodeId,
    /// Left open for [`EtcdClient::next_watch`] (see [`Watch::into_id`]).
    detached: bool,
}

impl<M: Carries<EtcdMsg>> Watch<M> {
    /// The watch's id (in every [`WatchUpdate`] and on the trace).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The member that serves it.
    pub fn server(&self) -> NodeId {
        self.server
    }

    /// The watch's next update, waiting until `deadline` at most; updates of other
    /// watches and calls' replies are not touched. Records each delivery.
    pub async fn next(&self, deadline: SimTime) -> Option<WatchUpdate> {
        loop {
            let (_, response) = self.client.session.next_push_of(self.id, deadline).await?;
            if let Some(update) = self.client.delivered(response) {
                return Some(update);
            }
        }
    }

    /// Gives up the handle but keeps the stream open: its updates then come from
    /// [`EtcdClient::next_watch`], with every other such watch's.
    pub fn into_id(mut self) -> u64 {
        self.detached = true;
        self.id
    }
}

impl<M: Carries<EtcdMsg>> Drop for Watch<M> {
    fn drop(&mut self) {
        if !self.detached {
            self.client.session.close_stream(self.id);
        }
    }
}

/// The watch a push belongs to.
fn watch_of(response: &Response) -> Option<u64> {
    match response {
        Response::WatchEvents { watch_id, .. }
        | Response::Progress { watch_id, .. }
        | Response::WatchCanceled { watch_id, .. } => Some(*watch_id),
        _ => None,
    }
}

/// An operation being recorded.
struct Pending {
    op: Option<OpId>,
}

impl<M: Carries<EtcdMsg>> EtcdClient<M> {
    /// A client on `ctx`'s node talking to `servers`.
    pub fn new(ctx: NodeCtx<M>, servers: Vec<NodeId>, config: SessionConfig) -> Self {
        let session = Session::new(ctx, servers, config);
        session.set_push_key(watch_of);
        EtcdClient {
            session,
            shared: Rc::new(ClientState {
                recording: Cell::new(true),
                next_watch: Cell::new(0),
            }),
        }
    }

    /// The session underneath (target member, sleeps, the node's rng).
    pub fn session(&self) -> &Session<EtcdStore, M> {
        &self.session
    }

    /// The node's context.
    pub fn ctx(&self) -> &NodeCtx<M> {
        self.session.ctx()
    }

    /// Record key-value operations in the history (on by default).
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.set(on);
    }

    fn begin(&self, f: &str, key: &str, arg: Value, detail: String) -> Pending {
        Pending {
            op: self
                .shared
                .recording
                .get()
                .then(|| self.ctx().invoke(f, Some(key.to_string()), arg, detail)),
        }
    }

    fn finish<T>(
        &self,
        pending: Pending,
        result: &Result<T, ClientError>,
        ok_value: impl FnOnce(&T) -> Value,
    ) {
        let Some(op) = pending.op else { return };
        match result {
            Ok(v) => self
                .ctx()
                .complete(op, OpOutcome::Ok, ok_value(v), String::new()),
            Err(ClientError::Etcd(e)) => self.ctx().complete(
                op,
                OpOutcome::Fail,
                json!({"error": e.to_string()}),
                e.to_string(),
            ),
            Err(ClientError::Indeterminate) => {
                self.ctx()
                    .complete(op, OpOutcome::Info, Value::Null, "timed out".into())
            }
        }
    }

    async fn call(
        &self,
        op: ClientOp<Command, Query>,
        idempotent: bool,
    ) -> Result<Answer<Response>, ClientError> {
        let answer = self
            .session
            .call(op, idempotent)
            .await
            .map_err(|_| ClientError::Indeterminate)?;
        match answer.output {
            Response::Error(e) => Err(ClientError::Etcd(e)),
            _ => Ok(answer),
        }
    }

    /// Reads `key` (linearizable unless the members serve serializable reads).
    pub async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision), ClientError> {
        let pending = self.begin("get", key, Value::Null, format!("get {key}"));
        let request = RangeRequest::latest(KeyRange::key(key));
        let result = self
            .call(ClientOp::Query(Query::Range(request)), true)
            .await
            .and_then(|a| match a.output {
                Response::Range { header, kvs, .. } => {
                    Ok((kvs.into_iter().next(), header.revision, a.index))
                }
                other => unexpected("range", &other),
            });
        self.finish(pending, &result, |(kv, revision, index)| {
            json!({
                "value": kv.as_ref().map(|kv| kv.value.clone()),
                "mod_revision": kv.as_ref().map_or(0, |kv| kv.mod_revision.0),
                "create_revision": kv.as_ref().map_or(0, |kv| kv.create_revision.0),
                "version": kv.as_ref().map_or(0, |kv| kv.version),
                "revision": revision.0,
                "index": index,
            })
        });
        result.map(|(kv, revision, _)| (kv, revision))
    }

    /// Reads keys in `range` without recording (a listing, not a key-value operation).
    pub async fn range(
        &self,
        request: RangeRequest,
    ) -> Result<(Vec<KeyValue>, Revision), ClientError> {
        let answer = self
            .call(ClientOp::Query(Query::Range(request)), true)
            .await?;
        match answer.output {
            Response::Range { header, kvs, .. } => Ok((kvs, header.revision)),
            other => unexpected("range", &other),
        }
    }

    /// Writes `key = value`; the revision it created.
    pub async fn put(&self, key: &str, value: &str) -> Result<Revision, ClientError> {
        self.put_with_lease(key, value, LeaseId::NONE).await
    }

    /// Writes `key = value` attached to `lease`.
    pub async fn put_with_lease(
        &self,
        key: &str,
        value: &str,
        lease: LeaseId,
    ) -> Result<Revision, ClientError> {
        let pending = self.begin(
            "put",
            key,
            json!({"value": value}),
            format!("put {key}={value}"),
        );
        let request = PutRequest {
            lease,
            ..PutRequest::new(key, value)
        };
        let result = self
            .call(ClientOp::Command(Command::Put(request)), false)
            .await
            .and_then(|a| match a.output {
                Response::Put { header, .. } => Ok((header.revision, a.index, a.term)),
                other => unexpected("put", &other),
            });
        self.finish(
            pending,
            &result,
            |(revision, index, term)| json!({"revision": revision.0, "index": index, "term": term}),
        );
        result.map(|(revision, _, _)| revision)
    }

    /// Deletes `key`; how many keys it deleted (0 or 1).
    pub async fn delete(&self, key: &str) -> Result<u64, ClientError> {
        let pending = self.begin("delete", key, Value::Null, format!("delete {key}"));
        let request = DeleteRangeRequest {
            range: KeyRange::key(key),
            prev_kv: false,
        };
        let result = self
            .call(ClientOp::Command(Command::DeleteRange(request)), false)
            .await
            .and_then(|a| match a.output {
                Response::DeleteRange {
                    header, deleted, ..
                } => Ok((deleted, header.revision, a.index, a.term)),
                other => unexpected("delete", &other),
            });
        self.finish(pending, &result, |(deleted, revision, index, term)| {
            json!({"deleted": deleted, "revision": revision.0, "index": index, "term": term})
        });
        result.map(|(deleted, ..)| deleted)
    }

    /// Compare-and-swap as etcd clients write it: a txn that puts `value` if `key`'s mod
    /// revision is `expected` ([`Revision::NONE`]: the key is absent). Whether it swapped,
    /// and the txn's revision.
    pub async fn cas(
        &self,
        key: &str,
        expected: Revision,
        value: &str,
    ) -> Result<(bool, Revision), ClientError> {
        let pending = self.begin(
            "cas",
            key,
            json!({"expected_mod_revision": expected.0, "value": value}),
            format!("cas {key}@{}={value}", expected.0),
        );
        let txn = TxnRequest {
            compare: vec![Compare {
                key: key.to_string(),
                target: CompareTarget::ModRevision(expected),
                result: CompareResult::Equal,
            }],
            success: vec![RequestOp::Put(PutRequest::new(key, value))],
            failure: vec![],
        };
        let result = self
            .call(ClientOp::Command(Command::Txn(txn)), false)
            .await
            .and_then(|a| match a.output {
                Response::Txn {
                    header, succeeded, ..
                } => Ok((succeeded, header.revision, a.index, a.term)),
                other => unexpected("txn", &other),
            });
        self.finish(pending, &result, |(succeeded, revision, index, term)| {
            json!({"succeeded": succeeded, "revision": revision.0, "index": index, "term": term})
        });
        result.map(|(succeeded, revision, ..)| (succeeded, revision))
    }

    /// A general transaction (not recorded): whether the compares held, the branch's
    /// responses, and the txn's revision.
    pub async fn txn(
        &self,
        txn: TxnRequest,
    ) -> Result<(bool, Vec<Response>, Revision), ClientError> {
        let answer = self
            .call(ClientOp::Command(Command::Txn(txn)), false)
            .await?;
        match answer.output {
            Response::Txn {
                header,
                succeeded,
                responses,
            } => Ok((succeeded, responses, header.revision)),
            other => unexpected("txn", &other),
        }
    }

    /// Grants a lease of `ttl_s` seconds; its id and granted TTL.
    pub async fn lease_grant(&self, ttl_s: u64) -> Result<(LeaseId, u64), ClientError> {
        let command = Command::LeaseGrant {
            id: LeaseId::NONE,
            ttl_s,
        };
        let answer = self.call(ClientOp::Command(command), false).await?;
        match answer.output {
            Response::LeaseGrant { id, ttl_s, .. } => Ok((id, ttl_s)),
            other => unexpected("lease grant", &other),
        }
    }

    /// Refreshes `lease` on the leader; its TTL.
    pub async fn lease_keep_alive(&self, lease: LeaseId) -> Result<u64, ClientError> {
        let query = Query::LeaseKeepAlive { id: lease };
        let answer = self.call(ClientOp::Query(query), true).await?;
        match answer.output {
            Response::LeaseKeepAlive { ttl_s, .. } => Ok(ttl_s),
            other => unexpected("keep-alive", &other),
        }
    }

    /// Revokes `lease`, deleting its keys.
    pub async fn lease_revoke(&self, lease: LeaseId) -> Result<Revision, ClientError> {
        let command = Command::LeaseRevoke { id: lease };
        let answer = self.call(ClientOp::Command(command), false).await?;
        match answer.output {
            Response::LeaseRevoke { header } => Ok(header.revision),
            other => unexpected("lease revoke", &other),
        }
    }

    /// Compacts history below `revision`.
    pub async fn compact(&self, revision: Revision) -> Result<(), ClientError> {
        let command = Command::Compact { revision };
        let answer = self.call(ClientOp::Command(command), false).await?;
        match answer.output {
            Response::Compact { .. } => Ok(()),
            other => unexpected("compact", &other),
        }
    }

    /// Watches `range` from `start` ([`Revision::NONE`]: changes after now) on the member
    /// the session talks to. Its updates come from [`Watch::next`] (or, once
    /// [`Watch::into_id`] let the handle go, from [`EtcdClient::next_watch`]).
    pub async fn watch(&self, range: KeyRange, start: Revision) -> Result<Watch<M>, ClientError> {
        let watch_id = self.shared.next_watch.get() + 1;
        self.shared.next_watch.set(watch_id);
        let request = WatchCreateRequest {
            range: range.clone(),
            start_revision: start,
            prev_kv: false,
            progress_notify: true,
            watch_id,
        };
        let answer = self
            .call(ClientOp::Query(Query::WatchCreate(request)), true)
            .await?;
        match answer.output {
            Response::WatchCreated { header, .. } => {
                // "From now" means from the revision after the member's current one.
                let first = if start == Revision::NONE {
                    header.revision.0 + 1
                } else {
                    start.0
                };
                self.ctx().record_layer(EtcdEvent::WatchOpen {
                    watch: watch_id,
                    key: range.key.clone(),
                    range_end: range.range_end.clone(),
                    start_revision: first,
                    server: answer.from,
                });
                Ok(Watch {
                    client: self.clone(),
                    id: watch_id,
                    server: answer.from,
                    detached: false,
                })
            }
            Response::WatchCanceled {
                compact_revision, ..
            } => Err(ClientError::Etcd(EtcdError::Compacted { compact_revision })),
            other => unexpected("watch", &other),
        }
    }

    /// The next update of any watch whose handle was let go ([`Watch::into_id`]), waiting
    /// until `deadline` at most. Records each delivery.
    pub async fn next_watch(&self, deadline: SimTime) -> Option<WatchUpdate> {
        loop {
            let (_, response) = self.session.next_push(deadline).await?;
            if let Some(update) = self.delivered(response) {
                return Some(update);
            }
        }
    }

    /// The update a push carries, recorded on the trace as delivered (`None`: not a watch
    /// push). The one place watch deliveries are recorded.
    fn delivered(&self, response: Response) -> Option<WatchUpdate> {
        let update = match response {
            Response::WatchEvents {
                header,
                watch_id,
                events,
            } => WatchUpdate::Events {
                watch_id,
                header_revision: header.revision,
                events,
            },
            Response::Progress { header, watch_id } => WatchUpdate::Progress {
                watch_id,
                header_revision: header.revision,
            },
            Response::WatchCanceled {
                watch_id,
                compact_revision,
                ..
            } => WatchUpdate::Canceled {
                watch_id,
                compact_revision,
            },
            _ => return None,
        };
        self.ctx().record_layer(delivery_event(&update));
        Some(update)
    }
}

/// The trace event of a watch delivery.
fn delivery_event(update: &WatchUpdate) -> EtcdEvent {
    match update {
        WatchUpdate::Events {
            watch_id,
            header_revision,
            events,
        } => EtcdEvent::WatchDelivery {
            watch: *watch_id,
            header_revision: header_revision.0,
            changes: events
                .iter()
                .map(|e| WatchChange {
                    key: e.kv.key.clone(),
                    revision: e.revision().0,
                    deleted: e.kind == EtcdEventKind::Delete,
                    value: e.kv.value.clone(),
                })
                .collect(),
            canceled: false,
        },
        WatchUpdate::Progress {
            watch_id,
            header_revision,
        } => EtcdEvent::WatchDelivery {
            watch: *watch_id,
            header_revision: header_revision.0,
            changes: vec![],
            canceled: false,
        },
        WatchUpdate::Canceled { watch_id, .. } => EtcdEvent::WatchDelivery {
            watch: *watch_id,
            header_revision: 0,
            changes: vec![],
            canceled: true,
        },
    }
}

/// A response of the wrong kind.
///
/// # Panics
///
/// Always: the server answers every request with its own kind or an error, so this is a
/// broken internal invariant.
fn unexpected(what: &str, response: &Response) -> ! {
    panic!("etcd answered a {what} with {response:?}")
}
