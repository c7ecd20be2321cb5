//! ReadIndex reads: the heartbeat quorum, partitions, the current-term commit, forwarding.

use super::*;

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
