//! Criterion benchmark of key-value operations per wall second through the full etcd
//! stack under the simulator: the etcd client and its session, the Raft driver with its
//! WAL and fsyncs on the simulated disk, the MVCC store; trace and history recorded.
//!
//! `cargo bench -p scenarios --bench kv_throughput`: `kv_ops/3_nodes` and `kv_ops/5_nodes`
//! each run three closed-loop writers and three readers for 5 virtual seconds after the
//! first leader ([`kv_ops`]); the throughput is in completed operations, so criterion's
//! "elem/s" is operations per wall second. `ksim bench` prints the same figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scenarios::bench::{kv_ops, BENCH_SEED};

/// Virtual seconds of load per run.
const VIRTUAL_SECS: u64 = 5;

fn kv(c: &mut Criterion) {
    let mut group = c.benchmark_group("kv_ops");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    for nodes in [3, 5] {
        let ops = kv_ops(nodes, VIRTUAL_SECS, BENCH_SEED).messages;
        group.throughput(Throughput::Elements(ops));
        group.bench_function(format!("{nodes}_nodes"), |b| {
            b.iter(|| black_box(kv_ops(nodes, VIRTUAL_SECS, BENCH_SEED)))
        });
    }
    group.finish();
}

criterion_group!(benches, kv);
criterion_main!(benches);
