//! Tests named after the Raft paper's rules, on a small in-test network, and one test per
//! planted bug showing that switching it on breaks what it guards.

use super::network::{ids, Network};
use super::*;
use sim_core::NodeId;

fn entry(term: u64, index: u64, data: &str) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        kind: EntryKind::Normal(data.as_bytes().to_vec()),
    }
}

/// A founding member (bootstrap snapshot at 1/1) restarted with `entries` after it.
fn restored(n: u32, term: u64, vote: Option<u32>, entries: Vec<Entry>) -> InitialState {
    let mut s = InitialState::bootstrap(ids(n));
    s.hard_state = HardState {
        term: Term(term),
        vote: vote.map(NodeId),
        commit: LogIndex(1),
    };
    s.entries = entries;
    s
}

fn elected(n: u32) -> Network {
    let mut net = Network::new(n, |_| {});
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    net
}

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

#[test]
fn log_replication_applies_the_same_entries_in_order_everywhere() {
    let mut net = elected(5);
    for i in 0..20 {
        net.propose(1, &format!("v{i}")).unwrap();
    }
    let expected: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    for id in 1..=5 {
        assert_eq!(net.applied_data(id), expected);
    }
}

#[test]
fn followers_refuse_proposals_and_name_the_leader() {
    let mut net = elected(3);
    assert_eq!(
        net.propose(2, "x"),
        Err(ProposeError::NotLeader {
            leader: Some(NodeId(1))
        })
    );
}

#[test]
fn log_matching_repairs_divergent_follower_with_fast_backtracking() {
    // 3 holds 50 uncommitted entries of term 2 that 1 and 2 never had; 1 and 2 have
    // entries of term 3 at the same indexes.
    let mut net = Network::empty(3);
    let ours: Vec<Entry> = (2..=6).map(|i| entry(3, i, "new")).collect();
    let theirs: Vec<Entry> = (2..=51).map(|i| entry(2, i, "old")).collect();
    net.add(
        NodeId(1),
        Config::new(NodeId(1)),
        restored(3, 3, None, ours.clone()),
    );
    net.add(
        NodeId(2),
        Config::new(NodeId(2)),
        restored(3, 3, None, ours),
    );
    net.add(
        NodeId(3),
        Config::new(NodeId(3)),
        restored(3, 3, None, theirs),
    );
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    let logs: Vec<Vec<(Term, LogIndex)>> = (1..=3u32)
        .map(|i| {
            net.nodes[&NodeId(i)]
                .log_entries()
                .iter()
                .map(|e| (e.term, e.index))
                .collect()
        })
        .collect();
    assert_eq!(
        logs[0], logs[2],
        "log matching: the follower's log equals the leader's"
    );
    let rejections = net
        .sent
        .iter()
        .filter(|m| {
            matches!(
                m.kind,
                MessageKind::AppendEntriesResp {
                    outcome: AppendOutcome::Rejected { .. }
                }
            )
        })
        .count();
    assert!(
        rejections <= 2,
        "fast backtracking skips the whole term: {rejections} rejections"
    );
}

/// Figure 8 of the Raft paper, on 5 nodes. Term 2's entry at index 2 sits on 1 and 2;
/// 5 holds a term-3 entry at index 2. 1 becomes leader in term 4 and gets its old entry onto
/// a majority, but not its own noop (the filter strips term-4 entries). Counting replicas
/// must not commit index 2, because 5 can still be elected and overwrite it.
fn figure_8(mutants: Mutants) -> Network {
    let mut net = Network::empty(8);
    let cfg = |id: u32| {
        let mut c = Config::new(NodeId(id));
        c.check_quorum = false; // lets 5 campaign right after 1 is cut off
        c.mutants = mutants;
        c
    };
    let logs = [
        vec![entry(2, 2, "old")],
        vec![entry(2, 2, "old")],
        vec![],
        vec![],
        vec![entry(3, 2, "new")],
    ];
    for (i, log) in logs.into_iter().enumerate() {
        let id = i as u32 + 1;
        // 5 is at term 4 already (a lost campaign), so its pre-vote for term 5 is news.
        let term = if id == 5 { 4 } else { 3 };
        net.add(NodeId(id), cfg(id), restored(5, term, None, log));
    }
    net.isolate(5);
    net.filter = Some(Box::new(|m: &mut Message| {
        if let MessageKind::AppendEntries { entries, .. } = &mut m.kind {
            entries.retain(|e| e.term < Term(4));
        }
        true
    }));
    net.node(1).campaign();
    net.handle_all_readies();
    // Deliver until 1 commits index 2 (only the mutant does) or all is quiet; then 1 crashes
    // before it can tell anyone.
    while net.status(1).hard_state.commit < LogIndex(2) && net.deliver_one() {}
    assert_eq!(net.status(1).hard_state.term, Term(4));
    net.isolate(1);
    net.cut.retain(|(a, b)| *a == NodeId(1) || *b == NodeId(1));
    net.queue.clear();
    net.filter = None;
    net.campaign(5);
    assert!(
        net.leaders().contains(&5),
        "5's term-3 entry makes its log the most up to date"
    );
    net
}

#[test]
fn figure_8_leader_does_not_commit_old_term_by_counting() {
    let net = figure_8(Mutants::default());
    assert_eq!(
        net.status(1).hard_state.commit,
        LogIndex(1),
        "index 2 is on a majority but not committed"
    );
    assert!(net.applied_data(1).is_empty());
    for id in 2..=5 {
        assert_eq!(net.applied_data(id), vec!["new"], "node {id}");
    }
}

#[test]
fn commit_old_term_mutant_commits_an_entry_that_is_later_overwritten() {
    let net = figure_8(Mutants {
        commit_old_term: true,
        ..Mutants::default()
    });
    assert_eq!(
        net.applied_data(1),
        vec!["old"],
        "1 committed and applied the term-2 entry"
    );
    assert_eq!(
        net.applied_data(5),
        vec!["new"],
        "5 committed a different entry at index 2"
    );
}

#[test]
fn read_index_waits_for_heartbeat_quorum() {
    let mut net = elected(3);
    net.node(1).read_index(b"r1".to_vec()).unwrap();
    net.handle_all_readies();
    assert!(
        net.read_states.get(&NodeId(1)).is_none_or(|r| r.is_empty()),
        "no read before the quorum"
    );
    net.stabilize();
    let rs = &net.read_states[&NodeId(1)];
    assert_eq!(
        rs,
        &vec![ReadState {
            index: LogIndex(2),
            context: b"r1".to_vec()
        }]
    );
}

#[test]
fn read_index_on_partitioned_leader_is_never_released() {
    let mut net = elected(3);
    net.isolate(1);
    net.node(1).read_index(b"r1".to_vec()).unwrap();
    net.stabilize();
    net.tick(1);
    net.stabilize();
    assert!(net.read_states.get(&NodeId(1)).is_none_or(|r| r.is_empty()));
}

#[test]
fn read_index_waits_for_commit_in_current_term() {
    let mut net = Network::new(3, |_| {});
    net.node(1).campaign();
    net.handle_all_readies();
    // Deliver only the election; the noop is not committed yet.
    while net.status(1).role != Role::Leader {
        assert!(net.deliver_one());
    }
    net.queue.clear(); // the noop's appends are lost
    net.node(1).read_index(b"r".to_vec()).unwrap();
    net.stabilize();
    assert!(
        net.read_states.get(&NodeId(1)).is_none_or(|r| r.is_empty()),
        "must wait for the noop"
    );
    net.tick_all(3); // heartbeats trigger the retransmission, the noop commits
    let rs = &net.read_states[&NodeId(1)];
    assert_eq!(rs.len(), 1);
    assert!(rs[0].index >= LogIndex(2), "the read index covers the noop");
}

#[test]
fn follower_read_index_is_forwarded_to_the_leader() {
    let mut net = elected(3);
    net.propose(1, "x").unwrap();
    net.node(2).read_index(b"f".to_vec()).unwrap();
    net.stabilize();
    assert_eq!(
        net.read_states[&NodeId(2)],
        vec![ReadState {
            index: LogIndex(3),
            context: b"f".to_vec()
        }]
    );
}

#[test]
fn compacted_log_sends_snapshot_to_lagging_follower() {
    let mut net = elected(3);
    net.isolate(3);
    for i in 0..10 {
        net.propose(1, &format!("v{i}")).unwrap();
    }
    let snap = net.node(1).compact(b"state-after-v9".to_vec());
    assert_eq!(snap.meta.index, LogIndex(12));
    net.heal();
    net.tick_all(3);
    let got_snapshot = net
        .sent
        .iter()
        .any(|m| m.to == NodeId(3) && matches!(m.kind, MessageKind::InstallSnapshot { .. }));
    assert!(got_snapshot);
    assert_eq!(net.status(3).hard_state.commit, LogIndex(12));
    net.propose(1, "after").unwrap();
    assert_eq!(
        net.applied_data(3),
        vec!["after"],
        "after the snapshot, entries flow again"
    );
    assert_eq!(net.status(3).applied, LogIndex(13));
}

#[test]
fn membership_add_learner_promote_and_remove_one_at_a_time() {
    let mut net = elected(3);
    net.add(NodeId(4), Config::new(NodeId(4)), InitialState::joining());
    net.node(1)
        .propose_conf_change(ConfChange::AddLearner(NodeId(4)))
        .unwrap();
    assert_eq!(
        net.node(1)
            .propose_conf_change(ConfChange::Promote(NodeId(4))),
        Err(ProposeError::ConfChangePending),
        "one change at a time"
    );
    net.stabilize();
    net.tick_all(2);
    assert_eq!(net.status(4).conf_state.learners, [NodeId(4)].into());
    assert_eq!(
        net.status(4).hard_state.commit,
        net.status(1).hard_state.commit,
        "the learner caught up"
    );
    net.node(1)
        .propose_conf_change(ConfChange::Promote(NodeId(4)))
        .unwrap();
    net.stabilize();
    assert_eq!(
        net.status(1).conf_state.voters,
        ids(4).into_iter().collect()
    );
    // A 4-voter cluster needs 3 acks: with 3 and 4 down, nothing commits.
    net.isolate(3);
    net.isolate(4);
    let before = net.status(1).hard_state.commit;
    net.propose(1, "needs-3-of-4").unwrap();
    assert_eq!(net.status(1).hard_state.commit, before);
    net.heal();
    net.tick_all(2);
    assert_eq!(net.applied_data(4), vec!["needs-3-of-4"]);
}

#[test]
fn concurrent_conf_change_mutant_accepts_a_second_change_while_one_is_pending() {
    let mut net = Network::new(3, |c| c.mutants.concurrent_conf_change = true);
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    net.add(NodeId(4), Config::new(NodeId(4)), InitialState::joining());
    let first = net
        .node(1)
        .propose_conf_change(ConfChange::AddLearner(NodeId(4)))
        .unwrap();
    let second = net
        .node(1)
        .propose_conf_change(ConfChange::Remove(NodeId(3)))
        .expect("the mutant skips the one-at-a-time guard");
    assert_eq!(second, first.next());
}

#[test]
fn leader_that_removes_itself_steps_down() {
    let mut net = elected(3);
    net.node(1)
        .propose_conf_change(ConfChange::Remove(NodeId(1)))
        .unwrap();
    net.stabilize();
    assert_eq!(net.status(1).role, Role::Follower);
    net.isolate(1);
    net.tick_all(30);
    let leaders = net.leaders();
    assert_eq!(leaders.len(), 1);
    assert_ne!(leaders[0], 1);
    assert_eq!(
        net.status(leaders[0]).conf_state.voters,
        [NodeId(2), NodeId(3)].into()
    );
}

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

#[test]
fn ready_carries_the_vote_to_persist_with_the_response_that_depends_on_it() {
    let mut net = Network::new(3, |c| c.pre_vote = false);
    net.node(2).step(Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(2),
        kind: MessageKind::RequestVote {
            last_log_index: LogIndex(1),
            last_log_term: Term(1),
        },
    });
    let rd = net.node(2).ready();
    assert_eq!(
        rd.hard_state.map(|h| (h.term, h.vote)),
        Some((Term(2), Some(NodeId(1))))
    );
    assert!(matches!(
        rd.messages[0].kind,
        MessageKind::RequestVoteResp { reject: None }
    ));
}

#[test]
fn ready_carries_the_entries_to_persist_with_the_ack_that_depends_on_them() {
    let mut net = elected(3);
    net.node(1).propose(b"x".to_vec()).unwrap();
    net.handle_ready(NodeId(1));
    let append = net
        .queue
        .iter()
        .find(|m| m.to == NodeId(2))
        .cloned()
        .unwrap();
    net.queue.clear();
    net.node(2).step(append);
    let rd = net.node(2).ready();
    assert_eq!(rd.entries.len(), 1);
    assert!(matches!(
        rd.messages[0].kind,
        MessageKind::AppendEntriesResp { .. }
    ));
    net.node(2).advance(&rd);
    assert!(!net.node(2).has_ready(), "advance marks the entries stable");
}

#[test]
fn same_seed_same_run() {
    let run = || {
        let mut net = Network::new(5, |_| {});
        net.tick_all(30);
        let l = net.leaders()[0];
        net.propose(l, "x").unwrap();
        net.log.join("\n")
    };
    assert_eq!(run(), run());
}

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
