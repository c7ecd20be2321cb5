//! What every picture is drawn from: a run's trace and history folded once into spans,
//! messages and operations.
//!
//! The trace is a flat list of events; a picture wants intervals ("n3 led term 4 from
//! 1.2 s to 3.9 s", "the partition lasted from 2 s to 6 s") and pairs ("m812 was sent at
//! 2.001 s and dropped at 2.004 s"). Folding once here means the timeline, the sequence
//! diagram, the storyboard, the viewer and the Perfetto export agree on every interval, and
//! the structural tests check one fold against the trace instead of five.
//!
//! Spans are half-open `[start_us, end_us)` in virtual microseconds; a span still open when
//! the run ends ends at [`RunModel::end_us`]. Every span also names the trace events that
//! opened and closed it, so a picture can link back to the exact event.

use std::collections::BTreeMap;

use sim_core::{
    Directory, DropReason, EntryType, EventId, EventKind, FaultOp, History, MessageId, NodeId,
    NodeName, OpId, Role, Trace,
};

/// A run, folded.
#[derive(Clone, Debug, Default)]
pub struct RunModel {
    /// The run's seed (from the trace's `run-start`).
    pub seed: u64,
    /// Every node of the world, in the order the run listed them.
    pub nodes: Vec<NodeId>,
    /// Their names and groups (empty for a trace from before names: ids stand in).
    pub directory: Directory,
    /// Nodes that ran consensus (they have role events), in node order.
    pub servers: Vec<NodeId>,
    /// The other nodes: clients, watchers, operators.
    pub clients: Vec<NodeId>,
    /// Time of the last event.
    pub end_us: u64,
    /// Each server's role over time; consecutive spans of a node do not overlap.
    pub roles: Vec<RoleSpan>,
    /// Periods a node was down (crashed, not yet restarted) or paused.
    pub outages: Vec<Outage>,
    /// Every fault, as a span from the op that began it to the op (or event) that ended it.
    pub faults: Vec<FaultSpan>,
    /// The network partition in force over time (from partition, isolate, cut-link and
    /// their heals); gaps are times with every link up.
    pub partitions: Vec<PartitionPeriod>,
    /// Every message, in send order.
    pub messages: Vec<MessageRecord>,
    /// Every client operation, in invocation order.
    pub ops: Vec<OpRecord>,
    /// Each server's commit index over time: `(t_us, index, event)`, increasing in time.
    pub commits: BTreeMap<NodeId, Vec<CommitPoint>>,
}

/// A server's role between two role changes (or a crash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpan {
    /// The server.
    pub node: NodeId,
    /// Its role.
    pub role: Role,
    /// Its term.
    pub term: u64,
    /// The leader it knew of.
    pub leader: Option<NodeId>,
    /// Start (the role event).
    pub start_us: u64,
    /// End (the next role event, the crash, or the end of the run).
    pub end_us: u64,
    /// The role event that began it.
    pub start_event: EventId,
}

/// Why a node was not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageKind {
    /// Killed, powered off or exited; ends when it starts again.
    Down,
    /// Paused; ends when it resumes.
    Paused,
}

/// A period a node was not running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// The node.
    pub node: NodeId,
    /// Down or paused.
    pub kind: OutageKind,
    /// Start.
    pub start_us: u64,
    /// End (restart or resume; the end of the run if neither came).
    pub end_us: u64,
}

/// One fault as a span.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpan {
    /// The op's name (`partition`, `kill`, `disk-stall`, ...).
    pub kind: &'static str,
    /// A short label for pictures: `partition {n1,n2}|{n3,n4,n5}`, `kill n3`.
    pub label: String,
    /// The nodes it acts on (empty: the whole network).
    pub nodes: Vec<NodeId>,
    /// The op as it ran.
    pub op: FaultOp,
    /// When it began (the fault event's time).
    pub start_us: u64,
    /// When it ended: the op that undid it (heal, restore-link, resume, restart), the
    /// node starting again, the end of a stall, a later setting replacing it, or the end of
    /// the run. Equal to `start_us` for instantaneous ops (restart).
    pub end_us: u64,
    /// The fault event.
    pub start_event: EventId,
    /// The event that ended it, if one did (none: a stall's timer, or the end of the run).
    pub end_event: Option<EventId>,
}

/// The network's shape for a while: which groups could talk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionPeriod {
    /// Start.
    pub start_us: u64,
    /// End.
    pub end_us: u64,
    /// The groups, for a partition or isolation (each node in one group); empty when only
    /// single links are cut.
    pub groups: Vec<Vec<NodeId>>,
    /// Directed links cut by `cut-link` (`from`, `to`).
    pub cut_links: Vec<(NodeId, NodeId)>,
    /// A label: `{n1,n2} | {n3,n4,n5}`.
    pub label: String,
}

impl PartitionPeriod {
    /// Whether a message from `from` to `to` is blocked in this period.
    pub fn blocks(&self, from: NodeId, to: NodeId) -> bool {
        if self.cut_links.contains(&(from, to)) {
            return true;
        }
        let group_of = |n: NodeId| self.groups.iter().position(|g| g.contains(&n));
        match (group_of(from), group_of(to)) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    }
}

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It reached its receiver.
    Delivered {
        /// When.
        t_us: u64,
        /// The deliver event.
        event: EventId,
    },
    /// The network dropped it.
    Dropped {
        /// When.
        t_us: u64,
        /// Why.
        reason: DropReason,
        /// The drop event.
        event: EventId,
    },
    /// Neither is in the trace (the run ended first without a `run-ended` drop).
    InFlight,
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    /// Its id.
    pub id: MessageId,
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// Kind (`append-entries`, `request-vote`, `client-write`, ...).
    pub kind: String,
    /// Key fields (`term=3 prev=4/2 entries=1 commit=4`).
    pub detail: String,
    /// When it was sent.
    pub sent_us: u64,
    /// The send event.
    pub send_event: EventId,
    /// What became of it.
    pub fate: Fate,
}

impl MessageRecord {
    /// When it stopped travelling (delivery or drop), if it did.
    pub fn end_us(&self) -> Option<u64> {
        match self.fate {
            Fate::Delivered { t_us, .. } | Fate::Dropped { t_us, .. } => Some(t_us),
            Fate::InFlight => None,
        }
    }

    /// A numeric field of the detail (`term`, `commit`, `match`, ...), if present.
    pub fn field(&self, name: &str) -> Option<u64> {
        detail_field(&self.detail, name)
    }
}

/// A `name=value` field of a message or operation detail, as a number.
pub fn detail_field(detail: &str, name: &str) -> Option<u64> {
    detail.split_whitespace().find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (key == name).then(|| value.split('/').next()?.parse().ok())?
    })
}

/// How a client operation ended, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpEnd {
    /// It took effect.
    Ok,
    /// It certainly did not.
    Fail,
    /// Unknown (timed out, or still open at the end).
    Info,
}

/// One client operation.
#[derive(Clone, Debug, PartialEq)]
pub struct OpRecord {
    /// Its id.
    pub op: OpId,
    /// The client.
    pub client: NodeId,
    /// Function (`put`, `get`, `cas`, ...).
    pub f: String,
    /// Key, if keyed.
    pub key: Option<String>,
    /// Invocation argument.
    pub argument: serde_json::Value,
    /// Result (completion value), if it completed.
    pub result: Option<serde_json::Value>,
    /// Invocation time.
    pub invoke_us: u64,
    /// Completion time; `None` if it never completed.
    pub complete_us: Option<u64>,
    /// How it ended.
    pub end: OpEnd,
}

impl OpRecord {
    /// Latency, for completed operations.
    pub fn latency_us(&self) -> Option<u64> {
        self.complete_us.map(|c| c.saturating_sub(self.invoke_us))
    }
}

/// A commit index reached at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitPoint {
    /// When.
    pub t_us: u64,
    /// The new commit index.
    pub index: u64,
    /// The term of the entry at that index.
    pub term: u64,
    /// The commit event.
    pub event: EventId,
}

impl RunModel {
    /// What pictures call `node`: its name (`etcd-1`), or its id in a trace without names.
    pub fn name(&self, node: NodeId) -> NodeName<'_> {
        self.directory.name(node)
    }

    /// Folds a trace and its history.
    pub fn new(trace: &Trace, history: &History) -> Self {
        let mut model = RunModel {
            end_us: trace.end_time().0,
            ..RunModel::default()
        };
        for event in &trace.events {
            if let EventKind::RunStart {
                seed,
                nodes,
                directory,
            } = &event.kind
            {
                model.seed = *seed;
                model.nodes = nodes.clone();
                model.directory = directory.clone();
                break;
            }
        }
        model.fold_roles_and_outages(trace);
        model.fold_faults(trace);
        model.fold_messages(trace);
        model.fold_ops(history);
        for node in &model.nodes {
            if model.roles.iter().any(|r| r.node == *node) {
                model.servers.push(*node);
            } else {
                model.clients.push(*node);
            }
        }
        model
    }

    fn fold_roles_and_outages(&mut self, trace: &Trace) {
        let end = self.end_us;
        let mut open_role: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut open_outage: BTreeMap<NodeId, usize> = BTreeMap::new();
        for event in &trace.events {
            let Some(node) = event.node else { continue };
            let t = event.t_us.0;
            let close_role = |roles: &mut Vec<RoleSpan>, open: &mut BTreeMap<NodeId, usize>| {
                if let Some(i) = open.remove(&node) {
                    roles[i].end_us = t;
                }
            };
            match &event.kind {
                EventKind::Role { role, term, leader } => {
                    close_role(&mut self.roles, &mut open_role);
                    open_role.insert(node, self.roles.len());
                    self.roles.push(RoleSpan {
                        node,
                        role: *role,
                        term: *term,
                        leader: *leader,
                        start_us: t,
                        end_us: end,
                        start_event: event.id,
                    });
                }
                EventKind::NodeCrash { .. } => {
                    close_role(&mut self.roles, &mut open_role);
                    if let Some(i) = open_outage.remove(&node) {
                        // A paused node that is killed: the pause ends, the outage goes on.
                        self.outages[i].end_us = t;
                    }
                    open_outage.insert(node, self.outages.len());
                    self.outages.push(Outage {
                        node,
                        kind: OutageKind::Down,
                        start_us: t,
                        end_us: end,
                    });
                }
                EventKind::NodePause => {
                    open_outage.insert(node, self.outages.len());
                    self.outages.push(Outage {
                        node,
                        kind: OutageKind::Paused,
                        start_us: t,
                        end_us: end,
                    });
                }
                EventKind::NodeStart { .. } | EventKind::NodeResume => {
                    if let Some(i) = open_outage.remove(&node) {
                        self.outages[i].end_us = t;
                    }
                }
                EventKind::Commit { index, term } => {
                    self.commits.entry(node).or_default().push(CommitPoint {
                        t_us: t,
                        index: *index,
                        term: *term,
                        event: event.id,
                    });
                }
                _ => {}
            }
        }
    }

    fn fold_faults(&mut self, trace: &Trace) {
        let end = self.end_us;
        // Open spans by what ends them.
        let mut network: Option<usize> = None; // partition / isolate
        let mut links: BTreeMap<(NodeId, NodeId), usize> = BTreeMap::new();
        let mut down: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new(); // kill / power-fail
                                                                      // Nodes of each kill / power-fail still down: the span ends when the last is back.
        let mut still_down: BTreeMap<usize, usize> = BTreeMap::new();
        let mut paused: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut skew: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut latency: Option<usize> = None;
        let mut link_latency: BTreeMap<(NodeId, NodeId), usize> = BTreeMap::new();
        let mut loss: Option<usize> = None;

        for event in &trace.events {
            let t = event.t_us.0;
            let close = |faults: &mut Vec<FaultSpan>, i: Option<usize>| {
                if let Some(i) = i {
                    faults[i].end_us = t;
                    faults[i].end_event = Some(event.id);
                }
            };
            match &event.kind {
                EventKind::NodeStart { .. } => {
                    if let Some(node) = event.node {
                        for i in down.remove(&node).unwrap_or_default() {
                            let left = still_down.entry(i).or_insert(1);
                            *left -= 1;
                            if *left == 0 {
                                close(&mut self.faults, Some(i));
                            }
                        }
                    }
                    continue;
                }
                EventKind::NodeResume => {
                    if let Some(node) = event.node {
                        close(&mut self.faults, paused.remove(&node));
                    }
                    continue;
                }
                EventKind::Fault { .. } => {}
                _ => continue,
            }
            let EventKind::Fault { fault } = &event.kind else {
                continue;
            };
            let span = |end_us: u64| FaultSpan {
                kind: fault.name(),
                label: fault_label(fault, &self.directory),
                nodes: fault.nodes(),
                op: fault.clone(),
                start_us: t,
                end_us,
                start_event: event.id,
                end_event: None,
            };
            let index = self.faults.len();
            match fault {
                FaultOp::Partition { .. } | FaultOp::Isolate { .. } => {
                    close(&mut self.faults, network.take());
                    network = Some(index);
                    self.faults.push(span(end));
                }
                FaultOp::CutLink { from, to } => {
                    close(&mut self.faults, links.remove(&(*from, *to)));
                    links.insert((*from, *to), index);
                    self.faults.push(span(end));
                }
                FaultOp::RestoreLink { from, to } => {
                    close(&mut self.faults, links.remove(&(*from, *to)));
                }
                FaultOp::Heal => {
                    close(&mut self.faults, network.take());
                    for (_, i) in std::mem::take(&mut links) {
                        close(&mut self.faults, Some(i));
                    }
                }
                FaultOp::HealAll => {
                    close(&mut self.faults, network.take());
                    for (_, i) in std::mem::take(&mut links) {
                        close(&mut self.faults, Some(i));
                    }
                    for (_, i) in std::mem::take(&mut skew) {
                        close(&mut self.faults, Some(i));
                    }
                    // Paused and down nodes end at their resume / start events, which
                    // heal-all causes right after this one.
                }
                FaultOp::Latency { .. } => {
                    close(&mut self.faults, latency.take());
                    latency = Some(index);
                    self.faults.push(span(end));
                }
                FaultOp::LinkLatency { from, to, .. } => {
                    close(&mut self.faults, link_latency.remove(&(*from, *to)));
                    link_latency.insert((*from, *to), index);
                    self.faults.push(span(end));
                }
                FaultOp::Loss { probability } => {
                    close(&mut self.faults, loss.take());
                    if *probability > 0.0 {
                        loss = Some(index);
                        self.faults.push(span(end));
                    }
                }
                FaultOp::Kill { node } => {
                    down.entry(*node).or_default().push(index);
                    still_down.insert(index, 1);
                    self.faults.push(span(end));
                }
                FaultOp::PowerFail { nodes, .. } => {
                    for node in nodes {
                        down.entry(*node).or_default().push(index);
                    }
                    still_down.insert(index, nodes.len());
                    self.faults.push(span(end));
                }
                FaultOp::Restart { .. } => {
                    // A restart of a down node ends its outage through the node-start
                    // event; of a running node it is an instant (kill and start).
                    self.faults.push(span(t));
                }
                FaultOp::Pause { node } => {
                    close(&mut self.faults, paused.remove(node));
                    paused.insert(*node, index);
                    self.faults.push(span(end));
                }
                FaultOp::Resume { node } => {
                    close(&mut self.faults, paused.remove(node));
                }
                FaultOp::DiskStall { duration_ms, .. } => {
                    self.faults
                        .push(span((t + duration_ms.saturating_mul(1000)).min(end)));
                }
                FaultOp::ClockSkew { node, skew_ms } => {
                    close(&mut self.faults, skew.remove(node));
                    if *skew_ms != 0 {
                        skew.insert(*node, index);
                        self.faults.push(span(end));
                    }
                }
            }
        }
        self.fold_partitions();
    }

    fn fold_partitions(&mut self) {
        // Walk the network faults in time order, keeping the current shape.
        let mut changes: Vec<(u64, usize)> = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            if matches!(
                f.op,
                FaultOp::Partition { .. } | FaultOp::Isolate { .. } | FaultOp::CutLink { .. }
            ) {
                changes.push((f.start_us, i));
                changes.push((f.end_us, i));
            }
        }
        let mut times: Vec<u64> = changes.iter().map(|c| c.0).collect();
        times.sort_unstable();
        times.dedup();
        let mut periods: Vec<PartitionPeriod> = Vec::new();
        for window in times.windows(2) {
            let (start, stop) = (window[0], window[1]);
            let active: Vec<&FaultSpan> = self
                .faults
                .iter()
                .filter(|f| {
                    matches!(
                        f.op,
                        FaultOp::Partition { .. }
                            | FaultOp::Isolate { .. }
                            | FaultOp::CutLink { .. }
                    ) && f.start_us <= start
                        && start < f.end_us
                })
                .collect();
            if active.is_empty() {
                continue;
            }
            let mut groups = Vec::new();
            let mut cut_links = Vec::new();
            for f in &active {
                match &f.op {
                    FaultOp::Partition { groups: g } => groups = g.clone(),
                    FaultOp::Isolate { node } => {
                        let rest: Vec<NodeId> =
                            self.nodes.iter().copied().filter(|n| n != node).collect();
                        groups = vec![vec![*node], rest];
                    }
                    FaultOp::CutLink { from, to } => cut_links.push((*from, *to)),
                    _ => {}
                }
            }
            let mut label = groups
                .iter()
                .map(|g| node_set(g, &self.directory))
                .collect::<Vec<_>>()
                .join(" | ");
            for (from, to) in &cut_links {
                if !label.is_empty() {
                    label.push_str(", ");
                }
                let (from, to) = (self.name(*from), self.name(*to));
                label.push_str(&format!("{from}-x->{to}"));
            }
            match periods.last_mut() {
                Some(last)
                    if last.end_us == start
                        && last.groups == groups
                        && last.cut_links == cut_links =>
                {
                    last.end_us = stop;
                }
                _ => periods.push(PartitionPeriod {
                    start_us: start,
                    end_us: stop,
                    groups,
                    cut_links,
                    label,
                }),
            }
        }
        self.partitions = periods;
    }

    fn fold_messages(&mut self, trace: &Trace) {
        let mut index: BTreeMap<MessageId, usize> = BTreeMap::new();
        for event in &trace.events {
            let t = event.t_us.0;
            match &event.kind {
                EventKind::Send {
                    msg,
                    to,
                    kind,
                    detail,
                    ..
                } => {
                    let Some(from) = event.node else { continue };
                    index.insert(*msg, self.messages.len());
                    self.messages.push(MessageRecord {
                        id: *msg,
                        from,
                        to: *to,
                        kind: kind.clone(),
                        detail: detail.clone(),
                        sent_us: t,
                        send_event: event.id,
                        fate: Fate::InFlight,
                    });
                }
                EventKind::Deliver { msg, .. } => {
                    if let Some(&i) = index.get(msg) {
                        self.messages[i].fate = Fate::Delivered {
                            t_us: t,
                            event: event.id,
                        };
                    }
                }
                EventKind::Drop { msg, reason, .. } => {
                    if let Some(&i) = index.get(msg) {
                        self.messages[i].fate = Fate::Dropped {
                            t_us: t,
                            reason: *reason,
                            event: event.id,
                        };
                    }
                }
                _ => {}
            }
        }
    }

    fn fold_ops(&mut self, history: &History) {
        let mut index: BTreeMap<OpId, usize> = BTreeMap::new();
        for entry in &history.entries {
            let t = entry.t_us.0;
            match entry.entry_type {
                EntryType::Invoke => {
                    index.insert(entry.op, self.ops.len());
                    self.ops.push(OpRecord {
                        op: entry.op,
                        client: entry.client,
                        f: entry.f.clone(),
                        key: entry.key.clone(),
                        argument: entry.value.clone(),
                        result: None,
                        invoke_us: t,
                        complete_us: None,
                        end: OpEnd::Info,
                    });
                }
                done => {
                    if let Some(&i) = index.get(&entry.op) {
                        let op = &mut self.ops[i];
                        op.complete_us = Some(t);
                        op.result = Some(entry.value.clone());
                        op.end = match done {
                            EntryType::Ok => OpEnd::Ok,
                            EntryType::Fail => OpEnd::Fail,
                            _ => OpEnd::Info,
                        };
                    }
                }
            }
        }
    }

    /// The role span of `node` at time `t_us`, if it was up and had a role.
    pub fn role_at(&self, node: NodeId, t_us: u64) -> Option<&RoleSpan> {
        self.roles
            .iter()
            .rfind(|r| r.node == node && r.start_us <= t_us && t_us < r.end_us.max(r.start_us + 1))
    }

    /// The leaders at time `t_us` (more than one in a split brain, or while a deposed
    /// leader has not yet heard of the new term), with their terms, in node order.
    pub fn leaders_at(&self, t_us: u64) -> Vec<(NodeId, u64)> {
        self.servers
            .iter()
            .filter_map(|n| {
                self.role_at(*n, t_us)
                    .filter(|r| r.role == Role::Leader)
                    .map(|r| (*n, r.term))
            })
            .collect()
    }

    /// The network shape at time `t_us`, if any link was cut.
    pub fn partition_at(&self, t_us: u64) -> Option<&PartitionPeriod> {
        self.partitions
            .iter()
            .find(|p| p.start_us <= t_us && t_us < p.end_us)
    }

    /// Faults active at time `t_us` (instantaneous ones at exactly their time).
    pub fn faults_at(&self, t_us: u64) -> Vec<&FaultSpan> {
        self.faults
            .iter()
            .filter(|f| {
                f.start_us <= t_us
                    && (t_us < f.end_us || (f.start_us == f.end_us && t_us == f.start_us))
            })
            .collect()
    }

    /// A server's commit index at time `t_us` (0 before its first commit; commit points
    /// of earlier incarnations count, as the index is recovered from disk on restart).
    pub fn commit_at(&self, node: NodeId, t_us: u64) -> u64 {
        self.commits
            .get(&node)
            .and_then(|points| points.iter().take_while(|p| p.t_us <= t_us).last())
            .map_or(0, |p| p.index)
    }

    /// The distinct terms that had a leader, in order, for colouring.
    pub fn leader_terms(&self) -> Vec<u64> {
        let mut terms: Vec<u64> = self
            .roles
            .iter()
            .filter(|r| r.role == Role::Leader)
            .map(|r| r.term)
            .collect();
        terms.sort_unstable();
        terms.dedup();
        terms
    }
}

/// Nodes for a label: `{etcd-1,2 client-2}` (ids in a trace without names: `{n1 n2}`).
pub fn node_set(nodes: &[NodeId], directory: &Directory) -> String {
    // `etcd-1 etcd-2 client-2` reads as `{etcd-1,2 client-2}`: names that share a prefix
    // before their last `-` (and follow each other) write it once.
    let mut out = String::from("{");
    let mut last: Option<&str> = None;
    let names: Vec<String> = nodes
        .iter()
        .map(|n| directory.name(*n).to_string())
        .collect();
    for name in &names {
        let (prefix, number) = name.rsplit_once('-').unwrap_or(("", name));
        match last {
            Some(previous) if previous == prefix && !prefix.is_empty() => {
                out.push(',');
                out.push_str(number);
            }
            Some(previous) if previous == prefix => {
                out.push(',');
                out.push_str(name);
            }
            Some(_) => {
                out.push(' ');
                out.push_str(name);
            }
            None => out.push_str(name),
        }
        last = Some(prefix);
    }
    out.push('}');
    out
}

/// A short label for a fault op, nodes by their names in `directory`.
pub fn fault_label(op: &FaultOp, directory: &Directory) -> String {
    let ms = |us: u64| format_ms(us);
    let name = |node: &NodeId| directory.name(*node);
    match op {
        FaultOp::Partition { groups } => format!(
            "partition {}",
            groups
                .iter()
                .map(|g| node_set(g, directory))
                .collect::<Vec<_>>()
                .join("|")
        ),
        FaultOp::Isolate { node } => format!("isolate {}", name(node)),
        FaultOp::CutLink { from, to } => format!("cut {}->{}", name(from), name(to)),
        FaultOp::RestoreLink { from, to } => format!("restore {}->{}", name(from), name(to)),
        FaultOp::Heal => "heal".into(),
        FaultOp::HealAll => "heal-all".into(),
        FaultOp::Latency { min_us, max_us } => {
            format!("latency {}-{} ms", ms(*min_us), ms(*max_us))
        }
        FaultOp::LinkLatency {
            from,
            to,
            min_us,
            max_us,
        } => format!(
            "latency {}->{} {}-{} ms",
            name(from),
            name(to),
            ms(*min_us),
            ms(*max_us)
        ),
        FaultOp::Loss { probability } => format!("loss {:.0}%", probability * 100.0),
        FaultOp::Kill { node } => format!("kill {}", name(node)),
        FaultOp::Restart { node } => format!("restart {}", name(node)),
        FaultOp::Pause { node } => format!("pause {}", name(node)),
        FaultOp::Resume { node } => format!("resume {}", name(node)),
        FaultOp::PowerFail { nodes, torn_write } => format!(
            "power-fail {}{}",
            node_set(nodes, directory),
            if *torn_write { " (torn)" } else { "" }
        ),
        FaultOp::DiskStall { node, duration_ms } => {
            format!("disk-stall {} {duration_ms} ms", name(node))
        }
        FaultOp::ClockSkew { node, skew_ms } => {
            format!("clock-skew {} {skew_ms:+} ms", name(node))
        }
    }
}

/// Microseconds as milliseconds for labels: `1500` -> `1.5`, `2000` -> `2`.
pub fn format_ms(us: u64) -> String {
    if us % 1000 == 0 {
        format!("{}", us / 1000)
    } else {
        let text = format!("{:.3}", us as f64 / 1000.0);
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
