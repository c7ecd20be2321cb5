//! The simulated network's fault state: which links are up, their latency, and loss.
//!
//! The network decides each message's fate twice: when it is sent (a cut link or random
//! loss drops it at once) and when it arrives (a link cut in flight, or a receiver that is
//! down, drops it). Messages may overtake one another when latencies differ, as datagrams do;
//! the protocols above must cope, as Raft does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::fault::FaultOp;
use crate::ids::NodeId;
use crate::trace::DropReason;

/// A one-way latency range, microseconds, sampled uniformly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyRange {
    /// Lowest one-way latency, microseconds.
    pub min_us: u64,
    /// Highest one-way latency, microseconds.
    pub max_us: u64,
}

impl LatencyRange {
    /// A range in whole milliseconds.
    pub fn ms(min_ms: u64, max_ms: u64) -> Self {
        LatencyRange {
            min_us: min_ms * 1000,
            max_us: max_ms * 1000,
        }
    }

    fn sample(self, rng: &mut ChaCha8Rng) -> Duration {
        Duration::from_micros(rng.gen_range(self.min_us..=self.max_us.max(self.min_us)))
    }
}

/// The network's defaults for a run; `heal-all` returns to these.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetConfig {
    /// One-way latency of every link.
    pub latency: LatencyRange,
    /// Probability that a message is lost.
    pub loss_probability: f64,
}

impl Default for NetConfig {
    /// 1 to 5 ms one way, no loss: a LAN a little worse than a data centre's.
    fn default() -> Self {
        NetConfig {
            latency: LatencyRange::ms(1, 5),
            loss_probability: 0.0,
        }
    }
}

/// Which links are up: a partition (group per node) plus one-way cuts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// Group of each node while partitioned; empty when not partitioned.
    group_of: BTreeMap<NodeId, usize>,
    /// Directed links cut one way.
    cut: BTreeSet<(NodeId, NodeId)>,
}

impl Links {
    /// Whether `from` can currently reach `to`.
    pub fn is_up(&self, from: NodeId, to: NodeId) -> bool {
        if from == to {
            return true;
        }
        if self.cut.contains(&(from, to)) {
            return false;
        }
        match (self.group_of.get(&from), self.group_of.get(&to)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// Applies a partition into `groups`.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.group_of.clear();
        for (g, group) in groups.iter().enumerate() {
            for node in group {
                self.group_of.insert(*node, g);
            }
        }
    }

    /// Cuts `node` off from every other node in `all`.
    pub fn isolate(&mut self, node: NodeId, all: &[NodeId]) {
        let rest: Vec<NodeId> = all.iter().copied().filter(|n| *n != node).collect();
        self.partition(&[vec![node], rest]);
    }

    /// Cuts one direction.
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        self.cut.insert((from, to));
    }

    /// Restores one direction.
    pub fn restore(&mut self, from: NodeId, to: NodeId) {
        self.cut.remove(&(from, to));
    }

    /// Removes the partition and every cut.
    pub fn heal(&mut self) {
        self.group_of.clear();
        self.cut.clear();
    }

    /// Applies the link part of a fault op (`all` is every node, for `isolate`); other
    /// ops leave the links as they are.
    pub fn apply(&mut self, op: &FaultOp, all: &[NodeId]) {
        match op {
            FaultOp::Partition { groups } => self.partition(groups),
            FaultOp::Isolate { node } => self.isolate(*node, all),
            FaultOp::CutLink { from, to } => self.cut(*from, *to),
            FaultOp::RestoreLink { from, to } => self.restore(*from, *to),
            FaultOp::Heal | FaultOp::HealAll => self.heal(),
            _ => {}
        }
    }
}

/// The network's state during a run.
#[derive(Debug)]
pub struct Network {
    defaults: NetConfig,
    latency: LatencyRange,
    link_latency: BTreeMap<(NodeId, NodeId), LatencyRange>,
    loss_probability: f64,
    links: Links,
    nodes: Vec<NodeId>,
    rng: ChaCha8Rng,
}

impl Network {
    /// A healed network over `nodes` with the run's defaults.
    pub fn new(defaults: NetConfig, nodes: Vec<NodeId>, rng: ChaCha8Rng) -> Self {
        Network {
            defaults,
            latency: defaults.latency,
            link_latency: BTreeMap::new(),
            loss_probability: defaults.loss_probability,
            links: Links::default(),
            nodes,
            rng,
        }
    }

    /// Decides a message's fate at send time: its latency, or why it is dropped.
    pub fn route(&mut self, from: NodeId, to: NodeId) -> Result<Duration, DropReason> {
        if !self.links.is_up(from, to) {
            return Err(DropReason::Partitioned);
        }
        if self.loss_probability > 0.0 && self.rng.gen_bool(self.loss_probability) {
            return Err(DropReason::Lost);
        }
        let range = self
            .link_latency
            .get(&(from, to))
            .copied()
            .unwrap_or(self.latency);
        Ok(range.sample(&mut self.rng))
    }

    /// Whether `from` can reach `to` now (checked again when a message arrives).
    pub fn is_up(&self, from: NodeId, to: NodeId) -> bool {
        self.links.is_up(from, to)
    }

    /// Applies a network fault op; other ops are ignored.
    pub fn apply(&mut self, op: &FaultOp) {
        self.links.apply(op, &self.nodes);
        match op {
            FaultOp::Latency { min_us, max_us } => {
                self.latency = LatencyRange {
                    min_us: *min_us,
                    max_us: *max_us,
                }
            }
            FaultOp::LinkLatency {
                from,
                to,
                min_us,
                max_us,
            } => {
                self.link_latency.insert(
                    (*from, *to),
                    LatencyRange {
                        min_us: *min_us,
                        max_us: *max_us,
                    },
                );
            }
            FaultOp::Loss { probability } => self.loss_probability = *probability,
            FaultOp::HealAll => {
                self.latency = self.defaults.latency;
                self.link_latency.clear();
                self.loss_probability = self.defaults.loss_probability;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    #[test]
    fn partition_cuts_only_across_groups() {
        let mut links = Links::default();
        links.partition(&[vec![n(1), n(2)], vec![n(3), n(4), n(5)]]);
        assert!(links.is_up(n(1), n(2)));
        assert!(links.is_up(n(3), n(5)));
        assert!(!links.is_up(n(1), n(3)));
        assert!(!links.is_up(n(5), n(2)));
        links.heal();
        assert!(links.is_up(n(1), n(3)));
    }

    #[test]
    fn a_node_in_no_group_keeps_every_link() {
        let mut links = Links::default();
        links.partition(&[vec![n(1), n(2)], vec![n(3)]]);
        assert!(!links.is_up(n(1), n(3)));
        for side in [n(1), n(2), n(3)] {
            assert!(links.is_up(n(4), side) && links.is_up(side, n(4)));
        }
    }

    #[test]
    fn cut_link_is_one_way() {
        let mut links = Links::default();
        links.cut(n(1), n(2));
        assert!(!links.is_up(n(1), n(2)));
        assert!(links.is_up(n(2), n(1)));
        links.restore(n(1), n(2));
        assert!(links.is_up(n(1), n(2)));
    }

    #[test]
    fn latency_stays_in_range_and_loss_drops() {
        let nodes = vec![n(1), n(2)];
        let mut net = Network::new(NetConfig::default(), nodes, derive_rng(1, "net"));
        for _ in 0..1000 {
            let d = net.route(n(1), n(2)).unwrap();
            assert!((1000..=5000).contains(&(d.as_micros() as u64)));
        }
        net.apply(&FaultOp::Loss { probability: 1.0 });
        assert_eq!(net.route(n(1), n(2)), Err(DropReason::Lost));
        net.apply(&FaultOp::HealAll);
        assert!(net.route(n(1), n(2)).is_ok());
    }
}
