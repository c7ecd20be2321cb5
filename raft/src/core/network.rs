//! An in-test network that moves messages between `RawNode`s, honouring the `Ready`
//! contract (persist, then send, then apply) with an in-memory "disk".

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use sim_core::NodeId;

/// Rewrites or drops (returns false) a message in flight.
pub type Filter = Box<dyn FnMut(&mut Message) -> bool>;

pub struct Network {
    pub nodes: BTreeMap<NodeId, RawNode<ChaCha8Rng>>,
    pub queue: VecDeque<Message>,
    /// Directed links that drop everything.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    pub filter: Option<Filter>,
    /// What each node applied, in order.
    pub applied: BTreeMap<NodeId, Vec<Entry>>,
    /// Each node's persisted log, by index (a persisted entry replaces those from its
    /// index on, as a conflicting append truncates).
    pub durable: BTreeMap<NodeId, BTreeMap<LogIndex, Entry>>,
    pub read_states: BTreeMap<NodeId, Vec<ReadState>>,
    pub events: BTreeMap<NodeId, Vec<Event>>,
    /// Every message sent, for assertions.
    pub sent: Vec<Message>,
    /// Every Ready handed out, rendered, for determinism checks.
    pub log: Vec<String>,
    seed: u64,
}

pub fn ids(n: u32) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

impl Network {
    /// `n` founding voters with `cfg` applied to each default config.
    pub fn new(n: u32, cfg: impl Fn(&mut Config)) -> Network {
        let mut net = Network::empty(7);
        for id in ids(n) {
            let mut c = Config::new(id);
            cfg(&mut c);
            net.add(id, c, InitialState::bootstrap(ids(n)));
        }
        net
    }

    pub fn empty(seed: u64) -> Network {
        Network {
            nodes: BTreeMap::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            filter: None,
            applied: BTreeMap::new(),
            durable: BTreeMap::new(),
            read_states: BTreeMap::new(),
            events: BTreeMap::new(),
            sent: Vec::new(),
            log: Vec::new(),
            seed,
        }
    }

    pub fn add(&mut self, id: NodeId, cfg: Config, initial: InitialState) {
        let rng =
            ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(31).wrapping_add(u64::from(id.0)));
        self.nodes
            .insert(id, RawNode::new(cfg, initial, rng).expect("valid config"));
    }

    pub fn node(&mut self, id: u32) -> &mut RawNode<ChaCha8Rng> {
        self.nodes.get_mut(&NodeId(id)).expect("node exists")
    }

    pub fn status(&self, id: u32) -> Status {
        self.nodes[&NodeId(id)].status()
    }

    /// Handles every pending Ready of one node.
    pub fn handle_ready(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        while node.has_ready() {
            let rd = node.ready();
            self.log.extend(render_ready(id, &rd));
            // 1. "persist": the core keeps the log; the network keeps a copy to look at.
            let log = self.durable.entry(id).or_default();
            for e in &rd.entries {
                log.split_off(&e.index);
                log.insert(e.index, e.clone());
            }
            // 2. send
            for m in &rd.messages {
                assert_eq!(m.from, id);
                self.sent.push(m.clone());
                self.queue.push_back(m.clone());
            }
            // 3. apply
            self.applied
                .entry(id)
                .or_default()
                .extend(rd.committed_entries.iter().cloned());
            self.read_states
                .entry(id)
                .or_default()
                .extend(rd.read_states.iter().cloned());
            self.events
                .entry(id)
                .or_default()
                .extend(rd.events.iter().cloned());
            node.advance(&rd);
        }
    }

    pub fn handle_all_readies(&mut self) {
        let all: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in all {
            self.handle_ready(id);
        }
    }

    /// Delivers the oldest message in flight. Returns false when none is left.
    pub fn deliver_one(&mut self) -> bool {
        let Some(mut m) = self.queue.pop_front() else {
            return false;
        };
        if self.cut.contains(&(m.from, m.to)) {
            self.log
                .push(format!("  dropped {} (link cut)", describe_message(&m)));
            return true;
        }
        if !self.nodes.contains_key(&m.to) {
            self.log
                .push(format!("  dropped {} (no such node)", describe_message(&m)));
            return true;
        }
        if let Some(f) = self.filter.as_mut() {
            if !f(&mut m) {
                self.log
                    .push(format!("  dropped {} (filter)", describe_message(&m)));
                return true;
            }
        }
        self.step(m);
        true
    }

    /// Hands `m` to its recipient and handles the Ready it produces.
    pub fn step(&mut self, m: Message) {
        let to = m.to;
        self.log
            .push(format!("> {} receiving {}", to.0, describe_message(&m)));
        self.node(to.0).step(m);
        self.handle_ready(to);
    }

    /// Delivers until nothing is in flight.
    ///
    /// # Panics
    ///
    /// If messages keep flowing without ticks (a livelock in the core).
    pub fn stabilize(&mut self) {
        self.handle_all_readies();
        let mut steps = 0;
        while self.deliver_one() {
            steps += 1;
            assert!(steps < 100_000, "no quiescence without ticks");
        }
    }

    pub fn tick(&mut self, id: u32) {
        self.node(id).tick();
        self.handle_ready(NodeId(id));
    }

    /// Ticks every node `n` times, stabilizing after each round.
    pub fn tick_all(&mut self, n: u64) {
        for _ in 0..n {
            let all: Vec<u32> = self.nodes.keys().map(|i| i.0).collect();
            for id in all {
                self.tick(id);
            }
            self.stabilize();
        }
    }

    pub fn campaign(&mut self, id: u32) {
        self.node(id).campaign();
        self.stabilize();
    }

    pub fn propose(&mut self, id: u32, data: &str) -> Result<LogIndex, ProposeError> {
        let r = self.node(id).propose(data.as_bytes().to_vec());
        self.stabilize();
        r
    }

    /// Cuts every link between the groups.
    pub fn partition(&mut self, a: &[u32], b: &[u32]) {
        for x in a {
            for y in b {
                self.cut.insert((NodeId(*x), NodeId(*y)));
                self.cut.insert((NodeId(*y), NodeId(*x)));
            }
        }
    }

    pub fn isolate(&mut self, id: u32) {
        let others: Vec<u32> = self
            .nodes
            .keys()
            .map(|i| i.0)
            .filter(|i| *i != id)
            .collect();
        self.partition(&[id], &others);
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The leaders, by id.
    pub fn leaders(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.status().role == Role::Leader)
            .map(|(id, _)| id.0)
            .collect()
    }

    /// Application data each node applied, as strings (noops and conf changes skipped).
    pub fn applied_data(&self, id: u32) -> Vec<String> {
        self.applied
            .get(&NodeId(id))
            .map(|es| {
                es.iter()
                    .filter_map(|e| match &e.kind {
                        EntryKind::Normal(d) => Some(String::from_utf8_lossy(d).into_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn events_of(&self, id: u32) -> &[Event] {
        self.events.get(&NodeId(id)).map_or(&[], |v| v.as_slice())
    }
}

/// A readable rendering of one Ready, for golden files, in the spirit of etcd raft's
/// `testdata/*.txt`: what happened first (`INFO` lines, from the Ready's events), then what
/// the Ready asks of the caller (state, hard state, entries to persist, messages to send,
/// entries to apply, reads that may be served).
pub fn render_ready(id: NodeId, rd: &Ready) -> Vec<String> {
    let mut out = vec![format!("> {} handling Ready", id.0)];
    for e in &rd.events {
        out.push(format!("  INFO {}", describe_event(id, e)));
    }
    if let Some(s) = rd.soft_state {
        let leader = s.leader.map_or("none".to_string(), |l| l.0.to_string());
        out.push(format!("  State:{} Leader:{leader}", role_name(s.role)));
    }
    if let Some(h) = rd.hard_state {
        let vote = h.vote.map_or("0".to_string(), |v| v.0.to_string());
        out.push(format!(
            "  HardState Term:{} Vote:{vote} Commit:{}",
            h.term, h.commit
        ));
    }
    if let Some(s) = &rd.snapshot {
        out.push(format!("  Snapshot {}", describe_snapshot(s)));
    }
    if !rd.entries.is_empty() {
        out.push("  Entries:".into());
        out.extend(
            rd.entries
                .iter()
                .map(|e| format!("  {}", describe_entry(e))),
        );
    }
    if !rd.messages.is_empty() {
        out.push("  Messages:".into());
        out.extend(
            rd.messages
                .iter()
                .map(|m| format!("  {}", describe_message(m))),
        );
    }
    if !rd.committed_entries.is_empty() {
        out.push("  CommittedEntries:".into());
        out.extend(
            rd.committed_entries
                .iter()
                .map(|e| format!("  {}", describe_entry(e))),
        );
    }
    for r in &rd.read_states {
        out.push(format!(
            "  ReadState Index:{} Context:{:?}",
            r.index,
            String::from_utf8_lossy(&r.context)
        ));
    }
    out
}

/// etcd's names for the roles (`StateLeader`, ...).
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Follower => "StateFollower",
        Role::PreCandidate => "StatePreCandidate",
        Role::Candidate => "StateCandidate",
        Role::Leader => "StateLeader",
    }
}

/// One entry: `term/index` and what it carries (`2/3 EntryNormal "x=1"`).
pub fn describe_entry(e: &Entry) -> String {
    let what = match &e.kind {
        EntryKind::Noop => "EntryNoop".to_string(),
        EntryKind::Normal(d) => format!("EntryNormal {:?}", String::from_utf8_lossy(d)),
        EntryKind::ConfChange(cc) => format!("EntryConfChange {}", describe_conf_change(cc)),
    };
    format!("{}/{} {what}", e.term, e.index)
}

fn describe_snapshot(s: &Snapshot) -> String {
    let ids = |set: &BTreeSet<NodeId>| {
        set.iter()
            .map(|n| n.0.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "Index:{} Term:{} Voters:[{}] Learners:[{}]",
        s.meta.index,
        s.meta.term,
        ids(&s.meta.conf_state.voters),
        ids(&s.meta.conf_state.learners)
    )
}

fn describe_context(context: &Option<Vec<u8>>) -> String {
    context
        .as_ref()
        .map(|c| format!(" Context:{:?}", String::from_utf8_lossy(c)))
        .unwrap_or_default()
}

/// One message, etcd style: `1->2 MsgApp Term:2 Log:1/1 Commit:1 Entries:[2/2 EntryNoop]`
/// (`Log:` is the term/index the message is about; for a vote, the candidate's last entry).
pub fn describe_message(m: &Message) -> String {
    let head = format!(
        "{}->{} {} Term:{}",
        m.from.0,
        m.to.0,
        message_name(&m.kind),
        m.term
    );
    let rest = match &m.kind {
        MessageKind::PreVote {
            last_log_index,
            last_log_term,
        }
        | MessageKind::RequestVote {
            last_log_index,
            last_log_term,
        } => format!(" Log:{last_log_term}/{last_log_index}"),
        MessageKind::PreVoteResp { reject } | MessageKind::RequestVoteResp { reject } => {
            match reject {
                None => String::new(),
                Some(r) => format!(" Rejected ({})", describe_vote_reject(r)),
            }
        }
        MessageKind::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            commit,
        } => {
            let entries: Vec<String> = entries.iter().map(describe_entry).collect();
            format!(
                " Log:{prev_log_term}/{prev_log_index} Commit:{commit} Entries:[{}]",
                entries.join(", ")
            )
        }
        MessageKind::AppendEntriesResp { outcome } => match outcome {
            AppendOutcome::Accepted { match_index } => format!(" Index:{match_index}"),
            AppendOutcome::Rejected {
                rejected_index,
                hint_index,
                hint_term,
            } => format!(" Index:{rejected_index} Rejected (Hint: {hint_term}/{hint_index})"),
        },
        MessageKind::Heartbeat { commit, context } => {
            format!(" Commit:{commit}{}", describe_context(context))
        }
        MessageKind::HeartbeatResp { context } => describe_context(context),
        MessageKind::InstallSnapshot { snapshot } => {
            format!(" Snapshot: {}", describe_snapshot(snapshot))
        }
        MessageKind::InstallSnapshotResp { last_index } => format!(" Index:{last_index}"),
        MessageKind::ReadIndex { context } => {
            format!(" Context:{:?}", String::from_utf8_lossy(context))
        }
        MessageKind::ReadIndexResp { context, index } => {
            format!(
                " Index:{index} Context:{:?}",
                String::from_utf8_lossy(context)
            )
        }
    };
    head + &rest
}

/// etcd's message names (`MsgApp`, `MsgVote`, ...), which `--type` filters take.
pub fn message_name(kind: &MessageKind) -> &'static str {
    match kind {
        MessageKind::PreVote { .. } => "MsgPreVote",
        MessageKind::PreVoteResp { .. } => "MsgPreVoteResp",
        MessageKind::RequestVote { .. } => "MsgVote",
        MessageKind::RequestVoteResp { .. } => "MsgVoteResp",
        MessageKind::AppendEntries { .. } => "MsgApp",
        MessageKind::AppendEntriesResp { .. } => "MsgAppResp",
        MessageKind::Heartbeat { .. } => "MsgHeartbeat",
        MessageKind::HeartbeatResp { .. } => "MsgHeartbeatResp",
        MessageKind::InstallSnapshot { .. } => "MsgSnap",
        MessageKind::InstallSnapshotResp { .. } => "MsgSnapResp",
        MessageKind::ReadIndex { .. } => "MsgReadIndex",
        MessageKind::ReadIndexResp { .. } => "MsgReadIndexResp",
    }
}

/// One event as a log line: `1 became leader at term 2`.
pub fn describe_event(id: NodeId, e: &Event) -> String {
    let id = id.0;
    let vote = |pre: bool| if pre { "MsgPreVote" } else { "MsgVote" };
    match e {
        Event::RoleChanged { role, term, leader } => match (role, leader) {
            (Role::Follower, Some(l)) => {
                format!("{id} became follower at term {term}, leader {}", l.0)
            }
            _ => format!("{id} became {role} at term {term}"),
        },
        Event::VoteGranted {
            candidate,
            term,
            pre_vote,
        } => format!(
            "{id} cast {} for {} at term {term}",
            vote(*pre_vote),
            candidate.0
        ),
        Event::VoteRefused {
            candidate,
            term,
            pre_vote,
            reason,
        } => format!(
            "{id} rejected {} from {} at term {term}: {}",
            vote(*pre_vote),
            candidate.0,
            describe_vote_reject(reason)
        ),
        Event::CommitAdvanced { from, to } => format!("{id} committed up to {to} (was {from})"),
        Event::CheckQuorumFailed { term } => format!(
            "{id} stepped down at term {term}: no quorum heard from within an election timeout"
        ),
        Event::ConfChangeApplied { index, change } => {
            format!(
                "{id} applied conf change {} at index {index}",
                describe_conf_change(change)
            )
        }
        Event::MessageIgnored { from, term, reason } => {
            format!(
                "{id} ignored a message from {} at term {term}: {reason}",
                from.0
            )
        }
    }
}

/// A membership change with bare member numbers (`add-learner 4`), as the scripts name
/// nodes; its `Display` (`add-learner n4`) is the trace's form.
fn describe_conf_change(change: &ConfChange) -> String {
    match change {
        ConfChange::AddLearner(n) => format!("add-learner {}", n.0),
        ConfChange::Promote(n) => format!("promote {}", n.0),
        ConfChange::Remove(n) => format!("remove {}", n.0),
    }
}

/// Why a vote was refused, with bare member numbers (`already voted for 2`); the words are
/// the reason's `Display`, whose ids are the trace's `n2`.
fn describe_vote_reject(reason: &VoteRejectReason) -> String {
    match reason {
        VoteRejectReason::AlreadyVoted { vote } => format!("already voted for {}", vote.0),
        VoteRejectReason::KnownLeader { leader } => format!("follows leader {}", leader.0),
        VoteRejectReason::LeaderLease { leader } => {
            format!("in lease of leader {}", leader.0)
        }
        VoteRejectReason::LogNotUpToDate { .. } | VoteRejectReason::StaleTerm => reason.to_string(),
    }
}
