//! `election`: 3 or 5 nodes start together and elect a leader; the leader is isolated once
//! and the others elect a new one; on heal, pre-vote keeps the returning node from
//! disrupting the new leader (turn `raft.pre_vote = false` to see the disruption).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, EventKind, Evidence, FaultOp, FaultSchedule, NodeId, Outcome, RunView,
    SimTime, World,
};

use crate::raft_world::{judge, leader_periods, ms, wait_for_leader, ClusterConfig, RaftMsg};
use crate::scenario::{config_table, parse_config, RunInput, Scenario, ScenarioError, ScenarioRun};

/// The election scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElectionConfig {
    /// The cluster (3 nodes by default; 5 is the other classic).
    pub cluster: ClusterConfig,
    /// Isolate the leader this long after it is first elected, milliseconds.
    pub isolate_after_ms: u64,
    /// Keep it isolated this long, milliseconds.
    pub isolate_for_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
    /// A new leader must be elected within this many election timeouts of the isolation,
    /// and one must lead and commit within this many after the heal.
    pub bound_election_timeouts: u64,
    /// Nemesis aimed at vote durability: the first node to grant a vote is killed right
    /// after it answers (before anything else it writes is synced) and restarted at once.
    /// A correct node comes back remembering its vote; with `forget-vote-on-restart` it
    /// does not.
    pub crash_first_voter: bool,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            cluster: ClusterConfig::default(),
            isolate_after_ms: 2_000,
            isolate_for_ms: 8_000,
            duration_ms: 24_000,
            bound_election_timeouts: 4,
            crash_first_voter: false,
        }
    }
}

impl ElectionConfig {
    fn parse(table: &toml::Table) -> Result<Self, ScenarioError> {
        let c: ElectionConfig = parse_config(table)?;
        c.cluster.validate(3)?;
        if c.isolate_for_ms == 0 || c.bound_election_timeouts == 0 {
            return Err(ScenarioError::Config(
                "isolate_for_ms and bound_election_timeouts must be more than zero".into(),
            ));
        }
        let bound = c.bound_ms();
        if c.duration_ms < c.isolate_after_ms + c.isolate_for_ms + 2 * bound + 1_000 {
            return Err(ScenarioError::Config(format!(
                "duration_ms = {} is too short: it must leave the election and two liveness bounds \
                 ({bound} ms each) after the isolation",
                c.duration_ms
            )));
        }
        Ok(c)
    }

    fn bound_ms(&self) -> u64 {
        self.bound_election_timeouts * self.cluster.election_timeout_ms()
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct Election;

/// What the run measured, for `election.json`.
#[derive(Debug, Serialize)]
struct ElectionData {
    first_leader: Option<(NodeId, u64)>,
    first_elected_ms: Option<f64>,
    isolated: Option<NodeId>,
    isolated_at_ms: Option<f64>,
    healed_at_ms: Option<f64>,
    new_leader_after_isolation_ms: Option<f64>,
    leaders: Vec<LeaderPeriod>,
}

#[derive(Debug, Serialize)]
struct LeaderPeriod {
    node: NodeId,
    term: u64,
    from_ms: f64,
    until_ms: Option<f64>,
}

impl Scenario for Election {
    fn name(&self) -> &'static str {
        "election"
    }

    fn summary(&self) -> &'static str {
        "3 or 5 nodes elect a leader; the leader is isolated, a new one is elected; pre-vote keeps the returning node from disrupting it"
    }

    fn resolve_config(&self, config: &toml::Table) -> Result<toml::Table, ScenarioError> {
        Ok(config_table(&ElectionConfig::parse(config)?))
    }

    fn nodes(&self, config: &toml::Table) -> Result<Vec<NodeId>, ScenarioError> {
        Ok(ElectionConfig::parse(config)?.cluster.all_nodes())
    }

    fn generate_faults(
        &self,
        seed: u64,
        config: &toml::Table,
    ) -> Result<FaultSchedule, ScenarioError> {
        // The story's faults depend on who leads, so the driver applies them as it goes;
        // the schedule holds only the optional `cluster.chaos` faults.
        Ok(ElectionConfig::parse(config)?.cluster.chaos_faults(seed))
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(&self, input: &RunInput<'_>) -> Result<ScenarioRun, ScenarioError> {
        let config = ElectionConfig::parse(input.config)?;
        let c = config.clone();
        let out = config.cluster.run(
            input.seed,
            input.mutants,
            input.faults,
            |world| async move {
                let tick = c.cluster.raft.tick_ms;
                if c.crash_first_voter {
                    crash_first_voter(&world, SimTime::from_ms(c.duration_ms / 2)).await;
                }
                let first =
                    wait_for_leader(&world, tick, SimTime::from_ms(c.duration_ms / 2)).await;
                let mut isolated = None;
                if let Some((leader, _)) = first {
                    world.sleep(Duration::from_millis(c.isolate_after_ms)).await;
                    let target =
                        crate::raft_world::current_leader(&world).map_or(leader, |(l, _)| l);
                    world.apply(&FaultOp::Isolate { node: target });
                    isolated = Some(target);
                    world.sleep(Duration::from_millis(c.isolate_for_ms)).await;
                    world.apply(&FaultOp::Heal);
                }
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
                isolated
            },
        )?;
        let events = &out.trace.events;
        let periods = leader_periods(events);
        // The story's isolation and heal (other faults, such as `crash_first_voter`'s or
        // `cluster.chaos`'s, may come before them).
        let isolated_at = events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::Fault { fault: FaultOp::Isolate { node } } if Some(*node) == out.value))
            .map(|e| e.t_us);
        let healed_at = isolated_at.and_then(|t| {
            events
                .iter()
                .find(|e| {
                    e.t_us >= t
                        && matches!(
                            e.kind,
                            EventKind::Fault {
                                fault: FaultOp::Heal
                            }
                        )
                })
                .map(|e| e.t_us)
        });
        let new_leader = isolated_at.and_then(|t| {
            periods
                .iter()
                .find(|p| p.2 >= t && Some(p.0) != out.value)
                .map(|p| p.2)
        });
        let bound_ms = config.bound_ms();
        let reelection = Reelection {
            isolated_at,
            new_leader_at: new_leader,
            bound_ms,
        };
        let stable = StableAfterRejoin {
            healed_at,
            window_ms: bound_ms,
        };
        // The story's own claims hold for the story alone; under `cluster.chaos` other
        // faults land in the same windows, and `leader-after-heal` judges liveness.
        let story: Vec<&dyn Check> = if config.cluster.chaos.episodes_max == 0 {
            vec![&reelection, &stable]
        } else {
            vec![]
        };
        let verdict = judge(&out, Some(bound_ms), &story);
        let data = ElectionData {
            first_leader: periods.first().map(|p| (p.0, p.1)),
            first_elected_ms: periods.first().map(|p| ms(p.2)),
            isolated: out.value,
            isolated_at_ms: isolated_at.map(ms),
            healed_at_ms: healed_at.map(ms),
            new_leader_after_isolation_ms: match (isolated_at, new_leader) {
                (Some(a), Some(b)) => Some(ms(b) - ms(a)),
                _ => None,
            },
            leaders: periods
                .iter()
                .map(|p| LeaderPeriod {
                    node: p.0,
                    term: p.1,
                    from_ms: ms(p.2),
                    until_ms: p.3.map(ms),
                })
                .collect(),
        };
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![(
                "election.json".into(),
                serde_json::to_vec_pretty(&data).expect("data serializes"),
            )],
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}

/// Watches the trace (every 50 µs of virtual time, well inside an fsync) for the first
/// granted vote, then kills the voter and restarts it.
async fn crash_first_voter(world: &World<RaftMsg>, deadline: SimTime) {
    let mut seen = 0;
    while world.now() < deadline {
        let voter = world.with_trace(|events| {
            let found = events[seen..].iter().find_map(|e| match e.kind {
                EventKind::Vote {
                    granted: true,
                    pre_vote: false,
                    ..
                } => e.node,
                _ => None,
            });
            seen = events.len();
            found
        });
        if let Some(voter) = voter {
            world.apply(&FaultOp::Kill { node: voter });
            world.apply(&FaultOp::Restart { node: voter });
            return;
        }
        world.sleep(Duration::from_micros(50)).await;
    }
}

/// `new-leader-after-isolation` (liveness): once the leader is cut off, the others elect a
/// new leader within the bound.
#[derive(Clone, Copy, Debug)]
struct Reelection {
    isolated_at: Option<SimTime>,
    new_leader_at: Option<SimTime>,
    bound_ms: u64,
}

impl Check for Reelection {
    fn name(&self) -> &'static str {
        "new-leader-after-isolation"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let Some(isolated_at) = self.isolated_at else {
            return Outcome::violation(
                "no leader was ever elected, so none could be isolated",
                vec![],
            );
        };
        match self.new_leader_at {
            Some(t) if t.since(isolated_at) <= Duration::from_millis(self.bound_ms) => {
                Outcome::Pass
            }
            Some(t) => Outcome::violation(
                format!(
                    "a new leader took {} ms (bound {} ms)",
                    t.since(isolated_at).as_millis(),
                    self.bound_ms
                ),
                vec![],
            ),
            None => Outcome::violation(
                format!("no new leader after the isolation at {isolated_at}"),
                vec![],
            ),
        }
    }
}

/// `stable-after-rejoin` (what pre-vote promises): when the isolated node returns, the
/// leader in office keeps leading for at least the window. Without pre-vote the returning
/// node's inflated term forces it to step down.
#[derive(Clone, Copy, Debug)]
struct StableAfterRejoin {
    healed_at: Option<SimTime>,
    window_ms: u64,
}

impl Check for StableAfterRejoin {
    fn name(&self) -> &'static str {
        "stable-after-rejoin"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some(healed) = self.healed_at else {
            return Outcome::Pass;
        };
        let end = healed.after(Duration::from_millis(self.window_ms));
        // The leader in office when the isolated node came back, if any.
        let Some(in_office) = leader_periods(&run.trace.events)
            .into_iter()
            .find(|p| p.2 <= healed && p.3.is_none_or(|until| until > healed))
        else {
            return Outcome::Pass;
        };
        match in_office.3 {
            Some(until) if until <= end => {
                let ended = run
                    .trace
                    .events
                    .iter()
                    .find(|e| e.t_us == until && e.node == Some(in_office.0));
                Outcome::violation(
                    format!(
                        "the returning node disrupted the cluster: leader {} of term {} lost office at {until}, {} ms after the heal",
                        in_office.0,
                        in_office.1,
                        until.since(healed).as_millis()
                    ),
                    ended
                        .map(|e| vec![Evidence::event(e, "the leader stepped down")])
                        .unwrap_or_default(),
                )
            }
            _ => Outcome::Pass,
        }
    }
}
