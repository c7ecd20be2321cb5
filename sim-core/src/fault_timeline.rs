//! The faults really in force, moment by moment, read from the trace.
//!
//! A scenario scripts a story (isolate the leader for 8 s, then heal), but what a run went
//! through is what its trace says: a `--faults` file may heal the partition early, kill a
//! node of the majority, or stall a disk on top of the script. Story checks and liveness
//! bounds judge that run, not the script, so they read this timeline: when a side of the
//! cluster was really sealed off, when a quorum was really healthy, and when every fault
//! was really gone (a `heal-all` restarts dead nodes, but they are up only when their
//! `node-start` is recorded; a disk stall lasts its duration whatever op comes next).
//!
//! [`FaultState`] is the fold (one event at a time, so it can also run online);
//! [`FaultTimeline`] is the whole run cut into segments of constant state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::fault::FaultOp;
use crate::ids::NodeId;
use crate::network::Links;
use crate::time::SimTime;
use crate::trace::{EventKind, Trace, TraceEvent};

/// What is broken at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultState {
    /// Every node of the world (from `run-start`), for isolation.
    nodes: Vec<NodeId>,
    /// The partition and one-way cuts in force.
    links: Links,
    /// Nodes that are down (crashed, killed, powered off, or exited) and not started again.
    down: BTreeSet<NodeId>,
    /// Nodes that are paused.
    paused: BTreeSet<NodeId>,
    /// Disk stalls, by node: until when its fsyncs are held.
    stall_until: BTreeMap<NodeId, SimTime>,
    /// Nodes whose local clock is skewed (a non-zero `clock-skew`).
    skewed: BTreeSet<NodeId>,
    /// The loss probability set by a `loss` op (0 when none is in force).
    loss_probability: f64,
    /// A `latency` or `link-latency` op is in force (until `heal-all`; the run's default
    /// latency is not in the trace, so setting it back by hand still counts as changed).
    latency_changed: bool,
}

impl FaultState {
    /// A world of `nodes` with nothing broken.
    pub fn new(nodes: Vec<NodeId>) -> Self {
        FaultState {
            nodes,
            ..FaultState::default()
        }
    }

    /// Folds one event in (events that change no fault state are ignored).
    pub fn observe(&mut self, event: &TraceEvent) {
        match (&event.kind, event.node) {
            (EventKind::RunStart { nodes, .. }, _) => *self = FaultState::new(nodes.clone()),
            (EventKind::NodeCrash { .. }, Some(node)) => {
                self.down.insert(node);
                self.paused.remove(&node);
            }
            (EventKind::NodeStart { .. }, Some(node)) => {
                self.down.remove(&node);
                self.paused.remove(&node);
            }
            (EventKind::NodePause, Some(node)) => {
                self.paused.insert(node);
            }
            (EventKind::NodeResume, Some(node)) => {
                self.paused.remove(&node);
            }
            (EventKind::Fault { fault }, _) => self.apply(fault, event.t_us),
            _ => {}
        }
    }

    /// The part of a fault op the trace does not show by other events (node ops are seen
    /// through their `node-crash`, `node-start`, `node-pause` and `node-resume` events).
    fn apply(&mut self, op: &FaultOp, at: SimTime) {
        self.links.apply(op, &self.nodes);
        match op {
            FaultOp::Partition { .. }
            | FaultOp::Isolate { .. }
            | FaultOp::CutLink { .. }
            | FaultOp::RestoreLink { .. }
            | FaultOp::Heal => {}
            FaultOp::Latency { .. } | FaultOp::LinkLatency { .. } => self.latency_changed = true,
            FaultOp::Loss { probability } => self.loss_probability = *probability,
            FaultOp::DiskStall { node, duration_ms } => {
                let until = at.after(Duration::from_millis(*duration_ms));
                let slot = self.stall_until.entry(*node).or_insert(until);
                *slot = (*slot).max(until);
            }
            FaultOp::ClockSkew { node, skew_ms } => {
                if *skew_ms == 0 {
                    self.skewed.remove(node);
                } else {
                    self.skewed.insert(*node);
                }
            }
            FaultOp::HealAll => {
                self.latency_changed = false;
                self.loss_probability = 0.0;
                self.stall_until.clear();
                self.skewed.clear();
            }
            FaultOp::Kill { .. }
            | FaultOp::Restart { .. }
            | FaultOp::Pause { .. }
            | FaultOp::Resume { .. }
            | FaultOp::PowerFail { .. } => {}
        }
    }

    /// Forgets disk stalls that are over by `t`.
    fn expire_stalls(&mut self, t: SimTime) {
        self.stall_until.retain(|_, until| *until > t);
    }

    /// The earliest end of a disk stall still in force.
    fn next_stall_end(&self) -> Option<SimTime> {
        self.stall_until.values().copied().min()
    }

    /// Whether messages from `from` reach `to` (the partition and cuts only).
    pub fn link_up(&self, from: NodeId, to: NodeId) -> bool {
        self.links.is_up(from, to)
    }

    /// Whether the node is down.
    pub fn is_down(&self, node: NodeId) -> bool {
        self.down.contains(&node)
    }

    /// Whether the node is paused.
    pub fn is_paused(&self, node: NodeId) -> bool {
        self.paused.contains(&node)
    }

    /// Whether the node's fsyncs are stalled.
    pub fn is_stalled(&self, node: NodeId) -> bool {
        self.stall_until.contains_key(&node)
    }

    /// Whether the node is up, not paused, its disk not stalled and its clock not skewed.
    pub fn is_healthy(&self, node: NodeId) -> bool {
        !self.is_down(node)
            && !self.is_paused(node)
            && !self.is_stalled(node)
            && !self.skewed.contains(&node)
    }

    /// Whether no partition, cut link, loss or latency change is in force.
    pub fn network_whole(&self) -> bool {
        self.links_whole_and_lossless() && !self.latency_changed
    }

    /// Whether no partition, cut link or loss is in force (latency may be changed).
    pub fn links_whole_and_lossless(&self) -> bool {
        self.links == Links::default() && self.loss_probability == 0.0
    }

    /// Whether nothing at all is broken: the network is whole and every node healthy.
    pub fn is_calm(&self) -> bool {
        self.network_whole()
            && self.down.is_empty()
            && self.paused.is_empty()
            && self.stall_until.is_empty()
            && self.skewed.is_empty()
    }

    /// Whether no message crosses between `side` and the nodes of `others` not in it, in
    /// either direction: the side is sealed off from them.
    pub fn sealed(&self, side: &[NodeId], others: &[NodeId]) -> bool {
        side.iter().all(|a| {
            others
                .iter()
                .filter(|b| !side.contains(b))
                .all(|b| !self.link_up(*a, *b) && !self.link_up(*b, *a))
        })
    }

    /// Whether the nodes of `group` are healthy and all talk to each other both ways, and
    /// no message loss is in force.
    pub fn group_healthy(&self, group: &[NodeId]) -> bool {
        self.loss_probability == 0.0
            && group.iter().all(|n| self.is_healthy(*n))
            && group
                .iter()
                .all(|a| group.iter().all(|b| self.link_up(*a, *b)))
    }

    /// The largest set of healthy `voters` that all talk to each other both ways (ties: the
    /// one with the lowest node), if it is a majority of `voters` and no loss is in force:
    /// the precondition under which Raft promises a leader and commits.
    pub fn healthy_quorum(&self, voters: &[NodeId]) -> Option<Vec<NodeId>> {
        if self.loss_probability > 0.0 {
            return None;
        }
        let healthy: Vec<NodeId> = voters
            .iter()
            .copied()
            .filter(|n| self.is_healthy(*n))
            .collect();
        // Under a partition the nodes that talk both ways form cliques; with one-way cuts
        // they need not, so grow a clique greedily from each node and keep the largest. A
        // greedy clique may miss a larger one: that only ever under-reports a quorum, which
        // makes a liveness precondition stricter, never looser.
        let mut best: Option<Vec<NodeId>> = None;
        for &start in &healthy {
            let mut group = vec![start];
            for &n in &healthy {
                if n != start
                    && group
                        .iter()
                        .all(|g| self.link_up(*g, n) && self.link_up(n, *g))
                {
                    group.push(n);
                }
            }
            group.sort();
            if best.as_ref().is_none_or(|b| group.len() > b.len()) {
                best = Some(group);
            }
        }
        best.filter(|q| 2 * q.len() > voters.len())
    }
}

/// A stretch of the run with constant fault state: `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// When it began.
    pub start: SimTime,
    /// When the next began (the run's last event for the last one).
    pub end: SimTime,
    /// What was broken.
    pub state: FaultState,
}

/// A run cut into segments of constant fault state.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultTimeline {
    segments: Vec<Segment>,
}

impl FaultTimeline {
    /// Reads the timeline of a whole trace.
    pub fn of(trace: &Trace) -> Self {
        let end = trace.end_time();
        let mut segments: Vec<Segment> = vec![Segment {
            start: SimTime::ZERO,
            end,
            state: FaultState::default(),
        }];
        let mut state = FaultState::default();
        let push = |state: &FaultState, at: SimTime, segments: &mut Vec<Segment>| {
            let last = segments.last_mut().expect("one segment at least");
            if last.state == *state {
                return;
            }
            if last.start == at {
                last.state = state.clone();
            } else {
                last.end = at;
                segments.push(Segment {
                    start: at,
                    end,
                    state: state.clone(),
                });
            }
        };
        for event in &trace.events {
            while let Some(stall_end) = state.next_stall_end().filter(|t| *t <= event.t_us) {
                state.expire_stalls(stall_end);
                push(&state, stall_end, &mut segments);
            }
            if !changes_faults(&event.kind) {
                continue;
            }
            state.observe(event);
            push(&state, event.t_us, &mut segments);
        }
        while let Some(stall_end) = state.next_stall_end().filter(|t| *t <= end) {
            state.expire_stalls(stall_end);
            push(&state, stall_end, &mut segments);
        }
        // Merge neighbours that ended up equal (a segment replaced in place).
        segments.dedup_by(|b, a| {
            if a.state == b.state {
                a.end = b.end;
                true
            } else {
                false
            }
        });
        FaultTimeline { segments }
    }

    /// The segments, in time order, covering `[0, end of run)`.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        self.segments.last().map_or(SimTime::ZERO, |s| s.end)
    }

    /// The state in force at `t` (the last segment's after the end).
    pub fn at(&self, t: SimTime) -> &FaultState {
        let i = self.segments.partition_point(|s| s.start <= t);
        &self.segments[i.saturating_sub(1)].state
    }

    /// The maximal stretches `[start, end)` in which `holds` is true, in time order.
    pub fn windows(&self, holds: impl Fn(&FaultState) -> bool) -> Vec<(SimTime, SimTime)> {
        let mut out: Vec<(SimTime, SimTime)> = Vec::new();
        for s in &self.segments {
            if !holds(&s.state) {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 == s.start => last.1 = s.end,
                _ => out.push((s.start, s.end)),
            }
        }
        out
    }

    /// The first moment at or after `from` from which `holds` stays true for at least
    /// `for_ms` (or until the end of the run, if `to_end`), with the end of that stretch.
    pub fn first_window(
        &self,
        from: SimTime,
        for_ms: u64,
        holds: impl Fn(&FaultState) -> bool,
    ) -> Option<(SimTime, SimTime)> {
        self.windows(holds).into_iter().find_map(|(start, end)| {
            let start = start.max(from);
            (end > start && end.since(start) >= Duration::from_millis(for_ms))
                .then_some((start, end))
        })
    }

    /// When the final stretch in which `holds` is true began, if the run ends in one.
    pub fn holds_since(&self, holds: impl Fn(&FaultState) -> bool) -> Option<SimTime> {
        let end = self.end();
        self.windows(holds)
            .last()
            .filter(|(_, until)| *until == end)
            .map(|(since, _)| *since)
    }

    /// When every fault was gone for good (nothing broken from then to the end).
    pub fn calm_since(&self) -> Option<SimTime> {
        self.holds_since(FaultState::is_calm)
    }
}

/// The fault state is one of the observation layer's views: it folds the trace as it
/// grows (a supervisor with a [`crate::TraceCursor`]) or after the run.
impl crate::observe::Observer for FaultState {
    fn observe(&mut self, event: &TraceEvent) {
        FaultState::observe(self, event);
    }
}

/// Whether an event can change what is broken.
fn changes_faults(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::RunStart { .. }
            | EventKind::NodeCrash { .. }
            | EventKind::NodeStart { .. }
            | EventKind::NodePause
            | EventKind::NodeResume
            | EventKind::Fault { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EventId;
    use crate::trace::CrashCause;

    fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    /// A trace of `(ms, node, kind)` events over nodes n1..n5, ending at `end_ms`.
    fn trace(events: Vec<(u64, Option<u32>, EventKind)>, end_ms: u64) -> Trace {
        let mut all = vec![(
            0,
            None,
            EventKind::RunStart {
                seed: 1,
                nodes: (1..=5).map(n).collect(),
                directory: crate::Directory::numbered(5),
            },
        )];
        all.extend(events);
        all.push((end_ms, None, EventKind::RunEnd));
        Trace {
            events: all
                .into_iter()
                .enumerate()
                .map(|(i, (ms, node, kind))| TraceEvent {
                    id: EventId(i as u64),
                    t_us: SimTime::from_ms(ms),
                    node: node.map(n),
                    kind,
                })
                .collect(),
        }
    }

    fn fault(ms: u64, fault: FaultOp) -> (u64, Option<u32>, EventKind) {
        (ms, None, EventKind::Fault { fault })
    }

    fn crash(ms: u64, node: u32) -> (u64, Option<u32>, EventKind) {
        (
            ms,
            Some(node),
            EventKind::NodeCrash {
                cause: CrashCause::Kill,
                lost_bytes: 0,
                torn_bytes_kept: 0,
            },
        )
    }

    fn start(ms: u64, node: u32) -> (u64, Option<u32>, EventKind) {
        (ms, Some(node), EventKind::NodeStart { incarnation: 2 })
    }

    fn voters() -> Vec<NodeId> {
        (1..=5).map(n).collect()
    }

    #[test]
    fn a_partition_seals_a_side_until_the_heal() {
        let t = trace(
            vec![
                fault(
                    1000,
                    FaultOp::Partition {
                        groups: vec![vec![n(1), n(2)], vec![n(3), n(4), n(5)]],
                    },
                ),
                fault(3000, FaultOp::Heal),
            ],
            5000,
        );
        let timeline = FaultTimeline::of(&t);
        let sealed = timeline.windows(|s| s.sealed(&[n(1), n(2)], &voters()));
        assert_eq!(
            sealed,
            vec![(SimTime::from_ms(1000), SimTime::from_ms(3000))]
        );
        assert_eq!(
            timeline
                .at(SimTime::from_ms(2000))
                .healthy_quorum(&voters()),
            Some(vec![n(3), n(4), n(5)])
        );
        assert_eq!(timeline.calm_since(), Some(SimTime::from_ms(3000)));
    }

    #[test]
    fn heal_all_is_calm_only_when_the_restarted_node_is_up() {
        let t = trace(
            vec![
                crash(1000, 3),
                fault(2000, FaultOp::HealAll),
                start(2100, 3),
            ],
            4000,
        );
        let timeline = FaultTimeline::of(&t);
        assert_eq!(timeline.calm_since(), Some(SimTime::from_ms(2100)));
        // Four of five healthy is still a quorum.
        assert!(timeline
            .at(SimTime::from_ms(1500))
            .healthy_quorum(&voters())
            .is_some());
    }

    #[test]
    fn a_disk_stall_lasts_its_duration_whatever_comes_next() {
        let t = trace(
            vec![
                fault(
                    1000,
                    FaultOp::DiskStall {
                        node: n(1),
                        duration_ms: 3000,
                    },
                ),
                fault(1500, FaultOp::Heal),
            ],
            6000,
        );
        let timeline = FaultTimeline::of(&t);
        assert!(timeline.at(SimTime::from_ms(3999)).is_stalled(n(1)));
        assert!(!timeline.at(SimTime::from_ms(4000)).is_stalled(n(1)));
        assert_eq!(timeline.calm_since(), Some(SimTime::from_ms(4000)));
    }

    #[test]
    fn an_early_heal_ends_the_seal_and_a_majority_kill_ends_the_quorum() {
        let t = trace(
            vec![
                fault(1000, FaultOp::Isolate { node: n(1) }),
                crash(1200, 2),
                crash(1300, 3),
                fault(1500, FaultOp::Heal),
            ],
            3000,
        );
        let timeline = FaultTimeline::of(&t);
        assert_eq!(
            timeline.windows(|s| s.sealed(&[n(1)], &voters())),
            vec![(SimTime::from_ms(1000), SimTime::from_ms(1500))]
        );
        // n2 and n3 are down: n1 + n4 + n5 talk again only after the heal.
        assert_eq!(
            timeline.first_window(SimTime::from_ms(1000), 1000, |s| s
                .healthy_quorum(&voters())
                .is_some()),
            Some((SimTime::from_ms(1500), SimTime::from_ms(3000)))
        );
        assert_eq!(timeline.calm_since(), None, "two nodes stay down");
    }

    #[test]
    fn one_way_cuts_break_a_quorum_into_cliques() {
        let t = trace(
            vec![
                fault(
                    1000,
                    FaultOp::CutLink {
                        from: n(1),
                        to: n(2),
                    },
                ),
                fault(
                    1000,
                    FaultOp::CutLink {
                        from: n(3),
                        to: n(4),
                    },
                ),
            ],
            2000,
        );
        let q = FaultTimeline::of(&t)
            .at(SimTime::from_ms(1500))
            .healthy_quorum(&voters());
        // n1-n2 and n3-n4 do not talk both ways: the largest clique is three nodes.
        assert_eq!(q, Some(vec![n(1), n(3), n(5)]));
    }
}
