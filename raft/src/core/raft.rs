//! The Raft state machine: roles, terms, elections, replication, commitment, ReadIndex,
//! snapshots and membership. Pure: input is ticks, messages and proposals; output is
//! queued messages, log changes, read states and events that `RawNode` hands out as `Ready`.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::RngCore;

use super::config::{Config, ConfigError, ProposeError};
use super::event::{Event, IgnoreReason};
use super::log::RaftLog;
use super::message::{AppendOutcome, Message, MessageKind, VoteRejectReason};
use super::progress::{Progress, ProgressState};
use super::quorum::{self, VoteResult};
use super::read_only::{ReadOnly, ReadState};
use super::types::{
    ConfChange, ConfState, Entry, EntryKind, HardState, LogIndex, Role, Snapshot, Term,
};
use sim_core::NodeId;

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

    /// Starts an election (after a pre-vote round if configured), as on an election timeout.
    pub fn hup(&mut self) {
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        // A node that has not applied a committed membership change might campaign under a
        // configuration that no longer holds.
        if self.has_unapplied_conf_change() {
            return;
        }
        self.campaign(self.cfg.pre_vote);
    }

    fn campaign(&mut self, pre_vote: bool) {
        let vote_term = if pre_vote {
            self.become_pre_candidate();
            Term(self.term.0 + 1)
        } else {
            self.become_candidate();
            self.term
        };
        if self.poll(self.id, true) == VoteResult::Won {
            self.won(pre_vote);
            return;
        }
        let last_log_index = self.log.last_index();
        let last_log_term = self.log.last_term();
        let peers: Vec<NodeId> = self
            .conf
            .voters
            .iter()
            .copied()
            .filter(|v| *v != self.id)
            .collect();
        for to in peers {
            let kind = if pre_vote {
                MessageKind::PreVote {
                    last_log_index,
                    last_log_term,
                }
            } else {
                MessageKind::RequestVote {
                    last_log_index,
                    last_log_term,
                }
            };
            self.send_with_term(to, vote_term, kind);
        }
    }

    fn won(&mut self, pre_vote: bool) {
        if pre_vote {
            self.campaign(false);
        } else {
            self.become_leader();
            self.bcast_append();
        }
    }

    fn poll(&mut self, from: NodeId, granted: bool) -> VoteResult {
        self.votes.entry(from).or_insert(granted);
        quorum::vote_result(&self.quorum_voters(), &self.votes)
    }

    fn handle_vote_request(&mut self, m: &Message, last_log_index: LogIndex, last_log_term: Term) {
        let pre_vote = matches!(m.kind, MessageKind::PreVote { .. });
        // Figure 2 "votedFor": at most one vote per term. A pre-vote for a future term
        // binds nothing, so it may be granted regardless.
        let can_vote = self.vote == Some(m.from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre_vote && m.term > self.term);
        // Election restriction (§5.4.1). Mutant `vote_without_log_check` skips it.
        let log_ok = self.cfg.mutants.vote_without_log_check
            || self.log.is_up_to_date(last_log_index, last_log_term);
        let resp = |reject| {
            if pre_vote {
                MessageKind::PreVoteResp { reject }
            } else {
                MessageKind::RequestVoteResp { reject }
            }
        };
        if can_vote && log_ok {
            // A granted pre-vote answers in the term it was asked about, so the
            // pre-candidate can tell it from a stale answer.
            let term = if pre_vote { m.term } else { self.term };
            self.send_with_term(m.from, term, resp(None));
            if !pre_vote {
                self.election_elapsed_ticks = 0;
                self.vote = Some(m.from);
            }
            self.events.push(Event::VoteGranted {
                candidate: m.from,
                term: m.term,
                pre_vote,
            });
        } else {
            let reason = if !can_vote {
                match (self.vote, self.leader) {
                    (Some(vote), _) => VoteRejectReason::AlreadyVoted { vote },
                    (None, Some(leader)) => VoteRejectReason::KnownLeader { leader },
                    (None, None) => VoteRejectReason::StaleTerm,
                }
            } else {
                VoteRejectReason::LogNotUpToDate {
                    last_log_index: self.log.last_index(),
                    last_log_term: self.log.last_term(),
                }
            };
            self.send(m.from, resp(Some(reason)));
            self.events.push(Event::VoteRefused {
                candidate: m.from,
                term: m.term,
                pre_vote,
                reason,
            });
        }
    }

    // ----- step -----

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

    fn step_candidate(&mut self, m: Message) {
        match m.kind {
            MessageKind::PreVoteResp { reject } if self.role == Role::PreCandidate => {
                if reject.is_none() && m.term != Term(self.term.0 + 1) {
                    return self.ignored(&m, IgnoreReason::StaleGrant);
                }
                self.tally(m.from, reject.is_none());
            }
            MessageKind::RequestVoteResp { reject } if self.role == Role::Candidate => {
                self.tally(m.from, reject.is_none());
            }
            MessageKind::AppendEntries { .. }
            | MessageKind::Heartbeat { .. }
            | MessageKind::InstallSnapshot { .. } => {
                // Someone else won this term (§5.2).
                self.become_follower(m.term, Some(m.from));
                self.step_follower(m);
            }
            _ => self.ignored(&m, IgnoreReason::NotForRole { role: self.role }),
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

    fn tally(&mut self, from: NodeId, granted: bool) {
        match self.poll(from, granted) {
            VoteResult::Won => self.won(self.role == Role::PreCandidate),
            VoteResult::Lost => self.become_follower(self.term, None),
            VoteResult::Pending => {}
        }
    }

    fn follow(&mut self, leader: NodeId) {
        self.election_elapsed_ticks = 0;
        if self.leader != Some(leader) {
            self.leader = Some(leader);
            self.role_event();
        }
    }

    fn step_follower(&mut self, m: Message) {
        let from = m.from;
        match m.kind {
            MessageKind::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                commit,
            } => {
                self.follow(from);
                self.handle_append(from, prev_log_index, prev_log_term, &entries, commit);
            }
            MessageKind::Heartbeat { commit, context } => {
                self.follow(from);
                // The leader sends min(match, commit), so `commit` is within our log unless
                // the `truncate_committed` mutant cut it; then (as etcd would, minus its
                // panic) commit what we have and let the checkers judge the damage.
                let commit = if self.cfg.mutants.truncate_committed {
                    commit.min(self.log.last_index())
                } else {
                    commit
                };
                self.commit_to(commit);
                self.send(from, MessageKind::HeartbeatResp { context });
            }
            MessageKind::InstallSnapshot { snapshot } => {
                self.follow(from);
                self.handle_snapshot(from, snapshot);
            }
            MessageKind::ReadIndexResp { context, index } => {
                self.read_states.push(ReadState { index, context });
            }
            _ => self.ignored(&m, IgnoreReason::NotForRole { role: self.role }),
        }
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: &[Entry],
        commit: LogIndex,
    ) {
        // Mutant `truncate_committed` also drops this guard, so stale appends reach the log.
        if prev_log_index < self.log.committed && !self.cfg.mutants.truncate_committed {
            // Everything up to our commit index already matches (it is committed).
            let outcome = AppendOutcome::Accepted {
                match_index: self.log.committed,
            };
            self.send(from, MessageKind::AppendEntriesResp { outcome });
            return;
        }
        let old_commit = self.log.committed;
        let truncate_committed = self.cfg.mutants.truncate_committed;
        let outcome = match self.log.maybe_append(
            prev_log_index,
            prev_log_term,
            commit,
            entries,
            truncate_committed,
        ) {
            Some(last_new) => AppendOutcome::Accepted {
                match_index: last_new,
            },
            None => {
                let hint_index = self
                    .log
                    .find_conflict_by_term(prev_log_index, prev_log_term);
                let hint_term = self.log.term(hint_index).unwrap_or_default();
                AppendOutcome::Rejected {
                    rejected_index: prev_log_index,
                    hint_index,
                    hint_term,
                }
            }
        };
        if self.log.committed > old_commit {
            self.events.push(Event::CommitAdvanced {
                from: old_commit,
                to: self.log.committed,
            });
        }
        if self.log.applied > self.log.committed {
            // Only reachable with the `truncate_committed` mutant: applied entries were
            // replaced, and the application will apply the new ones at the same indexes.
            self.log.applied = self.log.committed;
        }
        self.send(from, MessageKind::AppendEntriesResp { outcome });
    }

    fn handle_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        let (index, term) = (snapshot.meta.index, snapshot.meta.term);
        if index <= self.log.committed {
            // Stale: we already have everything it covers.
        } else if self.log.match_term(index, term) {
            // Our log already contains the snapshot's last entry: just commit up to it.
            self.commit_to(index);
        } else {
            let from_commit = self.log.committed;
            self.conf = snapshot.meta.conf_state.clone();
            self.log.restore(snapshot);
            self.events.push(Event::CommitAdvanced {
                from: from_commit,
                to: index,
            });
        }
        let last_index = self.log.committed;
        self.send(from, MessageKind::InstallSnapshotResp { last_index });
    }

    fn step_leader(&mut self, m: Message) {
        let from = m.from;
        match self.progress.get_mut(&from) {
            Some(pr) => pr.recent_active = true,
            None => return self.ignored(&m, IgnoreReason::NotMember),
        }
        match m.kind {
            MessageKind::AppendEntriesResp { outcome } => self.handle_append_resp(from, outcome),
            MessageKind::HeartbeatResp { context } => self.handle_heartbeat_resp(from, context),
            MessageKind::InstallSnapshotResp { last_index } => {
                let pr = self.progress.get_mut(&from).expect("checked above");
                if matches!(pr.state, ProgressState::Snapshot { .. }) {
                    pr.maybe_update(last_index);
                    pr.become_probe();
                    self.send_append(from);
                }
            }
            MessageKind::ReadIndex { context } => self.leader_read(from, context),
            _ => self.ignored(&m, IgnoreReason::NotForRole { role: self.role }),
        }
    }

    fn handle_append_resp(&mut self, from: NodeId, outcome: AppendOutcome) {
        let max_inflight = self.cfg.max_inflight_msgs;
        match outcome {
            AppendOutcome::Accepted { match_index } => {
                let pr = self
                    .progress
                    .get_mut(&from)
                    .expect("leader has progress for sender");
                let was_paused = pr.is_paused(max_inflight);
                if !pr.maybe_update(match_index) {
                    return;
                }
                match pr.state {
                    ProgressState::Probe => pr.become_replicate(),
                    ProgressState::Snapshot { pending_index }
                        if pr.match_index >= pending_index =>
                    {
                        pr.become_probe();
                        pr.become_replicate();
                    }
                    ProgressState::Snapshot { .. } => {}
                    ProgressState::Replicate => pr.free_inflight_to(match_index),
                }
                if self.maybe_commit() {
                    self.bcast_append();
                } else if was_paused {
                    self.send_append(from);
                }
                while self.maybe_send_append(from, false) {}
            }
            AppendOutcome::Rejected {
                rejected_index,
                hint_index,
                hint_term,
            } => {
                // Fast backtracking: jump to the last index where our log can match the
                // follower's given its hint, instead of one entry per round trip.
                let next_probe = if hint_term > Term(0) {
                    self.log.find_conflict_by_term(hint_index, hint_term)
                } else {
                    hint_index
                };
                let pr = self
                    .progress
                    .get_mut(&from)
                    .expect("leader has progress for sender");
                if pr.maybe_decr_to(rejected_index, next_probe) {
                    if pr.state == ProgressState::Replicate {
                        pr.become_probe();
                    }
                    self.send_append(from);
                }
            }
        }
    }

    fn handle_heartbeat_resp(&mut self, from: NodeId, context: Option<Vec<u8>>) {
        let max_inflight = self.cfg.max_inflight_msgs;
        let pr = self
            .progress
            .get_mut(&from)
            .expect("leader has progress for sender");
        pr.probe_sent = false;
        if pr.state == ProgressState::Replicate && pr.inflight.len() >= max_inflight {
            pr.inflight.pop_front();
        }
        if pr.match_index < self.log.last_index() {
            self.send_append(from);
        }
        let Some(ctx) = context else { return };
        let voters = self.quorum_voters();
        let confirmed = self
            .read_only
            .recv_ack(from, &ctx)
            .is_some_and(|acks| quorum::has_quorum(&voters, acks));
        if confirmed {
            for s in self.read_only.advance(&ctx) {
                self.respond_read(s.from, s.context, s.index);
            }
        }
    }

    // ----- replication -----

    fn send_append(&mut self, to: NodeId) {
        self.maybe_send_append(to, true);
    }

    /// Sends the next append (or the snapshot, if the entries it needs were compacted) to
    /// `to`, unless its progress is paused. Returns whether something was sent.
    fn maybe_send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let max_inflight = self.cfg.max_inflight_msgs;
        let max_entries = self.cfg.max_entries_per_msg;
        let Some(pr) = self.progress.get(&to) else {
            return false;
        };
        if pr.is_paused(max_inflight) {
            return false;
        }
        let prev = pr.next_index.prev();
        let prev_term = self.log.term(prev);
        let entries = self.log.entries_from(pr.next_index, max_entries);
        let kind = match (prev_term, entries) {
            (Some(prev_log_term), Some(entries)) => {
                if entries.is_empty() && !send_if_empty {
                    return false;
                }
                let last = entries.last().map(|e| e.index);
                self.progress
                    .get_mut(&to)
                    .expect("checked")
                    .sent_entries(last);
                MessageKind::AppendEntries {
                    prev_log_index: prev,
                    prev_log_term,
                    entries,
                    commit: self.log.committed,
                }
            }
            _ => {
                let snapshot = self.log.snapshot().clone();
                self.progress
                    .get_mut(&to)
                    .expect("checked")
                    .become_snapshot(snapshot.meta.index);
                MessageKind::InstallSnapshot { snapshot }
            }
        };
        self.send(to, kind);
        true
    }

    fn bcast_append(&mut self) {
        let peers: Vec<NodeId> = self
            .progress
            .keys()
            .copied()
            .filter(|p| *p != self.id)
            .collect();
        for p in peers {
            self.send_append(p);
        }
    }

    fn bcast_heartbeat(&mut self, context: Option<Vec<u8>>) {
        let beats: Vec<(NodeId, LogIndex)> = self
            .progress
            .iter()
            .filter(|(id, _)| **id != self.id)
            .map(|(id, pr)| (*id, pr.match_index.min(self.log.committed)))
            .collect();
        for (to, commit) in beats {
            self.send(
                to,
                MessageKind::Heartbeat {
                    commit,
                    context: context.clone(),
                },
            );
        }
    }

    /// Advances the commit index to what a majority has replicated. Returns whether it moved.
    fn maybe_commit(&mut self) -> bool {
        let mci = quorum::committed_index(&self.quorum_voters(), |id| {
            self.progress
                .get(&id)
                .map_or(LogIndex(0), |p| p.match_index)
        });
        if mci <= self.log.committed {
            return false;
        }
        // Raft §5.4.2 (Figure 8): replica counting commits only entries of the current term;
        // earlier ones are committed indirectly. Mutant `commit_old_term` skips the check.
        if self.log.term(mci) != Some(self.term) && !self.cfg.mutants.commit_old_term {
            return false;
        }
        self.commit_to(mci);
        if self.committed_entry_in_current_term() && !self.reads_awaiting_commit.is_empty() {
            for (from, ctx) in std::mem::take(&mut self.reads_awaiting_commit) {
                self.leader_read(from, ctx);
            }
        }
        true
    }

    fn committed_entry_in_current_term(&self) -> bool {
        self.log.term(self.log.committed) == Some(self.term)
    }

    fn append_entry(&mut self, kind: EntryKind) -> LogIndex {
        let index = self.log.last_index().next();
        self.log.append(&[Entry {
            term: self.term,
            index,
            kind,
        }]);
        if let Some(me) = self.progress.get_mut(&self.id) {
            me.maybe_update(index);
        }
        self.maybe_commit();
        index
    }

    // ----- client requests -----

    /// Appends `kind` to the leader's log and replicates it; returns its index.
    pub fn propose(&mut self, kind: EntryKind) -> Result<LogIndex, ProposeError> {
        if self.role != Role::Leader || !self.progress.contains_key(&self.id) {
            return Err(ProposeError::NotLeader {
                leader: self.leader.filter(|l| *l != self.id),
            });
        }
        if let EntryKind::ConfChange(cc) = &kind {
            // Mutant `concurrent_conf_change`: skip the one-at-a-time guard.
            if self.pending_conf_index > self.log.applied
                && !self.cfg.mutants.concurrent_conf_change
            {
                return Err(ProposeError::ConfChangePending);
            }
            self.validate_conf_change(*cc)?;
        }
        let is_cc = matches!(kind, EntryKind::ConfChange(_));
        let index = self.append_entry(kind);
        if is_cc {
            self.pending_conf_index = index;
        }
        self.bcast_append();
        Ok(index)
    }

    fn validate_conf_change(&self, cc: ConfChange) -> Result<(), ProposeError> {
        let invalid = |s: String| Err(ProposeError::InvalidConfChange(s));
        match cc {
            ConfChange::AddLearner(n) if self.conf.contains(n) => {
                invalid(format!("{n} is already a member"))
            }
            ConfChange::Promote(n) if !self.conf.learners.contains(&n) => {
                invalid(format!("{n} is not a learner"))
            }
            ConfChange::Remove(n) if !self.conf.contains(n) => {
                invalid(format!("{n} is not a member"))
            }
            ConfChange::Remove(n)
                if self.conf.voters.len() == 1 && self.conf.voters.contains(&n) =>
            {
                invalid("cannot remove the last voter".into())
            }
            _ => Ok(()),
        }
    }

    /// Requests a linearizable read tagged `context` (unique per request).
    pub fn read_index(&mut self, context: Vec<u8>) -> Result<(), ProposeError> {
        match (self.role, self.leader) {
            (Role::Leader, _) => {
                self.leader_read(self.id, context);
                Ok(())
            }
            (_, Some(leader)) => {
                self.send(leader, MessageKind::ReadIndex { context });
                Ok(())
            }
            (_, None) => Err(ProposeError::NotLeader { leader: None }),
        }
    }

    fn leader_read(&mut self, from: NodeId, context: Vec<u8>) {
        if !self.committed_entry_in_current_term() {
            self.reads_awaiting_commit.push((from, context));
            return;
        }
        let index = self.log.committed;
        let voters = self.quorum_voters();
        let alone = voters.len() == 1 && voters.contains(&self.id);
        // Mutant `no_check_quorum`: serve the read on the leader's own authority, as a lease
        // read would, without any lease being checked.
        if alone || self.cfg.mutants.no_check_quorum {
            self.respond_read(from, context, index);
            return;
        }
        self.read_only
            .add_request(index, context.clone(), from, self.id);
        self.bcast_heartbeat(Some(context));
    }

    fn respond_read(&mut self, from: NodeId, context: Vec<u8>, index: LogIndex) {
        if from == self.id {
            self.read_states.push(ReadState { index, context });
        } else {
            self.send(from, MessageKind::ReadIndexResp { context, index });
        }
    }

    // ----- membership and snapshots -----

    /// Makes a committed membership change take effect (called as the application applies it).
    pub(crate) fn apply_conf_change(&mut self, index: LogIndex, cc: ConfChange) {
        let last = self.log.last_index();
        match cc {
            ConfChange::AddLearner(n) => {
                self.conf.learners.insert(n);
                self.progress
                    .entry(n)
                    .or_insert_with(|| Progress::new(last, true));
                self.last_heard_tick.insert(n, self.ticks);
            }
            ConfChange::Promote(n) => {
                self.conf.learners.remove(&n);
                self.conf.voters.insert(n);
                if let Some(pr) = self.progress.get_mut(&n) {
                    pr.is_learner = false;
                }
            }
            ConfChange::Remove(n) => {
                self.conf.voters.remove(&n);
                self.conf.learners.remove(&n);
                self.progress.remove(&n);
            }
        }
        self.events
            .push(Event::ConfChangeApplied { index, change: cc });
        if self.role != Role::Leader {
            return;
        }
        if cc == ConfChange::Remove(self.id) {
            // A leader that is no longer a member must not keep leading: it would count a
            // quorum it is not part of.
            self.become_follower(self.term, None);
            return;
        }
        // The quorum changed: something may now be committed.
        if self.maybe_commit() {
            self.bcast_append();
        }
        if let ConfChange::AddLearner(n) = cc {
            self.send_append(n);
        }
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
