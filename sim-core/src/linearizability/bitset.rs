//! The set of operations already linearized, one bit per operation of a partition.
//!
//! It is half of the search's memo key (the other half is the model state), so it is
//! hashed and compared often: a boxed slice of words keeps it small and cheap to clone.

/// A fixed-size set of operation indices `0..len`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Box<[u64]>,
}

impl Bitset {
    /// An empty set able to hold indices `0..len`.
    pub(crate) fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)].into_boxed_slice(),
        }
    }

    /// Adds `i`.
    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Removes `i`.
    pub(crate) fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    /// Whether every element of `self` is in `other` (of the same size).
    pub(crate) fn is_subset(&self, other: &Bitset) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(a, b)| a & !b == 0)
    }

    /// Whether `i` is in the set.
    #[cfg(test)]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_clear_touch_only_their_bit() {
        let mut b = Bitset::new(130);
        b.set(0);
        b.set(64);
        b.set(129);
        assert!(b.contains(0) && b.contains(64) && b.contains(129));
        assert!(!b.contains(1) && !b.contains(63) && !b.contains(128));
        b.clear(64);
        assert!(!b.contains(64) && b.contains(129));
        let mut other = Bitset::new(130);
        other.set(0);
        other.set(129);
        assert_eq!(b, other);
        assert!(other.is_subset(&b) && b.is_subset(&other));
        other.clear(129);
        assert!(other.is_subset(&b) && !b.is_subset(&other));
    }
}
