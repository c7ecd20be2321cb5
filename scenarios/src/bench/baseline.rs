//! The bare-madsim baselines: plain madsim programs doing the traffic of a measurement
//! with nothing of sim-core, Raft or the trace, run in the same process, so each figure is
//! printed as a ratio to madsim's own scheduling of the same work.
//!
//! [`madsim_endpoint_ping`] is the ping mesh on bare madsim [`Endpoint`]s.
//! `Endpoint::send_to_raw` and `recv_from_raw` each wait a random 0-5 µs, which madsim's
//! timer rounds up to 1 ms of virtual time, so a single loop per node cannot keep a 10 ms
//! heartbeat in a mesh. The madsim mesh therefore runs one sender task and two receiver
//! tasks (pings, pongs) per peer, each on its own tag, where sim-core runs one loop per node,
//! as an actor would. Both are how one would write the mesh on each API.
//!
//! [`madsim_paced`] is a scenario's baseline: as many nodes moving as many messages over
//! the same virtual time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::Endpoint;

use super::{round_start, wall_timed, BenchConfig, Measurement, DRAIN_MS};

/// The port every madsim endpoint binds.
const PORT: u16 = 7000;

/// The IP address of mesh node `index` (0-based): 10.0.0.1, 10.0.0.2, ...
fn node_ip(index: usize) -> IpAddr {
    let host = index + 1;
    IpAddr::V4(Ipv4Addr::new(10, 0, (host >> 8) as u8, (host & 0xff) as u8))
}

/// The madsim tag of a ping sent by node `from`.
fn ping_tag(from: usize) -> u64 {
    2 * from as u64
}

/// The madsim tag of a pong sent by node `from`.
fn pong_tag(from: usize) -> u64 {
    2 * from as u64 + 1
}

/// Waits until virtual time `at` since the start of the run (at once if it has passed).
async fn madsim_sleep_until(at: Duration) {
    let time = madsim::time::TimeHandle::current();
    let elapsed = time.elapsed();
    if at > elapsed {
        time.sleep(at - elapsed).await;
    }
}

/// The ping mesh on bare madsim endpoints: `cfg.nodes` nodes at 10.0.0.x each bind an
/// [`Endpoint`], ping every other node every `cfg.heartbeat_ms` for `cfg.rounds()` rounds
/// with `send_to_raw` (a boxed `u64` payload) and answer every ping with a pong.
/// `messages` counts the pings and pongs received.
///
/// # Panics
///
/// If `cfg` is invalid (see [`BenchConfig::validate`]), or when called inside a madsim
/// runtime.
pub fn madsim_endpoint_ping(cfg: &BenchConfig, seed: u64) -> Measurement {
    if let Err(e) = cfg.validate() {
        panic!("invalid benchmark configuration: {e}");
    }
    let (rounds, heartbeat_ms) = (cfg.rounds(), cfg.heartbeat_ms);
    bare_madsim(
        seed,
        cfg.nodes,
        cfg.mesh_end(),
        move |me, addrs, received| madsim_ping_node(me, addrs, rounds, heartbeat_ms, received),
    )
}

/// Runs `nodes` bare madsim nodes at 10.0.0.x until `end` of virtual time; node `me` runs
/// `node(me, every node's address, the received counter)`. The baselines share this so
/// they differ only in what their nodes do.
fn bare_madsim<F, Fut>(seed: u64, nodes: usize, end: Duration, node: F) -> Measurement
where
    F: Fn(usize, Arc<[SocketAddr]>, Arc<AtomicU64>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let (virtual_secs, wall_secs) = wall_timed(move || {
        let runtime =
            madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        let virtual_secs = runtime.block_on(async move {
            let handle = madsim::runtime::Handle::current();
            let addrs: Arc<[SocketAddr]> = (0..nodes)
                .map(|i| SocketAddr::new(node_ip(i), PORT))
                .collect();
            for me in 0..nodes {
                let (addrs, received, node) = (addrs.clone(), counter.clone(), node.clone());
                handle
                    .create_node()
                    .name(format!("n{}", me + 1))
                    .ip(node_ip(me))
                    .init(move || node(me, addrs.clone(), received.clone()))
                    .build();
            }
            madsim_sleep_until(end).await;
            madsim::time::TimeHandle::current().elapsed().as_secs_f64()
        });
        drop(runtime);
        virtual_secs
    });
    Measurement {
        messages: received.load(Ordering::Relaxed),
        wall_secs,
        virtual_secs,
    }
}

/// One node of the bare madsim mesh: per peer, a task sending pings on a fixed schedule,
/// a task answering that peer's pings and a task receiving its pongs.
async fn madsim_ping_node(
    me: usize,
    addrs: Arc<[SocketAddr]>,
    rounds: u64,
    heartbeat_ms: u64,
    received: Arc<AtomicU64>,
) {
    let ep = Endpoint::bind(addrs[me])
        .await
        .expect("each mesh node binds its own address");
    for peer in (0..addrs.len()).filter(|&p| p != me) {
        let to = addrs[peer];
        let sender = ep.clone();
        drop(madsim::task::spawn_local(async move {
            for round in 0..rounds {
                madsim_sleep_until(round_start(heartbeat_ms, round)).await;
                // A datagram: if it cannot be sent it is lost, as sim-core's would be.
                let _ = sender.send_to_raw(to, ping_tag(me), Box::new(round)).await;
            }
        }));
        let answerer = ep.clone();
        let count = received.clone();
        drop(madsim::task::spawn_local(async move {
            while let Ok((payload, from)) = answerer.recv_from_raw(ping_tag(peer)).await {
                count.fetch_add(1, Ordering::Relaxed);
                let seq = payload.downcast::<u64>().map_or(0, |s| *s);
                let _ = answerer
                    .send_to_raw(from, pong_tag(me), Box::new(seq))
                    .await;
            }
        }));
        let listener = ep.clone();
        let count = received.clone();
        drop(madsim::task::spawn_local(async move {
            while let Ok((payload, _from)) = listener.recv_from_raw(pong_tag(peer)).await {
                count.fetch_add(1, Ordering::Relaxed);
                drop(payload);
            }
        }));
    }
    // The node exits (and its tasks die) when this task returns.
    std::future::pending::<()>().await;
}

/// The bare-madsim baseline of a scenario run: `nodes` madsim nodes at 10.0.0.x move
/// `messages` messages (a boxed `u64` each, `send_to_raw`, madsim's default latency) over
/// `virtual_secs`, each node sending its share at even intervals to its peers in turn, one
/// receiving task per node. The run goes on [`DRAIN_MS`] past `virtual_secs` so the last
/// messages land. `messages` counts the messages received.
///
/// # Panics
///
/// If `nodes` is below 2 or `virtual_secs` is not positive, or when called inside a madsim
/// runtime.
pub fn madsim_paced(nodes: usize, messages: u64, virtual_secs: f64, seed: u64) -> Measurement {
    assert!(nodes >= 2, "a baseline needs at least 2 nodes");
    assert!(virtual_secs > 0.0, "a baseline needs virtual time");
    let length = Duration::from_secs_f64(virtual_secs);
    let end = length + Duration::from_millis(DRAIN_MS);
    bare_madsim(seed, nodes, end, move |me, addrs, received| {
        // The first `messages % nodes` nodes send one more.
        let share = messages / nodes as u64 + u64::from((me as u64) < messages % nodes as u64);
        madsim_paced_node(me, addrs, share, length, received)
    })
}

/// One node of [`madsim_paced`]: sends `share` messages evenly over `length`, to its peers
/// in turn, and counts what it receives.
async fn madsim_paced_node(
    me: usize,
    addrs: Arc<[SocketAddr]>,
    share: u64,
    length: Duration,
    received: Arc<AtomicU64>,
) {
    let ep = Endpoint::bind(addrs[me])
        .await
        .expect("each baseline node binds its own address");
    let listener = ep.clone();
    drop(madsim::task::spawn_local(async move {
        while let Ok((payload, _from)) = listener.recv_from_raw(0).await {
            received.fetch_add(1, Ordering::Relaxed);
            drop(payload);
        }
    }));
    let peers: Vec<SocketAddr> = (0..addrs.len())
        .filter(|&p| p != me)
        .map(|p| addrs[p])
        .collect();
    for k in 0..share {
        madsim_sleep_until(length.mul_f64(k as f64 / share as f64)).await;
        let to = peers[(k as usize) % peers.len()];
        // A datagram: if it cannot be sent it is lost.
        let _ = ep.send_to_raw(to, 0, Box::new(k)).await;
    }
    std::future::pending::<()>().await;
}
