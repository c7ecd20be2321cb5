//! `fault-tolerance-table`: how many failed members an etcd cluster survives, measured.
//!
//! For every cluster size N (1 to 7 by default) and every number f of killed members (0 to
//! N), one short cluster runs: a leader is elected, clients write for a while, then f
//! members die at the same instant (the leader first, so the survivors must also elect),
//! and the run measures whether writes invoked after the kills still commit. Raft commits
//! on a majority, so writes stay available exactly while `N - f >= quorum = N/2 + 1`: the
//! cluster tolerates `(N - 1)/2` failures. The table also shows why an even N buys
//! nothing: 4 members tolerate one failure, as 3 do, and 6 tolerate two, as 5 do, while
//! every extra member adds a vote each write must wait for.
//!
//! One scenario run is many simulations (one per (N, f), each with its own seed derived
//! from the run's seed). Their verdicts combine check by check: a violation in any
//! sub-run is the scenario's violation, and its message names the sub-run. The run
//! folder's trace and history are one representative sub-run's: the first sub-run with a
//! failing check if there is one (so the evidence's event ids point into the trace beside
//! it), otherwise the largest N with f = its tolerated failures (the most a cluster
//! survives). `fault_tolerance.json` names it and lists every sub-run's trace hash.
//!
//! The story, `members-killed` (Sometimes), is read from each sub-run's trace: exactly the
//! f victims down from the kill through the window, the leader among them, writes invoked
//! meanwhile. `availability-matches-quorum` needs it: a row whose kills did not happen as
//! it says (no leader was elected in time to be killed) measures nothing.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, CheckResult, Directory, EntryType, Evidence, FaultOp, FaultSchedule,
    FaultState, FaultTimeline, History, NodeId, Outcome, RunView, SimTime, Status, Trace, Verdict,
};

use crate::raft_world::{judge, leader_at, ms, ClusterConfig, ClusterWatch};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};
use crate::story::read::node_list;

/// The largest cluster the sweep may have: past 7 members etcd advises against it (etcd FAQ,
/// "What is maximum cluster size?"), and each sub-run costs time.
pub const MAX_SWEEP_NODES: usize = 9;

/// The fault-tolerance-table scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultToleranceConfig {
    /// Every sub-run's cluster; `cluster.nodes` is the largest N of the sweep (7).
    pub cluster: ClusterConfig,
    /// The smallest N of the sweep (1).
    pub nodes_min: usize,
    /// Kill counts to try for each N (empty: every f from 0 to N). Counts above an N are
    /// skipped for that N.
    pub kills: Vec<usize>,
    /// Clients keep writing this long after the first leader appears before the kills,
    /// milliseconds (so some writes have committed).
    pub warmup_ms: u64,
    /// Writes invoked this long after the kills are measured, milliseconds. Must cover the
    /// survivors' election (up to two election timeouts) and a client's timeout on a dead
    /// member.
    pub window_ms: u64,
    /// Give up waiting for the first leader after this long, milliseconds (the kills then
    /// happen anyway, with no leader among the victims).
    pub leader_deadline_ms: u64,
    /// Kill the leader among the f victims (the harder case: the survivors must elect).
    pub kill_leader: bool,
}

impl Default for FaultToleranceConfig {
    fn default() -> Self {
        let mut cluster = ClusterConfig {
            nodes: 7,
            clients: 2,
            ..ClusterConfig::default()
        };
        // Writes only, often: the table is about writes. Not an etcd default; a client's
        // load.
        cluster.client.interval_ms = 50;
        cluster.client.read_probability = 0.0;
        cluster.client.cas_probability = 0.0;
        cluster.client.delete_probability = 0.0;
        FaultToleranceConfig {
            cluster,
            nodes_min: 1,
            kills: Vec::new(),
            warmup_ms: 1_000,
            window_ms: 5_000,
            leader_deadline_ms: 8_000,
            kill_leader: true,
        }
    }
}

impl FaultToleranceConfig {
    /// The (N, f) pairs of the sweep, in order.
    pub fn sub_runs(&self) -> Vec<(usize, usize)> {
        (self.nodes_min..=self.cluster.nodes)
            .flat_map(|n| {
                let kills: Vec<usize> = if self.kills.is_empty() {
                    (0..=n).collect()
                } else {
                    self.kills.iter().copied().filter(|f| *f <= n).collect()
                };
                kills.into_iter().map(move |f| (n, f))
            })
            .collect()
    }
}

impl ScenarioConfig for FaultToleranceConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        let bad = |m: String| Err(ScenarioError::Config(m));
        if !(1..=MAX_SWEEP_NODES).contains(&c.cluster.nodes) {
            return bad(format!(
                "cluster.nodes = {} is the largest N of the sweep; it must be 1 to {MAX_SWEEP_NODES}",
                c.cluster.nodes
            ));
        }
        if c.nodes_min == 0 || c.nodes_min > c.cluster.nodes {
            return bad(format!(
                "nodes_min = {} must be between 1 and cluster.nodes = {}",
                c.nodes_min, c.cluster.nodes
            ));
        }
        c.cluster.validate(1)?;
        if c.cluster.clients == 0 {
            return bad("cluster.clients must be at least 1: someone has to write".into());
        }
        if c.cluster.chaos.episodes_max > 0 {
            return bad(
                "cluster.chaos is not supported here: the sweep's kills are the faults".into(),
            );
        }
        if let Some(f) = c.kills.iter().find(|f| **f > c.cluster.nodes) {
            return bad(format!(
                "kills lists {f}, more than the largest cluster (cluster.nodes = {})",
                c.cluster.nodes
            ));
        }
        if c.kills.windows(2).any(|w| w[0] >= w[1]) {
            return bad("kills must be strictly increasing (each f once)".into());
        }
        if c.warmup_ms == 0 || c.leader_deadline_ms == 0 {
            return bad("warmup_ms and leader_deadline_ms must be more than zero".into());
        }
        let needed = 2 * c.cluster.election_timeout_ms() + c.cluster.client.timeout_ms;
        if c.window_ms < needed {
            return bad(format!(
                "window_ms = {} cannot show a survivors' election and a client's retry (at least {needed})",
                c.window_ms
            ));
        }
        if c.sub_runs().is_empty() {
            return bad("the sweep is empty: no (N, f) with f <= N".into());
        }
        Ok(c)
    }
}

/// Votes a write needs in a cluster of `n`: a majority.
pub fn quorum(n: usize) -> usize {
    n / 2 + 1
}

/// Failures a cluster of `n` survives.
pub fn tolerated(n: usize) -> usize {
    n.saturating_sub(1) / 2
}

/// The seed of the sub-run (N, f): fixed by the run's seed and (N, f) alone, so a smaller
/// sweep reruns the same simulations.
pub fn sub_run_seed(seed: u64, n: usize, f: usize) -> u64 {
    sim_core::rng::derive_rng(seed, &format!("fault-tolerance/n{n}/f{f}")).gen()
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Cluster size.
    pub n: usize,
    /// Members killed.
    pub f: usize,
    /// Majority of `n`.
    pub quorum: usize,
    /// Failures `n` members survive, by the formula.
    pub tolerated: usize,
    /// Writes invoked in the window after the kills and acknowledged.
    pub writes_ok: usize,
    /// Writes invoked in the window after the kills.
    pub writes_attempted: usize,
    /// Whether any write invoked after the kills committed.
    pub available: bool,
    /// Whether the formula says it should (`n - f >= quorum`).
    pub expected_available: bool,
    /// From the kills to the first acknowledgement of a write invoked after them.
    pub first_ack_after_kill_ms: Option<f64>,
    /// The leader when the kills happened.
    pub leader: Option<NodeId>,
    /// The members killed.
    pub killed: Vec<NodeId>,
    /// When they were killed.
    pub killed_at_ms: Option<f64>,
    /// The sub-run's seed.
    pub seed: u64,
    /// The sub-run's trace hash.
    pub trace_hash: String,
    /// The sub-run's own status.
    pub status: Status,
    /// Why the sub-run's trace does not show the row's story (the f members down from one
    /// instant through the window, the leader among them, writes invoked in it); `None`
    /// when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story_missing: Option<String>,
}

/// What the driver of a sub-run did.
#[derive(Clone, Debug, Default)]
struct Kills {
    leader: Option<NodeId>,
    killed: Vec<NodeId>,
    at: Option<SimTime>,
}

/// Measures writes invoked in `[at, at + window_ms]`: (acknowledged, attempted, time of the
/// first acknowledgement).
fn measure(history: &History, at: SimTime, window_ms: u64) -> (usize, usize, Option<SimTime>) {
    let end = SimTime(at.as_us() + window_ms * 1_000);
    let mut invoked = BTreeSet::new();
    let (mut ok, mut attempted, mut first) = (0, 0, None::<SimTime>);
    for e in &history.entries {
        if e.f == "get" {
            continue;
        }
        match e.entry_type {
            EntryType::Invoke if e.t_us >= at && e.t_us <= end => {
                invoked.insert(e.op);
                attempted += 1;
            }
            EntryType::Ok if invoked.contains(&e.op) => {
                ok += 1;
                first = Some(first.map_or(e.t_us, |t| t.min(e.t_us)));
            }
            _ => {}
        }
    }
    (ok, attempted, first)
}

/// Why the sub-run's trace does not show the story a row describes, or `None` if it does:
/// from the kill instant through the window exactly the `killed` servers were down, the
/// leader in office just before was among them (with `kill_leader` and f > 0), and clients
/// invoked writes in the window. Read from the trace, not from what the driver meant to do.
fn story_missing(
    trace: &Trace,
    servers: &[NodeId],
    kills: &Kills,
    kill_leader: bool,
    window_ms: u64,
    writes_attempted: usize,
) -> Option<String> {
    let Some(at) = kills.at else {
        return Some("the driver never reached the kills".into());
    };
    let timeline = FaultTimeline::of(trace);
    let down_as_planned = |s: &FaultState| {
        servers
            .iter()
            .all(|n| s.is_down(*n) == kills.killed.contains(n))
    };
    let held = timeline
        .first_window(at, window_ms, down_as_planned)
        .is_some_and(|(from, _)| from == at);
    if !held {
        let planned = if kills.killed.is_empty() {
            "no server".to_string()
        } else {
            node_list(&kills.killed)
        };
        return Some(format!(
            "the servers down from {at} through the {window_ms} ms window were not just {planned}"
        ));
    }
    if kill_leader && !kills.killed.is_empty() {
        let before = SimTime(at.as_us().saturating_sub(1));
        match leader_at(&trace.events, before) {
            Some((leader, _)) if kills.killed.contains(&leader) => {}
            Some((leader, _)) => return Some(format!("the leader {leader} was not killed")),
            None => return Some("no leader was in office to be killed".into()),
        }
    }
    (writes_attempted == 0).then(|| "no write was invoked in the window".into())
}

/// The Sometimes check's name.
pub const KILLED: &str = "members-killed";

/// `members-killed` (Sometimes): every sub-run went through its row's story (see
/// [`Row::story_missing`]), so the table measures what it says.
#[derive(Clone, Debug)]
pub struct MembersKilled {
    /// The measured rows.
    pub rows: Vec<Row>,
}

impl Check for MembersKilled {
    fn name(&self) -> &'static str {
        KILLED
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let missing: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| {
                let why = r.story_missing.as_ref()?;
                Some(format!("N={} f={}: {why}", r.n, r.f))
            })
            .collect();
        match missing.as_slice() {
            [] if !self.rows.is_empty() => Outcome::Pass,
            [] => Outcome::not_reached("the sweep ran no sub-run"),
            _ => Outcome::not_reached(format!(
                "{} of {} sub-runs did not go through their story: {}",
                missing.len(),
                self.rows.len(),
                missing.join("; ")
            )),
        }
    }
}

/// `availability-matches-quorum` (liveness): each sub-run's writes are available after the
/// kills exactly when a majority survives. Unavailable with a majority alive is a liveness
/// failure; available without one means something committed without a majority (which
/// `commit-needs-majority` also flags as a safety violation).
#[derive(Clone, Debug)]
pub struct AvailabilityMatchesQuorum {
    /// The measured rows.
    pub rows: Vec<Row>,
}

impl Check for AvailabilityMatchesQuorum {
    fn name(&self) -> &'static str {
        "availability-matches-quorum"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[KILLED]
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let wrong: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.available != r.expected_available)
            .collect();
        let Some(first) = wrong.first() else {
            return Outcome::Pass;
        };
        let describe = |r: &Row| {
            format!(
                "N={} f={}: {} of {} writes acknowledged after the kills, but {} of {} alive {} a quorum of {}",
                r.n,
                r.f,
                r.writes_ok,
                r.writes_attempted,
                r.n - r.f,
                r.n,
                if r.expected_available { "is" } else { "is not" },
                r.quorum
            )
        };
        Outcome::violation(
            format!(
                "{} (writes available iff N - f >= N/2 + 1){}",
                describe(first),
                if wrong.len() > 1 {
                    format!("; {} sub-runs disagree in all", wrong.len())
                } else {
                    String::new()
                }
            ),
            wrong
                .iter()
                .map(|r| Evidence {
                    event: None,
                    t_us: None,
                    node: None,
                    note: format!("{} (sub-run seed {})", describe(r), r.seed),
                })
                .collect(),
        )
    }
}

/// Combines the sub-runs' verdicts check by check: a violation anywhere is a violation
/// (its message names the first sub-run, the evidence lists all of them), else an unknown
/// anywhere is unknown, else a pass.
pub fn combine(verdicts: &[((usize, usize), Verdict)]) -> Vec<CheckResult> {
    let mut names: Vec<(String, CheckKind)> = Vec::new();
    for (_, v) in verdicts {
        for c in &v.checks {
            if !names.iter().any(|(n, _)| *n == c.name) {
                names.push((c.name.clone(), c.kind));
            }
        }
    }
    names
        .into_iter()
        .map(|(name, kind)| {
            let results: Vec<((usize, usize), &Outcome)> = verdicts
                .iter()
                .flat_map(|((n, f), v)| {
                    v.checks
                        .iter()
                        .filter(|c| c.name == name)
                        .map(move |c| ((*n, *f), &c.outcome))
                })
                .collect();
            let violations: Vec<_> = results
                .iter()
                .filter_map(|(nf, o)| match o {
                    Outcome::Violation { message, evidence } => Some((*nf, message, evidence)),
                    _ => None,
                })
                .collect();
            let outcome = if let Some(((n, f), message, evidence)) = violations.first() {
                let mut evidence = (*evidence).clone();
                evidence.push(Evidence::note(format!(
                    "event ids refer to sub-run N={n} f={f}; failing sub-runs: {}",
                    violations
                        .iter()
                        .map(|((n, f), ..)| format!("N={n} f={f}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
                Outcome::violation(format!("N={n} f={f}: {message}"), evidence)
            } else if let Some(((n, f), Outcome::Unknown { reason })) = results
                .iter()
                .find(|(_, o)| matches!(o, Outcome::Unknown { .. }))
            {
                Outcome::Unknown {
                    reason: format!("N={n} f={f}: {reason}"),
                }
            } else {
                Outcome::Pass
            };
            CheckResult {
                name,
                kind,
                outcome,
            }
        })
        .collect()
}

/// `fault_tolerance.csv`: `N,f,quorum,tolerated,writes_ok,writes_attempted,available`.
pub fn table_csv(rows: &[Row]) -> String {
    let mut csv = String::from("N,f,quorum,tolerated,writes_ok,writes_attempted,available\n");
    for r in rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            r.n, r.f, r.quorum, r.tolerated, r.writes_ok, r.writes_attempted, r.available
        );
    }
    csv
}

/// Per N, the most kills measured to leave writes available (None if even f = 0 was not,
/// or the sweep skipped it), and the formula's.
#[derive(Clone, Debug, Serialize)]
struct Tolerance {
    n: usize,
    quorum: usize,
    tolerated: usize,
    measured_tolerated: Option<usize>,
}

/// `fault_tolerance.json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    rows: &'a [Row],
    per_n: Vec<Tolerance>,
    /// Which sub-run's trace and history are in the run folder, and why.
    representative: String,
    lesson: &'static str,
}

const LESSON: &str = "a cluster of N tolerates (N-1)/2 failures; an even N tolerates no more than N-1 (4 like 3, 6 like 5) while each write waits for one more vote";

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultTolerance;

impl Scenario for FaultTolerance {
    type Config = FaultToleranceConfig;

    fn name(&self) -> &'static str {
        "fault-tolerance-table"
    }

    fn summary(&self) -> &'static str {
        "N = 1..7 members, f = 0..N killed: writes stay available iff a majority survives; an even N tolerates no more than N-1"
    }

    fn directory(&self, config: &FaultToleranceConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, _seed: u64, config: &FaultToleranceConfig) -> FaultSchedule {
        // The kills depend on who leads in each sub-run, so the drivers apply them.
        let _ = config;
        FaultSchedule::default()
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(
        &self,
        input: &RunInput<'_, FaultToleranceConfig>,
    ) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        if !input.faults.faults.is_empty() {
            return Err(ScenarioError::Config(
                "fault-tolerance-table applies its own kills in every sub-run; a fault schedule (--faults) is not supported".into(),
            ));
        }
        let mut rows = Vec::new();
        let mut verdicts = Vec::new();
        let mut runs = Vec::new();
        for (n, f) in config.sub_runs() {
            let seed = sub_run_seed(input.seed, n, f);
            let cluster = ClusterConfig {
                nodes: n,
                ..config.cluster.clone()
            };
            let c = config.clone();
            let out = cluster.run(seed, input.mutants, input.faults, |world| async move {
                let mut leaders = ClusterWatch::new(&world);
                let tick = c.cluster.raft.tick_ms;
                let servers: Vec<NodeId> = (0..n).map(NodeId::from_index).collect();
                let deadline = SimTime::from_ms(c.leader_deadline_ms);
                if leaders.wait_for_leader(tick, deadline).await.is_some() {
                    world.sleep(Duration::from_millis(c.warmup_ms)).await;
                }
                let leader = leaders.leader().map(|(l, _)| l);
                let mut others: Vec<NodeId> = servers
                    .iter()
                    .copied()
                    .filter(|s| Some(*s) != leader)
                    .collect();
                others.shuffle(&mut sim_core::rng::derive_rng(seed, "victims"));
                let mut victims: Vec<NodeId> = match leader {
                    Some(l) if c.kill_leader && f > 0 => vec![l],
                    _ => Vec::new(),
                };
                victims.extend(others.into_iter().take(f - victims.len()));
                victims.sort();
                for v in &victims {
                    world.apply(&FaultOp::Kill { node: *v });
                }
                let at = world.now();
                world
                    .sleep(Duration::from_millis(
                        c.window_ms + c.cluster.client.timeout_ms,
                    ))
                    .await;
                Kills {
                    leader,
                    killed: victims,
                    at: Some(at),
                }
            })?;
            let verdict = judge(&out, None, &[]);
            let kills = out.value.clone();
            let (ok, attempted, first) = kills.at.map_or((0, 0, None), |at| {
                measure(&out.history, at, config.window_ms)
            });
            let servers = cluster.servers();
            let missing = story_missing(
                &out.trace,
                &servers,
                &kills,
                config.kill_leader,
                config.window_ms,
                attempted,
            );
            rows.push(Row {
                n,
                f,
                quorum: quorum(n),
                tolerated: tolerated(n),
                writes_ok: ok,
                writes_attempted: attempted,
                available: ok > 0,
                expected_available: n - f >= quorum(n),
                first_ack_after_kill_ms: kills.at.zip(first).map(|(k, a)| ms(a) - ms(k)),
                leader: kills.leader,
                killed: kills.killed.clone(),
                killed_at_ms: kills.at.map(ms),
                seed,
                trace_hash: out.trace.hash().to_string(),
                status: verdict.status(),
                story_missing: missing,
            });
            verdicts.push(((n, f), verdict));
            runs.push(out);
        }
        let killed = MembersKilled { rows: rows.clone() };
        let availability = AvailabilityMatchesQuorum { rows: rows.clone() };
        let failing = verdicts
            .iter()
            .position(|(_, v)| v.status() != Status::Pass);
        let largest = config.cluster.nodes;
        let (pick, why) = match failing {
            Some(i) => (i, "the first sub-run with a failing check"),
            None => (
                rows.iter()
                    .rposition(|r| r.n == largest && r.f == tolerated(largest))
                    .unwrap_or(rows.len() - 1),
                "the largest N with f = its tolerated failures (or the last sub-run if the sweep skipped it)",
            ),
        };
        let out = runs.swap_remove(pick);
        let mut checks = combine(&verdicts);
        let view = RunView {
            seed: input.seed,
            nodes: &out.nodes,
            trace: &out.trace,
            history: &out.history,
        };
        checks.extend(Verdict::judge(&view, &[&killed, &availability]).checks);
        let per_n = (config.nodes_min..=largest)
            .map(|n| Tolerance {
                n,
                quorum: quorum(n),
                tolerated: tolerated(n),
                measured_tolerated: rows
                    .iter()
                    .filter(|r| r.n == n && r.available)
                    .map(|r| r.f)
                    .max(),
            })
            .collect();
        let representative = format!(
            "N={} f={} (seed {}): {why}",
            rows[pick].n, rows[pick].f, rows[pick].seed
        );
        let report = Report {
            rows: &rows,
            per_n,
            representative,
            lesson: LESSON,
        };
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![
                ("fault_tolerance.csv".into(), table_csv(&rows).into_bytes()),
                (
                    "fault_tolerance.json".into(),
                    serde_json::to_vec_pretty(&report).expect("data serializes"),
                ),
            ],
            trace: out.trace,
            history: out.history,
            verdict: Verdict { checks },
        })
    }
}
