//! The message arrows: colour and weight by kind and fate, drops as crosses, messages in
//! flight fading out, and labels placed so they do not cover each other.

use std::collections::BTreeMap;

use sim_core::{MessageId, NodeId};

use super::label::{arrow_label, seconds};
use super::scale::TimeScale;
use super::view::{drawn, drop_fraction, Drawn, View};
use super::{DROP_COLOUR, LABEL_CHAR_PX, LABEL_FONT_PX, QUORUM_COLOUR};
use crate::model::{Fate, MessageRecord};
use crate::svg::{escape, num, Svg};

/// A label's box, for keeping labels apart.
#[derive(Clone, Copy, Debug)]
struct LabelBox {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl LabelBox {
    fn overlaps(&self, other: &LabelBox) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
}

impl View<'_> {
    pub(super) fn arrows(&self, svg: &mut Svg, scale: &TimeScale, bottom: f64) {
        let quorum_of: BTreeMap<MessageId, Vec<u64>> =
            self.quorums.iter().fold(BTreeMap::new(), |mut acc, q| {
                for ack in &q.acks {
                    acc.entry(*ack).or_insert_with(Vec::new).push(q.index);
                }
                acc
            });
        // Heartbeats first, the rest over them, quorum acks on top.
        let rank = |m: &MessageRecord| {
            if quorum_of.contains_key(&m.id) {
                2
            } else if m.kind.starts_with("heartbeat") {
                0
            } else {
                1
            }
        };
        let mut order: Vec<&MessageRecord> = self.shown.to_vec();
        order.sort_by_key(|m| (rank(m), m.sent_us, m.id));
        // A broadcast (same sender, instant and label, same fate) is labelled once, on
        // its first arrow, with the count: four identical "heartbeat t2 ✕ partitioned"
        // labels on top of each other say less than one "(×4)".
        let mut same: BTreeMap<(NodeId, u64, String), Vec<MessageId>> = BTreeMap::new();
        for m in self.shown {
            same.entry((m.from, m.sent_us, self.full_label(m)))
                .or_default()
                .push(m.id);
        }
        let mut placed: Vec<LabelBox> = Vec::new();
        for m in order {
            let x0 = self.lane_x(m.from);
            let x_to = self.lane_x(m.to);
            let y0 = scale.y(m.sent_us);
            let fate = drawn(m, self.to_us);
            let quorum = quorum_of.get(&m.id);
            let heartbeat = m.kind.starts_with("heartbeat");
            let client = m.kind.starts_with("client");
            let colour = if quorum.is_some() {
                QUORUM_COLOUR
            } else if matches!(fate, Drawn::Dropped(..)) && heartbeat {
                "#e08e85"
            } else if matches!(fate, Drawn::Dropped(..)) {
                DROP_COLOUR
            } else if heartbeat {
                "#9aa5b1"
            } else if client {
                "#2e7d32"
            } else if m.kind.contains("vote") {
                "#d35400"
            } else {
                "#34495e"
            };
            let stroke_px = if quorum.is_some() {
                3.0
            } else if heartbeat {
                0.9
            } else {
                1.3
            };
            let (fate_name, end_attr) = match fate {
                Drawn::Delivered(t) => ("delivered", format!(r#" data-end-us="{t}""#)),
                Drawn::Dropped(t, r) => (
                    "dropped",
                    format!(r#" data-end-us="{t}" data-reason="{}""#, r.as_str()),
                ),
                Drawn::Fading => ("in-flight", String::new()),
            };
            let quorum_attr = quorum
                .map(|ix| {
                    let list: Vec<String> = ix.iter().map(u64::to_string).collect();
                    format!(r#" data-quorum-for="{}""#, list.join(" "))
                })
                .unwrap_or_default();
            let class = if quorum.is_some() {
                "msg quorum-ack"
            } else {
                "msg"
            };
            svg.raw(&format!(
                r#"<g class="{class}" data-msg="{}" data-kind="{}" data-from="{}" data-to="{}" data-sent-us="{}" data-fate="{fate_name}"{end_attr}{quorum_attr}>"#,
                m.id.0,
                escape(&m.kind),
                m.from,
                m.to,
                m.sent_us
            ));
            let fate_text = match m.fate {
                Fate::Delivered { t_us, .. } => format!("delivered {}", seconds(t_us)),
                Fate::Dropped { t_us, reason, .. } => {
                    format!("dropped {} ({})", seconds(t_us), reason.as_str())
                }
                Fate::InFlight => "still in flight when the run ended".into(),
            };
            svg.raw(&format!(
                "<title>{} {}→{} {} {}: sent {}, {}</title>",
                m.id,
                m.from,
                m.to,
                escape(&m.kind),
                escape(&m.detail),
                seconds(m.sent_us),
                fate_text
            ));
            let line_attrs = format!(r#"stroke="{colour}" stroke-width="{}""#, num(stroke_px));
            let label = self.full_label(m);
            let siblings = &same[&(m.from, m.sent_us, label.clone())];
            let (x1, y1) = match fate {
                Drawn::Delivered(t) => {
                    let y1 = scale.y(t);
                    if m.from == m.to {
                        // A message to itself: a small loop.
                        svg.raw(&format!(
                            r#"<path d="M{} {} h24 V{} h-24" fill="none" {line_attrs}/>"#,
                            num(x0),
                            num(y0),
                            num(y1.max(y0 + 8.0))
                        ));
                    } else {
                        svg.line(x0, y0, x_to, y1, &line_attrs);
                        arrow_head(svg, x0, y0, x_to, y1, colour, stroke_px);
                    }
                    (x_to, y1)
                }
                Drawn::Dropped(t, reason) => {
                    let f = drop_fraction(reason);
                    let x1 = x0 + (x_to - x0) * f;
                    let y1 = scale.y(t).max(y0 + 10.0);
                    svg.line(x0, y0, x1, y1, &line_attrs);
                    svg.raw(r#"<g class="cross">"#);
                    cross(svg, x1, y1, 5.0, DROP_COLOUR);
                    svg.raw("</g>");
                    (x1, y1)
                }
                Drawn::Fading => {
                    let y1 = bottom;
                    let (dx, dy) = (x_to - x0, y1 - y0);
                    // Three segments fading out: it had not arrived when the window ended.
                    for (k, opacity) in [(0.0, 0.9), (1.0, 0.5), (2.0, 0.2)] {
                        let (a, b) = (k / 3.0 * 0.6, (k + 1.0) / 3.0 * 0.6);
                        svg.line(
                            x0 + dx * a,
                            y0 + dy * a,
                            x0 + dx * b,
                            y0 + dy * b,
                            &format!(
                                r#"{line_attrs} stroke-opacity="{opacity}" stroke-dasharray="4 3""#
                            ),
                        );
                    }
                    (x0 + dx * 0.6, y0 + dy * 0.6)
                }
            };
            if siblings.first() == Some(&m.id) {
                let label = if siblings.len() > 1 {
                    format!("{label} (×{})", siblings.len())
                } else {
                    label
                };
                self.arrow_label(svg, &mut placed, &label, (x0, y0), (x1, y1), colour, quorum);
            }
            svg.raw("</g>");
        }
    }

    /// An arrow's label with its fate: `heartbeat t2 c=26 ✕ partitioned`.
    fn full_label(&self, m: &MessageRecord) -> String {
        let label = arrow_label(m);
        match drawn(m, self.to_us) {
            Drawn::Delivered(_) => label,
            Drawn::Dropped(_, reason) => format!("{label} ✕ {}", reason.as_str()),
            Drawn::Fading => format!("{label} (in flight)"),
        }
    }

    /// Writes a label along the arrow from `a` to `b`, at the first spot that does not
    /// cover an earlier label (the middle if none is free).
    #[allow(clippy::too_many_arguments)]
    fn arrow_label(
        &self,
        svg: &mut Svg,
        placed: &mut Vec<LabelBox>,
        label: &str,
        a: (f64, f64),
        b: (f64, f64),
        colour: &str,
        quorum: Option<&Vec<u64>>,
    ) {
        let width = label.chars().count() as f64 * LABEL_CHAR_PX;
        let at = |(f, dy): (f64, f64)| {
            let x = a.0 + (b.0 - a.0) * f;
            let y = a.1 + (b.1 - a.1) * f - 3.0 + dy;
            LabelBox {
                x0: x - width / 2.0,
                x1: x + width / 2.0,
                y0: y - LABEL_FONT_PX,
                y1: y + 1.0,
            }
        };
        // Along the arrow first, then nudged below it (and above) a line at a time.
        let along = [0.5, 0.38, 0.62, 0.26, 0.74, 0.15, 0.85];
        let nudges = [0.0, 12.0, -12.0, 24.0, 36.0];
        let chosen = nudges
            .iter()
            .flat_map(|dy| along.iter().map(move |f| (*f, *dy)))
            .map(at)
            .find(|bx| placed.iter().all(|p| !p.overlaps(bx)))
            .unwrap_or_else(|| at((0.5, 0.0)));
        placed.push(chosen);
        let weight = if quorum.is_some() {
            r#" font-weight="bold""#
        } else {
            ""
        };
        svg.text(
            (chosen.x0 + chosen.x1) / 2.0,
            chosen.y1 - 1.0,
            label,
            &format!(
                r#"text-anchor="middle" font-size="{}" fill="{colour}"{weight} paint-order="stroke" stroke="white" stroke-width="2.5""#,
                num(LABEL_FONT_PX)
            ),
        );
    }
}

/// A filled arrow head at the end of the line from `(x0, y0)` to `(x1, y1)`.
fn arrow_head(svg: &mut Svg, x0: f64, y0: f64, x1: f64, y1: f64, colour: &str, stroke_px: f64) {
    let (dx, dy) = (x1 - x0, y1 - y0);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let size = 7.0 + stroke_px;
    let (bx, by) = (x1 - ux * size, y1 - uy * size);
    let (px, py) = (-uy * size * 0.45, ux * size * 0.45);
    svg.raw(&format!(
        r#"<polygon points="{},{} {},{} {},{}" fill="{colour}"/>"#,
        num(x1),
        num(y1),
        num(bx + px),
        num(by + py),
        num(bx - px),
        num(by - py)
    ));
}

/// A ✕ centred on `(x, y)`.
pub(super) fn cross(svg: &mut Svg, x: f64, y: f64, r: f64, colour: &str) {
    let attrs = format!(r#"stroke="{colour}" stroke-width="2.5" stroke-linecap="round""#);
    svg.line(x - r, y - r, x + r, y + r, &attrs);
    svg.line(x - r, y + r, x + r, y - r, &attrs);
}
