//! `split-brain`: 4 Raft nodes split 2/2 for a long time, then healed (004 §6: an even
//! cluster buys nothing); `cluster.nodes = 3` or `5` for contrast.
//!
//! Once a leader is elected, its side is the leader and ⌊(N−1)/2⌋ others drawn from the
//! seed; the other side is the rest: 2/2 on 4 nodes, 2/1 on 3 and 3/2 on 5 (there the
//! leader's side keeps a majority). Clients alternate between the sides (the first with the
//! leader's) and each only knows its own side's servers.
//!
//! Correct Raft: on 4 nodes neither side has a quorum of 3, so neither commits anything
//! (`no-progress-without-quorum`): the cluster is unavailable but consistent, and after the
//! heal it elects a leader and every node catches up (`sides-reconcile`). On 3 and 5 nodes
//! the majority side keeps committing (`majority-keeps-committing`). With the planted bug
//! `quorum-of-reachable` each side counts its majority among the nodes it can reach, both
//! sides elect leaders that commit conflicting values, and the Raft checkers flag it.

use std::collections::BTreeMap;

use raft::events::{EntryDigest, RaftEvent};
use serde::{Deserialize, Serialize};
use sim_core::{
    Check, Directory, EntryType, FaultSchedule, History, NodeId, OpId, RunOutput, SimTime,
    TraceEvent, Verdict,
};

use crate::raft_world::{judge, ms, ClusterConfig};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};
use crate::story::partition::{partition_story, run_routed, split_servers, Routes, Story, Timing};
use crate::story::partition_checks::{
    CatchesUp, MajorityKeepsCommitting, NoProgressWithoutQuorum, PartitionFacts, PartitionStory,
    CUT, HEALED, MAJORITY_HEALTHY,
};
use crate::story::read::{
    commit_indexes, leader_in_office, leader_list, majority_held_index, LeaderPeriod, OpCounts,
};

/// The split-brain scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitBrainConfig {
    /// The cluster (4 nodes and 2 clients by default; 3 or 5 nodes for contrast).
    pub cluster: ClusterConfig,
    /// Split this long after the first leader is elected, milliseconds.
    pub partition_after_ms: u64,
    /// Keep the split this long, milliseconds (at least the bound).
    pub partition_for_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
    /// The bound of the liveness checks, in election timeouts: a majority side (3 or 5
    /// nodes) commits within it of the split; every node catches up within it of the heal.
    pub bound_election_timeouts: u64,
}

impl Default for SplitBrainConfig {
    fn default() -> Self {
        SplitBrainConfig {
            cluster: ClusterConfig {
                nodes: 4,
                clients: 2,
                ..ClusterConfig::default()
            },
            partition_after_ms: 2_000,
            partition_for_ms: 8_000,
            duration_ms: 24_000,
            bound_election_timeouts: 4,
        }
    }
}

impl SplitBrainConfig {
    fn timing(&self) -> Timing {
        Timing {
            after_ms: self.partition_after_ms,
            for_ms: self.partition_for_ms,
            duration_ms: self.duration_ms,
            bound_timeouts: self.bound_election_timeouts,
        }
    }
}

impl ScenarioConfig for SplitBrainConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        // Two nodes is the smallest cluster that can be split (1/1).
        c.cluster.validate(2)?;
        c.timing().validate(&c.cluster)?;
        Ok(c)
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitBrain;

/// Runs the story with `config`.
fn run_story(
    config: &SplitBrainConfig,
    seed: u64,
    mutants: &[String],
    faults: &FaultSchedule,
) -> Result<RunOutput<Option<Story>>, ScenarioError> {
    let cluster = config.cluster.clone();
    let timing = config.timing();
    let routes = Routes::default();
    // The leader and ⌊(N−1)/2⌋ others: exactly half on an even N, a majority on an odd N.
    let with_leader = (cluster.nodes - 1) / 2;
    let servers = cluster.servers();
    run_routed(&cluster, seed, mutants, faults, &routes, |world| {
        partition_story(
            world,
            cluster.clone(),
            timing,
            routes.clone(),
            move |leader| split_servers(seed, "split-brain/sides", &servers, leader, with_leader),
            |k| k % 2,
        )
    })
}

/// This scenario's checks, built from the story: on an odd N the leader's side is a
/// majority and must keep committing; on an even N neither side has a quorum and only the
/// quorum rule and the reconciliation after the heal are judged.
struct SplitChecks {
    stories: Vec<PartitionStory>,
    quorum: NoProgressWithoutQuorum,
    majority: Option<MajorityKeepsCommitting>,
    reconcile: CatchesUp,
}

impl SplitChecks {
    fn new(story: Option<&Story>, cluster: &ClusterConfig, bound_ms: u64) -> Self {
        let voters = cluster.servers();
        // The leader's side may keep its leader on an odd N: any term will do.
        let mut facts = PartitionFacts::of(story, voters.clone(), bound_ms);
        facts.old_term = 0;
        let odd = cluster.nodes % 2 == 1;
        let names: &[&'static str] = if odd {
            &[CUT, MAJORITY_HEALTHY, HEALED]
        } else {
            &[CUT, HEALED]
        };
        SplitChecks {
            stories: PartitionStory::each(names, &facts),
            quorum: NoProgressWithoutQuorum {
                facts: facts.clone(),
            },
            majority: odd.then(|| MajorityKeepsCommitting {
                facts: facts.clone(),
            }),
            reconcile: CatchesUp {
                name: "sides-reconcile",
                nodes: voters.clone(),
                reference: voters,
                lag_ms: cluster.election_timeout_ms(),
                facts,
            },
        }
    }

    fn all(&self) -> Vec<&dyn Check> {
        let mut checks: Vec<&dyn Check> = self.stories.iter().map(|s| s as &dyn Check).collect();
        checks.push(&self.quorum);
        if let Some(m) = &self.majority {
            checks.push(m);
        }
        checks.push(&self.reconcile);
        checks
    }
}

fn judge_split(out: &RunOutput<Option<Story>>, config: &SplitBrainConfig) -> Verdict {
    let bound_ms = config.timing().bound_ms(&config.cluster);
    let checks = SplitChecks::new(out.value.as_ref(), &config.cluster, bound_ms);
    judge(out, Some(bound_ms), &checks.all())
}

/// One side of the split, for `split_brain.json`.
#[derive(Debug, Serialize)]
struct SideData {
    /// `a` is the side the leader was on.
    side: &'static str,
    servers: Vec<NodeId>,
    clients: Vec<NodeId>,
    /// Whether it holds a majority of the voters.
    has_quorum: bool,
    /// Leaders among its servers at some moment of the split.
    leaders: Vec<LeaderPeriod>,
    /// The side's highest commit index when the split began.
    commit_at_partition: u64,
    /// The side's highest commit index at the heal.
    commit_at_heal: u64,
    /// `commit` advances its servers recorded during the split.
    commit_events: u64,
    /// Distinct log indexes its servers applied during the split.
    entries_applied: u64,
    /// Its clients' outcomes during the split (by completion time).
    ops: OpCounts,
    /// Share of its clients' completed operations that succeeded during the split.
    availability: Option<f64>,
}

/// What one side committed at an index the other side committed differently.
#[derive(Debug, Serialize)]
struct Committed {
    side: &'static str,
    term: u64,
    digest: EntryDigest,
    /// The write's value, when a client was told it succeeded there (a leader's no-op entry
    /// has none).
    value: Option<String>,
}

/// An index both sides committed, differently.
#[derive(Debug, Serialize)]
struct Conflict {
    index: u64,
    sides: Vec<Committed>,
}

/// What the run measured, for `split_brain.json`: the split-brain diagram.
#[derive(Debug, Serialize)]
struct SplitBrainData {
    voters: Vec<NodeId>,
    quorum: usize,
    first_leader: Option<LeaderPeriod>,
    partitioned_at_ms: Option<f64>,
    healed_at_ms: Option<f64>,
    end_ms: f64,
    /// The highest index a majority held when the split began.
    majority_held_at_partition: Option<u64>,
    sides: Vec<SideData>,
    /// Indexes both sides committed (applied) with different entries during the split.
    conflicts: Vec<Conflict>,
    leader_at_end: Option<LeaderPeriod>,
    leaders: Vec<LeaderPeriod>,
}

const SIDE_NAMES: [&str; 2] = ["a", "b"];

/// The value each acknowledged write was told it was applied as, by (index, term).
fn acked_values(history: &History) -> BTreeMap<(u64, u64), String> {
    let invoked: BTreeMap<OpId, &serde_json::Value> = history
        .entries
        .iter()
        .filter(|e| e.entry_type == EntryType::Invoke && e.f == "put")
        .map(|e| (e.op, &e.value["value"]))
        .collect();
    history
        .entries
        .iter()
        .filter(|e| e.entry_type == EntryType::Ok && e.f == "put")
        .filter_map(|e| {
            let at = (e.value["index"].as_u64()?, e.value["term"].as_u64()?);
            let value = invoked.get(&e.op)?;
            Some((at, value.as_str().map_or(value.to_string(), str::to_string)))
        })
        .collect()
}

/// Entries `side` applied during `[from, until)`: index → (term, digest).
fn applied_by(
    events: &[TraceEvent],
    side: &[NodeId],
    from: SimTime,
    until: SimTime,
) -> BTreeMap<u64, (u64, EntryDigest)> {
    let mut applied = BTreeMap::new();
    for e in events.iter().filter(|e| e.t_us >= from && e.t_us < until) {
        if let (
            Some(node),
            Some(RaftEvent::Apply {
                index,
                term,
                digest,
            }),
        ) = (e.node, e.layer::<RaftEvent>())
        {
            if side.contains(&node) {
                applied.entry(*index).or_insert((*term, *digest));
            }
        }
    }
    applied
}

fn split_data(out: &RunOutput<Option<Story>>, cluster: &ClusterConfig) -> SplitBrainData {
    let events = &out.trace.events;
    let voters = cluster.servers();
    let end = out.trace.end_time();
    let mut data = SplitBrainData {
        quorum: voters.len() / 2 + 1,
        first_leader: leader_list(events).into_iter().next(),
        partitioned_at_ms: None,
        healed_at_ms: None,
        end_ms: ms(end),
        majority_held_at_partition: None,
        sides: vec![],
        conflicts: vec![],
        leader_at_end: leader_in_office(events, &voters, end),
        leaders: leader_list(events),
        voters: voters.clone(),
    };
    let Some(story) = out.value.as_ref() else {
        return data;
    };
    let (from, until) = story.window();
    let during = |t: SimTime| t >= from && t < until;
    let at_partition = commit_indexes(events, &voters, from);
    let at_heal = commit_indexes(events, &voters, until);
    let mut applied = Vec::new();
    for (i, (servers, clients)) in story.sides.iter().zip(&story.side_clients).enumerate() {
        let ops = OpCounts::of(&out.history, clients, during);
        let side_applied = applied_by(events, servers, from, until);
        data.sides.push(SideData {
            side: SIDE_NAMES[i],
            servers: servers.clone(),
            clients: clients.clone(),
            has_quorum: 2 * servers.len() > voters.len(),
            leaders: leader_list(events)
                .into_iter()
                .filter(|p| {
                    servers.contains(&p.node)
                        && p.from_ms < ms(until)
                        && p.until_ms.is_none_or(|u| u > ms(from))
                })
                .collect(),
            commit_at_partition: servers.iter().map(|n| at_partition[n]).max().unwrap_or(0),
            commit_at_heal: servers.iter().map(|n| at_heal[n]).max().unwrap_or(0),
            commit_events: events
                .iter()
                .filter(|e| {
                    during(e.t_us)
                        && matches!(e.layer::<RaftEvent>(), Some(RaftEvent::Commit { .. }))
                        && e.node.is_some_and(|n| servers.contains(&n))
                })
                .count() as u64,
            entries_applied: side_applied.len() as u64,
            availability: ops.availability(),
            ops,
        });
        applied.push(side_applied);
    }
    let values = acked_values(&out.history);
    if let [a, b] = applied.as_slice() {
        for (index, (ta, da)) in a {
            let Some((tb, db)) = b.get(index) else {
                continue;
            };
            if (ta, da) != (tb, db) {
                data.conflicts.push(Conflict {
                    index: *index,
                    sides: [(0, *ta, da), (1, *tb, db)]
                        .into_iter()
                        .map(|(s, term, digest)| Committed {
                            side: SIDE_NAMES[s],
                            term,
                            digest: *digest,
                            value: values.get(&(*index, term)).cloned(),
                        })
                        .collect(),
                });
            }
        }
    }
    data.partitioned_at_ms = Some(ms(from));
    data.healed_at_ms = Some(ms(until));
    data.majority_held_at_partition = Some(majority_held_index(events, &voters, from));
    data
}

impl Scenario for SplitBrain {
    type Config = SplitBrainConfig;

    fn name(&self) -> &'static str {
        "split-brain"
    }

    fn summary(&self) -> &'static str {
        "4 nodes split 2/2 (3 or 5 for contrast): no side without a quorum commits; with quorum-of-reachable both sides elect leaders and commit conflicting values"
    }

    fn directory(&self, config: &SplitBrainConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &SplitBrainConfig) -> FaultSchedule {
        // The story's partition depends on who leads, so the driver applies it as it goes;
        // the schedule holds only the optional `cluster.chaos` faults (none by default).
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &["quorum-of-reachable"]
    }

    fn run(&self, input: &RunInput<'_, SplitBrainConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let out = run_story(&config, input.seed, input.mutants, input.faults)?;
        let verdict = judge_split(&out, &config);
        let data = split_data(&out, &config.cluster);
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![(
                "split_brain.json".into(),
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
    use super::*;
    use crate::scenario::read_config;
    use sim_core::{EventId, Outcome, RunView, Status, Trace};

    fn config(nodes: usize) -> SplitBrainConfig {
        let mut c = SplitBrainConfig::default();
        c.cluster.nodes = nodes;
        c
    }

    fn run_with(
        seed: u64,
        config: &SplitBrainConfig,
        mutants: &[&str],
    ) -> (RunOutput<Option<Story>>, Verdict) {
        let mutants: Vec<String> = mutants.iter().map(|m| m.to_string()).collect();
        let out = run_story(config, seed, &mutants, &FaultSchedule::default()).unwrap();
        let verdict = judge_split(&out, config);
        (out, verdict)
    }

    fn failed(verdict: &Verdict) -> Vec<String> {
        verdict.failures().map(|c| c.name.clone()).collect()
    }

    fn view<'a>(out: &'a RunOutput<Option<Story>>, trace: &'a Trace) -> RunView<'a> {
        RunView {
            seed: out.seed,
            nodes: &out.nodes,
            trace,
            history: &out.history,
        }
    }

    fn is_violation(o: &Outcome) -> bool {
        matches!(o, Outcome::Violation { .. })
    }

    #[test]
    fn an_even_split_is_unavailable_but_consistent() {
        let c = config(4);
        for seed in [1, 2] {
            let (out, verdict) = run_with(seed, &c, &[]);
            assert_eq!(
                verdict.status(),
                Status::Pass,
                "seed {seed}: {:?}",
                failed(&verdict)
            );
            let data = split_data(&out, &c.cluster);
            assert_eq!(data.sides.len(), 2);
            for side in &data.sides {
                assert_eq!(side.servers.len(), 2);
                assert!(!side.has_quorum);
                assert_eq!(side.ops.writes_ok, 0, "seed {seed}: side {}", side.side);
            }
            assert!(data.conflicts.is_empty());
            serde_json::to_vec(&data).unwrap();
        }
    }

    #[test]
    fn odd_clusters_keep_committing_on_the_majority_side() {
        for nodes in [3, 5] {
            let c = config(nodes);
            let (out, verdict) = run_with(1, &c, &[]);
            assert_eq!(
                verdict.status(),
                Status::Pass,
                "{nodes} nodes: {:?}",
                failed(&verdict)
            );
            let data = split_data(&out, &c.cluster);
            let (a, b) = (&data.sides[0], &data.sides[1]);
            assert!(a.has_quorum && !b.has_quorum);
            assert_eq!(a.servers.len(), nodes / 2 + 1);
            assert!(a.ops.writes_ok > 0, "{nodes} nodes");
            assert_eq!(b.ops.writes_ok, 0, "{nodes} nodes");
            assert!(a.commit_at_heal > a.commit_at_partition);
        }
    }

    #[test]
    fn quorum_of_reachable_splits_the_brain() {
        let c = config(4);
        let (out, verdict) = run_with(1, &c, &["quorum-of-reachable"]);
        assert_eq!(verdict.status(), Status::SafetyViolation);
        assert_eq!(verdict.status().exit_code(), 3);
        let failed = failed(&verdict);
        for name in ["no-progress-without-quorum", "commit-needs-majority"] {
            assert!(failed.contains(&name.to_string()), "{failed:?}");
        }
        let data = split_data(&out, &c.cluster);
        assert!(data.sides.iter().all(|s| s.commit_events > 0));
        // Clients on both sides were told different values succeeded at one index.
        assert!(data
            .conflicts
            .iter()
            .any(|c| c.sides.iter().all(|s| s.value.is_some())));
    }

    #[test]
    fn impossible_configs_are_refused() {
        let bad = |text: &str| {
            let table: toml::Table = toml::from_str(text).unwrap();
            read_config::<SplitBrainConfig>(&table).unwrap_err()
        };
        for text in [
            "[cluster]\nnodes = 1",
            "[cluster]\nnodes = 16",
            "duration_ms = 12000",
            "partition_for_ms = 3000",
            "surprise = true",
        ] {
            assert!(matches!(bad(text), ScenarioError::Config(_)), "{text}");
        }
        // A partly given cluster keeps this scenario's other defaults (2 clients).
        let five: toml::Table = toml::from_str("[cluster]\nnodes = 5").unwrap();
        let c = read_config::<SplitBrainConfig>(&five).unwrap();
        assert_eq!((c.cluster.nodes, c.cluster.clients), (5, 2));
    }

    #[test]
    fn the_scenario_runs_through_the_trait() {
        let config = SplitBrainConfig::default();
        let run = SplitBrain
            .run(&RunInput {
                seed: 3,
                config: &config,
                faults: &FaultSchedule::default(),
                mutants: &["quorum-of-reachable".to_string()],
            })
            .unwrap();
        assert_eq!(run.verdict.status(), Status::SafetyViolation);
        assert_eq!(run.data[0].0, "split_brain.json");
        assert_eq!(run.nodes.len(), 6);
    }

    #[test]
    fn a_node_that_never_learns_the_commits_fails_sides_reconcile() {
        let c = config(4);
        let (out, verdict) = run_with(2, &c, &[]);
        assert_eq!(verdict.status(), Status::Pass);
        let story = out.value.clone().unwrap();
        let check = SplitChecks::new(Some(&story), &c.cluster, 4_000).reconcile;
        // A node of the side without the leader sees nothing after the heal.
        let behind = story.sides[1][0];
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(
                e.layer::<RaftEvent>(),
                Some(RaftEvent::Commit { .. })
                    | Some(RaftEvent::HardState { .. })
                    | Some(RaftEvent::LogAppend { .. })
                    | Some(RaftEvent::LogTruncate { .. })
                    | Some(RaftEvent::Snapshot { .. })
            ) && e.node == Some(behind)
                && e.t_us >= story.healed_at)
        });
        for (i, e) in trace.events.iter_mut().enumerate() {
            e.id = EventId(i as u64);
        }
        assert!(is_violation(&check.check(&view(&out, &trace))));
    }

    #[test]
    fn no_majority_commit_fails_majority_keeps_committing() {
        let c = config(5);
        let (out, _) = run_with(2, &c, &[]);
        let story = out.value.clone().unwrap();
        let check = SplitChecks::new(Some(&story), &c.cluster, 4_000)
            .majority
            .expect("an odd cluster has a majority side");
        assert!(check.check(&view(&out, &out.trace)).is_pass());
        let mut trace = out.trace.clone();
        trace.events.retain(|e| {
            !(matches!(e.layer::<RaftEvent>(), Some(RaftEvent::Commit { .. }))
                && e.t_us >= story.partitioned_at
                && e.t_us < story.healed_at)
        });
        for (i, e) in trace.events.iter_mut().enumerate() {
            e.id = EventId(i as u64);
        }
        assert!(is_violation(&check.check(&view(&out, &trace))));
    }
}
