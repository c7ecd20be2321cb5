//! `election`: 3 or 5 nodes start together and elect a leader; the leader is isolated once
//! and the others elect a new one; on heal, pre-vote keeps the returning node from
//! disrupting the new leader (turn `raft.pre_vote = false` to see the disruption).

use std::time::Duration;

use raft::events::RaftEvent;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, Directory, EventKind, Evidence, FaultOp, FaultSchedule, NodeId, Observer,
    Outcome, RunView, SimTime, TraceCursor, TraceEvent, World,
};

use crate::raft_world::{judge, leader_periods, ms, ClusterConfig, ClusterWatch, RaftMsg};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};
use crate::story::leader_loss::{LeaderLoss, LeaderLost, NewLeaderAfter};

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
    fn bound_ms(&self) -> u64 {
        self.bound_election_timeouts * self.cluster.election_timeout_ms()
    }
}

impl ScenarioConfig for ElectionConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
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
    type Config = ElectionConfig;

    fn name(&self) -> &'static str {
        "election"
    }

    fn summary(&self) -> &'static str {
        "3 or 5 nodes elect a leader; the leader is isolated, a new one is elected; pre-vote keeps the returning node from disrupting it"
    }

    fn directory(&self, config: &ElectionConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &ElectionConfig) -> FaultSchedule {
        // The story's faults depend on who leads, so the driver applies them as it goes;
        // the schedule holds only the optional `cluster.chaos` faults.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &["forget-vote-on-restart", "fixed-election-timeout"]
    }

    fn run(&self, input: &RunInput<'_, ElectionConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let c = config.clone();
        let out = config.cluster.run(
            input.seed,
            input.mutants,
            input.faults,
            |world| async move {
                let mut leaders = ClusterWatch::new(&world);
                let tick = c.cluster.raft.tick_ms;
                if c.crash_first_voter {
                    crash_first_voter(&world, SimTime::from_ms(c.duration_ms / 2)).await;
                }
                let first = leaders
                    .wait_for_leader(tick, SimTime::from_ms(c.duration_ms / 2))
                    .await;
                let mut isolated = None;
                if let Some((leader, _)) = first {
                    world.sleep(Duration::from_millis(c.isolate_after_ms)).await;
                    let target = leaders.leader().map_or(leader, |(l, _)| l);
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
        // `cluster.chaos`'s, may come before them); for the data file. The checks read
        // what was really in force from the trace.
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
        let loss = LeaderLoss {
            story: CUT_OFF,
            how: "isolated",
            lost: out.value.zip(isolated_at),
            bound_ms,
        };
        let cut_off = LeaderLost(loss.clone());
        let reelection = NewLeaderAfter {
            name: "new-leader-after-isolation",
            loss,
        };
        let rejoin = Rejoin {
            isolated: out.value.zip(isolated_at),
            window_ms: bound_ms,
        };
        let stable = StableAfterRejoin(rejoin.clone());
        let story: Vec<&dyn Check> = vec![&cut_off, &rejoin, &reelection, &stable];
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
    /// The first granted (real) vote's voter.
    #[derive(Default)]
    struct FirstVoter(Option<NodeId>);
    impl Observer for FirstVoter {
        fn observe(&mut self, e: &TraceEvent) {
            if let Some(RaftEvent::Vote {
                refused: None,
                pre_vote: false,
                ..
            }) = e.layer::<RaftEvent>()
            {
                self.0 = self.0.or(e.node);
            }
        }
    }
    let mut cursor = TraceCursor::start();
    while world.now() < deadline {
        let mut first = FirstVoter::default();
        world.observe(&mut cursor, &mut first);
        let voter = first.0;
        if let Some(voter) = voter {
            world.apply(&FaultOp::Kill { node: voter });
            world.apply(&FaultOp::Restart { node: voter });
            return;
        }
        world.sleep(Duration::from_micros(50)).await;
    }
}

/// The Sometimes check that the leader was cut off while the others held a quorum.
const CUT_OFF: &str = "leader-cut-off";
/// The Sometimes check that the isolated node rejoined a healthy cluster led by another.
const REJOINED: &str = "isolated-node-rejoined";

/// When the isolated node really rejoined: the first moment after its isolation ended
/// (read from the trace) from which every voter was healthy and talked to every other for
/// the window, while a leader other than it was in office.
#[derive(Clone, Debug)]
struct Rejoin {
    /// The isolated node and when it was isolated.
    isolated: Option<(NodeId, SimTime)>,
    /// How long the cluster must stay whole after the rejoin, milliseconds.
    window_ms: u64,
}

impl Rejoin {
    /// When it rejoined, and the leader in office then (node, term, elected at).
    fn find(&self, run: &RunView<'_>) -> Option<(SimTime, (NodeId, u64, SimTime))> {
        let (node, at) = self.isolated?;
        let voters = raft::checks::voters_of(run);
        let timeline = sim_core::FaultTimeline::of(run.trace);
        let (_, cut_until) = timeline
            .windows(|s| s.sealed(&[node], &voters))
            .into_iter()
            .find(|(_, until)| *until > at)?;
        let (rejoined, _) =
            timeline.first_window(cut_until, self.window_ms, |s| s.group_healthy(&voters))?;
        // The leader of the highest term in office then (an old leader that has not yet
        // heard of the new term is on its way out, not disrupted).
        let in_office = leader_periods(&run.trace.events)
            .into_iter()
            .filter(|p| p.2 <= rejoined && p.3.is_none_or(|until| until > rejoined))
            .max_by_key(|p| p.1)?;
        (in_office.0 != node).then_some((rejoined, (in_office.0, in_office.1, in_office.2)))
    }
}

impl Check for Rejoin {
    fn name(&self) -> &'static str {
        REJOINED
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        match (self.isolated, self.find(run)) {
            (_, Some(_)) => Outcome::Pass,
            (None, None) => Outcome::not_reached("no leader was isolated"),
            (Some((node, _)), None) => Outcome::not_reached(format!(
                "{node} never rejoined a whole, healthy cluster led by another node for the \
                 window ({} ms)",
                self.window_ms
            )),
        }
    }
}

/// `stable-after-rejoin` (what pre-vote promises): when the isolated node returns to a
/// whole, healthy cluster, the leader in office keeps leading for at least the window.
/// Without pre-vote the returning node's inflated term forces it to step down.
#[derive(Clone, Debug)]
struct StableAfterRejoin(Rejoin);

impl Check for StableAfterRejoin {
    fn name(&self) -> &'static str {
        "stable-after-rejoin"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn needs(&self) -> &[&'static str] {
        &[REJOINED]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let Some((healed, (leader, term, elected))) = self.0.find(run) else {
            return Outcome::not_applicable("the isolated node never rejoined");
        };
        let end = healed.after(Duration::from_millis(self.0.window_ms));
        let period = leader_periods(&run.trace.events)
            .into_iter()
            .find(|p| p.0 == leader && p.1 == term && p.2 == elected);
        match period.and_then(|p| p.3) {
            Some(until) if until <= end => {
                let ended = run
                    .trace
                    .events
                    .iter()
                    .find(|e| e.t_us == until && e.node == Some(leader));
                Outcome::violation(
                    format!(
                        "the returning node disrupted the cluster: leader {leader} of term {term} \
                         lost office at {until}, {} ms after the rejoin at {healed}",
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
