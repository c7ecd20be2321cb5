//! The ping mesh: the smallest actor system that exercises everything sim-core does.
//!
//! Every node pings every other node at a fixed interval and answers pings with pongs. It
//! counts the pongs it receives in memory (volatile: lost on a crash) and every
//! `persist_every` pongs writes the count plus what it recovered to its disk and fsyncs it
//! (durable: survives a kill, but a write not yet synced does not). On start it reads the
//! count back and records a `recovered` note. Tests use it to see faults from the trace;
//! `ksim run ping-mesh` runs it with a generated fault schedule.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::check::{Check, CheckKind, Evidence, Outcome, RunView};
use crate::fault_timeline::FaultTimeline;
use crate::ids::NodeId;
use crate::layer::{LayerEvent, LayerRecord};
use crate::node::NodeCtx;
use crate::time::SimTime;
use crate::trace::{DropReason, EventKind};
use crate::world::Message;

/// The file a ping node keeps its pong count in.
pub const PONG_FILE: &str = "pongs";

/// Messages of the ping mesh. A ping mesh's message is its own trace summary: the
/// `ping` layer, whose only events are these messages' fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PingMsg {
    /// A ping, numbered per sender.
    Ping {
        /// The sender's round number.
        seq: u64,
    },
    /// The answer to a ping.
    Pong {
        /// The round number it answers.
        seq: u64,
    },
}

impl Message for PingMsg {
    fn kind(&self) -> &'static str {
        match self {
            PingMsg::Ping { .. } => "ping",
            PingMsg::Pong { .. } => "pong",
        }
    }

    fn fields(&self) -> Option<LayerRecord> {
        Some(LayerRecord::new(self.clone()))
    }
}

impl LayerEvent for PingMsg {
    const LAYER: &'static str = "ping";

    fn summary(&self) -> String {
        match self {
            PingMsg::Ping { seq } | PingMsg::Pong { seq } => format!("seq={seq}"),
        }
    }
}

/// How a ping node behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PingConfig {
    /// Time between rounds of pings, milliseconds.
    pub ping_interval_ms: u64,
    /// Up to this much random extra time per round, milliseconds (from the node's rng).
    pub ping_jitter_ms: u64,
    /// Persist the pong count every this many pongs (0: never).
    pub persist_every: u64,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            ping_interval_ms: 100,
            ping_jitter_ms: 10,
            persist_every: 5,
        }
    }
}

/// Parses a persisted count (the file holds decimal text).
pub fn parse_count(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// The actor of one ping node.
pub async fn ping_node(mut ctx: NodeCtx<PingMsg>, config: PingConfig) {
    let recovered = ctx
        .disk()
        .read(PONG_FILE)
        .and_then(|b| parse_count(&b))
        .unwrap_or(0);
    ctx.note("recovered", format!("pongs={recovered}"));
    let interval = Duration::from_millis(config.ping_interval_ms.max(1));
    let mut pongs = 0u64;
    let mut round = 0u64;
    let mut next_round = ctx.now();
    loop {
        match ctx.recv_until(next_round).await {
            Some(env) => match env.msg {
                PingMsg::Ping { seq } => {
                    ctx.send(env.from, PingMsg::Pong { seq });
                }
                PingMsg::Pong { .. } => {
                    pongs += 1;
                    if config.persist_every > 0 && pongs.is_multiple_of(config.persist_every) {
                        let total = (recovered + pongs).to_string();
                        ctx.disk().write_file(PONG_FILE, total.as_bytes());
                        ctx.disk().fsync(PONG_FILE).await;
                    }
                }
            },
            None => {
                round += 1;
                for peer in ctx.peers() {
                    ctx.send(peer, PingMsg::Ping { seq: round });
                }
                let jitter = if config.ping_jitter_ms > 0 {
                    ctx.rng().gen_range(0..=config.ping_jitter_ms * 1000)
                } else {
                    0
                };
                next_round = ctx.now().after(interval + Duration::from_micros(jitter));
            }
        }
    }
}

/// `mesh-reconnects` (liveness): once every fault is really gone (the trace's
/// [`FaultTimeline`]: links whole, every node up, unpaused and unskewed, not at the last fault
/// op, since a restart is only done when its node starts), every ordered pair of nodes
/// delivers a message within `bound_ms`. Not applicable when the run never became whole
/// with `bound_ms` left ([`MeshHealed`] says whether it did).
#[derive(Clone, Copy, Debug)]
pub struct MeshReconnects {
    /// How long after the faults are gone every pair must have talked, milliseconds.
    pub bound_ms: u64,
}

/// When the run became whole for good with at least `bound_ms` left, if it did.
fn healed_with_room(run: &RunView<'_>, bound_ms: u64) -> Result<SimTime, String> {
    let Some(calm) = FaultTimeline::of(run.trace).calm_since() else {
        return Err("some fault was still in force when the run ended".into());
    };
    let deadline = calm.after(Duration::from_millis(bound_ms));
    if run.trace.end_time() < deadline {
        return Err(format!(
            "every fault was gone at {calm}, less than {bound_ms} ms before the end at {}",
            run.trace.end_time()
        ));
    }
    Ok(calm)
}

impl Check for MeshReconnects {
    fn name(&self) -> &'static str {
        "mesh-reconnects"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let events = &run.trace.events;
        let last_fault = match healed_with_room(run, self.bound_ms) {
            Ok(calm) => calm,
            Err(why) => return Outcome::not_applicable(why),
        };
        let deadline = SimTime(last_fault.as_us() + self.bound_ms * 1000);
        let mut missing: Vec<(NodeId, NodeId)> = Vec::new();
        for &from in run.nodes {
            for &to in run.nodes {
                if from == to {
                    continue;
                }
                let talked = events.iter().any(|e| {
                    e.t_us >= last_fault
                        && e.t_us <= deadline
                        && e.node == Some(to)
                        && matches!(e.kind, EventKind::Deliver { from: f, .. } if f == from)
                });
                if !talked {
                    missing.push((from, to));
                }
            }
        }
        if missing.is_empty() {
            Outcome::Pass
        } else {
            Outcome::violation(
                format!(
                    "{} link(s) carried nothing between the faults' end at {last_fault} and {deadline}",
                    missing.len()
                ),
                missing
                    .iter()
                    .take(10)
                    .map(|(a, b)| Evidence::note(format!("{a} -> {b} silent")))
                    .collect(),
            )
        }
    }
}

/// `mesh-healed` (story): every fault was gone for good with at least `bound_ms` of the run
/// left, so [`MeshReconnects`] had something to judge.
#[derive(Clone, Copy, Debug)]
pub struct MeshHealed {
    /// As [`MeshReconnects::bound_ms`].
    pub bound_ms: u64,
}

impl Check for MeshHealed {
    fn name(&self) -> &'static str {
        "mesh-healed"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        match healed_with_room(run, self.bound_ms) {
            Ok(_) => Outcome::Pass,
            Err(why) => Outcome::not_reached(why),
        }
    }
}

/// `faults-cut-messages` (story): a fault really cost the mesh a message (dropped as
/// partitioned, lost, or for a receiver that was down), so the run was the demo's story of
/// pings under faults and not a quiet one.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultsCutMessages;

impl Check for FaultsCutMessages {
    fn name(&self) -> &'static str {
        "faults-cut-messages"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let by_fault = |reason: DropReason| {
            matches!(
                reason,
                DropReason::Partitioned
                    | DropReason::PartitionedInFlight
                    | DropReason::Lost
                    | DropReason::ReceiverDown
            )
        };
        let dropped = run
            .trace
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Drop { reason, .. } if by_fault(reason)));
        if dropped {
            Outcome::Pass
        } else {
            Outcome::not_reached("no message was dropped by a partition, loss or a down node")
        }
    }
}
