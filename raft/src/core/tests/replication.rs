//! Log replication: proposals, repairing divergent logs, and commit rules (Figure 8).

use super::*;

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
