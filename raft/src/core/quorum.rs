//! Majority arithmetic over a voter set.

use std::collections::{BTreeMap, BTreeSet};

use super::types::{LogIndex, NodeId};

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

    fn set(ids: &[u64]) -> BTreeSet<NodeId> {
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
}
