//! The informer over the network: client-go's Reflector runs the sans-IO [`Informer`]
//! against an API server through an [`ApiClient`], as a task of the component that owns it.
//!
//! The loop does what the informer asks ([`Informer::want`]): a list (from the cache, `"0"`,
//! or from etcd after a 410), then a watch from the version the copy holds, with bookmarks
//! and a timeout of 5 to 10 minutes (client-go's minWatchTimeout of 5 min times one plus a
//! random fraction, so watches of many clients do not end together). A watch that ends is
//! resumed; one refused or ended with 410 Gone makes the informer relist from etcd. A
//! failed list or watch is tried again after a backoff (client-go's starts at 800 ms and
//! doubles to 30 s; here it doubles from 800 ms to 30 s and starts again after a success).
//!
//! The component reads the copy through its [`InformerHandle`] and is woken on every
//! delta through the [`Signal`] it shares between its informers, so one loop can wait on
//! all of them (a controller's work queue is fed by several informers).
//!
//! [`InformerHandle::stop`] ends the reflector at once: its call or watch is abandoned (the
//! watch is closed, as a process that exits closes its connections) and nothing more is
//! delivered. A controller-manager that loses its leadership stops its informers this way
//! before it starts again.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use serde_json::Value;
use sim_core::time::{poll_deadline, DeadlineTimer};
use sim_core::SimTime;

use crate::apiserver::{Request, VersionMatch};
use crate::client::{ApiClient, CallError, WatchEnd, WatchItem};
use crate::informer::{Delta, FirstList, Informer, Want};
use crate::status::ApiError;
use crate::verb::Verb;
use crate::watch_cache::Filter;

/// client-go's reflector: watches last between this and twice this, milliseconds.
pub const MIN_WATCH_TIMEOUT_MS: u64 = 300_000;
/// The first backoff after a failed list or watch, milliseconds.
pub const BACKOFF_START_MS: u64 = 800;
/// The longest backoff, milliseconds.
pub const BACKOFF_MAX_MS: u64 = 30_000;

/// What one informer copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InformerSpec {
    /// API group (`""` for core).
    pub group: String,
    /// Resource, plural.
    pub resource: String,
    /// Only this namespace (none: all).
    pub namespace: Option<String>,
    /// Only the objects this passes (`spec.nodeName` for a kubelet's pods).
    pub filter: Filter,
    /// Where the first list reads from.
    pub first_list: FirstList,
    /// Deliver every object again this often, milliseconds (0: never).
    pub resync_ms: u64,
}

impl InformerSpec {
    /// Every object of `group`/`resource`, first listed from the cache, no resync (client-go's
    /// shared informer factory's defaults for most controllers).
    pub fn new(group: &str, resource: &str) -> Self {
        InformerSpec {
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: None,
            filter: Filter::default(),
            first_list: FirstList::FromCache,
            resync_ms: 0,
        }
    }

    /// Only objects on node `node` (`spec.nodeName`; `""`: not yet scheduled).
    pub fn on_node(mut self, node: &str) -> Self {
        self.filter.node_name = Some(node.to_string());
        self
    }

    fn request(&self, verb: Verb) -> Request {
        let mut r =
            Request::new(None, verb, &self.group, &self.resource).filtered(self.filter.clone());
        r.namespace.clone_from(&self.namespace);
        r
    }
}

/// Wakes one component loop when any of its informers has news.
#[derive(Clone, Debug, Default)]
pub struct Signal {
    inner: Rc<SignalState>,
}

#[derive(Debug, Default)]
struct SignalState {
    raised: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    /// A signal nobody has raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the waiter (or the next one to wait).
    pub fn raise(&self) {
        self.inner.raised.set(true);
        if let Some(w) = self.inner.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits until raised (then lowers it) or until `deadline`; whether it was raised.
    pub async fn wait_until(&self, deadline: SimTime) -> bool {
        let mut timer: DeadlineTimer = None;
        std::future::poll_fn(|cx| {
            if self.inner.raised.replace(false) {
                return Poll::Ready(true);
            }
            *self.inner.waker.borrow_mut() = Some(cx.waker().clone());
            poll_deadline::<()>(cx, &mut timer, deadline).map(|_| false)
        })
        .await
    }
}

struct Shared {
    informer: RefCell<Informer>,
    deltas: RefCell<VecDeque<Delta>>,
    signal: Signal,
    stopped: Cell<bool>,
    /// The reflector task, while it waits, so that a stop wakes it.
    waiting: RefCell<Option<Waker>>,
}

/// A component's view of one running informer.
#[derive(Clone)]
pub struct InformerHandle {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for InformerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let informer = self.shared.informer.borrow();
        f.debug_struct("InformerHandle")
            .field("synced", &informer.has_synced())
            .field("last_version", &informer.last_version())
            .finish()
    }
}

impl InformerHandle {
    /// Whether the copy has been filled by a list.
    pub fn has_synced(&self) -> bool {
        self.shared.informer.borrow().has_synced()
    }

    /// The object `namespace/name` (`""` namespace for cluster-scoped), if held.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Value> {
        self.shared.informer.borrow().get(namespace, name).cloned()
    }

    /// Every object held, by namespace and name (copies: prefer [`InformerHandle::visit`]
    /// or [`InformerHandle::select`] where only some are needed).
    pub fn objects(&self) -> Vec<Value> {
        self.shared.informer.borrow().objects().cloned().collect()
    }

    /// Copies of the objects `keep` selects, by namespace and name.
    pub fn select(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.shared
            .informer
            .borrow()
            .objects()
            .filter(|o| keep(o))
            .cloned()
            .collect()
    }

    /// Shows every object held to `f`, by namespace and name, without copying them.
    pub fn visit(&self, mut f: impl FnMut(&Value)) {
        for o in self.shared.informer.borrow().objects() {
            f(o);
        }
    }

    /// The last resourceVersion the copy has seen.
    pub fn last_version(&self) -> raft::etcd::Revision {
        self.shared.informer.borrow().last_version()
    }

    /// The version of `namespace/name` in the copy.
    pub fn version_of(&self, namespace: &str, name: &str) -> Option<raft::etcd::Revision> {
        self.shared.informer.borrow().version_of(namespace, name)
    }

    /// The deltas since the last call, in order.
    pub fn take_deltas(&self) -> Vec<Delta> {
        self.shared.deltas.borrow_mut().drain(..).collect()
    }

    /// Ends the reflector: its pending call or watch is dropped and nothing more arrives.
    pub fn stop(&self) {
        self.shared.stopped.set(true);
        self.shared.deltas.borrow_mut().clear();
        if let Some(w) = self.shared.waiting.borrow_mut().take() {
            w.wake();
        }
    }
}

/// Starts an informer of `spec` on `client`'s node, raising `signal` on every delta.
pub fn start(client: &ApiClient, spec: InformerSpec, signal: &Signal) -> InformerHandle {
    let shared = Rc::new(Shared {
        informer: RefCell::new(Informer::new(spec.first_list, spec.resync_ms)),
        deltas: RefCell::new(VecDeque::new()),
        signal: signal.clone(),
        stopped: Cell::new(false),
        waiting: RefCell::new(None),
    });
    client
        .ctx()
        .spawn(reflect(client.clone(), spec, shared.clone()));
    InformerHandle { shared }
}

impl Shared {
    fn deliver(&self, deltas: Vec<Delta>) {
        if deltas.is_empty() || self.stopped.get() {
            return;
        }
        self.deltas.borrow_mut().extend(deltas);
        self.signal.raise();
    }

    /// Runs `future` unless the informer is stopped first (then `None`: `future` is
    /// dropped unfinished).
    async fn unless_stopped<T>(&self, future: impl Future<Output = T>) -> Option<T> {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            if self.stopped.get() {
                return Poll::Ready(None);
            }
            *self.waiting.borrow_mut() = Some(cx.waker().clone());
            future.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

/// The reflector loop (see the module docs).
async fn reflect(client: ApiClient, spec: InformerSpec, shared: Rc<Shared>) {
    let mut backoff_ms = BACKOFF_START_MS;
    loop {
        let want = shared.informer.borrow().want();
        let ok = match want {
            Want::List { resource_version } => {
                let request = spec
                    .request(Verb::List)
                    .at_version(&resource_version, VersionMatch::NotOlderThan);
                let Some(answer) = shared.unless_stopped(client.call(request)).await else {
                    return;
                };
                match answer {
                    Ok(list) => {
                        let now_ms = client.ctx().now().as_ms();
                        let deltas = shared.informer.borrow_mut().on_list(&list, now_ms);
                        shared.deliver(deltas);
                        true
                    }
                    Err(_) => false,
                }
            }
            Want::Watch { from } => watch(&client, &spec, &shared, from).await,
        };
        if ok {
            backoff_ms = BACKOFF_START_MS;
        } else {
            let pause = client.ctx().sleep(Duration::from_millis(backoff_ms));
            if shared.unless_stopped(pause).await.is_none() {
                return;
            }
            backoff_ms = (backoff_ms * 2).min(BACKOFF_MAX_MS);
        }
        if shared.stopped.get() {
            return;
        }
    }
}

/// One watch from `from` until it ends; whether it opened.
async fn watch(
    client: &ApiClient,
    spec: &InformerSpec,
    shared: &Shared,
    from: raft::etcd::Revision,
) -> bool {
    let timeout_ms = {
        let jitter = client.rng_below(MIN_WATCH_TIMEOUT_MS);
        MIN_WATCH_TIMEOUT_MS + jitter
    };
    let mut request = spec
        .request(Verb::Watch)
        .at_version(&from.0.to_string(), VersionMatch::NotOlderThan);
    request.list.allow_bookmarks = true;
    request.list.timeout_seconds = Some(timeout_ms / 1_000);
    let Some(opened) = shared.unless_stopped(client.watch(request)).await else {
        return true;
    };
    let watch = match opened {
        Ok(watch) => watch,
        Err(CallError::Api(e)) => {
            shared.informer.borrow_mut().on_watch_error(&e);
            return matches!(e, ApiError::Gone { .. });
        }
        Err(CallError::NoAnswer) => return false,
    };
    loop {
        // Wake for the resync period too, when there is one.
        let now = client.ctx().now();
        let deadline = match spec.resync_ms {
            0 => now.after(Duration::from_millis(timeout_ms * 2)),
            r => now.after(Duration::from_millis(r)),
        };
        let Some(item) = shared.unless_stopped(watch.next(deadline)).await else {
            return true;
        };
        match item {
            Some(WatchItem::Event(event)) => {
                let deltas = shared.informer.borrow_mut().on_event(&event);
                shared.deliver(deltas);
            }
            Some(WatchItem::Ended(end)) => {
                if let WatchEnd::Error(e) = &end {
                    shared.informer.borrow_mut().on_watch_error(e);
                }
                return true;
            }
            None => {}
        }
        let now_ms = client.ctx().now().as_ms();
        let deltas = shared.informer.borrow_mut().resync(now_ms);
        shared.deliver(deltas);
    }
}
