//! `quorum-write`: the bank-vault story of the course notes. A 3-node etcd cluster; client A
//! writes `count=4`, then `count=5` through the leader, which appends, replicates, commits
//! on a majority's acknowledgement and only then answers. Right after that answer client B
//! reads `count` through a follower whose link from the leader is slow (it lags).
//!
//! With linearizable reads (etcd's default, ReadIndex) the follower asks the leader for
//! the commit index, waits until it has applied that far, and answers 5. With
//! `--read-mode serializable` it answers from its own state: 4, a stale read the
//! linearizability checker flags (exit 3). The planted bug `stale-follower-read` does the
//! same to linearizable reads. `quorum_write.json` records who did what and when; the
//! trace holds every message for the sequence diagram.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::etcd::EtcdClient;
use serde::{Deserialize, Serialize};
use sim_core::{Directory, FaultOp, FaultSchedule, NodeId, SimTime};

use crate::raft_world::{judge, ms, ClusterConfig, ClusterWatch};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// How the followers serve reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Through ReadIndex: the answer reflects every write acknowledged before the read
    /// (etcd's default).
    #[default]
    Linearizable,
    /// From the member's own state, however far behind (etcd `--consistency=s`).
    Serializable,
}

/// The quorum-write scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuorumWriteConfig {
    /// The cluster: 3 nodes, client A (writer) and client B (reader).
    pub cluster: ClusterConfig,
    /// How the follower answers B (`ksim run --read-mode`).
    pub read_mode: ReadMode,
    /// The key.
    pub key: String,
    /// The value first written.
    pub before: String,
    /// The value written second, whose acknowledgement B's read follows.
    pub after: String,
    /// Extra one-way latency from the leader to B's follower, milliseconds: what makes it
    /// lag.
    pub lag_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
}

impl Default for QuorumWriteConfig {
    fn default() -> Self {
        QuorumWriteConfig {
            cluster: ClusterConfig {
                nodes: 3,
                clients: 2,
                ..ClusterConfig::default()
            },
            read_mode: ReadMode::Linearizable,
            key: "count".into(),
            before: "4".into(),
            after: "5".into(),
            lag_ms: 300,
            duration_ms: 8_000,
        }
    }
}

impl ScenarioConfig for QuorumWriteConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let mut c = self;
        c.cluster.raft.serializable_reads = c.read_mode == ReadMode::Serializable;
        c.cluster.validate(3)?;
        if c.cluster.clients != 2 {
            return Err(ScenarioError::Config(format!(
                "cluster.clients = {} but this story has exactly 2 clients (A writes, B reads)",
                c.cluster.clients
            )));
        }
        if c.key.is_empty() || c.before == c.after {
            return Err(ScenarioError::Config(
                "key must not be empty, and before and after must differ".into(),
            ));
        }
        if c.lag_ms == 0 || c.lag_ms > 10_000 {
            return Err(ScenarioError::Config(format!(
                "lag_ms = {} must be between 1 and 10000",
                c.lag_ms
            )));
        }
        let needed = 2 * c.cluster.election_timeout_ms() + 6 * c.lag_ms + 2_000;
        if c.duration_ms < needed {
            return Err(ScenarioError::Config(format!(
                "duration_ms = {} is too short for this story (at least {needed})",
                c.duration_ms
            )));
        }
        Ok(c)
    }
}

/// What the actors share: the driver's cast, and A's acknowledgement for B.
#[derive(Debug, Default)]
struct Plan {
    leader: Option<NodeId>,
    follower: Option<NodeId>,
    acked_at: Option<SimTime>,
}

/// What happened, for `quorum_write.json`.
#[derive(Debug, Default, Serialize)]
struct Story {
    leader: Option<NodeId>,
    term: Option<u64>,
    /// The follower B reads through, behind its slow link.
    follower: Option<NodeId>,
    read_mode: ReadMode,
    write: Option<Step>,
    read: Option<Step>,
    /// The read returned the value written before the acknowledged one.
    stale: Option<bool>,
}

/// One client step.
#[derive(Clone, Debug, Serialize)]
struct Step {
    client: NodeId,
    member: NodeId,
    value: Option<String>,
    revision: u64,
    invoked_ms: f64,
    completed_ms: f64,
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct QuorumWrite;

type Shared = Arc<Mutex<(Plan, Story)>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, (Plan, Story)> {
    shared
        .lock()
        .expect("the story lock is never held across a panic")
}

/// Waits until `ready` says something, polling each millisecond.
async fn wait_for<T>(
    client: &mut EtcdClient,
    shared: &Shared,
    ready: impl Fn(&Plan) -> Option<T>,
) -> T {
    loop {
        if let Some(t) = ready(&lock(shared).0) {
            return t;
        }
        client.session().sleep(Duration::from_millis(1)).await;
    }
}

/// Client A: `before`, a pause so every member has it, then `after`.
async fn writer(mut client: EtcdClient, shared: Shared, c: QuorumWriteConfig) {
    let leader = wait_for(&mut client, &shared, |p| p.leader).await;
    client.session().connect(leader);
    let mut written = false;
    while !written {
        written = client.put(&c.key, &c.before).await.is_ok();
    }
    client
        .session()
        .sleep(Duration::from_millis(4 * c.lag_ms + 500))
        .await;
    let invoked = client.ctx().now();
    if let Ok(revision) = client.put(&c.key, &c.after).await {
        let now = client.ctx().now();
        let mut state = lock(&shared);
        state.0.acked_at = Some(now);
        state.1.write = Some(Step {
            client: client.ctx().id(),
            member: client.session().target(),
            value: Some(c.after.clone()),
            revision: revision.0,
            invoked_ms: ms(invoked),
            completed_ms: ms(now),
        });
    }
}

/// Client B: reads through the lagging follower right after A's acknowledgement.
async fn reader(mut client: EtcdClient, shared: Shared, c: QuorumWriteConfig) {
    let follower = wait_for(&mut client, &shared, |p| p.acked_at.and(p.follower)).await;
    client.session().connect(follower);
    let invoked = client.ctx().now();
    if let Ok((kv, _)) = client.get(&c.key).await {
        let now = client.ctx().now();
        let value = kv.as_ref().map(|kv| kv.value.clone());
        let mut state = lock(&shared);
        state.1.stale = Some(value.as_deref() == Some(c.before.as_str()));
        state.1.read = Some(Step {
            client: client.ctx().id(),
            member: follower,
            value,
            revision: kv.map_or(0, |kv| kv.mod_revision.0),
            invoked_ms: ms(invoked),
            completed_ms: ms(now),
        });
    }
}

impl Scenario for QuorumWrite {
    type Config = QuorumWriteConfig;

    fn name(&self) -> &'static str {
        "quorum-write"
    }

    fn summary(&self) -> &'static str {
        "a write commits on a majority before its ack; a read through a lagging follower sees it (ReadIndex), or not (--read-mode serializable)"
    }

    fn directory(&self, config: &QuorumWriteConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &QuorumWriteConfig) -> FaultSchedule {
        // The slow link depends on who leads, so the driver applies it; the schedule holds
        // only the optional `cluster.chaos` faults.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &["stale-follower-read"]
    }

    fn run(&self, input: &RunInput<'_, QuorumWriteConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let shared: Shared = Arc::default();
        lock(&shared).1.read_mode = config.read_mode;
        let (c, script_shared, script_config) = (config.clone(), shared.clone(), config.clone());
        let driver_shared = shared.clone();
        let out = config.cluster.run_with(
            input.seed,
            input.mutants,
            input.faults,
            move |client, i| {
                let (shared, c) = (script_shared.clone(), script_config.clone());
                async move {
                    match i {
                        0 => writer(client, shared, c).await,
                        _ => reader(client, shared, c).await,
                    }
                }
            },
            |world| async move {
                let mut leaders = ClusterWatch::new(&world);
                let tick = c.cluster.raft.tick_ms;
                let give_up = SimTime::from_ms(c.duration_ms / 2);
                if let Some((leader, term)) = leaders.wait_for_leader(tick, give_up).await {
                    let servers = c.cluster.servers();
                    let follower = servers.iter().copied().find(|n| *n != leader);
                    if let Some(follower) = follower {
                        let lag_us = c.lag_ms * 1_000;
                        world.apply(&FaultOp::LinkLatency {
                            from: leader,
                            to: follower,
                            min_us: lag_us,
                            max_us: lag_us,
                        });
                        let mut state = lock(&driver_shared);
                        state.0.leader = Some(leader);
                        state.0.follower = Some(follower);
                        state.1.leader = Some(leader);
                        state.1.term = Some(term);
                        state.1.follower = Some(follower);
                    }
                }
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
            },
        )?;
        let verdict = judge(&out, None, &[]);
        let story = std::mem::take(&mut lock(&shared).1);
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![(
                "quorum_write.json".into(),
                serde_json::to_vec_pretty(&story).expect("data serializes"),
            )],
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}
