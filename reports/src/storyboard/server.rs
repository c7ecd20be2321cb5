//! One server's card in a panel: its circle coloured by role and term, its name, role,
//! commit index and the entry there; grey when down or paused.

use raft::core::Role;

use super::{Panel, ServerCard, NODE_R_PX};
use crate::model::RunModel;
use crate::palette;
use crate::state::Liveness;
use crate::svg::{num, Svg};

pub(super) fn server(
    svg: &mut Svg,
    model: &RunModel,
    p: &Panel,
    card: &ServerCard,
    (x, y): (f64, f64),
    text_left: bool,
    conflict: Option<&String>,
) {
    let leader = p.leaders.iter().any(|(n, _)| *n == card.node);
    let up = card.liveness == Liveness::Up;
    svg.raw(&format!(
        r#"<g class="server" data-node="{}" data-role="{}" data-term="{}" data-commit="{}" data-liveness="{}">"#,
        card.node,
        card.role.map_or("none", raft::core::Role::as_str),
        card.term,
        card.commit,
        card.liveness.as_str()
    ));
    let term_fill = palette::term(card.term).hex();
    let (fill, stroke, stroke_px) = if !up {
        ("#d5d8dc", "#999", 1.5)
    } else if leader {
        (term_fill.as_str(), "#f1c40f", 5.0)
    } else {
        match card.role {
            Some(Role::Candidate) | Some(Role::PreCandidate) => ("#fdebd0", "#e67e22", 2.0),
            _ => ("#eaf1fb", "#4a6fa5", 1.5),
        }
    };
    svg.circle(
        x,
        y,
        NODE_R_PX,
        &format!(
            r#"fill="{fill}" stroke="{stroke}" stroke-width="{}""#,
            num(stroke_px)
        ),
    );
    // The node's name inside its circle: a long name (`etcd-3`) in a smaller font, so it
    // stays inside the 40 px disc.
    let name = model.name(card.node).to_string();
    let font_px = match name.chars().count() {
        0..=3 => 12,
        4..=5 => 10,
        _ => 9,
    };
    svg.text(
        x,
        y + 4.0,
        &name,
        &format!(
            r#"text-anchor="middle" font-weight="bold" font-size="{font_px}" fill="{}""#,
            if leader && up { "white" } else { "#222" }
        ),
    );
    let role_text = if !up {
        card.liveness.as_str().to_string()
    } else {
        match card.role {
            Some(Role::Leader) => format!("leader t{}", card.term),
            Some(r) => format!("{} t{}", r.as_str(), card.term),
            None => format!("t{}", card.term),
        }
    };
    let committed = match &card.committed {
        Some(e) => format!("commit {} · t{} #{}", card.commit, e.term, e.digest),
        None if card.commit == 0 => "commit 0 · nothing yet".to_string(),
        None => format!("commit {} · (compacted)", card.commit),
    };
    let tx = if text_left {
        x - NODE_R_PX - 8.0
    } else {
        x + NODE_R_PX + 8.0
    };
    let anchor = if text_left {
        r#" text-anchor="end""#
    } else {
        ""
    };
    let role_colour = if !up {
        "#888".to_string()
    } else if leader {
        palette::term(card.term).hex()
    } else {
        "#333".to_string()
    };
    svg.text(
        tx,
        y - 5.0,
        &role_text,
        &format!(
            r#"fill="{role_colour}"{anchor}{}"#,
            if leader {
                r#" font-weight="bold" font-size="13""#
            } else {
                ""
            }
        ),
    );
    svg.text(
        tx,
        y + 11.0,
        &committed,
        &format!(
            r##"fill="{}" font-size="11"{anchor}"##,
            if up { "#444" } else { "#999" }
        ),
    );
    if let Some(text) = conflict {
        svg.text(
            tx,
            y + 26.0,
            text,
            &format!(
                r#"fill="{}" font-size="11" font-weight="bold"{anchor}"#,
                "#c0392b"
            ),
        );
    }
    svg.raw("</g>");
}
