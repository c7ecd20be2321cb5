//! What each panel shows, decided before anything is drawn: the "after" instant, the
//! partition's sides, each server's state at a panel's instant, each side's quorum, and
//! committed entries that conflict.

use std::collections::BTreeMap;

use raft::events::EntryRef;
use sim_core::{NodeId, Trace};

use super::{Conflict, GroupQuorum, Panel, ServerCard};
use crate::model::{PartitionPeriod, RunModel};
use crate::state::{states_at, Liveness, NodeState};

/// The instant of the "after" panel: the first moment after the heal when one leader is
/// followed by every running server and all of them have reached the commit index the
/// leader had when that began; the end of the run if never (then `false`).
pub(super) fn after_instant(model: &RunModel, period: &PartitionPeriod) -> (u64, bool) {
    let heal = period.end_us;
    // Candidate instants: role changes and commits after the heal.
    let mut instants: Vec<u64> = model
        .roles
        .iter()
        .map(|r| r.start_us)
        .chain(model.commits.values().flatten().map(|c| c.t_us))
        .filter(|t| *t >= heal)
        .collect();
    instants.sort_unstable();
    instants.dedup();
    let up_at = |node: NodeId, t: u64| {
        !model
            .outages
            .iter()
            .any(|o| o.node == node && o.start_us <= t && t < o.end_us)
    };
    let settled = instants.iter().copied().find(|t| {
        let leaders = model.leaders_at(*t);
        let [(leader, term)] = leaders.as_slice() else {
            return false;
        };
        model.servers.iter().filter(|n| up_at(**n, *t)).all(|n| {
            model
                .role_at(*n, *t)
                .is_some_and(|r| r.term == *term && (n == leader || r.leader == Some(*leader)))
        })
    });
    // The run's last instant inside every open span (spans are half-open).
    let last = model.end_us.saturating_sub(1).max(heal);
    let Some(settled) = settled else {
        return (last, false);
    };
    let leader = model.leaders_at(settled)[0].0;
    let target = model.commit_at(leader, settled);
    let caught_up = instants
        .iter()
        .copied()
        .filter(|t| *t >= settled)
        .find(|t| {
            model
                .servers
                .iter()
                .filter(|n| up_at(**n, *t))
                .all(|n| model.commit_at(*n, *t) >= target)
        });
    caught_up.map_or((last, false), |t| (t, true))
}

pub(super) fn panel(
    model: &RunModel,
    trace: &Trace,
    period: &PartitionPeriod,
    title: &str,
    t_us: u64,
    cut: bool,
) -> Panel {
    let states = states_at(&trace.events, &model.nodes, t_us);
    let blank = NodeState::default();
    let servers: Vec<ServerCard> = model
        .servers
        .iter()
        .map(|n| {
            let s = states.get(n).unwrap_or(&blank);
            ServerCard {
                node: *n,
                liveness: s.liveness,
                role: s.role,
                term: s.term,
                commit: s.commit,
                committed: s.committed_entry().cloned(),
            }
        })
        .collect();
    let total = model.servers.len();
    let groups = sides(model, period)
        .into_iter()
        .map(|nodes| {
            let servers_up = nodes
                .iter()
                .filter(|n| {
                    model.servers.contains(n)
                        && states.get(n).is_none_or(|s| s.liveness == Liveness::Up)
                })
                .count();
            GroupQuorum {
                nodes,
                servers_up,
                servers_total: total,
                quorum: servers_up > total / 2,
            }
        })
        .collect();
    Panel {
        title: title.to_string(),
        heading: String::new(),
        t_us,
        leaders: model.leaders_at(t_us),
        cut,
        groups,
        servers,
        conflicts: conflicts(model, &states),
    }
}

/// The partition's groups, servers first in each, then the nodes no group names (they
/// reach everybody) as a last group of their own.
pub(super) fn sides(model: &RunModel, period: &PartitionPeriod) -> Vec<Vec<NodeId>> {
    let order = |group: &[NodeId]| -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = model
            .servers
            .iter()
            .filter(|n| group.contains(n))
            .copied()
            .collect();
        nodes.extend(model.clients.iter().filter(|n| group.contains(n)));
        nodes
    };
    let mut groups: Vec<Vec<NodeId>> = period
        .groups
        .iter()
        .map(|g| order(g))
        .filter(|g| !g.is_empty())
        .collect();
    let rest: Vec<NodeId> = model
        .nodes
        .iter()
        .copied()
        .filter(|n| !groups.iter().any(|g| g.contains(n)))
        .collect();
    if !rest.is_empty() {
        groups.push(order(&rest));
    }
    groups
}

/// Indexes where two servers hold different committed entries, lowest first.
fn conflicts(model: &RunModel, states: &BTreeMap<NodeId, NodeState>) -> Vec<Conflict> {
    let mut by_index: BTreeMap<u64, BTreeMap<(u64, raft::events::EntryDigest), Vec<NodeId>>> =
        BTreeMap::new();
    for n in &model.servers {
        let Some(s) = states.get(n) else { continue };
        for (index, entry) in s.log.range(..=s.commit) {
            by_index
                .entry(*index)
                .or_default()
                .entry((entry.term, entry.digest))
                .or_default()
                .push(*n);
        }
    }
    by_index
        .into_iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|(index, values)| Conflict {
            index,
            values: values
                .into_iter()
                .map(|((term, digest), nodes)| {
                    (
                        EntryRef {
                            index,
                            term,
                            digest,
                        },
                        nodes,
                    )
                })
                .collect(),
        })
        .collect()
}
