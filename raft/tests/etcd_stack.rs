//! The etcd server through the whole stack: three Raft nodes on sim-core, a scripted
//! client, real messages, disks and clocks. Leases expire on the leader's clock and take
//! their keys with them, keep-alives hold them, watches replay from a revision and follow
//! live writes, compaction answers `ErrCompacted`, and a restarted member recovers its
//! keys from the WAL.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::driver::{run_node, DriverConfig, SessionConfig};
use raft::etcd::{
    ClientError, EtcdClient, EtcdError, EtcdStore, KeyRange, RangeRequest, Revision, WatchUpdate,
};
use sim_core::{FaultOp, NodeId, Sim, SimTime};

/// What the script saw, line by line, for the assertions.
type Log = Arc<Mutex<Vec<String>>>;

fn say(log: &Log, line: impl Into<String>) {
    log.lock().expect("never poisoned").push(line.into());
}

/// Runs three etcd members and one client running `script` for `run_ms`; the lines it
/// logged. `driver` may inject faults.
fn run<S, SFut, D, DFut>(seed: u64, run_ms: u64, script: S, driver: D) -> Vec<String>
where
    S: Fn(EtcdClient, Log) -> SFut + Send + Sync + 'static,
    SFut: Future<Output = ()> + 'static,
    D: FnOnce(sim_core::World<raft::etcd::EtcdMsg>) -> DFut,
    DFut: Future<Output = ()>,
{
    let log: Log = Arc::default();
    let servers: Vec<NodeId> = (0..3).map(NodeId::from_index).collect();
    let voters = servers.clone();
    let script_log = log.clone();
    let script = Arc::new(script);
    Sim::new(seed)
        .nodes(3, move |ctx| {
            run_node::<EtcdStore, _>(ctx, DriverConfig::default(), voters.clone())
        })
        .node(move |ctx| {
            let client = EtcdClient::new(ctx, servers.clone(), SessionConfig::default());
            script(client, script_log.clone())
        })
        .run(|world| async move {
            driver(world.clone()).await;
            world.sleep_until(SimTime::from_ms(run_ms)).await;
        })
        .expect("the stack runs");
    let lines = log.lock().expect("never poisoned").clone();
    lines
}

async fn idle(_: sim_core::World<raft::etcd::EtcdMsg>) {}

/// Puts until one is acknowledged (the first election may still be under way).
async fn put_surely(client: &mut EtcdClient, key: &str, value: &str) -> Revision {
    loop {
        if let Ok(revision) = client.put(key, value).await {
            return revision;
        }
    }
}

#[test]
fn a_lease_holds_its_key_while_kept_alive_and_takes_it_when_it_expires() {
    let lines = run(
        1,
        30_000,
        |mut client, log| async move {
            client.session().sleep(Duration::from_secs(3)).await;
            put_surely(&mut client, "warmup", "x").await;
            let (lease, ttl_s) = client.lease_grant(3).await.expect("granted");
            say(&log, format!("ttl {ttl_s}"));
            client
                .put_with_lease("lock", "a", lease)
                .await
                .expect("put with the lease");
            for _ in 0..8 {
                client.session().sleep(Duration::from_secs(1)).await;
                client.lease_keep_alive(lease).await.expect("kept alive");
            }
            let (kv, _) = client.get("lock").await.expect("read");
            say(&log, format!("kept {}", kv.is_some()));
            // No more keep-alives: the leader's lessor expires it, its revoke deletes the key.
            client.session().sleep(Duration::from_secs(8)).await;
            let (kv, _) = client.get("lock").await.expect("read");
            say(&log, format!("after expiry {}", kv.is_some()));
            let again = client.lease_keep_alive(lease).await;
            say(&log, format!("keep-alive after expiry {again:?}"));
        },
        idle,
    );
    assert_eq!(
        lines,
        [
            "ttl 3",
            "kept true",
            "after expiry false",
            "keep-alive after expiry Err(Etcd(LeaseNotFound))",
        ]
    );
}

#[test]
fn a_watch_replays_from_a_revision_then_follows_live_writes() {
    let lines = run(
        2,
        20_000,
        |mut client, log| async move {
            client.session().sleep(Duration::from_secs(3)).await;
            let first = put_surely(&mut client, "k/a", "1").await;
            put_surely(&mut client, "k/b", "2").await;
            put_surely(&mut client, "other", "x").await;
            put_surely(&mut client, "k/a", "3").await;
            let watch = client
                .watch(KeyRange::prefix("k/"), first)
                .await
                .expect("watch from an old revision");
            let mut seen = Vec::new();
            let deadline = client.ctx().now().after(Duration::from_secs(2));
            while let Some(update) = watch.next(deadline).await {
                if let WatchUpdate::Events { events, .. } = update {
                    seen.extend(
                        events
                            .into_iter()
                            .map(|e| format!("{}={}", e.kv.key, e.kv.value)),
                    );
                }
            }
            say(&log, format!("replayed {}", seen.join(" ")));
            put_surely(&mut client, "k/c", "4").await;
            let deadline = client.ctx().now().after(Duration::from_secs(2));
            let mut live = Vec::new();
            while let Some(update) = watch.next(deadline).await {
                if let WatchUpdate::Events { events, .. } = update {
                    live.extend(
                        events
                            .into_iter()
                            .map(|e| format!("{}={}", e.kv.key, e.kv.value)),
                    );
                }
            }
            say(&log, format!("live {}", live.join(" ")));
        },
        idle,
    );
    assert_eq!(lines, ["replayed k/a=1 k/b=2 k/a=3", "live k/c=4"]);
}

#[test]
fn compacted_revisions_answer_err_compacted_to_reads_and_watches() {
    let lines = run(
        3,
        20_000,
        |mut client, log| async move {
            client.session().sleep(Duration::from_secs(3)).await;
            let old = put_surely(&mut client, "k", "1").await;
            put_surely(&mut client, "k", "2").await;
            let now = put_surely(&mut client, "k", "3").await;
            client.compact(now).await.expect("compacted");
            let read = client
                .range(RangeRequest {
                    revision: old,
                    ..RangeRequest::latest(KeyRange::key("k"))
                })
                .await;
            say(
                &log,
                format!(
                    "read {}",
                    matches!(read, Err(ClientError::Etcd(EtcdError::Compacted { .. })))
                ),
            );
            let watch = client.watch(KeyRange::key("k"), old).await;
            say(&log, format!("watch {watch:?}"));
            let (kv, _) = client.get("k").await.expect("the latest is still there");
            say(
                &log,
                format!("latest {}", kv.map(|kv| kv.value).unwrap_or_default()),
            );
        },
        idle,
    );
    assert_eq!(lines[0], "read true");
    assert!(lines[1].contains("Compacted"), "{lines:?}");
    assert_eq!(lines[2], "latest 3");
}

#[test]
fn a_cluster_that_lost_power_recovers_its_keys_from_the_wals() {
    let lines = run(
        4,
        20_000,
        |mut client, log| async move {
            client.session().sleep(Duration::from_secs(3)).await;
            for i in 0..20 {
                put_surely(&mut client, &format!("k{}", i % 4), &format!("v{i}")).await;
            }
            // Every member loses power at 8 s and comes back at 9 s: what they serve
            // afterwards comes from their WALs and snapshots.
            client.session().sleep_until(SimTime::from_ms(12_000)).await;
            let mut values = Vec::new();
            for k in 0..4 {
                let (kv, _) = client.get(&format!("k{k}")).await.expect("read");
                values.push(kv.map(|kv| kv.value).unwrap_or_default());
            }
            say(&log, values.join(" "));
        },
        |world| async move {
            world.sleep_until(SimTime::from_ms(8_000)).await;
            world.apply(&FaultOp::PowerFail {
                nodes: (0..3).map(NodeId::from_index).collect(),
                torn_write: true,
            });
            world.sleep(Duration::from_secs(1)).await;
            for i in 0..3 {
                world.apply(&FaultOp::Restart {
                    node: NodeId::from_index(i),
                });
            }
        },
    );
    assert_eq!(lines, ["v16 v17 v18 v19"]);
}
