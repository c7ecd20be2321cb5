//! Marks drawn over the arrows: each commit with the quorum that made it (or its lack),
//! and client operations' invocations and completions on their client's lifeline.

use super::label::shorten;
use super::quorum::majority;
use super::scale::TimeScale;
use super::view::View;
use super::QUORUM_COLOUR;
use crate::model::OpEnd;
use crate::svg::{num, Svg};

impl View<'_> {
    pub(super) fn commit_marks(&self, svg: &mut Svg, scale: &TimeScale) {
        for q in self.quorums {
            let x = self.lane_x(q.leader);
            let y = scale.y(q.t_us);
            let acks: Vec<String> = q.acks.iter().map(|a| a.0.to_string()).collect();
            svg.raw(&format!(
                r#"<g class="commit" data-node="{}" data-term="{}" data-index="{}" data-t-us="{}" data-acks="{}" data-majority="{}">"#,
                q.leader,
                q.term,
                q.index,
                q.t_us,
                acks.join(" "),
                q.majority
            ));
            let colour = if q.majority { "#111" } else { QUORUM_COLOUR };
            svg.raw(&format!(
                r#"<polygon points="{},{} {},{} {},{} {},{}" fill="{colour}"/>"#,
                num(x),
                num(y - 6.0),
                num(x + 6.0),
                num(y),
                num(x),
                num(y + 6.0),
                num(x - 6.0),
                num(y)
            ));
            let senders: Vec<String> = q
                .acks
                .iter()
                .filter_map(|id| self.shown.iter().find(|m| m.id == *id))
                .map(|m| self.model.name(m.from).to_string())
                .collect();
            let text = if q.majority {
                let with = if senders.len() == q.acks.len() && !senders.is_empty() {
                    format!(" (self + {})", senders.join(", "))
                } else {
                    String::new()
                };
                format!("commit {}{with}", q.index)
            } else {
                format!(
                    "commit {} WITHOUT a majority ({} of {} acks)",
                    q.index,
                    q.acks.len(),
                    majority(self.model.servers.len()) - 1
                )
            };
            svg.text(
                x - 9.0,
                y + 4.0,
                &text,
                &format!(
                    r#"text-anchor="end" fill="{colour}" font-weight="bold" paint-order="stroke" stroke="white" stroke-width="3""#
                ),
            );
            svg.raw("</g>");
        }
    }

    pub(super) fn op_marks(&self, svg: &mut Svg, scale: &TimeScale) {
        for op in &self.model.ops {
            if !self.lane.contains_key(&op.client) {
                continue;
            }
            let x = self.lane_x(op.client);
            let what = match &op.key {
                Some(k) => format!("{} {k}", op.f),
                None => op.f.clone(),
            };
            if self.from_us <= op.invoke_us && op.invoke_us <= self.to_us {
                let y = scale.y(op.invoke_us);
                svg.raw(&format!(
                    r#"<g class="op invoke" data-op="{}" data-t-us="{}">"#,
                    op.op.0, op.invoke_us
                ));
                svg.raw(&format!(
                    r##"<polygon points="{},{} {},{} {},{}" fill="#2e7d32"/>"##,
                    num(x - 14.0),
                    num(y - 5.0),
                    num(x - 6.0),
                    num(y),
                    num(x - 14.0),
                    num(y + 5.0)
                ));
                svg.text(
                    x - 17.0,
                    y + 4.0,
                    &format!("{} invoke {}", op.op, shorten(&what, 24)),
                    r##"text-anchor="end" fill="#2e7d32" font-size="10" paint-order="stroke" stroke="white" stroke-width="2.5""##,
                );
                svg.raw("</g>");
            }
            if let Some(t) = op
                .complete_us
                .filter(|t| self.from_us <= *t && *t <= self.to_us)
            {
                let y = scale.y(t);
                let (mark, word, colour) = match op.end {
                    OpEnd::Ok => ("✓", "ok", "#2e7d32"),
                    OpEnd::Fail => ("✗", "fail", "#c0392b"),
                    OpEnd::Info => ("?", "unknown", "#b7950b"),
                };
                svg.raw(&format!(
                    r#"<g class="op complete" data-op="{}" data-t-us="{t}" data-end="{word}">"#,
                    op.op.0
                ));
                svg.text(
                    x - 8.0,
                    y + 4.0,
                    &format!("{} {word} {mark}", op.op),
                    &format!(
                        r#"text-anchor="end" fill="{colour}" font-size="10" font-weight="bold" paint-order="stroke" stroke="white" stroke-width="2.5""#
                    ),
                );
                svg.raw("</g>");
            }
        }
    }
}
