//! The trace's hot path alone: hashing a recorded trace's canonical encoding
//! (`trace/hash`), writing its `trace.jsonl` (`trace/jsonl`), and recording it: a 5-node
//! ping-mesh demo run whose only per-event work beyond madsim's is sim-core's recording
//! (`trace/record`).
//!
//! `cargo bench -p sim-core --bench trace`. Throughput is in events, so criterion's
//! "elem/s" is events hashed, written or recorded per wall second; the events are those of
//! a real run (sends with typed fields, deliveries, disk writes, fsyncs), so the mix is the
//! one a scenario's trace has.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim_core::demo::{ping_node, PingConfig};
use sim_core::{Sim, Trace};

/// A 5-node demo run of `secs` virtual seconds with seed 1; returns its trace.
fn demo_run(secs: u64) -> Trace {
    Sim::new(1)
        .nodes(5, |ctx| ping_node(ctx, PingConfig::default()))
        .run(move |world| async move { world.sleep(Duration::from_secs(secs)).await })
        .expect("the demo runs")
        .trace
}

fn trace(c: &mut Criterion) {
    let recorded = demo_run(60);
    let events = recorded.events.len() as u64;
    let mut group = c.benchmark_group("trace");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(events));
    group.bench_function("hash", |b| b.iter(|| black_box(recorded.hash())));
    group.bench_function("jsonl", |b| b.iter(|| black_box(recorded.to_jsonl().len())));
    group.bench_function("record", |b| {
        b.iter(|| black_box(demo_run(60).events.len()))
    });
    group.finish();
}

criterion_group!(benches, trace);
criterion_main!(benches);
