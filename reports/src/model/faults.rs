//! The fold of fault ops into fault spans, and of the network faults among them into the
//! partition in force over time.

use std::collections::BTreeMap;

use sim_core::{EventKind, FaultOp, NodeId, Trace};

use super::{fault_label, node_set, FaultSpan, PartitionPeriod, RunModel};

impl RunModel {
    pub(super) fn fold_faults(&mut self, trace: &Trace) {
        let end = self.end_us;
        // Open spans by what ends them.
        let mut network: Option<usize> = None; // partition / isolate
        let mut links: BTreeMap<(NodeId, NodeId), usize> = BTreeMap::new();
        let mut down: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new(); // kill / power-fail
                                                                      // Nodes of each kill / power-fail still down: the span ends when the last is back.
        let mut still_down: BTreeMap<usize, usize> = BTreeMap::new();
        let mut paused: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut skew: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut latency: Option<usize> = None;
        let mut link_latency: BTreeMap<(NodeId, NodeId), usize> = BTreeMap::new();
        let mut loss: Option<usize> = None;

        for event in &trace.events {
            let t = event.t_us.0;
            let close = |faults: &mut Vec<FaultSpan>, i: Option<usize>| {
                if let Some(i) = i {
                    faults[i].end_us = t;
                    faults[i].end_event = Some(event.id);
                }
            };
            match &event.kind {
                EventKind::NodeStart { .. } => {
                    if let Some(node) = event.node {
                        for i in down.remove(&node).unwrap_or_default() {
                            let left = still_down.entry(i).or_insert(1);
                            *left -= 1;
                            if *left == 0 {
                                close(&mut self.faults, Some(i));
                            }
                        }
                    }
                    continue;
                }
                EventKind::NodeResume => {
                    if let Some(node) = event.node {
                        close(&mut self.faults, paused.remove(&node));
                    }
                    continue;
                }
                EventKind::Fault { .. } => {}
                _ => continue,
            }
            let EventKind::Fault { fault } = &event.kind else {
                continue;
            };
            let span = |end_us: u64| FaultSpan {
                kind: fault.name(),
                label: fault_label(fault, &self.directory),
                nodes: fault.nodes(),
                op: fault.clone(),
                start_us: t,
                end_us,
                start_event: event.id,
                end_event: None,
            };
            let index = self.faults.len();
            match fault {
                FaultOp::Partition { .. } | FaultOp::Isolate { .. } => {
                    close(&mut self.faults, network.take());
                    network = Some(index);
                    self.faults.push(span(end));
                }
                FaultOp::CutLink { from, to } => {
                    close(&mut self.faults, links.remove(&(*from, *to)));
                    links.insert((*from, *to), index);
                    self.faults.push(span(end));
                }
                FaultOp::RestoreLink { from, to } => {
                    close(&mut self.faults, links.remove(&(*from, *to)));
                }
                FaultOp::Heal => {
                    close(&mut self.faults, network.take());
                    for (_, i) in std::mem::take(&mut links) {
                        close(&mut self.faults, Some(i));
                    }
                }
                FaultOp::HealAll => {
                    close(&mut self.faults, network.take());
                    for (_, i) in std::mem::take(&mut links) {
                        close(&mut self.faults, Some(i));
                    }
                    for (_, i) in std::mem::take(&mut skew) {
                        close(&mut self.faults, Some(i));
                    }
                    // Paused and down nodes end at their resume / start events, which
                    // heal-all causes right after this one.
                }
                FaultOp::Latency { .. } => {
                    close(&mut self.faults, latency.take());
                    latency = Some(index);
                    self.faults.push(span(end));
                }
                FaultOp::LinkLatency { from, to, .. } => {
                    close(&mut self.faults, link_latency.remove(&(*from, *to)));
                    link_latency.insert((*from, *to), index);
                    self.faults.push(span(end));
                }
                FaultOp::Loss { probability } => {
                    close(&mut self.faults, loss.take());
                    if *probability > 0.0 {
                        loss = Some(index);
                        self.faults.push(span(end));
                    }
                }
                FaultOp::Kill { node } => {
                    down.entry(*node).or_default().push(index);
                    still_down.insert(index, 1);
                    self.faults.push(span(end));
                }
                FaultOp::PowerFail { nodes, .. } => {
                    for node in nodes {
                        down.entry(*node).or_default().push(index);
                    }
                    still_down.insert(index, nodes.len());
                    self.faults.push(span(end));
                }
                FaultOp::Restart { .. } => {
                    // A restart of a down node ends its outage through the node-start
                    // event; of a running node it is an instant (kill and start).
                    self.faults.push(span(t));
                }
                FaultOp::Pause { node } => {
                    close(&mut self.faults, paused.remove(node));
                    paused.insert(*node, index);
                    self.faults.push(span(end));
                }
                FaultOp::Resume { node } => {
                    close(&mut self.faults, paused.remove(node));
                }
                FaultOp::DiskStall { duration_ms, .. } => {
                    self.faults
                        .push(span((t + duration_ms.saturating_mul(1000)).min(end)));
                }
                FaultOp::ClockSkew { node, skew_ms } => {
                    close(&mut self.faults, skew.remove(node));
                    if *skew_ms != 0 {
                        skew.insert(*node, index);
                        self.faults.push(span(end));
                    }
                }
            }
        }
        self.fold_partitions();
    }

    pub(super) fn fold_partitions(&mut self) {
        // Walk the network faults in time order, keeping the current shape.
        let mut changes: Vec<(u64, usize)> = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            if matches!(
                f.op,
                FaultOp::Partition { .. } | FaultOp::Isolate { .. } | FaultOp::CutLink { .. }
            ) {
                changes.push((f.start_us, i));
                changes.push((f.end_us, i));
            }
        }
        let mut times: Vec<u64> = changes.iter().map(|c| c.0).collect();
        times.sort_unstable();
        times.dedup();
        let mut periods: Vec<PartitionPeriod> = Vec::new();
        for window in times.windows(2) {
            let (start, stop) = (window[0], window[1]);
            let active: Vec<&FaultSpan> = self
                .faults
                .iter()
                .filter(|f| {
                    matches!(
                        f.op,
                        FaultOp::Partition { .. }
                            | FaultOp::Isolate { .. }
                            | FaultOp::CutLink { .. }
                    ) && f.start_us <= start
                        && start < f.end_us
                })
                .collect();
            if active.is_empty() {
                continue;
            }
            let mut groups = Vec::new();
            let mut cut_links = Vec::new();
            for f in &active {
                match &f.op {
                    FaultOp::Partition { groups: g } => groups = g.clone(),
                    FaultOp::Isolate { node } => {
                        let rest: Vec<NodeId> =
                            self.nodes.iter().copied().filter(|n| n != node).collect();
                        groups = vec![vec![*node], rest];
                    }
                    FaultOp::CutLink { from, to } => cut_links.push((*from, *to)),
                    _ => {}
                }
            }
            let mut label = groups
                .iter()
                .map(|g| node_set(g, &self.directory))
                .collect::<Vec<_>>()
                .join(" | ");
            for (from, to) in &cut_links {
                if !label.is_empty() {
                    label.push_str(", ");
                }
                let (from, to) = (self.name(*from), self.name(*to));
                label.push_str(&format!("{from}-x->{to}"));
            }
            match periods.last_mut() {
                Some(last)
                    if last.end_us == start
                        && last.groups == groups
                        && last.cut_links == cut_links =>
                {
                    last.end_us = stop;
                }
                _ => periods.push(PartitionPeriod {
                    start_us: start,
                    end_us: stop,
                    groups,
                    cut_links,
                    label,
                }),
            }
        }
        self.partitions = periods;
    }
}
