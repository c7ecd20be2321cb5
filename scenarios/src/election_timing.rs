//! `election-timing`: the Raft paper's Figure 16 (Ongaro & Ousterhout 2014, §9.3). Five
//! servers; the leader is crashed again and again, and each time the scenario measures how
//! long the others take to elect a new one, for a series of election-timeout ranges.
//!
//! # One trial
//!
//! 1. *Settle*: every server is up, one leads and has committed an entry of its term, the
//!    others follow it in that term, and every server's durable log reaches the leader's
//!    commit index.
//! 2. *Crash*: the leader's heartbeats go out every `heartbeat_ms` (half the minimum
//!    election timeout, as in the paper), so the followers' timers start together; the
//!    leader is killed at a uniformly random moment inside the heartbeat interval that
//!    begins with one of its heartbeats (`u` in `(0, heartbeat_ms)` after it).
//! 3. *Elect*: the election time is from the kill to the first `Role = Leader` event, in a
//!    higher term, on another server. `rounds` is that term minus the term at the crash:
//!    more than one round means a split vote or a candidate without an up-to-date log.
//! 4. *Restart* the old leader, and go to 1.
//!
//! The ranges run one after the other in one simulation: between ranges the supervisor sets
//! the new timeouts and restarts every server (an operator's change of flags), so one trace,
//! one history and one set of Raft checks cover the whole run.
//!
//! # Different log lengths
//!
//! The paper gave servers different log lengths so that some candidates cannot win. Here
//! one client writes continuously (every `cluster.client.interval_ms`, compacting etcd's
//! history as it goes so ten thousand restarts stay cheap), so the leader often has
//! AppendEntries in flight when it dies. A crashed host's last packets reach some
//! peers and not others: at the kill, the link from the leader to each follower is cut
//! (with `cut_in_flight_probability`), which drops what was in flight on it. The followers
//! whose link was not cut get the last entries; the others do not, and lose the vote
//! against them. `election_timing.json` counts the trials whose survivors had unequal
//! logs when the new leader was elected.
//!
//! # Latency model
//!
//! One-way message latency is uniform in `cluster.net.latency` (default 4 to 8 ms), and
//! every vote and append waits for an fsync (uniform in `cluster.disk`, default 0.5 to
//! 2 ms) before it is answered. A broadcast (send to all four followers, wait for all
//! answers) thus takes 9 to 20 ms, about 15 ms: the paper's "broadcast time of roughly
//! 15 ms". The latency is the same for every range, not scaled: for 12-24 ms the timeout
//! is barely above the broadcast time, which is the paper's point about that range (fast,
//! but close to violating `broadcastTime << electionTimeout`).
//!
//! # Ticks
//!
//! Ticks are 1 ms, so a range in milliseconds maps to ticks one to one and 150-151 is two
//! values. Each timeout is drawn uniformly from `[min, max]` ticks, both ends inclusive.
//! A server counts whole ticks from when it last heard the leader, and each server ticks at
//! its own phase, so a drawn timeout of `T` ticks fires between `T - 1` and `T` ms after
//! the heartbeat: 150-150 is in effect 149-150 ms, with no other randomness.
//!
//! # Cost
//!
//! The default run (10 ranges x 1000 trials, about 5,200 s of virtual time) takes about
//! 45 s of CPU in release and writes a trace of about 6 million events (700 MB of
//! `trace.jsonl`); `trials = 100` gives a first look in a tenth of that.
//!
//! Pre-vote and check-quorum are off by default: the paper's implementation (LogCabin) had
//! neither, and check-quorum would make followers ignore a candidate for a minimum timeout
//! after their last heartbeat, which is not what Figure 16 measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use raft::driver::DriverConfig;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, EventKind, Evidence, FaultOp, FaultSchedule, LatencyRange, NodeId,
    NodeStatus, Outcome, Role, RunView, SimTime, World,
};

use crate::raft_world::{judge, ClusterConfig, LiveDriverConfig, RaftMsg};
use crate::scenario::{config_table, parse_config, RunInput, Scenario, ScenarioError, ScenarioRun};

/// One election-timeout range, in milliseconds, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutRangeMs {
    /// Shortest timeout.
    pub min_ms: u64,
    /// Longest timeout.
    pub max_ms: u64,
}

impl TimeoutRangeMs {
    const fn new(min_ms: u64, max_ms: u64) -> Self {
        TimeoutRangeMs { min_ms, max_ms }
    }
}

/// The ranges of Figure 16: the top graph (150 ms plus growing randomness), then the bottom
/// one (smaller timeouts with a range as wide as the minimum).
pub const FIGURE_16_RANGES: [TimeoutRangeMs; 10] = [
    TimeoutRangeMs::new(150, 150),
    TimeoutRangeMs::new(150, 151),
    TimeoutRangeMs::new(150, 155),
    TimeoutRangeMs::new(150, 175),
    TimeoutRangeMs::new(150, 200),
    TimeoutRangeMs::new(150, 300),
    TimeoutRangeMs::new(12, 24),
    TimeoutRangeMs::new(25, 50),
    TimeoutRangeMs::new(50, 100),
    TimeoutRangeMs::new(100, 200),
];

/// The election-timing scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElectionTimingConfig {
    /// The cluster: 5 servers, 1 ms ticks, one writing client. Its `raft.election_ticks`,
    /// `raft.election_ticks_max` and `raft.heartbeat_ticks` are set from each range (a
    /// value given here is refused unless it is the default).
    pub cluster: ClusterConfig,
    /// The election-timeout ranges, measured in this order.
    pub ranges: Vec<TimeoutRangeMs>,
    /// Trials (leader crashes) per range. The paper ran 1000 (100 for 150-150).
    pub trials: u64,
    /// At a crash, each follower's link from the dead leader is cut with this probability,
    /// dropping the leader's last messages in flight to it (see the module docs).
    pub cut_in_flight_probability: f64,
    /// A trial must elect a new leader within this many maximum election timeouts of the
    /// crash (`every-trial-elects`); after it, the trial is given up.
    pub bound_election_timeouts: u64,
}

impl Default for ElectionTimingConfig {
    fn default() -> Self {
        let base = ClusterConfig::default();
        ElectionTimingConfig {
            cluster: ClusterConfig {
                nodes: 5,
                clients: 1,
                raft: DriverConfig {
                    tick_ms: 1,
                    pre_vote: false,
                    check_quorum: false,
                    ..base.raft.clone()
                },
                client: raft::etcd::KvClientConfig {
                    start_ms: 500,
                    interval_ms: 20,
                    timeout_ms: 300,
                    attempt_timeout_ms: 300,
                    retry_ms: 10,
                    read_probability: 0.0,
                    cas_probability: 0.0,
                    delete_probability: 0.0,
                    ..base.client.clone()
                },
                net: sim_core::NetConfig {
                    latency: LatencyRange::ms(4, 8),
                    loss_probability: 0.0,
                },
                ..base
            },
            ranges: FIGURE_16_RANGES.to_vec(),
            trials: 1_000,
            cut_in_flight_probability: 0.5,
            bound_election_timeouts: 100,
        }
    }
}

impl ElectionTimingConfig {
    fn parse(table: &toml::Table) -> Result<Self, ScenarioError> {
        let c: ElectionTimingConfig = parse_config(table)?;
        let bad = |m: String| Err(ScenarioError::Config(m));
        let defaults = DriverConfig::default();
        if (
            c.cluster.raft.election_ticks,
            c.cluster.raft.election_ticks_max,
            c.cluster.raft.heartbeat_ticks,
        ) != (
            defaults.election_ticks,
            defaults.election_ticks_max,
            defaults.heartbeat_ticks,
        ) {
            return bad(
                "cluster.raft.election_ticks, election_ticks_max and heartbeat_ticks come from `ranges`; leave them out"
                    .into(),
            );
        }
        if c.ranges.is_empty() || c.trials == 0 || c.bound_election_timeouts == 0 {
            return bad(
                "ranges, trials and bound_election_timeouts must not be empty or zero".into(),
            );
        }
        if !(0.0..=1.0).contains(&c.cut_in_flight_probability) {
            return bad("cut_in_flight_probability must be between 0 and 1".into());
        }
        let tick = c.cluster.raft.tick_ms.max(1);
        for r in &c.ranges {
            if r.max_ms < r.min_ms
                || r.min_ms % tick != 0
                || r.max_ms % tick != 0
                || r.min_ms / tick < 2
            {
                return bad(format!(
                    "range {}-{} ms: it needs min_ms <= max_ms, both multiples of tick_ms = {tick}, \
                     and at least two ticks of minimum (the heartbeat is half of it)",
                    r.min_ms, r.max_ms
                ));
            }
        }
        for r in &c.ranges {
            let mut cluster = c.cluster.clone();
            cluster.raft = c.driver_config(*r);
            cluster.validate(3)?;
        }
        Ok(c)
    }

    /// The servers' settings for `range`.
    fn driver_config(&self, range: TimeoutRangeMs) -> DriverConfig {
        let tick = self.cluster.raft.tick_ms.max(1);
        let election_ticks = range.min_ms / tick;
        DriverConfig {
            election_ticks,
            election_ticks_max: range.max_ms / tick,
            heartbeat_ticks: (election_ticks / 2).max(1),
            ..self.cluster.raft.clone()
        }
    }

    /// The heartbeat interval of `range`, milliseconds.
    fn heartbeat_ms(&self, range: TimeoutRangeMs) -> u64 {
        self.driver_config(range).heartbeat_ticks * self.cluster.raft.tick_ms.max(1)
    }

    fn bound_ms(&self, range: TimeoutRangeMs) -> u64 {
        self.bound_election_timeouts * range.max_ms
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct ElectionTiming;

/// One leader crash and what followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trial {
    /// Index into the config's ranges.
    pub range: usize,
    /// Trial number within its range, from 0.
    pub trial: u64,
    /// The crashed leader.
    pub leader: NodeId,
    /// When it was killed.
    pub crashed_at: SimTime,
    /// Its last heartbeat broadcast before the kill.
    pub heartbeat_at: SimTime,
    /// The highest term any server had at the kill.
    pub term_at_crash: u64,
    /// The next leader: node, term, and when it took office (none within the bound).
    pub elected: Option<(NodeId, u64, SimTime)>,
    /// Whether the surviving servers' logs differed when the next leader took office.
    pub unequal_logs: bool,
}

impl Trial {
    /// Microseconds from the kill to the next leader.
    pub fn election_us(&self) -> Option<u64> {
        self.elected
            .map(|(_, _, t)| t.as_us() - self.crashed_at.as_us())
    }

    /// Election rounds (terms) it took; 1 is a clean election.
    pub fn rounds(&self) -> Option<u64> {
        self.elected.map(|(_, term, _)| term - self.term_at_crash)
    }
}

/// What the supervisor did: the trials, and ranges cut short because the cluster never
/// settled (their missing trials fail `every-trial-elects`).
#[derive(Clone, Debug, Default)]
struct Story {
    trials: Vec<Trial>,
    unsettled: Vec<(usize, SimTime)>,
}

/// Revisions the writer keeps when it compacts.
const KEEP_REVISIONS: u64 = 100;

/// Puts this many between compactions.
const PUTS_PER_COMPACTION: u64 = 200;

/// The write load that makes the servers' logs differ: puts on a few keys every
/// `interval_ms`. Every [`PUTS_PER_COMPACTION`] acknowledged puts it compacts the store to
/// the last [`KEEP_REVISIONS`] revisions, as kube-apiserver's compactor keeps etcd's
/// history short: without it the MVCC history (and so every snapshot a restarted server
/// decodes) grows with the run, and ten thousand restarts cost time quadratic in the run.
async fn compacting_writer(mut client: raft::etcd::EtcdClient, config: raft::etcd::KvClientConfig) {
    client
        .session()
        .sleep(Duration::from_millis(config.start_ms))
        .await;
    let me = client.ctx().id();
    let keys = config.keys.max(1) as u64;
    let mut acked = 0u64;
    for seq in 0u64.. {
        let key = raft::etcd::workload::key_name((seq % keys) as usize);
        if let Ok(revision) = client.put(&key, &format!("{me}-{seq}")).await {
            acked += 1;
            if acked % PUTS_PER_COMPACTION == 0 && revision.0 > KEEP_REVISIONS {
                let _ = client
                    .compact(raft::etcd::Revision(revision.0 - KEEP_REVISIONS))
                    .await;
            }
        }
        client
            .session()
            .sleep(Duration::from_millis(config.interval_ms))
            .await;
    }
}

impl Scenario for ElectionTiming {
    fn name(&self) -> &'static str {
        "election-timing"
    }

    fn summary(&self) -> &'static str {
        "Raft paper Figure 16: 5 servers, the leader crashed over and over; time to elect a new one for each election-timeout range"
    }

    fn resolve_config(&self, config: &toml::Table) -> Result<toml::Table, ScenarioError> {
        Ok(config_table(&ElectionTimingConfig::parse(config)?))
    }

    fn nodes(&self, config: &toml::Table) -> Result<Vec<NodeId>, ScenarioError> {
        Ok(ElectionTimingConfig::parse(config)?.cluster.all_nodes())
    }

    fn generate_faults(
        &self,
        seed: u64,
        config: &toml::Table,
    ) -> Result<FaultSchedule, ScenarioError> {
        // The crashes follow the leader, so the supervisor applies them as it goes.
        Ok(ElectionTimingConfig::parse(config)?
            .cluster
            .chaos_faults(seed))
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(&self, input: &RunInput<'_>) -> Result<ScenarioRun, ScenarioError> {
        let config = ElectionTimingConfig::parse(input.config)?;
        let mut cluster = config.cluster.clone();
        cluster.raft = config.driver_config(config.ranges[0]);
        let c = config.clone();
        let seed = input.seed;
        let writes = config.cluster.client.clone();
        let out = cluster.run_full(
            cluster.nodes,
            input.seed,
            input.mutants,
            input.faults,
            move |client, _| compacting_writer(client, writes.clone()),
            |world, live| supervise(world, live, c, seed),
        )?;
        let story = &out.value;
        let elects = EveryTrialElects {
            trials: &story.trials,
            unsettled: &story.unsettled,
            ranges: &config.ranges,
            trials_per_range: config.trials,
            bounds_ms: config.ranges.iter().map(|r| config.bound_ms(*r)).collect(),
        };
        let last = *config.ranges.last().expect("ranges are not empty");
        let verdict = judge(&out, Some(config.bound_ms(last)), &[&elects]);
        let data = vec![
            (
                "election_times.csv".to_string(),
                election_times_csv(&config.ranges, &story.trials).into_bytes(),
            ),
            (
                "election_timing.json".to_string(),
                serde_json::to_vec_pretty(&summary(&config, input.seed, &story.trials))
                    .expect("data serializes"),
            ),
        ];
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data,
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}

/// The supervisor: every range in turn, `trials` crashes each.
async fn supervise(
    world: World<RaftMsg>,
    live: LiveDriverConfig,
    config: ElectionTimingConfig,
    seed: u64,
) -> Story {
    let mut rng = sim_core::rng::derive_rng(seed, "election-timing");
    let mut watch = Watch::new(config.cluster.servers());
    let tick = Duration::from_millis(config.cluster.raft.tick_ms.max(1));
    let mut story = Story::default();
    for (index, range) in config.ranges.iter().enumerate() {
        world.note(
            None,
            "timeout-range",
            format!("{}-{} ms", range.min_ms, range.max_ms),
        );
        if index > 0 {
            // New flags: restart every server with them.
            live.set(config.driver_config(*range));
            for &s in &watch.servers {
                world.apply(&FaultOp::Restart { node: s });
            }
        }
        let heartbeat_us = config.heartbeat_ms(*range) * 1000;
        let bound = Duration::from_millis(config.bound_ms(*range));
        let mut trial = 0;
        while trial < config.trials {
            // 1. Settle (a cluster that cannot settle within the bound ends the range).
            let give_up = world.now().after(bound);
            let settled = loop {
                watch.update(&world);
                if let Some(found) = watch.settled(&world) {
                    break Some(found);
                }
                if world.now() >= give_up {
                    break None;
                }
                world.sleep(tick).await;
            };
            let Some((leader, _)) = settled else {
                story.unsettled.push((index, world.now()));
                break;
            };
            // 2. Crash at a uniform moment in a heartbeat interval that starts with one of
            //    the leader's heartbeats (the next whole interval from now on).
            let last_hb = watch.last_heartbeat[&leader].as_us();
            let now = world.now().as_us();
            let periods = (now - last_hb) / heartbeat_us + 1;
            let heartbeat_at = SimTime(last_hb + periods * heartbeat_us);
            let crash_at = SimTime(heartbeat_at.as_us() + rng.gen_range(1..heartbeat_us));
            world.sleep_until(crash_at).await;
            watch.update(&world);
            if watch.settled(&world).map(|s| s.0) != Some(leader)
                || watch.last_heartbeat[&leader] != heartbeat_at
            {
                // Leadership moved or the heartbeat did not go out as expected: this crash
                // would not be the experiment's; settle again.
                continue;
            }
            let term_at_crash = watch.max_term;
            world.apply(&FaultOp::Kill { node: leader });
            let mut cut = Vec::new();
            for &f in watch.servers.iter().filter(|s| **s != leader) {
                if rng.gen_bool(config.cut_in_flight_probability) {
                    world.apply(&FaultOp::CutLink {
                        from: leader,
                        to: f,
                    });
                    cut.push(f);
                }
            }
            // 3. Wait for the next leader.
            watch.expect_leader(leader, term_at_crash);
            let deadline = crash_at.after(bound);
            loop {
                watch.update(&world);
                if watch.elected.is_some() || world.now() >= deadline {
                    break;
                }
                world.sleep(tick).await;
            }
            story.trials.push(Trial {
                range: index,
                trial,
                leader,
                crashed_at: crash_at,
                heartbeat_at,
                term_at_crash,
                elected: watch.elected.take(),
                unequal_logs: watch.unequal_logs,
            });
            watch.expect = None;
            // 4. Restart the old leader.
            for f in cut {
                world.apply(&FaultOp::RestoreLink {
                    from: leader,
                    to: f,
                });
            }
            world.apply(&FaultOp::Restart { node: leader });
            trial += 1;
        }
    }
    // Leave `leader-after-heal` its bound after the last restart.
    let last = *config.ranges.last().expect("ranges are not empty");
    world
        .sleep(Duration::from_millis(config.bound_ms(last) + 100))
        .await;
    story
}

/// The supervisor's view of the cluster, read incrementally from the trace.
struct Watch {
    servers: Vec<NodeId>,
    /// Trace events already read.
    cursor: usize,
    /// Each live server's role and term.
    roles: BTreeMap<NodeId, (Role, u64)>,
    max_term: u64,
    /// Last durable log index of each server.
    last_index: BTreeMap<NodeId, u64>,
    /// Commit index of each server, and the term of the entry there.
    commit: BTreeMap<NodeId, (u64, u64)>,
    /// Each server's last heartbeat broadcast (the time of its first heartbeat send).
    last_heartbeat: BTreeMap<NodeId, SimTime>,
    /// While a trial runs: the crashed leader and the term at the crash.
    expect: Option<(NodeId, u64)>,
    elected: Option<(NodeId, u64, SimTime)>,
    unequal_logs: bool,
}

impl Watch {
    fn new(servers: Vec<NodeId>) -> Self {
        Watch {
            servers,
            cursor: 0,
            roles: BTreeMap::new(),
            max_term: 0,
            last_index: BTreeMap::new(),
            commit: BTreeMap::new(),
            last_heartbeat: BTreeMap::new(),
            expect: None,
            elected: None,
            unequal_logs: false,
        }
    }

    fn expect_leader(&mut self, crashed: NodeId, term: u64) {
        self.expect = Some((crashed, term));
        self.elected = None;
        self.unequal_logs = false;
    }

    /// Reads the events recorded since the last call.
    fn update(&mut self, world: &World<RaftMsg>) {
        world.with_trace(|events| {
            for e in &events[self.cursor..] {
                let Some(n) = e.node else { continue };
                match &e.kind {
                    EventKind::Role { role, term, .. } => {
                        self.roles.insert(n, (*role, *term));
                        self.max_term = self.max_term.max(*term);
                        if let Some((crashed, at_crash)) = self.expect {
                            if *role == Role::Leader
                                && *term > at_crash
                                && n != crashed
                                && self.elected.is_none()
                            {
                                self.elected = Some((n, *term, e.t_us));
                                let mut survivors = self
                                    .servers
                                    .iter()
                                    .filter(|s| **s != crashed)
                                    .map(|s| self.last_index.get(s).copied().unwrap_or(0));
                                let first = survivors.next();
                                self.unequal_logs = survivors.any(|i| Some(i) != first);
                            }
                        }
                    }
                    EventKind::NodeCrash { .. } => {
                        self.roles.remove(&n);
                    }
                    EventKind::LogAppend { entries } => {
                        if let Some(last) = entries.last() {
                            self.last_index.insert(n, last.index);
                        }
                    }
                    EventKind::LogTruncate { from_index } => {
                        let last = self.last_index.entry(n).or_insert(0);
                        *last = (*last).min(from_index.saturating_sub(1));
                    }
                    EventKind::Snapshot {
                        index,
                        installed: true,
                        ..
                    } => {
                        let last = self.last_index.entry(n).or_insert(0);
                        *last = (*last).max(*index);
                    }
                    EventKind::Commit { index, term } => {
                        self.commit.insert(n, (*index, *term));
                    }
                    EventKind::Send { kind, .. } if kind == "heartbeat" => {
                        // One broadcast is several sends at the same instant.
                        self.last_heartbeat.insert(n, e.t_us);
                    }
                    _ => {}
                }
            }
            self.cursor = events.len();
        });
    }

    /// The leader and its term if the cluster is settled: every server up, one leader
    /// that has sent heartbeats and committed an entry in its term, everyone else
    /// following it in that term, and every server's durable log reaching the leader's
    /// commit index.
    fn settled(&self, world: &World<RaftMsg>) -> Option<(NodeId, u64)> {
        if self
            .servers
            .iter()
            .any(|s| world.status(*s) != NodeStatus::Up)
        {
            return None;
        }
        let (leader, term) = self
            .roles
            .iter()
            .filter(|(_, (role, _))| *role == Role::Leader)
            .max_by_key(|(_, (_, term))| *term)
            .map(|(n, (_, term))| (*n, *term))?;
        // The leader has committed an entry of its own term (so the last election's
        // leftovers are settled) and every log reaches that far.
        let (commit, commit_term) = self.commit.get(&leader).copied().unwrap_or((0, 0));
        let all_follow = self
            .servers
            .iter()
            .all(|s| *s == leader || self.roles.get(s) == Some(&(Role::Follower, term)));
        let caught_up = self
            .servers
            .iter()
            .all(|s| self.last_index.get(s).copied().unwrap_or(0) >= commit);
        (all_follow
            && caught_up
            && commit_term == term
            && self.last_heartbeat.contains_key(&leader))
        .then_some((leader, term))
    }
}

/// `election_times.csv`: one row per trial that elected a leader.
pub fn election_times_csv(ranges: &[TimeoutRangeMs], trials: &[Trial]) -> String {
    let mut csv = String::from("timeout_min_ms,timeout_max_ms,trial,election_ms\n");
    for t in trials {
        let Some(us) = t.election_us() else { continue };
        let r = ranges[t.range];
        let _ = writeln!(
            csv,
            "{},{},{},{}.{:03}",
            r.min_ms,
            r.max_ms,
            t.trial,
            us / 1000,
            us % 1000
        );
    }
    csv
}

/// `election_timing.json`.
#[derive(Debug, Serialize)]
struct Summary {
    seed: u64,
    trials_per_range: u64,
    latency_model: LatencyModel,
    ranges: Vec<RangeSummary>,
}

#[derive(Debug, Serialize)]
struct LatencyModel {
    description: String,
    one_way_latency_min_ms: f64,
    one_way_latency_max_ms: f64,
    fsync_min_ms: f64,
    fsync_max_ms: f64,
    tick_ms: u64,
    cut_in_flight_probability: f64,
    client_write_interval_ms: u64,
}

#[derive(Debug, Serialize)]
struct RangeSummary {
    timeout_min_ms: u64,
    timeout_max_ms: u64,
    heartbeat_ms: u64,
    liveness_bound_ms: u64,
    trials: usize,
    elected: usize,
    median_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    mean_ms: Option<f64>,
    /// Trials that took more than one election round (split votes, or a candidate without
    /// the longest log).
    multi_round_trials: usize,
    max_rounds: Option<u64>,
    /// Trials whose surviving servers had logs of different lengths at the election.
    unequal_log_trials: usize,
}

fn summary(config: &ElectionTimingConfig, seed: u64, trials: &[Trial]) -> Summary {
    let net = config.cluster.net.latency;
    let disk = config.cluster.disk;
    let ms = |us: u64| us as f64 / 1000.0;
    let latency_model = LatencyModel {
        description: format!(
            "one-way latency uniform in [{}, {}] ms per message, fsync uniform in [{}, {}] ms \
             before every vote and append answer: a broadcast to 4 followers and back takes about \
             9-20 ms (the paper's ~15 ms); not scaled for the small ranges. At each crash the \
             dead leader's link to each follower is cut with probability {}, dropping its last \
             messages in flight, so survivors' logs can differ.",
            ms(net.min_us),
            ms(net.max_us),
            ms(disk.fsync_min_us),
            ms(disk.fsync_max_us),
            config.cut_in_flight_probability
        ),
        one_way_latency_min_ms: ms(net.min_us),
        one_way_latency_max_ms: ms(net.max_us),
        fsync_min_ms: ms(disk.fsync_min_us),
        fsync_max_ms: ms(disk.fsync_max_us),
        tick_ms: config.cluster.raft.tick_ms,
        cut_in_flight_probability: config.cut_in_flight_probability,
        client_write_interval_ms: config.cluster.client.interval_ms,
    };
    let ranges = config
        .ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let of_range: Vec<&Trial> = trials.iter().filter(|t| t.range == i).collect();
            let mut times: Vec<u64> = of_range.iter().filter_map(|t| t.election_us()).collect();
            times.sort_unstable();
            let pick = |q: f64| percentile(&times, q).map(ms);
            RangeSummary {
                timeout_min_ms: r.min_ms,
                timeout_max_ms: r.max_ms,
                heartbeat_ms: config.heartbeat_ms(*r),
                liveness_bound_ms: config.bound_ms(*r),
                trials: of_range.len(),
                elected: times.len(),
                median_ms: pick(0.5),
                p90_ms: pick(0.9),
                p99_ms: pick(0.99),
                max_ms: times.last().copied().map(ms),
                mean_ms: (!times.is_empty())
                    .then(|| ms(times.iter().sum::<u64>() / times.len() as u64)),
                multi_round_trials: of_range
                    .iter()
                    .filter(|t| t.rounds().is_some_and(|n| n > 1))
                    .count(),
                max_rounds: of_range.iter().filter_map(|t| t.rounds()).max(),
                unequal_log_trials: of_range.iter().filter(|t| t.unequal_logs).count(),
            }
        })
        .collect();
    Summary {
        seed,
        trials_per_range: config.trials,
        latency_model,
        ranges,
    }
}

/// The nearest-rank `q` quantile of sorted `values`.
fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `every-trial-elects` (liveness): every trial of every range ran, and each elected a new
/// leader within its bound of the crash.
struct EveryTrialElects<'a> {
    trials: &'a [Trial],
    unsettled: &'a [(usize, SimTime)],
    ranges: &'a [TimeoutRangeMs],
    trials_per_range: u64,
    bounds_ms: Vec<u64>,
}

impl Check for EveryTrialElects<'_> {
    fn name(&self) -> &'static str {
        "every-trial-elects"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let label = |i: usize| format!("{}-{} ms", self.ranges[i].min_ms, self.ranges[i].max_ms);
        let mut problems: Vec<Evidence> = Vec::new();
        for &(i, at) in self.unsettled {
            problems.push(Evidence::note(format!(
                "range {}: the cluster did not settle by {at}; the range stopped early",
                label(i)
            )));
        }
        for (i, _) in self.ranges.iter().enumerate() {
            let ran = self.trials.iter().filter(|t| t.range == i).count() as u64;
            if ran < self.trials_per_range {
                problems.push(Evidence::note(format!(
                    "range {}: {ran} of {} trials ran",
                    label(i),
                    self.trials_per_range
                )));
            }
        }
        for t in self.trials {
            let bound_us = self.bounds_ms[t.range] * 1000;
            match t.election_us() {
                Some(us) if us <= bound_us => {}
                Some(us) => problems.push(Evidence::note(format!(
                    "range {} trial {}: {} crashed at {}, next leader after {} ms (bound {} ms)",
                    label(t.range),
                    t.trial,
                    t.leader,
                    t.crashed_at,
                    us / 1000,
                    bound_us / 1000
                ))),
                None => problems.push(Evidence::note(format!(
                    "range {} trial {}: {} crashed at {}, no new leader within {} ms",
                    label(t.range),
                    t.trial,
                    t.leader,
                    t.crashed_at,
                    bound_us / 1000
                ))),
            }
        }
        if problems.is_empty() {
            return Outcome::Pass;
        }
        let count = problems.len();
        problems.truncate(10);
        Outcome::violation(
            format!("{count} trial(s) or range(s) without a timely new leader"),
            problems,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(range: usize, n: u64, election_ms: Option<u64>) -> Trial {
        let crashed_at = SimTime::from_ms(1_000 + n * 1_000);
        Trial {
            range,
            trial: n,
            leader: NodeId(0),
            crashed_at,
            heartbeat_at: crashed_at,
            term_at_crash: 2,
            elected: election_ms
                .map(|ms| (NodeId(1), 3, crashed_at.after(Duration::from_millis(ms)))),
            unequal_logs: false,
        }
    }

    #[test]
    fn late_missing_or_unrun_trials_fail_every_trial_elects() {
        let trace = sim_core::Trace::default();
        let history = sim_core::History::default();
        let view = RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &history,
        };
        let ranges = [TimeoutRangeMs::new(150, 300)];
        let judge = |trials: &[Trial], unsettled: &[(usize, SimTime)]| {
            EveryTrialElects {
                trials,
                unsettled,
                ranges: &ranges,
                trials_per_range: 2,
                bounds_ms: vec![3_000],
            }
            .check(&view)
        };
        assert!(judge(&[trial(0, 0, Some(200)), trial(0, 1, Some(3_000))], &[]).is_pass());
        assert!(!judge(&[trial(0, 0, Some(200)), trial(0, 1, Some(3_001))], &[]).is_pass());
        assert!(!judge(&[trial(0, 0, Some(200)), trial(0, 1, None)], &[]).is_pass());
        assert!(!judge(&[trial(0, 0, Some(200))], &[]).is_pass());
        assert!(!judge(
            &[trial(0, 0, Some(200)), trial(0, 1, Some(200))],
            &[(0, SimTime::ZERO)]
        )
        .is_pass());
    }

    #[test]
    fn the_csv_has_microsecond_precision_and_skips_trials_without_a_leader() {
        let ranges = [TimeoutRangeMs::new(150, 151)];
        let mut t = trial(0, 0, None);
        t.elected = Some((
            NodeId(2),
            3,
            t.crashed_at.after(Duration::from_micros(160_042)),
        ));
        let csv = election_times_csv(&ranges, &[t, trial(0, 1, None)]);
        assert_eq!(
            csv,
            "timeout_min_ms,timeout_max_ms,trial,election_ms\n150,151,0,160.042\n"
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn configs_with_impossible_ranges_are_refused() {
        let parse = |s: &str| ElectionTimingConfig::parse(&toml::from_str(s).unwrap());
        assert!(parse("").is_ok());
        assert!(parse("ranges = [{ min_ms = 150, max_ms = 150 }]").is_ok());
        assert!(parse("ranges = [{ min_ms = 150, max_ms = 149 }]").is_err());
        assert!(parse("ranges = []").is_err());
        assert!(parse("ranges = [{ min_ms = 1, max_ms = 2 }]").is_err());
        assert!(parse("[cluster.raft]\nelection_ticks = 20\n").is_err());
    }
}
