//! Pause and resume: a paused node does nothing, then processes the mail it received.

use std::collections::BTreeMap;

use sim_core::{EventKind, FaultOp, NetConfig, SimTime};

use crate::probe::*;

#[test]
fn a_paused_node_does_nothing_but_receives_and_processes_its_mail_after_resume() {
    let run = run_chatter(
        12,
        2,
        NetConfig::default(),
        schedule(vec![
            at(1_000, FaultOp::Pause { node: n(1) }),
            at(2_000, FaultOp::Resume { node: n(1) }),
        ]),
        3_000,
        true,
    );
    let trace = &run.trace;
    let pause = node_event_idx(trace, n(1), |k| matches!(k, EventKind::NodePause));
    let resume = node_event_idx(trace, n(1), |k| matches!(k, EventKind::NodeResume));
    let resume_t = trace.events[resume].t_us;
    assert_eq!(trace.events[pause].t_us, SimTime::from_ms(1_000));
    assert_eq!(resume_t, SimTime::from_ms(2_000));

    // Nothing of n1's own between pause and resume.
    for e in &trace.events[pause + 1..resume] {
        if e.node == Some(n(1)) {
            assert!(is_network_event(&e.kind), "a paused node acted: {e:?}");
        }
    }
    // It sends again after resume.
    assert!(trace.events[resume..]
        .iter()
        .any(|e| e.node == Some(n(1)) && matches!(e.kind, EventKind::Send { .. })));

    // Mail that reached it while paused was delivered then, and processed after resume.
    let processed: BTreeMap<u64, SimTime> = notes(trace, n(1), "processed")
        .into_iter()
        .map(|(_, t, d)| (d.parse().unwrap(), t))
        .collect();
    let mut queued = 0;
    for m in messages(trace) {
        if m.to != n(1) || !(pause < m.fate_idx && m.fate_idx < resume) {
            continue;
        }
        assert!(m.delivered(), "mail to a paused node is delivered: {m:?}");
        let msg = match m.send.kind {
            EventKind::Send { msg, .. } => msg.0,
            _ => unreachable!(),
        };
        let when = processed
            .get(&msg)
            .unwrap_or_else(|| panic!("message {msg} delivered while paused was never processed"));
        assert!(
            *when >= resume_t,
            "message {msg} processed at {when} while paused"
        );
        queued += 1;
    }
    assert!(queued >= 99, "{queued}");
}
