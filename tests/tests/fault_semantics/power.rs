//! Power failure: only synced bytes survive, a torn write keeps a strict prefix of the tail.

use std::time::Duration;

use sim_core::trace::CrashCause;
use sim_core::{EventKind, FaultOp, NodeCtx, NodeId, RunOutput, Sim, SimTime, Trace};

use crate::probe::*;

const WAL: &str = "wal";
const SYNCED: &[u8] = b"AAAA";
const UNSYNCED: [&[u8]; 2] = [b"BBBBBBBB", b"CCCC"];

/// On first start writes and syncs `AAAA`, then appends two records without syncing.
async fn wal_writer(ctx: NodeCtx<Hello>) {
    if ctx.disk().read(WAL).is_none() {
        ctx.disk().append(WAL, SYNCED);
        ctx.disk().fsync(WAL).await;
        for record in UNSYNCED {
            ctx.disk().append(WAL, record);
        }
    }
    let found = ctx.disk().read(WAL).unwrap_or_default();
    ctx.note("found", String::from_utf8_lossy(&found));
    loop {
        ctx.recv().await;
    }
}

/// Power-fails n1 at 1 s and restarts it at 2 s; returns the durable file seen at 1.5 s,
/// and the run.
fn power_fail_run(seed: u64, torn_write: bool) -> RunOutput<Option<Vec<u8>>> {
    Sim::new(seed)
        .node(wal_writer)
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::PowerFail {
                    nodes: vec![n(1)],
                    torn_write,
                },
            ),
            at(2_000, FaultOp::Restart { node: n(1) }),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(1_500)).await;
            let durable = world.disk(n(1)).read_durable(WAL).map(<[u8]>::to_vec);
            world.sleep(Duration::from_millis(1_000)).await;
            durable
        })
        .expect("a valid world")
}

fn crash_loss(trace: &Trace, node: NodeId) -> (CrashCause, u64, u64) {
    let crashes: Vec<_> = trace
        .of_node(node)
        .filter_map(|e| match e.kind {
            EventKind::NodeCrash {
                cause,
                lost_bytes,
                torn_bytes_kept,
            } => Some((cause, lost_bytes, torn_bytes_kept)),
            _ => None,
        })
        .collect();
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    crashes[0]
}

#[test]
fn power_failure_without_tearing_keeps_exactly_the_synced_bytes() {
    let unsynced_len: u64 = UNSYNCED.iter().map(|r| r.len() as u64).sum();
    for seed in 0..5 {
        let run = power_fail_run(seed, false);
        assert_eq!(run.value.as_deref(), Some(SYNCED), "seed {seed}");
        assert_eq!(
            crash_loss(&run.trace, n(1)),
            (CrashCause::PowerFail, unsynced_len, 0),
            "seed {seed}"
        );
        let found: Vec<String> = notes(&run.trace, n(1), "found")
            .into_iter()
            .map(|(_, _, d)| d)
            .collect();
        assert_eq!(found, ["AAAABBBBBBBBCCCC", "AAAA"], "seed {seed}");
    }
}

#[test]
fn torn_power_failure_keeps_a_strict_prefix_of_the_unsynced_tail() {
    let full: Vec<u8> = [SYNCED, UNSYNCED[0], UNSYNCED[1]].concat();
    let unsynced_len = (full.len() - SYNCED.len()) as u64;
    let mut kept_counts = Vec::new();
    for seed in 0..40 {
        let run = power_fail_run(seed, true);
        let after = run.value.clone().expect("the synced file survives");
        let (cause, lost, kept) = crash_loss(&run.trace, n(1));
        assert_eq!(cause, CrashCause::PowerFail);
        assert!(after.starts_with(SYNCED), "seed {seed}: {after:?}");
        assert!(full.starts_with(&after), "seed {seed}: not a prefix");
        assert!(after.len() < full.len(), "seed {seed}: not a strict prefix");
        assert_eq!(lost + kept, unsynced_len, "seed {seed}");
        assert_eq!(
            after.len() as u64,
            SYNCED.len() as u64 + kept,
            "seed {seed}"
        );
        // The restarted node reads what survived.
        let found = notes(&run.trace, n(1), "found");
        assert_eq!(found[1].2.as_bytes(), &after[..], "seed {seed}");
        kept_counts.push(kept);
    }
    // Tearing really happens, and not always at the same point.
    kept_counts.sort_unstable();
    kept_counts.dedup();
    assert!(kept_counts.len() >= 3, "{kept_counts:?}");
    assert!(kept_counts.iter().any(|k| *k > 8), "{kept_counts:?}");
}

/// Writes a record without syncing and returns (its actor ends; the node goes down).
async fn write_and_exit(ctx: NodeCtx<Hello>) {
    if ctx.disk().read(WAL).is_none() {
        ctx.disk().append(WAL, b"unsynced");
    } else {
        ctx.note(
            "found",
            String::from_utf8_lossy(&ctx.disk().read(WAL).unwrap()),
        );
    }
}

/// A power failure loses the page cache of the whole machine, whether or not the node's
/// process is still running.
#[test]
fn power_failure_loses_unsynced_writes_of_a_node_whose_actor_has_returned() {
    let run = Sim::new(3)
        .node(write_and_exit)
        .faults(schedule(vec![
            at(
                1_000,
                FaultOp::PowerFail {
                    nodes: vec![n(1)],
                    torn_write: false,
                },
            ),
            at(2_000, FaultOp::Restart { node: n(1) }),
        ]))
        .run(|world| async move {
            world.sleep(Duration::from_millis(1_500)).await;
            let cached = world.disk(n(1)).read(WAL).map(<[u8]>::to_vec);
            world.sleep(Duration::from_millis(1_000)).await;
            cached
        })
        .expect("a valid world");
    let exit = run.trace.events.iter().find(|e| {
        e.node == Some(n(1))
            && matches!(
                e.kind,
                EventKind::NodeCrash {
                    cause: sim_core::trace::CrashCause::Exited,
                    ..
                }
            )
    });
    assert!(
        exit.is_some_and(|e| e.t_us < SimTime::from_ms(1_000)),
        "the actor returned before the power failure: {exit:?}"
    );
    assert_eq!(
        run.value, None,
        "after the power failure the never-synced file must be gone"
    );
    assert!(
        notes(&run.trace, n(1), "found").is_empty(),
        "the restarted node found the unsynced write: {:?}",
        notes(&run.trace, n(1), "found")
    );
}
