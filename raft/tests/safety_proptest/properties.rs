//! The safety properties and what a violation says: the history of what every node persisted, applied and led, and the checks over it.

use std::collections::btree_map::Entry as MapEntry;
use std::collections::BTreeMap;
use std::fmt;

use raft::{Entry, HardState, LogIndex, Term};
use sim_core::NodeId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Property {
    ElectionSafety,
    LeaderAppendOnly,
    LogMatching,
    StateMachineSafety,
    LeaderCompleteness,
    TermVoteNeverBack,
    /// The core handed out a `Ready` that cannot be persisted as the contract says.
    ReadyContract,
    Liveness,
    /// The core (or the harness) panicked, e.g. on one of the core's own safety asserts.
    Panic,
}

impl Property {
    pub(crate) fn is_safety(self) -> bool {
        !matches!(self, Property::Liveness | Property::Panic)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Violation {
    pub(crate) property: Property,
    /// The schedule step after which it was seen; `None` in the liveness phase.
    pub(crate) step: Option<usize>,
    pub(crate) detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(s) => write!(f, "{:?} at step {s}: {}", self.property, self.detail),
            None => write!(
                f,
                "{:?} in the liveness phase: {}",
                self.property, self.detail
            ),
        }
    }
}

pub(crate) type Res = Result<(), Violation>;

pub(crate) fn violation(property: Property, detail: String) -> Violation {
    Violation {
        property,
        step: None,
        detail,
    }
}

pub(crate) fn tag(property: Property) -> impl FnOnce(String) -> Violation {
    move |detail| violation(property, detail)
}

/// What every node ever did that the properties talk about.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// The leader of each term seen.
    pub(crate) leaders: BTreeMap<Term, NodeId>,
    /// The first entry applied at each index, who applied it, and the lowest term any node
    /// was in when applying it (it was committed in that term or earlier).
    pub(crate) applied: BTreeMap<LogIndex, Applied>,
    /// The application digest after each index, and who reached it first.
    pub(crate) digests: BTreeMap<LogIndex, (u64, NodeId)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Applied {
    pub(crate) entry: Entry,
    pub(crate) by: NodeId,
    pub(crate) term_bound: Term,
}

impl History {
    /// Records that `id` leads in `term`; returns whether that is news.
    pub(crate) fn observe_leader(&mut self, id: NodeId, term: Term) -> Result<bool, String> {
        match self.leaders.entry(term) {
            MapEntry::Vacant(v) => {
                v.insert(id);
                Ok(true)
            }
            MapEntry::Occupied(o) if *o.get() == id => Ok(false),
            MapEntry::Occupied(o) => {
                Err(format!("two leaders in term {term}: {} and {id}", o.get()))
            }
        }
    }

    pub(crate) fn observe_apply(
        &mut self,
        by: NodeId,
        term_now: Term,
        entry: &Entry,
    ) -> Result<(), String> {
        match self.applied.entry(entry.index) {
            MapEntry::Vacant(v) => {
                v.insert(Applied {
                    entry: entry.clone(),
                    by,
                    term_bound: term_now,
                });
                Ok(())
            }
            MapEntry::Occupied(mut o) => {
                let a = o.get_mut();
                if a.entry != *entry {
                    return Err(format!(
                        "node {by} applied [{entry}] at index {} but node {} applied [{}]",
                        entry.index, a.by, a.entry
                    ));
                }
                a.term_bound = a.term_bound.min(term_now);
                Ok(())
            }
        }
    }

    pub(crate) fn observe_digest(
        &mut self,
        by: NodeId,
        index: LogIndex,
        digest: u64,
        how: &str,
    ) -> Result<(), String> {
        match self.digests.entry(index) {
            MapEntry::Vacant(v) => {
                v.insert((digest, by));
                Ok(())
            }
            MapEntry::Occupied(o) if o.get().0 == digest => Ok(()),
            MapEntry::Occupied(o) => Err(format!(
                "node {by} {how} a state at index {index} (digest {digest:x}) that differs from \
                 node {}'s (digest {:x})",
                o.get().1,
                o.get().0
            )),
        }
    }

    /// Every entry applied in a term below `term` must be in the new leader's log or under
    /// its snapshot.
    pub(crate) fn check_leader_completeness(
        &self,
        leader: NodeId,
        term: Term,
        snapshot_index: LogIndex,
        log: &[Entry],
    ) -> Result<(), String> {
        for (index, a) in self.applied.range(snapshot_index.next()..) {
            if a.term_bound >= term {
                continue;
            }
            let has = log
                .first()
                .and_then(|f| index.0.checked_sub(f.index.0))
                .and_then(|off| log.get(off as usize));
            if has != Some(&a.entry) {
                let has = has.map_or("nothing".to_string(), |e| format!("[{e}]"));
                return Err(format!(
                    "leader {leader} of term {term} has {has} at index {index}, but node {} \
                     applied [{}] there by term {}",
                    a.by, a.entry, a.term_bound
                ));
            }
        }
        Ok(())
    }
}

/// Log matching between two logs (each contiguous; they may start at different indexes
/// after compaction): below the highest index where their terms agree, they are equal.
pub(crate) fn check_log_matching(
    a: (NodeId, &[Entry]),
    b: (NodeId, &[Entry]),
) -> Result<(), String> {
    let (Some(fa), Some(fb)) = (a.1.first(), b.1.first()) else {
        return Ok(());
    };
    let lo = fa.index.0.max(fb.index.0);
    let hi = (fa.index.0 + a.1.len() as u64 - 1).min(fb.index.0 + b.1.len() as u64 - 1);
    if lo > hi {
        return Ok(());
    }
    let at = |log: &[Entry], first: u64, i: u64| log[(i - first) as usize].clone();
    let Some(top) = (lo..=hi)
        .rev()
        .find(|i| at(a.1, fa.index.0, *i).term == at(b.1, fb.index.0, *i).term)
    else {
        return Ok(());
    };
    for i in lo..=top {
        let (ea, eb) = (at(a.1, fa.index.0, i), at(b.1, fb.index.0, i));
        if ea != eb {
            return Err(format!(
                "nodes {} and {} agree on term {} at index {top} but differ at index {i}: \
                 [{ea}] vs [{eb}]",
                a.0,
                b.0,
                at(a.1, fa.index.0, top).term
            ));
        }
    }
    Ok(())
}

/// A leader's log in one term only grows: what it had (index, term) is still there.
pub(crate) fn check_append_only(
    id: NodeId,
    before: &[(LogIndex, Term)],
    now: &[Entry],
    now_last: LogIndex,
) -> Result<(), String> {
    if let Some((last, _)) = before.last() {
        if *last > now_last {
            return Err(format!(
                "leader {id}'s log shrank from {last} to {now_last}"
            ));
        }
    }
    let Some(first) = now.first().map(|e| e.index) else {
        return Ok(());
    };
    for (index, term) in before.iter().filter(|(i, _)| *i >= first) {
        let e = &now[(index.0 - first.0) as usize];
        if e.term != *term {
            return Err(format!(
                "leader {id} rewrote index {index} from term {term} to [{e}]"
            ));
        }
    }
    Ok(())
}

/// A node's hard state never goes back: the term never drops, and in the same term a vote
/// once cast never changes.
pub(crate) fn check_term_vote(
    id: NodeId,
    before: &HardState,
    now: &HardState,
    when: &str,
) -> Result<(), String> {
    let back = now.term < before.term
        || (now.term == before.term && before.vote.is_some() && now.vote != before.vote);
    if back {
        return Err(format!(
            "node {id} {when}: term/vote went from {}/{:?} back to {}/{:?}",
            before.term,
            before.vote.map(|v| v.0),
            now.term,
            now.vote.map(|v| v.0)
        ));
    }
    Ok(())
}
