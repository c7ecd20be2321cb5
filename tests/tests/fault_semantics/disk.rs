//! Disk stalls and fsync latency.

use std::collections::BTreeMap;
use std::time::Duration;

use sim_core::{DiskConfig, EventKind, FaultOp, NodeCtx, Sim, SimTime, Trace};

use crate::probe::*;

/// Fsyncs once at each of `at_us` (virtual time, microseconds).
async fn fsync_at(ctx: NodeCtx<Hello>, at_us: Vec<u64>) {
    for t in at_us {
        ctx.sleep_until(SimTime(t)).await;
        ctx.disk().append("f", b"x");
        ctx.disk().fsync("f").await;
    }
    loop {
        ctx.recv().await;
    }
}

/// (start time, end time) of every fsync of the run, by fsync number.
fn fsync_times(trace: &Trace) -> Vec<(SimTime, SimTime)> {
    let mut starts: BTreeMap<u64, SimTime> = BTreeMap::new();
    let mut pairs = Vec::new();
    for e in &trace.events {
        match e.kind {
            EventKind::FsyncStart { fsync, .. } => {
                starts.insert(fsync, e.t_us);
            }
            EventKind::FsyncEnd { fsync, .. } => {
                pairs.push((starts[&fsync], e.t_us));
            }
            _ => {}
        }
    }
    pairs
}

#[test]
fn fsync_under_a_stall_completes_exactly_when_the_stall_ends() {
    // Both nodes' disks stall at 1 s for 300 ms. n1's fsync starts just before the stall,
    // so that its sampled latency (0.5 to 2 ms) would end inside it; n2's starts inside it.
    let stall = |node| {
        at(
            1_000,
            FaultOp::DiskStall {
                node,
                duration_ms: 300,
            },
        )
    };
    let run = Sim::new(5)
        .node(|ctx| fsync_at(ctx, vec![999_800]))
        .node(|ctx| fsync_at(ctx, vec![1_100_000]))
        .faults(schedule(vec![stall(n(1)), stall(n(2))]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(2_000)).await;
        })
        .expect("a valid world");
    let times = fsync_times(&run.trace);
    assert_eq!(times.len(), 2, "{times:?}");
    for (i, node) in [n(1), n(2)].into_iter().enumerate() {
        let stall = fault_idx(
            &run.trace,
            |f| matches!(f, FaultOp::DiskStall { node: x, .. } if *x == node),
        );
        let stall_end = run.trace.events[stall].t_us.as_us() + 300_000;
        let (start, end) = times[i];
        assert_eq!(
            end.as_us() as i64 - stall_end as i64,
            0,
            "{node}: fsync started at {start} ended at {end}, the stall ended at {}",
            SimTime(stall_end)
        );
    }
}

#[test]
fn fsync_without_a_stall_takes_a_latency_within_the_disk_config_range() {
    let disk = DiskConfig {
        fsync_min_us: 3_000,
        fsync_max_us: 7_000,
    };
    let starts: Vec<u64> = (1..=60).map(|i| i * 10_000).collect();
    let run = Sim::new(6)
        .disk(disk)
        .node(move |ctx| fsync_at(ctx, starts.clone()))
        .run(|world| async move {
            world.sleep(Duration::from_millis(1_000)).await;
        })
        .expect("a valid world");
    let latencies: Vec<u64> = fsync_times(&run.trace)
        .iter()
        .map(|(s, e)| e.as_us() - s.as_us())
        .collect();
    assert_eq!(latencies.len(), 60);
    for l in &latencies {
        assert!(
            (disk.fsync_min_us..=disk.fsync_max_us).contains(l),
            "fsync took {l} us: {latencies:?}"
        );
    }
    // Sampled, not constant.
    let (lo, hi) = (latencies.iter().min(), latencies.iter().max());
    assert!(hi.unwrap() - lo.unwrap() > 1_000, "{latencies:?}");
}

/// `heal-all` clears stalls: an fsync that was waiting only for a stall goes on at once
/// (within one sampled fsync latency), not at the end the cleared stall would have had.
#[test]
fn heal_all_ends_a_disk_stall_for_an_fsync_already_waiting_on_it() {
    let run = Sim::new(5)
        .node(|ctx| fsync_at(ctx, vec![1_100_000]))
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::DiskStall {
                    node: n(1),
                    duration_ms: 5_000,
                },
            ),
            at(2_000, FaultOp::HealAll),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(7_000)).await;
        })
        .expect("a valid world");
    let heal = fault_idx(&run.trace, |f| matches!(f, FaultOp::HealAll));
    let healed_at = run.trace.events[heal].t_us;
    let times = fsync_times(&run.trace);
    assert_eq!(times.len(), 1, "{times:?}");
    let (_, end) = times[0];
    let latest = healed_at.as_us() + DiskConfig::default().fsync_max_us;
    assert!(
        end >= healed_at && end.as_us() <= latest,
        "the stall was cleared at {healed_at} but the fsync ended at {end}"
    );
}
