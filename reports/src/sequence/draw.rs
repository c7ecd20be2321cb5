//! The SVG document and what lies under the arrows: title, legend, partition bands, the
//! time axis, lifelines, role bars and fault marks. The arrows and marks over them are in
//! `arrows.rs` and `marks.rs`.

use raft::core::Role;

use super::arrows::cross;
use super::label::seconds;
use super::scale::TimeScale;
use super::view::View;
use super::{AXIS_PX, DROP_COLOUR, FOOTER_PX, GAP_MARK_US, HEADER_PX, LANE_PX, QUORUM_COLOUR};
use crate::model::{format_ms, OutageKind};
use crate::palette;
use crate::svg::{escape, num, Svg};

impl View<'_> {
    pub(super) fn svg(&self, note: &str) -> String {
        let scale = TimeScale::new(self.instants(), HEADER_PX + 16.0);
        let bottom = scale.bottom() + 16.0;
        let width = AXIS_PX + self.nodes.len() as f64 * LANE_PX + 24.0;
        let height = bottom + FOOTER_PX;
        let mut svg = Svg::new(width, height);
        let right = width - 12.0;

        svg.text(
            12.0,
            22.0,
            &format!("Sequence diagram · seed {}", self.model.seed),
            r#"font-size="16" font-weight="bold""#,
        );
        svg.text(12.0, 40.0, note, r##"fill="#444""##);
        self.legend(&mut svg, 58.0);

        self.partition_bands(&mut svg, &scale, right, bottom);
        self.time_axis(&mut svg, &scale);
        self.lifelines(&mut svg, &scale, bottom);
        let role_labels = self.role_bars(&mut svg, &scale);
        self.fault_marks(&mut svg, &scale, right);
        self.arrows(&mut svg, &scale, bottom);
        // Role labels over the arrows: who leads must never be hidden.
        for label in role_labels {
            svg.raw(&label);
        }
        self.commit_marks(&mut svg, &scale);
        self.op_marks(&mut svg, &scale);
        svg.finish()
    }

    fn legend(&self, svg: &mut Svg, y: f64) {
        let mut x = 12.0;
        let mut item = |svg: &mut Svg, draw: &dyn Fn(&mut Svg, f64), text: &str| {
            draw(svg, x);
            svg.text(x + 30.0, y + 4.0, text, r##"fill="#333""##);
            x += 30.0 + text.chars().count() as f64 * 6.6 + 22.0;
        };
        item(
            svg,
            &|s, x| s.line(x, y, x + 24.0, y, r##"stroke="#555" stroke-width="1.2""##),
            "message",
        );
        item(
            svg,
            &|s, x| {
                s.line(
                    x,
                    y,
                    x + 24.0,
                    y,
                    &format!(r#"stroke="{QUORUM_COLOUR}" stroke-width="3""#),
                )
            },
            "ack that completed a commit quorum",
        );
        item(
            svg,
            &|s, x| {
                s.line(x, y, x + 14.0, y, &format!(r#"stroke="{DROP_COLOUR}""#));
                cross(s, x + 18.0, y, 4.5, DROP_COLOUR);
            },
            "dropped (reason)",
        );
        item(
            svg,
            &|s, x| {
                s.rect(
                    x + 8.0,
                    y - 7.0,
                    9.0,
                    14.0,
                    &format!(r#"fill="{}""#, palette::term(1).hex()),
                )
            },
            "leader of a term",
        );
        item(
            svg,
            &|s, x| {
                s.rect(
                    x,
                    y - 7.0,
                    24.0,
                    14.0,
                    r##"fill="#e74c3c" fill-opacity="0.12" stroke="#e74c3c" stroke-dasharray="3 2""##,
                )
            },
            "network partition",
        );
        svg.text(
            12.0,
            y + 24.0,
            "Time flows down; rows keep the order of events, gaps grow with the log of the time between them.",
            r##"fill="#666" font-size="11""##,
        );
    }

    fn partition_bands(&self, svg: &mut Svg, scale: &TimeScale, right: f64, bottom: f64) {
        for p in &self.model.partitions {
            let Some((s, e)) = self.clip(p.start_us, p.end_us) else {
                continue;
            };
            let (y0, y1) = (
                scale.y(s),
                if e >= self.to_us { bottom } else { scale.y(e) },
            );
            svg.raw(&format!(
                r#"<g class="band partition" data-start-us="{}" data-end-us="{}" data-groups="{}">"#,
                p.start_us,
                p.end_us,
                escape(&p.label)
            ));
            svg.rect(
                AXIS_PX - 6.0,
                y0,
                right - AXIS_PX + 6.0,
                y1 - y0,
                r##"fill="#e74c3c" fill-opacity="0.07""##,
            );
            for y in [y0, y1] {
                svg.line(
                    AXIS_PX - 6.0,
                    y,
                    right,
                    y,
                    r##"stroke="#e74c3c" stroke-width="1" stroke-dasharray="5 3""##,
                );
            }
            // A wall between neighbouring lifelines on different sides of the cut.
            for pair in self.nodes.windows(2) {
                if p.blocks(pair[0], pair[1]) || p.blocks(pair[1], pair[0]) {
                    let x = (self.lane_x(pair[0]) + self.lane_x(pair[1])) / 2.0;
                    svg.line(
                        x,
                        y0,
                        x,
                        y1,
                        r##"stroke="#e74c3c" stroke-width="2.5" stroke-dasharray="8 5" stroke-opacity="0.7""##,
                    );
                }
            }
            // Which side each lifeline is on.
            for n in self.nodes {
                if let Some(g) = p.groups.iter().position(|g| g.contains(n)) {
                    let letter = char::from(b'A' + (g % 26) as u8);
                    svg.text(
                        self.lane_x(*n) + 6.0,
                        y0 + 28.0,
                        &format!("side {letter}"),
                        r##"fill="#c0392b" font-size="10" font-style="italic" paint-order="stroke" stroke="white" stroke-width="2.5""##,
                    );
                }
            }
            let since = if p.start_us < self.from_us {
                format!(" (since {})", seconds(p.start_us))
            } else {
                String::new()
            };
            let healed = if p.end_us <= self.to_us {
                format!(", healed at {}", seconds(p.end_us))
            } else {
                String::new()
            };
            svg.text(
                AXIS_PX,
                y0 + 13.0,
                &format!("partition {}{since}{healed}", p.label),
                r##"fill="#c0392b" font-weight="bold" font-size="12" paint-order="stroke" stroke="white" stroke-width="3""##,
            );
            svg.raw("</g>");
        }
    }

    fn time_axis(&self, svg: &mut Svg, scale: &TimeScale) {
        svg.line(
            AXIS_PX - 14.0,
            HEADER_PX + 10.0,
            AXIS_PX - 14.0,
            scale.bottom() + 10.0,
            r##"stroke="#999""##,
        );
        let mut last_label_y = f64::MIN;
        let mut last_text = String::new();
        for (i, t) in scale.times.iter().enumerate() {
            let y = scale.ys[i];
            if i > 0 {
                let dt = t - scale.times[i - 1];
                if dt > GAP_MARK_US {
                    let mid = (scale.ys[i - 1] + y) / 2.0;
                    // A break in the axis: the gap is compressed.
                    svg.line(
                        AXIS_PX - 20.0,
                        mid - 2.0,
                        AXIS_PX - 8.0,
                        mid - 6.0,
                        r##"stroke="#999""##,
                    );
                    svg.line(
                        AXIS_PX - 20.0,
                        mid + 4.0,
                        AXIS_PX - 8.0,
                        mid,
                        r##"stroke="#999""##,
                    );
                    svg.text(
                        AXIS_PX - 24.0,
                        mid + 4.0,
                        &format!("+{} ms", format_ms(dt)),
                        r##"text-anchor="end" fill="#888" font-size="10" font-style="italic""##,
                    );
                }
            }
            let text = seconds(*t);
            if y - last_label_y >= 24.0 && text != last_text {
                svg.line(AXIS_PX - 17.0, y, AXIS_PX - 11.0, y, r##"stroke="#999""##);
                svg.text(
                    AXIS_PX - 20.0,
                    y + 3.5,
                    &text,
                    r##"text-anchor="end" fill="#555" font-size="10""##,
                );
                last_label_y = y;
                last_text = text;
            }
        }
    }

    fn lifelines(&self, svg: &mut Svg, scale: &TimeScale, bottom: f64) {
        let top = HEADER_PX + 4.0;
        for node in self.nodes {
            let x = self.lane_x(*node);
            let client = !self.model.servers.contains(node);
            let name = self.model.name(*node).to_string();
            let (fill, stroke) = if client {
                ("#eef7ee", "#4a8f4a")
            } else {
                ("#eef3fb", "#4a6fa5")
            };
            svg.raw(&format!(
                r#"<g class="lifeline" data-node="{node}" data-client="{client}">"#
            ));
            svg.line(x, top, x, bottom, r##"stroke="#bbb" stroke-width="1.5""##);
            for y in [top - 26.0, bottom] {
                svg.rect(
                    x - 48.0,
                    y,
                    96.0,
                    24.0,
                    &format!(r#"rx="5" fill="{fill}" stroke="{stroke}""#),
                );
                svg.text(
                    x,
                    y + 16.0,
                    &name,
                    r#"text-anchor="middle" font-weight="bold""#,
                );
            }
            // Down or paused: the lifeline is dashed grey.
            for o in self.model.outages.iter().filter(|o| o.node == *node) {
                let Some((s, e)) = self.clip(o.start_us, o.end_us) else {
                    continue;
                };
                let (y0, y1) = (scale.y(s), scale.y(e).max(scale.y(s) + 4.0));
                svg.rect(x - 3.0, y0, 6.0, y1 - y0, r#"fill="white""#);
                svg.line(
                    x,
                    y0,
                    x,
                    y1,
                    r##"stroke="#888" stroke-width="2" stroke-dasharray="2 4""##,
                );
                let word = match o.kind {
                    OutageKind::Down => "down",
                    OutageKind::Paused => "paused",
                };
                svg.text(
                    x + 6.0,
                    y0 + 12.0,
                    word,
                    r##"fill="#777" font-style="italic""##,
                );
            }
            svg.raw("</g>");
        }
    }

    /// Draws the role bars; returns their labels, to be written over the arrows.
    fn role_bars(&self, svg: &mut Svg, scale: &TimeScale) -> Vec<String> {
        let mut labels = Vec::new();
        for r in &self.model.roles {
            if !self.lane.contains_key(&r.node) {
                continue;
            }
            let Some((s, e)) = self.clip(r.start_us, r.end_us) else {
                continue;
            };
            let x = self.lane_x(r.node);
            let (y0, y1) = (scale.y(s), scale.y(e).max(scale.y(s) + 3.0));
            let attrs = format!(
                r#"data-node="{}" data-term="{}" data-start-us="{}" data-end-us="{}""#,
                r.node, r.term, r.start_us, r.end_us
            );
            match r.role {
                Role::Leader => {
                    let colour = palette::term(r.term).hex();
                    svg.raw(&format!(r#"<g class="band leader" {attrs}>"#));
                    svg.rect(
                        x - 5.0,
                        y0,
                        10.0,
                        y1 - y0,
                        &format!(r#"fill="{colour}" fill-opacity="0.85""#),
                    );
                    svg.raw("</g>");
                    labels.push(format!(
                        r#"<text x="{}" y="{}" fill="{colour}" font-weight="bold" font-size="13" paint-order="stroke" stroke="white" stroke-width="3.5">leader t{}</text>"#,
                        num(x + 8.0),
                        num(y0 + 13.0),
                        r.term
                    ));
                }
                Role::Candidate | Role::PreCandidate => {
                    let word = if r.role == Role::Candidate {
                        "candidate"
                    } else {
                        "pre-candidate"
                    };
                    svg.raw(&format!(r#"<g class="band {word}" {attrs}>"#));
                    svg.rect(
                        x - 4.0,
                        y0,
                        8.0,
                        y1 - y0,
                        r##"fill="white" stroke="#e67e22" stroke-width="1.5""##,
                    );
                    svg.raw("</g>");
                    labels.push(format!(
                        r##"<text x="{}" y="{}" fill="#d35400" font-style="italic" paint-order="stroke" stroke="white" stroke-width="3">{word} t{}</text>"##,
                        num(x + 8.0),
                        num(y0 + 12.0),
                        r.term
                    ));
                }
                Role::Follower => {}
            }
        }
        labels
    }

    fn fault_marks(&self, svg: &mut Svg, scale: &TimeScale, right: f64) {
        for f in &self.model.faults {
            if matches!(f.kind, "partition" | "isolate" | "cut-link") {
                continue; // drawn as bands
            }
            let Some((s, _)) = self.clip(f.start_us, f.end_us) else {
                continue;
            };
            let y = scale.y(s);
            let x = f
                .nodes
                .iter()
                .find(|n| self.lane.contains_key(n))
                .map_or(AXIS_PX, |n| self.lane_x(*n) + 8.0);
            svg.raw(&format!(
                r#"<g class="fault" data-kind="{}" data-start-us="{}" data-end-us="{}">"#,
                f.kind, f.start_us, f.end_us
            ));
            svg.line(
                AXIS_PX - 6.0,
                y,
                right,
                y,
                r##"stroke="#8e44ad" stroke-dasharray="2 3" stroke-opacity="0.6""##,
            );
            let since = if f.start_us < self.from_us {
                format!(" (since {})", seconds(f.start_us))
            } else {
                String::new()
            };
            svg.text(
                x,
                y - 4.0,
                &format!("⚡ {}{since}", f.label),
                r##"fill="#8e44ad" font-weight="bold" paint-order="stroke" stroke="white" stroke-width="3""##,
            );
            svg.raw("</g>");
        }
    }
}
