//! Linearizability-checker time per history size: generated 5-client etcd histories
//! (get, put, cas, delete over 10 keys), 1k and 10k operations, with no outcome lost and
//! with 2% lost (indeterminate operations are what makes the search expensive).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::linearizability::generate::{etcd_kv_history, GenConfig};
use sim_core::linearizability::{LinResult, ModelKind, DEFAULT_MAX_STEPS};

fn etcd_kv(c: &mut Criterion) {
    let mut group = c.benchmark_group("linearizability/etcd-kv");
    group.sample_size(10);
    for (ops, lost) in [(1_000usize, 0u32), (10_000, 0), (1_000, 2), (10_000, 2)] {
        let history = etcd_kv_history(&GenConfig {
            ops,
            indeterminate_percent: lost,
            ..GenConfig::default()
        });
        group.throughput(Throughput::Elements(ops as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("lost-{lost}pct"), ops),
            &history,
            |b, h| {
                b.iter(|| {
                    let report = ModelKind::Kv
                        .check(h, DEFAULT_MAX_STEPS)
                        .expect("generated histories are well-formed");
                    assert_eq!(report.result, LinResult::Linearizable);
                    report.steps
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, etcd_kv);
criterion_main!(benches);
