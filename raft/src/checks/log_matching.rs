//! `log-matching`: if two logs contain an entry with the same index and term, they hold the
//! same entry there and are identical in all entries before it (Raft, Figure 3).
//!
//! Checked incrementally in O(entries): the first time an (index, term) pair appears
//! anywhere, its digest and the term of the entry before it are remembered; every later
//! appearance on any node must agree on both. By induction over the index this gives equal
//! prefixes.

use std::collections::BTreeMap;

use sim_core::{Evidence, OnlineCheck, TraceEvent, Violation};

use super::logs::{DurableLogs, NodeLog};
use crate::events::{EntryDigest, RaftEvent};

/// See the module docs. Judged online: the state is every node's durable log and the first
/// copy of each (index, term) pair.
#[derive(Clone, Debug, Default)]
pub struct LogMatching {
    logs: DurableLogs,
    /// (index, term) -> (digest, term of the entry before, where first seen).
    seen: BTreeMap<(u64, u64), (EntryDigest, Option<u64>, Evidence)>,
}

impl OnlineCheck for LogMatching {
    const NAME: &'static str = "log-matching";

    fn observe(&mut self, event: &TraceEvent) -> Option<Violation> {
        if let (Some(node), Some(RaftEvent::LogAppend { entries })) =
            (event.node, event.layer::<RaftEvent>())
        {
            let mut log = Appending::new(self.logs.get(node));
            for e in entries {
                // Raft numbers entries from 1; a trace that says 0 has no entry before it.
                let prev_term = e.index.checked_sub(1).and_then(|i| log.term_at(i));
                match self.seen.get(&(e.index, e.term)) {
                    None => {
                        let first = Evidence::event(event, "first copy");
                        self.seen
                            .insert((e.index, e.term), (e.digest, prev_term, first));
                    }
                    Some((digest, first_prev, first)) => {
                        let prev_differs =
                            matches!((first_prev, prev_term), (Some(a), Some(b)) if *a != b);
                        if *digest != e.digest || prev_differs {
                            return Some(Violation::new(
                                format!(
                                    "logs disagree: entry {}@term {} on {node} differs from an earlier copy{}",
                                    e.index,
                                    e.term,
                                    if prev_differs { " in the entries before it" } else { "" }
                                ),
                                vec![first.clone(), Evidence::event(event, "conflicting copy")],
                            ));
                        }
                    }
                }
                log.append(e.index, e.term);
            }
        }
        self.logs.apply(event);
        None
    }
}

/// A node's log while one `log-append` is read entry by entry: the durable log before the
/// event, with the entries read so far laid over it (each cuts off what follows it, as an
/// append does). Cheaper than copying the whole log for every append.
struct Appending<'a> {
    base: Option<&'a NodeLog>,
    /// The lowest index appended so far: the base's entries from here on are gone.
    cut: Option<u64>,
    /// The entries appended so far, by index: their terms.
    appended: BTreeMap<u64, u64>,
}

impl<'a> Appending<'a> {
    fn new(base: Option<&'a NodeLog>) -> Self {
        Appending {
            base,
            cut: None,
            appended: BTreeMap::new(),
        }
    }

    /// As [`NodeLog::term_at`] of the log with the entries appended so far.
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        let snapshot = self.base.map_or((0, 0), |b| b.snapshot);
        if index == snapshot.0 {
            return Some(snapshot.1);
        }
        if let Some(term) = self.appended.get(&index) {
            return Some(*term);
        }
        if self.cut.is_some_and(|cut| index >= cut) {
            return None;
        }
        self.base
            .and_then(|base| base.entries.get(&index))
            .map(|(t, _)| *t)
    }

    /// Appends one entry: it replaces whatever the log held from its index on.
    fn append(&mut self, index: u64, term: u64) {
        self.appended.split_off(&index);
        self.appended.insert(index, term);
        self.cut = Some(self.cut.map_or(index, |cut| cut.min(index)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fixtures::*;
    use sim_core::EventKind;

    #[test]
    fn matching_logs_pass() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1)])
            .append(2, &[(1, 1)])
            .append(2, &[(2, 1), (3, 2)]);
        assert!(judge(&LogMatching::default(), &b).is_pass());
    }

    #[test]
    fn same_index_and_term_with_different_prefix_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 2)]).append(2, &[(1, 3), (2, 2)]);
        assert!(is_violation(&judge(&LogMatching::default(), &b)));
    }

    #[test]
    fn same_index_and_term_with_different_data_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1)]);
        b.push(
            Some(n(2)),
            EventKind::layer(RaftEvent::LogAppend {
                entries: vec![crate::events::EntryRef {
                    index: 1,
                    term: 1,
                    digest: EntryDigest(0xdead_beef),
                }],
            }),
        );
        assert!(is_violation(&judge(&LogMatching::default(), &b)));
    }

    #[test]
    fn online_it_fires_at_the_first_conflicting_copy_and_not_before() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 2)])
            .append(2, &[(1, 1)])
            .truncate(2, 1)
            .append(2, &[(1, 3)]);
        let bad = b.events.len();
        // n1's (2, 2) follows a (1, 1); n2's follows the (1, 3) that replaced its (1, 1).
        b.append(2, &[(2, 2)]).append(3, &[(1, 1), (2, 2)]);
        assert_fires_at::<LogMatching>(&b, bad);
    }

    #[test]
    fn within_one_append_each_entry_follows_the_one_before_it() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 1), (3, 1)])
            .append(2, &[(1, 1), (2, 1), (3, 1)]);
        // n2 replaces its entries from 2 and then 1 in one append: (2, 2) comes after the
        // durable (1, 1), the second (1, 1) comes first and drops the (2, 2).
        b.append(2, &[(2, 2), (1, 1), (2, 1)]);
        assert!(first_firing::<LogMatching>(&b).is_none());
        let bad = b.events.len();
        b.append(3, &[(1, 4), (2, 2)]);
        assert_fires_at::<LogMatching>(&b, bad);
    }

    #[test]
    fn an_entry_numbered_zero_is_read_without_a_panic() {
        let mut b = TraceBuilder::new(2);
        b.append(1, &[(0, 1)]).append(2, &[(0, 1)]);
        assert!(judge(&LogMatching::default(), &b).is_pass());
    }
}
