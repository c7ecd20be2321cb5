//! Majority arithmetic over a voter set.

use std::collections::{BTreeMap, BTreeSet};

use super::types::LogIndex;
use sim_core::NodeId;

/// The result of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    Won,
    Lost,
    Pending,
}

/// Votes needed for a majority of `n` voters.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// The highest index present on a majority of `voters`, given each voter's match index.
/// An empty voter set commits nothing (a node with no configuration cannot decide).
pub fn committed_index(
    voters: &BTreeSet<NodeId>,
    match_of: impl Fn(NodeId) -> LogIndex,
) -> LogIndex {
    if voters.is_empty() {
        return LogIndex(0);
    }
    let mut matches: Vec<LogIndex> = voters.iter().map(|v| match_of(*v)).collect();
    matches.sort_unstable_by(|a, b| b.cmp(a));
    matches[majority(voters.len()) - 1]
}

/// Won once a majority granted, lost once a majority can no longer be reached.
pub fn vote_result(voters: &BTreeSet<NodeId>, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let granted = voters
        .iter()
        .filter(|v| votes.get(v) == Some(&true))
        .count();
    let missing = voters.iter().filter(|v| !votes.contains_key(v)).count();
    let q = majority(voters.len());
    if voters.is_empty() {
        VoteResult::Lost
    } else if granted >= q {
        VoteResult::Won
    } else if granted + missing >= q {
        VoteResult::Pending
    } else {
        VoteResult::Lost
    }
}

/// Whether the members in `acks` form a majority of `voters`.
pub fn has_quorum(voters: &BTreeSet<NodeId>, acks: &BTreeSet<NodeId>) -> bool {
    !voters.is_empty() && voters.intersection(acks).count() >= majority(voters.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u32]) -> BTreeSet<NodeId> {
        ids.iter().map(|i| NodeId(*i)).collect()
    }

    #[test]
    fn committed_index_is_the_majority_match() {
        let m = [5, 3, 9, 1, 4];
        assert_eq!(
            committed_index(&set(&[1, 2, 3, 4, 5]), |n| LogIndex(m[(n.0 - 1) as usize])),
            LogIndex(4)
        );
        assert_eq!(
            committed_index(&set(&[1, 2, 3, 4]), |n| LogIndex(m[(n.0 - 1) as usize])),
            LogIndex(3)
        );
    }

    #[test]
    fn even_sized_clusters_need_more_than_half() {
        assert_eq!(majority(4), 3);
        let votes = [(NodeId(1), true), (NodeId(2), true)].into_iter().collect();
        assert_eq!(
            vote_result(&set(&[1, 2, 3, 4]), &votes),
            VoteResult::Pending
        );
        let votes = [
            (NodeId(1), true),
            (NodeId(2), true),
            (NodeId(3), false),
            (NodeId(4), false),
        ]
        .into_iter()
        .collect();
        assert_eq!(vote_result(&set(&[1, 2, 3, 4]), &votes), VoteResult::Lost);
    }

    /// Majority sizes, and whether a set of acks is a quorum, for 0 to 7 voters.
    #[test]
    fn majority_table() {
        // (voters, majority, largest ack count that is not a quorum)
        let table = [
            (1, 1, 0),
            (2, 2, 1),
            (3, 2, 1),
            (4, 3, 2),
            (5, 3, 2),
            (6, 4, 3),
            (7, 4, 3),
        ];
        for (n, q, short) in table {
            assert_eq!(majority(n), q, "majority of {n}");
            let voters = set(&(1..=n as u32).collect::<Vec<_>>());
            let acks = |k: u32| set(&(1..=k).collect::<Vec<_>>());
            assert!(has_quorum(&voters, &acks(q as u32)), "{q} of {n}");
            assert!(!has_quorum(&voters, &acks(short)), "{short} of {n}");
        }
        // Acks from non-voters (learners, removed members) do not count.
        assert!(!has_quorum(&set(&[1, 2, 3]), &set(&[1, 4, 5])));
        assert!(has_quorum(&set(&[1, 2, 3]), &set(&[1, 3, 4])));
        // No voters: never a quorum.
        assert!(!has_quorum(&set(&[]), &set(&[1])));
    }

    /// The committed index is the largest index a majority holds: the match indexes sorted
    /// in descending order, taken at the majority's position.
    #[test]
    fn committed_index_table() {
        // (voters' match indexes, in id order; committed index)
        let table: [(&[u64], u64); 11] = [
            (&[], 0),
            (&[7], 7),
            (&[7, 3], 3),
            (&[3, 7], 3),
            (&[1, 2, 3], 2),
            (&[3, 3, 0], 3),
            (&[5, 0, 0], 0),
            (&[2, 2, 2, 2], 2),
            (&[9, 8, 1, 1], 1),
            (&[9, 8, 7, 1], 7),
            (&[10, 10, 4, 4, 4], 4),
        ];
        for (matches, want) in table {
            let voters = set(&(1..=matches.len() as u32).collect::<Vec<_>>());
            let got = committed_index(&voters, |n| LogIndex(matches[(n.0 - 1) as usize]));
            assert_eq!(got, LogIndex(want), "matches {matches:?}");
        }
        // Only voters count: a learner far ahead does not move the commit.
        let got = committed_index(&set(&[1, 2, 3]), |n| {
            LogIndex(if n == NodeId(9) { 100 } else { u64::from(n.0) })
        });
        assert_eq!(got, LogIndex(2));
    }

    /// Votes: granted (`y`), rejected (`n`) or not yet answered (`_`), one character per
    /// voter in id order.
    #[test]
    fn vote_result_table() {
        use VoteResult::{Lost, Pending, Won};
        let table = [
            ("", Lost),
            ("_", Pending),
            ("y", Won),
            ("n", Lost),
            ("y_", Pending),
            ("yn", Lost),
            ("yy", Won),
            ("y__", Pending),
            ("yy_", Won),
            ("yn_", Pending),
            ("ynn", Lost),
            ("nn_", Lost),
            ("yy__", Pending),
            ("yyn_", Pending),
            ("yynn", Lost),
            ("yyy_", Won),
            ("yy___", Pending),
            ("yyy__", Won),
            ("yynn_", Pending),
            ("yynnn", Lost),
            ("nnn__", Lost),
        ];
        for (votes, want) in table {
            let voters = set(&(1..=votes.len() as u32).collect::<Vec<_>>());
            let cast: BTreeMap<NodeId, bool> = votes
                .chars()
                .zip(1..)
                .filter(|(c, _)| *c != '_')
                .map(|(c, id)| (NodeId(id), c == 'y'))
                .collect();
            assert_eq!(vote_result(&voters, &cast), want, "votes {votes:?}");
        }
        // A vote from outside the voter set changes nothing.
        let cast = [(NodeId(1), true), (NodeId(7), true)].into_iter().collect();
        assert_eq!(vote_result(&set(&[1, 2, 3]), &cast), Pending);
    }
}
