//! Tests named after the Raft paper's rules, on a small in-test network, and one test per
//! planted bug showing that switching it on breaks what it guards. One topic a file; the
//! helpers every topic uses are here.

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

mod draws;
mod election;
mod membership;
mod partitions;
mod reads;
mod ready;
mod replication;
mod timeouts;
