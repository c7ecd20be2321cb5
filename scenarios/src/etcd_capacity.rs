//! `etcd-capacity`: what etcd's throughput and latency do as the network round trip and
//! the disk's fsync grow (course notes 001, the performance table: etcd wants under 10 ms
//! RTT and fast fsyncs).
//!
//! Each point of the sweep is its own short run: a 3-node cluster at that RTT and fsync
//! latency, `writers` clients putting and `readers` clients reading (linearizable reads,
//! ReadIndex) in a closed loop with no think time, so every client always has `in_flight`
//! requests in flight (one by default) over its one connection, as a clientv3 process
//! shares one connection among its goroutines. After a leader is elected and a short
//! warm-up, the window is measured:
//! completed operations per virtual second, latency percentiles, and leader changes.
//!
//! What it shows: the clients sit on the same network, so a write costs two round trips
//! (client to leader, leader to followers) plus the fsyncs on its path, and a linearizable
//! read two as well (client to member, ReadIndex's heartbeat round); with every client
//! closed-loop, throughput falls as 1/RTT. Raft's timing assumes `broadcast time <<
//! election timeout`: etcd's tuning guide asks for a heartbeat interval near the RTT and
//! an election timeout of ten RTTs or more. Past that, elections need longer than the
//! timeout to finish a pre-vote and a vote round: at an RTT of 1.5 election timeouts the
//! first leader takes many seconds, at 2 it never comes, and throughput is gone. (With
//! steady links an elected leader is not deposed here: heartbeats arrive late but
//! regularly. What does depose leaders in this model is a slow disk: the driver fsyncs in
//! its loop before it sends, so fsyncs near the election timeout delay heartbeats, as
//! etcd's "leader failed to send out heartbeat on time" warns; try `fsync_ms = [600]`.)
//! The story check `leadership-stable-at-low-rtt` claims the good half: at RTT <= 10 ms a
//! leader is elected and no leader change follows. It needs `load-reached-cluster`
//! (Sometimes, read from each point's trace: every client's requests reached a server in
//! the window, and no fault was in force), so a point an added fault broke is "not
//! applicable", not a leadership failure (`capacity_story.rs`).
//!
//! Each point is judged by the Raft and etcd safety checks on its own trace and history;
//! the scenario's verdict merges them (a violation at any point fails the check, and its
//! evidence names the point). The run folder's trace is a summary: one note per point with
//! that point's trace hash, so the scenario's trace hash still covers every event of every
//! point. `capacity.csv` has one row per point, `capacity.json` the same and more.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::etcd::workload::key_name;
use raft::etcd::EtcdClient;
use serde::{Deserialize, Serialize};
use sim_core::{
    CheckResult, Directory, EntryType, EventId, EventKind, Evidence, FaultSchedule, History,
    LatencyRange, NodeId, Outcome, RunOutput, RunView, SimTime, Trace, TraceEvent, Verdict,
};

use crate::raft_world::{judge, leader_periods, ms, ClusterConfig, ClusterWatch, RaftMsg};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

use crate::capacity_story::load_missing;
pub use crate::capacity_story::{LeadershipStableAtLowRtt, LoadReachedCluster};

/// RTTs at or below this must keep one leader (etcd's advice: under 10 ms).
pub const STABLE_RTT_MS: f64 = 10.0;

/// Most requests one client keeps in flight.
pub const MAX_IN_FLIGHT: usize = 64;

/// The etcd-capacity scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdCapacityConfig {
    /// The cluster (3 nodes; `clients` must equal `writers + readers`). Its `net` and
    /// `disk` are replaced at each point by the point's RTT and fsync latency.
    pub cluster: ClusterConfig,
    /// Network round trips to sweep, milliseconds (one way is half, spread by `jitter`).
    pub rtt_ms: Vec<f64>,
    /// fsync latencies to sweep, milliseconds (spread by `jitter`).
    pub fsync_ms: Vec<f64>,
    /// Spread of each latency around its point: uniform within +-`jitter` of it.
    pub jitter: f64,
    /// Clients putting, each to its own key.
    pub writers: usize,
    /// Clients reading the writers' keys.
    pub readers: usize,
    /// Requests each client keeps in flight over its one connection (1 to 64): that many
    /// closed-loop tasks share the client. The default, 1, is one request at a time;
    /// more loads the cluster beyond the 16 client nodes the world allows.
    pub in_flight: usize,
    /// Load before the window opens, milliseconds.
    pub warmup_ms: u64,
    /// The measured window of each point, milliseconds of virtual time (at least
    /// `window_rtts` round trips).
    pub window_ms: u64,
    /// The window lasts at least this many round trips, so slow points still complete
    /// some operations (and cost little: they complete few).
    pub window_rtts: u64,
    /// Give up waiting for a first leader after this long, milliseconds (the point then
    /// runs its load anyway, and shows what a leaderless cluster serves: nothing).
    pub leader_wait_ms: u64,
}

impl Default for EtcdCapacityConfig {
    /// The sweep of the task: RTT 1 to 200 ms, then 500 to 2000 ms where Raft's timing
    /// assumption breaks; fsync 0.1 to 25 ms (etcd's hardware guide wants WAL fsync p99
    /// under 10 ms). The window is 1 s of virtual time per point, scaled down from the
    /// tens of seconds a real benchmark runs, so the 55-point sweep stays under a minute
    /// in a debug build (about 47 s measured on a loaded 2-core machine).
    fn default() -> Self {
        EtcdCapacityConfig {
            cluster: ClusterConfig {
                nodes: 3,
                clients: 6,
                ..ClusterConfig::default()
            },
            rtt_ms: vec![
                1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 150.0, 200.0, 500.0, 1000.0,
            ],
            fsync_ms: vec![0.1, 1.0, 5.0, 10.0, 25.0],
            jitter: 0.1,
            writers: 3,
            readers: 3,
            in_flight: 1,
            warmup_ms: 200,
            window_ms: 1_000,
            window_rtts: 10,
            leader_wait_ms: 10_000,
        }
    }
}

impl EtcdCapacityConfig {
    /// Every point of the sweep, RTT-major.
    pub fn points(&self) -> Vec<Point> {
        self.rtt_ms
            .iter()
            .flat_map(|&rtt_ms| {
                self.fsync_ms
                    .iter()
                    .map(move |&fsync_ms| Point { rtt_ms, fsync_ms })
            })
            .collect()
    }

    /// The cluster of one point.
    fn cluster_at(&self, p: Point) -> ClusterConfig {
        let spread = |us: f64| {
            let lo = (us * (1.0 - self.jitter)).round().max(1.0) as u64;
            let hi = (us * (1.0 + self.jitter)).round().max(1.0) as u64;
            (lo, hi.max(lo))
        };
        let (min_us, max_us) = spread(p.rtt_ms * 1_000.0 / 2.0);
        let (fsync_min_us, fsync_max_us) = spread(p.fsync_ms * 1_000.0);
        let mut cluster = self.cluster.clone();
        cluster.net.latency = LatencyRange { min_us, max_us };
        cluster.disk.fsync_min_us = fsync_min_us;
        cluster.disk.fsync_max_us = fsync_max_us;
        // Clients wait long enough for an answer to come back at this RTT (a write takes
        // two round trips: client to leader, leader to followers): the sweep measures the
        // cluster, not a client deadline shorter than the network.
        let rtt = p.rtt_ms.ceil() as u64;
        cluster.client.attempt_timeout_ms = cluster.client.attempt_timeout_ms.max(4 * rtt);
        cluster.client.timeout_ms = cluster.client.timeout_ms.max(8 * rtt);
        cluster
    }

    /// The measured window of one point, milliseconds.
    fn window_at(&self, p: Point) -> u64 {
        self.window_ms
            .max((self.window_rtts as f64 * p.rtt_ms).ceil() as u64)
    }
}

impl ScenarioConfig for EtcdCapacityConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        c.cluster.validate(3)?;
        let bad = |m: String| Err(ScenarioError::Config(m));
        if c.writers == 0 || c.cluster.clients != c.writers + c.readers {
            return bad(format!(
                "cluster.clients = {} must equal writers + readers = {} + {}, with at least one writer",
                c.cluster.clients, c.writers, c.readers
            ));
        }
        let in_range = |v: &[f64], max: f64| {
            !v.is_empty()
                && v.len() <= 32
                && v.iter().all(|x| x.is_finite() && *x > 0.0 && *x <= max)
        };
        if !in_range(&c.rtt_ms, 10_000.0) {
            return bad(
                "rtt_ms must list 1 to 32 round trips, each above 0 and at most 10000 ms".into(),
            );
        }
        if !in_range(&c.fsync_ms, 1_000.0) {
            return bad(
                "fsync_ms must list 1 to 32 latencies, each above 0 and at most 1000 ms".into(),
            );
        }
        if !(0.0..1.0).contains(&c.jitter) {
            return bad(format!("jitter = {} must be in [0, 1)", c.jitter));
        }
        if c.window_ms == 0 || c.window_ms > 60_000 || c.warmup_ms > 60_000 || c.window_rtts > 100 {
            return bad(
                "window_ms must be 1 to 60000, warmup_ms at most 60000 and window_rtts at most 100"
                    .into(),
            );
        }
        if c.leader_wait_ms == 0 {
            return bad("leader_wait_ms must be more than zero".into());
        }
        if !(1..=MAX_IN_FLIGHT).contains(&c.in_flight) {
            return bad(format!(
                "in_flight = {} must be between 1 and {MAX_IN_FLIGHT}",
                c.in_flight
            ));
        }
        Ok(c)
    }
}

/// One point of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Network round trip, milliseconds.
    pub rtt_ms: f64,
    /// fsync latency, milliseconds.
    pub fsync_ms: f64,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rtt {} ms, fsync {} ms", self.rtt_ms, self.fsync_ms)
    }
}

/// What one point measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// The point.
    #[serde(flatten)]
    pub point: Point,
    /// Acknowledged puts per virtual second in the window.
    pub writes_per_s: f64,
    /// Successful reads per virtual second in the window.
    pub reads_per_s: f64,
    /// Put latency, median and 99th percentile, milliseconds (none without puts).
    pub write_p50_ms: Option<f64>,
    /// See `write_p50_ms`.
    pub write_p99_ms: Option<f64>,
    /// Read latency, median and 99th percentile, milliseconds.
    pub read_p50_ms: Option<f64>,
    /// See `read_p50_ms`.
    pub read_p99_ms: Option<f64>,
    /// Leaders elected inside the window.
    pub leader_changes: usize,
    /// Leaders elected after the first one, over the whole point.
    pub changes_after_first: usize,
    /// When the first leader was elected, virtual milliseconds (none: never).
    pub first_leader_ms: Option<f64>,
    /// Operations that timed out in the window (outcome unknown).
    pub indeterminate: usize,
    /// The point's trace hash.
    pub trace_hash: String,
    /// The point's verdict.
    pub status: sim_core::Status,
    /// Why the point's trace does not show the story's load (every client's requests
    /// reaching a server in the window, no fault in force), or `None` if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_missing: Option<String>,
}

/// Runs one point: the cluster, the closed-loop clients, the window. Returns the run and
/// when the window opened and closed.
///
/// # Errors
///
/// If the cluster cannot run (a config error).
pub fn run_point(
    cluster: &ClusterConfig,
    writers: usize,
    seed: u64,
    mutants: &[String],
    faults: &FaultSchedule,
    window: (u64, u64, u64),
) -> Result<RunOutput<(SimTime, SimTime)>, ScenarioError> {
    run_point_in_flight(cluster, (writers, 1), seed, mutants, faults, window)
}

/// As [`run_point`], each client keeping `load.1` requests in flight (`load.0` writers).
///
/// # Errors
///
/// If the cluster cannot run (a config error).
pub fn run_point_in_flight(
    cluster: &ClusterConfig,
    load: (usize, usize),
    seed: u64,
    mutants: &[String],
    faults: &FaultSchedule,
    window: (u64, u64, u64),
) -> Result<RunOutput<(SimTime, SimTime)>, ScenarioError> {
    let (writers, in_flight) = load;
    let (leader_wait_ms, warmup_ms, window_ms) = window;
    let start: Arc<Mutex<Option<SimTime>>> = Arc::default();
    let script_start = start.clone();
    let tick = cluster.raft.tick_ms;
    cluster.run_with(
        seed,
        mutants,
        faults,
        move |client, i| closed_loop(client, i, (writers, in_flight), script_start.clone()),
        move |world: sim_core::World<RaftMsg>| async move {
            let mut leaders = ClusterWatch::new(&world);
            let give_up = SimTime::from_ms(leader_wait_ms);
            let _ = leaders.wait_for_leader(tick, give_up).await;
            let began = world.now();
            *start.lock().expect("never poisoned") = Some(began);
            let open = began.after(Duration::from_millis(warmup_ms));
            let close = open.after(Duration::from_millis(window_ms));
            world.sleep_until(close).await;
            (open, close)
        },
    )
}

/// A client with no think time: writer `i` puts to its own key, a reader reads a writer's
/// key, as soon as its previous request is answered; `load.1` tasks do so at once over the
/// one client (`load.0` writers). Values stay unique: the tasks share the sequence.
async fn closed_loop(
    client: EtcdClient,
    i: usize,
    load: (usize, usize),
    start: Arc<Mutex<Option<SimTime>>>,
) {
    let (writers, in_flight) = load;
    while start.lock().expect("never poisoned").is_none() {
        client.session().sleep(Duration::from_millis(1)).await;
    }
    let seq = std::rc::Rc::new(std::cell::Cell::new(0u64));
    for _ in 1..in_flight {
        let (task, seq) = (client.clone(), seq.clone());
        client
            .ctx()
            .spawn(async move { requests(task, i, writers, seq).await });
    }
    requests(client, i, writers, seq).await;
}

/// One closed loop of requests (see [`closed_loop`]).
async fn requests(
    client: EtcdClient,
    i: usize,
    writers: usize,
    seq: std::rc::Rc<std::cell::Cell<u64>>,
) {
    let me = client.ctx().id();
    let key = key_name(i % writers);
    loop {
        seq.set(seq.get() + 1);
        if i < writers {
            let _ = client.put(&key, &format!("{me}-{}", seq.get())).await;
        } else {
            let _ = client.get(&key).await;
        }
    }
}

/// The measurements of a finished point.
fn measure(
    point: Point,
    out: &RunOutput<(SimTime, SimTime)>,
    servers: &[NodeId],
    verdict: &Verdict,
) -> PointResult {
    let (open, close) = out.value;
    let (writes, reads, indeterminate) = latencies(&out.history, open, close);
    let window_s = close.since(open).as_secs_f64().max(f64::MIN_POSITIVE);
    let periods = leader_periods(&out.trace.events);
    PointResult {
        point,
        writes_per_s: writes.len() as f64 / window_s,
        reads_per_s: reads.len() as f64 / window_s,
        write_p50_ms: percentile(&writes, 50.0),
        write_p99_ms: percentile(&writes, 99.0),
        read_p50_ms: percentile(&reads, 50.0),
        read_p99_ms: percentile(&reads, 99.0),
        leader_changes: periods
            .iter()
            .filter(|p| p.2 >= open && p.2 <= close)
            .count(),
        changes_after_first: periods.len().saturating_sub(1),
        first_leader_ms: periods.first().map(|p| ms(p.2)),
        indeterminate,
        trace_hash: out.trace.hash().0,
        status: verdict.status(),
        load_missing: load_missing(out, servers, (open, close)),
    }
}

/// Sorted latencies (ms) of puts and gets that succeeded inside `[open, close]`, and how
/// many operations there timed out.
fn latencies(history: &History, open: SimTime, close: SimTime) -> (Vec<f64>, Vec<f64>, usize) {
    let mut invoked = std::collections::BTreeMap::new();
    let (mut writes, mut reads, mut indeterminate) = (Vec::new(), Vec::new(), 0);
    for e in &history.entries {
        if e.entry_type == EntryType::Invoke {
            invoked.insert(e.op, e.t_us);
            continue;
        }
        if e.t_us < open || e.t_us > close {
            continue;
        }
        match (e.entry_type, invoked.get(&e.op)) {
            (EntryType::Ok, Some(start)) => {
                let latency = ms(e.t_us) - ms(*start);
                if e.f == "get" {
                    reads.push(latency);
                } else {
                    writes.push(latency);
                }
            }
            (EntryType::Info, _) => indeterminate += 1,
            _ => {}
        }
    }
    writes.sort_by(f64::total_cmp);
    reads.sort_by(f64::total_cmp);
    (writes, reads, indeterminate)
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Merges the points' verdicts: per check, the first violation (its message prefixed with
/// the point; every violating point's evidence, named), else an undecided point's reason,
/// else pass. Evidence keeps its time and node; its event id is dropped, since it points
/// into that point's own trace, not the summary the run folder keeps.
fn merge_verdicts(points: &[(Point, Verdict)]) -> Verdict {
    let mut merged: Vec<CheckResult> = Vec::new();
    for (point, verdict) in points {
        for result in &verdict.checks {
            let existing = merged.iter().position(|m| m.name == result.name);
            let first = existing.is_none();
            let slot = match existing {
                Some(i) => &mut merged[i],
                None => {
                    merged.push(CheckResult {
                        name: result.name.clone(),
                        kind: result.kind,
                        outcome: Outcome::Pass,
                    });
                    merged.last_mut().expect("just pushed")
                }
            };
            // Worst first: a violation, then undecided, then a pass (judged somewhere), then a
            // story that happened at no point.
            let rank = |o: &Outcome| match o {
                Outcome::Violation { .. } => 3,
                Outcome::Unknown { .. } => 2,
                Outcome::Pass => 1,
                Outcome::NotApplicable { .. } | Outcome::NotReached { .. } => 0,
            };
            match (&mut slot.outcome, &result.outcome) {
                (
                    Outcome::Violation { evidence, .. },
                    Outcome::Violation {
                        evidence: more,
                        message,
                    },
                ) => {
                    evidence.push(Evidence::note(format!("at {point}: {message}")));
                    evidence.extend(more.iter().map(|e| named(point, e)));
                }
                (_, Outcome::Violation { message, evidence }) => {
                    slot.outcome = Outcome::violation(
                        format!("at {point}: {message}"),
                        evidence.iter().map(|e| named(point, e)).collect(),
                    );
                }
                (current, incoming) if rank(incoming) > rank(current) || first => {
                    *current = match incoming {
                        Outcome::Unknown { reason } => Outcome::Unknown {
                            reason: format!("at {point}: {reason}"),
                        },
                        other => other.clone(),
                    };
                }
                _ => {}
            }
        }
    }
    Verdict { checks: merged }
}

fn named(point: &Point, e: &Evidence) -> Evidence {
    Evidence {
        event: None,
        t_us: e.t_us,
        node: e.node,
        note: format!(
            "at {point}{}: {}",
            e.event
                .map_or_else(String::new, |id| format!(" (its event {id})")),
            e.note
        ),
    }
}

/// The summary trace: run start, one `capacity-point` note per point carrying its trace
/// hash, run end. Points are laid end to end in time.
fn summary_trace(seed: u64, nodes: &[NodeId], results: &[(PointResult, SimTime)]) -> Trace {
    let mut events = Vec::new();
    let mut push = |t: SimTime, kind: EventKind| {
        events.push(TraceEvent {
            id: EventId(events.len() as u64),
            t_us: t,
            node: None,
            kind,
        });
    };
    push(
        SimTime::ZERO,
        EventKind::RunStart {
            seed,
            nodes: nodes.to_vec(),
            directory: Default::default(),
        },
    );
    let mut offset = SimTime::ZERO;
    for (r, length) in results {
        offset = SimTime(offset.as_us() + length.as_us());
        push(
            offset,
            EventKind::Note {
                label: "capacity-point".into(),
                detail: format!(
                    "rtt_ms={} fsync_ms={} trace_hash={} writes_per_s={:.1} reads_per_s={:.1} leader_changes={}",
                    r.point.rtt_ms, r.point.fsync_ms, r.trace_hash, r.writes_per_s, r.reads_per_s, r.leader_changes
                ),
            },
        );
    }
    push(offset, EventKind::RunEnd);
    Trace { events }
}

/// `capacity.csv`.
pub fn capacity_csv(results: &[PointResult]) -> String {
    let mut csv = String::from(
        "rtt_ms,fsync_ms,writes_per_s,reads_per_s,write_p50_ms,write_p99_ms,read_p50_ms,read_p99_ms,leader_changes\n",
    );
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.3}"));
    for r in results {
        let _ = writeln!(
            csv,
            "{},{},{:.1},{:.1},{},{},{},{},{}",
            r.point.rtt_ms,
            r.point.fsync_ms,
            r.writes_per_s,
            r.reads_per_s,
            opt(r.write_p50_ms),
            opt(r.write_p99_ms),
            opt(r.read_p50_ms),
            opt(r.read_p99_ms),
            r.leader_changes
        );
    }
    csv
}

/// `capacity.json`.
#[derive(Debug, Serialize)]
struct CapacityData<'a> {
    window_ms: u64,
    window_rtts: u64,
    warmup_ms: u64,
    writers: usize,
    readers: usize,
    in_flight: usize,
    heartbeat_ms: u64,
    election_timeout_ms: u64,
    points: &'a [PointResult],
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct EtcdCapacity;

impl Scenario for EtcdCapacity {
    type Config = EtcdCapacityConfig;

    fn name(&self) -> &'static str {
        "etcd-capacity"
    }

    fn summary(&self) -> &'static str {
        "sweep RTT and fsync latency under closed-loop load: throughput, latency and leader changes; why etcd wants RTT under 10 ms"
    }

    fn directory(&self, config: &EtcdCapacityConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &EtcdCapacityConfig) -> FaultSchedule {
        // The sweep itself sets latency and fsync per point; only `cluster.chaos` adds
        // faults, the same schedule at every point.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(&self, input: &RunInput<'_, EtcdCapacityConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let mut results = Vec::new();
        let mut verdicts = Vec::new();
        for point in config.points() {
            let out = run_point_in_flight(
                &config.cluster_at(point),
                (config.writers, config.in_flight),
                input.seed,
                input.mutants,
                input.faults,
                (
                    config.leader_wait_ms,
                    config.warmup_ms,
                    config.window_at(point),
                ),
            )?;
            let verdict = judge(&out, None, &[]);
            let servers = config.cluster.servers();
            results.push((measure(point, &out, &servers, &verdict), out.value.1));
            verdicts.push((point, verdict));
        }
        let points: Vec<PointResult> = results.iter().map(|(r, _)| r.clone()).collect();
        let mut verdict = merge_verdicts(&verdicts);
        let loaded = LoadReachedCluster {
            points: points.clone(),
        };
        let stable = LeadershipStableAtLowRtt {
            points: points.clone(),
        };
        let nodes = config.cluster.all_nodes();
        let trace = summary_trace(input.seed, &nodes, &results);
        let history = History::default();
        let view = RunView {
            seed: input.seed,
            nodes: &nodes,
            trace: &trace,
            history: &history,
        };
        verdict
            .checks
            .extend(Verdict::judge(&view, &[&loaded, &stable]).checks);
        let data = CapacityData {
            window_ms: config.window_ms,
            window_rtts: config.window_rtts,
            warmup_ms: config.warmup_ms,
            writers: config.writers,
            readers: config.readers,
            in_flight: config.in_flight,
            heartbeat_ms: config.cluster.raft.tick_ms * config.cluster.raft.heartbeat_ticks,
            election_timeout_ms: config.cluster.election_timeout_ms(),
            points: &points,
        };
        Ok(ScenarioRun {
            nodes,
            data: vec![
                ("capacity.csv".into(), capacity_csv(&points).into_bytes()),
                (
                    "capacity.json".into(),
                    serde_json::to_vec_pretty(&data).expect("data serializes"),
                ),
            ],
            trace,
            history,
            verdict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::read_config;
    use sim_core::CheckKind;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn merged_verdicts_name_the_failing_point() {
        let check = |outcome| Verdict {
            checks: vec![CheckResult {
                name: "x".into(),
                kind: CheckKind::Always,
                outcome,
            }],
        };
        let p = |rtt_ms| Point {
            rtt_ms,
            fsync_ms: 1.0,
        };
        let merged = merge_verdicts(&[
            (p(1.0), check(Outcome::Pass)),
            (
                p(5.0),
                check(Outcome::violation("bad", vec![Evidence::note("why")])),
            ),
        ]);
        assert_eq!(merged.status(), sim_core::Status::SafetyViolation);
        let Outcome::Violation { message, evidence } = &merged.checks[0].outcome else {
            panic!("expected a violation");
        };
        assert!(message.contains("rtt 5 ms"), "{message}");
        assert!(evidence[0].note.contains("rtt 5 ms"));
    }

    #[test]
    fn bad_configs_are_refused_with_reasons() {
        let parse = |s: &str| read_config::<EtcdCapacityConfig>(&toml::from_str(s).unwrap());
        assert!(parse("rtt_ms = [1, 2.5]").is_ok());
        let err = |s: &str| parse(s).unwrap_err().to_string();
        assert!(err("rtt_ms = []").contains("rtt_ms"));
        assert!(err("fsync_ms = [-1.0]").contains("fsync_ms"));
        assert!(err("writers = 4").contains("writers + readers"));
        assert!(err("jitter = 1.5").contains("jitter"));
        assert!(err("window_ms = 0").contains("window_ms"));
        assert!(err("in_flight = 0").contains("in_flight"));
        assert!(err("in_flight = 65").contains("in_flight"));
    }

    /// Writes per second at one point with `in_flight` requests per client.
    fn writes_per_s(in_flight: usize) -> f64 {
        let config =
            format!("rtt_ms = [10]\nfsync_ms = [1]\nwindow_ms = 500\nin_flight = {in_flight}\n");
        let run = crate::runner::run_scenario("etcd-capacity", 1, &config, &[])
            .expect("the scenario runs");
        assert_eq!(run.verdict.status(), sim_core::Status::Pass, "{in_flight}");
        let (_, json) = run
            .data
            .iter()
            .find(|(name, _)| name == "capacity.json")
            .expect("capacity.json");
        let json: serde_json::Value = serde_json::from_slice(json).expect("json");
        assert_eq!(json["in_flight"], in_flight);
        json["points"][0]["writes_per_s"].as_f64().expect("writes")
    }

    #[test]
    fn more_requests_in_flight_per_client_carry_more_writes() {
        // At 10 ms RTT one request at a time is bound by the round trip; four per client
        // share each round trip (the leader batches what arrives together).
        let (one, four) = (writes_per_s(1), writes_per_s(4));
        assert!(four > 2.0 * one, "in_flight 1: {one} writes/s, 4: {four}");
    }
}
