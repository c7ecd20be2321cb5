//! The key-value load the etcd scenarios put on a cluster: clients issuing `get`, `put`,
//! `delete` and compare-and-swap over a few keys, and watchers following a prefix.
//!
//! Few keys and several clients make operations on one key overlap, which is what a
//! linearizability checker needs to find anything; values are unique per write
//! (`<client>-<seq>`) so every read names the write it saw.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::NodeId;

use super::client::{ClientError, EtcdClient, WatchUpdate};
use super::types::{KeyRange, Revision};
use crate::driver::SessionConfig;

/// Longest a workload waits for anything, milliseconds (its "forever").
const FOREVER_MS: u64 = 1 << 40;

/// How a key-value client behaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvClientConfig {
    /// Wait this long before the first operation, milliseconds.
    pub start_ms: u64,
    /// Pause between operations, milliseconds.
    pub interval_ms: u64,
    /// Give up on an operation after this long, milliseconds (it is then indeterminate).
    pub timeout_ms: u64,
    /// Resend a read to another member after this long without an answer, milliseconds.
    pub attempt_timeout_ms: u64,
    /// Wait before asking another member after `NotLeader` without a hint, milliseconds.
    pub retry_ms: u64,
    /// Keys `k0` .. `k<keys-1>`.
    pub keys: usize,
    /// Share of operations that are reads.
    pub read_probability: f64,
    /// Share that are compare-and-swaps (on the mod revision this client last saw).
    pub cas_probability: f64,
    /// Share that are deletes.
    pub delete_probability: f64,
    /// Stop after this many operations (0: never).
    pub max_ops: u64,
}

impl Default for KvClientConfig {
    fn default() -> Self {
        KvClientConfig {
            start_ms: 1_000,
            interval_ms: 100,
            timeout_ms: 2_000,
            attempt_timeout_ms: 500,
            retry_ms: 50,
            keys: 3,
            read_probability: 0.3,
            cas_probability: 0.1,
            delete_probability: 0.05,
            max_ops: 0,
        }
    }
}

impl KvClientConfig {
    /// Checks the values; an error says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 || self.interval_ms == 0 || self.attempt_timeout_ms == 0 {
            return Err(
                "timeout_ms, attempt_timeout_ms and interval_ms must be more than zero".into(),
            );
        }
        if !(1..=1_000).contains(&self.keys) {
            return Err(format!("keys = {} must be between 1 and 1000", self.keys));
        }
        let shares = [
            self.read_probability,
            self.cas_probability,
            self.delete_probability,
        ];
        if shares.iter().any(|p| !(0.0..=1.0).contains(p)) || shares.iter().sum::<f64>() > 1.0 {
            return Err(
                "read, cas and delete probabilities must each be in [0, 1] and add up to at most 1"
                    .into(),
            );
        }
        Ok(())
    }

    /// The session timeouts of these clients.
    pub fn session(&self) -> SessionConfig {
        SessionConfig {
            timeout_ms: self.timeout_ms,
            attempt_timeout_ms: self.attempt_timeout_ms,
            retry_ms: self.retry_ms,
        }
    }
}

/// The name of key number `i`.
pub fn key_name(i: usize) -> String {
    format!("k{i}")
}

/// Runs a key-value client: random operations on random keys until `max_ops`.
pub async fn run_kv_client(client: EtcdClient, config: KvClientConfig) {
    client
        .session()
        .sleep(Duration::from_millis(config.start_ms))
        .await;
    let me = client.ctx().id();
    // The mod revision this client last saw per key: what its CAS expects.
    let mut seen: Vec<Revision> = vec![Revision::NONE; config.keys.max(1)];
    let mut seq = 0u64;
    loop {
        seq += 1;
        if config.max_ops > 0 && seq > config.max_ops {
            client
                .session()
                .sleep(Duration::from_millis(FOREVER_MS))
                .await;
            return;
        }
        let (k, dice) = {
            let mut rng = client.session().rng();
            (rng.gen_range(0..config.keys.max(1)), rng.gen::<f64>())
        };
        let key = key_name(k);
        let value = format!("{me}-{seq}");
        let reads = config.read_probability;
        let cases = reads + config.cas_probability;
        if dice < reads {
            if let Ok((kv, _)) = client.get(&key).await {
                seen[k] = kv.map_or(Revision::NONE, |kv| kv.mod_revision);
            }
        } else if dice < cases {
            if let Ok((true, revision)) = client.cas(&key, seen[k], &value).await {
                seen[k] = revision;
            }
        } else if dice < cases + config.delete_probability {
            if client.delete(&key).await.is_ok() {
                seen[k] = Revision::NONE;
            }
        } else if let Ok(revision) = client.put(&key, &value).await {
            seen[k] = revision;
        }
        client
            .session()
            .sleep(Duration::from_millis(config.interval_ms))
            .await;
    }
}

/// Runs a watcher of every workload key (the prefix `k`): it watches from the start, and
/// whenever its member falls silent for `resume_after_ms` (crashed, cut off) it watches
/// again on another member from the revision after the last one it saw, as etcd clients
/// resume. Each delivery is on the trace for `watch-no-gap` to judge.
pub async fn run_watcher(client: EtcdClient, start_ms: u64, resume_after_ms: u64) {
    client
        .session()
        .sleep(Duration::from_millis(start_ms))
        .await;
    let mut next = Revision(1);
    loop {
        let watch = match client.watch(KeyRange::prefix("k"), next).await {
            Ok(watch) => watch,
            Err(ClientError::Etcd(_)) => {
                // Compacted past `next`: real clients re-list; ours starts from now.
                next = Revision::NONE;
                client.session().reconnect();
                continue;
            }
            Err(ClientError::Indeterminate) => continue,
        };
        loop {
            let deadline = client
                .ctx()
                .now()
                .after(Duration::from_millis(resume_after_ms));
            match watch.next(deadline).await {
                Some(WatchUpdate::Events { events, .. }) => {
                    if let Some(last) = events.last() {
                        next = Revision(last.revision().0 + 1);
                    }
                }
                Some(WatchUpdate::Progress { .. }) => {}
                Some(WatchUpdate::Canceled { .. }) => break,
                None => {
                    client.session().reconnect();
                    break;
                }
            }
        }
    }
}

/// Starts a client of `servers` on a node.
pub fn client_of(
    ctx: sim_core::NodeCtx<super::client::EtcdMsg>,
    servers: Vec<NodeId>,
    config: &KvClientConfig,
) -> EtcdClient {
    EtcdClient::new(ctx, servers, config.session())
}
