//! The end of the run: nothing follows `run-end`, every message has a fate.

use std::time::Duration;

use sim_core::{EventKind, Sim};

use crate::probe::*;

/// `run-end` closes the trace: a node that wakes at the very instant the driver returns
/// must not add events after it, and every message sent must have a fate (here, the
/// chatter nodes tick every 10 ms and the driver returns at exactly 100 ms).
#[test]
fn no_event_follows_run_end_even_when_a_node_ticks_at_the_last_instant() {
    let run = Sim::new(1)
        .nodes(2, |ctx| chatter(ctx, Duration::from_millis(10), false))
        .run(|world| async move {
            world.sleep(Duration::from_millis(100)).await;
        })
        .expect("a valid world");
    let events = &run.trace.events;
    let end = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::RunEnd))
        .expect("a run-end event");
    assert_eq!(
        end,
        events.len() - 1,
        "events after run-end: {:?}",
        &events[end..]
    );
    let view = sim_core::RunView {
        seed: run.seed,
        nodes: &run.nodes,
        trace: &run.trace,
        history: &run.history,
    };
    assert_eq!(
        sim_core::Check::check(&sim_core::checks::MessageAccounting, &view),
        sim_core::Outcome::Pass
    );
}
