//! A node's inboxes: one queue and one waiting receiver per open port.
//!
//! Each component of a node receives only the mail sent to its own [`Port`] (see
//! [`crate::address`]), so two components never take each other's messages and one can wait
//! for a reply while the other is handed its own traffic. A port is open while a component
//! listens on it: the node's declared components' ports open at every start, and a receive
//! on any other port opens that one on first use. A message that arrives at a port that is
//! not open is dropped (`no-such-port`), as a datagram to a closed socket is. A crash closes
//! every port and loses what was queued.
//!
//! Ports live in a `BTreeMap`, so nothing here depends on hash order.

use std::collections::{BTreeMap, VecDeque};
use std::task::{Context, Poll, Waker};

use crate::address::Port;
use crate::world::Envelope;

/// One port's queue and the task waiting on it.
struct Inbox<M> {
    queue: VecDeque<Envelope<M>>,
    waker: Option<Waker>,
}

impl<M> Default for Inbox<M> {
    fn default() -> Self {
        Inbox {
            queue: VecDeque::new(),
            waker: None,
        }
    }
}

/// Every open port of one node.
pub(crate) struct Inboxes<M> {
    ports: BTreeMap<Port, Inbox<M>>,
}

impl<M> Default for Inboxes<M> {
    fn default() -> Self {
        Inboxes {
            ports: BTreeMap::new(),
        }
    }
}

impl<M> Inboxes<M> {
    /// Opens `port` (empty) if it is not open.
    pub(crate) fn open(&mut self, port: Port) {
        self.ports.entry(port).or_default();
    }

    /// Whether a component listens on `port`.
    pub(crate) fn is_open(&self, port: Port) -> bool {
        self.ports.contains_key(&port)
    }

    /// Closes every port, losing queued mail (a crash).
    pub(crate) fn close_all(&mut self) {
        self.ports.clear();
    }

    /// Queues a delivered message at its port and wakes the receiver there.
    ///
    /// # Panics
    ///
    /// If the port is not open: the pump checks [`Inboxes::is_open`] first and drops the
    /// message otherwise.
    pub(crate) fn push(&mut self, env: Envelope<M>) {
        let inbox = self
            .ports
            .get_mut(&env.to_port)
            .expect("messages are delivered to open ports only");
        inbox.queue.push_back(env);
        if let Some(waker) = inbox.waker.take() {
            waker.wake();
        }
    }

    /// The next message at `port` (opening it on first use), or registers to be woken.
    pub(crate) fn poll(&mut self, port: Port, cx: &mut Context<'_>) -> Poll<Envelope<M>> {
        let inbox = self.ports.entry(port).or_default();
        match inbox.queue.pop_front() {
            Some(env) => Poll::Ready(env),
            None => {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
