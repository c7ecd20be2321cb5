//! What the Raft and etcd scenarios share: a cluster of Raft nodes each running an etcd
//! server (the MVCC store as the replicated state machine), key-value clients and watchers,
//! the Raft and etcd checks, and helpers to find the leader from the trace.

use std::sync::{Arc, Mutex};

use raft::checks::{safety_checks, LeaderAfterHeal};
use raft::driver::{run_node, DriverConfig, RaftMutants};
use raft::etcd::workload::client_of;
use raft::etcd::{
    run_kv_client, run_watcher, EtcdClient, EtcdMsg, EtcdStore, KvClientConfig, WatchNoGap,
};
use raft::view::ClusterView;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, Directory, DiskConfig, FaultKnobs, FaultSchedule, NetConfig, NodeId, RunOutput, RunView,
    Sim, SimTime, TraceCursor, TraceEvent, Verdict, World,
};

use crate::scenario::ScenarioError;

/// The message type of an etcd cluster world.
pub type RaftMsg = EtcdMsg;

/// A Raft cluster with clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Raft nodes (n1..nN).
    pub nodes: usize,
    /// Key-value client nodes (after the Raft nodes).
    pub clients: usize,
    /// Watcher nodes (after the clients): each watches every workload key and resumes on
    /// another member when its member falls silent.
    pub watchers: usize,
    /// Silence after which a watcher resumes elsewhere, milliseconds.
    pub watch_resume_ms: u64,
    /// The Raft nodes' settings.
    pub raft: DriverConfig,
    /// The clients' settings.
    pub client: KvClientConfig,
    /// Network defaults.
    pub net: NetConfig,
    /// Disk defaults.
    pub disk: DiskConfig,
    /// Extra faults drawn from the seed on top of the scenario's story (none by default):
    /// node faults hit the Raft nodes only; partitions place clients too.
    pub chaos: FaultKnobs,
    /// Judge the Raft safety checks (and sim-core's `network-respects-faults`) as the run
    /// goes and end it at the first violation
    /// (off by default: a run goes to its end and every check judges it). A fuzzer turns
    /// it on so a failing seed costs only its prefix; the trace up to the stop is the one
    /// the seed writes without it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stop_at_first_violation: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: 3,
            clients: 1,
            watchers: 0,
            watch_resume_ms: 3_000,
            raft: DriverConfig {
                snapshot_entries: 200,
                ..DriverConfig::default()
            },
            client: KvClientConfig::default(),
            net: NetConfig::default(),
            disk: DiskConfig::default(),
            chaos: FaultKnobs::none(),
            stop_at_first_violation: false,
        }
    }
}

/// The group of the Raft servers (the etcd members), as fault files name it.
pub const SERVERS: &str = "servers";
/// The group of the key-value clients.
pub const CLIENTS: &str = "clients";
/// The group of the watchers.
pub const WATCHERS: &str = "watchers";

/// Most Raft nodes a scenario may have.
pub const MAX_RAFT_NODES: usize = 15;

impl ClusterConfig {
    /// Checks sizes and values; `min_nodes` is the scenario's own floor.
    pub fn validate(&self, min_nodes: usize) -> Result<(), ScenarioError> {
        let bad = |m: String| Err(ScenarioError::Config(m));
        if !(min_nodes..=MAX_RAFT_NODES).contains(&self.nodes) {
            return bad(format!(
                "nodes = {} is impossible here ({min_nodes} to {MAX_RAFT_NODES} Raft nodes)",
                self.nodes
            ));
        }
        if self.clients > 16 || self.watchers > 4 {
            return bad(format!(
                "clients = {}, watchers = {} are too many (at most 16 clients and 4 watchers)",
                self.clients, self.watchers
            ));
        }
        if self.watch_resume_ms == 0 {
            return bad("watch_resume_ms must be more than zero".into());
        }
        if self.raft.tick_ms == 0 || self.raft.election_ticks == 0 || self.raft.heartbeat_ticks == 0
        {
            return bad(
                "raft.tick_ms, raft.election_ticks and raft.heartbeat_ticks must be more than zero"
                    .into(),
            );
        }
        if self.raft.heartbeat_ticks >= self.raft.election_ticks {
            return bad("raft.heartbeat_ticks must be below raft.election_ticks".into());
        }
        if self.raft.election_ticks_max != 0
            && self.raft.election_ticks_max < self.raft.election_ticks
        {
            return bad(format!(
                "raft.election_ticks_max = {} is below raft.election_ticks = {} (0 means 2 * election_ticks - 1)",
                self.raft.election_ticks_max, self.raft.election_ticks
            ));
        }
        if let Err(e) = self.client.validate() {
            return bad(format!("client: {e}"));
        }
        if self.net.latency.min_us > self.net.latency.max_us
            || !(0.0..=1.0).contains(&self.net.loss_probability)
        {
            return bad(
                "net.latency must be min_us <= max_us and net.loss_probability in [0, 1]".into(),
            );
        }
        if self.disk.fsync_min_us > self.disk.fsync_max_us {
            return bad("disk.fsync_min_us is above disk.fsync_max_us".into());
        }
        self.chaos
            .validate()
            .map_err(|e| ScenarioError::Config(format!("chaos: {e}")))
    }

    /// The extra faults this seed draws (empty unless `chaos` asks for episodes).
    pub fn chaos_faults(&self, seed: u64) -> FaultSchedule {
        self.chaos.generate_for(
            &self.all_nodes(),
            &self.servers(),
            self.net,
            &mut sim_core::rng::derive_rng(seed, "faults"),
        )
    }

    /// The Raft nodes.
    pub fn servers(&self) -> Vec<NodeId> {
        (0..self.nodes).map(NodeId::from_index).collect()
    }

    /// The watchers.
    pub fn watcher_ids(&self) -> Vec<NodeId> {
        (self.nodes + self.clients..self.nodes + self.clients + self.watchers)
            .map(NodeId::from_index)
            .collect()
    }

    /// The key-value clients.
    pub fn clients(&self) -> Vec<NodeId> {
        (self.nodes..self.nodes + self.clients)
            .map(NodeId::from_index)
            .collect()
    }

    /// The names and groups of the world's nodes: servers `etcd-1`, `etcd-2`, ... in
    /// [`SERVERS`], then clients `client-1`, ... in [`CLIENTS`], then watchers `watcher-1`,
    /// ... in [`WATCHERS`] (ids as [`ClusterConfig::all_nodes`]).
    pub fn directory(&self) -> Directory {
        let mut directory = Directory::new();
        for (prefix, group, count) in [
            ("etcd", SERVERS, self.nodes),
            ("client", CLIENTS, self.clients),
            ("watcher", WATCHERS, self.watchers),
        ] {
            directory
                .add_numbered_as(prefix, group, count)
                .expect("fixed, valid names");
        }
        directory
    }

    /// Every node: servers, then clients, then watchers.
    pub fn all_nodes(&self) -> Vec<NodeId> {
        (0..self.nodes + self.clients + self.watchers)
            .map(NodeId::from_index)
            .collect()
    }

    /// The election timeout in milliseconds (the lower end of the randomized range).
    pub fn election_timeout_ms(&self) -> u64 {
        self.raft.tick_ms * self.raft.election_ticks
    }

    /// A world with this cluster's network, disk and online checks, and `faults`; the
    /// nodes are the caller's to add.
    pub fn sim(&self, seed: u64, faults: &FaultSchedule) -> Sim<RaftMsg> {
        let sim = Sim::new(seed)
            .network(self.net)
            .disk(self.disk)
            .faults(faults.clone());
        if self.stop_at_first_violation {
            let mut checks = raft::checks::online_safety_checks();
            checks.extend(sim_core::checks::online_checks());
            sim.stop_at_first_violation(checks)
        } else {
            sim
        }
    }

    /// Runs the cluster with `mutants` and `faults`; `driver` is the scenario's supervisor.
    /// The clients run the random key-value workload.
    pub fn run<T, D, Fut>(
        &self,
        seed: u64,
        mutants: &[String],
        faults: &FaultSchedule,
        driver: D,
    ) -> Result<RunOutput<T>, ScenarioError>
    where
        D: FnOnce(World<RaftMsg>) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let config = self.client.clone();
        self.run_full(
            self.nodes,
            seed,
            mutants,
            faults,
            move |client, _| run_kv_client(client, config.clone()),
            |world, _| driver(world),
        )
    }

    /// As [`ClusterConfig::run`], with the scenario's own client script: `client(etcd
    /// client, i)` runs on the `i`-th client node.
    pub fn run_with<T, D, Fut, C, CFut>(
        &self,
        seed: u64,
        mutants: &[String],
        faults: &FaultSchedule,
        client: C,
        driver: D,
    ) -> Result<RunOutput<T>, ScenarioError>
    where
        D: FnOnce(World<RaftMsg>) -> Fut,
        Fut: std::future::Future<Output = T>,
        C: Fn(EtcdClient, usize) -> CFut + Clone + Send + Sync + 'static,
        CFut: std::future::Future<Output = ()> + 'static,
    {
        self.run_with_founders(self.nodes, seed, mutants, faults, client, driver)
    }

    /// As [`ClusterConfig::run_with`], but only the first `founders` Raft nodes form the
    /// cluster; the others start outside it (they know the founders' configuration, are
    /// not in it, and so never campaign) until a membership change adds them.
    pub fn run_with_founders<T, D, Fut, C, CFut>(
        &self,
        founders: usize,
        seed: u64,
        mutants: &[String],
        faults: &FaultSchedule,
        client: C,
        driver: D,
    ) -> Result<RunOutput<T>, ScenarioError>
    where
        D: FnOnce(World<RaftMsg>) -> Fut,
        Fut: std::future::Future<Output = T>,
        C: Fn(EtcdClient, usize) -> CFut + Clone + Send + Sync + 'static,
        CFut: std::future::Future<Output = ()> + 'static,
    {
        self.run_full(founders, seed, mutants, faults, client, |world, _| {
            driver(world)
        })
    }

    /// The one way to run the cluster: the first `founders` nodes as the founding
    /// members, client scripts, and a supervisor with the live server settings.
    pub fn run_full<T, D, Fut, C, CFut>(
        &self,
        founders: usize,
        seed: u64,
        mutants: &[String],
        faults: &FaultSchedule,
        client: C,
        driver: D,
    ) -> Result<RunOutput<T>, ScenarioError>
    where
        D: FnOnce(World<RaftMsg>, LiveDriverConfig) -> Fut,
        Fut: std::future::Future<Output = T>,
        C: Fn(EtcdClient, usize) -> CFut + Clone + Send + Sync + 'static,
        CFut: std::future::Future<Output = ()> + 'static,
    {
        let mut planted = RaftMutants::default();
        for name in mutants {
            assert!(
                planted.enable(name),
                "mutant names are checked before the run"
            );
        }
        let live = LiveDriverConfig {
            config: Arc::new(Mutex::new(self.raft.clone())),
            mutants: planted,
        };
        live.set(self.raft.clone());
        let servers = self.servers();
        let mut sim = self.sim(seed, faults);
        let cfg = live.clone();
        let voters: Vec<NodeId> = servers.iter().copied().take(founders.max(1)).collect();
        let directory = self.directory();
        let name_of = |id: NodeId| {
            let info = directory.get(id).expect("the directory lists every node");
            (info.name.clone(), info.group.clone())
        };
        for server in &servers {
            let (name, group) = name_of(*server);
            let (cfg, voters) = (cfg.clone(), voters.clone());
            sim = sim.named_node(&name, &group, move |ctx| {
                run_node::<EtcdStore, _>(ctx, cfg.get(), voters.clone())
            });
        }
        for (i, id) in self.clients().into_iter().enumerate() {
            let (config, servers, script) = (self.client.clone(), servers.clone(), client.clone());
            let (name, group) = name_of(id);
            sim = sim.named_node(&name, &group, move |ctx| {
                script(client_of(ctx, servers.clone(), &config), i)
            });
        }
        for id in self.watcher_ids() {
            let (config, servers) = (self.client.clone(), servers.clone());
            let resume_ms = self.watch_resume_ms;
            let (name, group) = name_of(id);
            sim = sim.named_node(&name, &group, move |ctx| {
                let client = client_of(ctx, servers.clone(), &config);
                run_watcher(client, config.start_ms, resume_ms)
            });
        }
        Ok(sim.run(move |world| driver(world, live))?)
    }
}

/// The Raft servers' settings as each incarnation reads them when it starts. A supervisor
/// that sets new ones and restarts the servers models an operator's rolling change of
/// flags (as `election-timing` does between timeout ranges). The planted bugs of the run
/// stay on whatever is set.
#[derive(Clone, Debug)]
pub struct LiveDriverConfig {
    // A mutex only because madsim's node init closures must be `Sync`: madsim runs every
    // task on one thread, so it is never contended.
    config: Arc<Mutex<DriverConfig>>,
    mutants: RaftMutants,
}

impl LiveDriverConfig {
    /// The settings a server starting now gets.
    pub fn get(&self) -> DriverConfig {
        self.config
            .lock()
            .expect("never poisoned: one thread")
            .clone()
    }

    /// Sets what servers get from their next start on (the run's planted bugs kept).
    pub fn set(&self, mut config: DriverConfig) {
        config.mutants = self.mutants;
        *self.config.lock().expect("never poisoned: one thread") = config;
    }
}

/// Judges a run with the Raft safety checks, `extra` checks, and liveness with `bound_ms`.
pub fn judge<T>(
    out: &RunOutput<T>,
    liveness_bound_ms: Option<u64>,
    extra: &[&dyn Check],
) -> Verdict {
    let view = RunView {
        seed: out.seed,
        nodes: &out.nodes,
        trace: &out.trace,
        history: &out.history,
    };
    let safety = safety_checks();
    let (acked, reads, watches, linearizable) = (
        raft::checks::AckedWritesSurvive,
        raft::checks::ReadsNotStale,
        WatchNoGap,
        sim_core::checks::LinearizableKv::default(),
    );
    let mut checks: Vec<&dyn Check> = safety.iter().map(|c| c.as_ref()).collect();
    checks.push(&acked);
    checks.push(&reads);
    checks.push(&watches);
    checks.push(&linearizable);
    let liveness = liveness_bound_ms.map(|bound_ms| LeaderAfterHeal { bound_ms });
    if let Some(l) = &liveness {
        checks.push(l);
    }
    checks.extend_from_slice(extra);
    Verdict::judge_until(&view, &checks, out.stopped.as_ref())
}

/// A supervisor's view of the cluster, kept up to date as the run goes: each poll folds
/// only the events recorded since the last one into one [`ClusterView`] (it used to fold
/// the whole trace again at every poll).
#[derive(Debug)]
pub struct ClusterWatch {
    world: World<RaftMsg>,
    cursor: TraceCursor,
    view: ClusterView,
}

impl ClusterWatch {
    /// A watch on `world` that has read nothing yet.
    pub fn new(world: &World<RaftMsg>) -> Self {
        ClusterWatch {
            world: world.clone(),
            cursor: TraceCursor::start(),
            view: ClusterView::new(),
        }
    }

    /// The view, caught up with the trace so far.
    pub fn view(&mut self) -> &ClusterView {
        self.world.observe(&mut self.cursor, &mut self.view);
        &self.view
    }

    /// The node leading the highest term, if it is up, and that term.
    pub fn leader(&mut self) -> Option<(NodeId, u64)> {
        self.view().leader()
    }

    /// Waits (polling every `poll_ms`) until a leader is up, or until `deadline`.
    pub async fn wait_for_leader(
        &mut self,
        poll_ms: u64,
        deadline: SimTime,
    ) -> Option<(NodeId, u64)> {
        loop {
            if let Some(found) = self.leader() {
                return Some(found);
            }
            if self.world.now() >= deadline {
                return None;
            }
            self.world
                .sleep(std::time::Duration::from_millis(poll_ms))
                .await;
        }
    }
}

/// The leader of the highest term as of time `t` (a crash ends a role), from `events`.
pub fn leader_at(events: &[TraceEvent], t: SimTime) -> Option<(NodeId, u64)> {
    ClusterView::at(events, t).leader_by_role()
}

/// Virtual time in milliseconds, for the scenarios' data files.
pub fn ms(t: SimTime) -> f64 {
    t.as_us() as f64 / 1000.0
}

/// Every leadership period of a run: (node, term, elected at, ended at or None), as
/// [`ClusterView::periods`] gives them, in the tuple the scenarios' analyses destructure.
pub fn leader_periods(events: &[TraceEvent]) -> Vec<(NodeId, u64, SimTime, Option<SimTime>)> {
    ClusterView::of(events)
        .periods()
        .iter()
        .map(|p| (p.node, p.term, p.from, p.to))
        .collect()
}
