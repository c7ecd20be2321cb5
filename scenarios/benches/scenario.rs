//! Criterion benchmark of a whole catalog scenario under the simulator, trace recorded and
//! hashed, beside its bare-madsim baseline.
//!
//! `cargo bench -p scenarios --bench scenario`:
//!
//! - `partition_5node/sim`: `partition-5node` at its default config (5 servers, 2 clients,
//!   20 virtual seconds) with its trace hashed ([`partition_5node_run`]);
//! - `partition_5node/madsim`: a bare madsim program with the same node count moving the
//!   same number of messages over the same virtual time ([`madsim_paced`]).
//!
//! The throughput is in virtual seconds, so criterion's "elem/s" is virtual seconds per
//! wall second for each; `ksim bench` prints the same pair with their ratio.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scenarios::bench::{madsim_paced, partition_5node_run, BENCH_SEED};

fn partition_5node(c: &mut Criterion) {
    let probe = partition_5node_run(BENCH_SEED);
    let (nodes, messages, virtual_secs) = (probe.nodes, probe.run.messages, probe.run.virtual_secs);
    let mut group = c.benchmark_group("partition_5node");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(virtual_secs.round() as u64));
    group.bench_function("sim", |b| {
        b.iter(|| black_box(partition_5node_run(BENCH_SEED)))
    });
    group.bench_function("madsim", |b| {
        b.iter(|| black_box(madsim_paced(nodes, messages, virtual_secs, BENCH_SEED)))
    });
    group.finish();
}

criterion_group!(benches, partition_5node);
criterion_main!(benches);
