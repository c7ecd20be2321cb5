//! Drawing a fault schedule from the seed.
//!
//! A generated schedule is a number of fault *episodes*, each a pair of ops: a start
//! (partition, kill, pause, ...) and the op that ends it (heal, restart, resume, ...), placed
//! at random inside a window. After the window, a `heal-all` returns the world to normal so
//! that liveness checks can ask for convergence (the VOPR's liveness phase). Episodes may
//! overlap; ops are absolute and idempotent, so overlaps only make things rougher.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::fault::{FaultOp, FaultSchedule, TimedFault};
use crate::ids::NodeId;
use crate::network::NetConfig;

/// Relative weights of the episode kinds (0 turns a kind off).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultWeights {
    /// Split the nodes into two or more groups.
    pub partition: f64,
    /// Cut one node off.
    pub isolate: f64,
    /// Cut one direction of one link.
    pub cut_link: f64,
    /// Kill a node, restart it later.
    pub kill: f64,
    /// Pause a node, resume it later.
    pub pause: f64,
    /// Power-fail one or more nodes (torn writes sometimes), restart them later.
    pub power_fail: f64,
    /// Stall a node's fsyncs.
    pub disk_stall: f64,
    /// Skew a node's clock, then clear it.
    pub clock_skew: f64,
    /// Lose a share of all messages for a while.
    pub loss: f64,
    /// Raise all latencies for a while.
    pub latency: f64,
}

impl Default for FaultWeights {
    fn default() -> Self {
        FaultWeights {
            partition: 2.0,
            isolate: 2.0,
            cut_link: 1.0,
            kill: 2.0,
            pause: 1.0,
            power_fail: 1.0,
            disk_stall: 1.0,
            clock_skew: 1.0,
            loss: 1.0,
            latency: 1.0,
        }
    }
}

/// Knobs of the generator. Times in milliseconds of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultKnobs {
    /// Fewest episodes.
    pub episodes_min: u32,
    /// Most episodes.
    pub episodes_max: u32,
    /// No episode starts before this.
    pub window_start_ms: u64,
    /// Every episode has ended by this; `heal-all` applies here.
    pub window_end_ms: u64,
    /// Shortest episode.
    pub duration_min_ms: u64,
    /// Longest episode.
    pub duration_max_ms: u64,
    /// Highest loss probability a `loss` episode sets.
    pub max_loss_probability: f64,
    /// Highest one-way latency a `latency` episode sets, microseconds.
    pub max_latency_us: u64,
    /// Largest clock skew (either sign), milliseconds.
    pub max_skew_ms: i64,
    /// Probability that a power failure tears the unsynced tail.
    pub torn_write_probability: f64,
    /// Which kinds, how often.
    pub weights: FaultWeights,
}

impl Default for FaultKnobs {
    fn default() -> Self {
        FaultKnobs {
            episodes_min: 1,
            episodes_max: 4,
            window_start_ms: 500,
            window_end_ms: 6_000,
            duration_min_ms: 100,
            duration_max_ms: 2_000,
            max_loss_probability: 0.3,
            max_latency_us: 50_000,
            max_skew_ms: 5_000,
            torn_write_probability: 0.5,
            weights: FaultWeights::default(),
        }
    }
}

/// Knobs that cannot make a schedule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KnobError {
    /// A range is upside down.
    #[error("{what}: minimum {min} is above maximum {max}")]
    Range {
        /// Which range.
        what: &'static str,
        /// Its minimum.
        min: u64,
        /// Its maximum.
        max: u64,
    },
    /// A duration of zero.
    #[error("{0} must be more than zero")]
    Zero(&'static str),
    /// Weights that are negative, not finite, or all zero while episodes are asked for.
    #[error("fault weights must be finite, not negative, and not all zero")]
    Weights,
    /// A probability outside `[0, 1]`.
    #[error("{0} must be between 0 and 1")]
    Probability(&'static str),
}

impl FaultKnobs {
    /// No faults at all.
    pub fn none() -> Self {
        FaultKnobs {
            episodes_min: 0,
            episodes_max: 0,
            ..FaultKnobs::default()
        }
    }

    /// Checks that the knobs make sense.
    pub fn validate(&self) -> Result<(), KnobError> {
        let range = |what, min: u64, max: u64| {
            if min > max {
                Err(KnobError::Range { what, min, max })
            } else {
                Ok(())
            }
        };
        range(
            "episodes",
            self.episodes_min.into(),
            self.episodes_max.into(),
        )?;
        range("window", self.window_start_ms, self.window_end_ms)?;
        range("duration", self.duration_min_ms, self.duration_max_ms)?;
        if self.duration_min_ms == 0 {
            return Err(KnobError::Zero("duration_min_ms"));
        }
        for (name, p) in [
            ("max_loss_probability", self.max_loss_probability),
            ("torn_write_probability", self.torn_write_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(KnobError::Probability(name));
            }
        }
        let w = self.weights.as_array();
        if w.iter().any(|x| !x.is_finite() || *x < 0.0)
            || (self.episodes_max > 0 && w.iter().all(|x| *x == 0.0))
        {
            return Err(KnobError::Weights);
        }
        Ok(())
    }

    /// Draws a schedule for `nodes` on a network whose defaults are `net` (episodes that
    /// change latency or loss end by restoring them). An empty schedule when `episodes_max`
    /// is 0; otherwise episodes followed by `heal-all` at `window_end_ms`.
    ///
    /// # Panics
    ///
    /// If the knobs do not validate, or `nodes` is empty.
    pub fn generate(
        &self,
        nodes: &[NodeId],
        net: NetConfig,
        rng: &mut ChaCha8Rng,
    ) -> FaultSchedule {
        self.generate_for(nodes, nodes, net, rng)
    }

    /// As [`FaultKnobs::generate`], but node faults (kill, pause, power failure, stall,
    /// skew, cut links, isolation) only hit `targets` (the servers, say, not the clients);
    /// partitions still place every node of `nodes` in a group.
    ///
    /// # Panics
    ///
    /// As [`FaultKnobs::generate`], or if `targets` is empty or not within `nodes`.
    pub fn generate_for(
        &self,
        nodes: &[NodeId],
        targets: &[NodeId],
        net: NetConfig,
        rng: &mut ChaCha8Rng,
    ) -> FaultSchedule {
        assert!(
            !targets.is_empty() && targets.iter().all(|t| nodes.contains(t)),
            "fault targets must be some of the nodes"
        );
        if let Err(e) = self.validate() {
            panic!("invalid fault knobs: {e}");
        }
        let episodes = rng.gen_range(self.episodes_min..=self.episodes_max);
        if self.episodes_max == 0 {
            return FaultSchedule::default();
        }
        let mut faults = Vec::new();
        for _ in 0..episodes {
            let duration = rng.gen_range(self.duration_min_ms..=self.duration_max_ms);
            let latest_start = self
                .window_end_ms
                .saturating_sub(duration)
                .max(self.window_start_ms);
            let start = rng.gen_range(self.window_start_ms..=latest_start);
            let end = (start + duration).min(self.window_end_ms);
            let (begin, finish) = self.episode(nodes, targets, net, rng, duration);
            faults.push(TimedFault::new(start, begin));
            faults.extend(finish.into_iter().map(|op| TimedFault::new(end, op)));
        }
        faults.sort_by_key(|f| f.at_ms);
        faults.push(TimedFault::new(self.window_end_ms, FaultOp::HealAll));
        FaultSchedule::new(faults)
    }

    fn episode(
        &self,
        nodes: &[NodeId],
        targets: &[NodeId],
        net: NetConfig,
        rng: &mut ChaCha8Rng,
        duration_ms: u64,
    ) -> (FaultOp, Vec<FaultOp>) {
        let weights = self.weights.as_array();
        let total: f64 = weights.iter().sum();
        let mut pick = rng.gen_range(0.0..total);
        let mut kind = 0;
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                kind = i;
                break;
            }
            pick -= w;
        }
        let node = *targets.choose(rng).expect("targets is not empty");
        match kind {
            0 if nodes.len() >= 2 => {
                let mut shuffled = nodes.to_vec();
                shuffled.shuffle(rng);
                let cut = rng.gen_range(1..shuffled.len());
                let (a, b) = shuffled.split_at(cut);
                let mut groups = vec![a.to_vec(), b.to_vec()];
                for g in &mut groups {
                    g.sort();
                }
                (FaultOp::Partition { groups }, vec![FaultOp::Heal])
            }
            1 if nodes.len() >= 2 => (FaultOp::Isolate { node }, vec![FaultOp::Heal]),
            2 if targets.len() >= 2 => {
                let to = **targets
                    .iter()
                    .filter(|n| **n != node)
                    .collect::<Vec<_>>()
                    .choose(rng)
                    .expect("two or more nodes");
                (
                    FaultOp::CutLink { from: node, to },
                    vec![FaultOp::RestoreLink { from: node, to }],
                )
            }
            3 => (FaultOp::Kill { node }, vec![FaultOp::Restart { node }]),
            4 => (FaultOp::Pause { node }, vec![FaultOp::Resume { node }]),
            5 => {
                let count = rng.gen_range(1..=targets.len());
                let mut victims: Vec<NodeId> =
                    targets.choose_multiple(rng, count).copied().collect();
                victims.sort();
                let torn_write = rng.gen_bool(self.torn_write_probability);
                let restarts = victims
                    .iter()
                    .map(|&node| FaultOp::Restart { node })
                    .collect();
                (
                    FaultOp::PowerFail {
                        nodes: victims,
                        torn_write,
                    },
                    restarts,
                )
            }
            6 => (FaultOp::DiskStall { node, duration_ms }, vec![]),
            7 => {
                let skew_ms = rng.gen_range(-self.max_skew_ms..=self.max_skew_ms);
                (
                    FaultOp::ClockSkew { node, skew_ms },
                    vec![FaultOp::ClockSkew { node, skew_ms: 0 }],
                )
            }
            8 => {
                let probability =
                    (rng.gen_range(0.0..=self.max_loss_probability) * 1000.0).round() / 1000.0;
                (
                    FaultOp::Loss { probability },
                    vec![FaultOp::Loss {
                        probability: net.loss_probability,
                    }],
                )
            }
            _ if kind <= 2 => (FaultOp::Pause { node }, vec![FaultOp::Resume { node }]),
            _ => {
                let max_us = rng.gen_range(1_000..=self.max_latency_us.max(1_000));
                let min_us = max_us / 2;
                (
                    FaultOp::Latency { min_us, max_us },
                    vec![FaultOp::Latency {
                        min_us: net.latency.min_us,
                        max_us: net.latency.max_us,
                    }],
                )
            }
        }
    }
}

impl FaultWeights {
    fn as_array(&self) -> [f64; 10] {
        [
            self.partition,
            self.isolate,
            self.cut_link,
            self.kill,
            self.pause,
            self.power_fail,
            self.disk_stall,
            self.clock_skew,
            self.loss,
            self.latency,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    fn nodes(n: u32) -> Vec<NodeId> {
        (1..=n).map(NodeId).collect()
    }

    #[test]
    fn generated_schedules_validate_and_end_healed() {
        let knobs = FaultKnobs::default();
        for seed in 0..300 {
            for n in 1..=7 {
                let s = knobs.generate(
                    &nodes(n),
                    NetConfig::default(),
                    &mut derive_rng(seed, "faults"),
                );
                s.validate(&nodes(n)).unwrap();
                let last = s.faults.last().unwrap();
                assert_eq!(last.op, FaultOp::HealAll);
                assert_eq!(last.at_ms, knobs.window_end_ms);
                assert!(s.faults.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
            }
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let knobs = FaultKnobs::default();
        let a = knobs.generate(
            &nodes(5),
            NetConfig::default(),
            &mut derive_rng(9, "faults"),
        );
        let b = knobs.generate(
            &nodes(5),
            NetConfig::default(),
            &mut derive_rng(9, "faults"),
        );
        assert_eq!(a, b);
    }

    #[test]
    fn no_episodes_means_no_faults() {
        let s = FaultKnobs::none().generate(
            &nodes(3),
            NetConfig::default(),
            &mut derive_rng(1, "faults"),
        );
        assert!(s.faults.is_empty());
    }

    #[test]
    fn bad_knobs_are_named() {
        let knobs = FaultKnobs {
            duration_min_ms: 10,
            duration_max_ms: 5,
            ..FaultKnobs::default()
        };
        assert!(knobs
            .validate()
            .unwrap_err()
            .to_string()
            .contains("duration"));
    }
}
