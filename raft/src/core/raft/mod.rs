//! The Raft state machine: roles, terms, elections, replication, commitment, ReadIndex,
//! snapshots and membership. Pure: input is ticks, messages and proposals; output is
//! queued messages, log changes, read states and events that `RawNode` hands out as `Ready`.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::RngCore;

use super::config::{Config, ConfigError};
use super::event::{Event, IgnoreReason};
use super::log::RaftLog;
use super::message::{Message, MessageKind, VoteRejectReason};
use super::progress::Progress;
use super::quorum::{self};
use super::read_only::{ReadOnly, ReadState};
use super::types::{ConfState, Entry, EntryKind, HardState, LogIndex, Role, Snapshot, Term};
use sim_core::NodeId;

mod election;
mod proposals;
mod reads;
mod replication;

/// One node's Raft state. Driven through `RawNode`; fields are crate-visible for tests.
#[derive(Debug)]
pub struct Raft<R: RngCore> {
    pub(crate) cfg: Config,
    pub(crate) id: NodeId,
    pub(crate) term: Term,
    pub(crate) vote: Option<NodeId>,
    pub(crate) role: Role,
    pub(crate) leader: Option<NodeId>,
    pub(crate) log: RaftLog,
    /// Membership as of the applied index (changes take effect when applied).
    pub(crate) conf: ConfState,
    /// Leader only: replication progress of every member, including itself.
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    /// (Pre-)candidate only: votes received in the current campaign.
    votes: BTreeMap<NodeId, bool>,
    read_only: ReadOnly,
    /// ReadIndex requests that arrived before the leader committed an entry of its term:
    /// its commit index may lag the true one until then (thesis §6.4 step 1).
    reads_awaiting_commit: Vec<(NodeId, Vec<u8>)>,
    pub(crate) msgs: Vec<Message>,
    pub(crate) read_states: Vec<ReadState>,
    pub(crate) events: Vec<Event>,
    election_elapsed_ticks: u64,
    heartbeat_elapsed_ticks: u64,
    randomized_election_ticks: u64,
    /// Index of the newest membership change the leader proposed; another may be proposed
    /// once the application applied it.
    pending_conf_index: LogIndex,
    /// Ticks since start; only the `quorum_of_reachable` mutant reads it.
    ticks: u64,
    /// Tick at which each peer was last heard from; only the `quorum_of_reachable` mutant
    /// reads it.
    last_heard_tick: BTreeMap<NodeId, u64>,
    rng: R,
}

impl<R: RngCore> Raft<R> {
    /// A node restored from durable state (or bootstrapped: see `InitialState`).
    pub fn new(
        cfg: Config,
        hard_state: HardState,
        snapshot: Snapshot,
        entries: Vec<Entry>,
        rng: R,
    ) -> Result<Raft<R>, ConfigError> {
        cfg.validate()?;
        let conf = snapshot.meta.conf_state.clone();
        let log = RaftLog::restore_from(snapshot, entries, hard_state.commit);
        let last_heard_tick = conf.voters.iter().map(|v| (*v, 0)).collect();
        let mut r = Raft {
            id: cfg.id,
            cfg,
            term: hard_state.term,
            vote: hard_state.vote,
            role: Role::Follower,
            leader: None,
            log,
            conf,
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
            read_only: ReadOnly::default(),
            reads_awaiting_commit: Vec::new(),
            msgs: Vec::new(),
            read_states: Vec::new(),
            events: Vec::new(),
            election_elapsed_ticks: 0,
            heartbeat_elapsed_ticks: 0,
            randomized_election_ticks: 0,
            pending_conf_index: LogIndex(0),
            ticks: 0,
            last_heard_tick,
            rng,
        };
        r.become_follower(hard_state.term, None);
        Ok(r)
    }

    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed,
        }
    }

    /// Whether this node may campaign: only voters elect and are elected.
    pub fn promotable(&self) -> bool {
        self.conf.voters.contains(&self.id)
    }

    /// The voters among which majorities are counted.
    fn quorum_voters(&self) -> BTreeSet<NodeId> {
        if !self.cfg.mutants.quorum_of_reachable {
            return self.conf.voters.clone();
        }
        // Mutant `quorum_of_reachable`: count only voters heard from within an election
        // timeout, so each side of a partition believes it holds a majority.
        self.conf
            .voters
            .iter()
            .filter(|v| {
                **v == self.id
                    || self
                        .last_heard_tick
                        .get(v)
                        .is_some_and(|t| self.ticks - t <= self.cfg.election_tick)
            })
            .copied()
            .collect()
    }

    fn send(&mut self, to: NodeId, kind: MessageKind) {
        self.send_with_term(to, self.term, kind);
    }

    fn send_with_term(&mut self, to: NodeId, term: Term, kind: MessageKind) {
        self.msgs.push(Message {
            from: self.id,
            to,
            term,
            kind,
        });
    }

    fn commit_to(&mut self, index: LogIndex) {
        let from = self.log.committed;
        if self.log.commit_to(index) {
            self.events.push(Event::CommitAdvanced { from, to: index });
        }
    }

    // ----- role transitions -----

    /// Draws the next election timeout uniformly from `[min, max]` ticks (both inclusive).
    /// With the default range `[e, 2e - 1]` this is the same single draw, `e + r % e`, as
    /// before the range became configurable, so seeded runs did not change.
    fn reset_randomized_election_timeout(&mut self) {
        let (min, max) = self.cfg.election_tick_range();
        // Mutant `fixed_election_timeout`: no randomization, so split votes repeat.
        self.randomized_election_ticks = if self.cfg.mutants.fixed_election_timeout {
            min
        } else {
            min + self.rng.next_u64() % (max - min + 1)
        };
    }

    fn reset(&mut self, term: Term) {
        if term != self.term {
            self.term = term;
            self.vote = None;
        }
        self.leader = None;
        self.election_elapsed_ticks = 0;
        self.heartbeat_elapsed_ticks = 0;
        self.reset_randomized_election_timeout();
        self.votes.clear();
        self.pending_conf_index = LogIndex(0);
        self.read_only = ReadOnly::default();
        self.reads_awaiting_commit.clear();
        let last = self.log.last_index();
        self.progress.clear();
        for v in &self.conf.voters {
            self.progress.insert(*v, Progress::new(last, false));
        }
        for l in &self.conf.learners {
            self.progress.insert(*l, Progress::new(last, true));
        }
        if let Some(me) = self.progress.get_mut(&self.id) {
            me.match_index = last;
        }
    }

    fn role_event(&mut self) {
        self.events.push(Event::RoleChanged {
            role: self.role,
            term: self.term,
            leader: self.leader,
        });
    }

    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        self.reset(term);
        self.role = Role::Follower;
        self.leader = leader;
        self.role_event();
    }

    fn become_pre_candidate(&mut self) {
        // Neither the term nor the vote changes: a pre-vote must not disrupt anyone.
        self.votes.clear();
        self.role = Role::PreCandidate;
        self.leader = None;
        self.role_event();
    }

    fn become_candidate(&mut self) {
        self.reset(Term(self.term.0 + 1));
        self.vote = Some(self.id);
        self.role = Role::Candidate;
        self.role_event();
    }

    fn become_leader(&mut self) {
        self.reset(self.term);
        self.role = Role::Leader;
        self.leader = Some(self.id);
        if let Some(me) = self.progress.get_mut(&self.id) {
            me.become_replicate();
            me.recent_active = true;
        }
        // Conservatively treat any membership change in the log as pending until applied.
        self.pending_conf_index = self.log.last_index();
        self.role_event();
        // Raft §5.4.2 / §8: a leader commits entries of earlier terms only by committing one
        // of its own, and it cannot serve ReadIndex reads until it has.
        self.append_entry(EntryKind::Noop);
    }

    // ----- ticks -----

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.ticks += 1;
        if self.role == Role::Leader {
            self.tick_heartbeat();
        } else {
            self.election_elapsed_ticks += 1;
            if self.promotable() && self.election_elapsed_ticks >= self.randomized_election_ticks {
                self.election_elapsed_ticks = 0;
                self.hup();
            }
        }
    }

    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed_ticks += 1;
        self.election_elapsed_ticks += 1;
        if self.election_elapsed_ticks >= self.cfg.election_tick {
            self.election_elapsed_ticks = 0;
            // Mutant `no_check_quorum`: the leader never checks that a quorum is alive.
            if self.cfg.check_quorum && !self.cfg.mutants.no_check_quorum {
                let active: BTreeSet<NodeId> = self
                    .progress
                    .iter()
                    .filter(|(id, pr)| **id == self.id || pr.recent_active)
                    .map(|(id, _)| *id)
                    .collect();
                if !quorum::has_quorum(&self.quorum_voters(), &active) {
                    self.events
                        .push(Event::CheckQuorumFailed { term: self.term });
                    self.become_follower(self.term, None);
                    return;
                }
            }
            let me = self.id;
            for (id, pr) in &mut self.progress {
                if *id != me {
                    pr.recent_active = false;
                }
            }
        }
        if self.heartbeat_elapsed_ticks >= self.cfg.heartbeat_tick {
            self.heartbeat_elapsed_ticks = 0;
            let ctx = self.read_only.last_pending_context();
            self.bcast_heartbeat(ctx);
        }
    }

    // ----- elections -----

    fn has_unapplied_conf_change(&self) -> bool {
        self.log
            .next_committed_entries()
            .iter()
            .any(|e| matches!(e.kind, EntryKind::ConfChange(_)))
    }

    /// Handles one message from a peer.
    pub fn step(&mut self, m: Message) {
        self.last_heard_tick.insert(m.from, self.ticks);
        if m.term > self.term {
            if let MessageKind::PreVote { .. } | MessageKind::RequestVote { .. } = m.kind {
                // Check-quorum lease: a node that heard from a live leader within the
                // election timeout ignores campaigns, so a node rejoining from a partition
                // cannot depose a healthy leader.
                if let Some(leader) = self.leader {
                    if self.cfg.check_quorum && self.election_elapsed_ticks < self.cfg.election_tick
                    {
                        self.events.push(Event::VoteRefused {
                            candidate: m.from,
                            term: m.term,
                            pre_vote: matches!(m.kind, MessageKind::PreVote { .. }),
                            reason: VoteRejectReason::LeaderLease { leader },
                        });
                        return;
                    }
                }
            }
            match m.kind {
                // A pre-vote (and a grant of one) carries a future term that nobody adopts.
                MessageKind::PreVote { .. } | MessageKind::PreVoteResp { reject: None } => {}
                MessageKind::AppendEntries { .. }
                | MessageKind::Heartbeat { .. }
                | MessageKind::InstallSnapshot { .. } => self.become_follower(m.term, Some(m.from)),
                _ => self.become_follower(m.term, None),
            }
        } else if m.term < self.term {
            match m.kind {
                // Tell a stale leader about the newer term so it steps down; without this a
                // leader cut off by check-quorum or pre-vote could be stuck forever.
                MessageKind::AppendEntries { .. } | MessageKind::Heartbeat { .. }
                    if self.cfg.check_quorum || self.cfg.pre_vote =>
                {
                    self.send(m.from, MessageKind::HeartbeatResp { context: None });
                }
                MessageKind::PreVote { .. } => {
                    let reason = VoteRejectReason::StaleTerm;
                    self.send(
                        m.from,
                        MessageKind::PreVoteResp {
                            reject: Some(reason),
                        },
                    );
                    self.events.push(Event::VoteRefused {
                        candidate: m.from,
                        term: m.term,
                        pre_vote: true,
                        reason,
                    });
                }
                _ => self.ignored(&m, IgnoreReason::StaleTerm { current: self.term }),
            }
            return;
        }

        match m.kind {
            MessageKind::PreVote {
                last_log_index,
                last_log_term,
            }
            | MessageKind::RequestVote {
                last_log_index,
                last_log_term,
            } => {
                self.handle_vote_request(&m, last_log_index, last_log_term);
            }
            _ => match self.role {
                Role::Leader => self.step_leader(m),
                Role::PreCandidate | Role::Candidate => self.step_candidate(m),
                Role::Follower => self.step_follower(m),
            },
        }
    }

    /// Records that `m` was not acted on.
    fn ignored(&mut self, m: &Message, reason: IgnoreReason) {
        self.events.push(Event::MessageIgnored {
            from: m.from,
            term: m.term,
            reason,
        });
    }

    #[cfg(test)]
    pub(crate) fn randomized_election_ticks_for_test(&self) -> u64 {
        self.randomized_election_ticks
    }

    /// Snapshots the applied state with the application's `data` and compacts the log.
    ///
    /// While a snapshot from the leader is pending (received, not yet applied) the log
    /// already starts past `applied`, and the application's state is older than that
    /// snapshot: there is nothing newer to compact, so the pending snapshot is returned.
    pub(crate) fn compact(&mut self, data: Vec<u8>) -> Snapshot {
        if self.log.applied < self.log.snapshot().meta.index {
            return self.log.snapshot().clone();
        }
        self.log.compact(data, self.conf.clone())
    }
}
