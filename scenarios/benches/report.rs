//! Criterion benchmark of drawing a run's report, beside simulating the same run.
//!
//! `cargo bench -p scenarios --bench report`: `report/simulate` runs partition-5node seed 1
//! (the baseline: what a user already waits for), `report/fold` folds its trace into the
//! model every picture is drawn from, `report/render` draws every picture and export.
//! `ksim bench` prints render time over run time for the same run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use scenarios::bench::BENCH_SEED;
use scenarios::runner::{execute, file_for, prepare};

fn report(c: &mut Criterion) {
    let file = file_for("partition-5node", BENCH_SEED, "", &[]).expect("catalog scenario");
    let prepared = prepare(&file).expect("defaults are valid");
    let mut group = c.benchmark_group("report");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("simulate", |b| {
        b.iter(|| black_box(execute(&prepared).expect("runs")))
    });
    let folder = scenarios::output::run_folder(&prepared, execute(&prepared).expect("runs"));
    group.bench_function("fold", |b| {
        b.iter(|| black_box(reports::RunModel::new(&folder.trace, &folder.history)))
    });
    group.bench_function("render", |b| {
        b.iter(|| {
            black_box(
                reports::render(&folder, &reports::ReportOptions::default(), "out/bench")
                    .expect("draws"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, report);
criterion_main!(benches);
