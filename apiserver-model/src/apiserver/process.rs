//! The API server as a process on its own node: it answers API clients on [`API_PORT`] and
//! talks to the etcd members through its etcd client on the node's main port, as
//! kube-apiserver serves HTTPS on 6443 and uses clientv3 for storage. Cut the node off from
//! etcd and its writes and quorum reads time out (504) while its cache keeps answering
//! `"0"` lists and watches with what it last saw: the lagging API server of the stale-read
//! story.
//!
//! What runs, as tasks of the node (they die with it):
//! - start: fill every cache from one list of `/registry/` (retried until etcd answers), take
//!   the RBAC policy from the caches, then serve;
//! - the cache feeder: one etcd watch of `/registry/` feeding every cache; after
//!   [`ApiServerConfig::etcd_watch_idle_ms`] of silence it opens the watch again from the
//!   caches' revision (clientv3's keepalive would find a dead member in that time: 30 s
//!   between pings and 10 s to answer, the values kube-apiserver gives its etcd client);
//!   after compaction outran it, it fills the caches again and ends every client watch;
//! - one task per request: the request path of [`ApiServer`], then the answer and the
//!   audit record on the trace;
//! - client watches: opened by a watch request, fed from the caches after every change,
//!   ended at their timeout, with a BOOKMARK on a quiet stream when asked for.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use raft::driver::SessionConfig;
use raft::etcd::{ClientError, EtcdClient, EtcdError, KeyRange, Revision, WatchUpdate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_core::{Address, NodeCtx, NodeId, Port, SimTime};

use super::{bootstrap, ApiServer, WatchStart, REGISTRY_PREFIX};
use crate::authn::Authenticator;
use crate::authn::MASTERS;
use crate::events::{KubeEvent, WatchEndReason};
use crate::rbac::Rbac;
use crate::resource::Resource;
use crate::status::ApiError;
use crate::verb::Verb;
use crate::watch_cache::BOOKMARK_EVERY_MS;
use crate::wire::{ApiMsg, ControlPlaneMsg};

/// The port API servers answer on (kube-apiserver's `--secure-port` default).
pub const API_PORT: Port = Port(6443);

/// How one API server runs.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    /// Its name (`apiserver-1`): the prefix of the uids it gives out.
    pub name: String,
    /// The etcd members (`--etcd-servers`).
    pub etcd: Vec<NodeId>,
    /// Its etcd client's deadlines.
    pub etcd_session: SessionConfig,
    /// Its bearer tokens.
    pub authn: Authenticator,
    /// `--min-request-timeout`, milliseconds: a watch that names no timeout lasts between
    /// this and twice this. Kubernetes' default is 1800 s.
    pub min_request_timeout_ms: u64,
    /// Reopen the etcd watch after this long without a word on it, milliseconds (see the
    /// module docs: 30 s keepalive time plus 10 s keepalive timeout).
    pub etcd_watch_idle_ms: u64,
    /// Wait this long before asking etcd again when it did not answer, milliseconds.
    pub etcd_retry_ms: u64,
    /// Planted bug `bind-without-precondition` (see [`super::ApiServer`]).
    pub bind_without_precondition: bool,
    /// Planted bug `quorum-get-from-cache` (see [`super::ApiServer`]'s get).
    pub quorum_get_from_cache: bool,
}

impl ApiServerConfig {
    /// Kubernetes' defaults for a server named `name` storing in `etcd`.
    pub fn new(name: &str, etcd: Vec<NodeId>, authn: Authenticator) -> Self {
        ApiServerConfig {
            name: name.to_string(),
            etcd,
            etcd_session: SessionConfig {
                // etcd's own request timeout (5 s plus twice the 1 s election timeout:
                // etcdserver's ReqTimeout), after which it answers "request timed out".
                timeout_ms: 7_000,
                ..SessionConfig::default()
            },
            authn,
            min_request_timeout_ms: 1_800_000,
            etcd_watch_idle_ms: 40_000,
            etcd_retry_ms: 1_000,
            bind_without_precondition: false,
            quorum_get_from_cache: false,
        }
    }
}

/// One client watch the server holds.
#[derive(Debug)]
struct Watcher {
    start: WatchStart,
    /// The revision the client has been sent everything up to.
    sent: Revision,
    /// Events sent so far (the stream's positions).
    seq: u64,
    /// When the server ends it.
    ends_at: SimTime,
    bookmarks: bool,
    /// When it was last sent something.
    last_sent_at: SimTime,
}

/// What the node's tasks share.
struct Process {
    /// The API port's context.
    api: NodeCtx<ControlPlaneMsg>,
    server: ApiServer<EtcdClient<ControlPlaneMsg>>,
    etcd: EtcdClient<ControlPlaneMsg>,
    config: ApiServerConfig,
    watchers: RefCell<BTreeMap<(Address, u64), Watcher>>,
    rng: RefCell<ChaCha8Rng>,
}

/// Runs an API server on `ctx`'s node (its main actor: the etcd client answers there).
pub async fn run_apiserver(mut ctx: NodeCtx<ControlPlaneMsg>, config: ApiServerConfig) {
    let mut api = ctx.bind(API_PORT);
    let rng = RefCell::new(api.rng().clone());
    let incarnation = ctx.incarnation();
    let etcd = EtcdClient::new(ctx, config.etcd.clone(), config.etcd_session);
    etcd.set_recording(false);
    // uids stay unique across restarts: the counter starts again with the process.
    let uid_prefix = if incarnation == 1 {
        config.name.clone()
    } else {
        format!("{}.{incarnation}", config.name)
    };
    // The loopback token: how the server's own hooks pass its request path.
    let loopback = format!("loopback-{uid_prefix}");
    let authn = config
        .authn
        .clone()
        .with_token(&loopback, bootstrap::LOOPBACK_USER, &[MASTERS]);
    let server = ApiServer::new(&uid_prefix, etcd.clone(), authn, Rbac::default());
    server.set_bind_without_precondition(config.bind_without_precondition);
    server.set_quorum_get_from_cache(config.quorum_get_from_cache);
    let process = Rc::new(Process {
        api,
        server,
        etcd,
        config,
        watchers: RefCell::new(BTreeMap::new()),
        rng,
    });
    let revision = process.prime().await;
    process.api.spawn(feed_caches(process.clone(), revision));
    process.api.spawn(tend_watches(process.clone()));
    // Ready once the post-start hooks are done, as kube-apiserver's /readyz waits for them;
    // requests that arrive meanwhile wait at the port.
    process.post_start(&loopback).await;
    serve(process).await;
}

impl Process {
    /// Fills the caches, asking until etcd answers; the revision listed at.
    async fn prime(&self) -> Revision {
        loop {
            match self.server.prime_all().await {
                Ok(revision) => {
                    self.server.set_rbac(self.server.rbac_from_cache());
                    self.api.record_layer(KubeEvent::CachesPrimed {
                        revision: revision.0,
                    });
                    return revision;
                }
                Err(_) => {
                    self.api
                        .sleep(Duration::from_millis(self.config.etcd_retry_ms))
                        .await;
                }
            }
        }
    }

    /// Creates the bootstrap objects that do not exist yet (see [`bootstrap`]), asking
    /// again until etcd answers each.
    async fn post_start(&self, loopback: &str) {
        for object in bootstrap::objects() {
            let request =
                super::Request::new(Some(loopback), Verb::Create, object.group, object.resource)
                    .with_body(object.body);
            loop {
                let (reply, _) = self.server.handle_coded(&request, self.api.now()).await;
                self.record_audit();
                match reply {
                    Ok(_) | Err(ApiError::AlreadyExists { .. }) => break,
                    // Refused for what it is: retrying cannot help (a model bug, on the
                    // trace for whoever reads it).
                    Err(e) if e.code() < 500 => {
                        self.api.note("bootstrap-refused", e.to_string());
                        break;
                    }
                    Err(_) => {
                        self.api
                            .sleep(Duration::from_millis(self.config.etcd_retry_ms))
                            .await;
                    }
                }
            }
        }
    }

    fn send(&self, to: Address, msg: ApiMsg) {
        self.api.send(to, ControlPlaneMsg::Api(msg));
    }

    fn record_audit(&self) {
        for record in self.server.take_audit() {
            self.api.record_layer(KubeEvent::Audit(record));
        }
        for b in self.server.take_bindings() {
            self.api.record_layer(KubeEvent::PodBound {
                pod: b.pod,
                uid: b.uid,
                node: b.node,
            });
        }
    }

    /// Sends every watcher of a changed resource what it has not seen.
    fn notify(&self, changed: &[&'static Resource]) {
        let now = self.api.now();
        let mut ended = Vec::new();
        let mut watchers = self.watchers.borrow_mut();
        for ((client, id), w) in watchers.iter_mut() {
            if !changed.contains(&w.start.resource) {
                continue;
            }
            match self
                .server
                .watch_events(w.start.resource, w.sent, &w.start.filter)
            {
                Ok(events) => {
                    for event in events {
                        w.seq += 1;
                        w.last_sent_at = now;
                        self.send(
                            *client,
                            ApiMsg::WatchEvent {
                                watch: *id,
                                seq: w.seq,
                                event: Box::new(event),
                            },
                        );
                    }
                    w.sent = self.server.cache_revision().unwrap_or(w.sent);
                }
                Err(e) => ended.push((*client, *id, WatchEndReason::Gone, Some(e))),
            }
        }
        drop(watchers);
        for (client, id, why, error) in ended {
            self.end_watch(client, id, why, error);
        }
    }

    fn end_watch(&self, client: Address, id: u64, why: WatchEndReason, error: Option<ApiError>) {
        if let Some(w) = self.watchers.borrow_mut().remove(&(client, id)) {
            self.send(
                client,
                ApiMsg::WatchEnd {
                    watch: id,
                    seq: w.seq,
                    error,
                },
            );
            self.api
                .record_layer(KubeEvent::WatchEnded { watch: id, why });
        }
    }

    /// Opens a client's watch: the answer, then what it has not seen.
    async fn open_watch(&self, client: Address, id: u64, request: &crate::apiserver::Request) {
        let now = self.api.now();
        let (opened, code) = self.server.open_watch(request, now).await;
        self.record_audit();
        let start = match opened {
            Ok(start) => start,
            Err(e) => {
                let reply = Box::new(Err(e));
                self.send(client, ApiMsg::Reply { id, code, reply });
                return;
            }
        };
        let timeout_ms = match request.list.timeout_seconds {
            Some(s) => s * 1_000,
            None => {
                let min = self.config.min_request_timeout_ms;
                // kube-apiserver: minRequestTimeout * (1 + rand), so watches do not all end
                // together.
                let jitter = self.api_rng_below(min.max(1));
                min + jitter
            }
        };
        let reply = Box::new(Ok(serde_json::Value::Null));
        self.send(client, ApiMsg::Reply { id, code, reply });
        let from = start.from;
        self.watchers.borrow_mut().insert(
            (client, id),
            Watcher {
                sent: from,
                start,
                seq: 0,
                ends_at: now.after(Duration::from_millis(timeout_ms)),
                bookmarks: request.list.allow_bookmarks,
                last_sent_at: now,
            },
        );
        let resource = self.watchers.borrow()[&(client, id)].start.resource;
        self.notify(&[resource]);
    }

    /// A draw below `bound` from the process's rng (in event order, so seeded).
    fn api_rng_below(&self, bound: u64) -> u64 {
        self.rng.borrow_mut().gen_range(0..bound)
    }
}

/// Serves the API port until the node dies.
async fn serve(process: Rc<Process>) {
    loop {
        let env = process.api.recv().await;
        let client = env.reply_to();
        let ControlPlaneMsg::Api(msg) = env.msg else {
            process
                .api
                .note("foreign-message", "etcd traffic at the API port");
            continue;
        };
        match msg {
            ApiMsg::Request { id, request } => {
                let p = process.clone();
                process.api.spawn(async move {
                    if request.verb == Verb::Watch {
                        p.open_watch(client, id, &request).await;
                        return;
                    }
                    let (reply, code) = p.server.handle_coded(&request, p.api.now()).await;
                    p.record_audit();
                    let reply = Box::new(reply);
                    p.send(client, ApiMsg::Reply { id, code, reply });
                });
            }
            ApiMsg::StopWatch { watch } => {
                process.watchers.borrow_mut().remove(&(client, watch));
            }
            ApiMsg::Ping { watch } => {
                let held = process.watchers.borrow().contains_key(&(client, watch));
                process.send(client, ApiMsg::Pong { watch, held });
            }
            // Nothing else is for a server.
            ApiMsg::Reply { .. }
            | ApiMsg::WatchEvent { .. }
            | ApiMsg::WatchEnd { .. }
            | ApiMsg::Pong { .. } => {}
        }
    }
}

/// The cache feeder (see the module docs).
async fn feed_caches(process: Rc<Process>, mut revision: Revision) {
    let retry = Duration::from_millis(process.config.etcd_retry_ms);
    let idle = Duration::from_millis(process.config.etcd_watch_idle_ms);
    loop {
        let from = Revision(revision.0 + 1);
        let watch = match process
            .etcd
            .watch(KeyRange::prefix(REGISTRY_PREFIX), from)
            .await
        {
            Ok(watch) => watch,
            Err(ClientError::Etcd(EtcdError::Compacted { .. })) => {
                revision = relist(&process).await;
                continue;
            }
            Err(_) => {
                process.api.sleep(retry).await;
                continue;
            }
        };
        process
            .api
            .record_layer(KubeEvent::EtcdWatchOpened { from: from.0 });
        loop {
            let deadline = process.api.now().after(idle);
            match watch.next(deadline).await {
                Some(WatchUpdate::Events {
                    header_revision,
                    events,
                    ..
                }) => {
                    let now_ms = process.api.now().as_ms();
                    match process.server.feed_all(&events, header_revision, now_ms) {
                        Ok(changed) => {
                            if changed
                                .iter()
                                .any(|r| r.group == "rbac.authorization.k8s.io")
                            {
                                process.server.set_rbac(process.server.rbac_from_cache());
                            }
                            process.notify(&changed);
                        }
                        Err(e) => process.api.note("cache-feed-failed", e.to_string()),
                    }
                    revision = process.server.cache_revision().unwrap_or(revision);
                }
                Some(WatchUpdate::Progress {
                    header_revision, ..
                }) => {
                    let now_ms = process.api.now().as_ms();
                    if process
                        .server
                        .feed_all(&[], header_revision, now_ms)
                        .is_ok()
                    {
                        revision = process.server.cache_revision().unwrap_or(revision);
                    }
                }
                Some(WatchUpdate::Canceled { .. }) => {
                    revision = relist(&process).await;
                    break;
                }
                // Silence: the member may be gone; ask again from where the caches are.
                None => break,
            }
        }
    }
}

/// Fills the caches again and ends every client watch (their streams lost continuity).
async fn relist(process: &Process) -> Revision {
    let revision = process.prime().await;
    let held: Vec<_> = process.watchers.borrow().keys().copied().collect();
    for (client, id) in held {
        process.end_watch(client, id, WatchEndReason::Relist, None);
    }
    revision
}

/// Ends watches at their timeout and bookmarks quiet ones, once a second.
async fn tend_watches(process: Rc<Process>) {
    loop {
        process.api.sleep(Duration::from_secs(1)).await;
        let now = process.api.now();
        let expired: Vec<_> = process
            .watchers
            .borrow()
            .iter()
            .filter(|(_, w)| w.ends_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for (client, id) in expired {
            process.end_watch(client, id, WatchEndReason::Timeout, None);
        }
        let mut watchers = process.watchers.borrow_mut();
        for ((client, id), w) in watchers.iter_mut() {
            let quiet = now.as_ms().saturating_sub(w.last_sent_at.as_ms()) >= BOOKMARK_EVERY_MS;
            if !(w.bookmarks && quiet) {
                continue;
            }
            if let Some(bookmark) = process.server.bookmark(w.start.resource) {
                w.seq += 1;
                w.last_sent_at = now;
                w.sent = w.sent.max(bookmark.revision);
                process.send(
                    *client,
                    ApiMsg::WatchEvent {
                        watch: *id,
                        seq: w.seq,
                        event: Box::new(bookmark),
                    },
                );
            }
        }
    }
}
