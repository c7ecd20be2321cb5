//! The cluster as the trace shows it so far: each member's liveness, role and term, the
//! leader of each term, every leadership period, commits and membership.
//!
//! One fold over the trace ([`sim_core::Observer`]), so a supervisor that polls "who leads
//! now?" ([`ClusterView::leader`]), a post-run analysis ("who led at 3.2 s?",
//! [`ClusterView::leader_at`] after folding up to then) and a check read the same facts
//! the same way. A supervisor keeps one view for the whole run and folds only what is new
//! at each poll ([`sim_core::World::observe`] with a [`sim_core::TraceCursor`]), so a poll
//! costs the events since the last one, not the whole trace.
//!
//! Everything here comes from the trace: the Raft driver's typed events
//! ([`crate::events::RaftEvent`]) and sim-core's node events (start, crash, pause,
//! resume). Nothing reads the Raft code it describes.
//!
//! Logs are not kept here: a supervisor polls the view many times a run, and copying every
//! appended entry's digest would cost every scenario for a reader none has. The checks that
//! compare logs fold [`crate::checks::DurableLogs`], the same way, on their own.

use std::collections::BTreeMap;

use sim_core::{EventId, EventKind, NodeId, Observer, SimTime, TraceEvent};

use crate::core::Role;
use crate::events::RaftEvent;

/// One member as the trace shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberView {
    /// Running (started and not crashed since); a paused member is running.
    pub running: bool,
    /// Paused (running, but its tasks are not polled).
    pub paused: bool,
    /// Its role and term, as its last role change said (none before the first one and
    /// after a crash, until it says again).
    pub role: Option<(Role, u64)>,
    /// The highest commit index it reported (kept across restarts: it is durable).
    pub commit: u64,
    /// The voters of its latest membership (empty before its first membership event).
    pub voters: Vec<NodeId>,
}

impl MemberView {
    /// The term it leads now, if it is up (running, not paused) and its last role is
    /// leader.
    pub fn leads(&self) -> Option<u64> {
        match self.role {
            Some((Role::Leader, term)) if self.running && !self.paused => Some(term),
            _ => None,
        }
    }
}

/// One leadership period: `node` led `term` from `from` until `to` (none: still leading
/// when the trace ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderPeriod {
    /// The leader.
    pub node: NodeId,
    /// Its term.
    pub term: u64,
    /// When it became leader.
    pub from: SimTime,
    /// When it stopped (changed role or crashed).
    pub to: Option<SimTime>,
}

/// One stretch of a member in one role: from its role event until the next one, or its
/// crash (none: still so when the trace ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleStretch {
    /// The member.
    pub node: NodeId,
    /// Its role.
    pub role: Role,
    /// Its term.
    pub term: u64,
    /// The leader it knew of.
    pub leader: Option<NodeId>,
    /// When it began (the role event).
    pub from: SimTime,
    /// The role event that began it.
    pub event: EventId,
    /// When it ended.
    pub to: Option<SimTime>,
}

/// Down (killed, powered off, exited) or paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageKind {
    /// Not running; ends when it starts again.
    Down,
    /// Paused; ends when it resumes (or turns into `Down` if it is killed meanwhile).
    Paused,
}

/// A stretch in which a node was not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// The node.
    pub node: NodeId,
    /// Down or paused.
    pub kind: OutageKind,
    /// When it began.
    pub from: SimTime,
    /// When it ended (none: still so when the trace ends).
    pub to: Option<SimTime>,
}

/// See the module docs.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    members: BTreeMap<NodeId, MemberView>,
    /// Every role stretch, in the order they began.
    stretches: Vec<RoleStretch>,
    /// Each member's open stretch (an index into `stretches`).
    open_stretch: BTreeMap<NodeId, usize>,
    /// Every outage, in the order they began.
    outages: Vec<Outage>,
    open_outage: BTreeMap<NodeId, usize>,
    /// The first leader of each term (two would break election safety).
    term_leaders: BTreeMap<u64, NodeId>,
    /// The time of the last event folded.
    now: SimTime,
}

impl ClusterView {
    /// A view before the first event.
    pub fn new() -> Self {
        ClusterView::default()
    }

    /// The view of `events` up to and including time `t`.
    pub fn at(events: &[TraceEvent], t: SimTime) -> Self {
        let mut view = ClusterView::new();
        for e in events.iter().take_while(|e| e.t_us <= t) {
            view.observe(e);
        }
        view
    }

    /// The view of all of `events`.
    pub fn of(events: &[TraceEvent]) -> Self {
        ClusterView::at(events, SimTime(u64::MAX))
    }

    /// The leader of the highest term, if it is up (running, not paused): what a supervisor
    /// means by "the leader now". A paused leader of the highest term means no leader,
    /// even if a stale leader of an older term still thinks it leads.
    pub fn leader(&self) -> Option<(NodeId, u64)> {
        let (node, term) = self.leader_by_role()?;
        let member = &self.members[&node];
        (member.running && !member.paused).then_some((node, term))
    }

    /// The leader of the highest term among the members whose last role is leader,
    /// paused or not (what the trace says of roles alone; a crash ends a role).
    pub fn leader_by_role(&self) -> Option<(NodeId, u64)> {
        self.members
            .iter()
            .filter_map(|(n, m)| match m.role {
                Some((Role::Leader, term)) => Some((*n, term)),
                _ => None,
            })
            .max_by_key(|(_, t)| *t)
    }

    /// Who was elected leader of `term`, if anyone was.
    pub fn leader_of(&self, term: u64) -> Option<NodeId> {
        self.term_leaders.get(&term).copied()
    }

    /// Every leadership period so far, in the order they began: the leader stretches.
    pub fn periods(&self) -> Vec<LeaderPeriod> {
        self.stretches
            .iter()
            .filter(|r| r.role == Role::Leader)
            .map(|r| LeaderPeriod {
                node: r.node,
                term: r.term,
                from: r.from,
                to: r.to,
            })
            .collect()
    }

    /// Every stretch of every member in one role, in the order they began (what the
    /// timeline's lanes draw).
    pub fn role_stretches(&self) -> &[RoleStretch] {
        &self.stretches
    }

    /// Every stretch in which a node was down or paused, in the order they began.
    pub fn outages(&self) -> &[Outage] {
        &self.outages
    }

    /// One member's view (a member the trace has not mentioned yet is down and roleless).
    pub fn member(&self, node: NodeId) -> MemberView {
        self.members.get(&node).cloned().unwrap_or_default()
    }

    /// The highest term any member has been in.
    pub fn max_term(&self) -> u64 {
        self.members
            .values()
            .filter_map(|m| m.role.map(|(_, t)| t))
            .chain(self.term_leaders.keys().copied())
            .max()
            .unwrap_or(0)
    }

    /// The time of the last event folded.
    pub fn now(&self) -> SimTime {
        self.now
    }

    fn end_stretch(&mut self, node: NodeId, at: SimTime) {
        if let Some(i) = self.open_stretch.remove(&node) {
            self.stretches[i].to = Some(at);
        }
    }

    fn end_outage(&mut self, node: NodeId, at: SimTime) {
        if let Some(i) = self.open_outage.remove(&node) {
            self.outages[i].to = Some(at);
        }
    }

    fn begin_outage(&mut self, node: NodeId, kind: OutageKind, at: SimTime) {
        self.open_outage.insert(node, self.outages.len());
        self.outages.push(Outage {
            node,
            kind,
            from: at,
            to: None,
        });
    }
}

impl Observer for ClusterView {
    fn observe(&mut self, event: &TraceEvent) {
        self.now = event.t_us;
        let Some(node) = event.node else { return };
        if let Some(raft) = event.layer::<RaftEvent>() {
            let member = self.members.entry(node).or_default();
            match raft {
                RaftEvent::Role { role, term, leader } => {
                    member.role = Some((*role, *term));
                    self.end_stretch(node, event.t_us);
                    self.open_stretch.insert(node, self.stretches.len());
                    self.stretches.push(RoleStretch {
                        node,
                        role: *role,
                        term: *term,
                        leader: *leader,
                        from: event.t_us,
                        event: event.id,
                        to: None,
                    });
                    if *role == Role::Leader {
                        self.term_leaders.entry(*term).or_insert(node);
                    }
                }
                RaftEvent::Commit { index, .. } => member.commit = member.commit.max(*index),
                RaftEvent::Membership { voters, .. } => member.voters = voters.clone(),
                _ => {}
            }
            return;
        }
        match &event.kind {
            EventKind::NodeStart { .. } => {
                let member = self.members.entry(node).or_default();
                member.running = true;
                member.paused = false;
                self.end_outage(node, event.t_us);
            }
            EventKind::NodeCrash { .. } => {
                let member = self.members.entry(node).or_default();
                member.running = false;
                member.paused = false;
                member.role = None;
                self.end_stretch(node, event.t_us);
                // A paused node that is killed: the pause ends, the outage goes on.
                self.end_outage(node, event.t_us);
                self.begin_outage(node, OutageKind::Down, event.t_us);
            }
            EventKind::NodePause => {
                self.members.entry(node).or_default().paused = true;
                self.begin_outage(node, OutageKind::Paused, event.t_us);
            }
            EventKind::NodeResume => {
                self.members.entry(node).or_default().paused = false;
                self.end_outage(node, event.t_us);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::TraceBuilder;

    #[test]
    fn the_view_follows_leaders_crashes_and_pauses() {
        let mut b = TraceBuilder::new(3);
        b.leader(1, 2).follower(2, 2);
        let view = ClusterView::of(&b.events);
        assert_eq!(view.leader(), Some((NodeId(1), 2)));
        assert_eq!(view.leader_of(2), Some(NodeId(1)));
        assert_eq!(view.member(NodeId(2)).role, Some((Role::Follower, 2)));

        b.push(Some(NodeId(1)), EventKind::NodePause);
        let view = ClusterView::of(&b.events);
        assert_eq!(view.leader(), None, "a paused leader leads no one");
        assert_eq!(view.leader_by_role(), Some((NodeId(1), 2)));

        b.push(Some(NodeId(1)), EventKind::NodeResume);
        let crash_at = SimTime(b.events.len() as u64 * 1_000);
        b.push(
            Some(NodeId(1)),
            EventKind::NodeCrash {
                cause: sim_core::trace::CrashCause::Kill,
                lost_bytes: 0,
                torn_bytes_kept: 0,
            },
        );
        let view = ClusterView::of(&b.events);
        assert_eq!(view.leader_by_role(), None, "a crash ends the role");
        assert_eq!(view.periods().len(), 1);
        assert_eq!(view.periods()[0].to, Some(crash_at));
        let stretches: Vec<(u32, Role, Option<SimTime>)> = view
            .role_stretches()
            .iter()
            .map(|r| (r.node.0, r.role, r.to))
            .collect();
        assert_eq!(
            stretches,
            vec![(1, Role::Leader, Some(crash_at)), (2, Role::Follower, None)]
        );
        let outages: Vec<(OutageKind, bool)> = view
            .outages()
            .iter()
            .map(|o| (o.kind, o.to.is_some()))
            .collect();
        assert_eq!(
            outages,
            vec![(OutageKind::Paused, true), (OutageKind::Down, false)]
        );
        assert!(!view.member(NodeId(1)).running);

        // Folding up to a time sees the leader of that moment.
        let before = ClusterView::at(&b.events, SimTime(crash_at.as_us() - 1));
        assert_eq!(before.leader(), Some((NodeId(1), 2)));
    }
}
