//! Where each node sits in a panel: one column per group, the cut between them. The same
//! positions serve every panel, so the eye follows a node across them.

use std::collections::BTreeMap;

use sim_core::NodeId;

use super::{PANEL_PX, ROW_PX, TITLE_PX};
use crate::model::RunModel;

/// Where each node sits in a panel (the same in every panel).
#[derive(Debug)]
pub(super) struct Layout {
    /// Centre of each node.
    pub(super) at: BTreeMap<NodeId, (f64, f64)>,
    /// Whether a node's text goes left of it (first group) or right.
    pub(super) text_left: BTreeMap<NodeId, bool>,
    /// x of the cut between neighbouring groups.
    pub(super) cuts_x: Vec<f64>,
    /// x of each group's column centre.
    pub(super) columns_x: Vec<f64>,
    /// y below the lowest node.
    pub(super) bottom: f64,
}

pub(super) fn layout(model: &RunModel, groups: &[Vec<NodeId>]) -> Layout {
    let top = TITLE_PX + 120.0;
    let column_w = PANEL_PX / groups.len().max(1) as f64;
    let mut at = BTreeMap::new();
    let mut text_left = BTreeMap::new();
    let mut circles_x = Vec::new();
    let mut columns_x = Vec::new();
    let mut bottom: f64 = top;
    for (i, group) in groups.iter().enumerate() {
        let left = i == 0 && groups.len() > 1;
        let x = if left {
            column_w * (i as f64 + 1.0) - 70.0
        } else {
            column_w * i as f64 + 70.0
        };
        circles_x.push(x);
        columns_x.push(column_w * (i as f64 + 0.5));
        let mut y = top;
        for n in group.iter().filter(|n| model.servers.contains(n)) {
            at.insert(*n, (x, y));
            text_left.insert(*n, left);
            y += ROW_PX;
        }
        for n in group.iter().filter(|n| !model.servers.contains(n)) {
            at.insert(*n, (x, y - 14.0));
            text_left.insert(*n, left);
            y += 34.0;
        }
        bottom = bottom.max(y);
    }
    let cuts_x = circles_x.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    Layout {
        at,
        text_left,
        cuts_x,
        columns_x,
        bottom,
    }
}
