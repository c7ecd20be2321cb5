//! The election-timing supervisor: the write load that makes logs differ, the trial loop
//! (settle, crash inside a heartbeat interval, wait for the next leader, restart), and its
//! incremental view of the cluster read from the trace.

use std::collections::BTreeMap;
use std::time::Duration;

use raft::core::Role;
use raft::events::RaftEvent;
use rand::Rng;
use sim_core::{
    EventKind, FaultOp, NodeId, NodeStatus, Observer, SimTime, TraceCursor, TraceEvent, World,
};

use crate::raft_world::{LiveDriverConfig, RaftMsg};

use super::{ElectionTimingConfig, Story, Trial};

/// Revisions the writer keeps when it compacts.
const KEEP_REVISIONS: u64 = 100;

/// Puts this many between compactions.
const PUTS_PER_COMPACTION: u64 = 200;

/// The write load that makes the servers' logs differ: puts on a few keys every
/// `interval_ms`. Every [`PUTS_PER_COMPACTION`] acknowledged puts it compacts the store to
/// the last [`KEEP_REVISIONS`] revisions, as kube-apiserver's compactor keeps etcd's
/// history short: without it the MVCC history (and so every snapshot a restarted server
/// decodes) grows with the run, and ten thousand restarts cost time quadratic in the run.
pub(super) async fn compacting_writer(
    client: raft::etcd::EtcdClient,
    config: raft::etcd::KvClientConfig,
) {
    client
        .session()
        .sleep(Duration::from_millis(config.start_ms))
        .await;
    let me = client.ctx().id();
    let keys = config.keys.max(1) as u64;
    let mut acked = 0u64;
    for seq in 0u64.. {
        let key = raft::etcd::workload::key_name((seq % keys) as usize);
        if let Ok(revision) = client.put(&key, &format!("{me}-{seq}")).await {
            acked += 1;
            if acked.is_multiple_of(PUTS_PER_COMPACTION) && revision.0 > KEEP_REVISIONS {
                let _ = client
                    .compact(raft::etcd::Revision(revision.0 - KEEP_REVISIONS))
                    .await;
            }
        }
        client
            .session()
            .sleep(Duration::from_millis(config.interval_ms))
            .await;
    }
}

/// The supervisor: every range in turn, `trials` crashes each.
pub(super) async fn supervise(
    world: World<RaftMsg>,
    live: LiveDriverConfig,
    config: ElectionTimingConfig,
    seed: u64,
) -> Story {
    let mut rng = sim_core::rng::derive_rng(seed, "election-timing");
    let mut watch = Watch::new(config.cluster.servers());
    let tick = Duration::from_millis(config.cluster.raft.tick_ms.max(1));
    let mut story = Story::default();
    for (index, range) in config.ranges.iter().enumerate() {
        world.note(
            None,
            "timeout-range",
            format!("{}-{} ms", range.min_ms, range.max_ms),
        );
        if index > 0 {
            // New flags: restart every server with them.
            live.set(config.driver_config(*range));
            for &s in &watch.servers {
                world.apply(&FaultOp::Restart { node: s });
            }
        }
        let heartbeat_us = config.heartbeat_ms(*range) * 1000;
        let bound = Duration::from_millis(config.bound_ms(*range));
        let mut trial = 0;
        while trial < config.trials {
            // 1. Settle (a cluster that cannot settle within the bound ends the range).
            let give_up = world.now().after(bound);
            let settled = loop {
                watch.update(&world);
                if let Some(found) = watch.settled(&world) {
                    break Some(found);
                }
                if world.now() >= give_up {
                    break None;
                }
                world.sleep(tick).await;
            };
            let Some((leader, _)) = settled else {
                story.unsettled.push((index, world.now()));
                break;
            };
            // 2. Crash at a uniform moment in a heartbeat interval that starts with one of
            //    the leader's heartbeats (the next whole interval from now on).
            let last_hb = watch.last_heartbeat[&leader].as_us();
            let now = world.now().as_us();
            let periods = (now - last_hb) / heartbeat_us + 1;
            let heartbeat_at = SimTime(last_hb + periods * heartbeat_us);
            let crash_at = SimTime(heartbeat_at.as_us() + rng.gen_range(1..heartbeat_us));
            world.sleep_until(crash_at).await;
            watch.update(&world);
            if watch.settled(&world).map(|s| s.0) != Some(leader)
                || watch.last_heartbeat[&leader] != heartbeat_at
            {
                // Leadership moved or the heartbeat did not go out as expected: this crash
                // would not be the experiment's; settle again.
                continue;
            }
            let term_at_crash = watch.max_term;
            world.apply(&FaultOp::Kill { node: leader });
            let mut cut = Vec::new();
            for &f in watch.servers.iter().filter(|s| **s != leader) {
                if rng.gen_bool(config.cut_in_flight_probability) {
                    world.apply(&FaultOp::CutLink {
                        from: leader,
                        to: f,
                    });
                    cut.push(f);
                }
            }
            // 3. Wait for the next leader.
            watch.expect_leader(leader, term_at_crash);
            let deadline = crash_at.after(bound);
            loop {
                watch.update(&world);
                if watch.elected.is_some() || world.now() >= deadline {
                    break;
                }
                world.sleep(tick).await;
            }
            story.trials.push(Trial {
                range: index,
                trial,
                leader,
                crashed_at: crash_at,
                heartbeat_at,
                term_at_crash,
                elected: watch.elected.take(),
                unequal_logs: watch.unequal_logs,
            });
            watch.expect = None;
            // 4. Restart the old leader.
            for f in cut {
                world.apply(&FaultOp::RestoreLink {
                    from: leader,
                    to: f,
                });
            }
            world.apply(&FaultOp::Restart { node: leader });
            trial += 1;
        }
    }
    // Leave `leader-after-heal` its bound after the last restart.
    let last = *config.ranges.last().expect("ranges are not empty");
    world
        .sleep(Duration::from_millis(config.bound_ms(last) + 100))
        .await;
    story
}

/// The supervisor's view of the cluster, read incrementally from the trace (an
/// [`Observer`] fed through a [`TraceCursor`]). It keeps more than [`raft::view::ClusterView`]
/// (each trial's expected winner, the heartbeat broadcasts) and its own last-index rule, which
/// the trial timing depends on.
struct Watch {
    servers: Vec<NodeId>,
    /// Trace events already read.
    cursor: TraceCursor,
    /// Each live server's role and term.
    roles: BTreeMap<NodeId, (Role, u64)>,
    max_term: u64,
    /// Last durable log index of each server.
    last_index: BTreeMap<NodeId, u64>,
    /// Commit index of each server, and the term of the entry there.
    commit: BTreeMap<NodeId, (u64, u64)>,
    /// Each server's last heartbeat broadcast (the time of its first heartbeat send).
    last_heartbeat: BTreeMap<NodeId, SimTime>,
    /// While a trial runs: the crashed leader and the term at the crash.
    expect: Option<(NodeId, u64)>,
    elected: Option<(NodeId, u64, SimTime)>,
    unequal_logs: bool,
}

impl Watch {
    fn new(servers: Vec<NodeId>) -> Self {
        Watch {
            servers,
            cursor: TraceCursor::start(),
            roles: BTreeMap::new(),
            max_term: 0,
            last_index: BTreeMap::new(),
            commit: BTreeMap::new(),
            last_heartbeat: BTreeMap::new(),
            expect: None,
            elected: None,
            unequal_logs: false,
        }
    }

    fn expect_leader(&mut self, crashed: NodeId, term: u64) {
        self.expect = Some((crashed, term));
        self.elected = None;
        self.unequal_logs = false;
    }

    /// Reads the events recorded since the last call.
    fn update(&mut self, world: &World<RaftMsg>) {
        let mut cursor = self.cursor;
        world.observe(&mut cursor, self);
        self.cursor = cursor;
    }

    /// The leader and its term if the cluster is settled: every server up, one leader
    /// that has sent heartbeats and committed an entry in its term, everyone else
    /// following it in that term, and every server's durable log reaching the leader's
    /// commit index.
    fn settled(&self, world: &World<RaftMsg>) -> Option<(NodeId, u64)> {
        if self
            .servers
            .iter()
            .any(|s| world.status(*s) != NodeStatus::Up)
        {
            return None;
        }
        let (leader, term) = self
            .roles
            .iter()
            .filter(|(_, (role, _))| *role == Role::Leader)
            .max_by_key(|(_, (_, term))| *term)
            .map(|(n, (_, term))| (*n, *term))?;
        // The leader has committed an entry of its own term (so the last election's
        // leftovers are settled) and every log reaches that far.
        let (commit, commit_term) = self.commit.get(&leader).copied().unwrap_or((0, 0));
        let all_follow = self
            .servers
            .iter()
            .all(|s| *s == leader || self.roles.get(s) == Some(&(Role::Follower, term)));
        let caught_up = self
            .servers
            .iter()
            .all(|s| self.last_index.get(s).copied().unwrap_or(0) >= commit);
        (all_follow
            && caught_up
            && commit_term == term
            && self.last_heartbeat.contains_key(&leader))
        .then_some((leader, term))
    }
}

impl Observer for Watch {
    fn observe(&mut self, e: &TraceEvent) {
        let Some(n) = e.node else { return };
        match (e.layer::<RaftEvent>(), &e.kind) {
            (Some(RaftEvent::Role { role, term, .. }), _) => {
                self.roles.insert(n, (*role, *term));
                self.max_term = self.max_term.max(*term);
                if let Some((crashed, at_crash)) = self.expect {
                    if *role == Role::Leader
                        && *term > at_crash
                        && n != crashed
                        && self.elected.is_none()
                    {
                        self.elected = Some((n, *term, e.t_us));
                        let mut survivors = self
                            .servers
                            .iter()
                            .filter(|s| **s != crashed)
                            .map(|s| self.last_index.get(s).copied().unwrap_or(0));
                        let first = survivors.next();
                        self.unequal_logs = survivors.any(|i| Some(i) != first);
                    }
                }
            }
            (_, EventKind::NodeCrash { .. }) => {
                self.roles.remove(&n);
            }
            (Some(RaftEvent::LogAppend { entries }), _) => {
                if let Some(last) = entries.last() {
                    self.last_index.insert(n, last.index);
                }
            }
            (Some(RaftEvent::LogTruncate { from_index }), _) => {
                let last = self.last_index.entry(n).or_insert(0);
                *last = (*last).min(from_index.saturating_sub(1));
            }
            (
                Some(RaftEvent::Snapshot {
                    index,
                    installed: true,
                    ..
                }),
                _,
            ) => {
                let last = self.last_index.entry(n).or_insert(0);
                *last = (*last).max(*index);
            }
            (Some(RaftEvent::Commit { index, term }), _) => {
                self.commit.insert(n, (*index, *term));
            }
            (_, EventKind::Send { kind, .. }) if kind == "heartbeat" => {
                // One broadcast is several sends at the same instant.
                self.last_heartbeat.insert(n, e.t_us);
            }
            _ => {}
        }
    }
}
