//! The ping mesh through sim-core ([`sim_core_ping`]: [`sim_core::NodeCtx::send`] and
//! [`NodeCtx::recv_until`], every send and delivery recorded in the trace), the workload of
//! [`super::madsim_endpoint_ping`], and the real demo ([`ping_mesh_demo`],
//! [`sim_core::demo::ping_node`] with its disk) for virtual seconds per wall second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sim_core::demo::{ping_node, PingConfig};
use sim_core::{LatencyRange, Message, NetConfig, NodeCtx, Sim, SimTime};

use super::{round_start, wall_timed, BenchConfig, Measurement};

/// Messages of the sim-core benchmark mesh: a `u64` each, as in the madsim mesh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchMsg {
    /// A ping, numbered by round.
    Ping(u64),
    /// The answer to a ping.
    Pong(u64),
}

impl Message for BenchMsg {
    fn kind(&self) -> &'static str {
        match self {
            BenchMsg::Ping(_) => "ping",
            BenchMsg::Pong(_) => "pong",
        }
    }
}

/// The network settings of the sim-core mesh: madsim's default one-way latency, a uniform
/// 1 ms to 10 ms (madsim's range excludes 10 ms; sim-core's is inclusive, in microseconds),
/// and no loss.
pub fn madsim_like_net() -> NetConfig {
    let madsim_default = madsim::net::Config::default().send_latency;
    NetConfig {
        latency: LatencyRange {
            min_us: madsim_default.start.as_micros() as u64,
            max_us: (madsim_default.end.as_micros() as u64).saturating_sub(1),
        },
        loss_probability: 0.0,
    }
}

/// The ping mesh through sim-core: the workload of [`super::madsim_endpoint_ping`] as sim-core
/// actors, with madsim's latency ([`madsim_like_net`]), no faults and no disk.
/// `messages` counts the pings and pongs the actors received.
///
/// # Panics
///
/// If `cfg` is invalid (see [`BenchConfig::validate`]), or when called inside a madsim
/// runtime.
pub fn sim_core_ping(cfg: &BenchConfig, seed: u64) -> Measurement {
    if let Err(e) = cfg.validate() {
        panic!("invalid benchmark configuration: {e}");
    }
    let rounds = cfg.rounds();
    let heartbeat_ms = cfg.heartbeat_ms;
    let end = SimTime::ZERO.after(cfg.mesh_end());
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let nodes = cfg.nodes;
    let (virtual_secs, wall_secs) = wall_timed(move || {
        let run = Sim::new(seed)
            .network(madsim_like_net())
            .nodes(nodes, move |ctx| {
                sim_core_ping_node(ctx, rounds, heartbeat_ms, counter.clone())
            })
            .run(|world| async move {
                world.sleep_until(end).await;
                world.now()
            })
            .expect("a validated benchmark configuration runs");
        let virtual_secs = run.value.as_us() as f64 / 1e6;
        drop(run);
        virtual_secs
    });
    Measurement {
        messages: received.load(Ordering::Relaxed),
        wall_secs,
        virtual_secs,
    }
}

/// One node of the sim-core mesh: a single loop that pings every peer at each round's time
/// and otherwise receives, answering pings with pongs.
async fn sim_core_ping_node(
    ctx: NodeCtx<BenchMsg>,
    rounds: u64,
    heartbeat_ms: u64,
    received: Arc<AtomicU64>,
) {
    let peers = ctx.peers();
    let mut round = 0u64;
    loop {
        let env = if round < rounds {
            match ctx
                .recv_until(SimTime::ZERO.after(round_start(heartbeat_ms, round)))
                .await
            {
                Some(env) => env,
                None => {
                    for &peer in &peers {
                        ctx.send(peer, BenchMsg::Ping(round));
                    }
                    round += 1;
                    continue;
                }
            }
        } else {
            ctx.recv().await
        };
        received.fetch_add(1, Ordering::Relaxed);
        if let BenchMsg::Ping(seq) = env.msg {
            ctx.send(env.from, BenchMsg::Pong(seq));
        }
    }
}

/// The real ping-mesh demo ([`ping_node`] with the default [`PingConfig`]: 100 ms rounds,
/// pong counts persisted with fsyncs) on the default network, for `cfg.virtual_secs`
/// virtual seconds. `messages` counts the messages delivered.
///
/// # Panics
///
/// If `cfg` is invalid (see [`BenchConfig::validate`]), or when called inside a madsim
/// runtime.
pub fn ping_mesh_demo(cfg: &BenchConfig, seed: u64) -> Measurement {
    if let Err(e) = cfg.validate() {
        panic!("invalid benchmark configuration: {e}");
    }
    let nodes = cfg.nodes;
    let length = Duration::from_secs(cfg.virtual_secs);
    let ((messages, virtual_secs), wall_secs) = wall_timed(move || {
        let run = Sim::new(seed)
            .nodes(nodes, |ctx| ping_node(ctx, PingConfig::default()))
            .run(|world| async move {
                world.sleep(length).await;
                (world.messages_delivered(), world.now())
            })
            .expect("a validated benchmark configuration runs");
        let (messages, end) = run.value;
        drop(run);
        (messages, end.as_us() as f64 / 1e6)
    });
    Measurement {
        messages,
        wall_secs,
        virtual_secs,
    }
}
