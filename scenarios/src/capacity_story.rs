//! `etcd-capacity`'s story checks: the load reached the cluster at every point that claims
//! stable leadership, and (needing it) leadership was stable there.
//!
//! Each point runs its own simulation, so what a point went through is read from its own
//! trace while the sweep runs ([`load_missing`], kept in [`PointResult::load_missing`]);
//! the checks judge the sweep's results.

use std::collections::BTreeSet;

use sim_core::{
    Check, CheckKind, EventKind, Evidence, FaultTimeline, NodeId, Outcome, RunOutput, RunView,
    SimTime,
};

use crate::etcd_capacity::{PointResult, STABLE_RTT_MS};

/// The Sometimes check's name.
pub const LOADED: &str = "load-reached-cluster";

/// Why a point's trace does not show the story's load, or `None` if it does: no fault was
/// in force at any moment of the point (the network whole, every server healthy), and every
/// client's requests reached a server inside the window `[open, close]`.
pub(crate) fn load_missing<T>(
    out: &RunOutput<T>,
    servers: &[NodeId],
    (open, close): (SimTime, SimTime),
) -> Option<String> {
    let timeline = FaultTimeline::of(&out.trace);
    let broken = timeline
        .segments()
        .iter()
        .find(|s| !(s.state.network_whole() && servers.iter().all(|n| s.state.is_healthy(*n))));
    if let Some(s) = broken {
        return Some(format!("a fault was in force from {}", s.start));
    }
    let mut reached: BTreeSet<NodeId> = BTreeSet::new();
    for e in &out.trace.events {
        if e.t_us < open || e.t_us > close || !e.node.is_some_and(|n| servers.contains(&n)) {
            continue;
        }
        if let EventKind::Deliver { from, .. } = &e.kind {
            reached.insert(*from);
        }
    }
    let idle: Vec<String> = out
        .nodes
        .iter()
        .filter(|n| !servers.contains(n) && !reached.contains(n))
        .map(|n| n.to_string())
        .collect();
    (!idle.is_empty()).then(|| {
        format!(
            "no request of {} reached a server in the window {open}..{close}",
            idle.join(", ")
        )
    })
}

/// The points the leadership claim is about.
fn low_rtt(points: &[PointResult]) -> impl Iterator<Item = &PointResult> {
    points.iter().filter(|p| p.point.rtt_ms <= STABLE_RTT_MS)
}

/// `load-reached-cluster` (Sometimes): at every point with RTT up to [`STABLE_RTT_MS`],
/// the closed-loop load reached the servers and no fault was in force.
#[derive(Clone, Debug)]
pub struct LoadReachedCluster {
    /// The sweep's results.
    pub points: Vec<PointResult>,
}

impl Check for LoadReachedCluster {
    fn name(&self) -> &'static str {
        LOADED
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Sometimes
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        if low_rtt(&self.points).next().is_none() {
            return Outcome::not_reached(format!(
                "the sweep has no RTT at or below {STABLE_RTT_MS} ms"
            ));
        }
        let missing: Vec<String> = low_rtt(&self.points)
            .filter_map(|p| Some(format!("at {}: {}", p.point, p.load_missing.as_ref()?)))
            .collect();
        if missing.is_empty() {
            Outcome::Pass
        } else {
            Outcome::not_reached(missing.join("; "))
        }
    }
}

/// `leadership-stable-at-low-rtt` (liveness story claim, needing [`LoadReachedCluster`]): at every point with RTT up to
/// [`STABLE_RTT_MS`], a leader is elected and keeps its leadership: no leader change after
/// the first election.
#[derive(Clone, Debug)]
pub struct LeadershipStableAtLowRtt {
    /// The sweep's results.
    pub points: Vec<PointResult>,
}

impl Check for LeadershipStableAtLowRtt {
    fn name(&self) -> &'static str {
        "leadership-stable-at-low-rtt"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Eventually
    }

    fn needs(&self) -> &[&'static str] {
        &[LOADED]
    }

    fn check(&self, _run: &RunView<'_>) -> Outcome {
        let low: Vec<&PointResult> = self
            .points
            .iter()
            .filter(|p| p.point.rtt_ms <= STABLE_RTT_MS)
            .collect();
        if low.is_empty() {
            return Outcome::Unknown {
                reason: format!("the sweep has no RTT at or below {STABLE_RTT_MS} ms"),
            };
        }
        let evidence: Vec<Evidence> = low
            .iter()
            .filter(|p| p.first_leader_ms.is_none() || p.changes_after_first > 0)
            .map(|p| {
                Evidence::note(match p.first_leader_ms {
                    None => format!("at {}: no leader was ever elected", p.point),
                    Some(_) => format!(
                        "at {}: {} leader change(s) after the first election",
                        p.point, p.changes_after_first
                    ),
                })
            })
            .collect();
        if evidence.is_empty() {
            Outcome::Pass
        } else {
            Outcome::violation(
                format!(
                    "leadership was not stable at {} point(s) with RTT <= {STABLE_RTT_MS} ms",
                    evidence.len()
                ),
                evidence,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd_capacity::Point;
    use sim_core::{History, Trace};

    fn result(rtt_ms: f64, first: Option<f64>, changes: usize) -> PointResult {
        PointResult {
            point: Point {
                rtt_ms,
                fsync_ms: 1.0,
            },
            writes_per_s: 0.0,
            reads_per_s: 0.0,
            write_p50_ms: None,
            write_p99_ms: None,
            read_p50_ms: None,
            read_p99_ms: None,
            leader_changes: changes,
            changes_after_first: changes,
            first_leader_ms: first,
            indeterminate: 0,
            trace_hash: String::new(),
            status: sim_core::Status::Pass,
            load_missing: None,
        }
    }

    fn stable(points: Vec<PointResult>) -> Outcome {
        let (trace, history) = (Trace::default(), History::default());
        let view = RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &history,
        };
        LeadershipStableAtLowRtt { points }.check(&view)
    }

    #[test]
    fn leadership_check_judges_only_low_rtts() {
        assert!(stable(vec![result(5.0, Some(1.0), 0), result(500.0, Some(1.0), 9)]).is_pass());
        assert!(!stable(vec![result(10.0, Some(1.0), 1)]).is_pass());
        assert!(!stable(vec![result(1.0, None, 0)]).is_pass());
        assert!(matches!(
            stable(vec![result(50.0, Some(1.0), 0)]),
            Outcome::Unknown { .. }
        ));
    }

    #[test]
    fn the_load_must_reach_the_cluster_at_every_low_rtt_point() {
        let (trace, history) = (Trace::default(), History::default());
        let view = RunView {
            seed: 0,
            nodes: &[],
            trace: &trace,
            history: &history,
        };
        let loaded = |points| LoadReachedCluster { points }.check(&view);
        let mut idle = result(5.0, Some(1.0), 0);
        idle.load_missing = Some("no request of n4 reached a server".into());
        let mut far = idle.clone();
        far.point.rtt_ms = 500.0;
        assert!(loaded(vec![result(1.0, Some(1.0), 0), far]).is_pass());
        let Outcome::NotReached { message } = loaded(vec![result(1.0, Some(1.0), 0), idle]) else {
            panic!("an idle point is not the story");
        };
        assert!(
            message.contains("rtt 5 ms") && message.contains("n4"),
            "{message}"
        );
        assert!(matches!(
            loaded(vec![result(50.0, Some(1.0), 0)]),
            Outcome::NotReached { .. }
        ));
    }
}
