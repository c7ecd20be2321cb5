//! `leader-crash`: 3 or 5 nodes under client load; the leader is killed, and restarted
//! later. The followers miss its heartbeats and elect a new leader within about an election
//! timeout; clients retry against it; no acknowledged write is lost; the restarted node
//! recovers from its WAL and catches up. The run folder gets the downtime and every client
//! operation's latency.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim_core::{Check, Directory, EntryType, FaultOp, FaultSchedule, History, NodeId, SimTime};

use crate::raft_world::{judge, leader_periods, ms, ClusterConfig, ClusterWatch};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};
use crate::story::leader_loss::{LeaderLoss, LeaderLost, NewLeaderAfter};

/// The leader-crash scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaderCrashConfig {
    /// The cluster (3 nodes and 2 clients by default).
    pub cluster: ClusterConfig,
    /// Kill the leader this long after it is first elected, milliseconds.
    pub kill_after_ms: u64,
    /// Restart it this long after the kill, milliseconds.
    pub down_for_ms: u64,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
    /// A new leader must be elected within this many election timeouts of the kill.
    pub bound_election_timeouts: u64,
}

impl Default for LeaderCrashConfig {
    fn default() -> Self {
        LeaderCrashConfig {
            cluster: ClusterConfig {
                clients: 2,
                ..ClusterConfig::default()
            },
            kill_after_ms: 3_000,
            down_for_ms: 5_000,
            duration_ms: 20_000,
            bound_election_timeouts: 3,
        }
    }
}

impl LeaderCrashConfig {
    fn bound_ms(&self) -> u64 {
        self.bound_election_timeouts * self.cluster.election_timeout_ms()
    }
}

impl ScenarioConfig for LeaderCrashConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        c.cluster.validate(3)?;
        if c.down_for_ms == 0 || c.bound_election_timeouts == 0 {
            return Err(ScenarioError::Config(
                "down_for_ms and bound_election_timeouts must be more than zero".into(),
            ));
        }
        let needed = c.kill_after_ms + c.down_for_ms + 2 * c.bound_ms() + 3_000;
        if c.duration_ms < needed {
            return Err(ScenarioError::Config(format!(
                "duration_ms = {} is too short for the kill, the restart and the liveness bounds (at least {needed})",
                c.duration_ms
            )));
        }
        Ok(c)
    }
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaderCrash;

/// What the run measured, for `downtime.json`.
#[derive(Debug, Serialize)]
struct Downtime {
    killed: Option<NodeId>,
    killed_at_ms: Option<f64>,
    restarted_at_ms: Option<f64>,
    new_leader: Option<NodeId>,
    new_leader_term: Option<u64>,
    new_leader_at_ms: Option<f64>,
    /// From the kill to the next leader.
    election_ms: Option<f64>,
    /// From the kill to the first write acknowledged after it: what clients saw.
    write_downtime_ms: Option<f64>,
    writes_ok: usize,
    writes_indeterminate: usize,
    reads_ok: usize,
}

impl Scenario for LeaderCrash {
    type Config = LeaderCrashConfig;

    fn name(&self) -> &'static str {
        "leader-crash"
    }

    fn summary(&self) -> &'static str {
        "the leader of a loaded cluster is killed and later restarted; a new leader takes over and no acknowledged write is lost"
    }

    fn directory(&self, config: &LeaderCrashConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &LeaderCrashConfig) -> FaultSchedule {
        // Who to kill depends on who leads, so the driver applies the story's faults as it
        // goes; the schedule holds only the optional `cluster.chaos` faults.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &[
            "commit-old-term",
            "vote-without-log-check",
            "forget-vote-on-restart",
            "truncate-committed",
        ]
    }

    fn run(&self, input: &RunInput<'_, LeaderCrashConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let c = config.clone();
        let out = config.cluster.run(
            input.seed,
            input.mutants,
            input.faults,
            |world| async move {
                let mut leaders = ClusterWatch::new(&world);
                let tick = c.cluster.raft.tick_ms;
                let mut killed = None;
                let give_up = SimTime::from_ms(c.duration_ms / 2);
                if leaders.wait_for_leader(tick, give_up).await.is_some() {
                    world.sleep(Duration::from_millis(c.kill_after_ms)).await;
                    // Under `cluster.chaos` the first leader may be gone by now: kill
                    // whoever leads next.
                    if let Some((leader, _)) = leaders.wait_for_leader(tick, give_up).await {
                        world.apply(&FaultOp::Kill { node: leader });
                        killed = Some((leader, world.now()));
                        world.sleep(Duration::from_millis(c.down_for_ms)).await;
                        world.apply(&FaultOp::Restart { node: leader });
                    }
                }
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
                killed
            },
        )?;
        let periods = leader_periods(&out.trace.events);
        let next = out.value.and_then(|(node, at)| {
            periods
                .iter()
                .find(|p| p.2 > at && p.0 != node)
                .map(|p| (p.0, p.1, p.2))
        });
        let bound_ms = config.bound_ms();
        let loss = LeaderLoss {
            story: "leader-killed",
            how: "killed",
            lost: out.value,
            bound_ms,
        };
        let killed = LeaderLost(loss.clone());
        let reelection = NewLeaderAfter {
            name: "new-leader-after-crash",
            loss,
        };
        let story: Vec<&dyn Check> = vec![&killed, &reelection];
        let verdict = judge(&out, Some(bound_ms), &story);
        let killed_at = out.value.map(|(_, at)| at);
        let first_ack_after = killed_at.and_then(|k| {
            out.history
                .entries
                .iter()
                .find(|e| e.entry_type == EntryType::Ok && e.f != "get" && e.t_us > k)
                .map(|e| e.t_us)
        });
        // Reads are `get`s; `put`, `delete` and `cas` all write.
        let count = |reads: bool, t: EntryType| {
            out.history
                .entries
                .iter()
                .filter(|e| (e.f == "get") == reads && e.entry_type == t)
                .count()
        };
        let downtime = Downtime {
            killed: out.value.map(|(n, _)| n),
            killed_at_ms: killed_at.map(ms),
            restarted_at_ms: killed_at.map(|k| ms(k) + config.down_for_ms as f64),
            new_leader: next.map(|n| n.0),
            new_leader_term: next.map(|n| n.1),
            new_leader_at_ms: next.map(|n| ms(n.2)),
            election_ms: killed_at.zip(next).map(|(k, n)| ms(n.2) - ms(k)),
            write_downtime_ms: killed_at.zip(first_ack_after).map(|(k, a)| ms(a) - ms(k)),
            writes_ok: count(false, EntryType::Ok),
            writes_indeterminate: count(false, EntryType::Info),
            reads_ok: count(true, EntryType::Ok),
        };
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![
                (
                    "downtime.json".into(),
                    serde_json::to_vec_pretty(&downtime).expect("data serializes"),
                ),
                (
                    "client_ops.csv".into(),
                    client_ops_csv(&out.history).into_bytes(),
                ),
            ],
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}

/// Every client operation with its latency: `op,client,f,invoke_ms,complete_ms,outcome,latency_ms`.
pub fn client_ops_csv(history: &History) -> String {
    let mut csv = String::from("op,client,f,invoke_ms,complete_ms,outcome,latency_ms\n");
    let mut invoked = std::collections::BTreeMap::new();
    for e in &history.entries {
        if e.entry_type == EntryType::Invoke {
            invoked.insert(e.op, e);
            continue;
        }
        let Some(start) = invoked.get(&e.op) else {
            continue;
        };
        let outcome = match e.entry_type {
            EntryType::Ok => "ok",
            EntryType::Fail => "fail",
            EntryType::Info | EntryType::Invoke => "info",
        };
        let _ = writeln!(
            csv,
            "{},{},{},{:.3},{:.3},{outcome},{:.3}",
            e.op.0,
            e.client,
            e.f,
            ms(start.t_us),
            ms(e.t_us),
            ms(e.t_us) - ms(start.t_us)
        );
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{execute, prepare};
    use crate::spec::ScenarioFile;
    use raft::events::RaftEvent;

    fn run(seed: u64, config: &str, mutants: &[&str]) -> ScenarioRun {
        let file = ScenarioFile {
            scenario: "leader-crash".into(),
            seed,
            config: toml::from_str(config).unwrap(),
            mutants: mutants.iter().map(|m| m.to_string()).collect(),
            faults: None,
        };
        execute(&prepare(&file).unwrap()).unwrap()
    }

    #[test]
    fn a_crashed_leader_is_replaced_and_no_ack_is_lost() {
        for seed in 0..4 {
            let r = run(seed, "", &[]);
            assert_eq!(
                r.verdict.status(),
                sim_core::Status::Pass,
                "seed {seed}: {:?}",
                r.verdict.failures().collect::<Vec<_>>()
            );
            let downtime: serde_json::Value = serde_json::from_slice(&r.data[0].1).unwrap();
            assert!(downtime["election_ms"].as_f64().unwrap() > 0.0);
            assert!(downtime["writes_ok"].as_u64().unwrap() > 10);
        }
    }

    #[test]
    fn five_nodes_work_too() {
        let r = run(1, "[cluster]\nnodes = 5\n", &[]);
        assert_eq!(r.verdict.status(), sim_core::Status::Pass);
    }

    #[test]
    fn a_missing_new_leader_fails_the_liveness_check() {
        let r = run(1, "", &[]);
        let check = |name: &str| {
            r.verdict
                .checks
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .outcome
                .clone()
        };
        assert!(check("leader-killed").is_pass());
        assert!(check("new-leader-after-crash").is_pass());
        let (killed, at) = r
            .trace
            .events
            .iter()
            .find_map(|e| match &e.kind {
                sim_core::EventKind::Fault {
                    fault: FaultOp::Kill { node },
                } => Some((*node, e.t_us)),
                _ => None,
            })
            .expect("the leader was killed");
        let loss = LeaderLoss {
            story: "leader-killed",
            how: "killed",
            lost: Some((killed, at)),
            bound_ms: 4_000,
        };
        let check = NewLeaderAfter {
            name: "new-leader-after-crash",
            loss,
        };
        // No other server ever becomes leader after the kill.
        let mut trace = r.trace.clone();
        trace.events.retain(|e| {
            !(e.t_us >= at
                && e.node != Some(killed)
                && matches!(
                    e.layer::<RaftEvent>(),
                    Some(RaftEvent::Role {
                        role: raft::core::Role::Leader,
                        ..
                    })
                ))
        });
        let view = sim_core::RunView {
            seed: 1,
            nodes: &r.nodes,
            trace: &trace,
            history: &r.history,
        };
        assert!(matches!(
            check.check(&view),
            sim_core::Outcome::Violation { .. }
        ));
        // A bound too short for any election fails it too.
        let mut short = check.clone();
        short.loss.bound_ms = 1;
        let view = sim_core::RunView {
            trace: &r.trace,
            ..view
        };
        assert!(matches!(
            short.check(&view),
            sim_core::Outcome::Violation { .. }
        ));
    }
}
