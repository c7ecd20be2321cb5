//! Criterion benchmarks of the bare sans-IO Raft core.
//!
//! `cargo bench -p raft --bench core_step` (under a minute):
//!
//! - `step/follower_append/<batch>`: a follower stepping AppendEntries of `<batch>` entries
//!   each (every one commits the previous batch), with a `ready`/`advance` cycle after each
//!   message, as a driver would run it. Throughput is in messages, so criterion's
//!   "elem/s" is messages stepped per second (multiply by the batch for entries).
//! - `step/leader_append_resp`: a leader of 3 stepping AppendEntriesResp acks from both
//!   followers for 256 entries (each first ack commits one entry and sends the next
//!   appends), with a `ready`/`advance` cycle after each; "elem/s" is messages per second.
//! - `cluster/<n>_nodes`: an elected in-memory cluster of `n` nodes driven by a plain loop
//!   (no simulator): propose 10 entries on the leader, deliver every message in order,
//!   persisting each `Ready` into an in-memory log, repeat until 1,000 proposals are
//!   applied on the leader; "elem/s" is proposals committed per wall second.
//!
//! Everything is seeded; only criterion reads the clock.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use raft::core::AppendOutcome;
use raft::{
    Config, Entry, EntryKind, InitialState, LogIndex, Message, MessageKind, RawNode, Ready, Role,
    Term,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::NodeId;

const PAYLOAD_BYTES: usize = 32;
/// AppendEntries messages per follower-benchmark iteration.
const FOLLOWER_MSGS: u64 = 256;
/// Entries the leader benchmark acknowledges per iteration (two acks each).
const LEADER_ENTRIES: u64 = 256;
/// Proposals per cluster-benchmark iteration, and per loop round.
const CLUSTER_PROPOSALS: u64 = 1_000;
const CLUSTER_BATCH: u64 = 10;

fn ids(n: u32) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

fn node(id: u32, n: u32) -> RawNode<ChaCha8Rng> {
    let mut cfg = Config::new(NodeId(id));
    cfg.pre_vote = false;
    RawNode::new(
        cfg,
        InitialState::bootstrap(ids(n)),
        ChaCha8Rng::seed_from_u64(u64::from(id)),
    )
    .expect("valid config")
}

/// Takes and acknowledges every pending `Ready` without IO; returns the messages sent.
fn drain(node: &mut RawNode<ChaCha8Rng>) -> Vec<Message> {
    let mut out = Vec::new();
    while node.has_ready() {
        let mut rd = node.ready();
        out.append(&mut rd.messages);
        node.advance(&rd);
    }
    out
}

fn payload(i: u64) -> Vec<u8> {
    let mut d = i.to_le_bytes().to_vec();
    d.resize(PAYLOAD_BYTES, 0);
    d
}

/// A follower (node 2 of 3) and `FOLLOWER_MSGS` appends from leader 1 in term 2.
fn follower_input(batch: u64) -> (RawNode<ChaCha8Rng>, Vec<Message>) {
    let mut msgs = Vec::new();
    let mut prev = (LogIndex(1), Term(1));
    for _ in 0..FOLLOWER_MSGS {
        let entries: Vec<Entry> = (1..=batch)
            .map(|k| Entry {
                term: Term(2),
                index: LogIndex(prev.0 .0 + k),
                kind: EntryKind::Normal(payload(prev.0 .0 + k)),
            })
            .collect();
        msgs.push(Message {
            from: NodeId(1),
            to: NodeId(2),
            term: Term(2),
            kind: MessageKind::AppendEntries {
                prev_log_index: prev.0,
                prev_log_term: prev.1,
                entries,
                commit: prev.0,
            },
        });
        prev = (LogIndex(prev.0 .0 + batch), Term(2));
    }
    (node(2, 3), msgs)
}

/// Leader 1 of 3, elected in term 2, with `LEADER_ENTRIES` proposals after its noop, and
/// the acks of both followers for each of them in order.
fn leader_input() -> (RawNode<ChaCha8Rng>, Vec<Message>) {
    let mut leader = node(1, 3);
    leader.campaign();
    drain(&mut leader);
    leader.step(Message {
        from: NodeId(2),
        to: NodeId(1),
        term: leader.status().hard_state.term,
        kind: MessageKind::RequestVoteResp { reject: None },
    });
    assert_eq!(leader.status().role, Role::Leader);
    for i in 0..LEADER_ENTRIES {
        leader.propose(payload(i)).expect("leader");
    }
    drain(&mut leader);
    let term = leader.status().hard_state.term;
    let first = 2; // the noop
    let msgs = (first..=first + LEADER_ENTRIES)
        .flat_map(|k| {
            [2, 3].map(|from| Message {
                from: NodeId(from),
                to: NodeId(1),
                term,
                kind: MessageKind::AppendEntriesResp {
                    outcome: AppendOutcome::Accepted {
                        match_index: LogIndex(k),
                    },
                },
            })
        })
        .collect();
    (leader, msgs)
}

fn step_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for batch in [1u64, 16, 64] {
        group.throughput(Throughput::Elements(FOLLOWER_MSGS));
        group.bench_function(format!("follower_append/{batch}"), |b| {
            b.iter_batched(
                || follower_input(batch),
                |(mut node, msgs)| {
                    for m in msgs {
                        node.step(m);
                        black_box(drain(&mut node));
                    }
                    let last = 1 + FOLLOWER_MSGS * batch;
                    assert_eq!(node.status().last_index, LogIndex(last), "all accepted");
                    node
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.throughput(Throughput::Elements(2 * (LEADER_ENTRIES + 1)));
    group.bench_function("leader_append_resp", |b| {
        b.iter_batched(
            leader_input,
            |(mut leader, msgs)| {
                for m in msgs {
                    leader.step(m);
                    black_box(drain(&mut leader));
                }
                assert_eq!(
                    leader.status().hard_state.commit,
                    LogIndex(2 + LEADER_ENTRIES)
                );
                leader
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// An in-memory cluster: nodes, their "disks" (entries persisted per the `Ready`
/// contract) and the messages in flight, delivered in order.
struct Cluster {
    nodes: Vec<RawNode<ChaCha8Rng>>,
    disks: Vec<Vec<Entry>>,
    in_flight: VecDeque<Message>,
    applied: Vec<u64>,
}

impl Cluster {
    fn elected(n: u32) -> Cluster {
        let mut c = Cluster {
            nodes: (1..=n).map(|id| node(id, n)).collect(),
            disks: vec![Vec::new(); n as usize],
            in_flight: VecDeque::new(),
            applied: vec![0; n as usize],
        };
        c.nodes[0].campaign();
        c.run();
        assert_eq!(c.nodes[0].status().role, Role::Leader);
        c
    }

    fn handle(&mut self, i: usize) {
        while self.nodes[i].has_ready() {
            let rd: Ready = self.nodes[i].ready();
            let disk = &mut self.disks[i];
            if let Some(first) = rd.entries.first() {
                let keep = disk.partition_point(|e| e.index < first.index);
                disk.truncate(keep);
                disk.extend(rd.entries.iter().cloned());
            }
            self.in_flight.extend(rd.messages.iter().cloned());
            self.applied[i] += rd
                .committed_entries
                .iter()
                .filter(|e| matches!(e.kind, EntryKind::Normal(_)))
                .count() as u64;
            self.nodes[i].advance(&rd);
        }
    }

    /// Delivers until nothing is in flight.
    fn run(&mut self) {
        for i in 0..self.nodes.len() {
            self.handle(i);
        }
        while let Some(m) = self.in_flight.pop_front() {
            let to = (m.to.0 - 1) as usize;
            self.nodes[to].step(m);
            self.handle(to);
        }
    }

    /// Proposes `total` entries on the leader, `CLUSTER_BATCH` per round.
    fn commit(&mut self, total: u64) {
        let target = self.applied[0] + total;
        let mut proposed = 0;
        while self.applied[0] < target {
            for _ in 0..CLUSTER_BATCH.min(total - proposed) {
                self.nodes[0].propose(payload(proposed)).expect("leader");
                proposed += 1;
            }
            self.run();
        }
    }
}

fn cluster_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("cluster");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(CLUSTER_PROPOSALS));
    for n in [3u32, 5] {
        group.bench_function(format!("{n}_nodes"), |b| {
            b.iter_batched(
                || Cluster::elected(n),
                |mut cluster| {
                    cluster.commit(CLUSTER_PROPOSALS);
                    cluster
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, step_benches, cluster_benches);
criterion_main!(benches);
