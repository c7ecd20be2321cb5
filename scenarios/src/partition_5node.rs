//! `partition-5node`: five Raft nodes A–E (n1..n5) and clients. Once a leader L is elected,
//! the network splits into {L, one other} and {the other three}, holds for several election
//! timeouts, and heals.
//!
//! What must be seen (`SCENARIOS.md`, 004 §13.2): the minority refuses or times out writes
//! and commits nothing new; the majority elects a leader in a higher term and keeps
//! committing; on heal the minority nodes step down, drop the entries the old leader appended
//! but never committed, and catch up; and there is never more than one leader per term (the
//! Raft safety checks of [`judge`]).
//!
//! Clients are placed with a side: the first `minority_clients` are partitioned with the
//! minority and only know its servers; the others only know the majority's. Which servers
//! are on which side depends on who leads, so the clients wait until the driver knows (see
//! [`run_routed`]).
//!
//! This file also holds what `split-brain` shares with it: the routed cluster runner, the
//! story a partition driver returns, and the partition checks ([`NoProgressWithoutQuorum`],
//! [`MajorityKeepsCommitting`], [`CatchesUp`]).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::checks::{DurableLogs, NodeLog};
use raft::driver::{run_node, RaftMutants};
use raft::etcd::workload::client_of;
use raft::etcd::{run_kv_client, EtcdStore};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, EntryType, EventKind, Evidence, FaultOp, FaultSchedule, History, NodeId,
    Outcome, Role, RunOutput, RunView, Sim, SimTime, TraceEvent, World,
};

use crate::raft_world::{
    current_leader, judge, leader_periods, ms, wait_for_leader, ClusterConfig, RaftMsg,
};
use crate::scenario::{config_table, parse_config, RunInput, Scenario, ScenarioError, ScenarioRun};

/// The partition-5node scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Partition5NodeConfig {
    /// The cluster (5 nodes and 2 clients by default).
    pub cluster: ClusterConfig,
    /// Servers on the leader's side: the leader and `minority_size - 1` others. Must be a
    /// minority (less than half of the nodes).
    pub minority_size: usize,
    /// Clients partitioned with the minority (the first ones); the others are with the
    /// majority.
    pub minority_clients: usize,
    /// Partition this long after the first leader is elected, milliseconds.
    pub partition_after_ms: u64,
    /// Keep the partition this long, milliseconds (at least the bound).
    pub partition_for_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
    /// The bound of the liveness checks, in election timeouts: the majority elects and
    /// commits within it of the partition; the minority catches up within it of the heal.
    pub bound_election_timeouts: u64,
}

impl Default for Partition5NodeConfig {
    fn default() -> Self {
        Partition5NodeConfig {
            cluster: ClusterConfig {
                nodes: 5,
                clients: 2,
                ..ClusterConfig::default()
            },
            minority_size: 2,
            minority_clients: 1,
            partition_after_ms: 2_000,
            partition_for_ms: 6_000,
            duration_ms: 20_000,
            bound_election_timeouts: 4,
        }
    }
}

impl Partition5NodeConfig {
    fn parse(table: &toml::Table) -> Result<Self, ScenarioError> {
        let c: Partition5NodeConfig = parse_config(table)?;
        c.cluster.validate(3)?;
        if c.minority_size == 0 || 2 * c.minority_size >= c.cluster.nodes {
            return Err(ScenarioError::Config(format!(
                "minority_size = {} is not a minority of {} nodes (it must be 1 to {})",
                c.minority_size,
                c.cluster.nodes,
                (c.cluster.nodes - 1) / 2
            )));
        }
        if c.minority_clients > c.cluster.clients {
            return Err(ScenarioError::Config(format!(
                "minority_clients = {} is more than the {} clients",
                c.minority_clients, c.cluster.clients
            )));
        }
        c.timing().validate(&c.cluster)?;
        Ok(c)
    }

    fn timing(&self) -> Timing {
        Timing {
            after_ms: self.partition_after_ms,
            for_ms: self.partition_for_ms,
            duration_ms: self.duration_ms,
            bound_timeouts: self.bound_election_timeouts,
        }
    }
}

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
    let mut sim = Sim::new(seed)
        .network(cluster.net)
        .disk(cluster.disk)
        .faults(faults.clone());
    let voters = servers.clone();
    sim = sim.nodes(cluster.nodes, move |ctx| {
        run_node::<EtcdStore>(ctx, raft.clone(), voters.clone())
    });
    let poll = Duration::from_millis(cluster.raft.tick_ms.max(1));
    for _ in 0..cluster.clients {
        let (client, routes) = (cluster.client.clone(), routes.clone());
        sim = sim.node(move |ctx| {
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
    let Some(first) = wait_for_leader(&world, tick, timing.leader_deadline(&cluster)).await else {
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
    let leading = match current_leader(&world) {
        Some(l) => l,
        None => {
            let by = world
                .now()
                .after(Duration::from_millis(timing.bound_ms(&cluster)));
            wait_for_leader(&world, tick, by).await.unwrap_or(first)
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

// ----- reading the trace -----

/// Each node's commit index as of `t` (the highest `commit` or durable `hard-state` commit
/// recorded at or before `t`; 0 if none).
pub(crate) fn commit_indexes(
    events: &[TraceEvent],
    nodes: &[NodeId],
    t: SimTime,
) -> BTreeMap<NodeId, u64> {
    let mut commit: BTreeMap<NodeId, u64> = nodes.iter().map(|n| (*n, 0)).collect();
    for e in events.iter().take_while(|e| e.t_us <= t) {
        let index = match &e.kind {
            EventKind::Commit { index, .. } => *index,
            EventKind::HardState { commit, .. } => *commit,
            _ => continue,
        };
        if let Some(c) = e.node.and_then(|n| commit.get_mut(&n)) {
            *c = (*c).max(index);
        }
    }
    commit
}

/// Every node's durable log as of `t`.
pub(crate) fn logs_at(events: &[TraceEvent], t: SimTime) -> DurableLogs {
    let mut logs = DurableLogs::default();
    for e in events.iter().take_while(|e| e.t_us <= t) {
        logs.apply(e);
    }
    logs
}

/// The highest index whose entry a majority of `voters` hold durably as of `t`: nothing
/// beyond it can have been committed by then. An index a node's snapshot covers counts as
/// held (snapshots hold only committed entries), so this errs high, never low.
pub(crate) fn majority_held_index(events: &[TraceEvent], voters: &[NodeId], t: SimTime) -> u64 {
    let all = logs_at(events, t);
    let logs: Vec<NodeLog> = voters.iter().map(|v| all.of(*v)).collect();
    let need = voters.len() / 2 + 1;
    let last = logs.iter().map(NodeLog::last_index).max().unwrap_or(0);
    let mut held = 0;
    for index in 1..=last {
        let mut covered = 0;
        let mut copies: BTreeMap<(u64, &str), usize> = BTreeMap::new();
        for log in &logs {
            if index <= log.snapshot.0 {
                covered += 1;
            } else if let Some((term, digest)) = log.entries.get(&index) {
                *copies.entry((*term, digest.as_str())).or_default() += 1;
            }
        }
        if covered + copies.values().copied().max().unwrap_or(0) >= need {
            held = index;
        }
    }
    held
}

/// The terms in which some node of `side` led at some moment of `[from, until)`.
fn terms_led(events: &[TraceEvent], side: &[NodeId], from: SimTime, until: SimTime) -> Vec<u64> {
    let mut terms: BTreeSet<u64> = BTreeSet::new();
    for (node, term, start, end) in leader_periods(events) {
        if side.contains(&node) && start < until && end.is_none_or(|e| e > from) {
            terms.insert(term);
        }
    }
    terms.into_iter().collect()
}

/// Whether a history function reads (`get`) rather than writes (`put`, `delete`, `cas`).
fn is_read(f: &str) -> bool {
    f == "get"
}

/// The `ok` completions of writes in the history, with the log position they were told.
fn acked_writes(history: &History) -> impl Iterator<Item = (&sim_core::HistoryEntry, u64, u64)> {
    history.entries.iter().filter_map(|e| {
        if e.entry_type != EntryType::Ok || is_read(&e.f) {
            return None;
        }
        Some((e, e.value["index"].as_u64()?, e.value["term"].as_u64()?))
    })
}

/// Clients' writes and reads: acknowledged, or timed out (indeterminate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct OpCounts {
    /// Writes acknowledged.
    pub writes_ok: u64,
    /// Writes that timed out.
    pub writes_timed_out: u64,
    /// Reads answered.
    pub reads_ok: u64,
    /// Reads that timed out.
    pub reads_timed_out: u64,
}

impl OpCounts {
    /// Counts the completions by `clients` whose time satisfies `when`.
    pub fn of(history: &History, clients: &[NodeId], when: impl Fn(SimTime) -> bool) -> Self {
        let mut c = OpCounts::default();
        for e in &history.entries {
            if !clients.contains(&e.client) || !when(e.t_us) {
                continue;
            }
            let slot = match (is_read(&e.f), e.entry_type) {
                (false, EntryType::Ok) => &mut c.writes_ok,
                (false, EntryType::Info | EntryType::Fail) => &mut c.writes_timed_out,
                (true, EntryType::Ok) => &mut c.reads_ok,
                (true, EntryType::Info | EntryType::Fail) => &mut c.reads_timed_out,
                (_, EntryType::Invoke) => continue,
            };
            *slot += 1;
        }
        c
    }

    /// Share of completed operations that succeeded (None if none completed).
    pub fn availability(&self) -> Option<f64> {
        let ok = self.writes_ok + self.reads_ok;
        let all = ok + self.writes_timed_out + self.reads_timed_out;
        (all > 0).then(|| ok as f64 / all as f64)
    }
}

/// A leadership period for the data files.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct LeaderPeriod {
    /// The leader.
    pub node: NodeId,
    /// Its term.
    pub term: u64,
    /// Elected at, ms.
    pub from_ms: f64,
    /// Ended at, ms (None: still leading at the end).
    pub until_ms: Option<f64>,
}

/// Every leadership period of the run.
pub(crate) fn leader_list(events: &[TraceEvent]) -> Vec<LeaderPeriod> {
    leader_periods(events)
        .into_iter()
        .map(|(node, term, from, until)| LeaderPeriod {
            node,
            term,
            from_ms: ms(from),
            until_ms: until.map(ms),
        })
        .collect()
}

/// The leadership period in office at `t` among `nodes` (the highest term if several).
pub(crate) fn leader_in_office(
    events: &[TraceEvent],
    nodes: &[NodeId],
    t: SimTime,
) -> Option<LeaderPeriod> {
    leader_periods(events)
        .into_iter()
        .filter(|p| nodes.contains(&p.0) && p.2 <= t && p.3.is_none_or(|until| until > t))
        .max_by_key(|p| p.1)
        .map(|(node, term, from, until)| LeaderPeriod {
            node,
            term,
            from_ms: ms(from),
            until_ms: until.map(ms),
        })
}

fn node_list(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

// ----- the checks both partition scenarios share -----

/// `no-progress-without-quorum`: while partitioned, a side that holds no majority of the
/// voters commits nothing new, and no client is told a write succeeded in a term that side
/// led. "New" is anything past the highest index a majority held durably when the partition
/// began: no commit can legitimately go beyond it without the other side. This is Raft's
/// quorum rule seen from outside, and what the planted bug `quorum-of-reachable` breaks.
#[derive(Clone, Debug)]
pub(crate) struct NoProgressWithoutQuorum {
    /// Every voter.
    pub voters: Vec<NodeId>,
    /// The servers of each side.
    pub sides: Vec<Vec<NodeId>>,
    /// The partition window, if the partition happened.
    pub window: Option<(SimTime, SimTime)>,
}

impl Check for NoProgressWithoutQuorum {
    fn name(&self) -> &'static str {
        "no-progress-without-quorum"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some((from, until)) = self.window else {
            return Outcome::Pass;
        };
        let events = &run.trace.events;
        let held = majority_held_index(events, &self.voters, from);
        let during = |t: SimTime| t >= from && t < until;
        for side in &self.sides {
            if 2 * side.len() > self.voters.len() {
                continue;
            }
            for e in events.iter().filter(|e| during(e.t_us)) {
                if let (Some(node), EventKind::Commit { index, term }) = (e.node, &e.kind) {
                    if side.contains(&node) && *index > held {
                        return Outcome::violation(
                            format!(
                                "{node}, on the side {{{}}} without a quorum of the {} voters, \
                                 committed index {index} (term {term}) during the partition; \
                                 a majority held only up to index {held} when it began",
                                node_list(side),
                                self.voters.len()
                            ),
                            vec![Evidence::event(e, "a commit without a quorum")],
                        );
                    }
                }
            }
            let terms = terms_led(events, side, from, until);
            for (ack, index, term) in acked_writes(run.history) {
                if during(ack.t_us) && index > held && terms.contains(&term) {
                    return Outcome::violation(
                        format!(
                            "{} was told its write succeeded at index {index} in term {term}, \
                             led by the side {{{}}} without a quorum, during the partition",
                            ack.client,
                            node_list(side)
                        ),
                        vec![Evidence {
                            event: None,
                            t_us: Some(ack.t_us),
                            node: Some(ack.client),
                            note: format!("write acknowledged at index {index}, term {term}"),
                        }],
                    );
                }
            }
        }
        Outcome::Pass
    }
}

/// `majority-keeps-committing` (liveness): while partitioned, the side holding a majority
/// of the voters has a leader in a term above `above_term` that commits an entry of its own
/// term past what a majority held when the partition began, within the bound of the
/// partition; and, if that side has clients, one of them is told a write succeeded in such
/// a term before the heal. A side without a quorum is not expected to (see
/// [`NoProgressWithoutQuorum`]); with no majority side there is nothing to check.
#[derive(Clone, Debug)]
pub(crate) struct MajorityKeepsCommitting {
    /// Every voter.
    pub voters: Vec<NodeId>,
    /// The servers and clients of each side.
    pub sides: Vec<(Vec<NodeId>, Vec<NodeId>)>,
    /// The partition window; `None` if no leader was elected to partition around.
    pub window: Option<(SimTime, SimTime)>,
    /// The majority's leader must lead a term above this one (the old leader's term when it
    /// is cut off on the other side, else 0).
    pub above_term: u64,
    /// How long after the partition the commit may take, milliseconds.
    pub bound_ms: u64,
}

impl Check for MajorityKeepsCommitting {
    fn name(&self) -> &'static str {
        "majority-keeps-committing"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some((from, until)) = self.window else {
            return Outcome::violation(
                "no leader was elected in time, so the cluster was never partitioned",
                vec![],
            );
        };
        let Some((servers, clients)) = self
            .sides
            .iter()
            .find(|(s, _)| 2 * s.len() > self.voters.len())
        else {
            return Outcome::Pass;
        };
        let events = &run.trace.events;
        let held = majority_held_index(events, &self.voters, from);
        let deadline = from.after(Duration::from_millis(self.bound_ms)).min(until);
        let mut leading: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut committed = None;
        for e in events.iter().take_while(|e| e.t_us <= deadline) {
            let Some(node) = e.node else { continue };
            match &e.kind {
                EventKind::Role { role, term, .. } => {
                    if *role == Role::Leader {
                        leading.insert(node, *term);
                    } else {
                        leading.remove(&node);
                    }
                }
                EventKind::NodeCrash { .. } => {
                    leading.remove(&node);
                }
                EventKind::Commit { index, term }
                    if e.t_us >= from
                        && servers.contains(&node)
                        && *index > held
                        && *term > self.above_term
                        && leading.get(&node) == Some(term) =>
                {
                    committed = Some((node, *term, e));
                    break;
                }
                _ => {}
            }
        }
        let Some((leader, term, commit)) = committed else {
            return Outcome::violation(
                format!(
                    "no leader of a term above {} on the majority side {{{}}} committed past \
                     index {held} within {} ms of the partition at {from}",
                    self.above_term,
                    node_list(servers),
                    self.bound_ms
                ),
                vec![Evidence::note(format!("bound {} ms", self.bound_ms))],
            );
        };
        let acked = acked_writes(run.history).any(|(ack, index, t)| {
            clients.contains(&ack.client)
                && ack.t_us >= from
                && ack.t_us < until
                && index > held
                && t > self.above_term
        });
        if !clients.is_empty() && !acked {
            return Outcome::violation(
                format!(
                    "the majority side's leader {leader} (term {term}) commits, but none of its \
                     clients ({}) was told a write succeeded before the heal at {until}",
                    node_list(clients)
                ),
                vec![Evidence::event(commit, "the majority's first new commit")],
            );
        }
        Outcome::Pass
    }
}

/// `minority-catches-up` / `sides-reconcile` (liveness): by the bound after the heal, each
/// of `nodes` has a commit index at least the highest any of `reference` had `lag_ms`
/// earlier (so at least what they had at the heal: the node is current again, not merely
/// where the others were when it came back); and it no longer holds any entry that it held
/// at the heal and that no node ever applied in the whole run (an entry appended on a side
/// without a quorum and never committed: Raft must replace it with the leader's).
#[derive(Clone, Debug)]
pub(crate) struct CatchesUp {
    /// The check's name.
    pub name: &'static str,
    /// The nodes that must catch up.
    pub nodes: Vec<NodeId>,
    /// Whose commit index is the target.
    pub reference: Vec<NodeId>,
    /// When the partition healed (None: it never happened; nothing to check).
    pub healed_at: Option<SimTime>,
    /// How long after the heal, milliseconds.
    pub bound_ms: u64,
    /// How far behind the reference a node may be at the bound, milliseconds (at most the
    /// bound).
    pub lag_ms: u64,
}

/// Entries `log` holds past its snapshot that no node ever applied in the run.
pub(crate) fn never_applied(log: &NodeLog, events: &[TraceEvent]) -> Vec<(u64, u64, String)> {
    let applied: BTreeSet<(u64, u64, &str)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Apply {
                index,
                term,
                digest,
            } => Some((*index, *term, digest.as_str())),
            _ => None,
        })
        .collect();
    log.entries
        .iter()
        .filter(|(i, (t, d))| !applied.contains(&(**i, *t, d.as_str())))
        .map(|(i, (t, d))| (*i, *t, d.clone()))
        .collect()
}

impl Check for CatchesUp {
    fn name(&self) -> &'static str {
        self.name
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some(healed) = self.healed_at else {
            return Outcome::Pass;
        };
        let events = &run.trace.events;
        let deadline = healed.after(Duration::from_millis(self.bound_ms));
        if run.trace.end_time() < deadline {
            return Outcome::Unknown {
                reason: format!(
                    "the run ended at {} before the bound {deadline} (healed at {healed})",
                    run.trace.end_time()
                ),
            };
        }
        let target_at = SimTime(deadline.as_us() - self.lag_ms.min(self.bound_ms) * 1000);
        let target = commit_indexes(events, &self.reference, target_at)
            .values()
            .copied()
            .max()
            .unwrap_or(0);
        let at_end = commit_indexes(events, &self.nodes, deadline);
        let (logs_healed, logs_end) = (logs_at(events, healed), logs_at(events, deadline));
        for node in &self.nodes {
            let commit = at_end.get(node).copied().unwrap_or(0);
            if commit < target {
                return Outcome::violation(
                    format!(
                        "{node} reached commit index {commit} by {deadline} ({} ms after the \
                         heal), short of the {target} the others had at {target_at}",
                        self.bound_ms
                    ),
                    vec![Evidence::note(format!("healed at {healed}"))],
                );
            }
            let now = logs_end.of(*node);
            for (index, term, digest) in never_applied(&logs_healed.of(*node), events) {
                if now.entries.get(&index) == Some(&(term, digest)) {
                    return Outcome::violation(
                        format!(
                            "{node} still holds the uncommitted entry {index}@term {term} it had \
                             at the heal, {} ms later",
                            self.bound_ms
                        ),
                        vec![Evidence::note(format!("healed at {healed}"))],
                    );
                }
            }
        }
        Outcome::Pass
    }
}

// ----- partition-5node's own -----

/// `minority-steps-down` (liveness): within the bound of the heal, every minority node is a
/// follower in at least the term the majority's leader held at the heal (or leads a later
/// term, legitimately elected). The old leader in particular must not go on leading its old
/// term once it hears of the new one.
#[derive(Clone, Debug)]
struct MinorityStepsDown {
    minority: Vec<NodeId>,
    majority: Vec<NodeId>,
    healed_at: Option<SimTime>,
    bound_ms: u64,
}

impl Check for MinorityStepsDown {
    fn name(&self) -> &'static str {
        "minority-steps-down"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some(healed) = self.healed_at else {
            return Outcome::Pass;
        };
        let events = &run.trace.events;
        let deadline = healed.after(Duration::from_millis(self.bound_ms));
        if run.trace.end_time() < deadline {
            return Outcome::Unknown {
                reason: format!(
                    "the run ended at {} before the bound {deadline} (healed at {healed})",
                    run.trace.end_time()
                ),
            };
        }
        let majority_term = leader_periods(events)
            .into_iter()
            .filter(|p| self.majority.contains(&p.0) && p.2 <= healed)
            .map(|p| p.1)
            .max()
            .unwrap_or(0);
        let mut roles: BTreeMap<NodeId, (Role, u64, &TraceEvent)> = BTreeMap::new();
        for e in events.iter().take_while(|e| e.t_us <= deadline) {
            if let (Some(node), EventKind::Role { role, term, .. }) = (e.node, &e.kind) {
                roles.insert(node, (*role, *term, e));
            }
        }
        for node in &self.minority {
            match roles.get(node) {
                Some((Role::Leader, term, _)) if *term > majority_term => {}
                Some((role, term, _)) if *role != Role::Leader && *term >= majority_term => {}
                Some((role, term, e)) => {
                    return Outcome::violation(
                        format!(
                            "{node} is still {role:?} in term {term} {} ms after the heal, though \
                             the majority's leader had term {majority_term}",
                            self.bound_ms
                        ),
                        vec![Evidence::event(e, "its last role change by the bound")],
                    );
                }
                None => {
                    return Outcome::violation(format!("{node} never took a role"), vec![]);
                }
            }
        }
        Outcome::Pass
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct Partition5Node;

/// One node's commit index at the story's moments, for `partition.json`.
#[derive(Debug, Serialize)]
struct NodeCommits {
    node: NodeId,
    side: &'static str,
    before_partition: u64,
    at_heal: u64,
    at_end: u64,
}

/// Entries a minority node dropped (a `log-truncate`, or an installed snapshot that
/// replaced a disagreeing log).
#[derive(Debug, Serialize)]
struct Truncation {
    node: NodeId,
    at_ms: f64,
    how: &'static str,
    from_index: u64,
    to_index: u64,
    /// (index, term) of each entry dropped.
    dropped: Vec<(u64, u64)>,
}

/// Client outcomes in one phase, per side.
#[derive(Debug, Serialize)]
struct Phase {
    phase: &'static str,
    minority_clients: OpCounts,
    majority_clients: OpCounts,
}

/// What the run measured, for `partition.json`: the storyboard's frames.
#[derive(Debug, Serialize)]
struct PartitionData {
    voters: Vec<NodeId>,
    minority: Vec<NodeId>,
    majority: Vec<NodeId>,
    minority_clients: Vec<NodeId>,
    majority_clients: Vec<NodeId>,
    groups: Vec<Vec<NodeId>>,
    partitioned_at_ms: Option<f64>,
    healed_at_ms: Option<f64>,
    end_ms: f64,
    /// The highest index a majority held when the partition began.
    majority_held_at_partition: Option<u64>,
    /// The leader cut off with the minority.
    leader_before: Option<LeaderPeriod>,
    /// The majority's leader at the heal.
    leader_during: Option<LeaderPeriod>,
    /// The leader at the end.
    leader_after: Option<LeaderPeriod>,
    /// When the old leader stopped leading (check-quorum, or the heal).
    old_leader_stepped_down_ms: Option<f64>,
    commit: Vec<NodeCommits>,
    truncations: Vec<Truncation>,
    /// Client outcomes by completion time: before the partition, during it, after the heal.
    phases: Vec<Phase>,
    leaders: Vec<LeaderPeriod>,
}

fn truncations(events: &[TraceEvent], nodes: &[NodeId], since: SimTime) -> Vec<Truncation> {
    let mut logs = DurableLogs::default();
    let mut out = Vec::new();
    for e in events {
        if let Some(node) = e.node.filter(|n| nodes.contains(n) && e.t_us >= since) {
            let log = logs.of(node);
            let dropped: Vec<(u64, u64)> = match &e.kind {
                EventKind::LogTruncate { from_index } => log
                    .entries
                    .range(from_index..)
                    .map(|(i, (t, _))| (*i, *t))
                    .collect(),
                EventKind::Snapshot {
                    index,
                    term,
                    installed: true,
                } if log.term_at(*index) != Some(*term) => {
                    log.entries.iter().map(|(i, (t, _))| (*i, *t)).collect()
                }
                _ => Vec::new(),
            };
            if let (Some(first), Some(last)) = (dropped.first(), dropped.last()) {
                out.push(Truncation {
                    node,
                    at_ms: ms(e.t_us),
                    how: if matches!(e.kind, EventKind::LogTruncate { .. }) {
                        "log-truncate"
                    } else {
                        "snapshot"
                    },
                    from_index: first.0,
                    to_index: last.0,
                    dropped: dropped.clone(),
                });
            }
        }
        logs.apply(e);
    }
    out
}

fn partition_data(out: &RunOutput<Option<Story>>, config: &Partition5NodeConfig) -> PartitionData {
    let cluster = &config.cluster;
    let events = &out.trace.events;
    let servers = cluster.servers();
    let story = out.value.as_ref();
    let minority = story.map(|s| s.sides[0].clone()).unwrap_or_default();
    let majority = story.map(|s| s.sides[1].clone()).unwrap_or_default();
    let clients: Vec<NodeId> = cluster.all_nodes()[cluster.nodes..].to_vec();
    let (min_clients, maj_clients) = match story {
        Some(s) => (s.side_clients[0].clone(), s.side_clients[1].clone()),
        None => {
            let (a, b) = clients.split_at(config.minority_clients);
            (a.to_vec(), b.to_vec())
        }
    };
    let end = out.trace.end_time();
    let (from, until) = story.map_or((end, end), Story::window);
    let before = commit_indexes(events, &servers, from);
    let healed = commit_indexes(events, &servers, until);
    let at_end = commit_indexes(events, &servers, end);
    let phase = |name, when: &dyn Fn(SimTime) -> bool| Phase {
        phase: name,
        minority_clients: OpCounts::of(&out.history, &min_clients, when),
        majority_clients: OpCounts::of(&out.history, &maj_clients, when),
    };
    let old_leader_stepped_down_ms = story.and_then(|s| {
        leader_periods(events)
            .into_iter()
            .find(|p| p.0 == s.leader && p.1 == s.term)
            .and_then(|p| p.3)
            .map(ms)
    });
    PartitionData {
        commit: servers
            .iter()
            .map(|n| NodeCommits {
                node: *n,
                side: if minority.contains(n) {
                    "minority"
                } else {
                    "majority"
                },
                before_partition: before[n],
                at_heal: healed[n],
                at_end: at_end[n],
            })
            .collect(),
        truncations: truncations(events, &minority, from),
        phases: vec![
            phase("before", &|t| t < from),
            phase("during", &|t| t >= from && t < until),
            phase("after", &|t| t >= until),
        ],
        groups: story.map(Story::groups).unwrap_or_default(),
        partitioned_at_ms: story.map(|s| ms(s.partitioned_at)),
        healed_at_ms: story.map(|s| ms(s.healed_at)),
        end_ms: ms(end),
        majority_held_at_partition: story.map(|_| majority_held_index(events, &servers, from)),
        leader_before: story.and_then(|s| leader_in_office(events, &[s.leader], from)),
        leader_during: story.and_then(|_| leader_in_office(events, &majority, until)),
        leader_after: leader_in_office(events, &servers, end),
        old_leader_stepped_down_ms,
        leaders: leader_list(events),
        voters: servers,
        minority,
        majority,
        minority_clients: min_clients,
        majority_clients: maj_clients,
    }
}

/// Runs the story with `config`.
pub(crate) fn run_story(
    config: &Partition5NodeConfig,
    seed: u64,
    mutants: &[String],
    faults: &FaultSchedule,
) -> Result<RunOutput<Option<Story>>, ScenarioError> {
    let cluster = config.cluster.clone();
    let timing = config.timing();
    let routes = Routes::default();
    let (with_leader, minority_clients) = (config.minority_size - 1, config.minority_clients);
    let servers = cluster.servers();
    run_routed(&cluster, seed, mutants, faults, &routes, |world| {
        partition_story(
            world,
            cluster.clone(),
            timing,
            routes.clone(),
            move |leader| {
                split_servers(
                    seed,
                    "partition-5node/minority",
                    &servers,
                    leader,
                    with_leader,
                )
            },
            move |k| usize::from(k >= minority_clients),
        )
    })
}

/// This scenario's checks, built from the story.
fn partition_checks(
    story: Option<&Story>,
    cluster: &ClusterConfig,
    bound_ms: u64,
) -> (
    NoProgressWithoutQuorum,
    MajorityKeepsCommitting,
    MinorityStepsDown,
    CatchesUp,
) {
    let voters = cluster.servers();
    let side = |i: usize| story.map(|s| s.sides[i].clone()).unwrap_or_default();
    (
        NoProgressWithoutQuorum {
            voters: voters.clone(),
            sides: story.map(|s| s.sides.clone()).unwrap_or_default(),
            window: story.map(Story::window),
        },
        MajorityKeepsCommitting {
            voters,
            sides: story.map(Story::sides_with_clients).unwrap_or_default(),
            window: story.map(Story::window),
            above_term: story.map_or(0, |s| s.term),
            bound_ms,
        },
        MinorityStepsDown {
            minority: side(0),
            majority: side(1),
            healed_at: story.map(|s| s.healed_at),
            bound_ms,
        },
        CatchesUp {
            name: "minority-catches-up",
            nodes: side(0),
            reference: side(1),
            healed_at: story.map(|s| s.healed_at),
            bound_ms,
            lag_ms: cluster.election_timeout_ms(),
        },
    )
}

fn judge_partition(
    out: &RunOutput<Option<Story>>,
    config: &Partition5NodeConfig,
) -> sim_core::Verdict {
    let bound_ms = config.timing().bound_ms(&config.cluster);
    let (quorum, majority, steps_down, catches_up) =
        partition_checks(out.value.as_ref(), &config.cluster, bound_ms);
    // The story's claims hold for the story alone; under `cluster.chaos` other faults land
    // in the same windows, and the Raft checks and `leader-after-heal` judge the run.
    let story: Vec<&dyn Check> = if config.cluster.chaos.episodes_max == 0 {
        vec![&quorum, &majority, &steps_down, &catches_up]
    } else {
        vec![]
    };
    judge(out, Some(bound_ms), &story)
}

impl Scenario for Partition5Node {
    fn name(&self) -> &'static str {
        "partition-5node"
    }

    fn summary(&self) -> &'static str {
        "5 nodes; the leader and one other are cut off from the other three, then healed: the minority commits nothing, the majority elects and commits, the minority steps down and catches up"
    }

    fn resolve_config(&self, config: &toml::Table) -> Result<toml::Table, ScenarioError> {
        Ok(config_table(&Partition5NodeConfig::parse(config)?))
    }

    fn nodes(&self, config: &toml::Table) -> Result<Vec<NodeId>, ScenarioError> {
        Ok(Partition5NodeConfig::parse(config)?.cluster.all_nodes())
    }

    fn generate_faults(
        &self,
        seed: u64,
        config: &toml::Table,
    ) -> Result<FaultSchedule, ScenarioError> {
        // The story's partition depends on who leads, so the driver applies it as it goes;
        // the schedule holds only the optional `cluster.chaos` faults (none by default).
        Ok(Partition5NodeConfig::parse(config)?
            .cluster
            .chaos_faults(seed))
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(&self, input: &RunInput<'_>) -> Result<ScenarioRun, ScenarioError> {
        let config = Partition5NodeConfig::parse(input.config)?;
        let out = run_story(&config, input.seed, input.mutants, input.faults)?;
        let verdict = judge_partition(&out, &config);
        let data = partition_data(&out, &config);
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![(
                "partition.json".into(),
                serde_json::to_vec_pretty(&data).expect("data serializes"),
            )],
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::{EntryRef, EventId, Status, Trace, Verdict};

    fn run_with(
        seed: u64,
        config: &Partition5NodeConfig,
        mutants: &[&str],
    ) -> (RunOutput<Option<Story>>, Verdict) {
        let mutants: Vec<String> = mutants.iter().map(|m| m.to_string()).collect();
        let out = run_story(config, seed, &mutants, &FaultSchedule::default()).unwrap();
        let verdict = judge_partition(&out, config);
        (out, verdict)
    }

    fn outcome(verdict: &Verdict, name: &str) -> Outcome {
        verdict
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
            .outcome
            .clone()
    }

    fn is_violation(o: &Outcome) -> bool {
        matches!(o, Outcome::Violation { .. })
    }

    fn view<'a>(out: &'a RunOutput<Option<Story>>, trace: &'a Trace) -> RunView<'a> {
        RunView {
            seed: out.seed,
            nodes: &out.nodes,
            trace,
            history: &out.history,
        }
    }

    /// Renumbers edited events so ids stay dense.
    fn renumber(trace: &mut Trace) {
        for (i, e) in trace.events.iter_mut().enumerate() {
            e.id = EventId(i as u64);
        }
    }

    /// Inserts a forged event on `node` with `kind` just after `t`.
    fn forge(trace: &mut Trace, node: NodeId, t: SimTime, kind: EventKind) {
        let at = trace.events.iter().position(|e| e.t_us > t).unwrap();
        let mut forged = trace.events[at].clone();
        forged.t_us = t;
        forged.node = Some(node);
        forged.kind = kind;
        trace.events.insert(at, forged);
        renumber(trace);
    }

    fn checks_for(
        story: &Story,
    ) -> (
        NoProgressWithoutQuorum,
        MajorityKeepsCommitting,
        MinorityStepsDown,
        CatchesUp,
    ) {
        let config = Partition5NodeConfig::default();
        partition_checks(
            Some(story),
            &config.cluster,
            config.timing().bound_ms(&config.cluster),
        )
    }

    #[test]
    fn the_story_passes_and_writes_its_storyboard() {
        let config = Partition5NodeConfig::default();
        for seed in [1, 2] {
            let (out, verdict) = run_with(seed, &config, &[]);
            assert_eq!(
                verdict.status(),
                Status::Pass,
                "seed {seed}: {:?}",
                verdict.failures().collect::<Vec<_>>()
            );
            let story = out.value.as_ref().expect("a leader was elected");
            assert_eq!(story.sides[0].len(), 2);
            assert!(story.sides[0].contains(&story.leader));
            assert_eq!(story.sides[1].len(), 3);
            let data = partition_data(&out, &config);
            let during = &data.phases[1];
            assert_eq!(during.minority_clients.writes_ok, 0, "seed {seed}");
            assert!(during.majority_clients.writes_ok > 0, "seed {seed}");
            assert!(data.leader_during.as_ref().unwrap().term > story.term);
            serde_json::to_vec(&data).unwrap();
        }
    }

    #[test]
    fn the_scenario_runs_through_the_trait() {
        let config = Partition5Node.resolve_config(&toml::Table::new()).unwrap();
        let run = Partition5Node
            .run(&RunInput {
                seed: 3,
                config: &config,
                faults: &FaultSchedule::default(),
                mutants: &[],
            })
            .unwrap();
        assert_eq!(run.verdict.status(), Status::Pass);
        assert_eq!(run.data[0].0, "partition.json");
        assert_eq!(run.nodes.len(), 7);
    }

    #[test]
    fn impossible_configs_are_refused() {
        let bad = |text: &str| {
            let table: toml::Table = toml::from_str(text).unwrap();
            Partition5Node.resolve_config(&table).unwrap_err()
        };
        for text in [
            "minority_size = 3",
            "minority_size = 0",
            "[cluster]\nnodes = 2",
            "minority_clients = 3",
            "duration_ms = 10000",
            "partition_for_ms = 1000",
            "bound_election_timeouts = 0",
            "surprise = 1",
        ] {
            assert!(matches!(bad(text), ScenarioError::Config(_)), "{text}");
        }
    }

    #[test]
    fn a_partial_cluster_table_keeps_the_scenario_defaults() {
        let table: toml::Table = toml::from_str("[cluster]\nnodes = 7").unwrap();
        let c = Partition5NodeConfig::parse(&table).unwrap();
        assert_eq!((c.cluster.nodes, c.cluster.clients), (7, 2));
        let table: toml::Table = toml::from_str("[cluster.raft]\nsurprise = 1").unwrap();
        assert!(Partition5NodeConfig::parse(&table).is_err());
    }

    #[test]
    fn quorum_of_reachable_lets_the_minority_commit() {
        let (_, verdict) = run_with(
            1,
            &Partition5NodeConfig::default(),
            &["quorum-of-reachable"],
        );
        assert_eq!(verdict.status(), Status::SafetyViolation);
        assert!(is_violation(&outcome(
            &verdict,
            "no-progress-without-quorum"
        )));
    }

    #[test]
    fn a_minority_commit_fails_no_progress_without_quorum() {
        let (out, verdict) = run_with(2, &Partition5NodeConfig::default(), &[]);
        assert!(outcome(&verdict, "no-progress-without-quorum").is_pass());
        let story = out.value.clone().unwrap();
        let (check, ..) = checks_for(&story);
        // The old leader claims a commit far past anything a majority held.
        let mut trace = out.trace.clone();
        let t = story.partitioned_at.after(Duration::from_millis(500));
        let kind = EventKind::Commit {
            index: 10_000,
            term: story.term,
        };
        forge(&mut trace, story.leader, t, kind);
        assert!(is_violation(&check.check(&view(&out, &trace))));
    }

    #[test]
    fn a_silent_majority_fails_majority_keeps_committing() {
        let (out, verdict) = run_with(1, &Partition5NodeConfig::default(), &[]);
        assert!(outcome(&verdict, "majority-keeps-committing").is_pass());
        let story = out.value.clone().unwrap();
        let (_, check, ..) = checks_for(&story);
        // Erase every commit the majority made during the partition.
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(e.kind, EventKind::Commit { .. })
                && e.node.is_some_and(|n| story.sides[1].contains(&n))
                && e.t_us >= story.partitioned_at
                && e.t_us < story.healed_at)
        });
        renumber(&mut trace);
        assert!(is_violation(&check.check(&view(&out, &trace))));
        // A bound too short to elect anyone in fails it too.
        let short = MajorityKeepsCommitting {
            bound_ms: 1,
            ..check
        };
        assert!(is_violation(&short.check(&view(&out, &out.trace))));
    }

    #[test]
    fn a_leader_that_stays_fails_minority_steps_down() {
        let (out, verdict) = run_with(1, &Partition5NodeConfig::default(), &[]);
        assert!(outcome(&verdict, "minority-steps-down").is_pass());
        let story = out.value.clone().unwrap();
        let (_, _, check, _) = checks_for(&story);
        // The old leader's role changes after the heal vanish, and it claims its old term.
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(e.kind, EventKind::Role { .. })
                && e.node == Some(story.leader)
                && e.t_us >= story.healed_at)
        });
        let kind = EventKind::Role {
            role: Role::Leader,
            term: story.term,
            leader: Some(story.leader),
        };
        forge(&mut trace, story.leader, story.healed_at, kind);
        assert!(is_violation(&check.check(&view(&out, &trace))));
    }

    #[test]
    fn a_minority_node_left_behind_fails_minority_catches_up() {
        let (out, verdict) = run_with(2, &Partition5NodeConfig::default(), &[]);
        assert!(outcome(&verdict, "minority-catches-up").is_pass());
        let story = out.value.clone().unwrap();
        let (_, _, _, check) = checks_for(&story);
        let lagging = story.sides[0][0];
        // It never learns a commit after the heal.
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(
                e.kind,
                EventKind::Commit { .. } | EventKind::HardState { .. }
            ) && e.node == Some(lagging)
                && e.t_us >= story.healed_at)
        });
        renumber(&mut trace);
        match check.check(&view(&out, &trace)) {
            Outcome::Violation { message, .. } => {
                assert!(message.contains("short of"), "{message}")
            }
            other => panic!("expected a violation, got {other:?}"),
        }
        // It keeps an uncommitted entry of the old term: one forged just before the heal,
        // and none of its later log changes.
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(
                e.kind,
                EventKind::LogAppend { .. }
                    | EventKind::LogTruncate { .. }
                    | EventKind::Snapshot { .. }
            ) && e.node == Some(lagging)
                && e.t_us >= story.healed_at)
        });
        let kind = EventKind::LogAppend {
            entries: vec![EntryRef {
                index: 9_999,
                term: story.term,
                digest: "stale".into(),
            }],
        };
        let before_heal = SimTime(story.healed_at.as_us() - 1_000);
        forge(&mut trace, lagging, before_heal, kind);
        match check.check(&view(&out, &trace)) {
            Outcome::Violation { message, .. } => {
                assert!(message.contains("uncommitted"), "{message}")
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn same_seed_same_trace() {
        let config = Partition5NodeConfig::default();
        let (a, _) = run_with(5, &config, &[]);
        let (b, _) = run_with(5, &config, &[]);
        assert_eq!(a.trace.hash(), b.trace.hash());
    }
}
