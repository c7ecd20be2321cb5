//! `trace.perfetto.json`: the run in the Chrome trace-event format, which Perfetto
//! (ui.perfetto.dev) and `chrome://tracing` open.
//!
//! Layout: one process ("ksim <scenario> seed <seed>"), one thread (track) per node, named
//! after it, servers first; a "faults" track for faults that act on the whole network.
//! - Role spans are complete events (`ph: "X"`) on the node's track, named `leader t4`.
//! - Outages (down, paused) are complete events too, so a dead node's track says so.
//! - Each message is a 1 µs send slice on the sender's track and a 1 µs receive slice on
//!   the receiver's, joined by a flow arrow (`ph: "s"` / `ph: "f"` with `bp: "e"`, the
//!   legacy flow events Perfetto's JSON importer binds to the enclosing slices). A dropped
//!   message gets an instant event on the receiver's track instead of the receive slice.
//! - Client operations are async spans (`ph: "b"` / `"e"`) on the client's track, so
//!   overlapping operations of one client do not have to nest.
//! - Faults are complete events on the track of each node they name, or on the faults
//!   track.
//!
//! Timestamps are virtual microseconds, which is the format's unit. Messages beyond
//! [`MAX_FLOWS`] are left out (a 600 s run has millions; the metadata says how many were
//! kept), everything else is complete.
//!
//! Each event is a `serde_json::json!` value written out as soon as it is made (a run with
//! a million events would otherwise hold gigabytes of JSON trees), in a fixed order, so
//! the file is byte-identical for the same run.

use serde_json::{json, Value};
use sim_core::NodeId;

use crate::model::{Fate, OpEnd, OutageKind, RunModel};

/// The most messages drawn as flows.
pub const MAX_FLOWS: usize = 200_000;

/// The track (thread id) of network-wide faults.
const FAULTS_TID: u64 = 0;

/// The Chrome trace-event JSON of a run.
pub fn render(model: &RunModel, scenario: &str) -> Vec<u8> {
    let pid = 1;
    let tid = |node: NodeId| u64::from(node.0) + 1;
    let mut events = EventWriter::new(scenario, model);
    events.push(json!({
        "name": "process_name", "ph": "M", "pid": pid,
        "args": {"name": format!("ksim {scenario} seed {}", model.seed)}
    }));
    events.push(json!({
        "name": "thread_name", "ph": "M", "pid": pid, "tid": FAULTS_TID,
        "args": {"name": "faults"}
    }));
    let ordered: Vec<NodeId> = model
        .servers
        .iter()
        .chain(model.clients.iter())
        .copied()
        .collect();
    for (rank, node) in ordered.iter().enumerate() {
        let kind = if model.servers.contains(node) {
            "server"
        } else {
            "client"
        };
        events.push(json!({
            "name": "thread_name", "ph": "M", "pid": pid, "tid": tid(*node),
            "args": {"name": format!("{} ({kind})", model.name(*node))}
        }));
        events.push(json!({
            "name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid(*node),
            "args": {"sort_index": rank + 1}
        }));
    }
    for span in &model.roles {
        events.push(json!({
            "name": format!("{} t{}", span.role.as_str(), span.term),
            "cat": "role", "ph": "X", "pid": pid, "tid": tid(span.node),
            "ts": span.start_us, "dur": span.end_us.saturating_sub(span.start_us),
            "args": {
                "term": span.term,
                "leader": span.leader.map(|l| l.to_string()),
                "event": span.start_event.0
            }
        }));
    }
    for outage in &model.outages {
        let name = match outage.kind {
            OutageKind::Down => "down",
            OutageKind::Paused => "paused",
        };
        events.push(json!({
            "name": name, "cat": "outage", "ph": "X", "pid": pid, "tid": tid(outage.node),
            "ts": outage.start_us, "dur": outage.end_us.saturating_sub(outage.start_us)
        }));
    }
    for fault in &model.faults {
        let dur = fault.end_us.saturating_sub(fault.start_us);
        let tracks: Vec<u64> = if fault.nodes.is_empty() || fault.kind == "partition" {
            vec![FAULTS_TID]
        } else {
            fault.nodes.iter().map(|n| tid(*n)).collect()
        };
        for track in tracks {
            events.push(json!({
                "name": fault.label, "cat": "fault", "ph": "X", "pid": pid, "tid": track,
                "ts": fault.start_us, "dur": dur,
                "args": {"start_event": fault.start_event.0,
                         "end_event": fault.end_event.map(|e| e.0)}
            }));
        }
    }
    for (flow_id, msg) in model.messages.iter().take(MAX_FLOWS).enumerate() {
        let label = if msg.detail.is_empty() {
            msg.kind.clone()
        } else {
            format!("{} {}", msg.kind, msg.detail)
        };
        events.push(json!({
            "name": format!("send {}", msg.kind), "cat": "message", "ph": "X", "pid": pid,
            "tid": tid(msg.from), "ts": msg.sent_us, "dur": 1,
            "args": {"msg": msg.id.0, "to": msg.to.to_string(), "detail": msg.detail}
        }));
        match msg.fate {
            Fate::Delivered { t_us, .. } => {
                events.push(json!({
                    "name": label, "cat": "message", "ph": "s", "id": flow_id,
                    "pid": pid, "tid": tid(msg.from), "ts": msg.sent_us
                }));
                events.push(json!({
                    "name": format!("recv {}", msg.kind), "cat": "message", "ph": "X",
                    "pid": pid, "tid": tid(msg.to), "ts": t_us, "dur": 1,
                    "args": {"msg": msg.id.0, "from": msg.from.to_string(), "detail": msg.detail}
                }));
                events.push(json!({
                    "name": label, "cat": "message", "ph": "f", "bp": "e", "id": flow_id,
                    "pid": pid, "tid": tid(msg.to), "ts": t_us
                }));
            }
            Fate::Dropped { t_us, reason, .. } => {
                events.push(json!({
                    "name": format!("dropped {} from {} ({})", msg.kind, msg.from, reason.as_str()),
                    "cat": "drop", "ph": "i", "s": "t", "pid": pid, "tid": tid(msg.to),
                    "ts": t_us, "args": {"msg": msg.id.0, "detail": msg.detail}
                }));
            }
            Fate::InFlight => {}
        }
    }
    for (async_id, op) in model.ops.iter().enumerate() {
        let name = match &op.key {
            Some(key) => format!("{} {key}", op.f),
            None => op.f.clone(),
        };
        let end_us = op.complete_us.unwrap_or(model.end_us);
        let outcome = match op.end {
            OpEnd::Ok => "ok",
            OpEnd::Fail => "fail",
            OpEnd::Info => "info",
        };
        events.push(json!({
            "name": name, "cat": "client-op", "ph": "b", "id": async_id, "pid": pid,
            "tid": tid(op.client), "ts": op.invoke_us,
            "args": {"op": op.op.0, "argument": op.argument}
        }));
        events.push(json!({
            "name": name, "cat": "client-op", "ph": "e", "id": async_id, "pid": pid,
            "tid": tid(op.client), "ts": end_us,
            "args": {"outcome": outcome, "result": op.result}
        }));
    }
    events.finish()
}

/// Writes the document as events are made: the header, then each event, then the end.
struct EventWriter {
    out: Vec<u8>,
    first: bool,
}

impl EventWriter {
    fn new(scenario: &str, model: &RunModel) -> Self {
        let other = json!({
            "scenario": scenario,
            "seed": model.seed,
            "messages": model.messages.len(),
            "messages_drawn": model.messages.len().min(MAX_FLOWS)
        });
        let mut out = Vec::new();
        out.extend_from_slice(br#"{"displayTimeUnit":"ms","otherData":"#);
        serde_json::to_writer(&mut out, &other).expect("JSON values serialize");
        out.extend_from_slice(br#","traceEvents":["#);
        EventWriter { out, first: true }
    }

    fn push(&mut self, event: Value) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, &event).expect("JSON values serialize");
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"]}");
        self.out
    }
}
