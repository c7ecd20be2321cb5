//! A whole catalog scenario as a fuzzer runs a seed: [`partition_5node_run`] times
//! `partition-5node` at its default config (5 servers, 2 clients, 20 virtual seconds) with
//! its trace recorded and hashed (judging and the run folder left out), and
//! [`ScenarioBench`] puts it beside its bare-madsim baseline ([`madsim_paced`]: as many
//! nodes moving as many messages over the same virtual time), so the ratio says what
//! sim-core, Raft and the trace add over madsim's own scheduling of the same traffic.

use std::fmt;

use serde::Serialize;

use super::{madsim_paced, wall_timed, Measurement};

/// The scenario of [`partition_5node_run`].
pub const PARTITION_SCENARIO: &str = "partition-5node";

/// One timed run of a catalog scenario with its trace recorded and hashed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ScenarioTiming {
    /// Nodes in the world (servers and clients).
    pub nodes: usize,
    /// Trace events recorded.
    pub events: usize,
    /// The trace hash (the same on every run of the seed).
    pub hash: String,
    /// Messages sent (`messages` counts them) and wall and virtual time of the run.
    pub run: Measurement,
}

/// `partition-5node` at its default config with `seed`: the simulation with its trace
/// recorded, then [`sim_core::Trace::hash`], timed together (set-up and tear-down
/// included). Judging and the run folder are left out: this is what a fuzzer pays per seed
/// before its checks. `messages` counts the messages sent.
///
/// # Panics
///
/// When called inside a madsim runtime (or if the default config stops running: a bug).
pub fn partition_5node_run(seed: u64) -> ScenarioTiming {
    use crate::partition_5node::{run_story, Partition5NodeConfig};
    let config = Partition5NodeConfig::default();
    let faults = config.cluster.chaos_faults(seed);
    let (timing, wall_secs) = wall_timed(|| {
        let out = run_story(&config, seed, &[], &faults).expect("the default config runs");
        let hash = out.trace.hash();
        let messages = out
            .trace
            .events
            .iter()
            .filter(|e| matches!(e.kind, sim_core::EventKind::Send { .. }))
            .count() as u64;
        let timing = ScenarioTiming {
            nodes: out.nodes.len(),
            events: out.trace.events.len(),
            hash: hash.0,
            run: Measurement {
                messages,
                wall_secs: 0.0,
                virtual_secs: out.trace.end_time().as_us() as f64 / 1e6,
            },
        };
        drop(out);
        timing
    });
    ScenarioTiming {
        run: Measurement {
            wall_secs,
            ..timing.run
        },
        ..timing
    }
}

/// `partition-5node` ([`partition_5node_run`]) beside its bare-madsim baseline
/// ([`madsim_paced`] with the run's node count, messages sent and virtual time).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ScenarioBench {
    /// The scenario.
    pub scenario: String,
    /// The scenario run.
    pub run: ScenarioTiming,
    /// Its baseline.
    pub madsim: Measurement,
}

impl ScenarioBench {
    /// Runs both with `seed`.
    ///
    /// # Panics
    ///
    /// As [`partition_5node_run`].
    pub fn measure(seed: u64) -> Self {
        let run = partition_5node_run(seed);
        let madsim = madsim_paced(run.nodes, run.run.messages, run.run.virtual_secs, seed);
        ScenarioBench {
            scenario: PARTITION_SCENARIO.to_string(),
            run,
            madsim,
        }
    }

    /// The scenario's virtual seconds per wall second over the baseline's.
    pub fn ratio(&self) -> f64 {
        let madsim = self.madsim.virtual_per_wall();
        if madsim > 0.0 {
            self.run.run.virtual_per_wall() / madsim
        } else {
            0.0
        }
    }

    /// Whether the scenario reaches [`TARGET_SCENARIO_VIRTUAL_PER_WALL`].
    pub fn target_met(&self) -> bool {
        self.run.run.virtual_per_wall() >= TARGET_SCENARIO_VIRTUAL_PER_WALL
    }
}

/// Virtual seconds per wall second `partition-5node` must reach, trace hashed, on one core.
pub const TARGET_SCENARIO_VIRTUAL_PER_WALL: f64 = 1000.0;

impl fmt::Display for ScenarioBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, m) = (&self.run.run, &self.madsim);
        writeln!(
            f,
            "{} (default config, trace recorded and hashed): {} nodes, {} events, {} messages sent in {:.1} virtual s; {:.3} wall s, {:.0} virtual s per wall s (target >= {TARGET_SCENARIO_VIRTUAL_PER_WALL}: {}), hash {}",
            self.scenario,
            self.run.nodes,
            self.run.events,
            r.messages,
            r.virtual_secs,
            r.wall_secs,
            r.virtual_per_wall(),
            if self.target_met() { "met" } else { "NOT met" },
            self.run.hash
        )?;
        writeln!(
            f,
            "  bare madsim, same nodes, messages and virtual time: {} messages received in {:.1} virtual s; {:.3} wall s, {:.0} virtual s per wall s; {} / madsim = {:.2}",
            m.messages,
            m.virtual_secs,
            m.wall_secs,
            m.virtual_per_wall(),
            self.scenario,
            self.ratio()
        )
    }
}
