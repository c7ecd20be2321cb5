//! Faults applied to a running world: the network's, the nodes' (kill, restart, pause,
//! power failure), their disks' and clocks', and scheduled faults that name roles.
//!
//! Kept apart from `world.rs` (the state and the message path) because this is what a
//! fault schedule drives; the rules on the world lock are the same: it is released before
//! calling madsim's node control, which may run a node's init or drop its tasks at once.

use crate::fault::{FaultOp, TimedFault};
use crate::ids::NodeId;
use crate::time::{self, SimTime};
use crate::trace::{CrashCause, EventKind};
use crate::world::{Message, NodeStatus, World};

impl<M: Message> World<M> {
    /// Applies a fault now and records it.
    ///
    /// # Panics
    ///
    /// If the op names a node this world does not have (schedules are validated before the
    /// run starts; scenario drivers must pass valid nodes).
    pub fn apply(&self, op: &FaultOp) {
        if self.has_ended() {
            // A stopped run is frozen: nothing may restart or heal what it left.
            return;
        }
        if let Err(e) = op.validate(&self.nodes) {
            panic!("scenario applied an invalid fault: {e}");
        }
        self.lock()
            .record(None, EventKind::Fault { fault: op.clone() });
        match op {
            FaultOp::Partition { .. }
            | FaultOp::Isolate { .. }
            | FaultOp::CutLink { .. }
            | FaultOp::RestoreLink { .. }
            | FaultOp::Heal
            | FaultOp::Latency { .. }
            | FaultOp::LinkLatency { .. }
            | FaultOp::Loss { .. } => self.lock().net.apply(op),
            FaultOp::Kill { node } => self.kill_as(*node, CrashCause::Kill, false),
            FaultOp::Restart { node } => self.restart_node(*node),
            FaultOp::Pause { node } => self.pause_node(*node),
            FaultOp::Resume { node } => self.resume_node(*node),
            FaultOp::PowerFail { nodes, torn_write } => {
                for node in nodes {
                    self.kill_as(*node, CrashCause::PowerFail, *torn_write);
                }
            }
            FaultOp::DiskStall { node, duration_ms } => {
                let until = time::now().after(std::time::Duration::from_millis(*duration_ms));
                let mut st = self.lock();
                let slot = st.slot(*node);
                let until = slot.stall_until.max(until);
                slot.set_stall(until);
            }
            FaultOp::ClockSkew { node, skew_ms } => {
                self.lock().slot(*node).skew_us = skew_ms.saturating_mul(1000);
            }
            FaultOp::HealAll => {
                self.lock().net.apply(op);
                for &node in self.nodes.iter() {
                    {
                        let mut st = self.lock();
                        let slot = st.slot(node);
                        slot.skew_us = 0;
                        slot.set_stall(SimTime::ZERO);
                    }
                    match self.status(node) {
                        NodeStatus::Paused => self.resume_node(node),
                        NodeStatus::Down => self.restart_node(node),
                        NodeStatus::Up => {}
                    }
                }
            }
        }
    }

    /// Applies a scheduled fault now. One that names roles (`role:leader`) resolves
    /// against the roles declared at this instant: a `role-target` note says what it
    /// became, then each concrete op applies and is recorded as [`World::apply`] does; when
    /// no node holds a role it names, a `fault-skipped` note says so and nothing applies.
    ///
    /// # Panics
    ///
    /// As [`World::apply`], for a fault without roles.
    pub fn apply_timed(&self, fault: &TimedFault) {
        if self.has_ended() {
            return;
        }
        if fault.roles.is_empty() {
            return self.apply(&fault.op);
        }
        let resolved = fault.resolve(|role| self.nodes_with_role(role));
        let ops = match resolved {
            Ok(ops) => ops,
            Err(miss) => {
                self.note(
                    None,
                    "fault-skipped",
                    format!("{}: {miss}", fault.describe_roles()),
                );
                return;
            }
        };
        for op in ops {
            if let Err(e) = op.validate(&self.nodes) {
                let what = fault.describe_roles();
                self.note(None, "fault-skipped", format!("{what}: {e}"));
                continue;
            }
            let named: Vec<String> = {
                let st = self.lock();
                op.nodes()
                    .iter()
                    .map(|n| st.directory.name(*n).to_string())
                    .collect()
            };
            let what = fault.describe_roles();
            self.note(None, "role-target", format!("{what} = {}", named.join(" ")));
            self.apply(&op);
        }
    }

    pub(crate) fn kill_as(&self, node: NodeId, cause: CrashCause, torn: bool) {
        let madsim_id = self.lock().stop(node, cause, torn);
        if let Some(id) = madsim_id {
            madsim::runtime::Handle::current().kill(id);
        }
    }

    pub(crate) fn restart_node(&self, node: NodeId) {
        self.kill_as(node, CrashCause::Restart, false);
        let id = self
            .lock()
            .slot(node)
            .madsim_id
            .expect("nodes are built before faults apply");
        // Runs the node's init, which starts a new incarnation (see `start_incarnation`).
        madsim::runtime::Handle::current().restart(id);
    }

    fn pause_node(&self, node: NodeId) {
        let id = {
            let mut st = self.lock();
            if st.slot(node).status != NodeStatus::Up {
                return;
            }
            st.slot(node).status = NodeStatus::Paused;
            st.record(Some(node), EventKind::NodePause);
            st.slot(node).madsim_id
        };
        if let Some(id) = id {
            madsim::runtime::Handle::current().pause(id);
        }
    }

    fn resume_node(&self, node: NodeId) {
        let id = {
            let mut st = self.lock();
            if st.slot(node).status != NodeStatus::Paused {
                return;
            }
            st.slot(node).status = NodeStatus::Up;
            st.record(Some(node), EventKind::NodeResume);
            st.slot(node).madsim_id
        };
        if let Some(id) = id {
            madsim::runtime::Handle::current().resume(id);
        }
    }
}
