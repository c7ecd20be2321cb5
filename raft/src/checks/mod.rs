//! The Raft checkers: the properties of the Raft paper's Figure 3, plus the durability and
//! liveness properties of `SCENARIOS.md`, judged from the trace alone.
//!
//! Each lives in its own file and reads only sim-core's trace events (`role`, `vote`,
//! `hard-state`, `log-append`, `log-truncate`, `commit`, `apply`, `snapshot`,
//! `membership`), which the Raft driver records when the matching thing becomes true
//! (log events after the entries are durable). None trusts the Raft code it judges.

mod acked_writes;
mod commit_majority;
mod commit_own_term;
mod committed_kept;
mod election_safety;
mod leader_append_only;
mod leader_completeness;
mod leaders;
mod liveness;
mod log_matching;
mod logs;
mod stale_reads;
mod state_machine_safety;
mod term_vote;

pub use acked_writes::AckedWritesSurvive;
pub use commit_majority::CommitNeedsMajority;
pub use commit_own_term::LeaderCommitsOwnTerm;
pub use committed_kept::CommittedEntriesKept;
pub use election_safety::ElectionSafety;
pub use leader_append_only::LeaderAppendOnly;
pub use leader_completeness::LeaderCompleteness;
pub use leaders::Leaders;
pub use liveness::{recovered, recovered_since, voters_of, LeaderAfterHeal};
pub use log_matching::LogMatching;
pub use logs::{DurableLogs, NodeLog};
pub use stale_reads::ReadsNotStale;
pub use state_machine_safety::StateMachineSafety;
pub use term_vote::TermAndVoteDurable;

use sim_core::observe::{monitor, Monitor};
use sim_core::Check;

/// Whether a history function only reads: the register's `read`, the etcd client's `get`.
/// Every other acknowledged operation wrote a log entry (its answer carries `index` and
/// `term`).
pub(crate) fn is_read_op(f: &str) -> bool {
    matches!(f, "read" | "get")
}

/// The Raft safety checks that judge the trace as it grows ([`sim_core::OnlineCheck`]),
/// for [`sim_core::Sim::stop_at_first_violation`]: each is also in [`safety_checks`], where
/// the same fold judges the finished run. The history checks (`acked-writes-survive`,
/// `reads-not-stale`) and the liveness check are not here: they need the end of the run.
pub fn online_safety_checks() -> Vec<Box<dyn Monitor>> {
    vec![
        monitor::<ElectionSafety>(),
        monitor::<LeaderAppendOnly>(),
        monitor::<LogMatching>(),
        monitor::<LeaderCompleteness>(),
        monitor::<StateMachineSafety>(),
        monitor::<CommitNeedsMajority>(),
        monitor::<CommittedEntriesKept>(),
        monitor::<LeaderCommitsOwnTerm>(),
        monitor::<TermAndVoteDurable>(),
    ]
}

/// Every Raft safety check that reads the trace alone.
pub fn safety_checks() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(ElectionSafety::default()),
        Box::new(LeaderAppendOnly::default()),
        Box::new(LogMatching::default()),
        Box::new(LeaderCompleteness::default()),
        Box::new(StateMachineSafety::default()),
        Box::new(CommitNeedsMajority::default()),
        Box::new(CommittedEntriesKept::default()),
        Box::new(LeaderCommitsOwnTerm::default()),
        Box::new(TermAndVoteDurable::default()),
    ]
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-written traces for the checkers' own tests.

    use sim_core::{EventId, EventKind, NodeId, SimTime, Trace, TraceEvent};

    use crate::core::Role;
    use crate::events::{EntryDigest, EntryRef, RaftEvent};

    /// Builds a trace event by event.
    #[derive(Default)]
    pub struct TraceBuilder {
        pub events: Vec<TraceEvent>,
    }

    pub fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    pub fn e(index: u64, term: u64) -> EntryRef {
        EntryRef {
            index,
            term,
            digest: EntryDigest((index * 1000 + term) as u32),
        }
    }

    impl TraceBuilder {
        pub fn new(nodes: u32) -> Self {
            let mut b = TraceBuilder::default();
            b.push(
                None,
                EventKind::RunStart {
                    seed: 0,
                    nodes: (1..=nodes).map(NodeId).collect(),
                    directory: Default::default(),
                },
            );
            for i in 1..=nodes {
                b.push(Some(n(i)), EventKind::NodeStart { incarnation: 1 });
            }
            b
        }

        pub fn push(&mut self, node: Option<NodeId>, kind: EventKind) -> &mut Self {
            let id = self.events.len() as u64;
            self.events.push(TraceEvent {
                id: EventId(id),
                t_us: SimTime(id * 1000),
                node,
                kind,
            });
            self
        }

        pub fn leader(&mut self, node: u32, term: u64) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::Role {
                    role: Role::Leader,
                    term,
                    leader: Some(n(node)),
                }),
            )
        }

        pub fn follower(&mut self, node: u32, term: u64) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::Role {
                    role: Role::Follower,
                    term,
                    leader: None,
                }),
            )
        }

        pub fn append(&mut self, node: u32, entries: &[(u64, u64)]) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::LogAppend {
                    entries: entries.iter().map(|&(i, t)| e(i, t)).collect(),
                }),
            )
        }

        pub fn truncate(&mut self, node: u32, from_index: u64) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::LogTruncate { from_index }),
            )
        }

        pub fn commit(&mut self, node: u32, index: u64, term: u64) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::Commit { index, term }),
            )
        }

        pub fn apply(&mut self, node: u32, index: u64, term: u64) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::Apply {
                    index,
                    term,
                    digest: EntryDigest((index * 1000 + term) as u32),
                }),
            )
        }

        pub fn vote(&mut self, node: u32, candidate: u32, term: u64) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::Vote {
                    candidate: n(candidate),
                    term,
                    pre_vote: false,
                    refused: None,
                }),
            )
        }

        pub fn hard_state(&mut self, node: u32, term: u64, vote: Option<u32>) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::layer(RaftEvent::HardState {
                    term,
                    vote: vote.map(n),
                    commit: 0,
                }),
            )
        }

        pub fn crash(&mut self, node: u32) -> &mut Self {
            self.push(
                Some(n(node)),
                EventKind::NodeCrash {
                    cause: sim_core::trace::CrashCause::Kill,
                    lost_bytes: 0,
                    torn_bytes_kept: 0,
                },
            )
        }

        pub fn trace(&self) -> Trace {
            Trace {
                events: self.events.clone(),
            }
        }
    }

    /// Runs `check` over a built trace of `nodes` nodes.
    pub fn judge(check: &dyn sim_core::Check, b: &TraceBuilder) -> sim_core::Outcome {
        let trace = b.trace();
        let nodes: Vec<NodeId> = trace
            .events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::RunStart { nodes, .. } => Some(nodes.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let history = sim_core::History::default();
        check.check(&sim_core::RunView {
            seed: 0,
            nodes: &nodes,
            trace: &trace,
            history: &history,
        })
    }

    pub fn is_violation(o: &sim_core::Outcome) -> bool {
        matches!(o, sim_core::Outcome::Violation { .. })
    }

    /// Feeds `b`'s events one at a time to a fresh `C`, as a world does while it records:
    /// the position of the first event it fires at, and what it said.
    pub fn first_firing<C: sim_core::OnlineCheck>(
        b: &TraceBuilder,
    ) -> Option<(usize, sim_core::Violation)> {
        let mut check = C::default();
        b.events
            .iter()
            .enumerate()
            .find_map(|(i, event)| check.observe(event).map(|v| (i, v)))
    }

    /// That `C`, fed event by event, is silent before the event at position `bad`, fires
    /// there, names that event as evidence, and says what judging the finished trace says
    /// (so a run stopped at its first violation reports what the whole run would).
    ///
    /// # Panics
    ///
    /// When any of that does not hold (this is a test helper).
    pub fn assert_fires_at<C: sim_core::OnlineCheck>(b: &TraceBuilder, bad: usize) {
        let (at, violation) = first_firing::<C>(b)
            .unwrap_or_else(|| panic!("{} never fired; expected event {bad}", C::NAME));
        assert_eq!(
            at,
            bad,
            "{} fired at the wrong event: {violation:?}",
            C::NAME
        );
        let bad_id = b.events[bad].id;
        assert!(
            violation.evidence.iter().any(|e| e.event == Some(bad_id)),
            "{} fired at {bad_id} but its evidence does not name it: {violation:?}",
            C::NAME
        );
        assert_eq!(
            judge(&C::default(), b),
            sim_core::Outcome::from(violation),
            "{}: the finished run is judged differently",
            C::NAME
        );
    }
}
