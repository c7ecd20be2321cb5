//! Configuration of one Raft node and the planted bugs (mutants) of `SCENARIOS.md`.

use std::fmt;

use serde::{Deserialize, Serialize};

use sim_core::NodeId;

/// Planted bugs: each switch, off by default, breaks exactly the rule named after it, in the
/// code that enforces the rule (search for `mutants.<name>`). They exist so the checkers can
/// be shown to catch real mistakes. `forget-vote-on-restart` and `ack-before-fsync` belong to
/// the driver that persists state, not to this core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mutants {
    /// The leader counts replicas to commit entries of earlier terms (Raft Figure 8).
    pub commit_old_term: bool,
    /// A node grants its vote without the up-to-date-log check (Raft §5.4.1).
    pub vote_without_log_check: bool,
    /// Conflict handling may truncate committed entries instead of panicking.
    pub truncate_committed: bool,
    /// The election timeout is always exactly `election_tick` (the bottom of the range),
    /// so split votes repeat.
    pub fixed_election_timeout: bool,
    /// Majorities are counted among voters heard from within an election timeout rather than
    /// among all voters, so both sides of a partition can elect and commit.
    pub quorum_of_reachable: bool,
    /// The leader never steps down for lack of a quorum and serves reads on its own
    /// authority (lease reads without a lease).
    pub no_check_quorum: bool,
    /// The leader accepts a membership change while an earlier one is still unapplied, so
    /// two changes can be in flight and the old and new majorities need not overlap
    /// (Raft thesis §4.1: one server at a time, each after the previous took effect).
    pub concurrent_conf_change: bool,
}

/// Configuration of one node. Times are in ticks; the driver decides how long a tick is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// The shortest election timeout: a follower that hears nothing from a leader for a
    /// random number of ticks in `[election_tick, max_election_tick]` starts an election.
    /// Leases (check-quorum) are measured against this minimum.
    pub election_tick: u64,
    /// The longest election timeout, in ticks, *inclusive*; 0 means `2 * election_tick - 1`,
    /// that is the classic `[e, 2e)` range. Inclusive so that a range of one value
    /// (`max_election_tick == election_tick`, the Raft paper's 150-150 ms case) is
    /// expressible. Like raft-rs's `max_election_tick`, except for the inclusive end.
    pub max_election_tick: u64,
    /// A leader sends heartbeats every `heartbeat_tick` ticks. Must be below
    /// `election_tick` or followers time out under a healthy leader.
    pub heartbeat_tick: u64,
    /// Run a pre-vote round before bumping the term (Raft thesis §9.6).
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a quorum within an election timeout,
    /// and followers that heard from a leader within it ignore (pre-)votes.
    pub check_quorum: bool,
    /// Maximum AppendEntries messages in flight to one follower in replicate state.
    pub max_inflight_msgs: usize,
    /// Maximum entries in one AppendEntries (etcd limits bytes; entries keep the model simple).
    pub max_entries_per_msg: usize,
    /// Planted bugs, all off by default.
    pub mutants: Mutants,
}

impl Config {
    /// The defaults etcd ships with (election 10 ticks, heartbeat 1 tick, pre-vote and
    /// check-quorum on).
    pub fn new(id: NodeId) -> Config {
        Config {
            id,
            election_tick: 10,
            max_election_tick: 0,
            heartbeat_tick: 1,
            pre_vote: true,
            check_quorum: true,
            max_inflight_msgs: 256,
            max_entries_per_msg: 64,
            mutants: Mutants::default(),
        }
    }

    /// The election timeout range in ticks, both ends inclusive (`max_election_tick`
    /// resolved: 0 stands for `2 * election_tick - 1`).
    pub fn election_tick_range(&self) -> (u64, u64) {
        let max = if self.max_election_tick == 0 {
            (2 * self.election_tick)
                .saturating_sub(1)
                .max(self.election_tick)
        } else {
            self.max_election_tick
        };
        (self.election_tick, max)
    }

    /// Checks the limits that the core relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id.0 == 0 {
            return Err(ConfigError("id must not be 0".into()));
        }
        if self.heartbeat_tick == 0 {
            return Err(ConfigError("heartbeat_tick must be at least 1".into()));
        }
        if self.election_tick <= self.heartbeat_tick {
            return Err(ConfigError(
                "election_tick must exceed heartbeat_tick".into(),
            ));
        }
        if self.max_election_tick != 0 && self.max_election_tick < self.election_tick {
            return Err(ConfigError(format!(
                "max_election_tick ({}) must not be below election_tick ({})",
                self.max_election_tick, self.election_tick
            )));
        }
        if self.max_inflight_msgs == 0 || self.max_entries_per_msg == 0 {
            return Err(ConfigError(
                "max_inflight_msgs and max_entries_per_msg must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A configuration the core cannot run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid raft config: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Why a proposal was refused. The caller retries elsewhere or later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// Only the leader accepts proposals; `leader` is the one this node knows of, if any.
    NotLeader { leader: Option<NodeId> },
    /// An earlier membership change is not applied yet (one change at a time).
    ConfChangePending,
    /// The membership change does not fit the current configuration.
    InvalidConfChange(String),
}

impl fmt::Display for ProposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposeError::NotLeader { leader: Some(l) } => write!(f, "not leader (leader is {l})"),
            ProposeError::NotLeader { leader: None } => write!(f, "not leader (no known leader)"),
            ProposeError::ConfChangePending => write!(f, "a membership change is pending"),
            ProposeError::InvalidConfChange(s) => write!(f, "invalid membership change: {s}"),
        }
    }
}

impl std::error::Error for ProposeError {}
