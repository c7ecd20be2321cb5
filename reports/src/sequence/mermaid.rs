//! The same window as Mermaid `sequenceDiagram` text: one line per arrow, notes for
//! partitions, faults, leaders and commits, in the order the trace recorded them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use raft::core::Role;
use sim_core::{MessageId, NodeId};

use super::label::{arrow_label, seconds};
use super::view::{drawn, Drawn, View};

impl View<'_> {
    pub(super) fn mermaid(&self, note: &str) -> String {
        // Items in time order; ties broken by the trace event that caused them, so a
        // commit follows the ack that made it and a heal comes before what it let through.
        let mut items: Vec<(u64, u64, u8, String)> = Vec::new();
        let all = {
            let first = self
                .nodes
                .first()
                .map(NodeId::to_string)
                .unwrap_or_default();
            let last = self.nodes.last().map(NodeId::to_string).unwrap_or_default();
            if first == last {
                first
            } else {
                format!("{first},{last}")
            }
        };
        for p in &self.model.partitions {
            let Some((s, e)) = self.clip(p.start_us, p.end_us) else {
                continue;
            };
            let start_event = self
                .model
                .faults
                .iter()
                .find(|f| f.start_us == p.start_us)
                .map_or(0, |f| f.start_event.0);
            items.push((
                s,
                start_event,
                1,
                format!(
                    "    rect rgba(231, 76, 60, 0.12)\n    Note over {all}: {}",
                    mermaid_text(&format!(
                        "partition {} ({}–{})",
                        p.label,
                        seconds(p.start_us).trim_end_matches(" s"),
                        seconds(p.end_us)
                    ))
                ),
            ));
            // The block closes before anything at the heal instant (the period is
            // half-open), or after everything when it outlasts the window.
            let close = if p.end_us <= self.to_us {
                (e, 0, 0)
            } else {
                (u64::MAX, u64::MAX, 9)
            };
            items.push((close.0, close.1, close.2, "    end".into()));
        }
        for f in &self.model.faults {
            if matches!(f.kind, "partition" | "isolate" | "cut-link") {
                continue;
            }
            if let Some((s, _)) = self.clip(f.start_us, f.end_us) {
                let over = f
                    .nodes
                    .iter()
                    .find(|n| self.lane.contains_key(n))
                    .map_or(all.clone(), NodeId::to_string);
                items.push((
                    s,
                    f.start_event.0,
                    2,
                    format!(
                        "    Note over {over}: {}",
                        mermaid_text(&format!("fault: {}", f.label))
                    ),
                ));
            }
        }
        for r in &self.model.roles {
            if r.role != Role::Leader || !self.lane.contains_key(&r.node) {
                continue;
            }
            if let Some((s, _)) = self.clip(r.start_us, r.end_us) {
                let since = if r.start_us < self.from_us {
                    format!(" (since {})", seconds(r.start_us))
                } else {
                    String::new()
                };
                items.push((
                    s,
                    r.start_event.0,
                    3,
                    format!("    Note over {}: leader t{}{since}", r.node, r.term),
                ));
            }
        }
        let quorum_of: BTreeMap<MessageId, u64> = self
            .quorums
            .iter()
            .flat_map(|q| q.acks.iter().map(move |a| (*a, q.index)))
            .collect();
        for m in self.shown {
            let label = mermaid_text(&arrow_label(m));
            let line = match drawn(m, self.to_us) {
                Drawn::Delivered(_) => match quorum_of.get(&m.id) {
                    Some(i) => format!(
                        "    {}->>{}: {label} ★ quorum ack for commit {i}",
                        m.from, m.to
                    ),
                    None => format!("    {}->>{}: {label}", m.from, m.to),
                },
                Drawn::Dropped(_, reason) => format!(
                    "    {}-x{}: {label} (dropped: {})",
                    m.from,
                    m.to,
                    reason.as_str()
                ),
                Drawn::Fading => format!("    {}-){}: {label} (in flight)", m.from, m.to),
            };
            items.push((m.sent_us, m.send_event.0, 4, line));
        }
        for q in self.quorums {
            let text = if q.majority {
                let acks: Vec<String> = q.acks.iter().map(MessageId::to_string).collect();
                format!("commit {} (t{}, acks {})", q.index, q.term, acks.join(" "))
            } else {
                format!("commit {} WITHOUT a majority", q.index)
            };
            items.push((
                q.t_us,
                q.event.0,
                5,
                format!("    Note over {}: {}", q.leader, mermaid_text(&text)),
            ));
        }
        items.sort();
        let mut out = String::from("sequenceDiagram\n");
        let _ = writeln!(out, "    %% {}", note.replace(['\n', ';'], " "));
        let servers: BTreeSet<NodeId> = self.model.servers.iter().copied().collect();
        for n in self.nodes {
            // Mermaid participants are bare tokens: the id, shown as the node's name.
            let name = self.model.name(*n);
            if servers.contains(n) || name.to_string() != n.to_string() {
                let _ = writeln!(out, "    participant {n} as {name}");
            } else {
                let _ = writeln!(out, "    participant {n} as {n} client");
            }
        }
        for (_, _, _, line) in items {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// Text safe inside a Mermaid message or note: `#` and `;` end or start entity codes and
/// statements, angle brackets and braces are read as markup; all become entity codes.
pub fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
