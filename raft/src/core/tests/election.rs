//! Elections: timeouts, the election restriction, term rules, ignored messages, pre-vote and check-quorum.

use super::*;

#[test]
fn leader_election_elects_one_leader_and_followers_learn_it() {
    let net = elected(3);
    for id in 1..=3 {
        let s = net.status(id);
        assert_eq!(s.leader, Some(NodeId(1)));
        assert_eq!(s.hard_state.term, Term(2));
    }
}

#[test]
fn election_timeout_elects_a_leader_without_help() {
    let mut net = Network::new(5, |_| {});
    net.tick_all(25);
    assert_eq!(net.leaders().len(), 1);
}

#[test]
fn leader_appends_noop_on_election() {
    let net = elected(3);
    for id in 1..=3u32 {
        let node = &net.nodes[&NodeId(id)];
        let last = node.log_entries().last().expect("noop").clone();
        assert_eq!(
            (last.term, last.index, last.kind),
            (Term(2), LogIndex(2), EntryKind::Noop)
        );
        assert_eq!(
            node.status().hard_state.commit,
            LogIndex(2),
            "the noop commits"
        );
    }
}

#[test]
fn election_restriction_refuses_stale_candidate() {
    let mut net = Network::empty(1);
    for id in ids(3) {
        let entries = if id == NodeId(3) {
            vec![]
        } else {
            vec![entry(1, 2, "x")]
        };
        net.add(id, Config::new(id), restored(3, 1, None, entries));
    }
    net.campaign(3);
    assert!(
        net.leaders().is_empty(),
        "a candidate missing an entry must not win"
    );
    let refused = net.events_of(1).iter().any(|e| {
        matches!(
            e,
            Event::VoteRefused {
                reason: VoteRejectReason::LogNotUpToDate { .. },
                ..
            }
        )
    });
    assert!(refused, "the refusal says why: {:?}", net.events_of(1));
}

#[test]
fn vote_without_log_check_mutant_elects_stale_candidate_and_loses_committed_entry() {
    let mut net = Network::new(3, |c| c.mutants.vote_without_log_check = true);
    net.campaign(1);
    net.isolate(3);
    net.propose(1, "committed").unwrap();
    assert_eq!(net.applied_data(1), vec!["committed"]);
    // 1 crashes; 3, which never saw the entry, asks 2 for its vote.
    net.heal();
    net.isolate(1);
    net.tick_all(10); // leases expire
    net.campaign(3);
    assert!(net.leaders().contains(&3), "the stale candidate won");
    assert!(
        !net.nodes[&NodeId(3)]
            .log_entries()
            .iter()
            .any(|e| e.kind == EntryKind::Normal(b"committed".to_vec())),
        "leader completeness is violated: the new leader lacks a committed entry"
    );
}

#[test]
fn term_rules_higher_term_demotes_and_stale_term_is_ignored() {
    let mut net = elected(3);
    // A stale-term append to the leader is ignored (and answered with the newer term).
    net.node(1).step(Message {
        from: NodeId(2),
        to: NodeId(1),
        term: Term(1),
        kind: MessageKind::AppendEntries {
            prev_log_index: LogIndex(1),
            prev_log_term: Term(1),
            entries: vec![],
            commit: LogIndex(1),
        },
    });
    assert_eq!(net.status(1).role, Role::Leader);
    // A response carrying a higher term demotes the leader.
    net.node(1).step(Message {
        from: NodeId(2),
        to: NodeId(1),
        term: Term(9),
        kind: MessageKind::HeartbeatResp { context: None },
    });
    let s = net.status(1);
    assert_eq!(
        (s.role, s.hard_state.term, s.hard_state.vote),
        (Role::Follower, Term(9), None)
    );
}

#[test]
fn an_ignored_message_leaves_an_event_saying_why() {
    let mut net = elected(3);
    // The election itself leaves some (late vote answers); look only at what follows.
    let before = net.events_of(1).len();
    // A follower's answer from an older term: nothing to do, nothing to answer.
    net.step(Message {
        from: NodeId(2),
        to: NodeId(1),
        term: Term(1),
        kind: MessageKind::HeartbeatResp { context: None },
    });
    // A vote answer at a leader: the election is over.
    net.step(Message {
        from: NodeId(3),
        to: NodeId(1),
        term: Term(2),
        kind: MessageKind::RequestVoteResp { reject: None },
    });
    // An answer from a node the leader has no progress for (not a member).
    net.step(Message {
        from: NodeId(9),
        to: NodeId(1),
        term: Term(2),
        kind: MessageKind::HeartbeatResp { context: None },
    });
    net.handle_ready(NodeId(1));
    let ignored: Vec<(NodeId, IgnoreReason)> = net.events_of(1)[before..]
        .iter()
        .filter_map(|e| match e {
            Event::MessageIgnored { from, reason, .. } => Some((*from, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ignored,
        vec![
            (NodeId(2), IgnoreReason::StaleTerm { current: Term(2) }),
            (NodeId(3), IgnoreReason::NotForRole { role: Role::Leader }),
            (NodeId(9), IgnoreReason::NotMember),
        ]
    );
    assert_eq!(net.status(1).role, Role::Leader);
}

#[test]
fn pre_vote_does_not_disrupt_stable_leader() {
    let mut net = elected(3);
    net.isolate(3);
    net.tick_all(100);
    assert_eq!(
        net.status(3).hard_state.term,
        Term(2),
        "failed pre-votes do not bump the term"
    );
    net.heal();
    net.tick_all(5);
    assert_eq!(net.leaders(), vec![1]);
    assert_eq!(net.status(1).hard_state.term, Term(2));
    assert_eq!(net.status(3).leader, Some(NodeId(1)));
}

#[test]
fn without_pre_vote_a_rejoining_node_disrupts_the_leader() {
    let mut net = Network::new(3, |c| {
        c.pre_vote = false;
        c.check_quorum = false;
    });
    net.campaign(1);
    net.isolate(3);
    net.tick_all(100);
    assert!(
        net.status(3).hard_state.term > Term(5),
        "the isolated node keeps bumping its term"
    );
    net.heal();
    net.tick_all(25);
    assert!(
        net.status(1).hard_state.term > Term(2),
        "the leader was deposed by the term bump"
    );
}

#[test]
fn check_quorum_followers_ignore_votes_within_lease() {
    let mut net = Network::new(3, |c| c.pre_vote = false);
    net.campaign(1);
    net.node(2).step(Message {
        from: NodeId(3),
        to: NodeId(2),
        term: Term(7),
        kind: MessageKind::RequestVote {
            last_log_index: LogIndex(9),
            last_log_term: Term(6),
        },
    });
    net.handle_all_readies();
    assert_eq!(net.status(2).hard_state.term, Term(2));
    assert!(net.events_of(2).iter().any(|e| matches!(
        e,
        Event::VoteRefused {
            reason: VoteRejectReason::LeaderLease { .. },
            ..
        }
    )));
}

#[test]
fn check_quorum_leader_steps_down() {
    let mut net = elected(3);
    net.isolate(1);
    net.tick_all(25);
    assert_ne!(net.status(1).role, Role::Leader);
    assert!(net
        .events_of(1)
        .iter()
        .any(|e| matches!(e, Event::CheckQuorumFailed { .. })));
    assert_eq!(
        net.leaders().len(),
        1,
        "the majority side elected a new leader"
    );
}

#[test]
fn no_check_quorum_mutant_leader_keeps_leading_and_serves_stale_reads() {
    let mut net = Network::new(3, |c| c.mutants.no_check_quorum = true);
    net.campaign(1);
    net.isolate(1);
    net.tick_all(25);
    assert_eq!(
        net.status(1).role,
        Role::Leader,
        "the partitioned leader never steps down"
    );
    let new_leader = *net
        .leaders()
        .iter()
        .find(|l| **l != 1)
        .expect("majority elects");
    net.propose(new_leader, "x=2").unwrap();
    net.node(1).read_index(b"r".to_vec()).unwrap();
    net.handle_all_readies();
    let rs = &net.read_states[&NodeId(1)];
    assert_eq!(rs.len(), 1, "the stale leader served a read");
    assert!(
        rs[0].index < net.status(new_leader).hard_state.commit,
        "and it misses the new write"
    );
}
