//! Leader election on a Lease, as client-go's `leaderelection` package runs it for
//! kube-controller-manager and kube-scheduler.
//!
//! Candidates share one `coordination.k8s.io/v1` Lease. Each, every retry period, reads it
//! and takes it if nobody holds it or if its record has not changed for a lease duration
//! **as this candidate has observed it on its own clock** (client-go never compares its
//! clock with the holder's `renewTime`: it notes when it last saw the record change). Every
//! write carries the resourceVersion just read, so of two candidates racing for an
//! expired Lease one gets 409 Conflict and stays a follower. The holder renews every retry
//! period; a renewal that has not succeeded for the renew deadline ends its leadership
//! (kube-controller-manager then exits: `leaderelection lost`).
//!
//! What this does not prevent, by design: a holder that is paused, or whose clock jumps,
//! past the lease duration still believes it leads until its next renewal fails, and acts
//! meanwhile; another candidate has taken over by then. The Lease is not a fence. Only the
//! resourceVersion preconditions on the controllers' own writes stop the old leader from
//! overwriting what the new one did (the `controller-leader-election` scenario shows both).
//!
//! Defaults are component-base's for kube-controller-manager and kube-scheduler
//! (`--leader-elect-lease-duration` 15 s, `--leader-elect-renew-deadline` 10 s,
//! `--leader-elect-retry-period` 2 s), with client-go's JitterFactor of 1.2 on the retry of
//! a candidate that does not hold the Lease.

use std::cell::RefCell;
use std::time::Duration;

use serde_json::{json, Value};
use sim_core::SimTime;

use crate::apiserver::{rfc3339, Request};
use crate::client::{ApiClient, CallError};
use crate::events::KubeEvent;
use crate::status::ApiError;
use crate::verb::Verb;

/// How a candidate campaigns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// The Lease's namespace (`kube-system`).
    pub namespace: String,
    /// The Lease's name (`kube-controller-manager`).
    pub name: String,
    /// This candidate's identity (`<host>_<uid>` in Kubernetes; the component's name here).
    pub identity: String,
    /// How long a record unchanged for that long, as observed, counts as expired,
    /// milliseconds.
    pub lease_duration_ms: u64,
    /// How long the holder keeps trying to renew before it gives up leading, milliseconds.
    pub renew_deadline_ms: u64,
    /// The time between tries, milliseconds.
    pub retry_period_ms: u64,
}

impl LeaderElectionConfig {
    /// Campaigning for `namespace/name` as `identity`, with component-base's defaults.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        LeaderElectionConfig {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration_ms: 15_000,
            renew_deadline_ms: 10_000,
            retry_period_ms: 2_000,
        }
    }
}

/// client-go's `JitterFactor`: a candidate waits between one and 2.2 retry periods.
const JITTER_PERCENT: u64 = 120;

/// The Lease as a candidate last saw it.
#[derive(Clone, Debug, PartialEq)]
struct Observed {
    /// The Lease object read or written last (with its resourceVersion).
    lease: Value,
    /// When this candidate saw its spec change, its own clock, microseconds.
    observed_us: i64,
}

/// One candidate (see the module docs).
#[derive(Debug)]
pub struct LeaderElector {
    client: ApiClient,
    config: LeaderElectionConfig,
    observed: RefCell<Option<Observed>>,
}

fn holder_of(lease: &Value) -> &str {
    lease["spec"]["holderIdentity"].as_str().unwrap_or("")
}

impl LeaderElector {
    /// A candidate talking through `client`.
    pub fn new(client: ApiClient, config: LeaderElectionConfig) -> Self {
        LeaderElector {
            client,
            config,
            observed: RefCell::new(None),
        }
    }

    /// `namespace/name` of the Lease.
    pub fn lease_key(&self) -> String {
        format!("{}/{}", self.config.namespace, self.config.name)
    }

    /// Whether the last record this candidate saw names it as holder (client-go's
    /// `IsLeader`: no round trip, so an old leader answers yes until it reads otherwise).
    pub fn is_leader(&self) -> bool {
        self.observed
            .borrow()
            .as_ref()
            .is_some_and(|o| holder_of(&o.lease) == self.config.identity)
    }

    fn now_us(&self) -> i64 {
        self.client.ctx().local_now_us()
    }

    /// Whether the observed record is younger than a lease duration, by this clock.
    fn lease_valid(&self, now_us: i64) -> bool {
        let duration_us = i64::try_from(self.config.lease_duration_ms * 1_000).unwrap_or(i64::MAX);
        self.observed
            .borrow()
            .as_ref()
            .is_some_and(|o| o.observed_us.saturating_add(duration_us) > now_us)
    }

    /// Campaigns until this candidate holds the Lease.
    pub async fn acquire(&self) {
        loop {
            // kube-controller-manager's leader-election client times out at the renew
            // deadline (its options set the kubeconfig's Timeout to it).
            let deadline = self
                .client
                .ctx()
                .now()
                .after(Duration::from_millis(self.config.renew_deadline_ms));
            if self.try_acquire_or_renew(deadline).await {
                let transitions = self
                    .observed
                    .borrow()
                    .as_ref()
                    .and_then(|o| o.lease["spec"]["leaseTransitions"].as_u64())
                    .unwrap_or(0);
                self.client.ctx().record_layer(KubeEvent::LeaderElected {
                    lease: self.lease_key(),
                    holder: self.config.identity.clone(),
                    transitions,
                });
                return;
            }
            let period = self.config.retry_period_ms;
            let jitter = self.client.rng_below(period * JITTER_PERCENT / 100 + 1);
            self.client
                .ctx()
                .sleep(Duration::from_millis(period + jitter))
                .await;
        }
    }

    /// Renews every retry period until a renewal has failed for the renew deadline; then
    /// the leadership is lost (recorded) and this returns.
    pub async fn renew_until_lost(&self) {
        let period = Duration::from_millis(self.config.retry_period_ms);
        loop {
            let give_up = self
                .client
                .ctx()
                .now()
                .after(Duration::from_millis(self.config.renew_deadline_ms));
            // client-go polls until the deadline even once another holder is seen: the
            // old leader acts on until then.
            let mut renewed = false;
            while self.client.ctx().now() < give_up {
                if self.try_acquire_or_renew(give_up).await {
                    renewed = true;
                    break;
                }
                self.client.ctx().sleep(period).await;
            }
            if !renewed {
                self.client.ctx().record_layer(KubeEvent::LeaderLost {
                    lease: self.lease_key(),
                    holder: self.config.identity.clone(),
                });
                *self.observed.borrow_mut() = None;
                return;
            }
            self.client.ctx().sleep(period).await;
        }
    }

    fn request(&self, verb: Verb) -> Request {
        Request::new(None, verb, "coordination.k8s.io", "leases")
            .in_namespace(&self.config.namespace)
    }

    /// The record this candidate writes when it takes or keeps the Lease.
    fn record(&self, now_us: i64, previous: Option<&Value>) -> Value {
        let now = rfc3339(now_us, true);
        let duration_s = self.config.lease_duration_ms.div_ceil(1_000);
        let mut spec = json!({"holderIdentity": self.config.identity,
            "leaseDurationSeconds": duration_s, "acquireTime": now, "renewTime": now,
            "leaseTransitions": 0});
        if let Some(previous) = previous {
            let transitions = previous["spec"]["leaseTransitions"].as_u64().unwrap_or(0);
            if holder_of(previous) == self.config.identity {
                spec["acquireTime"] = previous["spec"]["acquireTime"].clone();
                spec["leaseTransitions"] = json!(transitions);
            } else {
                spec["leaseTransitions"] = json!(transitions + 1);
            }
        }
        spec
    }

    /// Writes `spec` over `lease` (its resourceVersion the precondition) before `deadline`;
    /// whether it took.
    async fn update(&self, lease: &Value, spec: Value, deadline: SimTime) -> bool {
        let mut body = lease.clone();
        body["spec"] = spec;
        let update = self
            .request(Verb::Update)
            .named(&self.config.name)
            .with_body(body);
        match self.client.call_until(update, deadline).await {
            Ok(written) => {
                self.observe(written);
                true
            }
            Err(_) => false,
        }
    }

    fn observe(&self, lease: Value) {
        let now_us = self.now_us();
        let mut observed = self.observed.borrow_mut();
        match observed.as_mut() {
            Some(o) if o.lease["spec"] == lease["spec"] => o.lease = lease,
            _ => {
                *observed = Some(Observed {
                    lease,
                    observed_us: now_us,
                })
            }
        }
    }

    /// One try (client-go's `tryAcquireOrRenew`), its calls cut at `deadline`; whether this
    /// candidate holds the Lease.
    async fn try_acquire_or_renew(&self, deadline: SimTime) -> bool {
        let now_us = self.now_us();
        // The holder's fast path: write over the record it last saw, no read first.
        if self.is_leader() && self.lease_valid(now_us) {
            let last = self.observed.borrow().as_ref().map(|o| o.lease.clone());
            if let Some(last) = last {
                let spec = self.record(now_us, Some(&last));
                if self.update(&last, spec, deadline).await {
                    return true;
                }
            }
        }
        let get = self.request(Verb::Get).named(&self.config.name);
        let current = match self.client.call_until(get, deadline).await {
            Ok(lease) => lease,
            Err(CallError::Api(ApiError::NotFound { .. })) => {
                let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.config.name, "namespace": self.config.namespace},
                    "spec": self.record(now_us, None)});
                let create = self.request(Verb::Create).with_body(lease);
                return match self.client.call_until(create, deadline).await {
                    Ok(created) => {
                        self.observe(created);
                        true
                    }
                    Err(_) => false,
                };
            }
            Err(_) => return false,
        };
        self.observe(current.clone());
        let now_us = self.now_us();
        if !holder_of(&current).is_empty() && self.lease_valid(now_us) && !self.is_leader() {
            return false;
        }
        let spec = self.record(now_us, Some(&current));
        self.update(&current, spec, deadline).await
    }
}
