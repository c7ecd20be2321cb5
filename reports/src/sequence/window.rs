//! The window a diagram shows: its bounds (as given, or grown around the run's most
//! instructive moment) and its lifelines, chosen before anything is laid out.

use raft::core::Role;
use sim_core::NodeId;

use super::{DEFAULT_MAX_ARROWS, LEAD_ARROWS};
use crate::model::{MessageRecord, RunModel};
use crate::Window;

/// Servers then clients, restricted to `window.nodes`. When a partition with groups
/// overlaps the window, servers (and clients) are ordered side by side, so the cut is one
/// wall between neighbouring lifelines instead of a zigzag.
pub(super) fn lifelines(
    model: &RunModel,
    window: &Window,
    from_us: u64,
    to_us: u64,
) -> Vec<NodeId> {
    let shown = |n: &NodeId| window.nodes.as_ref().is_none_or(|only| only.contains(n));
    let side = |n: &NodeId| -> usize {
        model
            .partitions
            .iter()
            .find(|p| !p.groups.is_empty() && p.start_us <= to_us && p.end_us >= from_us)
            .and_then(|p| p.groups.iter().position(|g| g.contains(n)))
            .unwrap_or(usize::MAX)
    };
    let mut servers: Vec<NodeId> = model.servers.iter().copied().filter(shown).collect();
    let mut clients: Vec<NodeId> = model.clients.iter().copied().filter(shown).collect();
    // Stable sorts: node order within a side.
    servers.sort_by_key(side);
    clients.sort_by_key(side);
    servers.extend(clients);
    servers
}

/// The instant the default window is built around.
fn instructive_moment(model: &RunModel) -> u64 {
    if let Some(first) = model.faults.iter().map(|f| f.start_us).min() {
        return first;
    }
    if let Some(write) = model.messages.iter().find(|m| m.kind == "client-write") {
        return write.sent_us;
    }
    model
        .roles
        .iter()
        .filter(|r| r.role == Role::Leader)
        .map(|r| r.start_us)
        .min()
        .unwrap_or(0)
}

/// The window's bounds: as given, or grown around the instructive moment until
/// [`DEFAULT_MAX_ARROWS`] messages (`candidates`, in send order) are in it.
pub(super) fn choose_range(
    model: &RunModel,
    window: &Window,
    candidates: &[&MessageRecord],
) -> (u64, u64) {
    let end = model.end_us;
    // Bounds that keep `cap` messages from index `first` on (messages sharing the last
    // one's send time would overshoot the cap, so the window stops before them).
    let forward = |first: usize| -> u64 {
        match candidates.get(first + DEFAULT_MAX_ARROWS) {
            Some(next) => {
                let last = candidates[first + DEFAULT_MAX_ARROWS - 1].sent_us;
                if next.sent_us > last {
                    last.max(next.sent_us - 1)
                } else {
                    last.saturating_sub(1)
                        .max(candidates.get(first).map_or(0, |m| m.sent_us))
                }
            }
            None => end,
        }
    };
    let first_at = |t: u64| candidates.partition_point(|m| m.sent_us < t);
    match (window.from_us, window.to_us) {
        (Some(from), Some(to)) => (from, to.max(from)),
        (Some(from), None) => (from, forward(first_at(from)).max(from)),
        (None, Some(to)) => {
            let after = candidates.partition_point(|m| m.sent_us <= to);
            let first = after.saturating_sub(DEFAULT_MAX_ARROWS);
            (candidates.get(first).map_or(0, |m| m.sent_us).min(to), to)
        }
        (None, None) => {
            let anchor = first_at(instructive_moment(model));
            let first = anchor.saturating_sub(LEAD_ARROWS);
            let from = candidates.get(first).map_or(0, |m| m.sent_us);
            (from, forward(first).max(from))
        }
    }
}
