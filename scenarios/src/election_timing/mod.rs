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

use raft::driver::DriverConfig;
use serde::{Deserialize, Serialize};
use sim_core::{Directory, FaultSchedule, LatencyRange, NodeId, SimTime};

use crate::raft_world::{judge, ClusterConfig};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

mod check;
mod summary;
mod supervisor;

use check::{EveryRangeSettles, EveryTrialElects, EveryTrialRan, LeaderCrashedWithQuorum};
pub use summary::election_times_csv;
use summary::summary;
use supervisor::{compacting_writer, supervise};

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

impl ScenarioConfig for ElectionTimingConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
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
/// settled (their missing trials leave `every-trial-ran` not reached).
#[derive(Clone, Debug, Default)]
struct Story {
    trials: Vec<Trial>,
    unsettled: Vec<(usize, SimTime)>,
}

impl Scenario for ElectionTiming {
    type Config = ElectionTimingConfig;

    fn name(&self) -> &'static str {
        "election-timing"
    }

    fn summary(&self) -> &'static str {
        "Raft paper Figure 16: 5 servers, the leader crashed over and over; time to elect a new one for each election-timeout range"
    }

    fn directory(&self, config: &ElectionTimingConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &ElectionTimingConfig) -> FaultSchedule {
        // The crashes follow the leader, so the supervisor applies them as it goes.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(
        &self,
        input: &RunInput<'_, ElectionTimingConfig>,
    ) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
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
        let bounds_ms: Vec<u64> = config.ranges.iter().map(|r| config.bound_ms(*r)).collect();
        let ran = EveryTrialRan {
            trials: &story.trials,
            unsettled: &story.unsettled,
            ranges: &config.ranges,
            trials_per_range: config.trials,
        };
        let servers = config.cluster.servers();
        let crashed = LeaderCrashedWithQuorum {
            trials: &story.trials,
            ranges: &config.ranges,
            servers: &servers,
            bounds_ms: bounds_ms.clone(),
        };
        let settles = EveryRangeSettles {
            unsettled: &story.unsettled,
            ranges: &config.ranges,
            servers: &servers,
            bounds_ms: bounds_ms.clone(),
        };
        let elects = EveryTrialElects {
            trials: &story.trials,
            ranges: &config.ranges,
            bounds_ms,
        };
        let last = *config.ranges.last().expect("ranges are not empty");
        let verdict = judge(
            &out,
            Some(config.bound_ms(last)),
            &[&ran, &crashed, &settles, &elects],
        );
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

#[cfg(test)]
mod tests {
    use crate::scenario::read_config;
    use std::time::Duration;

    use sim_core::{Check, RunView};

    use super::summary::percentile;
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

    fn view_of<R>(trace: &sim_core::Trace, f: impl FnOnce(&RunView<'_>) -> R) -> R {
        let history = sim_core::History::default();
        f(&RunView {
            seed: 0,
            nodes: &[],
            trace,
            history: &history,
        })
    }

    #[test]
    fn late_or_missing_leaders_fail_every_trial_elects() {
        let ranges = [TimeoutRangeMs::new(150, 300)];
        let judge = |trials: &[Trial]| {
            view_of(&sim_core::Trace::default(), |view| {
                EveryTrialElects {
                    trials,
                    ranges: &ranges,
                    bounds_ms: vec![3_000],
                }
                .check(view)
            })
        };
        assert!(judge(&[trial(0, 0, Some(200)), trial(0, 1, Some(3_000))]).is_pass());
        assert!(!judge(&[trial(0, 0, Some(200)), trial(0, 1, Some(3_001))]).is_pass());
        assert!(!judge(&[trial(0, 0, Some(200)), trial(0, 1, None)]).is_pass());
    }

    #[test]
    fn unrun_trials_or_an_unsettled_range_are_a_story_not_reached() {
        let ranges = [TimeoutRangeMs::new(150, 300)];
        let ran = |trials: &[Trial], unsettled: &[(usize, SimTime)]| {
            view_of(&sim_core::Trace::default(), |view| {
                EveryTrialRan {
                    trials,
                    unsettled,
                    ranges: &ranges,
                    trials_per_range: 2,
                }
                .check(view)
            })
        };
        let two = [trial(0, 0, Some(200)), trial(0, 1, Some(200))];
        assert!(ran(&two, &[]).is_pass());
        assert!(matches!(
            ran(&two[..1], &[]),
            sim_core::Outcome::NotReached { .. }
        ));
        assert!(matches!(
            ran(&two, &[(0, SimTime::ZERO)]),
            sim_core::Outcome::NotReached { .. }
        ));
    }

    #[test]
    fn a_crash_without_a_healthy_quorum_is_not_the_story() {
        use sim_core::{EventId, EventKind, Trace, TraceEvent};
        let servers: Vec<NodeId> = (0..5).map(NodeId::from_index).collect();
        let ranges = [TimeoutRangeMs::new(150, 300)];
        // The trial's leader (n1) is killed at 2 s; `also` are killed with it.
        let crashed = |also: &[NodeId]| {
            let event = |i: usize, ms: u64, node: Option<NodeId>, kind| TraceEvent {
                id: EventId(i as u64),
                t_us: SimTime::from_ms(ms),
                node,
                kind,
            };
            let mut events = vec![event(
                0,
                0,
                None,
                EventKind::RunStart {
                    seed: 0,
                    nodes: servers.clone(),
                    directory: Default::default(),
                },
            )];
            for n in std::iter::once(&servers[0]).chain(also) {
                events.push(event(
                    events.len(),
                    2_000,
                    Some(*n),
                    EventKind::NodeCrash {
                        cause: sim_core::trace::CrashCause::Kill,
                        lost_bytes: 0,
                        torn_bytes_kept: 0,
                    },
                ));
            }
            events.push(event(events.len(), 9_000, None, EventKind::RunEnd));
            let mut t = trial(0, 1, Some(300));
            t.leader = servers[0];
            view_of(&Trace { events }, |view| {
                LeaderCrashedWithQuorum {
                    trials: &[t],
                    ranges: &ranges,
                    servers: &servers,
                    bounds_ms: vec![3_000],
                }
                .check(view)
            })
        };
        assert!(crashed(&[]).is_pass());
        // Two more down: three of five gone, no quorum is left to elect.
        assert!(matches!(
            crashed(&servers[1..3]),
            sim_core::Outcome::NotReached { .. }
        ));
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
        let parse = |s: &str| read_config::<ElectionTimingConfig>(&toml::from_str(s).unwrap());
        assert!(parse("").is_ok());
        assert!(parse("ranges = [{ min_ms = 150, max_ms = 150 }]").is_ok());
        assert!(parse("ranges = [{ min_ms = 150, max_ms = 149 }]").is_err());
        assert!(parse("ranges = []").is_err());
        assert!(parse("ranges = [{ min_ms = 1, max_ms = 2 }]").is_err());
        assert!(parse("[cluster.raft]\nelection_ticks = 20\n").is_err());
    }
}
