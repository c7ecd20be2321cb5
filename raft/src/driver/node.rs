//! The Raft node actor: runs a [`RawNode`] on sim-core.
//!
//! One loop per node: take a message or, at the next tick, tick the core (ticks run on the
//! node's timers, as a real process's monotonic clock; clock skew moves the node's wall
//! clock, not its tick rate); then handle every `Ready` in the order its contract demands:
//! persist (WAL append, one fsync), record what became durable, send, apply, advance.
//! A restart runs the actor again over the same disk: recovery replays the snapshot and the
//! WAL and the core starts from there.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sim_core::{Carries, EventKind, NodeCtx};

use super::app::{ClientOp, ClientReply, Membership, NodeEnv, Proposal, QueryMode, StateMachine};
use super::message::{Msg, MsgOf};
use super::storage::{self, WalRecord, SNAP_FILE, WAL_FILE};
use crate::core::{
    self, ConfChange, ConfState, Config, Entry, EntryKind, Event, InitialState, LogIndex, Mutants,
    ProposeError, RawNode, Ready, Term,
};
use crate::events::{EntryRef, RaftEvent};

/// How a Raft node runs. Defaults follow etcd v3.5 (`server/embed/config.go`): heartbeat
/// 100 ms, election timeout 1000 ms (10 ticks of 100 ms), pre-vote and check-quorum on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriverConfig {
    /// Length of one tick, milliseconds (etcd: `--heartbeat-interval` 100 ms).
    pub tick_ms: u64,
    /// Election timeout in ticks, the bottom of the range; each node draws its timeout in
    /// `[election_ticks, election_ticks_max]` (etcd: `--election-timeout` 1000 ms = 10
    /// ticks, drawn in `[e, 2e)`).
    pub election_ticks: u64,
    /// Top of the election timeout range in ticks, inclusive; 0 (the default, also when
    /// the key is absent) means `2 * election_ticks - 1`, etcd's range.
    pub election_ticks_max: u64,
    /// Heartbeat interval in ticks (etcd: 1).
    pub heartbeat_ticks: u64,
    /// Pre-vote (etcd 3.5+: on).
    pub pre_vote: bool,
    /// Check-quorum (etcd: always on).
    pub check_quorum: bool,
    /// Take a snapshot after this many applied entries (etcd 3.6 `--snapshot-count`
    /// 10,000; scenarios scale it down so snapshots happen in short runs).
    pub snapshot_entries: u64,
    /// Most entries in one AppendEntries (etcd limits bytes, `MaxSizePerMsg` 1 MiB; a
    /// count is enough here, and small values widen the windows some bugs need).
    pub max_entries_per_msg: usize,
    /// Serve reads locally without ReadIndex (serializable; may be stale).
    pub serializable_reads: bool,
    /// Planted bugs, all off by default. Not part of a scenario's config file: they are
    /// switched on with `--mutant` (the scenario file's `mutants` list), so a config cannot
    /// carry one silently.
    #[serde(skip)]
    pub mutants: RaftMutants,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            tick_ms: 100,
            election_ticks: 10,
            election_ticks_max: 0,
            heartbeat_ticks: 1,
            pre_vote: true,
            check_quorum: true,
            snapshot_entries: 10_000,
            max_entries_per_msg: 64,
            serializable_reads: false,
            mutants: RaftMutants::default(),
        }
    }
}

/// The Raft planted bugs: the core's, plus the driver's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftMutants {
    /// The core's switches.
    pub core: Mutants,
    /// `forget-vote-on-restart`: a hard-state change (term, vote) is written but not
    /// fsynced before the messages that depend on it are sent, so a crash can forget a vote
    /// already given.
    pub forget_vote_on_restart: bool,
    /// `stale-follower-read`: a follower answers reads from its own state without a
    /// ReadIndex round, so a lagging or partitioned follower returns old values.
    pub stale_follower_read: bool,
    /// `ack-before-fsync`: new log entries are not fsynced before the node acknowledges
    /// them (to the leader, and so to the client); they are flushed on the next tick. A
    /// power failure in between loses writes a majority already acknowledged.
    pub ack_before_fsync: bool,
}

/// Every planted bug this driver knows with one line on what it breaks, for `ksim list`
/// (the same order as [`MUTANT_NAMES`]).
pub const MUTANT_SUMMARIES: &[(&str, &str)] = &[
    (
        "commit-old-term",
        "the leader counts replicas to commit entries of earlier terms (Raft Figure 8)",
    ),
    (
        "vote-without-log-check",
        "a node grants its vote without the up-to-date-log check",
    ),
    (
        "forget-vote-on-restart",
        "term and vote are not durable before answering: a node can vote twice in a term",
    ),
    (
        "truncate-committed",
        "conflict handling may truncate committed entries",
    ),
    (
        "fixed-election-timeout",
        "no randomized election timeout: split votes repeat (liveness)",
    ),
    (
        "quorum-of-reachable",
        "a majority is counted among the reachable nodes, not all members",
    ),
    (
        "no-check-quorum",
        "a leader cut off from its quorum keeps leading and serving",
    ),
    (
        "stale-follower-read",
        "followers answer reads from their own state, without ReadIndex",
    ),
    (
        "ack-before-fsync",
        "entries are acknowledged before they are durable",
    ),
    (
        "concurrent-conf-change",
        "the leader accepts a membership change while another is unapplied",
    ),
];

/// Every planted bug name this driver knows, as `ksim run --mutant` takes them.
pub const MUTANT_NAMES: &[&str] = &[
    "commit-old-term",
    "vote-without-log-check",
    "forget-vote-on-restart",
    "truncate-committed",
    "fixed-election-timeout",
    "quorum-of-reachable",
    "no-check-quorum",
    "stale-follower-read",
    "ack-before-fsync",
    "concurrent-conf-change",
];

impl RaftMutants {
    /// Switches on the planted bug `name`; false if the name is not a Raft mutant.
    pub fn enable(&mut self, name: &str) -> bool {
        let switch = match name {
            "commit-old-term" => &mut self.core.commit_old_term,
            "vote-without-log-check" => &mut self.core.vote_without_log_check,
            "forget-vote-on-restart" => &mut self.forget_vote_on_restart,
            "truncate-committed" => &mut self.core.truncate_committed,
            "fixed-election-timeout" => &mut self.core.fixed_election_timeout,
            "quorum-of-reachable" => &mut self.core.quorum_of_reachable,
            "no-check-quorum" => &mut self.core.no_check_quorum,
            "stale-follower-read" => &mut self.stale_follower_read,
            "ack-before-fsync" => &mut self.ack_before_fsync,
            "concurrent-conf-change" => &mut self.core.concurrent_conf_change,
            _ => return false,
        };
        *switch = true;
        true
    }
}

/// The trace's name for an entry.
pub fn entry_ref(entry: &Entry) -> EntryRef {
    EntryRef {
        index: entry.index.0,
        term: entry.term.0,
        digest: super::entry_digest(&entry.kind),
    }
}

/// A read waiting for its ReadIndex round or for the state machine to catch up.
struct PendingRead<Q> {
    client: sim_core::NodeId,
    request: u64,
    query: Q,
}

/// A membership change this leader proposed, waiting to be applied.
struct PendingConfChange {
    client: sim_core::NodeId,
    request: u64,
    change: ConfChange,
    term: Term,
}

/// The driver's (sim-core's) view of a core configuration.
fn membership(conf: &ConfState) -> Membership {
    Membership {
        voters: conf.voters.iter().copied().collect(),
        learners: conf.learners.iter().copied().collect(),
    }
}

/// The trace event of a configuration.
fn membership_event(conf: &ConfState) -> EventKind {
    let Membership { voters, learners } = membership(conf);
    EventKind::layer(RaftEvent::Membership { voters, learners })
}

/// One node's running state (`M`: the world's message type, which carries the cluster's).
struct Node<S: StateMachine, M> {
    ctx: NodeCtx<M>,
    config: DriverConfig,
    raw: RawNode<ChaCha8Rng>,
    sm: S,
    applied: LogIndex,
    snapshot_index: LogIndex,
    /// Last index durable in the WAL (to tell appends that replace entries).
    durable_last: LogIndex,
    /// Proposals this node made, by log index: who to answer once applied.
    proposals: BTreeMap<u64, (sim_core::NodeId, u64)>,
    /// Membership changes this node proposed, by log index: who to answer once applied.
    conf_proposals: BTreeMap<u64, PendingConfChange>,
    /// Reads waiting for their ReadIndex, by context.
    reads: BTreeMap<Vec<u8>, PendingRead<S::Query>>,
    /// Reads whose index is known, waiting for `applied` to reach it.
    ready_reads: Vec<(LogIndex, PendingRead<S::Query>)>,
    next_read: u64,
    /// Term and vote as last written to the WAL (to tell a Ready that changes them).
    written_term_vote: (Term, Option<sim_core::NodeId>),
    /// WAL appends not yet fsynced (only under the planted bug `ack-before-fsync`).
    unsynced_wal: bool,
    /// Pushes sent to each client in this incarnation (their stream positions).
    push_seq: BTreeMap<sim_core::NodeId, u64>,
}

/// Runs a Raft node replicating `S` among `voters` (the founding members), in a world whose
/// messages carry the cluster's (its own, or a bigger world's: see [`sim_core::carry`]).
pub async fn run_node<S: StateMachine, M: Carries<MsgOf<S>>>(
    mut ctx: NodeCtx<M>,
    config: DriverConfig,
    voters: Vec<sim_core::NodeId>,
) {
    let recovered = storage::recover(&ctx);
    if recovered.discarded_bytes > 0 {
        ctx.record_layer(RaftEvent::WalTornTail {
            discarded_bytes: recovered.discarded_bytes as u64,
        });
    }
    let initial = if recovered.found {
        recovered.initial
    } else {
        let init = InitialState::bootstrap(voters.iter().copied());
        storage::write_snapshot(&ctx, &init.snapshot, init.hard_state, &[]);
        ctx.disk().fsync(SNAP_FILE).await;
        ctx.disk().fsync(WAL_FILE).await;
        ctx.record_layer(RaftEvent::Snapshot {
            index: init.snapshot.meta.index.0,
            term: init.snapshot.meta.term.0,
            installed: false,
        });
        init
    };
    let hs = initial.hard_state;
    ctx.record_layer(RaftEvent::HardState {
        term: hs.term.0,
        vote: hs.vote,
        commit: hs.commit.0,
    });
    ctx.record(membership_event(&initial.snapshot.meta.conf_state));
    let mut sm = S::default();
    if !initial.snapshot.data.is_empty() {
        sm.restore(&initial.snapshot.data);
    }
    let snapshot_index = initial.snapshot.meta.index;
    let durable_last = initial.entries.last().map_or(snapshot_index, |e| e.index);
    let core_config = Config {
        election_tick: config.election_ticks,
        max_election_tick: config.election_ticks_max,
        heartbeat_tick: config.heartbeat_ticks,
        pre_vote: config.pre_vote,
        check_quorum: config.check_quorum,
        max_entries_per_msg: config.max_entries_per_msg.max(1),
        mutants: config.mutants.core,
        ..Config::new(ctx.id())
    };
    let rng = ChaCha8Rng::seed_from_u64(ctx.rng().gen());
    let raw = RawNode::new(core_config, initial, rng).expect("the driver builds valid configs");
    let mut node = Node {
        ctx,
        config,
        raw,
        sm,
        applied: snapshot_index,
        snapshot_index,
        durable_last,
        proposals: BTreeMap::new(),
        conf_proposals: BTreeMap::new(),
        reads: BTreeMap::new(),
        ready_reads: Vec::new(),
        next_read: 0,
        written_term_vote: (hs.term, hs.vote),
        unsynced_wal: false,
        push_seq: BTreeMap::new(),
    };
    node.run().await;
}

impl<S: StateMachine, M: Carries<MsgOf<S>>> Node<S, M> {
    async fn run(&mut self) {
        let tick = Duration::from_millis(self.config.tick_ms.max(1));
        // Real processes do not start in the same microsecond: each node ticks at its own
        // phase within the tick. Without this, nodes that draw the same timeout (in whole
        // ticks) time out together and split the vote. The planted bug
        // `fixed-election-timeout` removes all randomization, this phase included.
        let phase_us = if self.config.mutants.core.fixed_election_timeout {
            0
        } else {
            self.ctx.rng().gen_range(0..tick.as_micros() as u64)
        };
        let mut next_tick = self.ctx.now().after(tick + Duration::from_micros(phase_us));
        loop {
            match self.ctx.recv_until(next_tick).await {
                Some(env) => match env.narrow::<MsgOf<S>>() {
                    Ok(env) => match env.msg {
                        Msg::Raft(m) => self.raw.step(m),
                        Msg::Request { request, op } => self.request(env.from, request, op),
                        Msg::Reply { .. } | Msg::Push { .. } => {}
                    },
                    // Another layer's mail (an API request sent to an etcd member): a
                    // member has nothing to say to it.
                    Err(env) => self.ctx.note("foreign-message", env.msg.kind()),
                },
                None => {
                    self.raw.tick();
                    next_tick = next_tick.after(tick);
                    self.housekeeping().await;
                }
            }
            while self.raw.has_ready() {
                let ready = self.raw.ready();
                self.handle(&ready).await;
                self.raw.advance(&ready);
            }
            self.serve_reads();
            for (client, output) in self.sm.take_pushes() {
                let seq = self.push_seq.entry(client).or_insert(0);
                *seq += 1;
                let (epoch, seq) = (u64::from(self.ctx.incarnation()), *seq);
                self.ctx
                    .send(client, M::wrap(Msg::Push { epoch, seq, output }));
            }
            self.maybe_snapshot().await;
        }
    }

    /// What the state machine may know of this node right now.
    fn env(&self) -> NodeEnv {
        NodeEnv {
            node: self.ctx.id(),
            local_now_us: u64::try_from(self.ctx.local_now_us()).unwrap_or(0),
            leader: self.raw.status().role == core::Role::Leader,
        }
    }

    /// Per-tick work besides Raft's: the state machine's own (a leader proposes what it
    /// returns, such as lease revocations), and the late flush of `ack-before-fsync`.
    async fn housekeeping(&mut self) {
        let env = self.env();
        for command in self.sm.tick(&env) {
            if !env.leader {
                break;
            }
            let proposal = Proposal {
                client: self.ctx.id(),
                request: 0,
                command,
            };
            let data = serde_json::to_vec(&proposal).expect("proposals serialize");
            if let Err(e) = self.raw.propose(data) {
                self.ctx.note("propose-refused", e.to_string());
            }
        }
        if self.unsynced_wal {
            self.unsynced_wal = false;
            self.ctx.disk().fsync(WAL_FILE).await;
        }
    }

    fn reply(&self, to: sim_core::NodeId, request: u64, reply: ClientReply<S::Output>) {
        self.ctx.send(to, M::wrap(Msg::Reply { request, reply }));
    }

    fn not_leader(&self) -> ClientReply<S::Output> {
        ClientReply::NotLeader {
            leader: self.raw.status().leader,
        }
    }

    fn request(
        &mut self,
        client: sim_core::NodeId,
        request: u64,
        op: ClientOp<S::Command, S::Query>,
    ) {
        match op {
            ClientOp::Command(command) => {
                let proposal = Proposal {
                    client,
                    request,
                    command,
                };
                let data = serde_json::to_vec(&proposal).expect("proposals serialize");
                match self.raw.propose(data) {
                    Ok(index) => {
                        self.proposals.insert(index.0, (client, request));
                    }
                    Err(ProposeError::NotLeader { .. }) => {
                        self.reply(client, request, self.not_leader())
                    }
                    Err(e) => self.ctx.note("propose-refused", e.to_string()),
                }
            }
            ClientOp::ConfChange(change) => self.request_conf_change(client, request, change),
            ClientOp::Query(query) => {
                let env = self.env();
                let answer_now = match S::query_mode(&query) {
                    QueryMode::Local => true,
                    QueryMode::LeaderOnly if env.leader => true,
                    QueryMode::LeaderOnly => return self.reply(client, request, self.not_leader()),
                    // Planted bug `stale-follower-read`: a follower answers from its own
                    // state, however far behind it is.
                    QueryMode::Read => self.config.mutants.stale_follower_read && !env.leader,
                };
                if answer_now {
                    let output = self.sm.query(client, &query, &env);
                    let index = self.applied.0;
                    return self.reply(
                        client,
                        request,
                        ClientReply::Done {
                            output,
                            index,
                            term: 0,
                        },
                    );
                }
                let read = PendingRead {
                    client,
                    request,
                    query,
                };
                if self.config.serializable_reads {
                    self.ready_reads.push((LogIndex(0), read));
                    return;
                }
                self.next_read += 1;
                let context = format!(
                    "{}:{}:{}",
                    self.ctx.id(),
                    self.ctx.incarnation(),
                    self.next_read
                )
                .into_bytes();
                match self.raw.read_index(context.clone()) {
                    Ok(()) => {
                        self.reads.insert(context, read);
                    }
                    Err(_) => self.reply(client, request, self.not_leader()),
                }
            }
        }
    }

    /// Proposes a membership change for `client`; it is answered once applied (see
    /// [`Node::conf_change_applied`]), or refused now.
    fn request_conf_change(&mut self, client: sim_core::NodeId, request: u64, change: ConfChange) {
        match self.raw.propose_conf_change(change) {
            Ok(index) => {
                let term = self.raw.status().hard_state.term;
                // Checkers read this (`one-change-at-a-time`): the change, and the log
                // position that names its entry.
                self.ctx.record_layer(RaftEvent::ConfChangeProposed {
                    change,
                    index: index.0,
                    term: term.0,
                });
                let pending = PendingConfChange {
                    client,
                    request,
                    change,
                    term,
                };
                self.conf_proposals.insert(index.0, pending);
            }
            Err(ProposeError::NotLeader { .. }) => self.reply(client, request, self.not_leader()),
            Err(e) => {
                let membership = membership(&self.raw.status().conf_state);
                let reason = e.to_string();
                self.ctx.record_layer(RaftEvent::ConfChangeRefused {
                    change,
                    reason: reason.clone(),
                });
                self.reply(client, request, ClientReply::Refused { reason, membership });
            }
        }
    }

    /// A membership change took effect in the core (during the last `advance`, so the
    /// core's configuration is already the new one): answer its proposer.
    fn conf_change_applied(&mut self, index: LogIndex, change: ConfChange) {
        let conf = self.raw.status().conf_state;
        let Some(pending) = self.conf_proposals.remove(&index.0) else {
            return;
        };
        // Another leader's entry may have replaced ours at that index: answer only if it
        // is the same change.
        if pending.change == change {
            self.reply(
                pending.client,
                pending.request,
                ClientReply::ConfChanged {
                    index: index.0,
                    term: pending.term.0,
                    membership: membership(&conf),
                },
            );
        }
    }

    /// Handles one `Ready` per its contract: persist, record, send, apply.
    async fn handle(&mut self, ready: &Ready) {
        for event in &ready.events {
            if let Event::RoleChanged { role, term, leader } = event {
                // For RUST_LOG readers; the madsim node span supplies the node.
                tracing::info!(target: "ksim::raft", "{role:?} in term {}", term.0);
                self.ctx.record_layer(RaftEvent::Role {
                    role: *role,
                    term: term.0,
                    leader: *leader,
                });
                // So fault files can target `role:leader` (sim-core gives it no meaning).
                self.ctx.set_role(role.as_str());
            }
        }
        self.persist(ready).await;
        for event in &ready.events {
            match event {
                Event::VoteGranted {
                    candidate,
                    term,
                    pre_vote,
                } => self.ctx.record_layer(RaftEvent::Vote {
                    candidate: *candidate,
                    term: term.0,
                    pre_vote: *pre_vote,
                    refused: None,
                }),
                Event::VoteRefused {
                    candidate,
                    term,
                    pre_vote,
                    reason,
                } => self.ctx.record_layer(RaftEvent::Vote {
                    candidate: *candidate,
                    term: term.0,
                    pre_vote: *pre_vote,
                    refused: Some(*reason),
                }),
                Event::CheckQuorumFailed { term } => {
                    self.ctx
                        .record_layer(RaftEvent::CheckQuorumFailed { term: term.0 });
                }
                Event::MessageIgnored { from, term, reason } => {
                    self.ctx.record_layer(RaftEvent::Ignored {
                        from: *from,
                        term: term.0,
                        reason: *reason,
                    });
                }
                Event::ConfChangeApplied { index, change } => {
                    self.conf_change_applied(*index, *change);
                }
                _ => {}
            }
        }
        // One `membership` event for the configuration now in force, however many changes
        // took effect at once (a catching-up node applies several in one go; the core
        // only has the last configuration).
        if ready
            .events
            .iter()
            .any(|e| matches!(e, Event::ConfChangeApplied { .. }))
        {
            self.ctx
                .record(membership_event(&self.raw.status().conf_state));
        }
        for message in &ready.messages {
            self.ctx
                .send(message.to, M::wrap(Msg::Raft(message.clone())));
        }
        for event in &ready.events {
            if let Event::CommitAdvanced { to, .. } = event {
                let term = self.raw.term_at(*to).unwrap_or(Term(0));
                self.ctx.record_layer(RaftEvent::Commit {
                    index: to.0,
                    term: term.0,
                });
            }
        }
        if let Some(snapshot) = &ready.snapshot {
            self.sm = S::default();
            if !snapshot.data.is_empty() {
                self.sm.restore(&snapshot.data);
            }
            self.applied = snapshot.meta.index;
            self.snapshot_index = snapshot.meta.index;
            self.ctx.record(membership_event(&snapshot.meta.conf_state));
        }
        for entry in &ready.committed_entries {
            self.apply(entry);
        }
        for state in &ready.read_states {
            if let Some(read) = self.reads.remove(&state.context) {
                self.ready_reads.push((state.index, read));
            }
        }
    }

    /// Makes the snapshot, entries and hard state of `ready` durable, then records them.
    async fn persist(&mut self, ready: &Ready) {
        let hard_state = ready.hard_state;
        if let Some(snapshot) = &ready.snapshot {
            let hs = hard_state.unwrap_or_else(|| self.raw.status().hard_state);
            storage::write_snapshot(&self.ctx, snapshot, hs, &[]);
            self.ctx.disk().fsync(SNAP_FILE).await;
        }
        if !ready.entries.is_empty() {
            self.ctx
                .disk()
                .append(WAL_FILE, &storage::encode_entries(&ready.entries));
        }
        if let Some(hs) = hard_state {
            self.ctx
                .disk()
                .append(WAL_FILE, &storage::encode(&WalRecord::HardState(hs)));
        }
        let only_hard_state = ready.entries.is_empty() && ready.snapshot.is_none();
        let term_vote_changed =
            hard_state.is_some_and(|hs| (hs.term, hs.vote) != self.written_term_vote);
        if let Some(hs) = hard_state {
            self.written_term_vote = (hs.term, hs.vote);
        }
        let synced = if hard_state.is_none() && only_hard_state {
            false
        } else if self.config.mutants.ack_before_fsync
            && !ready.entries.is_empty()
            && ready.snapshot.is_none()
            && !term_vote_changed
        {
            // Planted bug `ack-before-fsync`: the entries sit in the page cache while the
            // acknowledgements below go out; the next tick flushes them. The node records
            // them as appended, as it believes they are.
            self.unsynced_wal = true;
            true
        } else if only_hard_state && self.config.mutants.forget_vote_on_restart {
            // Planted bug `forget-vote-on-restart`: the term and vote are in the page cache
            // only, yet the vote response goes out below; a crash now forgets the vote.
            false
        } else {
            self.ctx.disk().fsync(WAL_FILE).await;
            true
        };
        if !synced {
            return;
        }
        if let Some(snapshot) = &ready.snapshot {
            self.ctx.record_layer(RaftEvent::Snapshot {
                index: snapshot.meta.index.0,
                term: snapshot.meta.term.0,
                installed: true,
            });
            self.durable_last = snapshot.meta.index;
        }
        if let Some(first) = ready.entries.first() {
            if first.index <= self.durable_last {
                self.ctx.record_layer(RaftEvent::LogTruncate {
                    from_index: first.index.0,
                });
            }
            self.ctx.record_layer(RaftEvent::LogAppend {
                entries: ready.entries.iter().map(entry_ref).collect(),
            });
            self.durable_last = ready.entries.last().map_or(self.durable_last, |e| e.index);
        }
        if let Some(hs) = hard_state {
            self.ctx.record_layer(RaftEvent::HardState {
                term: hs.term.0,
                vote: hs.vote,
                commit: hs.commit.0,
            });
        }
    }

    fn apply(&mut self, entry: &Entry) {
        if entry.index <= self.applied {
            return;
        }
        let reference = entry_ref(entry);
        self.ctx.record_layer(RaftEvent::Apply {
            index: reference.index,
            term: reference.term,
            digest: reference.digest,
        });
        self.applied = entry.index;
        match &entry.kind {
            EntryKind::Normal(data) => {
                let Ok(proposal) = serde_json::from_slice::<Proposal<S::Command>>(data) else {
                    self.ctx
                        .note("undecodable-entry", format!("index={}", entry.index));
                    return;
                };
                let env = self.env();
                let output = self.sm.apply(&proposal.command, &env);
                if let Some((client, request)) = self.proposals.remove(&entry.index.0) {
                    // The entry at our proposal's index may be another node's if we lost
                    // leadership meanwhile: answer only if it is ours.
                    if client == proposal.client && request == proposal.request {
                        self.reply(
                            client,
                            request,
                            ClientReply::Done {
                                output,
                                index: entry.index.0,
                                term: entry.term.0,
                            },
                        );
                    }
                }
            }
            // The core makes a membership change take effect in `advance`, after this
            // `Ready` is handled; the next `Ready` reports it (`ConfChangeApplied`), and
            // `conf_change_applied` records the new configuration then.
            EntryKind::ConfChange(_) | EntryKind::Noop => {}
        }
    }

    fn serve_reads(&mut self) {
        let applied = self.applied;
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ready_reads)
            .into_iter()
            .partition(|(index, _)| *index <= applied);
        self.ready_reads = later;
        let env = self.env();
        for (index, read) in now {
            let output = self.sm.query(read.client, &read.query, &env);
            self.reply(
                read.client,
                read.request,
                ClientReply::Done {
                    output,
                    index: index.0.max(applied.0),
                    term: 0,
                },
            );
        }
    }

    /// Compacts the log once enough entries have been applied since the last snapshot.
    async fn maybe_snapshot(&mut self) {
        if self.applied.0 < self.snapshot_index.0 + self.config.snapshot_entries.max(1) {
            return;
        }
        let snapshot = self.raw.compact(self.sm.snapshot());
        let status = self.raw.status();
        let after: Vec<Entry> = self
            .raw
            .log_entries()
            .iter()
            .filter(|e| e.index > snapshot.meta.index)
            .cloned()
            .collect();
        storage::write_snapshot(&self.ctx, &snapshot, status.hard_state, &after);
        self.ctx.disk().fsync(SNAP_FILE).await;
        self.ctx.disk().fsync(WAL_FILE).await;
        self.snapshot_index = snapshot.meta.index;
        self.ctx.record_layer(RaftEvent::Snapshot {
            index: snapshot.meta.index.0,
            term: snapshot.meta.term.0,
            installed: false,
        });
    }
}
