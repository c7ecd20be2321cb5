//! `power-failure-wal`: every member of a loaded etcd cluster loses power at once, at a
//! seeded moment, several times; then all restart and recover from their write-ahead logs.
//!
//! Clients write unique values (`<client>-<seq>`) to a few keys as fast as they are
//! answered. At a random moment the driver waits, for at most `aim_ms`, until some member
//! has WAL bytes written but not yet fsynced (an entry between its write and its fsync),
//! and cuts the power of every member there: unsynced bytes are lost, and with
//! `torn_write` a random prefix of them survives, so a WAL can end in the middle of a
//! record, which recovery detects by checksum and cuts off (the trace's raft `wal-torn-tail`
//! note). After `down_ms` the power returns and the members boot, each after its own
//! random delay of up to `restart_spread_ms` (machines do not boot in step), elect, and
//! the clients carry on.
//!
//! Raft makes this safe by fsyncing an entry before acknowledging it, so an entry
//! acknowledged to a client is on the platter of a majority and the next leader has it.
//! The planted bug `ack-before-fsync` acknowledges first and flushes on the next tick; a
//! power failure in between loses writes a majority acknowledged. `acked-writes-survive`
//! (from the Raft set) sees the lost entry replaced; `acked-writes-recovered` reads every
//! key back through a linearizable get once the writers have stopped and compares it with
//! the newest acknowledged write of that key, naming the write that is gone.
//!
//! `power_failure.json` records each failure: when, whether it landed inside a
//! write-to-fsync window, per member the unsynced, lost and torn bytes and the last log
//! index before (page cache and platter) and after, and the acknowledged writes that were
//! not on a majority's platter at that instant (at risk).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::driver::storage::{
    decode, decode_snapshot, last_logged_index, WalRecord, SNAP_FILE, WAL_FILE,
};
use raft::etcd::EtcdClient;
use raft::events::RaftEvent;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::{
    Directory, Disk, EventKind, FaultOp, FaultSchedule, NodeId, Observer, SimTime, TraceCursor,
    TraceEvent, World,
};

use crate::raft_world::{judge, ms, ClusterConfig, ClusterWatch, RaftMsg};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

mod recovered;

pub use recovered::{acked_puts, AckedWrite, AckedWritesRecovered};

/// The power-failure-wal scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PowerFailureConfig {
    /// The cluster: 3 members and 4 writers by default. Of `cluster.client` the writers use
    /// `start_ms`, `interval_ms`, `keys` and the timeouts.
    pub cluster: ClusterConfig,
    /// Power failures in one run.
    pub failures: usize,
    /// Each failure comes a random time in `[gap_min_ms, gap_max_ms]` after a leader is up
    /// (the first after the first leader, the others after the last recovery),
    /// milliseconds.
    pub gap_min_ms: u64,
    /// See `gap_min_ms`.
    pub gap_max_ms: u64,
    /// After that random time, wait at most this long for a moment when `aim_members`
    /// members have WAL bytes written but not fsynced, then cut the power (milliseconds; 0
    /// cuts at once).
    pub aim_ms: u64,
    /// How many members must be between a write and its fsync at the aimed instant (a
    /// majority by default: an entry acknowledged before it is durable is lost only if a
    /// majority lacks it).
    pub aim_members: usize,
    /// A power failure keeps a random prefix of the unsynced appends (a torn write).
    pub torn_write: bool,
    /// All members stay off this long, milliseconds.
    pub down_ms: u64,
    /// Each member boots a random time in `[0, restart_spread_ms]` after the power returns,
    /// milliseconds. A spread past the election timeout lets the first members elect
    /// before the last boots.
    pub restart_spread_ms: u64,
    /// Wait at most this long for a leader after the restart, milliseconds.
    pub leader_deadline_ms: u64,
    /// After the last recovery the writers go on this long before they stop, milliseconds.
    pub settle_ms: u64,
    /// The read-back of every key must finish within this long, milliseconds.
    pub verify_ms: u64,
    /// A leader must be up and committing within this long after the last restart.
    pub bound_ms: u64,
}

impl Default for PowerFailureConfig {
    fn default() -> Self {
        let mut cluster = ClusterConfig {
            nodes: 3,
            clients: 4,
            ..ClusterConfig::default()
        };
        // Heavy write load (not an etcd default): each writer sends its next write 2 ms
        // after the last answer, so entries are nearly always between write and fsync.
        cluster.client.interval_ms = 2;
        cluster.client.keys = 16;
        PowerFailureConfig {
            cluster,
            failures: 3,
            gap_min_ms: 800,
            gap_max_ms: 2_000,
            aim_ms: 100,
            aim_members: 2,
            torn_write: true,
            down_ms: 300,
            restart_spread_ms: 1_500,
            leader_deadline_ms: 10_000,
            settle_ms: 500,
            verify_ms: 5_000,
            bound_ms: 5_000,
        }
    }
}

impl ScenarioConfig for PowerFailureConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        let bad = |m: String| Err(ScenarioError::Config(m));
        c.cluster.validate(1)?;
        if c.cluster.clients == 0 {
            return bad("cluster.clients must be at least 1: someone has to write".into());
        }
        if !(1..=20).contains(&c.failures) {
            return bad(format!(
                "failures = {} must be between 1 and 20",
                c.failures
            ));
        }
        if c.gap_min_ms == 0 || c.gap_min_ms > c.gap_max_ms {
            return bad(format!(
                "gap_min_ms = {} and gap_max_ms = {} must satisfy 0 < gap_min_ms <= gap_max_ms",
                c.gap_min_ms, c.gap_max_ms
            ));
        }
        if c.restart_spread_ms > 60_000 {
            return bad(format!(
                "restart_spread_ms = {} is more than 60000",
                c.restart_spread_ms
            ));
        }
        if c.aim_ms > 10_000 {
            return bad(format!("aim_ms = {} is more than 10000", c.aim_ms));
        }
        if !(1..=c.cluster.nodes).contains(&c.aim_members) {
            return bad(format!(
                "aim_members = {} must be between 1 and cluster.nodes = {}",
                c.aim_members, c.cluster.nodes
            ));
        }
        if c.down_ms == 0 || c.verify_ms == 0 || c.settle_ms == 0 {
            return bad("down_ms, settle_ms and verify_ms must be more than zero".into());
        }
        let election = c.cluster.election_timeout_ms();
        if c.leader_deadline_ms < 2 * election || c.bound_ms < 2 * election {
            return bad(format!(
                "leader_deadline_ms = {} and bound_ms = {} must each cover two election timeouts ({} ms)",
                c.leader_deadline_ms,
                c.bound_ms,
                2 * election
            ));
        }
        Ok(c)
    }
}

/// The last log index a member's files hold, and which (index, term) pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOnDisk {
    /// Index and term of the snapshot (0, 0 without one).
    pub snapshot: (u64, u64),
    /// Entries after the snapshot: index to term.
    pub entries: BTreeMap<u64, u64>,
}

impl LogOnDisk {
    /// Reads a snapshot file and a WAL as recovery would (a damaged tail is ignored).
    pub fn read(snap: Option<&[u8]>, wal: Option<&[u8]>) -> Self {
        let snapshot = snap
            .and_then(decode_snapshot)
            .map_or((0, 0), |s| (s.meta.index.0, s.meta.term.0));
        let mut entries = BTreeMap::new();
        for record in decode(wal.unwrap_or_default()).0 {
            if let WalRecord::Entries(batch) = record {
                if let Some(first) = batch.first() {
                    entries.split_off(&first.index.0);
                }
                for e in batch {
                    entries.insert(e.index.0, e.term.0);
                }
            }
        }
        entries.retain(|i, _| *i > snapshot.0);
        LogOnDisk { snapshot, entries }
    }

    /// As the member sees its files (page cache).
    pub fn cached(disk: &Disk) -> Self {
        Self::read(disk.read(SNAP_FILE), disk.read(WAL_FILE))
    }

    /// As they are on the platter (what survives a power failure without tearing).
    pub fn durable(disk: &Disk) -> Self {
        Self::read(disk.read_durable(SNAP_FILE), disk.read_durable(WAL_FILE))
    }

    /// The last index.
    pub fn last_index(&self) -> u64 {
        self.entries
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.snapshot.0)
    }

    /// Whether the entry (index, term) is here (a snapshot holds only committed entries).
    pub fn holds(&self, index: u64, term: u64) -> bool {
        index <= self.snapshot.0 || self.entries.get(&index) == Some(&term)
    }
}

/// One member at one power failure.
#[derive(Clone, Debug, Serialize)]
pub struct MemberAtFailure {
    /// The member.
    pub node: NodeId,
    /// Bytes written but not fsynced when the power went.
    pub unsynced_bytes: u64,
    /// Of those, lost.
    pub lost_bytes: u64,
    /// Of those, kept by the torn write.
    pub torn_bytes_kept: u64,
    /// When it was restarted.
    pub restarted_at_ms: f64,
    /// Bytes of a damaged WAL tail its recovery cut off.
    pub wal_torn_tail_discarded_bytes: u64,
    /// Last log index as the member saw it (page cache).
    pub last_index_before: u64,
    /// Last log index on its platter just before.
    pub last_durable_index_before: u64,
    /// Last log index its files hold after the failure (what recovery replays).
    pub last_index_after: u64,
    #[serde(skip)]
    durable_before: LogOnDisk,
    #[serde(skip)]
    durable_after: LogOnDisk,
}

/// One power failure.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// When the power went.
    pub at_ms: f64,
    /// Whether some member had WAL bytes between write and fsync then.
    pub in_write_window: bool,
    /// How many members were.
    pub members_in_write_window: usize,
    /// What the aim found.
    pub aimed_at: AimedAt,
    /// The leader then.
    pub leader_before: Option<NodeId>,
    /// Every member.
    pub members: Vec<MemberAtFailure>,
    /// When the last member was restarted.
    pub restarted_at_ms: f64,
    /// The first leader after, and when.
    pub leader_after: Option<NodeId>,
    /// See `leader_after`.
    pub leader_after_ms: Option<f64>,
    /// Writes acknowledged before the failure (replies on the wire then included).
    pub acked_before: usize,
    /// Of those, the ones whose entry was on fewer than a majority of platters at the
    /// instant of the failure (none unless acknowledgements run ahead of fsync).
    pub acked_at_risk: Vec<AckedWrite>,
    /// Acknowledged writes whose entry is on fewer than a majority of members' files after
    /// the failure (torn writes included): lost unless a minority member that kept it wins
    /// the next election.
    pub acked_not_on_majority_after: Vec<AckedWrite>,
}

/// What the actors share.
#[derive(Debug, Default)]
struct Plan {
    /// Writers stop.
    stop: bool,
    /// The read-back may begin.
    verify: bool,
    /// The read-back is done.
    verified: bool,
}

type Shared = Arc<Mutex<Plan>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Plan> {
    shared
        .lock()
        .expect("the plan lock is never held across a panic")
}

/// A writer: unique values to random keys until told to stop; then client 0 reads every
/// key back (retrying a get that fails until the read-back's deadline).
async fn writer(client: EtcdClient, shared: Shared, c: PowerFailureConfig, i: usize) {
    let cc = &c.cluster.client;
    client
        .session()
        .sleep(Duration::from_millis(cc.start_ms))
        .await;
    let me = client.ctx().id();
    let mut seq = 0u64;
    while !lock(&shared).stop {
        seq += 1;
        let k = client.session().rng().gen_range(0..cc.keys);
        let _ = client.put(&format!("k{k}"), &format!("{me}-{seq}")).await;
        client
            .session()
            .sleep(Duration::from_millis(cc.interval_ms))
            .await;
    }
    if i != 0 {
        return;
    }
    while !lock(&shared).verify {
        client.session().sleep(Duration::from_millis(10)).await;
    }
    let deadline = client.ctx().now().after(Duration::from_millis(c.verify_ms));
    for k in 0..cc.keys {
        while client.get(&format!("k{k}")).await.is_err() && client.ctx().now() < deadline {}
    }
    lock(&shared).verified = true;
}

/// A copy of every member's disk.
fn disks(world: &World<RaftMsg>, servers: &[NodeId]) -> Vec<Disk> {
    servers.iter().map(|s| world.disk(*s)).collect()
}

/// What the aimed instant of a power failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AimedAt {
    /// An entry already applied (so acknowledged) is not on a majority's platter: the
    /// instant that loses an acknowledged write. Correct Raft never offers one.
    AckedEntryNotDurable,
    /// `aim_members` members had WAL bytes written but not fsynced.
    WriteToFsyncWindow,
    /// Neither came within the aim's time.
    Random,
}

/// The highest index any member has applied, read from the trace as it grows.
#[derive(Debug, Default)]
struct AppliedWatch {
    cursor: TraceCursor,
    applied: u64,
}

impl AppliedWatch {
    fn applied(&mut self, world: &World<RaftMsg>) -> u64 {
        let mut cursor = self.cursor;
        world.observe(&mut cursor, self);
        self.cursor = cursor;
        self.applied
    }
}

impl Observer for AppliedWatch {
    fn observe(&mut self, event: &TraceEvent) {
        if let Some(RaftEvent::Apply { index, .. }) = event.layer::<RaftEvent>() {
            self.applied = self.applied.max(*index);
        }
    }
}

/// The last log index on a member's platter, cheaply: the WAL's record headers are walked
/// and only its last `Entries` record is decoded (the last batch ends the log, since a
/// batch replaces everything from its first index on). Without one, the snapshot's index.
pub fn durable_last_index(disk: &Disk) -> u64 {
    let wal = disk.read_durable(WAL_FILE).unwrap_or_default();
    last_logged_index(wal).map_or_else(|| LogOnDisk::durable(disk).last_index(), |i| i.0)
}

/// Waits for the instant to cut the power: first, for at most `aim_ms`, one where an
/// applied entry is missing from a majority's platters; then, for at most `aim_ms` more,
/// one where `aim_members` members are between a WAL write and its fsync.
async fn aim(
    world: &World<RaftMsg>,
    servers: &[NodeId],
    c: &PowerFailureConfig,
    watch: &mut AppliedWatch,
) -> AimedAt {
    let poll = Duration::from_micros(250);
    let quorum = servers.len() / 2 + 1;
    let end = world.now().after(Duration::from_millis(c.aim_ms));
    loop {
        let applied = watch.applied(world);
        let mut durable: Vec<u64> = servers
            .iter()
            .map(|s| durable_last_index(&world.disk(*s)))
            .collect();
        durable.sort_unstable_by(|a, b| b.cmp(a));
        if applied > durable[quorum - 1] {
            return AimedAt::AckedEntryNotDurable;
        }
        if world.now() >= end {
            break;
        }
        world.sleep(poll).await;
    }
    let end = world.now().after(Duration::from_millis(c.aim_ms));
    loop {
        let writing = servers
            .iter()
            .filter(|s| world.disk(**s).unsynced_bytes() > 0)
            .count();
        if writing >= c.aim_members {
            return AimedAt::WriteToFsyncWindow;
        }
        if world.now() >= end {
            return AimedAt::Random;
        }
        world.sleep(poll).await;
    }
}

/// What the driver saw at one failure (before the history is known).
#[derive(Debug)]
struct Seen {
    at: SimTime,
    in_window: bool,
    writing: usize,
    aimed_at: AimedAt,
    leader_before: Option<NodeId>,
    before: Vec<Disk>,
    after: Vec<Disk>,
    restarted_at: SimTime,
    boots: Vec<(SimTime, NodeId)>,
    leader_after: Option<(NodeId, SimTime)>,
}

/// What the driver returns.
#[derive(Debug, Default)]
struct Driven {
    failures: Vec<Seen>,
    verify_from: Option<SimTime>,
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct PowerFailure;

/// Writes on fewer than a majority of `logs`.
fn not_on_majority(acked: &[&AckedWrite], logs: &[LogOnDisk]) -> Vec<AckedWrite> {
    let quorum = logs.len() / 2 + 1;
    acked
        .iter()
        .filter(|w| logs.iter().filter(|l| l.holds(w.index, w.term)).count() < quorum)
        .map(|w| (*w).clone())
        .collect()
}

/// Bytes a member's recovery cut off after restarting at `from` (its raft `wal-torn-tail` event
/// before `until`).
fn torn_tail_discarded(
    events: &[sim_core::TraceEvent],
    node: NodeId,
    from: SimTime,
    until: SimTime,
) -> u64 {
    events
        .iter()
        .filter(|e| e.node == Some(node) && e.t_us >= from && e.t_us < until)
        .find_map(|e| match e.layer::<RaftEvent>() {
            Some(RaftEvent::WalTornTail { discarded_bytes }) => Some(*discarded_bytes),
            _ => None,
        })
        .unwrap_or(0)
}

impl Scenario for PowerFailure {
    type Config = PowerFailureConfig;

    fn name(&self) -> &'static str {
        "power-failure-wal"
    }

    fn summary(&self) -> &'static str {
        "every member loses power at once under write load, mid-fsync, several times; every acknowledged write survives WAL recovery (not with --mutant ack-before-fsync)"
    }

    fn directory(&self, config: &PowerFailureConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &PowerFailureConfig) -> FaultSchedule {
        // The instants are aimed at fsync windows as the run goes, so the driver applies
        // them; the schedule holds only the optional `cluster.chaos` faults.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn catches(&self) -> &'static [&'static str] {
        &["ack-before-fsync"]
    }

    fn run(&self, input: &RunInput<'_, PowerFailureConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let shared: Shared = Arc::default();
        let (c, script_shared, script_config) = (config.clone(), shared.clone(), config.clone());
        let driver_shared = shared.clone();
        let seed = input.seed;
        let out = config.cluster.run_with(
            input.seed,
            input.mutants,
            input.faults,
            move |client, i| writer(client, script_shared.clone(), script_config.clone(), i),
            |world| async move {
                let mut leaders = ClusterWatch::new(&world);
                let tick = c.cluster.raft.tick_ms;
                let servers = c.cluster.servers();
                let mut rng = sim_core::rng::derive_rng(seed, "power-failure");
                let mut driven = Driven::default();
                let mut watch = AppliedWatch::default();
                let first = SimTime::from_ms(c.leader_deadline_ms);
                let mut last_fault = SimTime::ZERO;
                if leaders.wait_for_leader(tick, first).await.is_some() {
                    for _ in 0..c.failures {
                        let gap = rng.gen_range(c.gap_min_ms..=c.gap_max_ms);
                        world.sleep(Duration::from_millis(gap)).await;
                        let aimed_at = aim(&world, &servers, &c, &mut watch).await;
                        let leader_before = leaders.leader().map(|(l, _)| l);
                        let before = disks(&world, &servers);
                        let in_window = before.iter().any(|d| d.unsynced_bytes() > 0);
                        let writing = before.iter().filter(|d| d.unsynced_bytes() > 0).count();
                        let at = world.now();
                        world.apply(&FaultOp::PowerFail {
                            nodes: servers.clone(),
                            torn_write: c.torn_write,
                        });
                        let after = disks(&world, &servers);
                        world.sleep(Duration::from_millis(c.down_ms)).await;
                        let power_back = world.now();
                        let mut boots: Vec<(SimTime, NodeId)> = servers
                            .iter()
                            .map(|s| {
                                let delay = rng.gen_range(0..=c.restart_spread_ms);
                                (power_back.after(Duration::from_millis(delay)), *s)
                            })
                            .collect();
                        boots.sort();
                        for (t, s) in &boots {
                            world.sleep_until(*t).await;
                            world.apply(&FaultOp::Restart { node: *s });
                        }
                        let restarted_at = world.now();
                        last_fault = restarted_at;
                        let deadline =
                            restarted_at.after(Duration::from_millis(c.leader_deadline_ms));
                        let leader_after = leaders
                            .wait_for_leader(tick, deadline)
                            .await
                            .map(|(l, _)| (l, world.now()));
                        driven.failures.push(Seen {
                            at,
                            in_window,
                            writing,
                            aimed_at,
                            leader_before,
                            before,
                            after,
                            restarted_at,
                            boots,
                            leader_after,
                        });
                    }
                }
                world.sleep(Duration::from_millis(c.settle_ms)).await;
                lock(&driver_shared).stop = true;
                // Every write still in flight is answered or times out before the read-back.
                world
                    .sleep(Duration::from_millis(c.cluster.client.timeout_ms + 100))
                    .await;
                lock(&driver_shared).verify = true;
                driven.verify_from = Some(world.now());
                let verify_end = world.now().after(Duration::from_millis(c.verify_ms + 100));
                while !lock(&driver_shared).verified && world.now() < verify_end {
                    world.sleep(Duration::from_millis(10)).await;
                }
                let bound_end = last_fault.after(Duration::from_millis(c.bound_ms + 100));
                if world.now() < bound_end {
                    world.sleep_until(bound_end).await;
                }
                driven
            },
        )?;
        let recovered = AckedWritesRecovered {
            verify_from: out.value.verify_from,
        };
        let verdict = judge(&out, Some(config.bound_ms), &[&recovered]);
        let driven = out.value;
        let acked = acked_puts(&out.history);
        let servers = config.cluster.servers();
        let mut failures = Vec::new();
        for (i, seen) in driven.failures.iter().enumerate() {
            let until = driven
                .failures
                .get(i + 1)
                .map_or(SimTime(u64::MAX), |next| next.at);
            let members: Vec<MemberAtFailure> = servers
                .iter()
                .zip(seen.before.iter().zip(&seen.after))
                .map(|(node, (before, after))| {
                    let crash = out.trace.events.iter().find_map(|e| match e.kind {
                        EventKind::NodeCrash {
                            lost_bytes,
                            torn_bytes_kept,
                            ..
                        } if e.node == Some(*node) && e.t_us == seen.at => {
                            Some((lost_bytes, torn_bytes_kept))
                        }
                        _ => None,
                    });
                    let (lost_bytes, torn_bytes_kept) = crash.unwrap_or((0, 0));
                    let boot = seen
                        .boots
                        .iter()
                        .find(|(_, n)| n == node)
                        .map_or(seen.restarted_at, |(t, _)| *t);
                    let durable_before = LogOnDisk::durable(before);
                    let durable_after = LogOnDisk::durable(after);
                    MemberAtFailure {
                        node: *node,
                        unsynced_bytes: before.unsynced_bytes(),
                        lost_bytes,
                        torn_bytes_kept,
                        restarted_at_ms: ms(boot),
                        wal_torn_tail_discarded_bytes: torn_tail_discarded(
                            &out.trace.events,
                            *node,
                            boot,
                            until,
                        ),
                        last_index_before: LogOnDisk::cached(before).last_index(),
                        last_durable_index_before: durable_before.last_index(),
                        last_index_after: durable_after.last_index(),
                        durable_before,
                        durable_after,
                    }
                })
                .collect();
            // Replies already on the wire when the power went still arrive; nothing else
            // is acknowledged until the first member boots.
            let first_boot = seen.boots.first().map_or(seen.restarted_at, |(t, _)| *t);
            let acked_then: Vec<&AckedWrite> =
                acked.iter().filter(|w| w.acked_at < first_boot).collect();
            let before: Vec<LogOnDisk> = members.iter().map(|m| m.durable_before.clone()).collect();
            let after: Vec<LogOnDisk> = members.iter().map(|m| m.durable_after.clone()).collect();
            failures.push(Failure {
                at_ms: ms(seen.at),
                in_write_window: seen.in_window,
                members_in_write_window: seen.writing,
                aimed_at: seen.aimed_at,
                leader_before: seen.leader_before,
                restarted_at_ms: ms(seen.restarted_at),
                leader_after: seen.leader_after.map(|(l, _)| l),
                leader_after_ms: seen.leader_after.map(|(_, t)| ms(t)),
                acked_before: acked_then.len(),
                acked_at_risk: not_on_majority(&acked_then, &before),
                acked_not_on_majority_after: not_on_majority(&acked_then, &after),
                members,
            });
        }
        let report = serde_json::json!({
            "mutants": input.mutants,
            "failures_planned": config.failures,
            "failures": failures,
            "in_write_window": failures.iter().filter(|f| f.in_write_window).count(),
            "acked_writes": acked.len(),
            "verify_from_ms": driven.verify_from.map(ms),
        });
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![(
                "power_failure.json".into(),
                serde_json::to_vec_pretty(&report).expect("data serializes"),
            )],
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}
