//! The words every picture uses for a set of nodes, a fault and a duration, so the
//! timeline, the sequence diagram, the storyboard and the viewer say them alike.

use sim_core::{Directory, FaultOp, NodeId};

/// Nodes for a label: `{etcd-1,2 client-2}` (ids in a trace without names: `{n1 n2}`).
pub fn node_set(nodes: &[NodeId], directory: &Directory) -> String {
    // `etcd-1 etcd-2 client-2` reads as `{etcd-1,2 client-2}`: names that share a prefix
    // before their last `-` (and follow each other) write it once.
    let mut out = String::from("{");
    let mut last: Option<&str> = None;
    let names: Vec<String> = nodes
        .iter()
        .map(|n| directory.name(*n).to_string())
        .collect();
    for name in &names {
        let (prefix, number) = name.rsplit_once('-').unwrap_or(("", name));
        match last {
            Some(previous) if previous == prefix && !prefix.is_empty() => {
                out.push(',');
                out.push_str(number);
            }
            Some(previous) if previous == prefix => {
                out.push(',');
                out.push_str(name);
            }
            Some(_) => {
                out.push(' ');
                out.push_str(name);
            }
            None => out.push_str(name),
        }
        last = Some(prefix);
    }
    out.push('}');
    out
}

/// A short label for a fault op, nodes by their names in `directory`.
pub fn fault_label(op: &FaultOp, directory: &Directory) -> String {
    let ms = |us: u64| format_ms(us);
    let name = |node: &NodeId| directory.name(*node);
    match op {
        FaultOp::Partition { groups } => format!(
            "partition {}",
            groups
                .iter()
                .map(|g| node_set(g, directory))
                .collect::<Vec<_>>()
                .join("|")
        ),
        FaultOp::Isolate { node } => format!("isolate {}", name(node)),
        FaultOp::CutLink { from, to } => format!("cut {}->{}", name(from), name(to)),
        FaultOp::RestoreLink { from, to } => format!("restore {}->{}", name(from), name(to)),
        FaultOp::Heal => "heal".into(),
        FaultOp::HealAll => "heal-all".into(),
        FaultOp::Latency { min_us, max_us } => {
            format!("latency {}-{} ms", ms(*min_us), ms(*max_us))
        }
        FaultOp::LinkLatency {
            from,
            to,
            min_us,
            max_us,
        } => format!(
            "latency {}->{} {}-{} ms",
            name(from),
            name(to),
            ms(*min_us),
            ms(*max_us)
        ),
        FaultOp::Loss { probability } => format!("loss {:.0}%", probability * 100.0),
        FaultOp::Kill { node } => format!("kill {}", name(node)),
        FaultOp::Restart { node } => format!("restart {}", name(node)),
        FaultOp::Pause { node } => format!("pause {}", name(node)),
        FaultOp::Resume { node } => format!("resume {}", name(node)),
        FaultOp::PowerFail { nodes, torn_write } => format!(
            "power-fail {}{}",
            node_set(nodes, directory),
            if *torn_write { " (torn)" } else { "" }
        ),
        FaultOp::DiskStall { node, duration_ms } => {
            format!("disk-stall {} {duration_ms} ms", name(node))
        }
        FaultOp::ClockSkew { node, skew_ms } => {
            format!("clock-skew {} {skew_ms:+} ms", name(node))
        }
    }
}

/// Microseconds as milliseconds for labels: `1500` -> `1.5`, `2000` -> `2`.
pub fn format_ms(us: u64) -> String {
    if us.is_multiple_of(1000) {
        format!("{}", us / 1000)
    } else {
        let text = format!("{:.3}", us as f64 / 1000.0);
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
