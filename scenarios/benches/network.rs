//! Criterion benchmarks of sim-core's network next to bare madsim, and of the demo.
//!
//! `cargo bench -p scenarios --bench network` (about a minute):
//!
//! - `mesh/madsim_endpoint` and `mesh/sim_core`: the same ping mesh (5 nodes, 10 ms
//!   heartbeats, 10 virtual seconds) on bare madsim endpoints and through sim-core; the
//!   throughput is in messages, so criterion prints messages per second for each.
//! - `demo/ping_mesh`: the real ping-mesh demo for 10 virtual seconds; the throughput is
//!   in virtual seconds, so criterion's "elem/s" is virtual seconds per wall second.
//!
//! - `raft_writes/3_nodes`, `raft_writes/5_nodes`: writes acknowledged per wall second
//!   through a whole Raft cluster (driver, WAL, fsync, clients) under the simulator.
//!
//! `ksim bench` prints the same measurements with the sim-core / madsim ratio.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scenarios::bench::{
    madsim_endpoint_ping, ping_mesh_demo, raft_writes, sim_core_ping, BenchConfig, BENCH_SEED,
};

fn mesh(c: &mut Criterion) {
    let cfg = BenchConfig::default();
    let mut group = c.benchmark_group("mesh");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(cfg.expected_mesh_messages()));
    group.bench_function("madsim_endpoint", |b| {
        b.iter(|| black_box(madsim_endpoint_ping(&cfg, BENCH_SEED)))
    });
    group.bench_function("sim_core", |b| {
        b.iter(|| black_box(sim_core_ping(&cfg, BENCH_SEED)))
    });
    group.finish();
}

fn demo(c: &mut Criterion) {
    let cfg = BenchConfig::default();
    let mut group = c.benchmark_group("demo");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(cfg.virtual_secs));
    group.bench_function("ping_mesh", |b| {
        b.iter(|| black_box(ping_mesh_demo(&cfg, BENCH_SEED)))
    });
    group.finish();
}

/// Writes acknowledged per wall second through a whole Raft cluster under the simulator
/// (3 and 5 nodes, four clients, 10 virtual seconds); criterion's "elem/s" is writes per
/// wall second.
fn raft(c: &mut Criterion) {
    let mut group = c.benchmark_group("raft_writes");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for nodes in [3, 5] {
        let writes = raft_writes(nodes, 10, BENCH_SEED).messages;
        group.throughput(Throughput::Elements(writes));
        group.bench_function(format!("{nodes}_nodes"), |b| {
            b.iter(|| black_box(raft_writes(nodes, 10, BENCH_SEED)))
        });
    }
    group.finish();
}

criterion_group!(benches, mesh, demo, raft);
criterion_main!(benches);
