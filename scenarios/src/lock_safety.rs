//! `lock-safety`: a lock held through an etcd lease, as etcd's `concurrency.Mutex` builds
//! it, and why a lease alone does not make it safe (course notes 004 §14.4).
//!
//! Client A grants a lease, creates the lock key with a txn "create if absent" (compare
//! the key's create revision with 0) attached to that lease, and keeps the lease alive.
//! Then A stops: a process pause (`FaultOp::Pause`, a GC pause or a stopped VM) or a clock
//! that jumps back (`lose_lock_by = "clock-skew"`, so A's own timers think its lease is
//! fresh and it renews too late). The leader's lessor sees the lease expire and revokes
//! it, which deletes the lock key; client B, waiting on that key, takes the lock. A goes
//! on as if nothing happened: it still believes it holds the lock, and writes the
//! protected resource.
//!
//! With `fencing = false` A's late write lands on top of B's work: both believed they
//! held the lock and both wrote, and the safety check `protected-writes-fenced` fails
//! (exit 3). With fencing (the default) every protected write is a txn that compares the
//! lock key's create revision (the fencing token) with the writer's own: A's token is
//! stale once its key is gone, so its late write fails the compare and changes nothing.
//!
//! The story is three Sometimes checks (`lock_story.rs`): `holder-stopped-past-lease`
//! (read from the trace), `lock-taken-over` and `stale-holder-wrote`;
//! `protected-writes-fenced` needs all three, so a run in which an added fault kept B
//! from the lock is "not applicable", not a pass.
//!
//! History: the lock key lives on a lease, which the `kv` linearizability model does not
//! know (a revoke deletes it behind the model's back), and the lock and fenced writes are
//! general txns, outside the model too; they are never recorded. Unfenced protected writes
//! are plain puts and the final read a get, which the model does know, so with
//! `fencing = false` they are recorded; with fencing the resource is written only by txns,
//! and recording is off for both clients so a recorded read cannot see writes the model
//! never saw.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::etcd::lease::{min_lease_ttl_s, DEFAULT_MIN_LEASE_TTL_S};
use raft::etcd::{
    ClientError, Compare, CompareResult, CompareTarget, EtcdClient, EtcdError, EventKind, KeyRange,
    LeaseId, PutRequest, RangeRequest, RequestOp, Response, Revision, TxnRequest, Watch,
    WatchUpdate,
};
use serde::{Deserialize, Serialize};
use sim_core::{Directory, FaultOp, FaultSchedule, NodeId, SimTime};

pub use crate::lock_story::{
    HolderStoppedPastLease, LockTakenOver, ProtectedWritesFenced, StaleHolderWrote,
};
use crate::raft_world::{judge, ms, ClusterConfig};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// How A loses its lock without noticing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoseLockBy {
    /// A is paused (`FaultOp::Pause`) for `lost_for_ms` in the middle of its critical
    /// section: when it resumes it finishes the write it was about to do.
    #[default]
    Pause,
    /// A's clock jumps back by `lost_for_ms` (`FaultOp::ClockSkew`): it renews its lease
    /// and judges it by that clock, so it renews too late and believes the lease is fresh
    /// all the while.
    ClockSkew,
}

/// The lock-safety scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockSafetyConfig {
    /// The cluster: 3 nodes; client A (the first holder) and client B (the next).
    pub cluster: ClusterConfig,
    /// Every protected write is a txn checking the writer's fencing token (the lock key's
    /// create revision).
    pub fencing: bool,
    /// How A loses the lock.
    pub lose_lock_by: LoseLockBy,
    /// The lease TTL each client asks for, seconds. It must be at least etcd's minimum
    /// for the cluster's timing ([`min_lease_ttl_s`], `server/etcdserver/server.go`:
    /// `(3 * election ticks / 2) * heartbeat`, 2 s with etcd's defaults), which the server
    /// would otherwise raise it to silently.
    pub lease_ttl_s: u64,
    /// How long A is paused, or how far its clock jumps back, milliseconds; longer than
    /// the TTL, or the lease never expires and there is no story.
    pub lost_for_ms: u64,
    /// The work of one step of a critical section before its write, milliseconds.
    pub work_ms: u64,
    /// Protected writes A makes before it loses the lock.
    pub writes_before_loss: u64,
    /// The lock key.
    pub lock_key: String,
    /// The protected resource's key.
    pub resource_key: String,
    /// Length of the run, milliseconds.
    pub duration_ms: u64,
}

impl Default for LockSafetyConfig {
    fn default() -> Self {
        LockSafetyConfig {
            cluster: ClusterConfig {
                nodes: 3,
                clients: 2,
                ..ClusterConfig::default()
            },
            fencing: true,
            lose_lock_by: LoseLockBy::Pause,
            // etcd's concurrency sessions default to 60 s; 5 s keeps the run short and is
            // well above etcd's 2 s minimum for the default timing.
            lease_ttl_s: 5,
            lost_for_ms: 8_000,
            work_ms: 200,
            writes_before_loss: 2,
            lock_key: "lock".into(),
            resource_key: "resource".into(),
            duration_ms: 16_000,
        }
    }
}

impl LockSafetyConfig {
    /// etcd's minimum lease TTL for the cluster's timing, and never below the store's.
    fn min_ttl_s(&self) -> u64 {
        let r = &self.cluster.raft;
        min_lease_ttl_s(r.election_ticks, r.tick_ms * r.heartbeat_ticks)
            .max(DEFAULT_MIN_LEASE_TTL_S)
    }

    fn ttl_ms(&self) -> u64 {
        self.lease_ttl_s * 1_000
    }

    /// Start, election, A's writes, the loss, B's takeover and A's late write, with room.
    fn needed_ms(&self) -> u64 {
        self.cluster.client.start_ms
            + 3 * self.cluster.election_timeout_ms()
            + (self.writes_before_loss + 2) * self.work_ms
            + self.lost_for_ms
            + 4 * self.work_ms
            + 2_000
    }
}

impl ScenarioConfig for LockSafetyConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        c.cluster.validate(3)?;
        let bad = |m: String| Err(ScenarioError::Config(m));
        if c.cluster.clients != 2 {
            return bad(format!(
                "cluster.clients = {} but this story has exactly 2 clients (A holds the lock first, B next)",
                c.cluster.clients
            ));
        }
        if c.lock_key.is_empty() || c.resource_key.is_empty() || c.lock_key == c.resource_key {
            return bad("lock_key and resource_key must be non-empty and differ".into());
        }
        let min_ttl_s = c.min_ttl_s();
        if c.lease_ttl_s < min_ttl_s || c.lease_ttl_s > 600 {
            return bad(format!(
                "lease_ttl_s = {} must be between etcd's minimum TTL for this timing ({min_ttl_s} s: 1.5 election timeouts, rounded up) and 600",
                c.lease_ttl_s
            ));
        }
        if c.lost_for_ms <= c.ttl_ms() || c.lost_for_ms > 120_000 {
            return bad(format!(
                "lost_for_ms = {} must be longer than the lease TTL ({} ms), or the lease never expires, and at most 120000",
                c.lost_for_ms,
                c.ttl_ms()
            ));
        }
        if c.work_ms == 0 || c.work_ms > c.ttl_ms() / 3 {
            return bad(format!(
                "work_ms = {} must be between 1 and a third of the TTL ({} ms), so holders renew between steps",
                c.work_ms,
                c.ttl_ms() / 3
            ));
        }
        if !(1..=100).contains(&c.writes_before_loss) {
            return bad(format!(
                "writes_before_loss = {} must be between 1 and 100",
                c.writes_before_loss
            ));
        }
        let needed = c.needed_ms();
        if c.duration_ms < needed {
            return bad(format!(
                "duration_ms = {} is too short for this story (at least {needed})",
                c.duration_ms
            ));
        }
        Ok(c)
    }
}

/// The two clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Who {
    /// The first holder, who loses the lock without noticing.
    A,
    /// The next holder.
    B,
}

/// A lock holder: who, with which lease, from which revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    /// Which client.
    pub who: Who,
    /// Its node.
    pub client: NodeId,
    /// Its lease.
    pub lease: u64,
    /// The TTL the server granted, seconds.
    pub granted_ttl_s: u64,
    /// When the grant was answered, virtual milliseconds.
    pub lease_granted_ms: f64,
    /// The lock key's create revision: the fencing token.
    pub fencing_revision: u64,
    /// When it acquired the lock.
    pub acquired_ms: f64,
    /// The revision at which its lock key was deleted (lease expiry or release), if seen.
    pub lock_ended_revision: Option<u64>,
    /// When the holder itself learned it had lost the lock (a renewal refused), if it did.
    pub noticed_loss_ms: Option<f64>,
}

/// One write of the protected resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtectedWrite {
    /// Which client.
    pub who: Who,
    /// The value written.
    pub value: String,
    /// The writer's fencing token.
    pub fencing_revision: u64,
    /// Whether it was fenced (a txn comparing the token).
    pub fenced: bool,
    /// Sent at, virtual milliseconds.
    pub invoked_ms: f64,
    /// Answered at.
    pub completed_ms: f64,
    /// Whether it changed the resource: `Some(false)` when its compare failed, `None`
    /// when the outcome is unknown (timed out).
    pub applied: Option<bool>,
    /// The revision it was applied at.
    pub revision: Option<u64>,
}

/// The lock key's deletion as the waiting client saw it on its watch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockRelease {
    /// The fencing token of the key deleted.
    pub fencing_revision: u64,
    /// The deleting revision (the lessor's revoke of the expired lease).
    pub revision: u64,
    /// When the watcher saw it.
    pub observed_ms: f64,
}

/// What happened, for `lock_safety.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LockStory {
    /// Whether writes were fenced.
    pub fencing: bool,
    /// How A lost the lock.
    pub lose_lock_by: LoseLockBy,
    /// When A was paused (or its clock jumped back).
    pub lost_at_ms: Option<f64>,
    /// When A resumed (pause only).
    pub resumed_at_ms: Option<f64>,
    /// The lock holders in order.
    pub holders: Vec<Holder>,
    /// Deletions of the lock key seen by a waiting client.
    pub releases: Vec<LockRelease>,
    /// Every protected write in the order sent.
    pub writes: Vec<ProtectedWrite>,
    /// The resource's value at the end (read by B).
    pub final_value: Option<String>,
}

/// What the clients and the driver share.
#[derive(Debug, Default)]
struct Plan {
    /// A is in its critical section, about to sleep over its work: the moment to strike.
    a_ready: bool,
    /// A holds the lock: B may start contending.
    a_holds: bool,
}

type Shared = Arc<Mutex<(Plan, LockStory)>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, (Plan, LockStory)> {
    shared
        .lock()
        .expect("the story lock is never held across a panic")
}

/// Longest a client waits for anything, milliseconds (its "forever").
const FOREVER_MS: u64 = 1 << 40;

/// A lease as its holder tracks it, by its own clock (which may be wrong).
struct HeldLease {
    id: LeaseId,
    ttl_s: u64,
    /// Local time of the next renewal (a third of the TTL after the last, as etcd's
    /// client keeps alive every TTL/3).
    renew_at_local_us: i64,
    /// Local time until which the holder believes the lease lives: the TTL after the last
    /// renewal was sent.
    valid_until_local_us: i64,
}

/// Why a holder stops.
enum Lost {
    /// The server refused a renewal: the lease is gone.
    Refused,
    /// By its own clock the lease has run out.
    Expired,
}

impl HeldLease {
    fn renewed(&mut self, sent_local_us: i64) {
        let ttl_us = (self.ttl_s * 1_000_000) as i64;
        self.valid_until_local_us = sent_local_us + ttl_us;
        self.renew_at_local_us = sent_local_us + ttl_us / 3;
    }

    /// Renews when due by the local clock; an indeterminate renewal is tried again next
    /// time.
    async fn keep_alive(&mut self, client: &mut EtcdClient) -> Result<(), Lost> {
        let now = client.ctx().local_now_us();
        if now >= self.renew_at_local_us {
            match client.lease_keep_alive(self.id).await {
                Ok(_) => self.renewed(now),
                Err(ClientError::Etcd(EtcdError::LeaseNotFound)) => return Err(Lost::Refused),
                Err(_) => {}
            }
        }
        if client.ctx().local_now_us() >= self.valid_until_local_us {
            return Err(Lost::Expired);
        }
        Ok(())
    }
}

/// Grants a lease, retrying until one is granted.
async fn grant(client: &mut EtcdClient, ttl_s: u64) -> (HeldLease, f64) {
    loop {
        let sent = client.ctx().local_now_us();
        match client.lease_grant(ttl_s).await {
            Ok((id, ttl_s)) => {
                let mut lease = HeldLease {
                    id,
                    ttl_s,
                    renew_at_local_us: 0,
                    valid_until_local_us: 0,
                };
                lease.renewed(sent);
                return (lease, ms(client.ctx().now()));
            }
            Err(_) => client.session().sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Takes the lock (etcd `Mutex.Lock` in spirit): create the lock key on our lease if it
/// is absent; otherwise watch it and try again once it is deleted, renewing our lease
/// meanwhile. Returns our fencing token, or `None` if our lease was lost while waiting.
async fn acquire(
    client: &mut EtcdClient,
    lease: &mut HeldLease,
    c: &LockSafetyConfig,
    shared: &Shared,
) -> Option<Revision> {
    let mut watching: Option<(u64, u64)> = None; // (watch id, fencing token of the key seen)
    loop {
        let txn = TxnRequest {
            compare: vec![Compare {
                key: c.lock_key.clone(),
                target: CompareTarget::CreateRevision(Revision::NONE),
                result: CompareResult::Equal,
            }],
            success: vec![RequestOp::Put(PutRequest {
                lease: lease.id,
                ..PutRequest::new(c.lock_key.clone(), client.ctx().id().to_string())
            })],
            failure: vec![RequestOp::Range(RangeRequest::latest(KeyRange::key(
                c.lock_key.clone(),
            )))],
        };
        let seen = match client.txn(txn).await {
            Ok((true, _, revision)) => return Some(revision),
            Ok((false, responses, revision)) => match responses.first() {
                Some(Response::Range { kvs, .. }) => {
                    kvs.first().map(|kv| (kv.create_revision.0, revision))
                }
                _ => None,
            },
            Err(ClientError::Etcd(EtcdError::LeaseNotFound)) => return None,
            Err(_) => {
                // Unknown outcome: read the key to learn whether it is ours.
                match client
                    .range(RangeRequest::latest(KeyRange::key(c.lock_key.clone())))
                    .await
                {
                    Ok((kvs, revision)) => match kvs.first() {
                        Some(kv) if kv.lease == lease.id => return Some(kv.create_revision),
                        Some(kv) => Some((kv.create_revision.0, revision)),
                        None => None,
                    },
                    Err(_) => None,
                }
            }
        };
        if let (Some((token, revision)), None) = (seen, watching) {
            // Watch for the holder's key to go, from just after the revision we saw it at.
            if let Ok(id) = client
                .watch(KeyRange::key(c.lock_key.clone()), Revision(revision.0 + 1))
                .await
                .map(Watch::into_id)
            {
                watching = Some((id, token));
            }
        }
        // Wait for a deletion, at most until the next renewal is due.
        let wait_ms = (lease.ttl_s * 1_000 / 6).max(1);
        let deadline = client.ctx().now().after(Duration::from_millis(wait_ms));
        if let Some((id, token)) = watching {
            while let Some(update) = client.next_watch(deadline).await {
                if let WatchUpdate::Events {
                    watch_id, events, ..
                } = update
                {
                    let deleted = events
                        .iter()
                        .find(|e| e.kind == EventKind::Delete && watch_id == id);
                    if let Some(e) = deleted {
                        lock(shared).1.releases.push(LockRelease {
                            fencing_revision: token,
                            revision: e.revision().0,
                            observed_ms: ms(client.ctx().now()),
                        });
                        watching = None;
                        break;
                    }
                }
            }
        } else {
            client.session().sleep(Duration::from_millis(wait_ms)).await;
        }
        if lease.keep_alive(client).await.is_err() {
            return None;
        }
    }
}

/// Writes the protected resource: fenced, a txn that applies only while the lock key's
/// create revision is still `token`; unfenced, a plain put.
async fn write_resource(
    client: &mut EtcdClient,
    c: &LockSafetyConfig,
    token: Revision,
    value: &str,
) -> (Option<bool>, Option<u64>) {
    if !c.fencing {
        return match client.put(&c.resource_key, value).await {
            Ok(revision) => (Some(true), Some(revision.0)),
            Err(ClientError::Etcd(_)) => (Some(false), None),
            Err(ClientError::Indeterminate) => (None, None),
        };
    }
    let txn = TxnRequest {
        compare: vec![Compare {
            key: c.lock_key.clone(),
            target: CompareTarget::CreateRevision(token),
            result: CompareResult::Equal,
        }],
        success: vec![RequestOp::Put(PutRequest::new(
            c.resource_key.clone(),
            value,
        ))],
        failure: vec![],
    };
    match client.txn(txn).await {
        Ok((true, _, revision)) => (Some(true), Some(revision.0)),
        Ok((false, _, _)) | Err(ClientError::Etcd(_)) => (Some(false), None),
        Err(ClientError::Indeterminate) => (None, None),
    }
}

/// One client: take the lock, then write the resource step by step while it believes it
/// holds the lock. A stops after its loss is noticed; B works until near the end, reads
/// the result and releases.
async fn run_client(mut client: EtcdClient, who: Who, shared: Shared, c: LockSafetyConfig) {
    client.set_recording(!c.fencing);
    client
        .session()
        .sleep(Duration::from_millis(c.cluster.client.start_ms))
        .await;
    if who == Who::B {
        while !lock(&shared).0.a_holds {
            client.session().sleep(Duration::from_millis(10)).await;
        }
    }
    let me = client.ctx().id();
    let (mut lease, granted_ms) = grant(&mut client, c.lease_ttl_s).await;
    let Some(token) = acquire(&mut client, &mut lease, &c, &shared).await else {
        return;
    };
    {
        let mut state = lock(&shared);
        state.1.holders.push(Holder {
            who,
            client: me,
            lease: lease.id.0,
            granted_ttl_s: lease.ttl_s,
            lease_granted_ms: granted_ms,
            fencing_revision: token.0,
            acquired_ms: ms(client.ctx().now()),
            lock_ended_revision: None,
            noticed_loss_ms: None,
        });
        if who == Who::A {
            state.0.a_holds = true;
        }
    }
    let stop_at = SimTime::from_ms(c.duration_ms.saturating_sub(1_000));
    let mut step = 0u64;
    while client.ctx().now() < stop_at {
        if lease.keep_alive(&mut client).await.is_err() {
            let mut state = lock(&shared);
            if let Some(h) = state.1.holders.iter_mut().find(|h| h.who == who) {
                h.noticed_loss_ms = Some(ms(client.ctx().now()));
            }
            break;
        }
        // The lock is ours (we just checked): do the work, then write its result. A pause
        // or a clock jump between the check and the write is what this story is about.
        if who == Who::A && step == c.writes_before_loss {
            lock(&shared).0.a_ready = true;
        }
        client
            .session()
            .sleep(Duration::from_millis(c.work_ms))
            .await;
        step += 1;
        let value = format!("{who:?}-{step}");
        let invoked = client.ctx().now();
        let (applied, revision) = write_resource(&mut client, &c, token, &value).await;
        lock(&shared).1.writes.push(ProtectedWrite {
            who,
            value,
            fencing_revision: token.0,
            fenced: c.fencing,
            invoked_ms: ms(invoked),
            completed_ms: ms(client.ctx().now()),
            applied,
            revision,
        });
    }
    if who == Who::B {
        if let Ok((kv, _)) = client.get(&c.resource_key).await {
            lock(&shared).1.final_value = kv.map(|kv| kv.value);
        }
        if let Ok(revision) = client.lease_revoke(lease.id).await {
            let mut state = lock(&shared);
            if let Some(h) = state.1.holders.iter_mut().find(|h| h.who == who) {
                h.lock_ended_revision = Some(revision.0);
            }
        }
    }
    client
        .session()
        .sleep(Duration::from_millis(FOREVER_MS))
        .await;
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct LockSafety;

impl Scenario for LockSafety {
    type Config = LockSafetyConfig;

    fn name(&self) -> &'static str {
        "lock-safety"
    }

    fn summary(&self) -> &'static str {
        "a lock on an etcd lease: the holder pauses past the TTL, a second client takes the lock, both write; fencing by revision stops the stale write (fencing = false shows the damage)"
    }

    fn directory(&self, config: &LockSafetyConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &LockSafetyConfig) -> FaultSchedule {
        // A is paused (or its clock jumps) when it is inside its critical section, which
        // only the run knows: the driver applies it. The schedule holds only the optional
        // `cluster.chaos` faults.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(&self, input: &RunInput<'_, LockSafetyConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let shared: Shared = Arc::default();
        {
            let mut state = lock(&shared);
            state.1.fencing = config.fencing;
            state.1.lose_lock_by = config.lose_lock_by;
        }
        let a = config.cluster.clients()[0];
        let (c, script_shared, script_config) = (config.clone(), shared.clone(), config.clone());
        let driver_shared = shared.clone();
        let out = config.cluster.run_with(
            input.seed,
            input.mutants,
            input.faults,
            move |client, i| {
                let who = if i == 0 { Who::A } else { Who::B };
                run_client(client, who, script_shared.clone(), script_config.clone())
            },
            |world| async move {
                let give_up = SimTime::from_ms(c.duration_ms / 2);
                while !lock(&driver_shared).0.a_ready && world.now() < give_up {
                    world.sleep(Duration::from_millis(1)).await;
                }
                if lock(&driver_shared).0.a_ready {
                    lock(&driver_shared).1.lost_at_ms = Some(ms(world.now()));
                    match c.lose_lock_by {
                        LoseLockBy::Pause => {
                            world.apply(&FaultOp::Pause { node: a });
                            world.sleep(Duration::from_millis(c.lost_for_ms)).await;
                            world.apply(&FaultOp::Resume { node: a });
                            lock(&driver_shared).1.resumed_at_ms = Some(ms(world.now()));
                        }
                        LoseLockBy::ClockSkew => world.apply(&FaultOp::ClockSkew {
                            node: a,
                            skew_ms: -i64::try_from(c.lost_for_ms)
                                .expect("lost_for_ms is at most 120000"),
                        }),
                    }
                }
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
            },
        )?;
        let mut story = std::mem::take(&mut lock(&shared).1);
        // The deletion B saw ends the tenure of the holder whose key it was.
        for release in story.releases.clone() {
            if let Some(h) = story
                .holders
                .iter_mut()
                .find(|h| h.fencing_revision == release.fencing_revision)
            {
                h.lock_ended_revision = Some(release.revision);
            }
        }
        let (holders, writes) = (story.holders.clone(), story.writes.clone());
        let stopped = HolderStoppedPastLease {
            holders: holders.clone(),
        };
        let taken_over = LockTakenOver {
            holders: holders.clone(),
        };
        let stale = StaleHolderWrote {
            holders: holders.clone(),
            writes: writes.clone(),
        };
        let fenced = ProtectedWritesFenced { holders, writes };
        let verdict = judge(&out, None, &[&stopped, &taken_over, &stale, &fenced]);
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![(
                "lock_safety.json".into(),
                serde_json::to_vec_pretty(&story).expect("data serializes"),
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

    #[test]
    fn bad_configs_are_refused_with_reasons() {
        let parse = |s: &str| read_config::<LockSafetyConfig>(&toml::from_str(s).unwrap());
        assert!(parse("").is_ok());
        let err = |s: &str| parse(s).unwrap_err().to_string();
        assert!(err("lease_ttl_s = 1").contains("minimum TTL"));
        assert!(err("lost_for_ms = 4000").contains("longer than the lease TTL"));
        assert!(err("work_ms = 0").contains("work_ms"));
        assert!(err("resource_key = \"lock\"").contains("differ"));
        assert!(err("[cluster]\nclients = 3").contains("exactly 2 clients"));
        assert!(err("duration_ms = 5000").contains("too short"));
        assert!(err("lose_lock_by = \"gc\"").contains("unknown variant"));
    }
}
