//! The `Ready` contract (persist before the messages that depend on it) and determinism.

use super::*;

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
