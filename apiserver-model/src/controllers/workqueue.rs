//! A controller's work queue, with client-go's guarantees: a key waits at most once, a key
//! being synced is not handed out again until its sync is done (a change meanwhile queues
//! it once more for after), keys come out in the order they were added, and a key whose
//! sync failed comes back after a per-key exponential backoff (client-go's
//! `DefaultControllerRateLimiter`: 5 ms doubling to 1000 s; its overall 10 qps bucket is
//! left out: the model's controllers never queue that fast).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use sim_core::SimTime;

/// The first retry of a failed key, milliseconds.
pub const RETRY_BASE_MS: u64 = 5;
/// The longest, milliseconds.
pub const RETRY_MAX_MS: u64 = 1_000_000;

/// One controller's queue of keys (`namespace/name`, or a uid for the garbage collector).
#[derive(Clone, Debug, Default)]
pub struct WorkQueue {
    queue: VecDeque<String>,
    dirty: BTreeSet<String>,
    processing: BTreeSet<String>,
    /// Keys to add when their time comes, in time order (then insertion order).
    delayed: BTreeMap<(SimTime, u64), String>,
    added: u64,
    failures: BTreeMap<String, u32>,
}

impl WorkQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `key` unless it already waits.
    pub fn add(&mut self, key: &str) {
        if !self.dirty.insert(key.to_string()) {
            return;
        }
        if !self.processing.contains(key) {
            self.queue.push_back(key.to_string());
        }
    }

    /// Queues `key` at `at`.
    pub fn add_at(&mut self, key: &str, at: SimTime) {
        self.added += 1;
        self.delayed.insert((at, self.added), key.to_string());
    }

    /// Queues `key` again after its backoff (doubling with each failure since its last
    /// success, see [`WorkQueue::forget`]).
    pub fn add_rate_limited(&mut self, key: &str, now: SimTime) {
        let failures = self.failures.entry(key.to_string()).or_insert(0);
        let backoff_ms = RETRY_BASE_MS
            .saturating_mul(1u64 << (*failures).min(40))
            .min(RETRY_MAX_MS);
        *failures += 1;
        self.add_at(key, now.after(Duration::from_millis(backoff_ms)));
    }

    /// Clears `key`'s failures (its sync succeeded).
    pub fn forget(&mut self, key: &str) {
        self.failures.remove(key);
    }

    /// Moves every delayed key whose time has come into the queue.
    pub fn promote(&mut self, now: SimTime) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.add(&key);
        }
    }

    /// When the next delayed key is due.
    pub fn next_due(&self) -> Option<SimTime> {
        self.delayed.keys().next().map(|(at, _)| *at)
    }

    /// The next key to sync; it is being processed until [`WorkQueue::done`].
    pub fn get(&mut self) -> Option<String> {
        let key = self.queue.pop_front()?;
        self.dirty.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// Ends `key`'s sync; queues it again if it changed meanwhile.
    pub fn done(&mut self, key: &str) {
        self.processing.remove(key);
        if self.dirty.contains(key) {
            self.queue.push_back(key.to_string());
        }
    }

    /// How many keys are being synced.
    pub fn in_progress(&self) -> usize {
        self.processing.len()
    }

    /// How many keys wait (not counting delayed ones).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no key waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_waits_once_and_is_not_handed_out_twice_at_a_time() {
        let mut q = WorkQueue::new();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().as_deref(), Some("a"));
        // Changed while being synced: not handed out until done.
        q.add("a");
        assert_eq!(q.get().as_deref(), Some("b"));
        assert_eq!(q.get(), None);
        q.done("a");
        assert_eq!(q.get().as_deref(), Some("a"));
        q.done("a");
        q.done("b");
        assert_eq!(q.get(), None);
        assert_eq!(q.in_progress(), 0);
    }

    #[test]
    fn failed_keys_come_back_after_a_doubling_backoff_until_forgotten() {
        let mut q = WorkQueue::new();
        let t0 = SimTime::from_ms(1_000);
        q.add_rate_limited("a", t0);
        assert_eq!(q.next_due(), Some(SimTime(1_005_000)));
        q.promote(SimTime(1_004_999));
        assert!(q.is_empty());
        q.promote(SimTime(1_005_000));
        assert_eq!(q.get().as_deref(), Some("a"));
        q.done("a");
        q.add_rate_limited("a", t0);
        q.add_rate_limited("a", t0);
        let due: Vec<SimTime> = q.delayed.keys().map(|(at, _)| *at).collect();
        assert_eq!(due, vec![SimTime(1_010_000), SimTime(1_020_000)]);
        q.forget("a");
        q.add_rate_limited("a", t0);
        assert_eq!(q.next_due(), Some(SimTime(1_005_000)));
    }
}
