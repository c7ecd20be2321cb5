//! What the HTML report's step-through viewer steps through, computed here from the trace.
//!
//! The browser must show exactly what the Rust replay ([`Replayer`]) says each node believed
//! after each event, so the JavaScript never re-derives Raft state: for every event it is
//! handed a one-line description and the state cells the event changed, each with its old
//! and new text. Stepping forward writes the new texts, stepping back writes the old ones,
//! so going back restores the previous panel exactly, and a test can check the page against
//! [`state_cells`] of the same replay.
//!
//! The data is one JSON document (see [`ViewerData::to_json`]). Events are arrays rather
//! than objects (`[id, t_us, node, text, changes]`) because a report of an ordinary run
//! embeds tens of thousands of them and field names would double the page's size.
//!
//! This file holds the data the page reads and how it is built from a replay; the words
//! for each event are in `describe.rs`, the fault spans in `faults.rs`.

mod describe;
mod faults;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;
use sim_core::{NodeId, TimedFault, Trace};

use crate::model::RunModel;
use crate::state::{NodeState, Replayer};
use crate::TimeAxis;

use describe::Describer;
use faults::viewer_faults;

/// Most events a report embeds by default: about 5 MB of page for a 50 000-event window,
/// which browsers still load in well under a second. Longer runs show a window of them.
pub const MAX_VIEWER_EVENTS: usize = 50_000;

/// The state panel's columns after the node name, in order (the `field` of a change is an
/// index into this list).
pub const FIELDS: [&str; 6] = ["liveness", "role", "term", "leader", "last index", "commit"];

/// What a cell shows when there is nothing to show (no role yet, no known leader).
pub const NONE_TEXT: &str = "—";

/// Which events the viewer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewerLimits {
    /// First instant held, virtual microseconds (default: the start of the run).
    pub from_us: Option<u64>,
    /// Last instant held, inclusive (default: the end of the run).
    pub to_us: Option<u64>,
    /// Most events held; the window is cut after this many.
    pub max_events: usize,
}

impl Default for ViewerLimits {
    fn default() -> Self {
        ViewerLimits {
            from_us: None,
            to_us: None,
            max_events: MAX_VIEWER_EVENTS,
        }
    }
}

impl From<&crate::Window> for ViewerLimits {
    fn from(window: &crate::Window) -> Self {
        ViewerLimits {
            from_us: window.from_us,
            to_us: window.to_us,
            max_events: MAX_VIEWER_EVENTS,
        }
    }
}

/// One state cell an event changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change(
    /// Index of the node in [`ViewerData::nodes`].
    pub usize,
    /// Index of the field in [`FIELDS`].
    pub usize,
    /// The cell's text before the event.
    pub String,
    /// The cell's text after it.
    pub String,
);

/// One event the viewer can stop at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerEvent {
    /// The trace event id.
    pub id: u64,
    /// Its virtual time, microseconds.
    pub t_us: u64,
    /// Index of its node in [`ViewerData::nodes`], if it happened on one.
    pub node: Option<usize>,
    /// What happened, in words.
    pub text: String,
    /// The state cells it changed.
    pub changes: Vec<Change>,
}

impl Serialize for ViewerEvent {
    /// `[id, t_us, node or -1, text]`, then `changes` only when there are any: most events
    /// (sends, deliveries, disk writes) change no cell, and the array form keeps 20 000 of
    /// them at about a megabyte.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let len = if self.changes.is_empty() { 4 } else { 5 };
        let mut seq = serializer.serialize_seq(Some(len))?;
        seq.serialize_element(&self.id)?;
        seq.serialize_element(&self.t_us)?;
        seq.serialize_element(&self.node.map_or(-1, |n| n as i64))?;
        seq.serialize_element(&self.text)?;
        if !self.changes.is_empty() {
            seq.serialize_element(&self.changes)?;
        }
        seq.end()
    }
}

/// A fault as the viewer shows it: active while the current event's id is in
/// `[from_event, to_event)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViewerFault {
    /// Its label (`partition {n1,n2}|{n3,n4,n5}`, `kill n3`).
    pub label: String,
    /// The fault event.
    pub from_event: u64,
    /// The first event at which it is no longer active: the event that ended it, else the
    /// first event at or after its end time (after, for an instantaneous op), else one past
    /// the last event.
    pub to_event: u64,
    /// When it began, microseconds.
    pub start_us: u64,
    /// When it ended, microseconds (the end of the run if it never did).
    pub end_us: u64,
}

/// One fault of the run's schedule, as the fork command rewrites it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduledFault {
    /// When it applies, milliseconds.
    pub at_ms: u64,
    /// Its `[[faults]]` table, as TOML text ending in a newline.
    pub toml: String,
}

/// What the fork button needs to write its command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForkData {
    /// The command that reruns this run, without the extra `--faults` file.
    pub rerun: String,
    /// The run's schedule, in file order.
    pub schedule: Vec<ScheduledFault>,
    /// Why the schedule could not be read from `scenario.toml`, if it could not.
    pub schedule_problem: Option<String>,
}

/// Everything the viewer embeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewerData {
    /// Every node, as named in the trace; changes and events index into this.
    pub nodes: Vec<String>,
    /// Indexes of the consensus servers (a row each in the state panel).
    pub servers: Vec<usize>,
    /// Indexes of the other nodes (clients), listed by liveness only.
    pub clients: Vec<usize>,
    /// The state panel's columns after the node name.
    pub fields: Vec<String>,
    /// Each node's cells before the first held event (the replay of every event before it).
    pub initial: Vec<Vec<String>>,
    /// The events held, in trace order.
    pub events: Vec<ViewerEvent>,
    /// Every fault of the run.
    pub faults: Vec<ViewerFault>,
    /// Events in the trace.
    pub total_events: usize,
    /// Trace events before the first one held.
    pub skipped_before: usize,
    /// Trace events after the last one held.
    pub skipped_after: usize,
    /// The timeline's pixel map, if the report has a timeline.
    pub axis: Option<TimeAxis>,
    /// The fork command's parts.
    pub fork: ForkData,
}

/// The text of a node's cells, in [`FIELDS`] order: what the state panel shows (the leader
/// by its name in `directory`).
pub fn state_cells(state: &NodeState, directory: &sim_core::Directory) -> [String; 6] {
    [
        state.liveness.as_str().to_string(),
        state
            .role
            .map_or_else(|| NONE_TEXT.to_string(), |r| r.as_str().to_string()),
        state.term.to_string(),
        state
            .leader
            .map_or_else(|| NONE_TEXT.to_string(), |n| directory.name(n).to_string()),
        state.last_index().to_string(),
        state.commit.to_string(),
    ]
}

/// Every node's row of the state panel as the replay stands (empty for a node with no
/// state yet): the panel the viewer opens on, before the window's first event.
fn panel_cells(
    replayer: &Replayer,
    nodes: &[NodeId],
    directory: &sim_core::Directory,
) -> Vec<Vec<String>> {
    nodes
        .iter()
        .map(|n| {
            replayer
                .state(*n)
                .map(|s| state_cells(s, directory).to_vec())
                .unwrap_or_default()
        })
        .collect()
}

impl ViewerData {
    /// Replays `trace` and keeps the events `limits` allows, with the cells each changed.
    ///
    /// `rerun` is the command that reruns the run; `schedule` its fault schedule (or why it
    /// could not be read).
    pub fn build(
        trace: &Trace,
        model: &RunModel,
        limits: ViewerLimits,
        axis: Option<TimeAxis>,
        rerun: String,
        schedule: Result<Vec<TimedFault>, String>,
    ) -> Self {
        let mut nodes: Vec<NodeId> = model.nodes.clone();
        for event in &trace.events {
            if let Some(node) = event.node {
                if !nodes.contains(&node) {
                    nodes.push(node);
                }
            }
        }
        let index_of: BTreeMap<NodeId, usize> =
            nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let from_us = limits.from_us.unwrap_or(0);
        let to_us = limits.to_us.unwrap_or(u64::MAX);

        let mut replayer = Replayer::new(&nodes);
        let mut describer = Describer {
            directory: model.directory.clone(),
            ..Describer::default()
        };
        let mut initial: Option<Vec<Vec<String>>> = None;
        let mut events = Vec::new();
        let mut skipped_before = 0;
        for event in &trace.events {
            let held = event.t_us.0 >= from_us
                && event.t_us.0 <= to_us
                && events.len() < limits.max_events;
            if !held {
                if events.is_empty() && event.t_us.0 < from_us {
                    skipped_before += 1;
                    replayer.apply(event);
                    describer.note(event);
                    continue;
                }
                // Past the window: nothing later is held.
                break;
            }
            if initial.is_none() {
                initial = Some(panel_cells(&replayer, &nodes, &model.directory));
            }
            let before = event
                .node
                .and_then(|n| replayer.state(n))
                .map(|s| state_cells(s, &model.directory));
            replayer.apply(event);
            let after = event
                .node
                .and_then(|n| replayer.state(n))
                .map(|s| state_cells(s, &model.directory));
            let mut changes = Vec::new();
            if let (Some(node), Some(before), Some(after)) = (event.node, before, after) {
                let node = index_of[&node];
                for (field, (old, new)) in before.into_iter().zip(after).enumerate() {
                    if old != new {
                        changes.push(Change(node, field, old, new));
                    }
                }
            }
            events.push(ViewerEvent {
                id: event.id.0,
                t_us: event.t_us.0,
                node: event.node.map(|n| index_of[&n]),
                text: describer.describe(event),
                changes,
            });
        }
        let initial = initial.unwrap_or_else(|| panel_cells(&replayer, &nodes, &model.directory));
        let skipped_after = trace.events.len() - skipped_before - events.len();

        let (schedule, schedule_problem) = match schedule {
            Ok(faults) => (
                faults
                    .into_iter()
                    .map(|f| ScheduledFault {
                        at_ms: f.at_ms,
                        toml: sim_core::FaultSchedule::new(vec![f]).to_toml(),
                    })
                    .collect(),
                None,
            ),
            Err(problem) => (Vec::new(), Some(problem)),
        };

        ViewerData {
            servers: model
                .servers
                .iter()
                .filter_map(|n| index_of.get(n).copied())
                .collect(),
            clients: nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| !model.servers.contains(n))
                .map(|(i, _)| i)
                .collect(),
            nodes: nodes.iter().map(|n| model.name(*n).to_string()).collect(),
            fields: FIELDS.iter().map(|f| f.to_string()).collect(),
            initial,
            events,
            faults: viewer_faults(trace, model),
            total_events: trace.events.len(),
            skipped_before,
            skipped_after,
            axis,
            fork: ForkData {
                rerun,
                schedule,
                schedule_problem,
            },
        }
    }

    /// The JSON document, safe to place inside a `<script>` element: every `<` is written
    /// as `\u003c`, so no `</script>` or `<!--` in a description can end the element early.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .expect("viewer data always serializes")
            .replace('<', "\\u003c")
    }
}
