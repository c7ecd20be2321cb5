//! The partition story `partition-5node` and `split-brain` share: wait for a leader, split
//! the servers around it, give each client its side, partition, hold, heal.
//!
//! What the driver scripted is returned as a [`Story`]; what the run went through is read
//! from the trace by the checks in [`super::partition_checks`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::driver::{run_node, RaftMutants};
use raft::etcd::workload::client_of;
use raft::etcd::{run_kv_client, EtcdStore};
use rand::seq::SliceRandom;
use sim_core::{FaultOp, FaultSchedule, NodeId, RunOutput, SimTime, World};

use crate::raft_world::{ClusterConfig, ClusterWatch, RaftMsg};
use crate::scenario::ScenarioError;

/// When a partition story happens: the timing knobs both partition scenarios share.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// Partition this long after the first leader.
    pub after_ms: u64,
    /// Keep it this long.
    pub for_ms: u64,
    /// Length of the run.
    pub duration_ms: u64,
    /// The liveness bound, in election timeouts.
    pub bound_timeouts: u64,
}

impl Timing {
    /// The liveness bound in milliseconds.
    pub fn bound_ms(&self, cluster: &ClusterConfig) -> u64 {
        self.bound_timeouts * cluster.election_timeout_ms()
    }

    /// The latest time the first leader may be elected for the story to fit the run: the
    /// partition, its length, and two bounds after the heal.
    pub fn leader_deadline(&self, cluster: &ClusterConfig) -> SimTime {
        SimTime::from_ms(
            self.duration_ms
                .saturating_sub(self.after_ms + self.for_ms + 2 * self.bound_ms(cluster)),
        )
    }

    /// Refuses timings the story does not fit in.
    pub fn validate(&self, cluster: &ClusterConfig) -> Result<(), ScenarioError> {
        if self.bound_timeouts == 0 {
            return Err(ScenarioError::Config(
                "bound_election_timeouts must be more than zero".into(),
            ));
        }
        let bound = self.bound_ms(cluster);
        if self.for_ms < bound {
            return Err(ScenarioError::Config(format!(
                "partition_for_ms = {} is too short: the partition must last at least the \
                 liveness bound ({bound} ms) so the connected majority can be seen to elect \
                 and commit",
                self.for_ms
            )));
        }
        // Leave the first election three election timeouts (it takes one to two).
        let first_election = 3 * cluster.election_timeout_ms();
        let needed = first_election + self.after_ms + self.for_ms + 2 * bound;
        if self.duration_ms < needed {
            return Err(ScenarioError::Config(format!(
                "duration_ms = {} is too short: it must fit the first election ({first_election} \
                 ms), partition_after_ms, partition_for_ms and two liveness bounds ({bound} ms \
                 each) after the heal: at least {needed} ms",
                self.duration_ms
            )));
        }
        Ok(())
    }
}

/// Which servers a client may talk to, by client; set by the driver once the sides are
/// known. Clients wait (without operating) until theirs is set.
pub(crate) type Routes = Arc<Mutex<BTreeMap<NodeId, Vec<NodeId>>>>;

/// Runs a Raft register cluster as [`ClusterConfig::run`] does, except that each client
/// talks only to the servers `routes` gives it once the driver has set them. A client's
/// first operation is at `client.start_ms` or when its route is set, whichever is later.
pub(crate) fn run_routed<T, D, Fut>(
    cluster: &ClusterConfig,
    seed: u64,
    mutants: &[String],
    faults: &FaultSchedule,
    routes: &Routes,
    driver: D,
) -> Result<RunOutput<T>, ScenarioError>
where
    D: FnOnce(World<RaftMsg>) -> Fut,
    Fut: Future<Output = T>,
{
    let mut raft = cluster.raft.clone();
    // As `ClusterConfig::run`: the planted bugs are the run's `--mutant` names.
    let mut planted = RaftMutants::default();
    for name in mutants {
        assert!(
            planted.enable(name),
            "mutant names are checked before the run"
        );
    }
    raft.mutants = planted;
    let servers = cluster.servers();
    let mut sim = cluster.sim(seed, faults);
    let directory = cluster.directory();
    let info = |id: NodeId| directory.get(id).expect("the directory lists every node");
    for server in &servers {
        let (raft, voters) = (raft.clone(), servers.clone());
        let node = info(*server);
        sim = sim.named_node(&node.name, &node.group, move |ctx| {
            run_node::<EtcdStore, _>(ctx, raft.clone(), voters.clone())
        });
    }
    let poll = Duration::from_millis(cluster.raft.tick_ms.max(1));
    for id in cluster.clients() {
        let (client, routes) = (cluster.client.clone(), routes.clone());
        let node = info(id);
        sim = sim.named_node(&node.name, &node.group, move |ctx| {
            let (mut client, routes) = (client.clone(), routes.clone());
            async move {
                let servers = loop {
                    let route = routes
                        .lock()
                        .expect("the routes lock is never held across a panic")
                        .get(&ctx.id())
                        .cloned();
                    if let Some(route) = route {
                        break route;
                    }
                    ctx.sleep(poll).await;
                };
                client.start_ms = client.start_ms.saturating_sub(ctx.now().as_ms());
                let session = client_of(ctx, servers, &client);
                run_kv_client(session, client).await;
            }
        });
    }
    Ok(sim.run(driver)?)
}

/// What a partition driver did: who led, the sides, and when.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Story {
    /// The leader when the partition began.
    pub leader: NodeId,
    /// Its term.
    pub term: u64,
    /// The servers of each side; the leader's side first.
    pub sides: Vec<Vec<NodeId>>,
    /// The clients of each side, in the same order.
    pub side_clients: Vec<Vec<NodeId>>,
    /// When the partition was applied.
    pub partitioned_at: SimTime,
    /// When it was healed.
    pub healed_at: SimTime,
}

impl Story {
    /// The partition window.
    pub fn window(&self) -> (SimTime, SimTime) {
        (self.partitioned_at, self.healed_at)
    }

    /// The partition groups as applied: each side's servers and clients.
    pub fn groups(&self) -> Vec<Vec<NodeId>> {
        self.sides
            .iter()
            .zip(&self.side_clients)
            .map(|(s, c)| s.iter().chain(c).copied().collect())
            .collect()
    }

    /// Each side's servers with its clients.
    pub fn sides_with_clients(&self) -> Vec<(Vec<NodeId>, Vec<NodeId>)> {
        self.sides
            .iter()
            .cloned()
            .zip(self.side_clients.iter().cloned())
            .collect()
    }
}

/// Splits the servers into the leader's side (the leader and `with_leader` others drawn from
/// the seed's `label` stream) and the rest, both sorted.
pub(crate) fn split_servers(
    seed: u64,
    label: &str,
    servers: &[NodeId],
    leader: NodeId,
    with_leader: usize,
) -> (Vec<NodeId>, Vec<NodeId>) {
    let mut others: Vec<NodeId> = servers.iter().copied().filter(|n| *n != leader).collect();
    others.shuffle(&mut sim_core::rng::derive_rng(seed, label));
    let mut side: Vec<NodeId> = others.iter().take(with_leader).copied().collect();
    side.push(leader);
    side.sort();
    let mut rest: Vec<NodeId> = others.iter().skip(with_leader).copied().collect();
    rest.sort();
    (side, rest)
}

/// The supervisor of both partition scenarios: waits for a leader, splits the servers with
/// `split` (leader → leader's side, other side), gives each client its side's servers
/// (`client_side(k)` is the side of the k-th client: 0 the leader's, 1 the other), partitions,
/// holds, heals, and runs to the end. Returns the story, or `None` if no leader was elected in
/// time (then every client talks to every server, and nothing is partitioned).
pub(crate) async fn partition_story(
    world: World<RaftMsg>,
    cluster: ClusterConfig,
    timing: Timing,
    routes: Routes,
    split: impl Fn(NodeId) -> (Vec<NodeId>, Vec<NodeId>),
    client_side: impl Fn(usize) -> usize,
) -> Option<Story> {
    let tick = cluster.raft.tick_ms.max(1);
    let mut leaders = ClusterWatch::new(&world);
    let servers = cluster.servers();
    let clients: Vec<NodeId> = cluster.all_nodes()[cluster.nodes..].to_vec();
    let set_routes = |of: &dyn Fn(usize) -> Vec<NodeId>| {
        let mut r = routes
            .lock()
            .expect("the routes lock is never held across a panic");
        for (k, c) in clients.iter().enumerate() {
            r.insert(*c, of(k));
        }
    };
    let Some(first) = leaders
        .wait_for_leader(tick, timing.leader_deadline(&cluster))
        .await
    else {
        set_routes(&|_| servers.clone());
        world
            .sleep_until(SimTime::from_ms(timing.duration_ms))
            .await;
        return None;
    };
    let (a, b) = split(first.0);
    let mut sides = vec![a, b];
    let side_clients: Vec<Vec<NodeId>> = (0..2)
        .map(|s| {
            clients
                .iter()
                .enumerate()
                .filter(|(k, _)| client_side(*k) == s)
                .map(|(_, c)| *c)
                .collect()
        })
        .collect();
    set_routes(&|k| sides[client_side(k)].clone());
    world.sleep(Duration::from_millis(timing.after_ms)).await;
    // The leader may have changed meanwhile (without other faults it does not): split
    // around the one in office now. The clients keep the servers they were given (a client
    // takes its server list when it starts), so they may then time out against the far side.
    let leading = match leaders.leader() {
        Some(l) => l,
        None => {
            let by = world
                .now()
                .after(Duration::from_millis(timing.bound_ms(&cluster)));
            leaders.wait_for_leader(tick, by).await.unwrap_or(first)
        }
    };
    if leading.0 != first.0 {
        let (a, b) = split(leading.0);
        sides = vec![a, b];
    }
    let mut story = Story {
        leader: leading.0,
        term: leading.1,
        sides,
        side_clients,
        partitioned_at: world.now(),
        healed_at: world.now(),
    };
    world.apply(&FaultOp::Partition {
        groups: story.groups(),
    });
    world.sleep(Duration::from_millis(timing.for_ms)).await;
    story.healed_at = world.now();
    world.apply(&FaultOp::Heal);
    world
        .sleep_until(SimTime::from_ms(timing.duration_ms))
        .await;
    Some(story)
}
