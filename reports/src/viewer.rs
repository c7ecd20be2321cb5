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

use std::collections::BTreeMap;

use raft::core::Role;
use raft::etcd::events::EtcdEvent;
use raft::events::RaftEvent;
use serde::Serialize;
use sim_core::trace::CrashCause;
use sim_core::{
    Directory, EventKind, FaultOp, LayerRecord, MessageId, NodeId, OpOutcome, TimedFault, Trace,
    TraceEvent,
};

use crate::model::{fault_label, node_set, RunModel};
use crate::state::{NodeState, Replayer};
use crate::TimeAxis;

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
                initial = Some(
                    nodes
                        .iter()
                        .map(|n| {
                            replayer
                                .state(*n)
                                .map(|s| state_cells(s, &model.directory).to_vec())
                                .unwrap_or_default()
                        })
                        .collect(),
                );
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
        let initial = initial.unwrap_or_else(|| {
            nodes
                .iter()
                .map(|n| {
                    replayer
                        .state(*n)
                        .map(|s| state_cells(s, &model.directory).to_vec())
                        .unwrap_or_default()
                })
                .collect()
        });
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

/// Each fault span as a range of event ids, so the page decides "active" by comparing ids,
/// exactly as the span's own start and end events do.
fn viewer_faults(trace: &Trace, model: &RunModel) -> Vec<ViewerFault> {
    let past_end = trace.events.last().map_or(0, |e| e.id.0 + 1);
    model
        .faults
        .iter()
        .map(|span| {
            let to_event = match span.end_event {
                Some(end) => end.0,
                None if span.end_us >= model.end_us && span.end_us > span.start_us => past_end,
                None => {
                    // The first event after the span's end. Ids increase and times never
                    // decrease along the trace, so binary searches find it (a scan per
                    // fault was quadratic: 10 000 restarts over 6 M events took minutes).
                    let instant = span.end_us == span.start_us;
                    let from = trace
                        .events
                        .partition_point(|e| e.id.0 <= span.start_event.0);
                    let rest = &trace.events[from..];
                    let first_after = rest.partition_point(|e| {
                        if instant {
                            e.t_us.0 <= span.end_us
                        } else {
                            e.t_us.0 < span.end_us
                        }
                    });
                    rest.get(first_after).map_or(past_end, |e| e.id.0)
                }
            };
            ViewerFault {
                label: span.label.clone(),
                from_event: span.start_event.0,
                to_event,
                start_us: span.start_us,
                end_us: span.end_us,
            }
        })
        .collect()
}

/// Writes one line per event; remembers each message's kind so a delivery can say what
/// arrived.
#[derive(Debug, Default)]
struct Describer {
    message_kinds: BTreeMap<MessageId, String>,
    /// The run's names, for who did what.
    directory: sim_core::Directory,
}

impl Describer {
    /// Takes what later descriptions need from an event that is not described.
    fn note(&mut self, event: &TraceEvent) {
        if let EventKind::Send { msg, kind, .. } = &event.kind {
            self.message_kinds.insert(*msg, kind.clone());
        }
    }

    fn kind_of(&mut self, msg: MessageId) -> String {
        // Each message is delivered or dropped once; forget it then to keep the map small.
        self.message_kinds
            .remove(&msg)
            .unwrap_or_else(|| "message".to_string())
    }

    fn describe(&mut self, event: &TraceEvent) -> String {
        let who = event.node.map_or_else(
            || "the world".to_string(),
            |n| self.directory.name(n).to_string(),
        );
        let with_detail = |text: String, detail: &str| {
            if detail.is_empty() {
                text
            } else {
                format!("{text} ({detail})")
            }
        };
        match &event.kind {
            EventKind::RunStart { seed, nodes, .. } => {
                format!(
                    "run starts: seed {seed}, nodes {}",
                    node_set(nodes, &self.directory)
                )
            }
            EventKind::NodeStart { incarnation } => {
                if *incarnation <= 1 {
                    format!("{who} starts")
                } else {
                    format!("{who} starts again from its disk (incarnation {incarnation})")
                }
            }
            EventKind::NodeCrash {
                cause, lost_bytes, ..
            } => {
                let cause = match cause {
                    CrashCause::Kill => "killed",
                    CrashCause::PowerFail => "loses power",
                    CrashCause::Restart => "is stopped for a restart",
                    CrashCause::Exited => "exits",
                };
                format!("{who} {cause}; {lost_bytes} unsynced bytes lost")
            }
            EventKind::NodePause => format!("{who} is paused"),
            EventKind::NodeResume => format!("{who} resumes"),
            EventKind::Send {
                msg,
                to,
                kind,
                fields,
                ..
            } => {
                self.message_kinds.insert(*msg, kind.clone());
                let detail = fields
                    .as_ref()
                    .map(LayerRecord::summary)
                    .unwrap_or_default();
                with_detail(format!("{who} sends {kind} {msg} to {to}"), &detail)
            }
            EventKind::Deliver { msg, from, .. } => {
                let kind = self.kind_of(*msg);
                format!("{who} receives {kind} {msg} from {from}")
            }
            EventKind::Drop {
                msg,
                from,
                to,
                reason,
                ..
            } => {
                let kind = self.kind_of(*msg);
                format!(
                    "network drops {kind} {msg} from {from} to {to}: {}",
                    reason.as_str()
                )
            }
            EventKind::Fault { fault } => {
                let label = fault_label(fault, &self.directory);
                match fault {
                    FaultOp::Heal => "fault schedule: heal the network".to_string(),
                    FaultOp::HealAll => "fault schedule: heal everything".to_string(),
                    _ => format!("fault schedule: {label}"),
                }
            }
            EventKind::DiskWrite { file, bytes } => {
                format!("{who} writes {bytes} bytes to {file} (not yet durable)")
            }
            EventKind::FsyncStart { file, fsync } => {
                format!("{who} starts fsync #{fsync} of {file}")
            }
            EventKind::FsyncEnd {
                file,
                fsync,
                synced_bytes,
            } => format!("{who} finishes fsync #{fsync} of {file}: {synced_bytes} bytes durable"),
            EventKind::ClientInvoke { op, f, detail } => {
                with_detail(format!("{who} invokes {op}: {f}"), detail)
            }
            EventKind::ClientComplete {
                op,
                outcome,
                detail,
            } => {
                let outcome = match outcome {
                    OpOutcome::Ok => "completes ok",
                    OpOutcome::Fail => "fails",
                    OpOutcome::Info => "ends indeterminate (it may or may not have happened)",
                };
                with_detail(format!("{who}: {op} {outcome}"), detail)
            }
            EventKind::Layer(record) => {
                if let Some(raft) = record.get::<RaftEvent>() {
                    describe_raft(&who, raft, &self.directory)
                } else if let Some(etcd) = record.get::<EtcdEvent>() {
                    describe_etcd(&who, etcd)
                } else {
                    format!("{who}: {record:?}")
                }
            }
            EventKind::Note { label, detail } => with_detail(format!("{who}: {label}"), detail),
            EventKind::RunEnd => "run ends".to_string(),
        }
    }
}

/// One Raft event in words.
fn describe_raft(who: &str, event: &RaftEvent, directory: &Directory) -> String {
    match event {
        RaftEvent::Role { role, term, leader } => {
            let leader = match (role, leader) {
                (Role::Leader, _) => String::new(),
                (_, Some(l)) => format!(", following {l}"),
                (_, None) => ", no known leader".to_string(),
            };
            format!("{who} becomes {} in term {term}{leader}", role.as_str())
        }
        RaftEvent::Vote {
            candidate,
            term,
            pre_vote,
            refused,
        } => {
            let what = if *pre_vote { "pre-vote" } else { "vote" };
            let candidate = directory.name(*candidate);
            match refused {
                None => format!("{who} grants its {what} to {candidate} for term {term}"),
                Some(reason) => {
                    format!("{who} refuses its {what} to {candidate} for term {term} ({reason})")
                }
            }
        }
        RaftEvent::HardState { term, vote, commit } => {
            let vote = vote.map_or_else(|| "none".to_string(), |v| v.to_string());
            format!("{who} persists term {term}, vote {vote}, commit {commit}")
        }
        RaftEvent::LogAppend { entries } => match (entries.first(), entries.last()) {
            (Some(first), _) if entries.len() == 1 => format!(
                "{who} appends entry {} (term {}) to its log",
                first.index, first.term
            ),
            (Some(first), Some(last_entry)) => format!(
                "{who} appends entries {}..{} (terms {}..{}) to its log",
                first.index, last_entry.index, first.term, last_entry.term
            ),
            _ => format!("{who} appends no entries"),
        },
        RaftEvent::LogTruncate { from_index } => {
            format!("{who} removes its log entries from {from_index} on (conflict)")
        }
        RaftEvent::Commit { index, term } => {
            format!("{who} commits up to entry {index} (term {term})")
        }
        RaftEvent::Apply { index, term, .. } => {
            format!("{who} applies entry {index} (term {term})")
        }
        RaftEvent::Snapshot {
            index,
            term,
            installed,
        } => {
            if *installed {
                format!("{who} installs the leader's snapshot up to {index} (term {term})")
            } else {
                format!("{who} snapshots its state up to {index} (term {term})")
            }
        }
        RaftEvent::Membership { voters, learners } => {
            let mut text = format!("{who} sees voters {}", node_set(voters, directory));
            if !learners.is_empty() {
                text.push_str(&format!(", learners {}", node_set(learners, directory)));
            }
            text
        }
        RaftEvent::ConfChangeProposed {
            change,
            index,
            term,
        } => format!("{who} proposes the membership change {change} at {index} (term {term})"),
        RaftEvent::ConfChangeRefused { change, reason } => {
            format!("{who} refuses the membership change {change}: {reason}")
        }
        RaftEvent::CheckQuorumFailed { term } => format!(
            "{who} steps down in term {term}: no quorum heard from within an election timeout"
        ),
        RaftEvent::Ignored { from, term, reason } => format!(
            "{who} ignores a message from {} (term {term}): {reason}",
            directory.name(*from)
        ),
        RaftEvent::WalTornTail { discarded_bytes } => format!(
            "{who} finds a torn record at the end of its WAL and discards {discarded_bytes} bytes"
        ),
    }
}

/// One etcd event in words.
fn describe_etcd(who: &str, event: &EtcdEvent) -> String {
    match event {
        EtcdEvent::WatchOpen {
            watch,
            key,
            range_end,
            start_revision,
            server,
        } => {
            let range = range_end
                .as_ref()
                .map_or_else(|| key.clone(), |end| format!("[{key}, {end})"));
            format!(
                "{who} opens watch {watch} on {range} from revision {start_revision} at {server}"
            )
        }
        EtcdEvent::WatchDelivery {
            watch,
            header_revision,
            changes,
            canceled,
        } => {
            if *canceled {
                format!("{who}: watch {watch} canceled by the server (revision {header_revision})")
            } else {
                format!(
                    "{who}: watch {watch} delivers {} change(s) (revision {header_revision})",
                    changes.len()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::events::EntryRef;
    use sim_core::{EventId, SimTime};

    fn event(id: u64, t_us: u64, node: Option<u32>, kind: EventKind) -> TraceEvent {
        TraceEvent {
            id: EventId(id),
            t_us: SimTime(t_us),
            node: node.map(NodeId),
            kind,
        }
    }

    fn sample() -> Trace {
        Trace {
            events: vec![
                event(
                    0,
                    0,
                    None,
                    EventKind::RunStart {
                        seed: 1,
                        nodes: vec![NodeId(1), NodeId(2)],
                        directory: Default::default(),
                    },
                ),
                event(
                    1,
                    1_000,
                    Some(1),
                    EventKind::layer(RaftEvent::Role {
                        role: Role::Leader,
                        term: 2,
                        leader: Some(NodeId(1)),
                    }),
                ),
                event(
                    2,
                    2_000,
                    Some(1),
                    EventKind::layer(RaftEvent::LogAppend {
                        entries: vec![EntryRef {
                            index: 1,
                            term: 2,
                            digest: "ab".into(),
                        }],
                    }),
                ),
                event(
                    3,
                    3_000,
                    None,
                    EventKind::Fault {
                        fault: FaultOp::Kill { node: NodeId(2) },
                    },
                ),
                event(
                    4,
                    3_000,
                    Some(2),
                    EventKind::NodeCrash {
                        cause: CrashCause::Kill,
                        lost_bytes: 0,
                        torn_bytes_kept: 0,
                    },
                ),
                event(5, 4_000, Some(2), EventKind::NodeStart { incarnation: 2 }),
            ],
        }
    }

    #[test]
    fn each_event_carries_the_cells_it_changed_with_old_and_new_text() {
        let trace = sample();
        let model = RunModel::new(&trace, &sim_core::History::default());
        let data = ViewerData::build(
            &trace,
            &model,
            ViewerLimits::default(),
            None,
            String::new(),
            Ok(vec![]),
        );
        assert_eq!(data.events.len(), 6);
        assert_eq!(
            data.events[1].changes,
            vec![
                Change(0, 1, NONE_TEXT.into(), "leader".into()),
                Change(0, 2, "0".into(), "2".into()),
                Change(0, 3, NONE_TEXT.into(), "n1".into()),
            ]
        );
        assert_eq!(
            data.events[4].changes,
            vec![Change(1, 0, "up".into(), "down".into())]
        );
        assert_eq!(data.events[1].text, "n1 becomes leader in term 2");
        // The kill is active from its event until n2 starts again.
        assert_eq!(data.faults.len(), 1);
        assert_eq!((data.faults[0].from_event, data.faults[0].to_event), (3, 5));
    }

    #[test]
    fn a_window_starts_from_the_replayed_state_and_counts_what_it_skipped() {
        let trace = sample();
        let model = RunModel::new(&trace, &sim_core::History::default());
        let limits = ViewerLimits {
            from_us: Some(2_000),
            to_us: Some(3_000),
            max_events: 2,
        };
        let data = ViewerData::build(&trace, &model, limits, None, String::new(), Ok(vec![]));
        assert_eq!(data.skipped_before, 2);
        assert_eq!(data.events.len(), 2);
        assert_eq!(data.skipped_after, 2);
        assert_eq!(data.initial[0][1], "leader");
    }

    #[test]
    fn the_json_cannot_close_its_script_element() {
        let mut trace = sample();
        trace.events.push(event(
            6,
            5_000,
            Some(1),
            EventKind::Note {
                label: "</script><!--".into(),
                detail: String::new(),
            },
        ));
        let model = RunModel::new(&trace, &sim_core::History::default());
        let data = ViewerData::build(
            &trace,
            &model,
            ViewerLimits::default(),
            None,
            String::new(),
            Ok(vec![]),
        );
        let json = data.to_json();
        assert!(!json.contains('<'), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["events"][6][3], "n1: </script><!--");
    }

    #[test]
    fn faults_without_an_end_event_end_at_the_first_event_after_their_end() {
        let fault = |id, t_us, fault| event(id, t_us, None, EventKind::Fault { fault });
        let note = |id, t_us| {
            event(
                id,
                t_us,
                Some(1),
                EventKind::Note {
                    label: "tick".into(),
                    detail: String::new(),
                },
            )
        };
        let trace = Trace {
            events: vec![
                event(
                    0,
                    0,
                    None,
                    EventKind::RunStart {
                        seed: 1,
                        nodes: vec![NodeId(1), NodeId(2)],
                        directory: Default::default(),
                    },
                ),
                fault(1, 1_000, sim_core::FaultOp::Restart { node: NodeId(2) }),
                note(2, 1_000),
                note(3, 1_500),
                fault(
                    4,
                    2_000,
                    sim_core::FaultOp::DiskStall {
                        node: NodeId(1),
                        duration_ms: 3,
                    },
                ),
                note(5, 4_999),
                note(6, 5_000),
                note(7, 9_000),
            ],
        };
        let model = RunModel::new(&trace, &sim_core::History::default());
        let faults = viewer_faults(&trace, &model);
        assert_eq!(faults.len(), 2, "{faults:?}");
        // An instant is active for the events at its time and ends at the first later one.
        assert_eq!((faults[0].from_event, faults[0].to_event), (1, 3));
        // A stall ends at the first event at or after its end time (2 ms + 3 ms).
        assert_eq!((faults[1].from_event, faults[1].to_event), (4, 6));
    }
}
