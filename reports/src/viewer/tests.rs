//! Tests of the viewer data: changed cells with old and new text, windows, the JSON
//! inside a script element, fault spans.

use super::*;
use raft::core::Role;
use raft::events::{EntryRef, RaftEvent};
use sim_core::trace::CrashCause;
use sim_core::{EventId, EventKind, FaultOp, SimTime, TraceEvent};

fn event(id: u64, t_us: u64, node: Option<u32>, kind: EventKind) -> TraceEvent {
    TraceEvent {
        id: EventId(id),
        t_us: SimTime(t_us),
        node: node.map(NodeId),
        kind,
    }
}

fn sample() -> Trace {
    Trace {
        events: vec![
            event(
                0,
                0,
                None,
                EventKind::RunStart {
                    seed: 1,
                    nodes: vec![NodeId(1), NodeId(2)],
                    directory: Default::default(),
                },
            ),
            event(
                1,
                1_000,
                Some(1),
                EventKind::layer(RaftEvent::Role {
                    role: Role::Leader,
                    term: 2,
                    leader: Some(NodeId(1)),
                }),
            ),
            event(
                2,
                2_000,
                Some(1),
                EventKind::layer(RaftEvent::LogAppend {
                    entries: vec![EntryRef {
                        index: 1,
                        term: 2,
                        digest: raft::events::EntryDigest(0xab),
                    }],
                }),
            ),
            event(
                3,
                3_000,
                None,
                EventKind::Fault {
                    fault: FaultOp::Kill { node: NodeId(2) },
                },
            ),
            event(
                4,
                3_000,
                Some(2),
                EventKind::NodeCrash {
                    cause: CrashCause::Kill,
                    lost_bytes: 0,
                    torn_bytes_kept: 0,
                },
            ),
            event(5, 4_000, Some(2), EventKind::NodeStart { incarnation: 2 }),
        ],
    }
}

#[test]
fn each_event_carries_the_cells_it_changed_with_old_and_new_text() {
    let trace = sample();
    let model = RunModel::new(&trace, &sim_core::History::default());
    let data = ViewerData::build(
        &trace,
        &model,
        ViewerLimits::default(),
        None,
        String::new(),
        Ok(vec![]),
    );
    assert_eq!(data.events.len(), 6);
    assert_eq!(
        data.events[1].changes,
        vec![
            Change(0, 1, NONE_TEXT.into(), "leader".into()),
            Change(0, 2, "0".into(), "2".into()),
            Change(0, 3, NONE_TEXT.into(), "n1".into()),
        ]
    );
    assert_eq!(
        data.events[4].changes,
        vec![Change(1, 0, "up".into(), "down".into())]
    );
    assert_eq!(data.events[1].text, "n1 becomes leader in term 2");
    // The kill is active from its event until n2 starts again.
    assert_eq!(data.faults.len(), 1);
    assert_eq!((data.faults[0].from_event, data.faults[0].to_event), (3, 5));
}

#[test]
fn a_window_starts_from_the_replayed_state_and_counts_what_it_skipped() {
    let trace = sample();
    let model = RunModel::new(&trace, &sim_core::History::default());
    let limits = ViewerLimits {
        from_us: Some(2_000),
        to_us: Some(3_000),
        max_events: 2,
    };
    let data = ViewerData::build(&trace, &model, limits, None, String::new(), Ok(vec![]));
    assert_eq!(data.skipped_before, 2);
    assert_eq!(data.events.len(), 2);
    assert_eq!(data.skipped_after, 2);
    assert_eq!(data.initial[0][1], "leader");
}

#[test]
fn the_json_cannot_close_its_script_element() {
    let mut trace = sample();
    trace.events.push(event(
        6,
        5_000,
        Some(1),
        EventKind::Note {
            label: "</script><!--".into(),
            detail: String::new(),
        },
    ));
    let model = RunModel::new(&trace, &sim_core::History::default());
    let data = ViewerData::build(
        &trace,
        &model,
        ViewerLimits::default(),
        None,
        String::new(),
        Ok(vec![]),
    );
    let json = data.to_json();
    assert!(!json.contains('<'), "{json}");
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["events"][6][3], "n1: </script><!--");
}

#[test]
fn faults_without_an_end_event_end_at_the_first_event_after_their_end() {
    let fault = |id, t_us, fault| event(id, t_us, None, EventKind::Fault { fault });
    let note = |id, t_us| {
        event(
            id,
            t_us,
            Some(1),
            EventKind::Note {
                label: "tick".into(),
                detail: String::new(),
            },
        )
    };
    let trace = Trace {
        events: vec![
            event(
                0,
                0,
                None,
                EventKind::RunStart {
                    seed: 1,
                    nodes: vec![NodeId(1), NodeId(2)],
                    directory: Default::default(),
                },
            ),
            fault(1, 1_000, sim_core::FaultOp::Restart { node: NodeId(2) }),
            note(2, 1_000),
            note(3, 1_500),
            fault(
                4,
                2_000,
                sim_core::FaultOp::DiskStall {
                    node: NodeId(1),
                    duration_ms: 3,
                },
            ),
            note(5, 4_999),
            note(6, 5_000),
            note(7, 9_000),
        ],
    };
    let model = RunModel::new(&trace, &sim_core::History::default());
    let faults = viewer_faults(&trace, &model);
    assert_eq!(faults.len(), 2, "{faults:?}");
    // An instant is active for the events at its time and ends at the first later one.
    assert_eq!((faults[0].from_event, faults[0].to_event), (1, 3));
    // A stall ends at the first event at or after its end time (2 ms + 3 ms).
    assert_eq!((faults[1].from_event, faults[1].to_event), (4, 6));
}
