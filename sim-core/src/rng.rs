//! Seeded randomness.
//!
//! Every random choice in a run (fault schedules, latencies, losses, fsync times, election
//! timeouts, workloads) comes from a [`ChaCha8Rng`] derived from the run's seed and a stable
//! label, so that adding a new consumer of randomness does not shift the numbers that the
//! others draw. madsim's own rng (task scheduling order) is seeded with the same seed.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The rng for stream `label` of the run seeded with `seed`.
///
/// The seed picks the ChaCha key; the label, hashed with BLAKE3 (stable across platforms and
/// releases, unlike `std`'s hasher), picks the ChaCha stream.
pub fn derive_rng(seed: u64, label: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream_id(label));
    rng
}

fn stream_id(label: &str) -> u64 {
    let hash = blake3::hash(label.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_seed_and_label_give_the_same_numbers() {
        let a: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(derive_rng(7, "net"), |r, _: u64| Some(r.gen()))
            .collect();
        let b: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(derive_rng(7, "net"), |r, _: u64| Some(r.gen()))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn labels_and_seeds_separate_streams() {
        let x: u64 = derive_rng(7, "net").gen();
        let y: u64 = derive_rng(7, "disk").gen();
        let z: u64 = derive_rng(8, "net").gen();
        assert_ne!(x, y);
        assert_ne!(x, z);
    }
}
