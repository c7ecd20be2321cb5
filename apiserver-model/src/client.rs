//! An API client, as client-go's REST client talks to kube-apiserver: every task of a
//! component shares one connection (many requests in flight, each matched to its answer by
//! request id, as HTTP/2 streams are) and its watches arrive beside them, each an ordered
//! stream.
//!
//! Which server: one of the configured API servers, picked at random and kept until a
//! request gets no answer in time, then another (a client behind a load balancer, or
//! kubelets that fail over between servers). A request with no answer in time ends as
//! [`CallError::NoAnswer`]: it may or may not have been served, and the client never
//! resends it; the caller decides (a controller requeues, kubectl reports).
//!
//! Watches: events carry their stream position; the client hands them out in order and
//! ends the watch when one is lost (a gap that does not fill within the ping timeout), as
//! a broken TCP connection ends a real watch. A stream quiet for
//! [`ApiClientConfig::ping_after_ms`] is pinged; no answer within
//! [`ApiClientConfig::ping_timeout_ms`], or an answer that the server does not hold it (it
//! restarted), ends it too. Those are client-go's HTTP/2 health check (ReadIdleTimeout 30 s,
//! PingTimeout 15 s). The caller (an informer) resumes from the last version it saw.
//!
//! History: with recording on ([`ApiClient::set_recording`]; off by default, so the
//! components' own traffic stays out of the run's history) every request but a watch is
//! one history operation, invoked as it is sent and completed with its answer, as
//! [`crate::api_history`] says; a call dropped before its answer (its task ended) stays
//! open, as indeterminate as one that got no answer.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sim_core::time::{poll_deadline, DeadlineTimer};
use sim_core::{Address, NodeCtx, NodeId, SimTime};

use crate::api_history;
use crate::apiserver::{Reply, Request, API_PORT};
use crate::status::ApiError;
use crate::watch_cache::WatchEvent;
use crate::wire::{ApiMsg, ControlPlaneMsg};

/// How a client talks to the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiClientConfig {
    /// The API servers' nodes.
    pub servers: Vec<NodeId>,
    /// The bearer token every request carries (none: anonymous).
    pub token: Option<String>,
    /// Give up on an answer after this long, milliseconds (kube-apiserver's own
    /// `--request-timeout` is 60 s; client-go sets none by default).
    pub timeout_ms: u64,
    /// Ping a watch stream quiet for this long, milliseconds (client-go's ReadIdleTimeout).
    pub ping_after_ms: u64,
    /// End a watch whose ping or missing event has not come for this long, milliseconds
    /// (client-go's PingTimeout).
    pub ping_timeout_ms: u64,
}

impl ApiClientConfig {
    /// A client of `servers` presenting `token`, with Kubernetes' timeouts.
    pub fn new(servers: Vec<NodeId>, token: Option<&str>) -> Self {
        ApiClientConfig {
            servers,
            token: token.map(str::to_string),
            timeout_ms: 60_000,
            ping_after_ms: 30_000,
            ping_timeout_ms: 15_000,
        }
    }
}

/// Why a call has no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The server refused it (its status).
    #[error("{0}")]
    Api(ApiError),
    /// No answer in time: it may or may not have been served.
    #[error("no answer from the API server in time")]
    NoAnswer,
}

/// What a watch delivers.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchItem {
    /// The next event, in order.
    Event(WatchEvent),
    /// The stream is over; nothing follows.
    Ended(WatchEnd),
}

/// Why a watch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// The server closed it (its timeout passed): watch again from the last version.
    Closed,
    /// The server ended it with an error (410 Gone: relist).
    Error(ApiError),
    /// The connection broke: an event was lost, or the server stopped answering or no
    /// longer holds it.
    Broken,
}

#[derive(Debug)]
enum CallSlot {
    Waiting(Option<Waker>),
    Answered(Reply),
}

/// One watch's stream as the client reassembles it.
#[derive(Debug)]
struct Stream {
    server: Address,
    next_seq: u64,
    /// Arrived ahead of their turn (an end sits at its position after the last event).
    early: BTreeMap<u64, WatchItem>,
    ready: VecDeque<WatchItem>,
    waker: Option<Waker>,
    last_heard: SimTime,
    ping_sent: Option<SimTime>,
    /// Since when an event is missing (something later has arrived).
    gap_since: Option<SimTime>,
    ended: bool,
}

impl Stream {
    fn heard(&mut self, now: SimTime) {
        self.last_heard = now;
        self.ping_sent = None;
    }

    /// Moves what is now in order to `ready`.
    fn settle(&mut self, now: SimTime) {
        while let Some(item) = self.early.remove(&self.next_seq) {
            self.next_seq += 1;
            self.push(item);
        }
        self.gap_since = if self.early.is_empty() || self.ended {
            None
        } else {
            self.gap_since.or(Some(now))
        };
        if !self.ready.is_empty() {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }

    fn push(&mut self, item: WatchItem) {
        if self.ended {
            return;
        }
        self.ended = matches!(item, WatchItem::Ended(_));
        self.ready.push_back(item);
    }

    fn end(&mut self, why: WatchEnd) {
        self.early.clear();
        self.push(WatchItem::Ended(why));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

struct State {
    /// Index into the configured servers of the one requests go to.
    target: usize,
    rng: ChaCha8Rng,
    next_id: u64,
    calls: BTreeMap<u64, CallSlot>,
    watches: BTreeMap<u64, Stream>,
    /// Answers that came after their call had given up.
    late_replies: u64,
}

struct Shared {
    ctx: NodeCtx<ControlPlaneMsg>,
    config: ApiClientConfig,
    state: RefCell<State>,
    /// Record requests in the history (see the module docs).
    recording: Cell<bool>,
}

/// See the module docs. Cloning gives another handle to the same connection.
#[derive(Clone)]
pub struct ApiClient {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.state.borrow();
        f.debug_struct("ApiClient")
            .field("ctx", &self.shared.ctx)
            .field("server", &self.shared.config.servers[st.target])
            .field("in_flight", &st.calls.len())
            .field("watches", &st.watches.len())
            .finish()
    }
}

impl ApiClient {
    /// A client on `ctx`'s port; from now on only the client reads that port.
    ///
    /// # Panics
    ///
    /// If `config.servers` is empty.
    pub fn new(mut ctx: NodeCtx<ControlPlaneMsg>, config: ApiClientConfig) -> Self {
        assert!(!config.servers.is_empty(), "an API client needs servers");
        let mut rng = ctx.rng().clone();
        let target = rng.gen_range(0..config.servers.len());
        let shared = Rc::new(Shared {
            ctx,
            config,
            state: RefCell::new(State {
                target,
                rng,
                next_id: 0,
                calls: BTreeMap::new(),
                watches: BTreeMap::new(),
                late_replies: 0,
            }),
            recording: Cell::new(false),
        });
        shared.ctx.spawn(receive(Rc::downgrade(&shared)));
        ApiClient { shared }
    }

    /// The component's context (clock, trace, history).
    pub fn ctx(&self) -> &NodeCtx<ControlPlaneMsg> {
        &self.shared.ctx
    }

    /// Record every request but a watch in the history, from now on (off by default; every
    /// handle of the connection shares the switch).
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.set(on);
    }

    /// Whether requests are recorded in the history.
    pub fn recording(&self) -> bool {
        self.shared.recording.get()
    }

    /// The API server requests go to now.
    pub fn server(&self) -> NodeId {
        let st = self.shared.state.borrow();
        self.shared.config.servers[st.target]
    }

    /// Answers that arrived after their call had given up.
    pub fn late_replies(&self) -> u64 {
        self.shared.state.borrow().late_replies
    }

    /// A draw below `bound` from the client's rng (seeded; for jittered timeouts).
    pub fn rng_below(&self, bound: u64) -> u64 {
        self.shared
            .state
            .borrow_mut()
            .rng
            .gen_range(0..bound.max(1))
    }

    /// Sends the next requests to another server, picked at random.
    fn fail_over(&self) {
        let st = &mut *self.shared.state.borrow_mut();
        st.target = st.rng.gen_range(0..self.shared.config.servers.len());
    }

    /// Sends `request` (with this client's token) and waits for its answer.
    ///
    /// # Errors
    ///
    /// The server's refusal, or [`CallError::NoAnswer`] after the timeout.
    pub async fn call(&self, request: Request) -> Result<Value, CallError> {
        let deadline = self
            .shared
            .ctx
            .now()
            .after(Duration::from_millis(self.shared.config.timeout_ms));
        self.call_until(request, deadline).await
    }

    /// [`ApiClient::call`] giving up at `deadline` if that comes before the client's timeout
    /// (a Go caller's context deadline: the leader elector's renew deadline).
    ///
    /// # Errors
    ///
    /// As [`ApiClient::call`].
    pub async fn call_until(
        &self,
        request: Request,
        deadline: SimTime,
    ) -> Result<Value, CallError> {
        let timeout = self
            .shared
            .ctx
            .now()
            .after(Duration::from_millis(self.shared.config.timeout_ms));
        let ctx = &self.shared.ctx;
        let recorded = self
            .shared
            .recording
            .get()
            .then(|| api_history::invocation(&request))
            .flatten()
            .map(|inv| {
                let detail = format!("{} {}", inv.f, inv.key);
                (
                    ctx.invoke(inv.f, Some(inv.key), inv.value, detail),
                    request.verb,
                )
            });
        let (id, _) = self.send(request);
        let result = self.answer(id, deadline.min(timeout)).await;
        if let Some((op, verb)) = recorded {
            let (outcome, value) = api_history::completion(verb, &result);
            let detail = match &result {
                Ok(_) => "answered".to_string(),
                Err(e) => e.to_string(),
            };
            ctx.complete(op, outcome, value, detail);
        }
        result
    }

    /// Sends `request` under a fresh id; the id and the server it went to.
    fn send(&self, mut request: Request) -> (u64, Address) {
        request.token.clone_from(&self.shared.config.token);
        let (id, server) = {
            let st = &mut *self.shared.state.borrow_mut();
            st.next_id += 1;
            st.calls.insert(st.next_id, CallSlot::Waiting(None));
            let server = Address::new(self.shared.config.servers[st.target], API_PORT);
            (st.next_id, server)
        };
        let msg = ApiMsg::Request {
            id,
            request: Box::new(request),
        };
        self.shared.ctx.send(server, ControlPlaneMsg::Api(msg));
        (id, server)
    }

    /// Waits for the answer to `id` until `deadline`.
    async fn answer(&self, id: u64, deadline: SimTime) -> Result<Value, CallError> {
        let shared = &self.shared;
        let mut timer: DeadlineTimer = None;
        let answer = std::future::poll_fn(|cx| {
            {
                let mut st = shared.state.borrow_mut();
                match st.calls.get_mut(&id) {
                    Some(CallSlot::Waiting(w)) => *w = Some(cx.waker().clone()),
                    Some(CallSlot::Answered(_)) => {
                        if let Some(CallSlot::Answered(reply)) = st.calls.remove(&id) {
                            return Poll::Ready(Some(reply));
                        }
                    }
                    None => return Poll::Ready(None),
                }
            }
            poll_deadline(cx, &mut timer, deadline)
        })
        .await;
        match answer {
            Some(reply) => reply.map_err(CallError::Api),
            None => {
                shared.state.borrow_mut().calls.remove(&id);
                self.fail_over();
                Err(CallError::NoAnswer)
            }
        }
    }

    /// Opens a watch (`request`'s verb is `watch`): once the server accepts it, its events
    /// come from [`ApiWatch::next`].
    ///
    /// # Errors
    ///
    /// The server's refusal (410 Gone for a version older than its window), or no answer.
    pub async fn watch(&self, request: Request) -> Result<ApiWatch, CallError> {
        let (id, server) = self.send(request);
        // The stream exists before the answer: events may overtake it.
        let now = self.shared.ctx.now();
        self.shared.state.borrow_mut().watches.insert(
            id,
            Stream {
                server,
                next_seq: 1,
                early: BTreeMap::new(),
                ready: VecDeque::new(),
                waker: None,
                last_heard: now,
                ping_sent: None,
                gap_since: None,
                ended: false,
            },
        );
        let watch = ApiWatch {
            client: self.clone(),
            id,
        };
        let deadline = now.after(Duration::from_millis(self.shared.config.timeout_ms));
        self.answer(id, deadline).await?;
        watch.stream(|s| s.heard(self.shared.ctx.now()));
        Ok(watch)
    }
}

/// One open watch (see [`ApiClient::watch`]). Dropping it tells the server to stop.
#[must_use = "dropping an ApiWatch stops it"]
pub struct ApiWatch {
    client: ApiClient,
    id: u64,
}

impl std::fmt::Debug for ApiWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiWatch").field("id", &self.id).finish()
    }
}

impl ApiWatch {
    /// The watch's id (its request's).
    pub fn id(&self) -> u64 {
        self.id
    }

    fn stream<T>(&self, f: impl FnOnce(&mut Stream) -> T) -> Option<T> {
        self.client
            .shared
            .state
            .borrow_mut()
            .watches
            .get_mut(&self.id)
            .map(f)
    }

    /// The next event or the end, waiting until `deadline` at most (`None` then). Pings a
    /// quiet stream and ends one that does not answer (see the module docs).
    pub async fn next(&self, deadline: SimTime) -> Option<WatchItem> {
        let ctx = &self.client.shared.ctx;
        let config = &self.client.shared.config;
        let ping_after = Duration::from_millis(config.ping_after_ms);
        let ping_timeout = Duration::from_millis(config.ping_timeout_ms);
        loop {
            let now = ctx.now();
            // What is due now: an item, a ping, or the end of a stream that went silent.
            let (item, ping, check_at) = self.stream(|s| {
                if let Some(item) = s.ready.pop_front() {
                    return (Some(item), None, now);
                }
                if s.ended {
                    return (Some(WatchItem::Ended(WatchEnd::Broken)), None, now);
                }
                if s.gap_since.is_some_and(|t| now >= t.after(ping_timeout))
                    || s.ping_sent.is_some_and(|t| now >= t.after(ping_timeout))
                {
                    s.end(WatchEnd::Broken);
                    return (s.ready.pop_front(), None, now);
                }
                let mut ping = None;
                if s.ping_sent.is_none() && now >= s.last_heard.after(ping_after) {
                    s.ping_sent = Some(now);
                    ping = Some(s.server);
                }
                let mut check_at = match s.ping_sent {
                    Some(t) => t.after(ping_timeout),
                    None => s.last_heard.after(ping_after),
                };
                if let Some(t) = s.gap_since {
                    check_at = check_at.min(t.after(ping_timeout));
                }
                (None, ping, check_at)
            })?;
            if let Some(item) = item {
                return Some(item);
            }
            if let Some(server) = ping {
                let msg = ApiMsg::Ping { watch: self.id };
                ctx.send(server, ControlPlaneMsg::Api(msg));
            }
            if now >= deadline {
                return None;
            }
            let wake_at = check_at.min(deadline);
            let mut timer: DeadlineTimer = None;
            let shared = &self.client.shared;
            let id = self.id;
            std::future::poll_fn(|cx| {
                {
                    let mut st = shared.state.borrow_mut();
                    match st.watches.get_mut(&id) {
                        Some(s) if s.ready.is_empty() => s.waker = Some(cx.waker().clone()),
                        _ => return Poll::Ready(None::<()>),
                    }
                }
                poll_deadline(cx, &mut timer, wake_at)
            })
            .await;
        }
    }
}

impl Drop for ApiWatch {
    fn drop(&mut self) {
        let removed = self
            .client
            .shared
            .state
            .borrow_mut()
            .watches
            .remove(&self.id);
        if let Some(s) = removed.filter(|s| !s.ended) {
            let msg = ApiMsg::StopWatch { watch: self.id };
            self.client
                .shared
                .ctx
                .send(s.server, ControlPlaneMsg::Api(msg));
        }
    }
}

/// The receive loop: routes every answer to its call and every watch message to its
/// stream, until the last handle is gone or the node dies.
async fn receive(shared: Weak<Shared>) {
    while let Some(s) = shared.upgrade() {
        let env = s.ctx.recv().await;
        let now = s.ctx.now();
        let ControlPlaneMsg::Api(msg) = env.msg else {
            s.ctx
                .note("foreign-message", "etcd traffic at an API client");
            continue;
        };
        let st = &mut *s.state.borrow_mut();
        match msg {
            ApiMsg::Reply { id, reply, .. } => match st.calls.get_mut(&id) {
                Some(slot @ CallSlot::Waiting(_)) => {
                    if let CallSlot::Waiting(Some(w)) =
                        std::mem::replace(slot, CallSlot::Answered(*reply))
                    {
                        w.wake();
                    }
                }
                Some(CallSlot::Answered(_)) | None => st.late_replies += 1,
            },
            ApiMsg::WatchEvent { watch, seq, event } => {
                if let Some(stream) = st.watches.get_mut(&watch) {
                    stream.heard(now);
                    if seq >= stream.next_seq {
                        stream.early.insert(seq, WatchItem::Event(*event));
                    }
                    stream.settle(now);
                }
            }
            ApiMsg::WatchEnd { watch, seq, error } => {
                if let Some(stream) = st.watches.get_mut(&watch) {
                    stream.heard(now);
                    let why = error.map_or(WatchEnd::Closed, WatchEnd::Error);
                    stream.early.insert(seq + 1, WatchItem::Ended(why));
                    stream.settle(now);
                }
            }
            ApiMsg::Pong { watch, held } => {
                if let Some(stream) = st.watches.get_mut(&watch) {
                    if held {
                        stream.heard(now);
                    } else {
                        stream.end(WatchEnd::Broken);
                    }
                }
            }
            // Nothing else is for a client.
            ApiMsg::Request { .. } | ApiMsg::StopWatch { .. } | ApiMsg::Ping { .. } => {}
        }
    }
}
