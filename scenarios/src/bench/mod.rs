//! `ksim bench`: how fast sim-core's network is next to bare madsim, how fast the demo,
//! Raft, etcd and a whole catalog scenario run, and what the linearizability checker and
//! the report cost.
//!
//! Every measurement is a whole run timed on the wall clock (runtime construction, the
//! run, and tearing it down, trace included), and each simulated one is printed beside a
//! bare-madsim baseline run in the same process, so the figures are ratios that survive a
//! busy machine. One concept per file:
//!
//! - [`baseline`]: the bare-madsim programs (the `Endpoint` ping mesh, and the paced
//!   program with a scenario's node count, messages and virtual time);
//! - [`mesh`]: the same ping mesh through sim-core, and the real ping-mesh demo;
//! - [`stack`]: writes through Raft and key-value operations through etcd;
//! - [`scenario`]: `partition-5node` with its trace recorded and hashed, beside its
//!   baseline (what a fuzzer pays per seed);
//! - [`checker`]: the linearizability checker per history size;
//! - [`report_render`]: drawing a run's report against simulating it;
//! - [`print`]: the text `ksim bench` prints.
//!
//! This file holds what they share: the configuration, one timed run ([`Measurement`]),
//! the wall-clock timer, and [`run`], which repeats each measurement and reports the median
//! run (by wall time), since the first run of a process pays for warming the allocator and
//! caches.
//!
//! The two meshes do the same work: every node pings every other node once per heartbeat
//! for the same number of rounds and answers each ping with a pong; a payload is one `u64`;
//! one-way latency is madsim's default (1 ms to 10 ms); no loss, no faults, no disk. The run
//! goes on a little past the last round so that every pong lands, so each path moves exactly
//! `nodes * (nodes - 1) * 2 * rounds` messages.

mod baseline;
mod checker;
mod mesh;
mod print;
mod report_render;
mod scenario;
mod stack;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use baseline::{madsim_endpoint_ping, madsim_paced};
pub use checker::{checker_cases, linearizability_check, CheckerTiming};
pub use mesh::{madsim_like_net, ping_mesh_demo, sim_core_ping, BenchMsg};
pub use report_render::{report_render, ReportTiming};
pub use scenario::{
    partition_5node_run, ScenarioBench, ScenarioTiming, PARTITION_SCENARIO,
    TARGET_SCENARIO_VIRTUAL_PER_WALL,
};
pub use stack::{kv_ops, raft_writes};

/// The ratio of sim-core's message rate to bare madsim's that the network must reach.
pub const TARGET_RATIO: f64 = 0.5;

/// Virtual time the meshes run past their last round so every pong is received: a ping and
/// its pong take at most 2 x 10 ms of latency plus madsim's 1 ms send and receive waits.
pub(crate) const DRAIN_MS: u64 = 50;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchConfig {
    /// Nodes in each mesh (and in the demo).
    pub nodes: usize,
    /// Virtual seconds of pinging per run (the meshes run 50 ms longer to drain).
    pub virtual_secs: u64,
    /// Time between rounds of pings in the two meshes, milliseconds.
    pub heartbeat_ms: u64,
    /// Runs of each measurement; the report shows the median.
    pub repeats: usize,
}

impl Default for BenchConfig {
    /// 5 nodes, 10 virtual seconds, 10 ms heartbeats, 3 repeats.
    fn default() -> Self {
        BenchConfig {
            nodes: 5,
            virtual_secs: 10,
            heartbeat_ms: 10,
            repeats: 3,
        }
    }
}

impl BenchConfig {
    /// A small configuration for tests: 3 nodes, 2 virtual seconds, one run.
    pub fn quick() -> Self {
        BenchConfig {
            nodes: 3,
            virtual_secs: 2,
            heartbeat_ms: 10,
            repeats: 1,
        }
    }

    /// Why this configuration cannot run, if it cannot.
    ///
    /// # Errors
    ///
    /// Fewer than 2 nodes or more than sim-core allows, a zero heartbeat, no virtual time,
    /// or no repeats.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes < 2 || self.nodes > sim_core::sim::MAX_NODES {
            return Err(format!(
                "a benchmark mesh needs 2 to {} nodes, not {}",
                sim_core::sim::MAX_NODES,
                self.nodes
            ));
        }
        if self.heartbeat_ms == 0 {
            return Err("the heartbeat must be at least 1 ms".into());
        }
        if self.virtual_secs == 0 {
            return Err("a benchmark run needs at least 1 virtual second".into());
        }
        if self.repeats == 0 {
            return Err("a benchmark needs at least 1 repeat".into());
        }
        Ok(())
    }

    /// Rounds of pings each node sends in a mesh run.
    pub fn rounds(&self) -> u64 {
        self.virtual_secs.saturating_mul(1000) / self.heartbeat_ms.max(1)
    }

    /// Messages a mesh run moves when nothing is lost: every ordered pair of nodes carries
    /// one ping and one pong per round.
    pub fn expected_mesh_messages(&self) -> u64 {
        let n = self.nodes as u64;
        n * n.saturating_sub(1) * 2 * self.rounds()
    }

    /// Virtual time at which round `round` (0-based) of a mesh run starts.
    pub(crate) fn round_start(&self, round: u64) -> Duration {
        round_start(self.heartbeat_ms, round)
    }

    /// Virtual time at which a mesh run ends.
    pub(crate) fn mesh_end(&self) -> Duration {
        self.round_start(self.rounds()) + Duration::from_millis(DRAIN_MS)
    }
}

/// Virtual time at which round `round` (0-based) starts with `heartbeat_ms` between rounds.
pub(crate) fn round_start(heartbeat_ms: u64, round: u64) -> Duration {
    Duration::from_millis(heartbeat_ms.max(1).saturating_mul(round))
}

/// One timed run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Measurement {
    /// Messages received by the nodes.
    pub messages: u64,
    /// Wall-clock seconds the run took, set-up and tear-down included.
    pub wall_secs: f64,
    /// Virtual seconds the run simulated.
    pub virtual_secs: f64,
}

impl Measurement {
    /// Messages received per wall second.
    pub fn messages_per_sec(&self) -> f64 {
        per_wall_sec(self.messages as f64, self.wall_secs)
    }

    /// Virtual seconds simulated per wall second.
    pub fn virtual_per_wall(&self) -> f64 {
        per_wall_sec(self.virtual_secs, self.wall_secs)
    }
}

fn per_wall_sec(amount: f64, wall_secs: f64) -> f64 {
    if wall_secs > 0.0 {
        amount / wall_secs
    } else {
        f64::INFINITY
    }
}

/// Runs `f` and measures how long it took on the wall clock.
///
/// Must be called outside a madsim runtime: inside one, madsim answers the clock with
/// virtual time.
// The benchmark harness timing itself, outside the simulation: the runs it times are
// deterministic, their wall-clock duration is the measurement.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub(crate) fn wall_timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start: std::time::Instant = std::time::Instant::now();
    let value = f();
    (value, start.elapsed().as_secs_f64())
}

/// What `ksim bench` measured: the median run of each measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// What was measured.
    pub config: BenchConfig,
    /// The seed every run used.
    pub seed: u64,
    /// The bare madsim mesh ([`madsim_endpoint_ping`]).
    pub madsim: Measurement,
    /// The sim-core mesh ([`sim_core_ping`]).
    pub sim_core: Measurement,
    /// The demo ([`ping_mesh_demo`]).
    pub demo: Measurement,
    /// A 3-node Raft cluster's acknowledged writes ([`raft_writes`]).
    pub raft3: Measurement,
    /// A 5-node Raft cluster's acknowledged writes ([`raft_writes`]).
    pub raft5: Measurement,
    /// The linearizability checker per history size ([`linearizability_check`]).
    pub checker: Vec<CheckerTiming>,
    /// Key-value operations through a 3-node etcd cluster ([`kv_ops`]).
    pub kv3: Measurement,
    /// Key-value operations through a 5-node etcd cluster ([`kv_ops`]).
    pub kv5: Measurement,
    /// Drawing a run's whole report against simulating the run ([`report_render`]).
    pub report: ReportTiming,
    /// `partition-5node` with its trace hashed, beside bare madsim ([`ScenarioBench`]).
    pub scenario: ScenarioBench,
}

impl BenchReport {
    /// sim-core's message rate over bare madsim's.
    pub fn ratio(&self) -> f64 {
        let madsim = self.madsim.messages_per_sec();
        if madsim > 0.0 {
            self.sim_core.messages_per_sec() / madsim
        } else {
            0.0
        }
    }

    /// Whether the ratio reaches [`TARGET_RATIO`].
    pub fn target_met(&self) -> bool {
        self.ratio() >= TARGET_RATIO
    }
}

/// The seed every benchmark run uses: repeats do identical work, so only timing varies.
pub const BENCH_SEED: u64 = 1;

/// Runs each measurement `cfg.repeats` times (interleaved, all with [`BENCH_SEED`]) and
/// keeps the median run of each by wall time.
///
/// # Panics
///
/// If `cfg` is invalid (see [`BenchConfig::validate`]), or when called inside a madsim
/// runtime.
pub fn run(cfg: &BenchConfig) -> BenchReport {
    if let Err(e) = cfg.validate() {
        panic!("invalid benchmark configuration: {e}");
    }
    let mut madsim = Vec::with_capacity(cfg.repeats);
    let mut sim_core = Vec::with_capacity(cfg.repeats);
    let mut demo = Vec::with_capacity(cfg.repeats);
    let (mut raft3, mut raft5) = (Vec::new(), Vec::new());
    let (mut kv3, mut kv5) = (Vec::new(), Vec::new());
    // The scenario runs back to back after one untimed run (criterion's warm-up), so each
    // timed run finds the allocator as the previous run of the same work left it, not as
    // the larger benchmarks around it did.
    drop(partition_5node_run(BENCH_SEED));
    let mut scenario: Vec<ScenarioBench> = (0..cfg.repeats)
        .map(|_| ScenarioBench::measure(BENCH_SEED))
        .collect();
    for _ in 0..cfg.repeats {
        madsim.push(madsim_endpoint_ping(cfg, BENCH_SEED));
        sim_core.push(sim_core_ping(cfg, BENCH_SEED));
        demo.push(ping_mesh_demo(cfg, BENCH_SEED));
        raft3.push(raft_writes(3, cfg.virtual_secs, BENCH_SEED));
        raft5.push(raft_writes(5, cfg.virtual_secs, BENCH_SEED));
        kv3.push(kv_ops(3, cfg.virtual_secs, BENCH_SEED));
        kv5.push(kv_ops(5, cfg.virtual_secs, BENCH_SEED));
    }
    BenchReport {
        config: *cfg,
        seed: BENCH_SEED,
        madsim: median(madsim),
        sim_core: median(sim_core),
        demo: median(demo),
        raft3: median(raft3),
        raft5: median(raft5),
        checker: checker_cases(cfg)
            .iter()
            .map(|&(ops, lost)| {
                let mut runs: Vec<CheckerTiming> = (0..cfg.repeats)
                    .map(|_| linearizability_check(ops, lost))
                    .collect();
                runs.sort_by(|a, b| a.wall_secs.total_cmp(&b.wall_secs));
                runs[runs.len() / 2]
            })
            .collect(),
        kv3: median(kv3),
        kv5: median(kv5),
        report: {
            let mut runs: Vec<ReportTiming> = (0..cfg.repeats)
                .map(|_| report_render("partition-5node", BENCH_SEED))
                .collect();
            runs.sort_by(|a, b| a.render_secs.total_cmp(&b.render_secs));
            runs.swap_remove(runs.len() / 2)
        },
        scenario: {
            scenario.sort_by(|a, b| a.run.run.wall_secs.total_cmp(&b.run.run.wall_secs));
            scenario.swap_remove(scenario.len() / 2)
        },
    }
}

/// `partition-5node` beside its baseline only, `cfg.repeats` times after one untimed run,
/// the median by the scenario's wall time: what `ksim bench --scenario` prints, quick to
/// repeat while profiling the fuzzer's cost per seed.
///
/// # Panics
///
/// As [`partition_5node_run`].
pub fn scenario_only(cfg: &BenchConfig) -> ScenarioBench {
    drop(partition_5node_run(BENCH_SEED));
    let mut runs: Vec<ScenarioBench> = (0..cfg.repeats.max(1))
        .map(|_| ScenarioBench::measure(BENCH_SEED))
        .collect();
    runs.sort_by(|a, b| a.run.run.wall_secs.total_cmp(&b.run.run.wall_secs));
    runs.swap_remove(runs.len() / 2)
}

/// The run with the median wall time (the slower middle one for an even count).
fn median(mut runs: Vec<Measurement>) -> Measurement {
    runs.sort_by(|a, b| a.wall_secs.total_cmp(&b.wall_secs));
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use sim_core::LatencyRange;

    use super::*;

    #[test]
    fn quick_bench_moves_the_expected_messages() {
        let cfg = BenchConfig::quick();
        let report = run(&cfg);
        println!("{report}");
        let expected = cfg.expected_mesh_messages();
        assert_eq!(expected, 3 * 2 * 2 * 200);
        // sim-core delivers every message of every round: the run drains past the last one.
        assert_eq!(report.sim_core.messages, expected);
        // madsim moves the same workload; allow a little slack for its scheduling.
        let slack = expected / 50;
        assert!(
            report.madsim.messages.abs_diff(expected) <= slack,
            "madsim moved {} messages, expected about {expected}",
            report.madsim.messages
        );
        let mesh_secs = cfg.mesh_end().as_secs_f64();
        assert!((report.sim_core.virtual_secs - mesh_secs).abs() < 1e-3);
        assert!((report.madsim.virtual_secs - mesh_secs).abs() < 1e-3);
        // The demo pings every 100-110 ms: each ordered pair carries a ping and a pong.
        assert!((report.demo.virtual_secs - cfg.virtual_secs as f64).abs() < 1e-3);
        let pairs = (cfg.nodes * (cfg.nodes - 1)) as u64;
        assert!(report.demo.messages >= pairs * 2 * 10, "{:?}", report.demo);
        assert!(report.demo.messages <= pairs * 2 * 21, "{:?}", report.demo);
        assert!(report.to_string().contains("ratio sim-core / madsim"));
        // The baseline moves as many messages as the scenario sent, over its virtual time.
        let scenario = &report.scenario;
        assert_eq!(scenario.madsim.messages, scenario.run.run.messages);
        assert!(scenario.run.run.virtual_secs >= 20.0, "{scenario:?}");
        assert!(report.to_string().contains("partition-5node / madsim"));
        assert_eq!(report.checker.len(), checker_cases(&cfg).len());
        assert!(
            report.checker.iter().all(|t| t.linearizable),
            "{:?}",
            report.checker
        );
    }

    #[test]
    fn same_seed_same_counts() {
        let cfg = BenchConfig::quick();
        assert_eq!(
            sim_core_ping(&cfg, 7).messages,
            sim_core_ping(&cfg, 7).messages
        );
        assert_eq!(
            madsim_endpoint_ping(&cfg, 7).messages,
            madsim_endpoint_ping(&cfg, 7).messages
        );
    }

    #[test]
    fn latency_matches_madsim_default() {
        let net = madsim_like_net();
        assert_eq!(
            net.latency,
            LatencyRange {
                min_us: 1000,
                max_us: 9999
            }
        );
        assert_eq!(net.loss_probability, 0.0);
    }
}
