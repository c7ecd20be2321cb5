//! `trace.perfetto.json`: a track per node, a span per role, a flow per delivered message.

use std::collections::BTreeMap;

use reports::model::Fate;
use reports::RunModel;
use scenarios::runner::run_scenario;
use serde_json::Value;

fn export(scenario: &str, seed: u64) -> (RunModel, Vec<Value>, Value) {
    let run = run_scenario(scenario, seed, "", &[]).unwrap();
    let model = RunModel::new(&run.trace, &run.history);
    let bytes = reports::perfetto::render(&model, scenario);
    assert_eq!(
        bytes,
        reports::perfetto::render(&model, scenario),
        "deterministic"
    );
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let events = doc["traceEvents"].as_array().unwrap().clone();
    (model, events, doc)
}

#[test]
fn every_node_has_a_named_track_and_every_role_span_a_slice() {
    let (model, events, _) = export("partition-5node", 1);
    let mut track_names = BTreeMap::new();
    for e in &events {
        if e["ph"] == "M" && e["name"] == "thread_name" {
            track_names.insert(e["tid"].as_u64().unwrap(), e["args"]["name"].clone());
        }
    }
    for node in &model.nodes {
        let name = track_names
            .get(&(u64::from(node.0) + 1))
            .unwrap_or_else(|| panic!("no track for {node}"));
        let label = name.as_str().unwrap();
        assert!(label.starts_with(&model.name(*node).to_string()), "{label}");
    }
    for span in &model.roles {
        let tid = u64::from(span.node.0) + 1;
        let found = events.iter().any(|e| {
            e["ph"] == "X"
                && e["cat"] == "role"
                && e["tid"] == tid
                && e["ts"] == span.start_us
                && e["dur"] == span.end_us - span.start_us
        });
        assert!(found, "no slice for {span:?}");
    }
}

#[test]
fn every_delivered_message_is_a_flow_from_its_sender_to_its_receiver() {
    let (model, events, doc) = export("quorum-write", 1);
    let mut starts = BTreeMap::new();
    let mut finishes = BTreeMap::new();
    for e in &events {
        match e["ph"].as_str() {
            Some("s") => {
                starts.insert(e["id"].as_u64().unwrap(), e.clone());
            }
            Some("f") => {
                assert_eq!(e["bp"], "e", "flow ends bind to the enclosing slice");
                finishes.insert(e["id"].as_u64().unwrap(), e.clone());
            }
            _ => {}
        }
    }
    let mut delivered = 0;
    for (i, msg) in model.messages.iter().enumerate() {
        let id = i as u64;
        match msg.fate {
            Fate::Delivered { t_us, .. } => {
                delivered += 1;
                let s = &starts[&id];
                let f = &finishes[&id];
                assert_eq!(s["tid"], u64::from(msg.from.0) + 1);
                assert_eq!(s["ts"], msg.sent_us);
                assert_eq!(f["tid"], u64::from(msg.to.0) + 1);
                assert_eq!(f["ts"], t_us);
            }
            _ => assert!(
                !starts.contains_key(&id),
                "undelivered {} has a flow",
                msg.id
            ),
        }
    }
    assert_eq!(starts.len(), delivered);
    assert_eq!(doc["otherData"]["messages"], model.messages.len());
}

#[test]
fn client_operations_are_balanced_async_spans() {
    let (model, events, _) = export("quorum-write", 1);
    let begins = events.iter().filter(|e| e["ph"] == "b").count();
    let ends = events.iter().filter(|e| e["ph"] == "e").count();
    assert_eq!(begins, model.ops.len());
    assert_eq!(ends, model.ops.len());
    assert!(!model.ops.is_empty());
}
