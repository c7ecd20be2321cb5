//! The fold every picture is drawn from agrees with the trace it came from.

use raft::core::Role;
use reports::model::{Fate, OutageKind};
use reports::state::{states_at, Liveness};
use reports::RunModel;
use scenarios::runner::run_scenario;
use sim_core::{EventKind, FaultOp};

#[test]
fn every_message_of_the_trace_is_folded_with_its_fate() {
    let run = run_scenario("partition-5node", 1, "", &[]).unwrap();
    let model = RunModel::new(&run.trace, &run.history);
    let sends = run
        .trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Send { .. }))
        .count();
    assert_eq!(model.messages.len(), sends);
    let drops = run
        .trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Drop { .. }))
        .count();
    let folded_drops = model
        .messages
        .iter()
        .filter(|m| matches!(m.fate, Fate::Dropped { .. }))
        .count();
    assert_eq!(folded_drops, drops);
    assert!(drops > 0, "the partition drops messages");
    assert_eq!(model.servers.len(), 5);
    assert!(!model.clients.is_empty());
}

#[test]
fn the_scripted_partition_is_one_period_with_its_exact_bounds() {
    let run = run_scenario("partition-5node", 1, "", &[]).unwrap();
    let model = RunModel::new(&run.trace, &run.history);
    let starts: Vec<u64> = run
        .trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault {
                fault: FaultOp::Partition { .. },
            } => Some(e.t_us.0),
            _ => None,
        })
        .collect();
    let heals: Vec<u64> = run
        .trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault {
                fault: FaultOp::Heal,
            } => Some(e.t_us.0),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(model.partitions.len(), 1, "{:?}", model.partitions);
    let period = &model.partitions[0];
    assert_eq!(period.start_us, starts[0]);
    assert_eq!(period.end_us, heals[0]);
    assert_eq!(period.groups.len(), 2);
    let span = model.faults.iter().find(|f| f.kind == "partition").unwrap();
    assert_eq!((span.start_us, span.end_us), (starts[0], heals[0]));
    assert!(span.end_event.is_some());
}

#[test]
fn role_spans_and_replayed_states_agree_on_the_leaders() {
    let run = run_scenario("partition-5node", 1, "", &[]).unwrap();
    let model = RunModel::new(&run.trace, &run.history);
    let period = &model.partitions[0];
    let during = (period.start_us + period.end_us) / 2;
    let leaders = model.leaders_at(during);
    let states = states_at(&run.trace.events, &model.nodes, during);
    let replayed: Vec<_> = states
        .iter()
        .filter(|(_, s)| s.role == Some(Role::Leader))
        .map(|(n, s)| (*n, s.term))
        .collect();
    assert_eq!(leaders, replayed);
    assert!(
        !leaders.is_empty(),
        "the majority side has a leader mid-partition"
    );
    assert!(states.values().all(|s| s.liveness == Liveness::Up));
}

#[test]
fn a_kill_is_an_outage_and_a_fault_band_until_the_node_starts_again() {
    let faults = r#"
[[faults]]
at_ms = 1500
op = "kill"
node = "n2"

[[faults]]
at_ms = 2500
op = "restart"
node = "n2"
"#;
    let schedule = sim_core::FaultSchedule::from_toml(faults, "faults.toml").unwrap();
    let mut file = scenarios::runner::file_for("leader-crash", 3, "", &[]).unwrap();
    file.faults = Some(schedule.faults);
    let run = scenarios::runner::execute(&scenarios::runner::prepare(&file).unwrap()).unwrap();
    let model = RunModel::new(&run.trace, &run.history);
    let kill = model
        .faults
        .iter()
        .find(|f| f.label == "kill etcd-2")
        .expect("kill band");
    assert_eq!(kill.start_us, 1_500_000);
    let start = run
        .trace
        .events
        .iter()
        .find(|e| {
            e.t_us.0 >= 1_500_000
                && e.node == Some(sim_core::NodeId(2))
                && matches!(e.kind, EventKind::NodeStart { .. })
        })
        .expect("n2 starts again");
    assert_eq!(kill.end_us, start.t_us.0);
    assert_eq!(kill.end_event, Some(start.id));
    assert!(model.outages.iter().any(|o| o.node == sim_core::NodeId(2)
        && o.kind == OutageKind::Down
        && o.start_us == 1_500_000
        && o.end_us == start.t_us.0));
}
