//! Snapshots to lagging followers and membership changes one at a time.

use super::*;

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
