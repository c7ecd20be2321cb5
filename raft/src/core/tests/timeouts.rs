//! Randomized election timeouts and the split votes a fixed one repeats.

use super::*;

#[test]
fn randomized_timeouts_are_in_election_tick_to_twice_election_tick() {
    let net = Network::new(5, |_| {});
    let timeouts: std::collections::BTreeSet<u64> = net
        .nodes
        .values()
        .map(|n| n.raft().randomized_election_ticks_for_test())
        .collect();
    assert!(
        timeouts.iter().all(|t| (10..20).contains(t)),
        "{timeouts:?}"
    );
    assert!(
        timeouts.len() > 1,
        "nodes must not share one timeout: {timeouts:?}"
    );
}

fn lockstep_leaders(mutants: Mutants) -> usize {
    let mut net = Network::new(3, |c| {
        c.pre_vote = false;
        c.mutants = mutants;
    });
    // Every node's messages arrive only after all nodes ticked: simultaneous timeouts
    // produce simultaneous candidacies and split votes.
    for _ in 0..300 {
        for id in 1..=3 {
            net.node(id).tick();
        }
        net.stabilize();
        if !net.leaders().is_empty() {
            break;
        }
    }
    net.leaders().len()
}

#[test]
fn fixed_election_timeout_mutant_repeats_split_votes_forever() {
    assert_eq!(lockstep_leaders(Mutants::default()), 1);
    assert_eq!(
        lockstep_leaders(Mutants {
            fixed_election_timeout: true,
            ..Mutants::default()
        }),
        0
    );
}
