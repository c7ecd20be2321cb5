//! What an actor sees: its node's context.
//!
//! A [`NodeCtx`] is handed to a node's actor each time the node starts (first start and
//! every restart). Everything the actor does to the outside world goes through it, so that
//! sim-core can record it and apply faults: sending and receiving messages, sleeping, its
//! disk, its local clock, its rng, and client history entries.
//!
//! A node may host several components (see [`crate::Sim::component`]); each gets its own
//! context, bound to its own [`Port`]: it sends from that port and receives only that
//! port's mail. The components of a node share its disk, clock and fate.
//!
//! Clocks: [`NodeCtx::local_now_us`] is the node's wall clock (virtual time plus the skew a
//! `clock-skew` fault sets). Sleeps and timeouts run on virtual time, as monotonic timers do
//! in a real OS, so skew changes what a node believes the time is, not how long it waits.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::address::{Address, Port};
use crate::history::OpOutcome;
use crate::ids::{MessageId, NodeId, OpId};
use crate::layer::LayerEvent;
use crate::time::{self, SimTime};
use crate::trace::EventKind;
use crate::world::{Envelope, Message, World};

/// A node's view of the world during one incarnation.
pub struct NodeCtx<M> {
    world: World<M>,
    id: NodeId,
    /// The port this component listens on and sends from.
    port: Port,
    /// The component's name (`kubelet`), none for the node's main actor.
    component: Option<String>,
    incarnation: u32,
    rng: ChaCha8Rng,
}

impl<M> std::fmt::Debug for NodeCtx<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCtx")
            .field("id", &self.id)
            .field("port", &self.port)
            .field("component", &self.component)
            .field("incarnation", &self.incarnation)
            .finish()
    }
}

impl<M: Message> NodeCtx<M> {
    pub(crate) fn new(
        world: World<M>,
        at: Address,
        component: Option<String>,
        incarnation: u32,
        rng: ChaCha8Rng,
    ) -> Self {
        NodeCtx {
            world,
            id: at.node,
            port: at.port,
            component,
            incarnation,
            rng,
        }
    }

    /// This node.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The port this component listens on ([`Port::MAIN`] for a node's main actor).
    pub fn port(&self) -> Port {
        self.port
    }

    /// This component's address: where replies to it go.
    pub fn address(&self) -> Address {
        Address::new(self.id, self.port)
    }

    /// A context of this component on another port of its node, as a process binds a
    /// second socket: an API server answers its clients on one port while its etcd client
    /// waits for etcd's replies on another. The port is open from now until the node dies;
    /// the new context has its own rng, drawn from this one's.
    pub fn bind(&mut self, port: Port) -> NodeCtx<M> {
        let at = Address::new(self.id, port);
        self.world.open_port(at, self.incarnation);
        let rng = ChaCha8Rng::seed_from_u64(self.rng.gen());
        NodeCtx {
            world: self.world.clone(),
            id: self.id,
            port,
            component: self.component.clone(),
            incarnation: self.incarnation,
            rng,
        }
    }

    /// This component's name (`kubelet`), or `None` for the node's main actor.
    pub fn component(&self) -> Option<&str> {
        self.component.as_deref()
    }

    /// Declares this node's role (`leader`, `follower`), so fault files can target it
    /// (`role:leader`). sim-core gives the label no meaning; it is the node's until another
    /// declaration or a crash. Declare on every change: a fault resolves against the roles
    /// declared at the instant it applies.
    pub fn set_role(&self, role: &str) {
        self.world.set_role(self.id, self.incarnation, role);
    }

    /// 1 on first start, one more per restart.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// Every node in the world (this one included).
    pub fn nodes(&self) -> &[NodeId] {
        self.world.nodes()
    }

    /// Every node but this one.
    pub fn peers(&self) -> Vec<NodeId> {
        self.nodes()
            .iter()
            .copied()
            .filter(|n| *n != self.id)
            .collect()
    }

    /// This incarnation's rng (seeded from the run's seed, the node and the incarnation).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Current virtual time (for traces and measurements; protocol logic that reasons about
    /// wall-clock time should use [`NodeCtx::local_now_us`]).
    pub fn now(&self) -> SimTime {
        self.world.now()
    }

    /// This node's wall clock: virtual time plus its skew, microseconds.
    pub fn local_now_us(&self) -> i64 {
        self.world.local_now_us(self.id)
    }

    /// Sends a message from this component's port to `to` (a bare node id is its main
    /// port); never blocks. The trace records its fate.
    pub fn send(&self, to: impl Into<Address>, msg: M) -> MessageId {
        self.world.send(self.address(), to.into(), msg)
    }

    /// The next message at this component's port. Only one task per port should receive.
    pub async fn recv(&self) -> Envelope<M> {
        let at = self.address();
        std::future::poll_fn(|cx| self.world.poll_recv(at, self.incarnation, cx)).await
    }

    /// The next message, or `None` once virtual time reaches `deadline`.
    pub async fn recv_until(&self, deadline: SimTime) -> Option<Envelope<M>> {
        // The timer is made only if the mailbox is empty: a timer costs a heap entry in
        // madsim until its deadline, even when the wait ends early.
        let mut timer = None;
        let at = self.address();
        std::future::poll_fn(|cx| {
            if let Poll::Ready(env) = self.world.poll_recv(at, self.incarnation, cx) {
                return Poll::Ready(Some(env));
            }
            if time::now() >= deadline {
                return Poll::Ready(None);
            }
            timer
                .get_or_insert_with(|| time::precise_sleep(deadline))
                .as_mut()
                .poll(cx)
                .map(|()| None)
        })
        .await
    }

    /// Waits for `d` of virtual time.
    pub async fn sleep(&self, d: Duration) {
        time::sleep(d).await
    }

    /// Waits until virtual time `t`.
    pub async fn sleep_until(&self, t: SimTime) {
        time::sleep_until(t).await
    }

    /// Runs `future` as another task of this node; it ends when the node dies.
    pub fn spawn<F: Future<Output = ()> + 'static>(&self, future: F) {
        drop(madsim::task::spawn_local(future));
    }

    /// Records a labelled note on this node.
    pub fn note(&self, label: &str, detail: impl Into<String>) {
        self.world.note(Some(self.id), label, detail);
    }

    /// Records an event on this node.
    pub fn record(&self, kind: EventKind) {
        self.world.record(Some(self.id), kind);
    }

    /// Records an event of a layer above the world on this node (see [`crate::layer`]).
    pub fn record_layer<T: LayerEvent>(&self, event: T) {
        self.world.record(Some(self.id), EventKind::layer(event));
    }

    /// This node's disk.
    pub fn disk(&self) -> DiskHandle<'_, M> {
        DiskHandle { ctx: self }
    }

    /// Records that this node, as a client, invokes an operation.
    pub fn invoke(
        &self,
        f: &str,
        key: Option<String>,
        value: serde_json::Value,
        detail: String,
    ) -> OpId {
        self.world.invoke(self.id, f, key, value, detail)
    }

    /// Records how a client operation of this node ended.
    pub fn complete(&self, op: OpId, outcome: OpOutcome, value: serde_json::Value, detail: String) {
        self.world.complete(op, outcome, value, detail)
    }
}

/// A node's disk: writes land in the page cache; [`DiskHandle::fsync`] makes them durable.
#[derive(Debug)]
pub struct DiskHandle<'a, M> {
    ctx: &'a NodeCtx<M>,
}

impl<M: Message> DiskHandle<'_, M> {
    fn write_with(&self, path: &str, bytes: u64, op: impl FnOnce(&mut crate::disk::Disk)) {
        let mut st = self.ctx.world.lock();
        op(&mut st.slot(self.ctx.id).disk);
        st.record(
            Some(self.ctx.id),
            EventKind::DiskWrite {
                file: path.to_string(),
                bytes,
            },
        );
    }

    /// Appends bytes to a file (creating it).
    pub fn append(&self, path: &str, bytes: &[u8]) {
        self.write_with(path, bytes.len() as u64, |d| d.append(path, bytes));
    }

    /// Replaces a file's contents atomically (as write-to-temp then rename).
    pub fn write_file(&self, path: &str, bytes: &[u8]) {
        self.write_with(path, bytes.len() as u64, |d| d.write_file(path, bytes));
    }

    /// Cuts a file to `len` bytes.
    pub fn truncate(&self, path: &str, len: usize) {
        self.write_with(path, 0, |d| d.truncate(path, len));
    }

    /// The file's contents as this node sees them (page cache), if it exists.
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.ctx
            .world
            .lock()
            .slot(self.ctx.id)
            .disk
            .read(path)
            .map(<[u8]>::to_vec)
    }

    /// Names of the files that exist.
    pub fn list(&self) -> Vec<String> {
        self.ctx.world.lock().slot(self.ctx.id).disk.list()
    }

    /// Makes everything written to `path` before this call durable. Takes a sampled
    /// latency; while a `disk-stall` is in force it completes no earlier than the stall's end.
    pub async fn fsync(&self, path: &str) {
        let id = self.ctx.id;
        let (sync_point, fsync, mut done_at) = {
            let mut st = self.ctx.world.lock();
            let sync_point = st.slot(id).disk.sync_point();
            let fsync = st.next_fsync;
            st.next_fsync += 1;
            let latency_us = World::sample_fsync_us(&mut st);
            st.record(
                Some(id),
                EventKind::FsyncStart {
                    file: path.to_string(),
                    fsync,
                },
            );
            (
                sync_point,
                fsync,
                time::now().after(Duration::from_micros(latency_us)),
            )
        };
        // Done when the sampled latency has passed and no stall is in force. A stall that
        // changes (a new one, or `heal-all` clearing it) wakes the wait to look again.
        let latency_done = done_at;
        loop {
            let epoch = self.ctx.world.lock().slot(id).stall_epoch;
            let mut timer = time::precise_sleep(done_at);
            std::future::poll_fn(|cx| {
                let mut st = self.ctx.world.lock();
                let slot = st.slot(id);
                if slot.stall_epoch != epoch {
                    return Poll::Ready(());
                }
                slot.stall_waiters.push(cx.waker().clone());
                drop(st);
                timer.as_mut().poll(cx)
            })
            .await;
            let now = time::now();
            let stall_until = self.ctx.world.lock().slot(id).stall_until;
            done_at = if stall_until > now {
                stall_until
            } else if now < latency_done {
                latency_done
            } else {
                break;
            };
        }
        let mut st = self.ctx.world.lock();
        let synced_bytes = st.slot(id).disk.complete_fsync(path, sync_point);
        st.record(
            Some(id),
            EventKind::FsyncEnd {
                file: path.to_string(),
                fsync,
                synced_bytes,
            },
        );
    }
}
