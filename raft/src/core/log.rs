//! The in-memory Raft log: a snapshot prefix, then entries, split into a stable part (durable
//! as far as the core knows) and an unstable tail the caller still has to persist.

use super::types::{Entry, LogIndex, Snapshot, Term};

/// The log of one node.
///
/// Invariants: `snapshot.meta.index <= committed <= last_index()`,
/// `applied <= committed`, and `entries[i].index == first_index() + i`.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    /// The latest snapshot; its index and term stand in for the compacted prefix.
    snapshot: Snapshot,
    /// Entries after the snapshot, contiguous.
    entries: Vec<Entry>,
    /// Entries up to here are durable.
    stable: LogIndex,
    /// A snapshot received from the leader that the caller has not persisted yet.
    pending_snapshot: Option<Snapshot>,
    /// Highest index known to be committed.
    pub(crate) committed: LogIndex,
    /// Highest index the application has applied.
    pub(crate) applied: LogIndex,
}

impl RaftLog {
    /// A log restored from durable state: a snapshot (possibly empty) and the entries after
    /// it. Everything passed in is considered stable.
    ///
    /// # Panics
    ///
    /// If `entries` are not contiguous from `snapshot.meta.index + 1` or `commit` is outside
    /// `[snapshot index, last index]`: the caller's storage is corrupt.
    pub fn restore_from(snapshot: Snapshot, entries: Vec<Entry>, commit: LogIndex) -> RaftLog {
        let base = snapshot.meta.index;
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(
                e.index.0,
                base.0 + 1 + i as u64,
                "stored entries are not contiguous"
            );
        }
        let mut log = RaftLog {
            stable: LogIndex(base.0 + entries.len() as u64),
            snapshot,
            entries,
            pending_snapshot: None,
            committed: base,
            applied: base,
        };
        let commit = commit.max(base);
        assert!(
            commit <= log.last_index(),
            "stored commit {commit} beyond the last entry"
        );
        log.committed = commit;
        log
    }

    /// Index of the first entry still in the log (one past the snapshot).
    pub fn first_index(&self) -> LogIndex {
        self.snapshot.meta.index.next()
    }

    /// Index of the last entry (or of the snapshot, if the log is empty after it).
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.snapshot.meta.index.0 + self.entries.len() as u64)
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> Term {
        self.entries
            .last()
            .map_or(self.snapshot.meta.term, |e| e.term)
    }

    /// The latest snapshot (an empty one at index 0 if none was taken).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The term at `index`, or `None` if it is compacted (below the snapshot) or beyond the end.
    pub fn term(&self, index: LogIndex) -> Option<Term> {
        let base = self.snapshot.meta.index;
        if index == base {
            return Some(self.snapshot.meta.term);
        }
        if index < base || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index.0 - base.0 - 1) as usize].term)
    }

    /// Whether the entry at `index` has `term` (the AppendEntries consistency check).
    pub fn match_term(&self, index: LogIndex, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// Raft §5.4.1: a candidate's log is at least as up to date as ours if its last term is
    /// higher, or equal with an index at least as large.
    pub fn is_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// The index of the first entry in `entries` that is new or disagrees with ours.
    pub fn find_conflict(&self, entries: &[Entry]) -> Option<LogIndex> {
        entries
            .iter()
            .find(|e| !self.match_term(e.index, e.term))
            .map(|e| e.index)
    }

    /// The largest index at or below `index` whose term is at most `term` (fast
    /// backtracking). Stops at the snapshot index.
    pub fn find_conflict_by_term(&self, index: LogIndex, term: Term) -> LogIndex {
        let mut i = index.min(self.last_index());
        while i > self.snapshot.meta.index {
            match self.term(i) {
                Some(t) if t > term => i = i.prev(),
                _ => break,
            }
        }
        i
    }

    /// Handles the log part of an AppendEntries: on a consistency-check match, appends the
    /// new entries (truncating a conflicting suffix), advances the commit index to
    /// `min(commit, last new index)` and returns the last new index.
    ///
    /// # Panics
    ///
    /// If a conflicting entry is at or below the commit index: a leader never sends entries
    /// that disagree with committed ones, so this is a broken safety invariant. With the
    /// `truncate_committed` mutant the committed entries are truncated instead.
    pub fn maybe_append(
        &mut self,
        prev_index: LogIndex,
        prev_term: Term,
        commit: LogIndex,
        entries: &[Entry],
        truncate_committed: bool,
    ) -> Option<LogIndex> {
        if !self.match_term(prev_index, prev_term) {
            return None;
        }
        let last_new = LogIndex(prev_index.0 + entries.len() as u64);
        // Mutant `truncate_committed`: the classic mistake of replacing the whole suffix
        // after `prev_index` with the message's entries, conflict or not. A delayed
        // AppendEntries then cuts off newer entries, committed ones included.
        let conflict = if truncate_committed && !entries.is_empty() && self.last_index() > last_new
        {
            Some(entries[0].index)
        } else {
            self.find_conflict(entries)
        };
        if let Some(conflict) = conflict {
            if conflict <= self.committed && !truncate_committed {
                panic!(
                    "entry {conflict} conflicts with the committed prefix (commit {})",
                    self.committed
                );
            }
            let start = (conflict.0 - entries[0].index.0) as usize;
            self.append(&entries[start..]);
            if self.committed > self.last_index() {
                self.committed = self.last_index();
            }
        }
        self.commit_to(commit.min(last_new));
        Some(last_new)
    }

    /// Appends `entries`, truncating any existing entries at or after the first of them.
    ///
    /// # Panics
    ///
    /// If the entries would leave a gap or overwrite the snapshot.
    pub fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else { return };
        assert!(
            first.index > self.snapshot.meta.index && first.index <= self.last_index().next(),
            "append at {} leaves a gap or overwrites the snapshot (log {}..={})",
            first.index,
            self.first_index(),
            self.last_index()
        );
        let keep = (first.index.0 - self.first_index().0) as usize;
        self.entries.truncate(keep);
        self.entries.extend_from_slice(entries);
        if self.stable >= first.index {
            self.stable = first.index.prev();
        }
    }

    /// Entries the caller still has to persist.
    pub fn unstable_entries(&self) -> &[Entry] {
        let from = (self.stable.0.saturating_sub(self.snapshot.meta.index.0)) as usize;
        &self.entries[from.min(self.entries.len())..]
    }

    /// Marks entries up to `index` durable, if the entry there still has `term` (it may have
    /// been replaced since the caller took it).
    pub fn stable_to(&mut self, index: LogIndex, term: Term) {
        if index > self.stable && self.match_term(index, term) {
            self.stable = index;
        }
    }

    /// Advances the commit index; never moves it back.
    ///
    /// # Panics
    ///
    /// If `index` is beyond the last entry: committing what one does not have is a bug.
    pub fn commit_to(&mut self, index: LogIndex) -> bool {
        if index <= self.committed {
            return false;
        }
        assert!(
            index <= self.last_index(),
            "commit {index} beyond last index {}",
            self.last_index()
        );
        self.committed = index;
        true
    }

    /// Entries in `[lo, lo + max)` clipped to the log, or `None` if `lo` is compacted.
    pub fn entries_from(&self, lo: LogIndex, max: usize) -> Option<Vec<Entry>> {
        if lo < self.first_index() {
            return None;
        }
        let start = (lo.0 - self.first_index().0) as usize;
        if start >= self.entries.len() {
            return Some(Vec::new());
        }
        let end = self.entries.len().min(start + max);
        Some(self.entries[start..end].to_vec())
    }

    /// Committed entries the application has not applied yet (excluding what a pending
    /// snapshot covers).
    pub fn next_committed_entries(&self) -> Vec<Entry> {
        let lo = self.applied.next().max(self.first_index());
        if lo > self.committed {
            return Vec::new();
        }
        let n = (self.committed.0 - lo.0 + 1) as usize;
        self.entries_from(lo, n).unwrap_or_default()
    }

    /// Whether there are committed entries to apply.
    pub fn has_next_committed_entries(&self) -> bool {
        self.committed > self.applied.max(self.snapshot.meta.index)
    }

    /// Records that the application applied everything up to `index`.
    ///
    /// # Panics
    ///
    /// If `index` is beyond the commit index.
    pub fn applied_to(&mut self, index: LogIndex) {
        assert!(
            index <= self.committed,
            "applied {index} beyond commit {}",
            self.committed
        );
        if index > self.applied {
            self.applied = index;
        }
    }

    /// A snapshot from the leader that the caller must persist and install.
    pub fn pending_snapshot(&self) -> Option<&Snapshot> {
        self.pending_snapshot.as_ref()
    }

    /// The caller persisted and installed the pending snapshot at `index`.
    pub fn snapshot_applied(&mut self, index: LogIndex) {
        if self
            .pending_snapshot
            .as_ref()
            .is_some_and(|s| s.meta.index == index)
        {
            self.pending_snapshot = None;
            self.applied = self.applied.max(index);
        }
    }

    /// Replaces the whole log with a snapshot received from the leader.
    pub fn restore(&mut self, snapshot: Snapshot) {
        self.entries.clear();
        self.committed = snapshot.meta.index;
        self.stable = snapshot.meta.index;
        self.snapshot = snapshot.clone();
        self.pending_snapshot = Some(snapshot);
    }

    /// Takes a snapshot at the applied index with the application's `data` and drops the
    /// entries it covers, so a follower that needs them gets the snapshot instead.
    ///
    /// # Panics
    ///
    /// If the applied entry is no longer in the log (nothing applied since the last
    /// snapshot is fine: then the snapshot is just replaced).
    pub fn compact(&mut self, data: Vec<u8>, conf_state: super::types::ConfState) -> Snapshot {
        let index = self.applied;
        let term = self.term(index).expect("applied entry must be in the log");
        let drop = (index.0 - self.snapshot.meta.index.0) as usize;
        self.entries.drain(..drop.min(self.entries.len()));
        self.snapshot = Snapshot {
            meta: super::types::SnapshotMeta {
                index,
                term,
                conf_state,
            },
            data,
        };
        self.stable = self.stable.max(index);
        self.snapshot.clone()
    }

    /// All entries still in the log (for tests and checkers).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::EntryKind;

    fn e(term: u64, index: u64) -> Entry {
        Entry {
            term: Term(term),
            index: LogIndex(index),
            kind: EntryKind::Noop,
        }
    }

    fn log(terms: &[u64]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, t)| e(*t, i as u64 + 1))
            .collect();
        RaftLog::restore_from(Snapshot::default(), entries, LogIndex(0))
    }

    #[test]
    fn log_matching_appends_after_matching_prefix_and_truncates_conflicts() {
        let mut l = log(&[1, 1, 2]);
        assert_eq!(
            l.maybe_append(LogIndex(1), Term(1), LogIndex(0), &[e(3, 2)], false),
            Some(LogIndex(2))
        );
        assert_eq!(l.last_index(), LogIndex(2));
        assert_eq!(l.term(LogIndex(2)), Some(Term(3)));
        assert_eq!(
            l.unstable_entries().len(),
            1,
            "the replaced entry must be persisted again"
        );
        assert_eq!(
            l.maybe_append(LogIndex(2), Term(1), LogIndex(0), &[e(3, 3)], false),
            None
        );
    }

    #[test]
    fn log_matching_keeps_entries_when_a_stale_append_is_a_prefix() {
        let mut l = log(&[1, 1, 2]);
        assert_eq!(
            l.maybe_append(LogIndex(0), Term(0), LogIndex(0), &[e(1, 1)], false),
            Some(LogIndex(1))
        );
        assert_eq!(
            l.last_index(),
            LogIndex(3),
            "a matching prefix must not truncate"
        );
    }

    #[test]
    #[should_panic(expected = "conflicts with the committed prefix")]
    fn conflict_below_commit_panics() {
        let mut l = log(&[1, 1, 2]);
        l.commit_to(LogIndex(3));
        l.maybe_append(LogIndex(1), Term(1), LogIndex(0), &[e(3, 2)], false);
    }

    #[test]
    fn truncate_committed_mutant_truncates_committed_entries() {
        let mut l = log(&[1, 1, 2]);
        l.commit_to(LogIndex(3));
        l.maybe_append(LogIndex(1), Term(1), LogIndex(0), &[e(3, 2)], true);
        assert_eq!(
            l.term(LogIndex(2)),
            Some(Term(3)),
            "a committed entry was overwritten"
        );
    }

    #[test]
    fn truncate_committed_mutant_lets_a_stale_append_cut_the_committed_tail() {
        let mut l = log(&[1, 1, 1, 1]);
        l.commit_to(LogIndex(4));
        // A delayed copy of an earlier AppendEntries: it matches, and carries only entry 2.
        l.maybe_append(LogIndex(1), Term(1), LogIndex(0), &[e(1, 2)], true);
        assert_eq!(
            l.last_index(),
            LogIndex(2),
            "the committed entries 3 and 4 were cut"
        );
        let mut ok = log(&[1, 1, 1, 1]);
        ok.commit_to(LogIndex(4));
        ok.maybe_append(LogIndex(1), Term(1), LogIndex(0), &[e(1, 2)], false);
        assert_eq!(
            ok.last_index(),
            LogIndex(4),
            "a matching prefix must not truncate"
        );
    }

    #[test]
    fn find_conflict_by_term_skips_a_whole_term() {
        let l = log(&[1, 1, 4, 4, 4, 4]);
        assert_eq!(l.find_conflict_by_term(LogIndex(6), Term(2)), LogIndex(2));
        assert_eq!(l.find_conflict_by_term(LogIndex(9), Term(4)), LogIndex(6));
        assert_eq!(l.find_conflict_by_term(LogIndex(6), Term(0)), LogIndex(0));
    }

    #[test]
    fn compaction_keeps_terms_and_hides_compacted_entries() {
        let mut l = log(&[1, 1, 2, 2]);
        l.commit_to(LogIndex(3));
        l.applied_to(LogIndex(3));
        let s = l.compact(b"s".to_vec(), Default::default());
        assert_eq!((s.meta.index, s.meta.term), (LogIndex(3), Term(2)));
        assert_eq!(l.first_index(), LogIndex(4));
        assert_eq!(l.term(LogIndex(3)), Some(Term(2)));
        assert_eq!(l.term(LogIndex(2)), None);
        assert!(l.entries_from(LogIndex(2), 10).is_none());
        assert_eq!(l.entries_from(LogIndex(4), 10).unwrap().len(), 1);
    }
}
