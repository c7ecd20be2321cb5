//! `disk-stall`: etcd's known slow-fsync failure mode. A loaded 3-node cluster; the
//! leader's fsyncs stall for a few seconds, once, then again every `gap_ms` (each stall
//! hits whoever leads when it starts).
//!
//! What ksim's Raft does: the node loop handles each `Ready` in order and awaits the WAL
//! fsync inside `persist` before it sends anything (messages depend on durable state) and
//! before it ticks again. A leader whose fsync stalls therefore stops everything: no
//! heartbeats, no AppendEntries, no answers. That is etcd's behaviour too, whose raft loop
//! blocks in the WAL save and warns "leader failed to send out heartbeat on time; took too
//! long, leader is overloaded likely from slow disk" (`server/etcdserver/raft.go`). So:
//!
//! - a stall shorter than the election timeout (minus a heartbeat) is a latency spike:
//!   writes wait for the stall, leadership holds (`leadership-holds-on-short-stall`);
//! - a stall at least as long as the longest randomized election timeout (twice the
//!   timeout) plus one more timeout for the election moves leadership: the followers time out, pre-vote (the stalled leader's
//!   lease has lapsed for them), and elect one of themselves within the bound
//!   (`leadership-moves-on-long-stall`); the old leader wakes to a higher term and steps
//!   down; writes it had taken but not replicated time out as indeterminate;
//! - in between, the randomized timeouts decide, and neither claim is made.
//!
//! Either way writes are acknowledged again soon after each stall ends
//! (`writes-resume-after-stall`), and nothing committed is lost (the Raft safety checks,
//! `acked-writes-survive`). `latency.csv` has every client operation; `disk_stall.json` the
//! stall bands and who led when.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sim_core::{
    Check, CheckKind, Directory, EntryType, EventKind, Evidence, FaultOp, FaultSchedule,
    FaultTimeline, History, NodeId, Outcome, RunView, SimTime,
};

use crate::raft_world::{judge, leader_periods, ms, ClusterConfig, ClusterWatch};
use crate::scenario::{RunInput, Scenario, ScenarioConfig, ScenarioError, ScenarioRun};

/// The disk-stall scenario's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskStallConfig {
    /// The cluster (3 nodes, 2 clients; etcd's 100 ms heartbeat and 1000 ms election
    /// timeout, `server/embed/config.go`).
    pub cluster: ClusterConfig,
    /// When the first stall starts, milliseconds.
    pub first_stall_at_ms: u64,
    /// How long each stall lasts, milliseconds (default 3 s: the longest
    /// randomized election timeout, 2 s, so leadership moves).
    pub stall_ms: u64,
    /// How many stalls.
    pub stalls: u64,
    /// From a stall's end to the next one's start, milliseconds.
    pub gap_ms: u64,
    /// A write must be acknowledged within this long after each stall ends, milliseconds.
    /// The default, 4 s, is the client timeout (2 s: requests held by a deposed leader end
    /// only then) plus two election timeouts.
    pub resume_bound_ms: u64,
    /// Length of the run, milliseconds; at least the last stall's end plus
    /// `resume_bound_ms` and a second.
    pub duration_ms: u64,
}

impl Default for DiskStallConfig {
    fn default() -> Self {
        DiskStallConfig {
            cluster: ClusterConfig {
                clients: 2,
                ..ClusterConfig::default()
            },
            first_stall_at_ms: 4_000,
            stall_ms: 3_000,
            stalls: 3,
            gap_ms: 5_000,
            resume_bound_ms: 4_000,
            duration_ms: 30_000,
        }
    }
}

/// What a stall of this length should do to leadership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regime {
    /// Shorter than the election timeout less a heartbeat: no follower times out.
    Holds,
    /// At least the longest randomized election timeout plus an election (three
    /// timeouts): some follower times out and wins while the leader is still stalled.
    Moves,
    /// In between: the randomized timeouts decide.
    Either,
}

impl DiskStallConfig {
    fn stall_start_ms(&self, i: u64) -> u64 {
        self.first_stall_at_ms + i * (self.stall_ms + self.gap_ms)
    }

    fn last_stall_end_ms(&self) -> u64 {
        self.stall_start_ms(self.stalls - 1) + self.stall_ms
    }

    /// The regime of this config's stalls (see [`Regime`]).
    pub fn regime(&self) -> Regime {
        let election_ms = self.cluster.election_timeout_ms();
        if self.stall_ms + self.cluster.raft.tick_ms * self.cluster.raft.heartbeat_ticks
            < election_ms
        {
            Regime::Holds
        } else if self.stall_ms >= self.move_bound_ms() {
            Regime::Moves
        } else {
            Regime::Either
        }
    }

    /// A new leader must be elected within this long of a long stall's start: the longest
    /// randomized election timeout (2 × the timeout) plus one more timeout for the
    /// pre-vote and vote rounds, and a split vote's retry.
    pub fn move_bound_ms(&self) -> u64 {
        3 * self.cluster.election_timeout_ms()
    }
}

impl ScenarioConfig for DiskStallConfig {
    fn check(self) -> Result<Self, ScenarioError> {
        let c = self;
        c.cluster.validate(3)?;
        let bad = |m: String| Err(ScenarioError::Config(m));
        if c.stall_ms == 0 || c.stalls == 0 || c.resume_bound_ms == 0 {
            return bad("stall_ms, stalls and resume_bound_ms must be more than zero".into());
        }
        if c.stalls > 20 || c.stall_ms > 60_000 {
            return bad(format!(
                "stalls = {} and stall_ms = {} are too many or too long (at most 20 stalls of 60000 ms)",
                c.stalls, c.stall_ms
            ));
        }
        if c.stalls > 1 && c.gap_ms < c.resume_bound_ms {
            return bad(format!(
                "gap_ms = {} must be at least resume_bound_ms = {} so each stall's recovery is judged alone",
                c.gap_ms, c.resume_bound_ms
            ));
        }
        if c.first_stall_at_ms < 2 * c.cluster.election_timeout_ms() + c.cluster.client.start_ms {
            return bad(format!(
                "first_stall_at_ms = {} must leave time for the first election and the clients' start (at least {})",
                c.first_stall_at_ms,
                2 * c.cluster.election_timeout_ms() + c.cluster.client.start_ms
            ));
        }
        let needed = c.last_stall_end_ms() + c.resume_bound_ms + 1_000;
        if c.duration_ms < needed {
            return bad(format!(
                "duration_ms = {} is too short for the stalls and the resume bound (at least {needed})",
                c.duration_ms
            ));
        }
        Ok(c)
    }
}

/// One stall as the driver applied it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StallBand {
    /// The node whose fsyncs stalled (the leader when it started).
    pub node: NodeId,
    /// Its term then.
    pub term: u64,
    /// Start.
    pub start: SimTime,
    /// End.
    pub end: SimTime,
}

/// The scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskStall;

impl Scenario for DiskStall {
    type Config = DiskStallConfig;

    fn name(&self) -> &'static str {
        "disk-stall"
    }

    fn summary(&self) -> &'static str {
        "the leader's fsyncs stall for seconds, repeatedly; write latency spikes, leadership moves (long stalls) or holds (short ones), nothing committed is lost"
    }

    fn directory(&self, config: &DiskStallConfig) -> Directory {
        config.cluster.directory()
    }

    fn generate_faults(&self, seed: u64, config: &DiskStallConfig) -> FaultSchedule {
        // Each stall hits whoever leads when it starts, so the driver applies them; the
        // schedule holds only the optional `cluster.chaos` faults.
        config.cluster.chaos_faults(seed)
    }

    fn mutants(&self) -> &'static [&'static str] {
        raft::driver::MUTANT_NAMES
    }

    fn run(&self, input: &RunInput<'_, DiskStallConfig>) -> Result<ScenarioRun, ScenarioError> {
        let config = input.config.clone();
        let c = config.clone();
        let out = config.cluster.run(
            input.seed,
            input.mutants,
            input.faults,
            |world| async move {
                let mut leaders = ClusterWatch::new(&world);
                let tick = c.cluster.raft.tick_ms;
                let mut bands = Vec::new();
                for i in 0..c.stalls {
                    let start = SimTime::from_ms(c.stall_start_ms(i));
                    world.sleep_until(start).await;
                    // Normally a leader is up; if an earlier stall's election is still
                    // running, this stall waits for its winner (at most a gap).
                    let give_up = start.after(Duration::from_millis(c.gap_ms));
                    if let Some((node, term)) = leaders.wait_for_leader(tick, give_up).await {
                        world.apply(&FaultOp::DiskStall {
                            node,
                            duration_ms: c.stall_ms,
                        });
                        let start = world.now();
                        let end = start.after(Duration::from_millis(c.stall_ms));
                        bands.push(StallBand {
                            node,
                            term,
                            start,
                            end,
                        });
                    }
                }
                world.sleep_until(SimTime::from_ms(c.duration_ms)).await;
                bands
            },
        )?;
        let bands = out.value.clone();
        let election_ms = config.cluster.election_timeout_ms();
        let leadership = LeadershipOnStall {
            bands: bands.clone(),
            regime: config.regime(),
            stall_ms: config.stall_ms,
            move_bound_ms: config.move_bound_ms(),
            hold_margin_ms: election_ms,
        };
        let held = StallHeldFsync {
            stall: leadership.clone(),
            // A long stall must hold an fsync past an election timeout (that is what moves
            // leadership); a short one just holds one.
            min_held_ms: if config.regime() == Regime::Moves {
                election_ms
            } else {
                1
            },
        };
        let resume = WritesResumeAfterStall {
            bands: bands.clone(),
            bound_ms: config.resume_bound_ms,
        };
        let mut story: Vec<&dyn Check> = vec![&held];
        if config.regime() != Regime::Either {
            story.push(&leadership);
        }
        story.push(&resume);
        let verdict = judge(&out, Some(config.move_bound_ms()), &story);
        let report = report(&config, &bands, &out.trace.events, &out.history);
        Ok(ScenarioRun {
            nodes: out.nodes.clone(),
            data: vec![
                (
                    "disk_stall.json".into(),
                    serde_json::to_vec_pretty(&report).expect("data serializes"),
                ),
                ("latency.csv".into(), latency_csv(&out.history).into_bytes()),
            ],
            trace: out.trace,
            history: out.history,
            verdict,
        })
    }
}

/// `disk_stall.json`.
#[derive(Debug, Serialize)]
struct Report {
    stall_ms: u64,
    election_timeout_ms: u64,
    regime: Regime,
    stalls: Vec<BandReport>,
    /// Every leadership period: node, term, from, to (null: to the end).
    leaders: Vec<LeaderPeriod>,
    writes_ok: usize,
    writes_indeterminate: usize,
    /// Median latency of acknowledged writes invoked outside every stall band.
    write_latency_p50_calm_ms: Option<f64>,
    /// Longest latency of an acknowledged write.
    write_latency_max_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
struct BandReport {
    node: NodeId,
    term: u64,
    start_ms: f64,
    end_ms: f64,
    /// The first leader elected after the stall started, other than the stalled node in
    /// its term.
    next_leader: Option<NodeId>,
    next_leader_term: Option<u64>,
    next_leader_at_ms: Option<f64>,
    /// Whether leadership moved during the stall.
    moved: bool,
    /// The first write acknowledged after the stall ended.
    first_write_ack_after_end_ms: Option<f64>,
    /// Longest wait of a write in flight during the band or up to `resume_bound_ms`
    /// after it, whatever its outcome (one that timed out waited its whole timeout).
    write_wait_max_ms: Option<f64>,
    writes_indeterminate: usize,
}

#[derive(Debug, Serialize)]
struct LeaderPeriod {
    node: NodeId,
    term: u64,
    from_ms: f64,
    to_ms: Option<f64>,
}

/// A client operation from the history: (invoked, completed, f, outcome).
fn operations(history: &History) -> Vec<(SimTime, SimTime, String, EntryType, u64)> {
    let mut invoked = std::collections::BTreeMap::new();
    let mut ops = Vec::new();
    for e in &history.entries {
        if e.entry_type == EntryType::Invoke {
            invoked.insert(e.op, e.t_us);
        } else if let Some(start) = invoked.remove(&e.op) {
            ops.push((start, e.t_us, e.f.clone(), e.entry_type, e.op.0));
        }
    }
    ops
}

fn is_write(f: &str) -> bool {
    f != "get"
}

/// The first leader elected after `band` started other than the stalled node's own term.
fn next_leader(
    events: &[sim_core::TraceEvent],
    band: &StallBand,
) -> Option<(NodeId, u64, SimTime)> {
    leader_periods(events)
        .into_iter()
        .find(|p| p.2 >= band.start && p.1 > band.term)
        .map(|p| (p.0, p.1, p.2))
}

fn report(
    c: &DiskStallConfig,
    bands: &[StallBand],
    events: &[sim_core::TraceEvent],
    history: &History,
) -> Report {
    let ops = operations(history);
    let writes: Vec<_> = ops.iter().filter(|o| is_write(&o.2)).collect();
    let latency = |o: &(SimTime, SimTime, String, EntryType, u64)| ms(o.1) - ms(o.0);
    let in_any_band = |t: SimTime| bands.iter().any(|b| t >= b.start && t <= b.end);
    let mut calm: Vec<f64> = writes
        .iter()
        .filter(|o| o.3 == EntryType::Ok && !in_any_band(o.0))
        .map(|o| latency(o))
        .collect();
    calm.sort_by(f64::total_cmp);
    let stalls = bands
        .iter()
        .map(|b| {
            let next = next_leader(events, b);
            let after = b.end.after(Duration::from_millis(c.resume_bound_ms));
            let near: Vec<_> = writes
                .iter()
                .filter(|o| o.1 >= b.start && o.0 <= after)
                .collect();
            BandReport {
                node: b.node,
                term: b.term,
                start_ms: ms(b.start),
                end_ms: ms(b.end),
                next_leader: next.map(|n| n.0),
                next_leader_term: next.map(|n| n.1),
                next_leader_at_ms: next.map(|n| ms(n.2)),
                moved: next.is_some_and(|n| n.2 <= b.end),
                first_write_ack_after_end_ms: writes
                    .iter()
                    .filter(|o| o.3 == EntryType::Ok && o.1 >= b.end)
                    .map(|o| ms(o.1))
                    .reduce(f64::min),
                write_wait_max_ms: near.iter().map(|o| latency(o)).reduce(f64::max),
                writes_indeterminate: near.iter().filter(|o| o.3 == EntryType::Info).count(),
            }
        })
        .collect();
    Report {
        stall_ms: c.stall_ms,
        election_timeout_ms: c.cluster.election_timeout_ms(),
        regime: c.regime(),
        stalls,
        leaders: leader_periods(events)
            .into_iter()
            .map(|(node, term, from, to)| LeaderPeriod {
                node,
                term,
                from_ms: ms(from),
                to_ms: to.map(ms),
            })
            .collect(),
        writes_ok: writes.iter().filter(|o| o.3 == EntryType::Ok).count(),
        writes_indeterminate: writes.iter().filter(|o| o.3 == EntryType::Info).count(),
        write_latency_p50_calm_ms: calm.get(calm.len() / 2).copied(),
        write_latency_max_ms: writes
            .iter()
            .filter(|o| o.3 == EntryType::Ok)
            .map(|o| latency(o))
            .reduce(f64::max),
    }
}

/// Every client operation: `t_ms,op,f,latency_ms,outcome`, `t_ms` its invocation (so a
/// chart plots latency against the time the client asked).
pub fn latency_csv(history: &History) -> String {
    let mut csv = String::from("t_ms,op,f,latency_ms,outcome\n");
    for (start, end, f, outcome, op) in operations(history) {
        let outcome = match outcome {
            EntryType::Ok => "ok",
            EntryType::Fail => "fail",
            EntryType::Info | EntryType::Invoke => "info",
        };
        let _ = writeln!(
            csv,
            "{:.3},{op},{f},{:.3},{outcome}",
            ms(start),
            ms(end) - ms(start)
        );
    }
    csv
}

/// The Sometimes check that the story happened.
const HELD: &str = "stall-held-an-fsync";

/// Whether `band`'s story took hold as scripted, read from the trace: the node stayed
/// stalled for the whole band, and meanwhile, for the regime's claim to apply, the others
/// held a healthy quorum for the move bound (Moves) or nothing else was broken until an
/// election timeout after the stall (Holds; any other fault could move leadership
/// legitimately).
fn band_applies(band: &StallBand, check: &LeadershipOnStall, run: &RunView<'_>) -> bool {
    let voters = raft::checks::voters_of(run);
    let timeline = FaultTimeline::of(run.trace);
    let from_start = |for_ms: u64, holds: &dyn Fn(&sim_core::FaultState) -> bool| {
        timeline
            .first_window(band.start, for_ms, holds)
            .is_some_and(|(from, _)| from == band.start)
    };
    let node = band.node;
    from_start(check.stall_ms, &|s| s.is_stalled(node))
        && match check.regime {
            Regime::Moves => from_start(check.move_bound_ms, &|s| {
                s.healthy_quorum(&voters).is_some()
            }),
            Regime::Holds | Regime::Either => {
                from_start(check.stall_ms + check.hold_margin_ms, &|s| {
                    s.links_whole_and_lossless()
                        && voters.iter().all(|v| {
                            if *v == node {
                                !s.is_down(*v) && !s.is_paused(*v)
                            } else {
                                s.is_healthy(*v)
                            }
                        })
                })
            }
        }
}

/// `stall-held-an-fsync` (Sometimes): on a stall whose story took hold ([`band_applies`]),
/// an fsync of the stalled node began before the stall ended and completed at least
/// `min_held_ms` after it began: the stall really held the node's WAL.
#[derive(Clone, Debug)]
pub struct StallHeldFsync {
    /// The stalls and their claim.
    pub stall: LeadershipOnStall,
    /// How long the fsync must have been held, milliseconds.
    pub min_held_ms: u64,
}

impl Check for StallHeldFsync {
    fn name(&self) -> &'static str {
        HELD
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut started: std::collections::BTreeMap<u64, SimTime> = Default::default();
        let mut held = Vec::new();
        for e in &run.trace.events {
            match &e.kind {
                EventKind::FsyncStart { fsync, .. } => {
                    started.insert(*fsync, e.t_us);
                }
                EventKind::FsyncEnd { fsync, .. } => {
                    if let (Some(node), Some(from)) = (e.node, started.remove(fsync)) {
                        held.push((node, from, e.t_us));
                    }
                }
                _ => {}
            }
        }
        let min = Duration::from_millis(self.min_held_ms);
        let reached = self.stall.bands.iter().any(|band| {
            band_applies(band, &self.stall, run)
                && held.iter().any(|(node, from, to)| {
                    *node == band.node
                        && *from < band.end
                        && *to >= band.start
                        && to.since(*from) >= min
                })
        });
        if reached {
            Outcome::Pass
        } else {
            Outcome::not_reached(format!(
                "no stall ({} applied) held an fsync of its node for {} ms while the rest of the \
                 cluster was as the story needs",
                self.stall.bands.len(),
                self.min_held_ms
            ))
        }
    }
}

/// `leadership-moves-on-long-stall` / `leadership-holds-on-short-stall` (liveness and
/// availability): a stall longer than the longest election timeout plus an election puts
/// another leader in place within `move_bound_ms` of its start; a stall shorter than the
/// election timeout less a heartbeat leaves the leader in place (no new term is elected
/// from its start to an election timeout after its end).
#[derive(Clone, Debug)]
pub struct LeadershipOnStall {
    /// The stalls applied.
    pub bands: Vec<StallBand>,
    /// Which claim to judge ([`Regime::Either`] judges nothing: always passes).
    pub regime: Regime,
    /// Length of each stall.
    pub stall_ms: u64,
    /// Bound for a long stall.
    pub move_bound_ms: u64,
    /// How long after a short stall's end leadership must still hold.
    pub hold_margin_ms: u64,
}

impl Check for LeadershipOnStall {
    fn name(&self) -> &'static str {
        match self.regime {
            Regime::Holds => "leadership-holds-on-short-stall",
            Regime::Moves | Regime::Either => "leadership-moves-on-long-stall",
        }
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[HELD]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        // Judge the stalls whose story took hold; the Sometimes check says one did.
        for band in self.bands.iter().filter(|b| band_applies(b, self, run)) {
            let next = next_leader(&run.trace.events, band);
            match self.regime {
                Regime::Either => {}
                Regime::Moves => {
                    let bound = band.start.after(Duration::from_millis(self.move_bound_ms));
                    match next {
                        Some((_, _, at)) if at <= bound => {}
                        Some((node, term, at)) => {
                            return Outcome::violation(
                                format!(
                                    "the stall of {} ({} ms from {}) was followed by a new leader only after {} ms ({node}, term {term}; bound {} ms)",
                                    band.node,
                                    self.stall_ms,
                                    band.start,
                                    at.since(band.start).as_millis(),
                                    self.move_bound_ms
                                ),
                                vec![],
                            )
                        }
                        None => {
                            return Outcome::violation(
                                format!(
                                    "no new leader after {} stalled for {} ms from {} (bound {} ms)",
                                    band.node, self.stall_ms, band.start, self.move_bound_ms
                                ),
                                vec![],
                            )
                        }
                    }
                }
                Regime::Holds => {
                    let until = band.end.after(Duration::from_millis(self.hold_margin_ms));
                    if let Some((node, term, at)) = next.filter(|n| n.2 <= until) {
                        let event = run
                            .trace
                            .events
                            .iter()
                            .find(|e| e.t_us == at && e.node == Some(node));
                        return Outcome::violation(
                            format!(
                                "{node} was elected in term {term} at {at}, although {}'s stall lasted only {} ms",
                                band.node, self.stall_ms
                            ),
                            event
                                .map(|e| vec![Evidence::event(e, "leadership moved")])
                                .unwrap_or_default(),
                        );
                    }
                }
            }
        }
        Outcome::Pass
    }
}

/// `writes-resume-after-stall` (liveness): after each stall ends, once the cluster has
/// really recovered (read from the trace: no partition or loss, a majority of the servers
/// up, every server and client that is up healthy), some write is acknowledged within the
/// bound. A stall after which the cluster never recovers for the bound is not judged.
#[derive(Clone, Debug)]
pub struct WritesResumeAfterStall {
    /// The stalls applied.
    pub bands: Vec<StallBand>,
    /// The bound, milliseconds.
    pub bound_ms: u64,
}

impl Check for WritesResumeAfterStall {
    fn name(&self) -> &'static str {
        "writes-resume-after-stall"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[HELD]
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let voters = raft::checks::voters_of(run);
        let others: Vec<NodeId> = run
            .nodes
            .iter()
            .copied()
            .filter(|n| !voters.contains(n))
            .collect();
        let timeline = FaultTimeline::of(run.trace);
        let acks: Vec<SimTime> = operations(run.history)
            .into_iter()
            .filter(|o| is_write(&o.2) && o.3 == EntryType::Ok)
            .map(|o| o.1)
            .collect();
        let mut judged = 0;
        for band in &self.bands {
            let Some((from, _)) = timeline.first_window(band.end, self.bound_ms, |s| {
                raft::checks::recovered(s, &voters)
                    && others.iter().all(|c| s.is_down(*c) || s.is_healthy(*c))
            }) else {
                continue;
            };
            judged += 1;
            let bound = from.after(Duration::from_millis(self.bound_ms));
            if !acks.iter().any(|t| *t >= band.end && *t <= bound) {
                return Outcome::violation(
                    format!(
                        "no write was acknowledged within {} ms after the cluster recovered at \
                         {from} from {}'s stall (which ended at {})",
                        self.bound_ms, band.node, band.end
                    ),
                    vec![],
                );
            }
        }
        if judged == 0 {
            return Outcome::not_applicable(
                "the cluster never recovered for the bound after a stall",
            );
        }
        Outcome::Pass
    }
}
