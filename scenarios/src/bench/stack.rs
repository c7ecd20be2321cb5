//! The whole Raft and etcd stack under the simulator: writes committed through Raft
//! ([`raft_writes`]) and key-value operations through etcd ([`kv_ops`]), per wall second.

use std::time::Duration;

use super::{wall_timed, Measurement};
use crate::raft_world::ms;

/// Writes committed through a whole Raft cluster under the simulator: `nodes` Raft nodes,
/// four clients each writing as fast as answers come back (1 ms apart), default network
/// and disk, no faults, for `virtual_secs`. `messages` counts the acknowledged writes.
///
/// # Panics
///
/// When called inside a madsim runtime.
pub fn raft_writes(nodes: usize, virtual_secs: u64, seed: u64) -> Measurement {
    use crate::raft_world::ClusterConfig;
    let mut cluster = ClusterConfig {
        nodes,
        clients: 4,
        ..ClusterConfig::default()
    };
    cluster.client.interval_ms = 1;
    cluster.client.read_probability = 0.0;
    cluster.client.start_ms = 0;
    let duration = Duration::from_secs(virtual_secs);
    let (out, wall_secs) = wall_timed(|| {
        cluster
            .run(
                seed,
                &[],
                &sim_core::FaultSchedule::default(),
                |world| async move {
                    world.sleep(duration).await;
                },
            )
            .expect("the benchmark cluster is valid")
    });
    let acked = out
        .history
        .entries
        .iter()
        .filter(|e| e.entry_type == sim_core::EntryType::Ok && e.f == "put")
        .count();
    Measurement {
        messages: acked as u64,
        wall_secs,
        virtual_secs: virtual_secs as f64,
    }
}

/// Key-value operations completed per wall second through the full stack (the etcd
/// client, sessions, the Raft driver with its WAL and fsyncs, the MVCC store), under the
/// simulator: `nodes` members, three closed-loop writers and three closed-loop readers
/// (no think time, linearizable reads), default network and disk, no faults, for
/// `virtual_secs` of load after the first leader. `messages` counts the operations that
/// succeeded (puts and gets); history recording and the trace stay on, as in a scenario.
///
/// # Panics
///
/// When called inside a madsim runtime.
pub fn kv_ops(nodes: usize, virtual_secs: u64, seed: u64) -> Measurement {
    use crate::raft_world::ClusterConfig;
    let cluster = ClusterConfig {
        nodes,
        clients: 6,
        ..ClusterConfig::default()
    };
    let window = (10_000, 0, virtual_secs.saturating_mul(1_000));
    let (out, wall_secs) = wall_timed(|| {
        crate::etcd_capacity::run_point(
            &cluster,
            3,
            seed,
            &[],
            &sim_core::FaultSchedule::default(),
            window,
        )
        .expect("the benchmark cluster is valid")
    });
    let ops = out
        .history
        .entries
        .iter()
        .filter(|e| e.entry_type == sim_core::EntryType::Ok)
        .count();
    Measurement {
        messages: ops as u64,
        wall_secs,
        virtual_secs: ms(out.trace.end_time()) / 1_000.0,
    }
}
