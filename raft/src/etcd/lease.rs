//! Leases (etcd `server/lease`): the replicated [`LeaseTable`] (which leases exist, their
//! TTLs and attached keys) and the leader-local [`Lessor`] (when each one expires).
//!
//! The split is etcd's: granting, attaching and revoking go through the Raft log so every
//! node agrees on them, but deadlines live only on the primary lessor (the leader). A
//! follower has no idea when a lease expires; a new leader restarts every lease's clock on
//! promotion, so a lease never expires early because leadership moved, it only lives
//! longer. Expiry is itself proposed as a [`super::Command::LeaseRevoke`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::types::{EtcdError, LeaseId};

/// The longest TTL a grant may ask for (etcd `lease.MaxLeaseTTL`, about 285 years).
pub const MAX_LEASE_TTL_S: u64 = 9_000_000_000;

/// The shortest TTL a lease gets, for etcd's default 100 ms heartbeat and 1000 ms election
/// timeout: see [`min_lease_ttl_s`].
pub const DEFAULT_MIN_LEASE_TTL_S: u64 = 2;

/// How long the primary waits before proposing the revoke of an expired lease again when
/// the first did not apply (etcd `defaultExpiredleaseRetryInterval`, 3 s).
pub const EXPIRED_LEASE_RETRY_INTERVAL_US: u64 = 3_000_000;

/// The shortest lease TTL for a cluster's timing, as etcd computes it
/// (`server/etcdserver/server.go`: `minTTL = (3 * ElectionTicks / 2) * heartbeat`, rounded
/// up to whole seconds). A lease shorter than that could expire while a new leader is
/// still being elected, before any client could have renewed it. With the defaults
/// (10 election ticks of 100 ms) it is ceil(1.5 s) = 2 s.
pub fn min_lease_ttl_s(election_ticks: u64, heartbeat_ms: u64) -> u64 {
    let min_ttl_ms = (3 * election_ticks / 2) * heartbeat_ms;
    min_ttl_ms.div_ceil(1000)
}

/// One lease as every node knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Its id.
    pub id: LeaseId,
    /// The granted TTL (after raising to the minimum).
    pub ttl_s: u64,
    /// Keys attached to it.
    pub keys: BTreeSet<String>,
}

/// The replicated lease table: part of the state machine and of snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseTable {
    leases: BTreeMap<LeaseId, Lease>,
    /// The last id the table picked itself, so picks never repeat (ids of revoked leases
    /// are not reused).
    last_auto_id: u64,
}

impl LeaseTable {
    /// An empty table.
    pub fn new() -> Self {
        LeaseTable::default()
    }

    /// Creates a lease. `id` [`LeaseId::NONE`] picks the next unused id after the last one
    /// picked (etcd's leader draws ids from a generator before proposing; here the pick
    /// happens at apply, from replicated state, so every node picks the same). The TTL is
    /// raised to `min_ttl_s`.
    ///
    /// # Errors
    ///
    /// [`EtcdError::LeaseExists`] for an id in use, [`EtcdError::LeaseTtlTooLarge`] above
    /// [`MAX_LEASE_TTL_S`].
    pub fn grant(&mut self, id: LeaseId, ttl_s: u64, min_ttl_s: u64) -> Result<&Lease, EtcdError> {
        if ttl_s > MAX_LEASE_TTL_S {
            return Err(EtcdError::LeaseTtlTooLarge);
        }
        let id = if id.is_some() {
            if self.leases.contains_key(&id) {
                return Err(EtcdError::LeaseExists);
            }
            id
        } else {
            let mut next = self.last_auto_id + 1;
            while self.leases.contains_key(&LeaseId(next)) {
                next += 1;
            }
            self.last_auto_id = next;
            LeaseId(next)
        };
        let lease = Lease {
            id,
            ttl_s: ttl_s.max(min_ttl_s),
            keys: BTreeSet::new(),
        };
        Ok(self.leases.entry(id).or_insert(lease))
    }

    /// A lease.
    pub fn get(&self, id: LeaseId) -> Option<&Lease> {
        self.leases.get(&id)
    }

    /// Whether a lease exists.
    pub fn contains(&self, id: LeaseId) -> bool {
        self.leases.contains_key(&id)
    }

    /// Removes a lease (its keys are the caller's to delete).
    pub fn remove(&mut self, id: LeaseId) -> Option<Lease> {
        self.leases.remove(&id)
    }

    /// Every lease, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    /// How many leases exist.
    pub fn len(&self) -> usize {
        self.leases.len()
    }

    /// Whether there is no lease.
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// Records that `key` now belongs to lease `to` (or none) instead of `from` (or none).
    ///
    /// # Panics
    ///
    /// If `to` is a lease that does not exist: the caller must check first (a put with an
    /// unknown lease fails with [`EtcdError::LeaseNotFound`] before writing anything).
    pub fn move_key(&mut self, key: &str, from: LeaseId, to: LeaseId) {
        if from == to {
            return;
        }
        if let Some(lease) = self.leases.get_mut(&from) {
            lease.keys.remove(key);
        }
        if to.is_some() {
            self.leases
                .get_mut(&to)
                .expect("puts check their lease exists before writing")
                .keys
                .insert(key.to_string());
        }
    }
}

/// Timing of the primary lessor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessorConfig {
    /// Extra time every lease gets when this node becomes leader (etcd passes the election
    /// timeout to `Promote`: clients need that long to find the new leader and renew).
    pub promote_extend_us: u64,
    /// How long before the revoke of an expired lease is proposed again.
    pub retry_interval_us: u64,
}

impl Default for LessorConfig {
    fn default() -> Self {
        LessorConfig {
            promote_extend_us: 1_000_000,
            retry_interval_us: EXPIRED_LEASE_RETRY_INTERVAL_US,
        }
    }
}

/// What the primary tracks per lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Deadline {
    ttl_s: u64,
    deadline_us: u64,
    /// When the revoke was last handed out for proposal.
    revoke_proposed_us: Option<u64>,
}

/// The leader-local expiry bookkeeping (etcd `lessor` as primary). Not replicated, not in
/// snapshots: a follower tracks nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lessor {
    config: LessorConfig,
    primary: bool,
    deadlines: BTreeMap<LeaseId, Deadline>,
}

impl Lessor {
    /// A lessor that is not primary.
    pub fn new(config: LessorConfig) -> Self {
        Lessor {
            config,
            primary: false,
            deadlines: BTreeMap::new(),
        }
    }

    /// Whether this is the primary (the node is leader).
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Becomes primary: every lease in `table` gets a fresh deadline,
    /// `now + promote_extend + ttl` (etcd `Promote` refreshes all leases; it also spreads
    /// out piles of leases expiring together, which this model does not).
    pub fn promote(&mut self, table: &LeaseTable, now_us: u64) {
        self.primary = true;
        self.deadlines = table
            .iter()
            .map(|l| {
                let deadline_us = now_us + self.config.promote_extend_us + l.ttl_s * 1_000_000;
                (
                    l.id,
                    Deadline {
                        ttl_s: l.ttl_s,
                        deadline_us,
                        revoke_proposed_us: None,
                    },
                )
            })
            .collect();
    }

    /// Stops being primary and forgets every deadline.
    pub fn demote(&mut self) {
        self.primary = false;
        self.deadlines.clear();
    }

    /// A grant applied: on the primary, the lease expires `ttl_s` from now.
    pub fn on_grant(&mut self, id: LeaseId, ttl_s: u64, now_us: u64) {
        if self.primary {
            self.deadlines.insert(
                id,
                Deadline {
                    ttl_s,
                    deadline_us: now_us + ttl_s * 1_000_000,
                    revoke_proposed_us: None,
                },
            );
        }
    }

    /// A revoke applied: stop tracking the lease.
    pub fn on_revoke(&mut self, id: LeaseId) {
        self.deadlines.remove(&id);
    }

    /// Renews a lease: it now expires its TTL from now. Returns the TTL.
    ///
    /// # Errors
    ///
    /// [`EtcdError::NotLeader`] off the primary; [`EtcdError::LeaseNotFound`] for an
    /// unknown lease, or one already expired (its revoke is on its way: etcd makes the
    /// renewal wait for it and then answers "not found").
    pub fn keep_alive(&mut self, id: LeaseId, now_us: u64) -> Result<u64, EtcdError> {
        if !self.primary {
            return Err(EtcdError::NotLeader);
        }
        let d = self
            .deadlines
            .get_mut(&id)
            .ok_or(EtcdError::LeaseNotFound)?;
        if d.deadline_us <= now_us {
            return Err(EtcdError::LeaseNotFound);
        }
        d.deadline_us = now_us + d.ttl_s * 1_000_000;
        Ok(d.ttl_s)
    }

    /// Time left on a lease, on the primary; `None` off it, for an unknown lease, or once
    /// it has expired.
    pub fn remaining_us(&self, id: LeaseId, now_us: u64) -> Option<u64> {
        let d = self.deadlines.get(&id)?;
        (d.deadline_us > now_us).then(|| d.deadline_us - now_us)
    }

    /// Leases whose deadline has passed and whose revoke should be proposed now: each is
    /// returned once, then again every retry interval until its revoke applies (a revoke
    /// proposed just before losing leadership may never commit). Empty off the primary.
    pub fn expired(&mut self, now_us: u64) -> Vec<LeaseId> {
        let retry = self.config.retry_interval_us;
        let mut due = Vec::new();
        for (id, d) in &mut self.deadlines {
            let waited = d.revoke_proposed_us.is_none_or(|at| at + retry <= now_us);
            if d.deadline_us <= now_us && waited {
                d.revoke_proposed_us = Some(now_us);
                due.push(*id);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn etcd_default_min_ttl_is_two_seconds() {
        assert_eq!(min_lease_ttl_s(10, 100), DEFAULT_MIN_LEASE_TTL_S);
        assert_eq!(min_lease_ttl_s(10, 200), 3);
    }

    #[test]
    fn grants_pick_fresh_ids_and_raise_short_ttls() {
        let mut t = LeaseTable::new();
        assert_eq!(t.grant(LeaseId(2), 1, 2).unwrap().ttl_s, 2);
        assert_eq!(t.grant(LeaseId::NONE, 10, 2).unwrap().id, LeaseId(1));
        assert_eq!(t.grant(LeaseId::NONE, 10, 2).unwrap().id, LeaseId(3));
        assert_eq!(t.grant(LeaseId(2), 10, 2), Err(EtcdError::LeaseExists));
        assert_eq!(
            t.grant(LeaseId(9), MAX_LEASE_TTL_S + 1, 2),
            Err(EtcdError::LeaseTtlTooLarge)
        );
        t.remove(LeaseId(3));
        assert_eq!(
            t.grant(LeaseId::NONE, 10, 2).unwrap().id,
            LeaseId(4),
            "no reuse"
        );
    }

    #[test]
    fn only_the_primary_expires_and_retries_revokes() {
        let mut t = LeaseTable::new();
        t.grant(LeaseId(1), 5, 2).unwrap();
        let mut l = Lessor::new(LessorConfig::default());
        l.on_grant(LeaseId(1), 5, 0);
        assert!(
            l.expired(100 * S).is_empty(),
            "a follower tracks no deadline"
        );
        assert_eq!(l.keep_alive(LeaseId(1), 0), Err(EtcdError::NotLeader));
        l.promote(&t, 10 * S);
        // now + extend (1 s) + ttl (5 s)
        assert_eq!(l.remaining_us(LeaseId(1), 10 * S), Some(6 * S));
        assert!(l.expired(16 * S - 1).is_empty());
        assert_eq!(l.expired(16 * S), vec![LeaseId(1)]);
        assert!(l.expired(17 * S).is_empty(), "returned once");
        assert_eq!(
            l.keep_alive(LeaseId(1), 17 * S),
            Err(EtcdError::LeaseNotFound)
        );
        assert_eq!(l.expired(19 * S), vec![LeaseId(1)], "retried after 3 s");
        l.on_revoke(LeaseId(1));
        assert!(l.expired(30 * S).is_empty());
    }

    #[test]
    fn keep_alive_pushes_the_deadline() {
        let mut t = LeaseTable::new();
        t.grant(LeaseId(1), 5, 2).unwrap();
        let mut l = Lessor::new(LessorConfig {
            promote_extend_us: 0,
            ..LessorConfig::default()
        });
        l.promote(&t, 0);
        assert_eq!(l.keep_alive(LeaseId(1), 4 * S), Ok(5));
        assert!(l.expired(8 * S).is_empty());
        assert_eq!(l.expired(9 * S), vec![LeaseId(1)]);
        l.demote();
        assert!(l.expired(100 * S).is_empty());
        assert_eq!(l.remaining_us(LeaseId(1), 0), None);
    }
}
