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
//! The story and the checks it shares with `split-brain` live in [`crate::story`]; every
//! check judges the run that happened (when the sides were really sealed off, when the
//! cluster was really whole again), with Sometimes checks that the story took place.

use std::collections::BTreeMap;

use raft::checks::DurableLogs;
use raft::core::Role;
use raft::events::RaftEvent;
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, Directory, Evidence, FaultSchedule, NodeId, Outcome, RunOutput, RunView,
    SimTime, TraceEvent,
};

use crate::raft_world::{judge, leader_periods, ms, ClusterConfig};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};
use crate::story::partition::{partition_story, run_routed, split_servers, Routes, Story, Timing};
use crate::story::partition_checks::{
    heal_bound, CatchesUp, MajorityKeepsCommitting, NoProgressWithoutQuorum, PartitionFacts,
    PartitionStory, CUT, HEALED, MAJORITY_HEALTHY, NEW_LEADER,
};
use crate::story::read::{
    commit_indexes, leader_in_office, leader_list, majority_held_index, LeaderPeriod, OpCounts,
};

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
    fn timing(&self) -> Timing {
        Timing {
            after_ms: self.partition_after_ms,
            for_ms: self.partition_for_ms,
            duration_ms: self.duration_ms,
            bound_timeouts: self.bound_election_timeouts,
        }
    }
}

impl ScenarioConfig for Partition5NodeConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
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
}
// ----- partition-5node's own -----

/// `minority-steps-down` (liveness): within the bound of the moment the cluster is really
/// whole and healthy again, every minority node is a follower in at least the term the
/// majority's leader held then (or leads a later term, legitimately elected). The old
/// leader in particular must not go on leading its old term once it hears of the new one.
#[derive(Clone, Debug)]
struct MinorityStepsDown {
    minority: Vec<NodeId>,
    majority: Vec<NodeId>,
    facts: PartitionFacts,
}

impl Check for MinorityStepsDown {
    fn name(&self) -> &'static str {
        "minority-steps-down"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[HEALED]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let (healed, deadline) = match heal_bound(&self.facts, run) {
            Ok(bound) => bound,
            Err(not_applicable) => return not_applicable,
        };
        let bound_ms = self.facts.bound_ms;
        let events = &run.trace.events;
        let majority_term = leader_periods(events)
            .into_iter()
            .filter(|p| self.majority.contains(&p.0) && p.2 <= healed)
            .map(|p| p.1)
            .max()
            .unwrap_or(0);
        let mut roles: BTreeMap<NodeId, (Role, u64, &TraceEvent)> = BTreeMap::new();
        for e in events.iter().take_while(|e| e.t_us <= deadline) {
            if let (Some(node), Some(RaftEvent::Role { role, term, .. })) =
                (e.node, e.layer::<RaftEvent>())
            {
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
                            "{node} is still {} in term {term} {bound_ms} ms after the cluster \
                             was whole again at {healed}, though the majority's leader had term \
                             {majority_term}",
                            role.as_str()
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
            let dropped: Vec<(u64, u64)> = match e.layer::<RaftEvent>() {
                Some(RaftEvent::LogTruncate { from_index }) => log
                    .entries
                    .range(from_index..)
                    .map(|(i, (t, _))| (*i, *t))
                    .collect(),
                Some(RaftEvent::Snapshot {
                    index,
                    term,
                    installed: true,
                }) if log.term_at(*index) != Some(*term) => {
                    log.entries.iter().map(|(i, (t, _))| (*i, *t)).collect()
                }
                _ => Vec::new(),
            };
            if let (Some(first), Some(last)) = (dropped.first(), dropped.last()) {
                out.push(Truncation {
                    node,
                    at_ms: ms(e.t_us),
                    how: if matches!(e.layer::<RaftEvent>(), Some(RaftEvent::LogTruncate { .. })) {
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

/// This scenario's checks, built from the story: its Sometimes checks, then the checks
/// that judge it.
struct PartitionChecks {
    stories: Vec<PartitionStory>,
    quorum: NoProgressWithoutQuorum,
    majority: MajorityKeepsCommitting,
    steps_down: MinorityStepsDown,
    catches_up: CatchesUp,
}

impl PartitionChecks {
    fn new(story: Option<&Story>, cluster: &ClusterConfig, bound_ms: u64) -> Self {
        let facts = PartitionFacts::of(story, cluster.servers(), bound_ms);
        let side = |i: usize| story.map(|s| s.sides[i].clone()).unwrap_or_default();
        PartitionChecks {
            stories: PartitionStory::each(&[CUT, MAJORITY_HEALTHY, NEW_LEADER, HEALED], &facts),
            quorum: NoProgressWithoutQuorum {
                facts: facts.clone(),
            },
            majority: MajorityKeepsCommitting {
                facts: facts.clone(),
            },
            steps_down: MinorityStepsDown {
                minority: side(0),
                majority: side(1),
                facts: facts.clone(),
            },
            catches_up: CatchesUp {
                name: "minority-catches-up",
                nodes: side(0),
                reference: side(1),
                lag_ms: cluster.election_timeout_ms(),
                facts,
            },
        }
    }

    fn all(&self) -> Vec<&dyn Check> {
        let mut checks: Vec<&dyn Check> = self.stories.iter().map(|s| s as &dyn Check).collect();
        checks.extend([
            &self.quorum as &dyn Check,
            &self.majority,
            &self.steps_down,
            &self.catches_up,
        ]);
        checks
    }
}

fn judge_partition(
    out: &RunOutput<Option<Story>>,
    config: &Partition5NodeConfig,
) -> sim_core::Verdict {
    let bound_ms = config.timing().bound_ms(&config.cluster);
    let checks = PartitionChecks::new(out.value.as_ref(), &config.cluster, bound_ms);
    judge(out, Some(bound_ms), &checks.all())
}

impl Scenario for Partition5Node {
    type Config = Partition5NodeConfig;

    fn name(&self) -> &'static str {
        "partition-5node"
    }

    fn summary(&self) -> &'static str {
        "5 nodes; the leader and one other are cut off from the other three, then healed: the minority commits nothing, the majority elects and commits, the minority steps down and catches up"
    }

    fn directory(&self, config: &Partition5NodeConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &Partition5NodeConfig) -> FaultSchedule {
        // The story's partition depends on who leads, so the driver applies it as it goes;
        // the schedule holds only the optional `cluster.chaos` faults (none by default).
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &["quorum-of-reachable", "no-check-quorum"]
    }

    fn run(
        &self,
        input: &RunInput<'_, Partition5NodeConfig>,
    ) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
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
    use crate::scenario::read_config;
    use std::time::Duration;

    use super::*;
    use raft::events::EntryRef;
    use sim_core::EventKind;
    use sim_core::{EventId, Status, Trace, Verdict};

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

    fn checks_for(story: &Story) -> PartitionChecks {
        let config = Partition5NodeConfig::default();
        PartitionChecks::new(
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
        let config = Partition5NodeConfig::default();
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
            read_config::<Partition5NodeConfig>(&table).unwrap_err()
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
        let c = read_config::<Partition5NodeConfig>(&table).unwrap();
        assert_eq!((c.cluster.nodes, c.cluster.clients), (7, 2));
        let table: toml::Table = toml::from_str("[cluster.raft]\nsurprise = 1").unwrap();
        assert!(read_config::<Partition5NodeConfig>(&table).is_err());
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
        let check = checks_for(&story).quorum;
        // The old leader claims a commit far past anything a majority held.
        let mut trace = out.trace.clone();
        let t = story.partitioned_at.after(Duration::from_millis(500));
        let kind = EventKind::layer(RaftEvent::Commit {
            index: 10_000,
            term: story.term,
        });
        forge(&mut trace, story.leader, t, kind);
        assert!(is_violation(&check.check(&view(&out, &trace))));
    }

    #[test]
    fn a_silent_majority_fails_majority_keeps_committing() {
        let (out, verdict) = run_with(1, &Partition5NodeConfig::default(), &[]);
        assert!(outcome(&verdict, "majority-keeps-committing").is_pass());
        let story = out.value.clone().unwrap();
        let check = checks_for(&story).majority;
        // Erase every commit the majority made during the partition.
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(e.layer::<RaftEvent>(), Some(RaftEvent::Commit { .. }))
                && e.node.is_some_and(|n| story.sides[1].contains(&n))
                && e.t_us >= story.partitioned_at
                && e.t_us < story.healed_at)
        });
        renumber(&mut trace);
        assert!(is_violation(&check.check(&view(&out, &trace))));
        // A bound too short to elect anyone in fails it too.
        let mut short = check.clone();
        short.facts.bound_ms = 1;
        assert!(is_violation(&short.check(&view(&out, &out.trace))));
    }

    #[test]
    fn a_leader_that_stays_fails_minority_steps_down() {
        let (out, verdict) = run_with(1, &Partition5NodeConfig::default(), &[]);
        assert!(outcome(&verdict, "minority-steps-down").is_pass());
        let story = out.value.clone().unwrap();
        let check = checks_for(&story).steps_down;
        // The old leader's role changes after the heal vanish, and it claims its old term.
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(e.layer::<RaftEvent>(), Some(RaftEvent::Role { .. }))
                && e.node == Some(story.leader)
                && e.t_us >= story.healed_at)
        });
        let kind = EventKind::layer(RaftEvent::Role {
            role: Role::Leader,
            term: story.term,
            leader: Some(story.leader),
        });
        forge(&mut trace, story.leader, story.healed_at, kind);
        assert!(is_violation(&check.check(&view(&out, &trace))));
    }

    #[test]
    fn a_minority_node_left_behind_fails_minority_catches_up() {
        let (out, verdict) = run_with(2, &Partition5NodeConfig::default(), &[]);
        assert!(outcome(&verdict, "minority-catches-up").is_pass());
        let story = out.value.clone().unwrap();
        let check = checks_for(&story).catches_up;
        let lagging = story.sides[0][0];
        // It never learns a commit after the heal.
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(
                e.layer::<RaftEvent>(),
                Some(RaftEvent::Commit { .. }) | Some(RaftEvent::HardState { .. })
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
                e.layer::<RaftEvent>(),
                Some(RaftEvent::LogAppend { .. })
                    | Some(RaftEvent::LogTruncate { .. })
                    | Some(RaftEvent::Snapshot { .. })
            ) && e.node == Some(lagging)
                && e.t_us >= story.healed_at)
        });
        let kind = EventKind::layer(RaftEvent::LogAppend {
            entries: vec![EntryRef {
                index: 9_999,
                term: story.term,
                digest: raft::events::EntryDigest(0x5ca1_e000),
            }],
        });
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
