//! Linearizability-checker time per history size: generated 5-client etcd histories
//! (get, put, cas, delete over 10 keys, 2% of outcomes lost), 1k and 10k operations.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::linearizability::generate::{etcd_kv_history, GenConfig};
use sim_core::linearizability::{LinResult, ModelKind, DEFAULT_MAX_STEPS};

fn etcd_kv(c: &mut Criterion) {
    let mut group = c.benchmark_group("linearizability/etcd-kv");
    group.sample_size(10);
    for ops in [1_000usize, 10_000] {
        let history = etcd_kv_history(&GenConfig {
            ops,
            ..GenConfig::default()
        });
        group.throughput(Throughput::Elements(ops as u64));
        group.bench_with_input(BenchmarkId::from_parameter(ops), &history, |b, h| {
            b.iter(|| {
                let report = ModelKind::Kv
                    .check(h, DEFAULT_MAX_STEPS)
                    .expect("generated histories are well-formed");
                assert_eq!(report.result, LinResult::Linearizable);
                report.steps
            });
        });
    }
    group.finish();
}

criterion_group!(benches, etcd_kv);
criterion_main!(benches);
