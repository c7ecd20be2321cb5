//! Reading a Raft run's trace and history for the stories: commit indexes and durable logs
//! as of a moment, what a majority held, who led when, and what clients were told.
//!
//! These fold the trace from its start on each call; they serve checks and data files that
//! ask a handful of questions per run, not supervisors that poll.

use std::collections::{BTreeMap, BTreeSet};

use raft::checks::{DurableLogs, NodeLog};
use raft::events::RaftEvent;
use serde::Serialize;
use sim_core::{EntryType, History, NodeId, SimTime, TraceEvent};

use crate::raft_world::{leader_periods, ms};

/// Each node's commit index as of `t` (the highest `commit` or durable `hard-state` commit
/// recorded at or before `t`; 0 if none).
pub(crate) fn commit_indexes(
    events: &[TraceEvent],
    nodes: &[NodeId],
    t: SimTime,
) -> BTreeMap<NodeId, u64> {
    let mut commit: BTreeMap<NodeId, u64> = nodes.iter().map(|n| (*n, 0)).collect();
    for e in events.iter().take_while(|e| e.t_us <= t) {
        let index = match e.layer::<RaftEvent>() {
            Some(RaftEvent::Commit { index, .. }) => *index,
            Some(RaftEvent::HardState { commit, .. }) => *commit,
            _ => continue,
        };
        if let Some(c) = e.node.and_then(|n| commit.get_mut(&n)) {
            *c = (*c).max(index);
        }
    }
    commit
}

/// Every node's durable log as of `t`.
pub(crate) fn logs_at(events: &[TraceEvent], t: SimTime) -> DurableLogs {
    let mut logs = DurableLogs::default();
    for e in events.iter().take_while(|e| e.t_us <= t) {
        logs.apply(e);
    }
    logs
}

/// The highest index whose entry a majority of `voters` hold durably as of `t`: nothing
/// beyond it can have been committed by then. An index a node's snapshot covers counts as
/// held (snapshots hold only committed entries), so this errs high, never low.
pub(crate) fn majority_held_index(events: &[TraceEvent], voters: &[NodeId], t: SimTime) -> u64 {
    let all = logs_at(events, t);
    let logs: Vec<NodeLog> = voters.iter().map(|v| all.of(*v)).collect();
    let need = voters.len() / 2 + 1;
    let last = logs.iter().map(NodeLog::last_index).max().unwrap_or(0);
    let mut held = 0;
    for index in 1..=last {
        let mut covered = 0;
        let mut copies: BTreeMap<(u64, raft::events::EntryDigest), usize> = BTreeMap::new();
        for log in &logs {
            if index <= log.snapshot.0 {
                covered += 1;
            } else if let Some((term, digest)) = log.entries.get(&index) {
                *copies.entry((*term, *digest)).or_default() += 1;
            }
        }
        if covered + copies.values().copied().max().unwrap_or(0) >= need {
            held = index;
        }
    }
    held
}

/// The terms in which some node of `side` led at some moment of `[from, until)`.
pub(crate) fn terms_led(
    events: &[TraceEvent],
    side: &[NodeId],
    from: SimTime,
    until: SimTime,
) -> Vec<u64> {
    let mut terms: BTreeSet<u64> = BTreeSet::new();
    for (node, term, start, end) in leader_periods(events) {
        if side.contains(&node) && start < until && end.is_none_or(|e| e > from) {
            terms.insert(term);
        }
    }
    terms.into_iter().collect()
}

/// Whether a history function reads (`get`) rather than writes (`put`, `delete`, `cas`).
pub(crate) fn is_read(f: &str) -> bool {
    f == "get"
}

/// The `ok` completions of writes in the history, with the log position they were told.
pub(crate) fn acked_writes(
    history: &History,
) -> impl Iterator<Item = (&sim_core::HistoryEntry, u64, u64)> {
    history.entries.iter().filter_map(|e| {
        if e.entry_type != EntryType::Ok || is_read(&e.f) {
            return None;
        }
        Some((e, e.value["index"].as_u64()?, e.value["term"].as_u64()?))
    })
}

/// Clients' writes and reads: acknowledged, or timed out (indeterminate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct OpCounts {
    /// Writes acknowledged.
    pub writes_ok: u64,
    /// Writes that timed out.
    pub writes_timed_out: u64,
    /// Reads answered.
    pub reads_ok: u64,
    /// Reads that timed out.
    pub reads_timed_out: u64,
}

impl OpCounts {
    /// Counts the completions by `clients` whose time satisfies `when`.
    pub fn of(history: &History, clients: &[NodeId], when: impl Fn(SimTime) -> bool) -> Self {
        let mut c = OpCounts::default();
        for e in &history.entries {
            if !clients.contains(&e.client) || !when(e.t_us) {
                continue;
            }
            let slot = match (is_read(&e.f), e.entry_type) {
                (false, EntryType::Ok) => &mut c.writes_ok,
                (false, EntryType::Info | EntryType::Fail) => &mut c.writes_timed_out,
                (true, EntryType::Ok) => &mut c.reads_ok,
                (true, EntryType::Info | EntryType::Fail) => &mut c.reads_timed_out,
                (_, EntryType::Invoke) => continue,
            };
            *slot += 1;
        }
        c
    }

    /// Share of completed operations that succeeded (None if none completed).
    pub fn availability(&self) -> Option<f64> {
        let ok = self.writes_ok + self.reads_ok;
        let all = ok + self.writes_timed_out + self.reads_timed_out;
        (all > 0).then(|| ok as f64 / all as f64)
    }
}

/// A leadership period for the data files.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct LeaderPeriod {
    /// The leader.
    pub node: NodeId,
    /// Its term.
    pub term: u64,
    /// Elected at, ms.
    pub from_ms: f64,
    /// Ended at, ms (None: still leading at the end).
    pub until_ms: Option<f64>,
}

/// Every leadership period of the run.
pub(crate) fn leader_list(events: &[TraceEvent]) -> Vec<LeaderPeriod> {
    leader_periods(events)
        .into_iter()
        .map(|(node, term, from, until)| LeaderPeriod {
            node,
            term,
            from_ms: ms(from),
            until_ms: until.map(ms),
        })
        .collect()
}

/// The leadership period in office at `t` among `nodes` (the highest term if several).
pub(crate) fn leader_in_office(
    events: &[TraceEvent],
    nodes: &[NodeId],
    t: SimTime,
) -> Option<LeaderPeriod> {
    leader_periods(events)
        .into_iter()
        .filter(|p| nodes.contains(&p.0) && p.2 <= t && p.3.is_none_or(|until| until > t))
        .max_by_key(|p| p.1)
        .map(|(node, term, from, until)| LeaderPeriod {
            node,
            term,
            from_ms: ms(from),
            until_ms: until.map(ms),
        })
}

pub(crate) fn node_list(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
