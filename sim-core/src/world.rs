//! The shared state of a running simulation and the supervisor's handle to it.
//!
//! All state lives behind one mutex in a [`World`]. madsim runs every task on one thread,
//! so the lock is never contended; it exists because madsim's node init closures must be
//! `Send + Sync`. Two rules keep it safe: the lock is never held across an `.await`, and
//! it is released before calling into madsim's node control (`kill`, `restart`, `pause`),
//! which may run a node's init or drop its tasks synchronously.
//!
//! Messages travel through a single delivery task (the pump) on madsim's supervisor node:
//! `send` files each message under its arrival time, and the pump hands it to the
//! receiver's mailbox at that time, or drops it if the link was cut in flight or the
//! receiver is down. One task and an ordered map cost less than a timer task per message.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::address::{Address, Port};
use crate::directory::Directory;
use crate::disk::{CrashLoss, Disk, DiskConfig};
use crate::history::{EntryType, History, HistoryEntry, OpOutcome};
use crate::ids::{EventId, MessageId, NodeId, OpId};
use crate::layer::LayerRecord;
use crate::mailbox::Inboxes;
use crate::network::{NetConfig, Network};
use crate::observe::{Monitor, Monitors, Observer, Stop, TraceCursor};
use crate::rng::derive_rng;
use crate::time::{self, SimTime};
use crate::trace::{CrashCause, DropReason, EventKind, TraceEvent};

/// A message that actors exchange. One enum per simulation usually implements it.
pub trait Message: Send + 'static {
    /// A short, stable name of the message's kind for traces and diagrams (`ping`,
    /// `append-entries`).
    fn kind(&self) -> &'static str;

    /// The message's key fields in its layer's own type, for checkers and diagrams to
    /// read as types (see [`crate::layer`]); none by default.
    fn fields(&self) -> Option<LayerRecord> {
        None
    }
}

/// A message with its routing facts, as the receiver gets it.
///
/// `from` and `to` are nodes, as most actors want them (a Raft peer is a node); the ports
/// ride beside them (see [`Envelope::reply_to`] to answer the sending component).
#[derive(Debug)]
pub struct Envelope<M> {
    /// The message's id (matches its send, deliver and drop events).
    pub id: MessageId,
    /// Its sender's node.
    pub from: NodeId,
    /// Its receiver's node.
    pub to: NodeId,
    /// The sending component's port.
    pub from_port: Port,
    /// The receiving component's port.
    pub to_port: Port,
    /// When it was sent.
    pub sent_at: SimTime,
    /// The message.
    pub msg: M,
}

impl<M> Envelope<M> {
    /// Where it came from: the sending component, so a reply reaches it and not its node's
    /// main actor.
    pub fn reply_to(&self) -> Address {
        Address::new(self.from, self.from_port)
    }

    /// Where it was sent.
    pub fn to_address(&self) -> Address {
        Address::new(self.to, self.to_port)
    }
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running.
    Up,
    /// Alive but not making progress.
    Paused,
    /// Killed, powered off, or its actor returned; restart brings it back.
    Down,
}

pub(crate) struct Slot<M> {
    pub(crate) madsim_id: Option<madsim::task::NodeId>,
    pub(crate) status: NodeStatus,
    pub(crate) incarnation: u32,
    /// One inbox per open port (see [`Inboxes`]).
    inboxes: Inboxes<M>,
    /// The ports the node's components listen on, opened at every start.
    ports: Vec<Port>,
    /// The role a component of the node declared last in this incarnation
    /// ([`crate::NodeCtx::set_role`]), for fault targets like `role:leader`.
    pub(crate) role: Option<String>,
    pub(crate) disk: Disk,
    pub(crate) skew_us: i64,
    pub(crate) stall_until: SimTime,
    /// Bumped whenever `stall_until` changes, so waiting fsyncs look again.
    pub(crate) stall_epoch: u64,
    pub(crate) stall_waiters: Vec<Waker>,
}

impl<M> Slot<M> {
    /// Sets the stall end and wakes every fsync waiting on the old one.
    pub(crate) fn set_stall(&mut self, until: SimTime) {
        self.stall_until = until;
        self.stall_epoch += 1;
        for waker in self.stall_waiters.drain(..) {
            waker.wake();
        }
    }
}

pub(crate) struct State<M> {
    seed: u64,
    /// The nodes' names, for log lines.
    pub(crate) directory: Directory,
    trace: Vec<TraceEvent>,
    history: History,
    /// Position of each operation's invocation in the history.
    invocations: BTreeMap<OpId, usize>,
    pub(crate) slots: Vec<Slot<M>>,
    pub(crate) net: Network,
    in_flight: BTreeMap<(SimTime, MessageId), Envelope<M>>,
    pump_waker: Option<Waker>,
    pump_kicked: bool,
    next_msg: u64,
    next_op: u64,
    pub(crate) next_fsync: u64,
    pub(crate) disk_config: DiskConfig,
    pub(crate) disk_rng: ChaCha8Rng,
    messages_delivered: u64,
    /// Set when the run ends: madsim may still poll ready tasks in that instant, and
    /// nothing they do may reach the record after `run-end`.
    finished: bool,
    /// Online checks fed as events are recorded ([`crate::Sim::stop_at_first_violation`]).
    monitors: Monitors,
    /// madsim's clock, taken from the runtime at the first reading: every event reads the
    /// time, and looking the handle up each time (a thread-local and two reference counts)
    /// costs more than reading it.
    clock: Option<madsim::time::TimeHandle>,
}

impl<M> State<M> {
    /// Current virtual time (as [`time::now`]).
    ///
    /// # Panics
    ///
    /// Outside the world's madsim runtime.
    pub(crate) fn now(&mut self) -> SimTime {
        let clock = self
            .clock
            .get_or_insert_with(madsim::time::TimeHandle::current);
        SimTime(time::duration_us(clock.elapsed()))
    }

    /// Records an event, unless the run has ended (then returns the id it would have had).
    pub(crate) fn record(&mut self, node: Option<NodeId>, kind: EventKind) -> EventId {
        let id = EventId(self.trace.len() as u64);
        if self.finished {
            return id;
        }
        let event = TraceEvent {
            id,
            t_us: self.now(),
            node,
            kind,
        };
        if tracing::enabled!(target: crate::logging::TRACE_TARGET, tracing::Level::DEBUG) {
            let node = event
                .node
                .map_or_else(|| "-".to_string(), |n| self.directory.name(n).to_string());
            let kind = serde_json::to_string(&event.kind).unwrap_or_default();
            tracing::debug!(target: crate::logging::TRACE_TARGET, node = %node, "{id} {kind}");
        }
        self.trace.push(event);
        if self.monitors.active() {
            let event = self.trace.last().expect("just pushed");
            if self.monitors.feed(event) {
                self.halt();
            }
        }
        id
    }

    /// Ends the run at once because an online check fired: the record closes as at a
    /// normal end, and every node is paused, so nothing more is simulated; the supervisor
    /// runs out on a frozen world. Done right here, inside the recording, rather than by
    /// a task woken for it: one more task would change madsim's scheduling, and a watched
    /// run must be the same run as an unwatched one up to its violation.
    fn halt(&mut self) {
        self.close();
        let handle = madsim::runtime::Handle::current();
        for id in self.slots.iter().filter_map(|s| s.madsim_id) {
            handle.pause(id);
        }
    }

    /// Closes the record: messages still in flight are recorded as dropped, then
    /// `run-end`; nothing is recorded after it.
    fn close(&mut self) {
        if self.finished {
            return;
        }
        let in_flight = std::mem::take(&mut self.in_flight);
        for (_, env) in in_flight {
            self.record(
                Some(env.to),
                EventKind::Drop {
                    msg: env.id,
                    from: env.from,
                    to: env.to,
                    reason: DropReason::RunEnded,
                    from_port: env.from_port,
                    to_port: env.to_port,
                },
            );
        }
        self.record(None, EventKind::RunEnd);
        self.finished = true;
    }

    pub(crate) fn slot(&mut self, node: NodeId) -> &mut Slot<M> {
        &mut self.slots[node.index()]
    }

    /// Moves every message due by `now` out of flight: into a mailbox, or dropped.
    fn deliver_due(&mut self, now: SimTime) {
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let env = entry.remove();
            let (from, to, msg) = (env.from, env.to, env.id);
            let (from_port, to_port) = (env.from_port, env.to_port);
            let reason = if self.slot(to).status == NodeStatus::Down {
                Some(DropReason::ReceiverDown)
            } else if !self.net.is_up(from, to) {
                Some(DropReason::PartitionedInFlight)
            } else if !self.slot(to).inboxes.is_open(to_port) {
                Some(DropReason::NoSuchPort)
            } else {
                None
            };
            match reason {
                Some(reason) => {
                    self.record(
                        Some(to),
                        EventKind::Drop {
                            msg,
                            from,
                            to,
                            reason,
                            from_port,
                            to_port,
                        },
                    );
                }
                None => {
                    self.record(
                        Some(to),
                        EventKind::Deliver {
                            msg,
                            from,
                            from_port,
                            to_port,
                        },
                    );
                    self.messages_delivered += 1;
                    self.slot(to).inboxes.push(env);
                }
            }
        }
    }

    /// Stops a node's bookkeeping; returns its madsim id if it was not already down.
    pub(crate) fn stop(
        &mut self,
        node: NodeId,
        cause: CrashCause,
        torn: bool,
    ) -> Option<madsim::task::NodeId> {
        let State {
            slots, disk_rng, ..
        } = self;
        let slot = &mut slots[node.index()];
        if slot.status == NodeStatus::Down {
            return None;
        }
        slot.status = NodeStatus::Down;
        slot.inboxes.close_all();
        slot.role = None;
        let loss: CrashLoss = if torn {
            slot.disk.power_fail_torn(disk_rng)
        } else {
            slot.disk.crash()
        };
        let madsim_id = slot.madsim_id;
        self.record(
            Some(node),
            EventKind::NodeCrash {
                cause,
                lost_bytes: loss.lost_bytes,
                torn_bytes_kept: loss.torn_bytes_kept,
            },
        );
        madsim_id
    }
}

/// The supervisor's handle to a running simulation: faults, node control, inspection.
///
/// Cloning is cheap; every clone refers to the same world.
pub struct World<M> {
    state: Arc<Mutex<State<M>>>,
    pub(crate) nodes: Arc<[NodeId]>,
}

impl<M> Clone for World<M> {
    fn clone(&self) -> Self {
        World {
            state: self.state.clone(),
            nodes: self.nodes.clone(),
        }
    }
}

impl<M> std::fmt::Debug for World<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World").field("nodes", &self.nodes).finish()
    }
}

impl<M: Message> World<M> {
    pub(crate) fn new(seed: u64, directory: Directory, net: NetConfig, disk: DiskConfig) -> Self {
        let nodes = directory.ids();
        let slots = nodes
            .iter()
            .map(|_| Slot {
                madsim_id: None,
                status: NodeStatus::Down,
                incarnation: 0,
                inboxes: Inboxes::default(),
                ports: vec![Port::MAIN],
                role: None,
                disk: Disk::default(),
                skew_us: 0,
                stall_until: SimTime::ZERO,
                stall_epoch: 0,
                stall_waiters: Vec::new(),
            })
            .collect();
        let state = State {
            seed,
            directory,
            trace: Vec::new(),
            history: History::default(),
            invocations: BTreeMap::new(),
            slots,
            net: Network::new(net, nodes.clone(), derive_rng(seed, "network")),
            in_flight: BTreeMap::new(),
            pump_waker: None,
            pump_kicked: false,
            next_msg: 0,
            next_op: 0,
            next_fsync: 0,
            disk_config: disk,
            disk_rng: derive_rng(seed, "disk"),
            messages_delivered: 0,
            finished: false,
            monitors: Monitors::default(),
            clock: None,
        };
        World {
            state: Arc::new(Mutex::new(state)),
            nodes: nodes.into(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<M>> {
        self.state
            .lock()
            .expect("the world lock is never held across a panic")
    }

    pub(crate) fn set_madsim_id(&self, node: NodeId, id: madsim::task::NodeId) {
        self.lock().slot(node).madsim_id = Some(id);
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.lock().seed
    }

    /// Every node, in order.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.lock().now()
    }

    /// Waits for `d` of virtual time.
    pub async fn sleep(&self, d: std::time::Duration) {
        time::sleep(d).await
    }

    /// Waits until virtual time `t`.
    pub async fn sleep_until(&self, t: SimTime) {
        time::sleep_until(t).await
    }

    /// A node's status.
    pub fn status(&self, node: NodeId) -> NodeStatus {
        self.lock().slot(node).status
    }

    /// A node's incarnation: 1 after its first start, one more per restart.
    pub fn incarnation(&self, node: NodeId) -> u32 {
        self.lock().slot(node).incarnation
    }

    /// A copy of a node's disk, for inspection.
    pub fn disk(&self, node: NodeId) -> Disk {
        self.lock().slot(node).disk.clone()
    }

    /// A node's local clock reading: virtual time plus its skew, microseconds (may be
    /// negative early in a run with a negative skew).
    pub fn local_now_us(&self, node: NodeId) -> i64 {
        let (skew, now) = {
            let mut st = self.lock();
            (st.slot(node).skew_us, st.now())
        };
        i64::try_from(now.as_us())
            .unwrap_or(i64::MAX)
            .saturating_add(skew)
    }

    /// Reads the trace so far: for drivers that react to what happened ("kill the leader").
    /// `f` must not call back into the world.
    pub fn with_trace<R>(&self, f: impl FnOnce(&[TraceEvent]) -> R) -> R {
        f(&self.lock().trace)
    }

    /// Folds the events recorded since `cursor` into `view` and moves the cursor past
    /// them: a supervisor's view of the run kept up to date without reading the trace again
    /// (see [`crate::observe`]).
    pub fn observe(&self, cursor: &mut TraceCursor, view: &mut impl Observer) {
        let st = self.lock();
        for event in cursor.advance(&st.trace) {
            view.observe(event);
        }
    }

    /// The first violation an online check found, if the run was stopped by one.
    pub fn stopped(&self) -> Option<Stop> {
        self.lock().monitors.stop.clone()
    }

    /// Whether the run has ended (its supervisor returned, or an online check stopped it):
    /// nothing reaches the record any more, and faults no longer apply.
    pub fn has_ended(&self) -> bool {
        self.lock().finished
    }

    /// Messages delivered so far.
    pub fn messages_delivered(&self) -> u64 {
        self.lock().messages_delivered
    }

    /// Records an event (for scenario drivers; actors use their context).
    pub fn record(&self, node: Option<NodeId>, kind: EventKind) -> EventId {
        self.lock().record(node, kind)
    }

    /// Records a labelled note.
    pub fn note(&self, node: Option<NodeId>, label: &str, detail: impl Into<String>) -> EventId {
        self.record(
            node,
            EventKind::Note {
                label: label.to_string(),
                detail: detail.into(),
            },
        )
    }

    /// Begins a node's next incarnation; called from its madsim init.
    pub(crate) fn start_incarnation(&self, node: NodeId) -> (u32, ChaCha8Rng) {
        let mut st = self.lock();
        let seed = st.seed;
        let slot = st.slot(node);
        slot.incarnation += 1;
        slot.status = NodeStatus::Up;
        slot.role = None;
        slot.inboxes.close_all();
        for port in slot.ports.clone() {
            slot.inboxes.open(port);
        }
        let incarnation = slot.incarnation;
        st.record(Some(node), EventKind::NodeStart { incarnation });
        (
            incarnation,
            derive_rng(seed, &format!("node/{node}/{incarnation}")),
        )
    }

    /// Marks a node down because its actor returned: the process is gone, as after a kill.
    pub(crate) fn actor_exited(&self, node: NodeId, incarnation: u32) {
        let mut st = self.lock();
        if st.slot(node).incarnation == incarnation {
            // madsim has already ended the node's tasks; only the bookkeeping remains.
            st.stop(node, CrashCause::Exited, false);
        }
    }

    /// Sends `msg` from `from` to `to`; the network decides its fate (per node: a fault
    /// cuts every port of a node alike).
    pub(crate) fn send(&self, from: Address, to: Address, msg: M) -> MessageId {
        let (from_port, to_port) = (from.port, to.port);
        let (from, to) = (from.node, to.node);
        let mut st = self.lock();
        let id = MessageId(st.next_msg);
        if st.finished {
            return id;
        }
        st.next_msg += 1;
        let now = st.now();
        st.record(
            Some(from),
            EventKind::Send {
                msg: id,
                to,
                from_port,
                to_port,
                kind: msg.kind().into(),
                fields: msg.fields(),
            },
        );
        match st.net.route(from, to) {
            Err(reason) => {
                st.record(
                    Some(from),
                    EventKind::Drop {
                        msg: id,
                        from,
                        to,
                        reason,
                        from_port,
                        to_port,
                    },
                );
            }
            Ok(latency) => {
                let key = (now.after(latency), id);
                let earliest = st.in_flight.first_key_value().is_none_or(|(k, _)| key < *k);
                st.in_flight.insert(
                    key,
                    Envelope {
                        id,
                        from,
                        to,
                        from_port,
                        to_port,
                        sent_at: now,
                        msg,
                    },
                );
                if earliest {
                    st.pump_kicked = true;
                    if let Some(waker) = st.pump_waker.take() {
                        waker.wake();
                    }
                }
            }
        }
        id
    }

    /// Takes the next message from one port's inbox (opening it on first use), or
    /// registers to be woken.
    pub(crate) fn poll_recv(
        &self,
        at: Address,
        incarnation: u32,
        cx: &mut Context<'_>,
    ) -> Poll<Envelope<M>> {
        let mut st = self.lock();
        let slot = st.slot(at.node);
        if slot.incarnation != incarnation || slot.status == NodeStatus::Down {
            // A task of an earlier incarnation; madsim ends it at its next poll.
            return Poll::Pending;
        }
        slot.inboxes.poll(at.port, cx)
    }

    /// Opens `at`'s port for the incarnation `incarnation` of its node (ignored from a task
    /// of an earlier one): mail sent there is queued from now on.
    pub(crate) fn open_port(&self, at: Address, incarnation: u32) {
        let mut st = self.lock();
        let slot = st.slot(at.node);
        if slot.incarnation == incarnation && slot.status != NodeStatus::Down {
            slot.inboxes.open(at.port);
        }
    }

    /// Sets the ports a node's components listen on (from the builder, before the run).
    pub(crate) fn set_ports(&self, node: NodeId, ports: Vec<Port>) {
        self.lock().slot(node).ports = ports;
    }

    /// Records the role a component of `node` declares (see [`crate::NodeCtx::set_role`]);
    /// ignored from a task of an earlier incarnation.
    pub(crate) fn set_role(&self, node: NodeId, incarnation: u32, role: &str) {
        let mut st = self.lock();
        let slot = st.slot(node);
        if slot.incarnation == incarnation && slot.status != NodeStatus::Down {
            slot.role = Some(role.to_string());
        }
    }

    /// The role `node` declared in its current incarnation, if any (none once it crashed).
    pub fn role(&self, node: NodeId) -> Option<String> {
        self.lock().slot(node).role.clone()
    }

    /// The nodes whose declared role is `role` now, in id order.
    pub fn nodes_with_role(&self, role: &str) -> Vec<NodeId> {
        let st = self.lock();
        st.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.role.as_deref() == Some(role))
            .map(|(i, _)| NodeId::from_index(i))
            .collect()
    }

    /// Records a client invocation in the history and the trace.
    pub fn invoke(
        &self,
        client: NodeId,
        f: &str,
        key: Option<String>,
        value: serde_json::Value,
        detail: String,
    ) -> OpId {
        let mut st = self.lock();
        let op = OpId(st.next_op);
        st.next_op += 1;
        let position = st.history.entries.len();
        st.invocations.insert(op, position);
        let now = st.now();
        st.history.entries.push(HistoryEntry {
            op,
            client,
            entry_type: EntryType::Invoke,
            t_us: now,
            f: f.to_string(),
            key,
            value,
        });
        st.record(
            Some(client),
            EventKind::ClientInvoke {
                op,
                f: f.to_string(),
                detail,
            },
        );
        op
    }

    /// Records the completion of a client operation.
    ///
    /// # Panics
    ///
    /// If `op` was never invoked.
    pub fn complete(&self, op: OpId, outcome: OpOutcome, value: serde_json::Value, detail: String) {
        let mut st = self.lock();
        let position = *st
            .invocations
            .get(&op)
            .expect("completing an operation that was never invoked");
        let invoke = st.history.entries[position].clone();
        let now = st.now();
        st.history.entries.push(HistoryEntry {
            entry_type: outcome.into(),
            t_us: now,
            value,
            ..invoke
        });
        st.record(
            Some(invoke.client),
            EventKind::ClientComplete {
                op,
                outcome,
                detail,
            },
        );
    }

    /// Ends the run: messages still in flight are recorded as dropped, then `run-end`.
    pub(crate) fn finish(&self) {
        self.lock().close();
    }

    /// Installs the online checks fed by every recorded event (before the run starts).
    pub(crate) fn set_monitors(&self, checks: Vec<Box<dyn Monitor>>) {
        self.lock().monitors = Monitors::new(checks);
    }

    /// Takes the trace and history out at the end of the run.
    pub(crate) fn take_records(&self) -> (Vec<TraceEvent>, History) {
        let mut st = self.lock();
        (
            std::mem::take(&mut st.trace),
            std::mem::take(&mut st.history),
        )
    }

    /// Samples an fsync latency.
    pub(crate) fn sample_fsync_us(st: &mut State<M>) -> u64 {
        let cfg = st.disk_config;
        st.disk_rng
            .gen_range(cfg.fsync_min_us..=cfg.fsync_max_us.max(cfg.fsync_min_us))
    }
}

/// The delivery task: hands each in-flight message over at its arrival time.
pub(crate) async fn pump<M: Message>(world: World<M>) {
    loop {
        let next = {
            let mut st = world.lock();
            let now = st.now();
            st.deliver_due(now);
            st.in_flight.first_key_value().map(|(k, _)| k.0)
        };
        PumpWait {
            world: &world,
            sleep: next.map(time::precise_sleep),
        }
        .await;
    }
}

/// Waits until the earliest arrival time, or until `send` files an earlier one.
struct PumpWait<'a, M> {
    world: &'a World<M>,
    sleep: Option<Pin<Box<madsim::time::Sleep>>>,
}

impl<M: Message> Future for PumpWait<'_, M> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut st = self.world.lock();
            if st.pump_kicked {
                st.pump_kicked = false;
                return Poll::Ready(());
            }
            st.pump_waker = Some(cx.waker().clone());
        }
        match self.sleep.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}
