//! Tests of fault files: names and groups, readable schedules, errors with their place,
//! validation.

use super::*;

fn nodes(n: u32) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

fn cluster() -> Directory {
    let mut dir = Directory::new();
    dir.add_numbered_as("etcd", "servers", 3).unwrap();
    dir.add_numbered_as("client", "clients", 1).unwrap();
    dir
}

#[test]
fn names_and_groups_resolve_to_ids_and_back() {
    let text = r#"
[[faults]]
at_ms = 1000
op = "partition"
groups = [["etcd-1"], ["etcd-2", "n3"]]

[[faults]]
at_ms = 2000
op = "power-fail"
nodes = ["servers"]

[[faults]]
at_ms = 3000
op = "cut-link"
from = "client-1"
to = "etcd-2"
"#;
    let dir = cluster();
    let s = FaultSchedule::from_toml_in(text, "f.toml", &dir).unwrap();
    assert_eq!(
        s.faults[0].op,
        FaultOp::Partition {
            groups: vec![vec![NodeId(1)], vec![NodeId(2), NodeId(3)]]
        }
    );
    assert_eq!(
        s.faults[1].op,
        FaultOp::PowerFail {
            nodes: nodes(3),
            torn_write: false
        }
    );
    assert_eq!(
        s.faults[2].op,
        FaultOp::CutLink {
            from: NodeId(4),
            to: NodeId(2)
        }
    );
    let tables = s.to_named_tables(&dir);
    assert_eq!(tables[2]["from"].as_str(), Some("client-1"));
    let written = toml::to_string(&toml::Table::from_iter([(
        "faults".to_string(),
        toml::Value::Array(tables.into_iter().map(toml::Value::Table).collect()),
    )]))
    .unwrap();
    assert!(written.contains("\"etcd-1\""), "{written}");
    assert_eq!(FaultSchedule::from_toml_in(&written, "w", &dir).unwrap(), s);
}

#[test]
fn unknown_names_and_groups_for_one_node_point_at_their_line() {
    let dir = cluster();
    let err = FaultSchedule::from_toml_in(
        "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"etcd-7\"\n",
        "f.toml",
        &dir,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("f.toml:4:1: fault 1: node: unknown node `etcd-7`")
            && err.contains("servers: etcd-1 etcd-2 etcd-3"),
        "{err}"
    );
    let err = FaultSchedule::from_toml_in(
        "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"servers\"\n",
        "f.toml",
        &dir,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`servers` is a group of 3 nodes"), "{err}");
    // Without a world, names are not ids.
    assert!(FaultSchedule::from_toml(
        "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"etcd-1\"\n",
        "f"
    )
    .is_err());
}

#[test]
fn reads_a_readable_schedule() {
    let text = r#"
[[faults]]
at_ms = 1000
op = "partition"
groups = [["n1", "n2"], ["n3"]]

[[faults]]
at_ms = 2000
op = "power-fail"
nodes = ["n1", "n3"]
torn_write = true

[[faults]]
at_ms = 3000
op = "heal"
"#;
    let s = FaultSchedule::from_toml(text, "f.toml").unwrap();
    assert_eq!(s.faults.len(), 3);
    assert_eq!(
        s.faults[0].op,
        FaultOp::Partition {
            groups: vec![vec![NodeId(1), NodeId(2)], vec![NodeId(3)]]
        }
    );
    s.validate(&nodes(3)).unwrap();
    assert_eq!(FaultSchedule::from_toml(&s.to_toml(), "x").unwrap(), s);
}

#[test]
fn syntax_errors_give_line_and_column() {
    let err = FaultSchedule::from_toml("[[faults]]\nat_ms = 10\nop = \n", "f.toml").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("f.toml:3:"), "{text}");
    assert!(!text.contains('\n'));
}

#[test]
fn unknown_ops_and_fields_are_rejected() {
    let err = FaultSchedule::from_toml("[[faults]]\nat_ms = 1\nop = \"explode\"\n", "f")
        .unwrap_err()
        .to_string();
    assert!(err.contains("explode"), "{err}");
    let err = FaultSchedule::from_toml(
        "[[faults]]\nat_ms = 1\nop = \"kill\"\nnode = \"n1\"\ncolour = 3\n",
        "f",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("f:5:1: fault 1:") && err.contains("colour"),
        "{err}"
    );
}

#[test]
fn negative_durations_do_not_parse() {
    let err = FaultSchedule::from_toml(
        "[[faults]]\nat_ms = 1\nop = \"disk-stall\"\nnode = \"n1\"\nduration_ms = -5\n",
        "f",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("f:5:1: fault 1:") && err.contains("-5"),
        "{err}"
    );
}

#[test]
fn validation_names_the_problem() {
    let check = |op: FaultOp| {
        FaultSchedule::new(vec![TimedFault::new(5, op)])
            .validate(&nodes(3))
            .unwrap_err()
            .to_string()
    };
    let msg = check(FaultOp::Kill { node: NodeId(9) });
    assert!(
        msg.contains("unknown node n9") && msg.contains("n1, n2, n3"),
        "{msg}"
    );
    let msg = check(FaultOp::Partition {
        groups: vec![vec![NodeId(1), NodeId(2)], vec![NodeId(2), NodeId(3)]],
    });
    assert!(msg.contains("n2 appears in more than one"), "{msg}");
    // A node in no group keeps its links: a partition need not list it.
    let partial = FaultOp::Partition {
        groups: vec![vec![NodeId(1)], vec![NodeId(2)]],
    };
    assert_eq!(
        FaultSchedule::new(vec![TimedFault::new(5, partial)]).validate(&nodes(3)),
        Ok(())
    );
    let msg = check(FaultOp::DiskStall {
        node: NodeId(1),
        duration_ms: 0,
    });
    assert!(msg.contains("duration_ms must be more than zero"), "{msg}");
    let msg = check(FaultOp::Loss { probability: 1.5 });
    assert!(msg.contains("1.5"), "{msg}");
    assert!(msg.starts_with("fault 1 (loss at 5 ms)"), "{msg}");
}
