//! What election-timing measured: `election_times.csv` and `election_timing.json` (each
//! range's median, percentiles and rounds, and the latency model the run used).

use std::fmt::Write as _;

use serde::Serialize;

use super::{ElectionTimingConfig, TimeoutRangeMs, Trial};

/// `election_times.csv`: one row per trial that elected a leader.
pub fn election_times_csv(ranges: &[TimeoutRangeMs], trials: &[Trial]) -> String {
    let mut csv = String::from("timeout_min_ms,timeout_max_ms,trial,election_ms\n");
    for t in trials {
        let Some(us) = t.election_us() else { continue };
        let r = ranges[t.range];
        let _ = writeln!(
            csv,
            "{},{},{},{}.{:03}",
            r.min_ms,
            r.max_ms,
            t.trial,
            us / 1000,
            us % 1000
        );
    }
    csv
}

/// `election_timing.json`.
#[derive(Debug, Serialize)]
pub(super) struct Summary {
    seed: u64,
    trials_per_range: u64,
    latency_model: LatencyModel,
    ranges: Vec<RangeSummary>,
}

#[derive(Debug, Serialize)]
struct LatencyModel {
    description: String,
    one_way_latency_min_ms: f64,
    one_way_latency_max_ms: f64,
    fsync_min_ms: f64,
    fsync_max_ms: f64,
    tick_ms: u64,
    cut_in_flight_probability: f64,
    client_write_interval_ms: u64,
}

#[derive(Debug, Serialize)]
struct RangeSummary {
    timeout_min_ms: u64,
    timeout_max_ms: u64,
    heartbeat_ms: u64,
    liveness_bound_ms: u64,
    trials: usize,
    elected: usize,
    median_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    mean_ms: Option<f64>,
    /// Trials that took more than one election round (split votes, or a candidate without
    /// the longest log).
    multi_round_trials: usize,
    max_rounds: Option<u64>,
    /// Trials whose surviving servers had logs of different lengths at the election.
    unequal_log_trials: usize,
}

pub(super) fn summary(config: &ElectionTimingConfig, seed: u64, trials: &[Trial]) -> Summary {
    let net = config.cluster.net.latency;
    let disk = config.cluster.disk;
    let ms = |us: u64| us as f64 / 1000.0;
    let latency_model = LatencyModel {
        description: format!(
            "one-way latency uniform in [{}, {}] ms per message, fsync uniform in [{}, {}] ms \
             before every vote and append answer: a broadcast to 4 followers and back takes about \
             9-20 ms (the paper's ~15 ms); not scaled for the small ranges. At each crash the \
             dead leader's link to each follower is cut with probability {}, dropping its last \
             messages in flight, so survivors' logs can differ.",
            ms(net.min_us),
            ms(net.max_us),
            ms(disk.fsync_min_us),
            ms(disk.fsync_max_us),
            config.cut_in_flight_probability
        ),
        one_way_latency_min_ms: ms(net.min_us),
        one_way_latency_max_ms: ms(net.max_us),
        fsync_min_ms: ms(disk.fsync_min_us),
        fsync_max_ms: ms(disk.fsync_max_us),
        tick_ms: config.cluster.raft.tick_ms,
        cut_in_flight_probability: config.cut_in_flight_probability,
        client_write_interval_ms: config.cluster.client.interval_ms,
    };
    let ranges = config
        .ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let of_range: Vec<&Trial> = trials.iter().filter(|t| t.range == i).collect();
            let mut times: Vec<u64> = of_range.iter().filter_map(|t| t.election_us()).collect();
            times.sort_unstable();
            let pick = |q: f64| percentile(&times, q).map(ms);
            RangeSummary {
                timeout_min_ms: r.min_ms,
                timeout_max_ms: r.max_ms,
                heartbeat_ms: config.heartbeat_ms(*r),
                liveness_bound_ms: config.bound_ms(*r),
                trials: of_range.len(),
                elected: times.len(),
                median_ms: pick(0.5),
                p90_ms: pick(0.9),
                p99_ms: pick(0.99),
                max_ms: times.last().copied().map(ms),
                mean_ms: (!times.is_empty())
                    .then(|| ms(times.iter().sum::<u64>() / times.len() as u64)),
                multi_round_trials: of_range
                    .iter()
                    .filter(|t| t.rounds().is_some_and(|n| n > 1))
                    .count(),
                max_rounds: of_range.iter().filter_map(|t| t.rounds()).max(),
                unequal_log_trials: of_range.iter().filter(|t| t.unequal_logs).count(),
            }
        })
        .collect();
    Summary {
        seed,
        trials_per_range: config.trials,
        latency_model,
        ranges,
    }
}

/// The nearest-rank `q` quantile of sorted `values`.
pub(super) fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
