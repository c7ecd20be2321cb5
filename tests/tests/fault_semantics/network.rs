//! Network faults: partition, heal, isolate, cut-link, restore-link, loss and latency.

use std::collections::BTreeMap;

use sim_core::{DropReason, FaultOp, NetConfig, NodeId};

use crate::probe::*;

#[test]
fn partition_drops_exactly_the_cross_group_messages_and_heal_restores_them() {
    let groups = [vec![n(1), n(2)], vec![n(3), n(4)]];
    let group_of = |node: NodeId| usize::from(!groups[0].contains(&node));
    let run = run_chatter(
        7,
        4,
        slow_net(),
        schedule(vec![
            at(
                1_000,
                FaultOp::Partition {
                    groups: groups.to_vec(),
                },
            ),
            at(2_000, FaultOp::Heal),
        ]),
        3_000,
        false,
    );
    let trace = &run.trace;
    let cut = fault_idx(trace, |f| matches!(f, FaultOp::Partition { .. }));
    let heal = fault_idx(trace, |f| matches!(f, FaultOp::Heal));
    let during = |i: usize| cut < i && i < heal;

    let (mut cut_at_send, mut cut_in_flight, mut within_during, mut across_after) = (0, 0, 0, 0);
    for m in messages(trace) {
        let across = group_of(m.from) != group_of(m.to);
        let reason = m.drop_reason();
        if reason == Some(DropReason::RunEnded) {
            // Still in flight at the end: only the last 25 ms of sends.
            assert!(m.send.t_us.as_us() >= 3_000_000 - 25_000, "{m:?}");
            continue;
        }
        if !across {
            assert!(
                m.delivered(),
                "a message within a group was not delivered: {m:?}"
            );
            if during(m.send_idx) {
                within_during += 1;
            }
        } else if during(m.send_idx) {
            assert_eq!(reason, Some(DropReason::Partitioned), "{m:?}");
            assert_eq!(m.fate.t_us, m.send.t_us, "dropped at send: {m:?}");
            cut_at_send += 1;
        } else if m.send_idx < cut && during(m.fate_idx) {
            assert_eq!(reason, Some(DropReason::PartitionedInFlight), "{m:?}");
            cut_in_flight += 1;
        } else {
            // Sent and arrived while the network was whole (before the cut or after heal).
            assert!(
                !during(m.fate_idx),
                "crossed the partition while it stood: {m:?}"
            );
            assert!(
                m.delivered(),
                "a message across healed links was dropped: {m:?}"
            );
            if m.send_idx > heal {
                across_after += 1;
            }
        }
    }
    // 100 rounds of 8 cross-group and 4 within-group sends during the partition; some
    // cross-group messages were in flight at the cut.
    assert!(cut_at_send >= 790, "{cut_at_send}");
    assert!(cut_in_flight > 0);
    assert!(within_during >= 390, "{within_during}");
    assert!(across_after >= 700, "{across_after}");
}

#[test]
fn isolate_cuts_one_node_off_in_both_directions_only() {
    let run = run_chatter(
        8,
        3,
        NetConfig::default(),
        schedule(vec![
            at(1_000, FaultOp::Isolate { node: n(2) }),
            at(2_000, FaultOp::Heal),
        ]),
        2_500,
        false,
    );
    let trace = &run.trace;
    let cut = fault_idx(trace, |f| matches!(f, FaultOp::Isolate { .. }));
    let heal = fault_idx(trace, |f| matches!(f, FaultOp::Heal));
    let (mut to_isolated, mut from_isolated, mut between_rest) = (0, 0, 0);
    for m in messages(trace) {
        if !(cut < m.send_idx && m.send_idx < heal) {
            continue;
        }
        if m.from == n(2) || m.to == n(2) {
            assert_eq!(m.drop_reason(), Some(DropReason::Partitioned), "{m:?}");
            if m.to == n(2) {
                to_isolated += 1;
            } else {
                from_isolated += 1;
            }
        } else {
            assert!(m.delivered(), "{m:?}");
            between_rest += 1;
        }
    }
    assert!(to_isolated >= 190 && from_isolated >= 190 && between_rest >= 190);
}

#[test]
fn cut_link_drops_one_direction_only_and_restore_link_restores_it() {
    let run = run_chatter(
        9,
        3,
        slow_net(),
        schedule(vec![
            at(
                1_000,
                FaultOp::CutLink {
                    from: n(1),
                    to: n(2),
                },
            ),
            at(
                2_000,
                FaultOp::RestoreLink {
                    from: n(1),
                    to: n(2),
                },
            ),
        ]),
        3_000,
        false,
    );
    let trace = &run.trace;
    let cut = fault_idx(trace, |f| matches!(f, FaultOp::CutLink { .. }));
    let restore = fault_idx(trace, |f| matches!(f, FaultOp::RestoreLink { .. }));
    let during = |i: usize| cut < i && i < restore;

    let (mut dropped, mut in_flight, mut reverse, mut after) = (0, 0, 0, 0);
    for m in messages(trace) {
        let reason = m.drop_reason();
        if reason == Some(DropReason::RunEnded) {
            assert!(m.send.t_us.as_us() >= 3_000_000 - 25_000, "{m:?}");
            continue;
        }
        if (m.from, m.to) != (n(1), n(2)) {
            assert!(m.delivered(), "only n1 -> n2 is cut: {m:?}");
            if (m.from, m.to) == (n(2), n(1)) && during(m.send_idx) {
                reverse += 1;
            }
        } else if during(m.send_idx) {
            assert_eq!(reason, Some(DropReason::Partitioned), "{m:?}");
            dropped += 1;
        } else if m.send_idx < cut && during(m.fate_idx) {
            assert_eq!(reason, Some(DropReason::PartitionedInFlight), "{m:?}");
            in_flight += 1;
        } else {
            assert!(m.delivered(), "{m:?}");
            if m.send_idx > restore {
                after += 1;
            }
        }
    }
    assert!(dropped >= 99, "{dropped}");
    assert!(in_flight > 0);
    assert!(reverse >= 99, "n2 -> n1 must keep working: {reverse}");
    assert!(after >= 95, "{after}");
}

#[test]
fn loss_probability_one_drops_every_message_sent_meanwhile_as_lost() {
    let run = run_chatter(
        13,
        3,
        slow_net(),
        schedule(vec![
            at(1_000, FaultOp::Loss { probability: 1.0 }),
            at(2_000, FaultOp::Loss { probability: 0.0 }),
        ]),
        3_000,
        false,
    );
    let trace = &run.trace;
    let lossy = fault_idx(trace, |f| *f == FaultOp::Loss { probability: 1.0 });
    let clean = fault_idx(trace, |f| *f == FaultOp::Loss { probability: 0.0 });
    let (mut lost, mut delivered_across_onset) = (0, 0);
    for m in messages(trace) {
        if m.drop_reason() == Some(DropReason::RunEnded) {
            assert!(m.send.t_us.as_us() >= 3_000_000 - 25_000, "{m:?}");
            continue;
        }
        if lossy < m.send_idx && m.send_idx < clean {
            assert_eq!(m.drop_reason(), Some(DropReason::Lost), "{m:?}");
            assert_eq!(m.fate_idx, m.send_idx + 1, "lost at send: {m:?}");
            lost += 1;
        } else {
            // Loss is decided at send: what was already in flight still arrives.
            assert!(m.delivered(), "{m:?}");
            if m.send_idx < lossy && m.fate_idx > lossy {
                delivered_across_onset += 1;
            }
        }
    }
    assert!(lost >= 6 * 99, "{lost}");
    assert!(delivered_across_onset > 0);
}

#[test]
fn latency_ops_put_every_delivery_within_the_set_range_of_its_send() {
    let global = (20_000, 30_000);
    let link = (50_000, 60_000);
    let run = run_chatter(
        14,
        3,
        NetConfig::default(),
        schedule(vec![
            at(
                1_000,
                FaultOp::Latency {
                    min_us: global.0,
                    max_us: global.1,
                },
            ),
            at(
                1_000,
                FaultOp::LinkLatency {
                    from: n(1),
                    to: n(2),
                    min_us: link.0,
                    max_us: link.1,
                },
            ),
        ]),
        2_000,
        false,
    );
    let trace = &run.trace;
    let set = fault_idx(trace, |f| matches!(f, FaultOp::LinkLatency { .. }));
    let default = NetConfig::default().latency;
    let mut seen: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for m in messages(trace) {
        if m.drop_reason() == Some(DropReason::RunEnded) {
            continue;
        }
        assert!(m.delivered(), "{m:?}");
        let (name, (lo, hi)) = if m.send_idx < set {
            ("default", (default.min_us, default.max_us))
        } else if (m.from, m.to) == (n(1), n(2)) {
            ("link", link)
        } else {
            ("global", global)
        };
        let l = m.latency_us();
        // Times are whole microseconds, floored, and the send's floor is where latency is
        // counted from, so no slack is needed.
        assert!(
            (lo..=hi).contains(&l),
            "{name} latency {l} us outside [{lo}, {hi}]: {m:?}"
        );
        seen.entry(name).or_default().push(l);
    }
    for (name, lat) in &seen {
        let spread = lat.iter().max().unwrap() - lat.iter().min().unwrap();
        assert!(lat.len() >= 90 && spread > 1_000, "{name}: {lat:?}");
    }
    assert_eq!(seen.len(), 3);
}
