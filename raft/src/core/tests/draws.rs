//! How election timeouts are drawn from their range, and refused ranges.

use super::*;

/// The election timeout each of `nodes` fresh nodes drew (one draw each, distinct seeds).
fn drawn_timeouts(nodes: u64, cfg: impl Fn(&mut Config)) -> Vec<u64> {
    (0..nodes)
        .map(|seed| {
            let mut c = Config::new(NodeId(1));
            cfg(&mut c);
            let rng =
                <rand_chacha::ChaCha8Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(
                    seed,
                );
            RawNode::new(c, InitialState::bootstrap(ids(3)), rng)
                .expect("valid config")
                .raft()
                .randomized_election_ticks_for_test()
        })
        .collect()
}

#[test]
fn election_timeouts_are_drawn_from_the_whole_inclusive_range() {
    let drawn = drawn_timeouts(600, |c| {
        c.election_tick = 150;
        c.max_election_tick = 155;
    });
    let seen: std::collections::BTreeSet<u64> = drawn.iter().copied().collect();
    // Every value of 150..=155 turns up (the top included), and nothing else.
    assert_eq!(seen, (150..=155).collect(), "{seen:?}");
}

#[test]
fn a_range_of_one_value_always_draws_that_value() {
    let drawn = drawn_timeouts(50, |c| {
        c.election_tick = 150;
        c.max_election_tick = 150;
    });
    assert!(drawn.iter().all(|t| *t == 150), "{drawn:?}");
}

#[test]
fn fixed_election_timeout_mutant_draws_the_minimum_of_any_range() {
    let range = |fixed: bool| {
        drawn_timeouts(50, |c| {
            c.election_tick = 150;
            c.max_election_tick = 300;
            c.mutants.fixed_election_timeout = fixed;
        })
    };
    assert!(range(true).iter().all(|t| *t == 150));
    assert!(range(false).iter().any(|t| *t != 150));
}

#[test]
fn default_range_is_election_tick_to_twice_election_tick_exclusive() {
    let c = Config::new(NodeId(1));
    assert_eq!(c.max_election_tick, 0);
    assert_eq!(c.election_tick_range(), (10, 19));
    let drawn = drawn_timeouts(200, |_| {});
    let seen: std::collections::BTreeSet<u64> = drawn.iter().copied().collect();
    assert_eq!(seen, (10..20).collect());
}

#[test]
fn an_election_range_below_its_minimum_is_refused() {
    let mut c = Config::new(NodeId(1));
    c.election_tick = 150;
    c.heartbeat_tick = 75;
    c.max_election_tick = 149;
    assert!(c.validate().is_err());
    let rng = <rand_chacha::ChaCha8Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1);
    assert!(RawNode::new(c.clone(), InitialState::bootstrap(ids(3)), rng).is_err());
    c.max_election_tick = 150;
    assert!(c.validate().is_ok());
    c.max_election_tick = 0;
    assert!(c.validate().is_ok());
}
