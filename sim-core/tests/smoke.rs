use std::time::Duration;

use sim_core::checks::{MessageAccounting, NetworkRespectsFaults};
use sim_core::demo::{ping_node, MeshReconnects, PingConfig};
use sim_core::{Check, FaultKnobs, NetConfig, RunView, Sim, Verdict};

#[test]
fn ping_mesh_runs() {
    let nodes = 3;
    let knobs = FaultKnobs::default();
    let ids: Vec<_> = (1..=nodes).map(sim_core::NodeId).collect();
    let faults = knobs.generate(
        &ids,
        NetConfig::default(),
        &mut sim_core::rng::derive_rng(1, "faults"),
    );
    println!("{}", faults.to_toml());
    let out = Sim::new(1)
        .nodes(nodes as usize, |ctx| ping_node(ctx, PingConfig::default()))
        .faults(faults)
        .run(|w| async move { w.sleep(Duration::from_secs(10)).await })
        .unwrap();
    let view = RunView {
        seed: 1,
        nodes: &out.nodes,
        trace: &out.trace,
        history: &out.history,
    };
    let checks: [&dyn Check; 3] = [
        &MessageAccounting,
        &NetworkRespectsFaults,
        &MeshReconnects { bound_ms: 2000 },
    ];
    let v = Verdict::judge(&view, &checks);
    println!("{} events {}", out.trace.events.len(), out.trace.hash());
    for e in out
        .trace
        .events
        .iter()
        .filter(|e| {
            !matches!(
                e.kind,
                sim_core::EventKind::Send { .. } | sim_core::EventKind::Deliver { .. }
            )
        })
        .take(60)
    {
        println!("{}", serde_json::to_string(e).unwrap());
    }
    println!("{:?}", v);
    assert_eq!(v.status(), sim_core::Status::Pass);
}
