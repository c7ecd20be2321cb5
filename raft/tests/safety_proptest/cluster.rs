//! The cluster harness: nodes with their disks, the in-flight messages, and one case run
//! step by step.

use std::panic::{catch_unwind, AssertUnwindSafe};

use raft::{
    Config, Entry, EntryKind, HardState, InitialState, LogIndex, Message, Mutants, ProposeError,
    RawNode, Ready, Role, Term,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::NodeId;

use crate::app::{mix, App, INITIAL_DIGEST};
use crate::properties::{
    check_append_only, check_log_matching, check_term_vote, tag, violation, History, Property, Res,
    Violation,
};
use crate::schedule::{
    Case, Step, Then, ELECTION_TICK, LIVENESS_ROUNDS, MAX_DELIVERIES_PER_ROUND, MAX_IN_FLIGHT,
};

/// Switches for the harness itself: driver bugs, and liveness-phase options.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Opts {
    pub(crate) mutants: Mutants,
    /// Driver bug `forget-vote-on-restart`: the vote is never written to disk.
    pub(crate) forget_vote_on_restart: bool,
    /// Run the liveness phase after the schedule.
    pub(crate) liveness: bool,
    /// Liveness phase without healing the partition (to show the check can fail).
    pub(crate) keep_partition: bool,
}

/// Coverage counters, so a passing run shows it exercised something.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) cases: u64,
    pub(crate) steps: u64,
    pub(crate) leaders_elected: u64,
    pub(crate) max_term: u64,
    pub(crate) max_commit: u64,
    pub(crate) entries_applied: u64,
    pub(crate) proposals_accepted: u64,
    pub(crate) messages_delivered: u64,
    pub(crate) messages_lost: u64,
    pub(crate) crashes: u64,
    pub(crate) crashes_mid_ready: u64,
    pub(crate) readies_written_async: u64,
    pub(crate) restarts: u64,
    pub(crate) compactions: u64,
    pub(crate) snapshots_installed: u64,
    pub(crate) liveness_rounds_max: u64,
}

impl Stats {
    pub(crate) fn add(&mut self, o: &Stats) {
        self.cases += o.cases;
        self.steps += o.steps;
        self.leaders_elected += o.leaders_elected;
        self.max_term = self.max_term.max(o.max_term);
        self.max_commit = self.max_commit.max(o.max_commit);
        self.entries_applied += o.entries_applied;
        self.proposals_accepted += o.proposals_accepted;
        self.messages_delivered += o.messages_delivered;
        self.messages_lost += o.messages_lost;
        self.crashes += o.crashes;
        self.crashes_mid_ready += o.crashes_mid_ready;
        self.readies_written_async += o.readies_written_async;
        self.restarts += o.restarts;
        self.compactions += o.compactions;
        self.snapshots_installed += o.snapshots_installed;
        self.liveness_rounds_max = self.liveness_rounds_max.max(o.liveness_rounds_max);
    }
}

pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) raw: Option<RawNode<ChaCha8Rng>>,
    /// Exactly what the `Ready` contract made durable.
    pub(crate) disk: InitialState,
    pub(crate) app: App,
    pub(crate) incarnation: u64,
    /// The hard state of the latest `Ready` of this life (or the one it started from).
    pub(crate) last_hard_state: HardState,
    /// The hard state in effect when the node last sent messages, over all its lives.
    pub(crate) announced: HardState,
    /// A `Ready` taken from the core whose write has not completed yet.
    pub(crate) writing: Option<Ready>,
    /// While leading: the term and the (index, term) of each entry at the last check.
    pub(crate) leader_log: Option<(Term, Vec<(LogIndex, Term)>)>,
}

pub(crate) struct Cluster {
    pub(crate) opts: Opts,
    pub(crate) seed: u64,
    pub(crate) config: Config,
    pub(crate) nodes: Vec<Node>,
    pub(crate) in_flight: Vec<Message>,
    /// The side of each node while partitioned.
    pub(crate) side: Option<Vec<bool>>,
    pub(crate) next_proposal: u64,
    pub(crate) history: History,
    pub(crate) stats: Stats,
}

impl Cluster {
    pub(crate) fn new(case: &Case, opts: Opts) -> Cluster {
        let ids: Vec<NodeId> = (1..=case.nodes as u32).map(NodeId).collect();
        let mut config = Config::new(NodeId(1));
        config.election_tick = ELECTION_TICK;
        config.heartbeat_tick = 1;
        config.pre_vote = case.pre_vote;
        config.check_quorum = case.check_quorum;
        config.max_entries_per_msg = case.max_entries_per_msg;
        config.max_inflight_msgs = case.max_inflight_msgs;
        config.mutants = opts.mutants;
        let boot = InitialState::bootstrap(ids.iter().copied());
        let mut cluster = Cluster {
            opts,
            seed: case.seed,
            config,
            nodes: Vec::new(),
            in_flight: Vec::new(),
            side: None,
            next_proposal: 0,
            history: History::default(),
            stats: Stats {
                cases: 1,
                ..Stats::default()
            },
        };
        cluster
            .history
            .digests
            .insert(boot.snapshot.meta.index, (INITIAL_DIGEST, ids[0]));
        for id in ids {
            let mut node = Node {
                id,
                raw: None,
                disk: boot.clone(),
                app: App::from_snapshot(&boot.snapshot),
                incarnation: 0,
                last_hard_state: boot.hard_state,
                announced: boot.hard_state,
                writing: None,
                leader_log: None,
            };
            node.raw = Some(cluster.boot(&node));
            cluster.nodes.push(node);
        }
        cluster
    }

    pub(crate) fn boot(&self, node: &Node) -> RawNode<ChaCha8Rng> {
        let mut cfg = self.config.clone();
        cfg.id = node.id;
        let rng_seed = self
            .seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(u64::from(node.id.0) << 32)
            .wrapping_add(node.incarnation);
        RawNode::new(cfg, node.disk.clone(), ChaCha8Rng::seed_from_u64(rng_seed))
            .expect("the harness config is valid")
    }

    pub(crate) fn n(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn index_of(id: NodeId) -> usize {
        (id.0 - 1) as usize
    }

    pub(crate) fn live(&self, i: usize) -> bool {
        self.nodes[i].raw.is_some()
    }

    pub(crate) fn cut(&self, from: NodeId, to: NodeId) -> bool {
        self.side
            .as_ref()
            .is_some_and(|s| s[Self::index_of(from)] != s[Self::index_of(to)])
    }

    // ----- the Ready contract -----

    /// Handles every pending `Ready` of node `i` (first completing the one being written,
    /// if any): persist, send, apply, advance.
    pub(crate) fn handle_ready(&mut self, i: usize) -> Res {
        loop {
            let node = &mut self.nodes[i];
            let Some(raw) = node.raw.as_mut() else {
                return Ok(());
            };
            let rd = match node.writing.take() {
                Some(rd) => rd,
                None if raw.has_ready() => raw.ready(),
                None => return Ok(()),
            };
            let raw = self.nodes[i].raw.as_ref().expect("node is live");
            let term_now = raw.status().hard_state.term;
            self.persist(i, &rd)?;
            self.send(i, &rd);
            self.apply(i, &rd, term_now)?;
            self.nodes[i]
                .raw
                .as_mut()
                .expect("node is live")
                .advance(&rd);
        }
    }

    /// Step 1 of the contract: make the snapshot, entries and hard state durable.
    pub(crate) fn persist(&mut self, i: usize, rd: &Ready) -> Res {
        let forget_vote = self.opts.forget_vote_on_restart;
        let node = &mut self.nodes[i];
        let disk = &mut node.disk;
        if let Some(s) = &rd.snapshot {
            // A snapshot from the leader replaces the whole log.
            disk.snapshot = s.clone();
            disk.entries.clear();
        }
        if let Some(first) = rd.entries.first() {
            let base = disk.snapshot.meta.index;
            let next = LogIndex(base.0 + disk.entries.len() as u64 + 1);
            if first.index <= base || first.index > next {
                return Err(violation(
                    Property::ReadyContract,
                    format!(
                        "node {} was asked to persist entries from {} but its disk holds \
                         snapshot {base} and entries up to {}",
                        node.id,
                        first.index,
                        next.prev()
                    ),
                ));
            }
            disk.entries.truncate((first.index.0 - base.0 - 1) as usize);
            disk.entries.extend(rd.entries.iter().cloned());
        }
        if let Some(hs) = rd.hard_state {
            check_term_vote(node.id, &node.last_hard_state, &hs, "in a Ready")
                .and_then(|()| check_term_vote(node.id, &node.announced, &hs, "in a Ready"))
                .map_err(tag(Property::TermVoteNeverBack))?;
            node.last_hard_state = hs;
            disk.hard_state = if forget_vote {
                HardState { vote: None, ..hs }
            } else {
                hs
            };
        }
        Ok(())
    }

    /// Step 2: send. What the node announced from now on must survive a crash.
    pub(crate) fn send(&mut self, i: usize, rd: &Ready) {
        if rd.messages.is_empty() {
            return;
        }
        let node = &mut self.nodes[i];
        node.announced = node.last_hard_state;
        for m in &rd.messages {
            assert_eq!(m.from, node.id, "a node sends only its own messages");
            self.in_flight.push(m.clone());
        }
        let excess = self.in_flight.len().saturating_sub(MAX_IN_FLIGHT);
        self.stats.messages_lost += excess as u64;
        self.in_flight.drain(..excess);
    }

    /// Step 3: install the snapshot, then apply the committed entries in order.
    pub(crate) fn apply(&mut self, i: usize, rd: &Ready, term_now: Term) -> Res {
        let node = &mut self.nodes[i];
        let id = node.id;
        if let Some(s) = &rd.snapshot {
            node.app = App::from_snapshot(s);
            self.stats.snapshots_installed += 1;
            self.history
                .observe_digest(id, s.meta.index, node.app.digest, "installed")
                .map_err(tag(Property::StateMachineSafety))?;
        }
        for e in &rd.committed_entries {
            if e.index != node.app.applied.next() {
                return Err(violation(
                    Property::StateMachineSafety,
                    format!(
                        "node {id} was asked to apply index {} after applying {}",
                        e.index, node.app.applied
                    ),
                ));
            }
            node.app.digest = mix(node.app.digest, e);
            node.app.applied = e.index;
            self.stats.entries_applied += 1;
            self.stats.max_commit = self.stats.max_commit.max(e.index.0);
            self.history
                .observe_apply(id, term_now, e)
                .map_err(tag(Property::StateMachineSafety))?;
            self.history
                .observe_digest(id, e.index, node.app.digest, "applied")
                .map_err(tag(Property::StateMachineSafety))?;
        }
        Ok(())
    }

    // ----- steps -----

    pub(crate) fn after(&mut self, i: usize, then: Then) -> Res {
        match then {
            Then::Handle => self.handle_ready(i),
            Then::Write => {
                self.begin_write(i);
                Ok(())
            }
            Then::Leave => Ok(()),
        }
    }

    /// Takes node `i`'s `Ready` and holds it as being written, if it has one and is not
    /// writing one already (the next `ready` must wait for `advance`).
    pub(crate) fn begin_write(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(raw) = node.raw.as_mut() {
            if node.writing.is_none() && raw.has_ready() {
                node.writing = Some(raw.ready());
                self.stats.readies_written_async += 1;
            }
        }
    }

    pub(crate) fn tick(&mut self, i: usize, then: Then) -> Res {
        if let Some(raw) = self.nodes[i].raw.as_mut() {
            raw.tick();
            self.after(i, then)?;
        }
        Ok(())
    }

    pub(crate) fn handle_all_readies(&mut self) -> Res {
        for i in 0..self.n() {
            self.handle_ready(i)?;
        }
        Ok(())
    }

    /// Delivers the in-flight message at `pos`, unless the link is cut or the target down.
    pub(crate) fn deliver(&mut self, pos: usize, then: Then) -> Res {
        let m = self.in_flight.remove(pos);
        let to = Self::index_of(m.to);
        if self.cut(m.from, m.to) || !self.live(to) {
            self.stats.messages_lost += 1;
            return Ok(());
        }
        self.stats.messages_delivered += 1;
        self.nodes[to].raw.as_mut().expect("live").step(m);
        self.after(to, then)
    }

    pub(crate) fn propose(&mut self, i: usize, then: Then) -> Res {
        let Some(raw) = self.nodes[i].raw.as_mut() else {
            return Ok(());
        };
        self.next_proposal += 1;
        let data = format!("v{}", self.next_proposal).into_bytes();
        let mut target = i;
        let mut result = raw.propose(data.clone());
        if let Err(ProposeError::NotLeader { leader: Some(l) }) = result {
            let j = Self::index_of(l);
            if let Some(raw) = self.nodes[j].raw.as_mut() {
                target = j;
                result = raw.propose(data);
            }
        }
        match result {
            Ok(_) => self.stats.proposals_accepted += 1,
            Err(ProposeError::NotLeader { .. }) => {}
            Err(e) => panic!("unexpected proposal error: {e}"),
        }
        self.after(target, then)
    }

    pub(crate) fn crash(&mut self, i: usize, mid_ready: bool) -> Res {
        let node = &mut self.nodes[i];
        let Some(raw) = node.raw.as_mut() else {
            return Ok(());
        };
        let writing = node.writing.take();
        if mid_ready {
            // The disk write completed; the process died before sending or applying.
            let rd = writing.or_else(|| raw.has_ready().then(|| raw.ready()));
            if let Some(rd) = rd {
                self.persist(i, &rd)?;
                self.stats.crashes_mid_ready += 1;
            }
        }
        let node = &mut self.nodes[i];
        node.raw = None;
        node.leader_log = None;
        self.stats.crashes += 1;
        Ok(())
    }

    pub(crate) fn restart(&mut self, i: usize) -> Res {
        if self.live(i) {
            self.crash(i, false)?;
        }
        self.nodes[i].incarnation += 1;
        let raw = self.boot(&self.nodes[i]);
        let node = &mut self.nodes[i];
        let hs = raw.status().hard_state;
        check_term_vote(node.id, &node.announced, &hs, "after a restart")
            .map_err(tag(Property::TermVoteNeverBack))?;
        node.last_hard_state = hs;
        node.app = App::from_snapshot(&node.disk.snapshot);
        node.raw = Some(raw);
        self.stats.restarts += 1;
        Ok(())
    }

    pub(crate) fn compact(&mut self, i: usize) -> Res {
        if !self.live(i) {
            return Ok(());
        }
        // Compact only between Readies, when the application is caught up with the core.
        self.handle_ready(i)?;
        let node = &mut self.nodes[i];
        let data = node.app.digest.to_le_bytes().to_vec();
        let snap = node.raw.as_mut().expect("live").compact(data);
        assert_eq!(
            snap.meta.index, node.app.applied,
            "compact snapshots the applied index"
        );
        node.disk.entries.retain(|e| e.index > snap.meta.index);
        node.disk.snapshot = snap;
        self.stats.compactions += 1;
        Ok(())
    }

    pub(crate) fn apply_step(&mut self, step: Step) -> Res {
        let n = self.n();
        match step {
            Step::Tick { node, then } => self.tick(node % n, then)?,
            Step::TickAll => {
                for i in 0..n {
                    self.tick(i, Then::Leave)?;
                }
                self.handle_all_readies()?;
            }
            Step::Deliver { pick, then } => {
                if !self.in_flight.is_empty() {
                    self.deliver(pick % self.in_flight.len(), then)?;
                }
            }
            Step::DeliverOldest { count } => {
                for _ in 0..count {
                    if self.in_flight.is_empty() {
                        break;
                    }
                    self.deliver(0, Then::Handle)?;
                }
            }
            Step::Drop { pick } => {
                if !self.in_flight.is_empty() {
                    self.in_flight.remove(pick % self.in_flight.len());
                    self.stats.messages_lost += 1;
                }
            }
            Step::Duplicate { pick } => {
                if !self.in_flight.is_empty() {
                    let m = self.in_flight[pick % self.in_flight.len()].clone();
                    self.in_flight.push(m);
                }
            }
            Step::Propose { node, then } => self.propose(node % n, then)?,
            Step::HandleReady { node } => self.handle_ready(node % n)?,
            Step::BeginReady { node } => self.begin_write(node % n),
            Step::Campaign { node } => {
                if let Some(raw) = self.nodes[node % n].raw.as_mut() {
                    raw.campaign();
                    self.handle_ready(node % n)?;
                }
            }
            Step::Crash { node, mid_ready } => self.crash(node % n, mid_ready)?,
            Step::Restart { node } => {
                let down: Vec<usize> = (0..n).filter(|i| !self.live(*i)).collect();
                if !down.is_empty() {
                    self.restart(down[node % down.len()])?;
                }
            }
            Step::Partition { mask } => {
                let side: Vec<bool> = (0..n).map(|i| mask & (1 << i) != 0).collect();
                let split = side.iter().any(|s| *s) && side.iter().any(|s| !*s);
                self.side = split.then_some(side);
            }
            Step::Heal => self.side = None,
            Step::Compact { node } => self.compact(node % n)?,
        }
        self.stats.steps += 1;
        Ok(())
    }

    // ----- checks after every step -----

    pub(crate) fn check(&mut self) -> Res {
        for i in 0..self.n() {
            let node = &mut self.nodes[i];
            let Some(raw) = node.raw.as_ref() else {
                continue;
            };
            let st = raw.status();
            self.stats.max_term = self.stats.max_term.max(st.hard_state.term.0);
            if st.role != Role::Leader {
                node.leader_log = None;
                continue;
            }
            let term = st.hard_state.term;
            let log = raw.log_entries();
            let new = self
                .history
                .observe_leader(node.id, term)
                .map_err(tag(Property::ElectionSafety))?;
            if new {
                self.stats.leaders_elected += 1;
                let snapshot_index = log.first().map_or(st.last_index, |e| e.index.prev());
                self.history
                    .check_leader_completeness(node.id, term, snapshot_index, log)
                    .map_err(tag(Property::LeaderCompleteness))?;
            }
            if let Some((t, before)) = &node.leader_log {
                if *t == term {
                    check_append_only(node.id, before, log, st.last_index)
                        .map_err(tag(Property::LeaderAppendOnly))?;
                }
            }
            node.leader_log = Some((term, log.iter().map(|e| (e.index, e.term)).collect()));
        }
        let logs: Vec<(NodeId, &[Entry])> = self
            .nodes
            .iter()
            .map(|node| match &node.raw {
                Some(raw) => (node.id, raw.log_entries()),
                None => (node.id, node.disk.entries.as_slice()),
            })
            .collect();
        for (x, a) in logs.iter().enumerate() {
            for b in &logs[x + 1..] {
                check_log_matching(*a, *b).map_err(tag(Property::LogMatching))?;
            }
        }
        Ok(())
    }

    // ----- liveness -----

    /// One lockstep round: every live node ticks, then everything in flight is delivered
    /// (and what that sends, up to a bound).
    pub(crate) fn round(&mut self) -> Res {
        for i in 0..self.n() {
            self.tick(i, Then::Leave)?;
        }
        self.handle_all_readies()?;
        let mut delivered = 0;
        while !self.in_flight.is_empty() && delivered < MAX_DELIVERIES_PER_ROUND {
            self.deliver(0, Then::Handle)?;
            delivered += 1;
        }
        self.check()
    }

    /// The live leader with the highest term, if any.
    pub(crate) fn leader(&self) -> Option<usize> {
        (0..self.n())
            .filter_map(|i| {
                let st = self.nodes[i].raw.as_ref()?.status();
                (st.role == Role::Leader).then_some((st.hard_state.term, i))
            })
            .max()
            .map(|(_, i)| i)
    }

    /// Heal (unless told not to), restart every crashed node, then require a leader and
    /// that a fresh proposal commits within a bounded number of rounds.
    pub(crate) fn liveness(&mut self) -> Res {
        if !self.opts.keep_partition {
            self.side = None;
        }
        for i in 0..self.n() {
            if !self.live(i) {
                self.restart(i)?;
            }
        }
        self.handle_all_readies()?;
        self.check()?;
        let data = b"liveness".to_vec();
        let mut proposed: Option<LogIndex> = None;
        for round in 0..LIVENESS_ROUNDS {
            if let Some(index) = proposed {
                let committed = self
                    .history
                    .applied
                    .get(&index)
                    .is_some_and(|a| a.entry.kind == EntryKind::Normal(data.clone()));
                if committed {
                    self.stats.liveness_rounds_max = round as u64;
                    return Ok(());
                }
            }
            if let Some(l) = self.leader() {
                // (Re)propose whenever the entry we wait for is no longer in the leader's
                // log at its index (a new leader may have replaced it).
                let raw = self.nodes[l].raw.as_mut().expect("leader is live");
                let still_there = proposed.is_some_and(|index| {
                    raw.log_entries()
                        .iter()
                        .any(|e| e.index == index && e.kind == EntryKind::Normal(data.clone()))
                });
                if !still_there {
                    proposed = Some(raw.propose(data.clone()).expect("the leader accepts"));
                }
            }
            self.round()?;
        }
        let status: Vec<String> = (0..self.n())
            .map(|i| match &self.nodes[i].raw {
                Some(raw) => {
                    let st = raw.status();
                    format!(
                        "{}:{}@{} commit={}",
                        st.id, st.role, st.hard_state.term, st.hard_state.commit
                    )
                }
                None => format!("{}:down", self.nodes[i].id),
            })
            .collect();
        Err(violation(
            Property::Liveness,
            match proposed {
                None => format!("no leader after {LIVENESS_ROUNDS} rounds: {status:?}"),
                Some(i) => format!(
                    "a proposal at index {i} did not commit in {LIVENESS_ROUNDS} rounds: \
                     {status:?}"
                ),
            },
        ))
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

pub(crate) fn guarded(step: Option<usize>, f: impl FnOnce() -> Res) -> Res {
    let result = catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(violation(Property::Panic, panic_message(&*p))));
    result.map_err(|mut v| {
        v.step = step;
        v
    })
}

/// Runs the schedule, checking every property after every step, then the liveness phase.
pub(crate) fn run_case(case: &Case, opts: Opts) -> Result<Stats, Violation> {
    let mut cluster = Cluster::new(case, opts);
    for (i, step) in case.steps.iter().enumerate() {
        guarded(Some(i), || {
            cluster.apply_step(*step)?;
            cluster.check()
        })?;
    }
    if opts.liveness {
        guarded(None, || cluster.liveness())?;
    }
    Ok(cluster.stats)
}
