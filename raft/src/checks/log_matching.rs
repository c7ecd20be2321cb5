//! `log-matching`: if two logs contain an entry with the same index and term, they hold the
//! same entry there and are identical in all entries before it (Raft, Figure 3).
//!
//! Checked incrementally in O(entries): the first time an (index, term) pair appears
//! anywhere, its digest and the term of the entry before it are remembered; every later
//! appearance on any node must agree on both. By induction over the index this gives equal
//! prefixes.

use std::collections::BTreeMap;

use sim_core::{Check, CheckKind, Evidence, Outcome, RunView, TraceEvent};

use super::logs::DurableLogs;
use crate::events::RaftEvent;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogMatching;

impl Check for LogMatching {
    fn name(&self) -> &'static str {
        "log-matching"
    }

    fn kind(&self) -> CheckKind {
        CheckKind::Always
    }

    fn check(&self, run: &RunView<'_>) -> Outcome {
        let mut logs = DurableLogs::default();
        // (index, term) -> (digest, term of the entry before, where first seen)
        let mut seen: BTreeMap<(u64, u64), (String, Option<u64>, &TraceEvent)> = BTreeMap::new();
        for event in &run.trace.events {
            if let (Some(node), Some(RaftEvent::LogAppend { entries })) =
                (event.node, event.layer::<RaftEvent>())
            {
                let mut log = logs.of(node);
                for e in entries {
                    let prev_term = log.term_at(e.index - 1);
                    match seen.get(&(e.index, e.term)) {
                        None => {
                            seen.insert((e.index, e.term), (e.digest.clone(), prev_term, event));
                        }
                        Some((digest, first_prev, first)) => {
                            let prev_differs =
                                matches!((first_prev, prev_term), (Some(a), Some(b)) if *a != b);
                            if *digest != e.digest || prev_differs {
                                return Outcome::violation(
                                    format!(
                                        "logs disagree: entry {}@term {} on {node} differs from an earlier copy{}",
                                        e.index,
                                        e.term,
                                        if prev_differs { " in the entries before it" } else { "" }
                                    ),
                                    vec![
                                        Evidence::event(first, "first copy"),
                                        Evidence::event(event, "conflicting copy"),
                                    ],
                                );
                            }
                        }
                    }
                    log.entries.split_off(&e.index);
                    log.entries.insert(e.index, (e.term, e.digest.clone()));
                }
            }
            logs.apply(event);
        }
        Outcome::Pass
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
        assert!(judge(&LogMatching, &b).is_pass());
    }

    #[test]
    fn same_index_and_term_with_different_prefix_fails() {
        let mut b = TraceBuilder::new(3);
        b.append(1, &[(1, 1), (2, 2)]).append(2, &[(1, 3), (2, 2)]);
        assert!(is_violation(&judge(&LogMatching, &b)));
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
                    digest: "other".into(),
                }],
            }),
        );
        assert!(is_violation(&judge(&LogMatching, &b)));
    }
}
