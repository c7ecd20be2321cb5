//! Partitions: an even split makes no progress; a minority never commits.

use super::*;

fn split_brain(mutants: Mutants) -> Network {
    let mut net = Network::new(4, |c| c.mutants = mutants);
    net.campaign(1);
    net.partition(&[1, 2], &[3, 4]);
    net.tick_all(40);
    for id in net.leaders() {
        let _ = net.propose(id, &format!("from-{id}"));
    }
    net
}

/// The nodes whose persisted log holds an entry with application data `data`.
fn holders(net: &Network, data: &str) -> Vec<u32> {
    net.durable
        .iter()
        .filter(|(_, log)| {
            log.values()
                .any(|e| matches!(&e.kind, EntryKind::Normal(d) if d == data.as_bytes()))
        })
        .map(|(id, _)| id.0)
        .collect()
}

/// A 4-node cluster led by 1, split 2/2, then for 40 rounds of ticks every node on both
/// sides is asked to take a proposal (`r<round>-<node>`), and 3 is made to campaign on
/// round 0: the leader right after the split, and whoever leads later, takes them.
/// Returns the network and the proposals some node accepted.
fn split_and_propose_everywhere(mutants: Mutants) -> (Network, Vec<String>) {
    let mut net = Network::new(4, |c| c.mutants = mutants);
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    net.partition(&[1, 2], &[3, 4]);
    let mut accepted = Vec::new();
    for round in 0..40 {
        if round == 0 {
            net.campaign(3);
        }
        for id in 1..=4 {
            let data = format!("r{round}-{id}");
            if net.propose(id, &data).is_ok() {
                accepted.push(data);
            }
        }
        net.tick_all(1);
    }
    (net, accepted)
}

#[test]
fn even_split_makes_no_progress_on_either_side() {
    let (net, accepted) = split_and_propose_everywhere(Mutants::default());
    // Side {1, 2}: 1 still leads right after the split and takes proposals, which reach
    // 2's log too; then check-quorum steps it down and nobody takes any more. Side {3, 4}:
    // 3's campaign cannot win 2 votes of 4, so nobody there ever leads.
    assert!(accepted.contains(&"r0-1".to_string()), "{accepted:?}");
    assert!(
        accepted.iter().all(|d| d.ends_with("-1")),
        "only 1 ever led: {accepted:?}"
    );
    assert!(net.leaders().is_empty(), "leaders: {:?}", net.leaders());
    for data in &accepted {
        assert_eq!(
            holders(&net, data),
            vec![1, 2],
            "{data} is in 1's and 2's logs"
        );
    }
    // 3 did campaign (pre-vote first, so its term stays) and never led.
    let roles: Vec<Role> = net
        .events_of(3)
        .iter()
        .filter_map(|e| match e {
            Event::RoleChanged { role, .. } => Some(*role),
            _ => None,
        })
        .collect();
    assert!(roles.contains(&Role::PreCandidate), "{roles:?}");
    assert!(!roles.contains(&Role::Leader), "{roles:?}");
    // None of it ever commits, anywhere.
    for id in 1..=4 {
        assert!(
            net.applied_data(id).is_empty(),
            "node {id} applied {:?} without a quorum",
            net.applied_data(id)
        );
    }
    let (mutant, mutant_accepted) = split_and_propose_everywhere(Mutants {
        quorum_of_reachable: true,
        ..Mutants::default()
    });
    // Control: with a majority counted among reachable nodes, the same script commits on
    // both sides.
    let applied: Vec<String> = (1..=4).flat_map(|id| mutant.applied_data(id)).collect();
    assert!(
        applied
            .iter()
            .any(|d| d.ends_with("-1") || d.ends_with("-2"))
            && applied
                .iter()
                .any(|d| d.ends_with("-3") || d.ends_with("-4")),
        "accepted {mutant_accepted:?}, applied {applied:?}"
    );
}

#[test]
fn quorum_of_reachable_mutant_commits_conflicting_values_on_both_sides() {
    let net = split_brain(Mutants {
        quorum_of_reachable: true,
        ..Mutants::default()
    });
    let leaders = net.leaders();
    assert_eq!(leaders.len(), 2, "two leaders at once: {leaders:?}");
    let a = net.applied_data(leaders[0]);
    let b = net.applied_data(leaders[1]);
    assert!(
        !a.is_empty() && !b.is_empty() && a != b,
        "conflicting commits: {a:?} vs {b:?}"
    );
}
