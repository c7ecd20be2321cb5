//! The Deployment controller's decisions, sans-IO: what kube-controller-manager's
//! `pkg/controller/deployment` does for one Deployment in one sync, as a list of
//! [`Action`]s for a driver to perform.
//!
//! [`sync`] follows `syncDeployment` (deployment_controller.go) and what it calls:
//! - a Deployment whose selector is empty only records the generation it saw;
//! - one being deleted (`deletionTimestamp`) only gets its status (`syncStatusOnly`);
//! - pausing and resuming set `Progressing=Unknown` (`DeploymentPaused`,
//!   `DeploymentResumed`), so a paused rollout never times out (`checkPausedConditions`);
//! - a paused Deployment, or one whose `spec.replicas` differs from the
//!   `deployment.kubernetes.io/desired-replicas` annotation of an active ReplicaSet (a
//!   scaling event), is scaled without rolling (`sync`, `scale`): one active ReplicaSet
//!   takes the whole count, otherwise the surplus or deficit is spread over the active
//!   ReplicaSets in proportion to their size, leftovers to the largest;
//! - otherwise the strategy rolls: RollingUpdate scales the new ReplicaSet up within
//!   `maxSurge`, or else scales old ones down within `maxUnavailable`, unhealthy replicas
//!   first (`rolling.go`); Recreate scales every old ReplicaSet to 0, waits until no old
//!   pod runs, then creates and scales up the new one (`recreate.go`);
//! - old ReplicaSets beyond `revisionHistoryLimit` with nothing left in them are deleted,
//!   lowest revision first (`cleanupDeployment`);
//! - the status sums the ReplicaSets' own status and carries the `Progressing` and
//!   `Available` conditions with Kubernetes' reasons and messages (`progress.go`).
//!
//! Each function here names the Kubernetes function it follows. Those live in
//! kubernetes/kubernetes `pkg/controller/deployment/`: `deployment_controller.go`
//! (syncDeployment), `sync.go` (sync, syncStatusOnly, checkPausedConditions,
//! getAllReplicaSetsAndSyncRevision, getNewReplicaSet, scale, scaleReplicaSet,
//! cleanupDeployment, calculateStatus, isScalingEvent), `rolling.go`, `recreate.go`,
//! `progress.go` (syncRolloutStatus, requeueStuckDeployment) and `util/deployment_util.go`
//! (annotations, revisions, conditions and their reasons, ResolveFenceposts,
//! NewRSNewReplicas, GetProportion, FindNewReplicaSet, EqualIgnoreHash,
//! DeploymentComplete/Progressing/TimedOut); `pkg/controller/controller_utils.go`
//! (ComputeHash, FilterActiveReplicaSets, the ReplicaSetsBy* orders); `pkg/api/v1/pod`
//! (IsPodAvailable); apimachinery's `util/intstr` (GetScaledValueFromIntOrPercent),
//! `util/rand` (SafeEncodeString) and `apis/meta/v1` (NewControllerRef);
//! `pkg/registry/apps/deployment/strategy.go` (deploymentStatusStrategy).
//!
//! Availability comes from the ReplicaSets' `status.availableReplicas`, as in Kubernetes:
//! the ReplicaSet controller counts a pod available once it has been Ready for the
//! ReplicaSet's `minReadySeconds` (copied from the Deployment), see [`is_pod_available`].
//! The Deployment controller reads pods only where Kubernetes does: Recreate waits until
//! none of an old ReplicaSet's pods is in a non-terminal phase.
//!
//! # The driver's contract
//!
//! The driver gives [`sync`] the Deployment as read from its informer, the ReplicaSets
//! whose controller ownerReference has the Deployment's uid (it adopts and releases them
//! by selector as `getReplicaSetsForDeployment` does; [`sync`] ignores any other), the pods
//! those ReplicaSets control, and the time. It performs the actions in order, stopping at
//! the first that fails, and then requeues the Deployment with its rate limiter (Kubernetes
//! returns the error from `syncDeployment`, which puts the key back rate-limited):
//! - [`Action::CreateReplicaSet`]: a create. If the API answers 409 AlreadyExists, the
//!   driver reads the ReplicaSet of that name (its informer, as Kubernetes reads its
//!   lister) and performs [`on_already_exists`] instead of the rest; if it is not there
//!   yet, it just requeues. If the answer is a refusal whose cause is NamespaceTerminating
//!   it does nothing more; any other refusal, [`on_create_failed`] with the refusal's
//!   message.
//! - [`Action::UpdateReplicaSet`]: an update (PUT) with the object's `resourceVersion` as
//!   the precondition; 409 means the informer was stale: requeue.
//! - [`Action::DeleteReplicaSet`]: a delete with the uid and resourceVersion as
//!   preconditions; 404 counts as done (Kubernetes ignores NotFound here).
//! - [`Action::UpdateStatus`]: an update of `deployments/status` with the object's
//!   `resourceVersion` as the precondition.
//! - [`Action::RequeueAfter`]: sync this Deployment again after that long (0: now, through
//!   the rate limiter), to notice a rollout that has stopped progressing.
//!
//! Kubernetes writes the Deployment's status up to three times in one sync (the paused
//! condition, the new ReplicaSet's revision and condition, the final status), each with
//! the resourceVersion it read, so every write after the first fails with a conflict and
//! the sync is retried. This model makes one status write, last, carrying everything those
//! writes would: the same end state without the spurious conflict. Likewise two writes to
//! one ReplicaSet in one sync (its annotations, then its scale) are one update here.
//!
//! One file for now, over the project's 1,100-line guide (1,850 lines of code, the rest
//! its table tests): the decision is one `syncDeployment` whose parts (template hash,
//! status and conditions, rolling and recreate, proportional scaling, cleanup) share the
//! private `Sync` view. Splitting it along those parts is the next clean-up.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::apiserver::{rfc3339, EPOCH_MS};
use crate::defaults::DEPLOYMENT_REPLICAS;

/// `apps.DefaultDeploymentUniqueLabelKey`: the label that ties a ReplicaSet and its pods to
/// one pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// `deploymentutil.RevisionAnnotation`: a ReplicaSet's place in the rollout history (and
/// the Deployment's current one).
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// `RevisionHistoryAnnotation`: the earlier revisions of a ReplicaSet that was rolled back
/// to.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// `DesiredReplicasAnnotation`: the Deployment's `spec.replicas` when it last scaled this
/// ReplicaSet; a difference is how a scaling event is recognised.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// `MaxReplicasAnnotation`: `spec.replicas + maxSurge` then; the base of proportional
/// scaling.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// `v1.LastAppliedConfigAnnotation`, which is not copied onto ReplicaSets.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// `apps.DeprecatedRollbackTo`, not copied either.
const ROLLBACK_TO_ANNOTATION: &str = "deprecated.deployment.rollback.to";
/// sync.go `maxRevHistoryLengthInChars`: the revision-history annotation's cap.
const MAX_REV_HISTORY_LENGTH_IN_CHARS: usize = 2000;

/// The Deployment condition types (`apps.DeploymentProgressing`, ...).
pub const PROGRESSING: &str = "Progressing";
/// `apps.DeploymentAvailable`.
pub const AVAILABLE: &str = "Available";
/// `apps.DeploymentReplicaFailure`, copied from a ReplicaSet that cannot create pods.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// deployment_util.go reasons: a ReplicaSet was scaled as part of the rollout.
pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
/// The new ReplicaSet could not be created.
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
/// The new ReplicaSet was created.
pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
/// An existing ReplicaSet was found to be the new one.
pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
/// The rollout is complete: every replica updated and available.
pub const NEW_REPLICA_SET_AVAILABLE: &str = "NewReplicaSetAvailable";
/// No progress for `progressDeadlineSeconds`.
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
/// The Deployment is paused: progress is not estimated.
pub const DEPLOYMENT_PAUSED: &str = "DeploymentPaused";
/// It was resumed: the deadline counts from now, not from before the pause.
pub const DEPLOYMENT_RESUMED: &str = "DeploymentResumed";
/// `Available=True`: at least `replicas - maxUnavailable` available.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
/// `Available=False`.
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

const SECOND_US: i64 = 1_000_000;

/// What the Deployment controller decides for one Deployment in one sync (see the module
/// docs for what the driver does with each).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create this ReplicaSet: named `<deployment>-<pod-template-hash>`, in the
    /// Deployment's namespace, labelled (and selecting, and its template labelled) with
    /// `pod-template-hash`, controlled by the Deployment (`controller` and
    /// `blockOwnerDeletion`), annotated with its revision, `desired-replicas` and
    /// `max-replicas` (and the Deployment's own annotations), with its first
    /// `spec.replicas`.
    CreateReplicaSet(Value),
    /// Update this ReplicaSet (its `spec.replicas`, annotations or `minReadySeconds`): the
    /// whole object, with the `resourceVersion` it was read at as the precondition.
    UpdateReplicaSet(Value),
    /// Delete an old ReplicaSet beyond `revisionHistoryLimit`, with its uid and the
    /// resourceVersion it was read at as preconditions (Kubernetes sends none; these keep
    /// a ReplicaSet that changed meanwhile from being deleted on stale information).
    DeleteReplicaSet {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its uid.
        uid: String,
        /// The resourceVersion it was read at.
        resource_version: String,
    },
    /// Update `deployments/status`: the whole Deployment as read (its `resourceVersion` is
    /// the precondition) with the new `status` and the `deployment.kubernetes.io/revision`
    /// annotation, which Kubernetes also writes through the status subresource (its
    /// `deploymentStatusStrategy` keeps the body's annotations; only spec and labels are
    /// taken from storage). Nothing here reads that annotation back (`kubectl rollout
    /// history` does), so a status endpoint that keeps the stored metadata only loses it.
    UpdateStatus(Value),
    /// Sync this Deployment again after `after_us` microseconds (0: now, rate-limited),
    /// to check its progress deadline (`requeueStuckDeployment`).
    RequeueAfter {
        /// How long from now.
        after_us: i64,
    },
}

/// Decides for `deployment`, given the ReplicaSets it controls, the pods they control and
/// the time now (microseconds since the simulation's epoch).
///
/// Objects are JSON as stored. A Deployment that does not decode, or has no spec, gets no
/// actions; a ReplicaSet that does not decode or is not controlled by it is ignored.
pub fn sync(
    deployment: &Value,
    replica_sets: &[Value],
    pods: &[Value],
    now_us: i64,
) -> Vec<Action> {
    run(deployment, replica_sets, pods, now_us, Creation::Attempt)
}

/// What to do after the create of [`sync`]'s [`Action::CreateReplicaSet`] was refused with
/// AlreadyExists and `existing` is the ReplicaSet of that name (`getNewReplicaSet`).
///
/// If the Deployment controls `existing` and its template is the Deployment's (ignoring
/// `pod-template-hash`), a stale cache hid the new ReplicaSet: the sync goes on with it.
/// Otherwise two templates hash alike: the Deployment's `status.collisionCount` goes up by
/// one (the only action), so the next sync hashes to another name.
pub fn on_already_exists(
    deployment: &Value,
    replica_sets: &[Value],
    pods: &[Value],
    existing: &Value,
    now_us: i64,
) -> Vec<Action> {
    let ours = serde_json::from_value::<Deployment>(deployment.clone())
        .ok()
        .zip(serde_json::from_value::<ReplicaSet>(existing.clone()).ok())
        .is_some_and(|(d, rs)| {
            let uid = d.metadata.uid.as_deref().unwrap_or("");
            let template = d.spec.as_ref().map(|s| &s.template);
            controller_uid(&rs.metadata) == Some(uid)
                && equal_ignore_hash(
                    &template_json(template),
                    &template_json(rs.spec.as_ref().and_then(|s| s.template.as_ref())),
                )
        });
    if !ours {
        return run(deployment, replica_sets, pods, now_us, Creation::Collided);
    }
    let uid = existing.pointer("/metadata/uid");
    let mut with_existing = replica_sets.to_vec();
    if !with_existing
        .iter()
        .any(|rs| rs.pointer("/metadata/uid") == uid)
    {
        with_existing.push(existing.clone());
    }
    run(deployment, &with_existing, pods, now_us, Creation::Attempt)
}

/// What to do after the create of [`sync`]'s [`Action::CreateReplicaSet`] was refused for
/// a reason other than AlreadyExists or a terminating namespace, with `message` the
/// refusal's message: `Progressing=False` with `ReplicaSetCreateError` (when the
/// Deployment has a progress deadline), as `getNewReplicaSet` records it.
pub fn on_create_failed(
    deployment: &Value,
    replica_sets: &[Value],
    pods: &[Value],
    message: &str,
    now_us: i64,
) -> Vec<Action> {
    run(
        deployment,
        replica_sets,
        pods,
        now_us,
        Creation::Failed(message),
    )
}

/// The pod-template-hash of a Deployment's `template` (without the label itself) and its
/// `collisionCount`, as `controller.ComputeHash` builds it: FNV-32a over a printing of the
/// template, then the collision count as 8 bytes (its 32 bits little-endian, then 4 zero
/// bytes, as Kubernetes writes them), the decimal of the sum spelled with
/// `rand.SafeEncodeString`'s alphabet (so hashes have no vowels, no 0/1/3).
///
/// Kubernetes prints the Go struct with go-spew (`hashutil.DeepHashObject`); that printing
/// of Go values cannot be reproduced from JSON, so the printing hashed here is the
/// template's canonical JSON (decoded as a `PodTemplateSpec` when it is one, keys sorted).
/// The hash is therefore stable, changes with the template and the collision count, and
/// looks like Kubernetes' (`web-7c4c8d5d4f`), but is not the value a real cluster computes
/// for the same template.
pub fn pod_template_hash(template: &Value, collision_count: Option<i32>) -> String {
    let typed = serde_json::from_value::<PodTemplateSpec>(template.clone())
        .ok()
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or_else(|| template.clone());
    let mut printed = String::new();
    canonical_json(&typed, &mut printed);
    let mut hash = Fnv32a::new();
    hash.write(printed.as_bytes());
    if let Some(count) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&count.to_le_bytes());
        hash.write(&bytes);
    }
    safe_encode(&hash.sum().to_string())
}

/// Whether `pod` is available: Ready, and Ready for longer than `min_ready_seconds`
/// (`podutil.IsPodAvailable`: with `minReadySeconds` 0 Ready is enough; otherwise the Ready
/// condition's `lastTransitionTime` plus that many seconds must be before now). This is how
/// the ReplicaSet controller counts `status.availableReplicas`.
pub fn is_pod_available(pod: &Value, min_ready_seconds: i32, now_us: i64) -> bool {
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let Some(ready) = ready.filter(|c| c["status"] == "True") else {
        return false;
    };
    if min_ready_seconds == 0 {
        return true;
    }
    ready["lastTransitionTime"]
        .as_str()
        .and_then(super::parse_time_us)
        .is_some_and(|since| since + i64::from(min_ready_seconds) * SECOND_US < now_us)
}

/// The Deployment's `maxSurge` resolved against its `spec.replicas`, 0 unless it rolls
/// (`deploymentutil.MaxSurge`).
pub fn max_surge(deployment: &Value) -> i32 {
    serde_json::from_value::<Deployment>(deployment.clone())
        .ok()
        .and_then(|d| d.spec)
        .map_or(0, |s| surge_of(&s))
}

/// Its `maxUnavailable` resolved, at most `spec.replicas`, 0 unless it rolls
/// (`deploymentutil.MaxUnavailable`).
pub fn max_unavailable(deployment: &Value) -> i32 {
    serde_json::from_value::<Deployment>(deployment.clone())
        .ok()
        .and_then(|d| d.spec)
        .map_or(0, |s| unavailable_of(&s))
}

/// An int-or-percent against `total` (`intstr.GetScaledValueFromIntOrPercent`): a percent
/// is rounded up or down as asked; `None` for a string that is not a percent.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrString::Int(v) => Some(*v),
        IntOrString::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let product = percent * i64::from(total);
            // Exact integer rounding of product / 100, as Go's math.Ceil / math.Floor of
            // the float quotient give for these magnitudes.
            let scaled = if round_up {
                -(-product).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(scaled).ok()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hashing.

/// FNV-1a, 32 bits (Go's `hash/fnv` New32a).
struct Fnv32a(u32);

impl Fnv32a {
    fn new() -> Self {
        Fnv32a(0x811c_9dc5)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u32::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }

    fn sum(&self) -> u32 {
        self.0
    }
}

/// `rand.SafeEncodeString`: each character to one of 27 that spell no words.
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.chars()
        .map(|c| char::from(ALPHANUMS[c as usize % ALPHANUMS.len()]))
        .collect()
}

/// JSON with every object's keys sorted, whatever order the map keeps them in.
fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (n, k) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Times.

/// `us` cut to the second, as `metav1.Time` keeps it.
fn whole_second(us: i64) -> i64 {
    us - us.rem_euclid(SECOND_US)
}

/// A `metav1.Time` for simulation time `us` (to the second).
fn time_of(us: i64) -> Option<Time> {
    rfc3339(us, false).parse::<Timestamp>().ok().map(Time)
}

/// Simulation microseconds of a `metav1.Time`.
fn us_of(t: &Time) -> i64 {
    t.0.as_microsecond() - EPOCH_MS * 1000
}

// ---------------------------------------------------------------------------------------
// The Deployment's status, as the controller compares it.

/// One condition, times in simulation microseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    kind: String,
    status: String,
    reason: String,
    message: String,
    last_update_us: Option<i64>,
    last_transition_us: Option<i64>,
}

impl Condition {
    fn read(c: &DeploymentCondition) -> Self {
        Condition {
            kind: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default(),
            last_update_us: c.last_update_time.as_ref().map(us_of),
            last_transition_us: c.last_transition_time.as_ref().map(us_of),
        }
    }

    fn typed(&self) -> DeploymentCondition {
        DeploymentCondition {
            type_: self.kind.clone(),
            status: self.status.clone(),
            reason: Some(self.reason.clone()).filter(|r| !r.is_empty()),
            message: Some(self.message.clone()).filter(|m| !m.is_empty()),
            last_update_time: self.last_update_us.and_then(time_of),
            last_transition_time: self.last_transition_us.and_then(time_of),
        }
    }
}

/// `apps.DeploymentStatus` as Go holds it: counts are plain integers (absent and 0 are the
/// same, and Go's JSON omits 0), `collisionCount` is a pointer (0 and absent differ).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Status {
    observed_generation: i64,
    replicas: i32,
    updated_replicas: i32,
    ready_replicas: i32,
    available_replicas: i32,
    unavailable_replicas: i32,
    collision_count: Option<i32>,
    conditions: Vec<Condition>,
}

impl Status {
    fn read(s: Option<&DeploymentStatus>) -> Self {
        let Some(s) = s else {
            return Status::default();
        };
        Status {
            observed_generation: s.observed_generation.unwrap_or(0),
            replicas: s.replicas.unwrap_or(0),
            updated_replicas: s.updated_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            unavailable_replicas: s.unavailable_replicas.unwrap_or(0),
            collision_count: s.collision_count,
            conditions: s.conditions.iter().flatten().map(Condition::read).collect(),
        }
    }

    fn to_json(&self) -> Value {
        let count = |v: i32| Some(v).filter(|v| *v != 0);
        let conditions: Vec<DeploymentCondition> =
            self.conditions.iter().map(Condition::typed).collect();
        let s = DeploymentStatus {
            observed_generation: Some(self.observed_generation).filter(|g| *g != 0),
            replicas: count(self.replicas),
            updated_replicas: count(self.updated_replicas),
            ready_replicas: count(self.ready_replicas),
            available_replicas: count(self.available_replicas),
            unavailable_replicas: count(self.unavailable_replicas),
            collision_count: self.collision_count,
            conditions: Some(conditions).filter(|c| !c.is_empty()),
            // terminatingReplicas (KEP-3973, behind a feature gate) is not modelled.
            ..DeploymentStatus::default()
        };
        serde_json::to_value(s).unwrap_or_default()
    }

    fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    /// `SetDeploymentCondition`: nothing if the status and reason are unchanged; the
    /// transition time kept if only the reason changed; the condition goes last.
    fn set_condition(&mut self, mut c: Condition) {
        if let Some(current) = self.condition(&c.kind) {
            if current.status == c.status && current.reason == c.reason {
                return;
            }
            if current.status == c.status {
                c.last_transition_us = current.last_transition_us;
            }
        }
        self.remove_condition(&c.kind.clone());
        self.conditions.push(c);
    }

    fn remove_condition(&mut self, kind: &str) {
        self.conditions.retain(|c| c.kind != kind);
    }
}

// ---------------------------------------------------------------------------------------
// The Deployment's spec, read as deployment_util.go reads it.

/// `spec.replicas`, defaulted to 1 (SetDefaults_Deployment).
fn replicas_of(spec: &DeploymentSpec) -> i32 {
    spec.replicas.unwrap_or(DEPLOYMENT_REPLICAS)
}

/// The strategy type; SetDefaults_Deployment makes a missing one RollingUpdate.
fn strategy_of(spec: &DeploymentSpec) -> &str {
    spec.strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

fn is_rolling(spec: &DeploymentSpec) -> bool {
    strategy_of(spec) == "RollingUpdate"
}

/// `ResolveFenceposts`: maxSurge rounded up, maxUnavailable rounded down, a missing value
/// counting as 0 (`intstrutil.ValueOrDefault`; defaulting fills both), and both 0 making
/// maxUnavailable 1 (rounding down can reach 0 even though validation forbids 0/0, and a
/// surge may be impossible under a quota). `None` for a value that is not int or percent.
fn fenceposts(spec: &DeploymentSpec) -> Option<(i32, i32)> {
    let rolling = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let zero = IntOrString::Int(0);
    let surge = rolling.and_then(|r| r.max_surge.as_ref()).unwrap_or(&zero);
    let unavailable = rolling
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&zero);
    let desired = replicas_of(spec);
    let surge = scaled_value(surge, desired, true)?;
    let mut unavailable = scaled_value(unavailable, desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Some((surge, unavailable))
}

/// `MaxSurge` (an invalid value counts as 0, as Kubernetes ignores the error).
fn surge_of(spec: &DeploymentSpec) -> i32 {
    if !is_rolling(spec) {
        return 0;
    }
    fenceposts(spec).map_or(0, |(surge, _)| surge)
}

/// `MaxUnavailable`: at most `spec.replicas`, 0 for a Deployment of no replicas.
fn unavailable_of(spec: &DeploymentSpec) -> i32 {
    let replicas = replicas_of(spec);
    if !is_rolling(spec) || replicas == 0 {
        return 0;
    }
    fenceposts(spec).map_or(0, |(_, u)| u.min(replicas))
}

/// `HasProgressDeadline`: set and not MaxInt32 (which means "never").
fn has_progress_deadline(spec: &DeploymentSpec) -> bool {
    spec.progress_deadline_seconds
        .is_some_and(|s| s != i32::MAX)
}

/// `HasRevisionHistoryLimit`: set and not MaxInt32.
fn revision_history_limit(spec: &DeploymentSpec) -> Option<i32> {
    spec.revision_history_limit.filter(|l| *l != i32::MAX)
}

/// `reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{})`: neither field set at
/// all (an empty but present `matchLabels` is not equal in Go either).
fn selects_everything(selector: &LabelSelector) -> bool {
    selector.match_labels.is_none() && selector.match_expressions.is_none()
}

// ---------------------------------------------------------------------------------------
// ReplicaSets, read as deployment_util.go reads them.

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(DEPLOYMENT_REPLICAS)
}

fn set_spec_replicas(rs: &mut ReplicaSet, replicas: i32) {
    rs.spec.get_or_insert_with(ReplicaSetSpec::default).replicas = Some(replicas);
}

fn min_ready_seconds(rs: &ReplicaSet) -> i32 {
    rs.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

fn status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

fn available_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn ready_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// An int32 annotation (`getIntFromAnnotation`); `None` if missing or not a number.
fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(&rs.metadata, key).and_then(|v| v.parse().ok())
}

/// `deploymentutil.Revision`: a missing annotation is revision 0; `None` for one that is
/// not a number.
fn revision_of(meta: &ObjectMeta) -> Option<i64> {
    match annotation(meta, REVISION_ANNOTATION) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// The uid of the controller among `meta`'s owners (`metav1.GetControllerOf`).
fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// `ReplicaSetsByCreationTimestamp`: oldest first, then by name.
fn creation_key(rs: &ReplicaSet) -> (Option<Time>, String) {
    (
        rs.metadata.creation_timestamp.clone(),
        name_of(&rs.metadata).to_string(),
    )
}

fn template_json(t: Option<&PodTemplateSpec>) -> Value {
    t.and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(Value::Null)
}

/// `EqualIgnoreHash`: templates equal without their `pod-template-hash` label, compared as
/// `apiequality.Semantic.DeepEqual` does, which counts empty and missing lists and maps as
/// equal. (JSON cannot tell a Go map from a pointer to an empty struct, so an empty object
/// counts as missing too; the one such field that matters, a volume's `emptyDir: {}`, is
/// what defaulting gives any volume without a source.)
fn equal_ignore_hash(a: &Value, b: &Value) -> bool {
    semantic(&strip_hash(a)) == semantic(&strip_hash(b))
}

fn strip_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    t
}

/// `v` without nulls and empty lists and objects, recursively.
fn semantic(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), semantic(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(semantic).collect()),
        other => other.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `ReplicasAnnotationsNeedUpdate`.
fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS_ANNOTATION) != Some(desired.to_string().as_str())
        || annotation(&rs.metadata, MAX_REPLICAS_ANNOTATION) != Some(max.to_string().as_str())
}

/// `SetReplicasAnnotations`: whether anything changed.
fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [
        (DESIRED_REPLICAS_ANNOTATION, desired.to_string()),
        (MAX_REPLICAS_ANNOTATION, max.to_string()),
    ] {
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_string(), value);
            changed = true;
        }
    }
    changed
}

/// `skipCopyAnnotation`: the annotations a Deployment does not pass on to its ReplicaSets
/// (the revision ones are the ReplicaSet's own; the deployment's may be stale).
fn skip_copy_annotation(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED_ANNOTATION
            | REVISION_ANNOTATION
            | REVISION_HISTORY_ANNOTATION
            | DESIRED_REPLICAS_ANNOTATION
            | MAX_REPLICAS_ANNOTATION
            | ROLLBACK_TO_ANNOTATION
    )
}

/// The controller ownerReference a Deployment puts on its ReplicaSets
/// (`metav1.NewControllerRef`): `blockOwnerDeletion` so foreground deletion of the
/// Deployment waits for them.
fn controller_ref(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".to_string(),
        kind: "Deployment".to_string(),
        name: name_of(&d.metadata).to_string(),
        uid: d.metadata.uid.clone().unwrap_or_default(),
        block_owner_deletion: Some(true),
        controller: Some(true),
    }
}

// ---------------------------------------------------------------------------------------
// One sync.

/// How the create of a new ReplicaSet went, for the functions that rerun a sync after it.
#[derive(Clone, Copy, Debug)]
enum Creation<'a> {
    /// Not tried yet: create it.
    Attempt,
    /// Refused: the name is taken by another template.
    Collided,
    /// Refused with this message.
    Failed(&'a str),
}

/// A sync that stops early (Kubernetes returns an error): the one status write it makes,
/// if any.
struct Abort(Option<Value>);

/// A pending write, in the order Kubernetes makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Create (an index past the ones read) or update this ReplicaSet.
    Write(usize),
    /// Delete it.
    Delete(usize),
}

/// The state of one sync: the Deployment as Kubernetes' in-memory copy `d` evolves, the
/// working copies of the ReplicaSets and the writes so far.
struct Sync<'a> {
    raw: &'a Value,
    d: Deployment,
    spec: DeploymentSpec,
    /// The status as read, to write only when it changed.
    read_status: Status,
    read_annotations: Option<BTreeMap<String, String>>,
    /// `d.Status` in memory.
    status: Status,
    /// Working copies; an index is a ReplicaSet's identity for this sync. The first
    /// `read_count` were read, the rest are created now.
    rss: Vec<ReplicaSet>,
    read_count: usize,
    /// The ReplicaSets as `getAllReplicaSetsAndSyncRevision` returned them: what status
    /// and cleanup look at (Kubernetes scales copies, so those see pre-scale values).
    snapshot: Vec<ReplicaSet>,
    ops: Vec<Op>,
    pods: &'a [Value],
    now_us: i64,
    requeue_after_us: Option<i64>,
    creation: Creation<'a>,
}

fn run(
    deployment: &Value,
    replica_sets: &[Value],
    pods: &[Value],
    now_us: i64,
    creation: Creation<'_>,
) -> Vec<Action> {
    let Some(mut s) = Sync::new(deployment, replica_sets, pods, now_us, creation) else {
        return Vec::new();
    };
    match s.decide() {
        Ok(()) => s.finish(),
        Err(Abort(status)) => status.map(Action::UpdateStatus).into_iter().collect(),
    }
}

impl<'a> Sync<'a> {
    fn new(
        raw: &'a Value,
        replica_sets: &[Value],
        pods: &'a [Value],
        now_us: i64,
        creation: Creation<'a>,
    ) -> Option<Self> {
        let d: Deployment = serde_json::from_value(raw.clone()).ok()?;
        let spec = d.spec.clone()?;
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let rss: Vec<ReplicaSet> = replica_sets
            .iter()
            .filter_map(|v| serde_json::from_value::<ReplicaSet>(v.clone()).ok())
            .filter(|rs| controller_uid(&rs.metadata) == Some(uid.as_str()))
            .collect();
        let status = Status::read(d.status.as_ref());
        Some(Sync {
            raw,
            read_status: status.clone(),
            read_annotations: d.metadata.annotations.clone(),
            status,
            read_count: rss.len(),
            snapshot: rss.clone(),
            rss,
            d,
            spec,
            ops: Vec::new(),
            pods,
            now_us,
            requeue_after_us: None,
            creation,
        })
    }

    fn replicas(&self) -> i32 {
        replicas_of(&self.spec)
    }

    fn name(&self) -> &str {
        name_of(&self.d.metadata)
    }

    fn generation(&self) -> i64 {
        self.d.metadata.generation.unwrap_or(0)
    }

    fn spec_of(&self, i: usize) -> i32 {
        spec_replicas(&self.rss[i])
    }

    /// A condition stamped now (`NewDeploymentCondition`).
    fn condition(&self, kind: &str, status: &str, reason: &str, message: String) -> Condition {
        let now = whole_second(self.now_us);
        Condition {
            kind: kind.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message,
            last_update_us: Some(now),
            last_transition_us: Some(now),
        }
    }

    /// Records a create or update of ReplicaSet `i` (once: later changes ride on it).
    fn touch(&mut self, i: usize) {
        if !self.ops.contains(&Op::Write(i)) {
            self.ops.push(Op::Write(i));
        }
    }

    /// `syncDeployment` after the ReplicaSets and pods are listed.
    fn decide(&mut self) -> Result<(), Abort> {
        if selects_everything(&self.spec.selector) {
            // Kubernetes also emits a SelectingAll warning event here.
            self.status.observed_generation =
                self.status.observed_generation.max(self.generation());
            return Ok(());
        }
        if self.d.metadata.deletion_timestamp.is_some() {
            // syncStatusOnly.
            let (new, old) = self.sync_revision();
            self.status = self.calculate_status(&all_of(&old, new), new);
            return Ok(());
        }
        self.check_paused_conditions();
        let (new, old) = self.sync_revision();
        if self.spec.paused == Some(true) || self.is_scaling_event(new, &old) {
            self.scale_sync(new, &old);
            return Ok(());
        }
        // A rollback (the deprecated `rollbackTo`, an extensions/v1beta1 field kept in an
        // annotation) is not modelled: apps/v1 has no way to ask for one.
        match strategy_of(&self.spec) {
            "Recreate" => self.rollout_recreate(new, &old),
            "RollingUpdate" => self.rollout_rolling(new, &old),
            // Kubernetes returns an error for any other type (validation forbids them).
            _ => Ok(()),
        }
    }

    /// `checkPausedConditions`: `Progressing=Unknown` on pause and on resume, unless the
    /// deadline already passed.
    fn check_paused_conditions(&mut self) {
        if !has_progress_deadline(&self.spec) {
            return;
        }
        let reason = self.status.condition(PROGRESSING).map(|c| c.reason.clone());
        if reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED) {
            return;
        }
        let paused_recorded = reason.as_deref() == Some(DEPLOYMENT_PAUSED);
        let paused = self.spec.paused == Some(true);
        if paused && !paused_recorded {
            let c = self.condition(
                PROGRESSING,
                "Unknown",
                DEPLOYMENT_PAUSED,
                "Deployment is paused".into(),
            );
            self.status.set_condition(c);
        } else if !paused && paused_recorded {
            let c = self.condition(
                PROGRESSING,
                "Unknown",
                DEPLOYMENT_RESUMED,
                "Deployment is resumed".into(),
            );
            self.status.set_condition(c);
        }
    }

    /// Indices in `ReplicaSetsByCreationTimestamp` order.
    fn by_creation(&self, mut indices: Vec<usize>) -> Vec<usize> {
        indices.sort_by_key(|&i| creation_key(&self.rss[i]));
        indices
    }

    /// `FindNewReplicaSet` / `FindOldReplicaSets`: the oldest ReplicaSet whose template is
    /// the Deployment's, and all the others, oldest first.
    fn find_new_and_old(&self) -> (Option<usize>, Vec<usize>) {
        let all = self.by_creation((0..self.rss.len()).collect());
        let template = template_json(Some(&self.spec.template));
        let new = all.iter().copied().find(|&i| {
            let t = self.rss[i].spec.as_ref().and_then(|s| s.template.as_ref());
            equal_ignore_hash(&template_json(t), &template)
        });
        let old = all.into_iter().filter(|&i| Some(i) != new).collect();
        (new, old)
    }

    /// `MaxRevision` of the old ReplicaSets, plus one.
    fn next_revision(&self, old: &[usize]) -> String {
        let max = old
            .iter()
            .filter_map(|&i| revision_of(&self.rss[i].metadata))
            .fold(0, i64::max);
        (max + 1).to_string()
    }

    /// `getAllReplicaSetsAndSyncRevision` without creating: finds the new and old
    /// ReplicaSets and brings the new one's annotations and `minReadySeconds` up to date,
    /// or else the Deployment's revision (and a first `FoundNewReplicaSet` condition).
    fn sync_revision(&mut self) -> (Option<usize>, Vec<usize>) {
        let (new, old) = self.find_new_and_old();
        if let Some(i) = new {
            let new_revision = self.next_revision(&old);
            let mut rs = self.rss[i].clone();
            let annotations_updated = self.set_new_rs_annotations(&mut rs, &new_revision, true);
            let min_ready = self.spec.min_ready_seconds.unwrap_or(0);
            if annotations_updated || min_ready_seconds(&rs) != min_ready {
                rs.spec
                    .get_or_insert_with(ReplicaSetSpec::default)
                    .min_ready_seconds = Some(min_ready);
                self.rss[i] = rs;
                self.touch(i);
                // Kubernetes returns the updated ReplicaSet here, leaving the
                // Deployment's revision for the next sync.
            } else {
                let revision = annotation(&self.rss[i].metadata, REVISION_ANNOTATION)
                    .unwrap_or("")
                    .to_string();
                self.set_deployment_revision(&revision);
                if has_progress_deadline(&self.spec) && self.status.condition(PROGRESSING).is_none()
                {
                    let message = format!("Found new replica set {:?}", name_of(&rs.metadata));
                    let c = self.condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, message);
                    self.status.set_condition(c);
                }
            }
        }
        self.snapshot = self.rss.clone();
        (new, old)
    }

    /// The rest of `getNewReplicaSet`: creates the new ReplicaSet if there is none, named
    /// after the template's hash, with revision max-old + 1 and its first replicas.
    fn ensure_new(&mut self, new: Option<usize>, old: &[usize]) -> Result<usize, Abort> {
        if let Some(i) = new {
            return Ok(i);
        }
        let new_revision = self.next_revision(old);
        let hash = pod_template_hash(
            &template_json(Some(&self.spec.template)),
            self.status.collision_count,
        );
        let mut template = self.spec.template.clone();
        let labels = template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels
            .get_or_insert_with(BTreeMap::new);
        labels.insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let labels = labels.clone();
        let mut selector = self.spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let name = format!("{}-{hash}", self.name());
        let mut spec = ReplicaSetSpec::default();
        spec.replicas = Some(0);
        spec.min_ready_seconds = self.spec.min_ready_seconds;
        spec.selector = selector;
        spec.template = Some(template);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                labels: Some(labels),
                owner_references: Some(vec![controller_ref(&self.d)]),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
            status: None,
        };
        self.rss.push(rs);
        let i = self.rss.len() - 1;
        let all: Vec<usize> = old.iter().copied().chain([i]).collect();
        let replicas = self.new_rs_new_replicas(&all, i);
        set_spec_replicas(&mut self.rss[i], replicas);
        let mut rs = self.rss[i].clone();
        self.set_new_rs_annotations(&mut rs, &new_revision, false);
        self.rss[i] = rs;
        match self.creation {
            Creation::Attempt => {}
            Creation::Collided => {
                // Kubernetes bumps collisionCount on the in-memory Deployment, writes the
                // status and returns the AlreadyExists error.
                self.rss.pop();
                let count = self.status.collision_count.unwrap_or(0);
                self.status.collision_count = Some(count.saturating_add(1));
                return Err(Abort(Some(self.deployment_json())));
            }
            Creation::Failed(message) => {
                self.rss.pop();
                if !has_progress_deadline(&self.spec) {
                    return Err(Abort(None));
                }
                let message = format!("Failed to create new replica set {name:?}: {message}");
                let c = self.condition(PROGRESSING, "False", FAILED_RS_CREATE, message);
                self.status.set_condition(c);
                return Err(Abort(Some(self.deployment_json())));
            }
        }
        self.touch(i);
        self.set_deployment_revision(&new_revision);
        if has_progress_deadline(&self.spec) {
            let message = format!("Created new replica set {name:?}");
            let c = self.condition(PROGRESSING, "True", NEW_REPLICA_SET_CREATED, message);
            self.status.set_condition(c);
        }
        self.snapshot = self.rss.clone();
        Ok(i)
    }

    /// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations, raises the
    /// revision to `new_revision` if it is lower (remembering the old one in the revision
    /// history: a rollback to this template), and on a ReplicaSet about to be created sets
    /// the replicas annotations. Whether anything changed.
    fn set_new_rs_annotations(
        &self,
        rs: &mut ReplicaSet,
        new_revision: &str,
        exists: bool,
    ) -> bool {
        let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        let mut changed = false;
        for (key, value) in self.d.metadata.annotations.iter().flatten() {
            if skip_copy_annotation(key) || annotations.get(key) == Some(value) {
                continue;
            }
            annotations.insert(key.clone(), value.clone());
            changed = true;
        }
        let old_revision = annotations.get(REVISION_ANNOTATION).cloned();
        let old_number = match old_revision.as_deref() {
            None | Some("") => 0,
            Some(v) => match v.parse::<i64>() {
                Ok(n) => n,
                // Kubernetes gives up on a ReplicaSet whose revision is not a number.
                Err(_) => return false,
            },
        };
        let Ok(new_number) = new_revision.parse::<i64>() else {
            return false;
        };
        if old_number < new_number {
            annotations.insert(REVISION_ANNOTATION.to_string(), new_revision.to_string());
            changed = true;
            if let Some(old_revision) = old_revision {
                push_revision_history(annotations, &old_revision);
            }
        }
        if !exists {
            let replicas = self.replicas();
            if set_replicas_annotations(rs, replicas, replicas + surge_of(&self.spec)) {
                changed = true;
            }
        }
        changed
    }

    /// `SetDeploymentRevision` on the in-memory Deployment.
    fn set_deployment_revision(&mut self, revision: &str) {
        if annotation(&self.d.metadata, REVISION_ANNOTATION).unwrap_or("") != revision {
            self.d
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION_ANNOTATION.to_string(), revision.to_string());
        }
    }

    /// `NewRSNewReplicas`: what the new ReplicaSet may grow to now. RollingUpdate: up to
    /// `replicas + maxSurge` pods in all, never past `replicas`; Recreate: `replicas` (old
    /// ones are at 0 by then).
    fn new_rs_new_replicas(&self, all: &[usize], new: usize) -> i32 {
        let replicas = self.replicas();
        match strategy_of(&self.spec) {
            "RollingUpdate" => {
                let surge = self
                    .spec
                    .strategy
                    .as_ref()
                    .and_then(|s| s.rolling_update.as_ref())
                    .and_then(|r| r.max_surge.as_ref())
                    .and_then(|s| scaled_value(s, replicas, true))
                    .unwrap_or(0);
                let current: i32 = all.iter().map(|&i| self.spec_of(i)).sum();
                let max_total = replicas + surge;
                if current >= max_total {
                    return self.spec_of(new);
                }
                let up = (max_total - current).min(replicas - self.spec_of(new));
                self.spec_of(new) + up
            }
            "Recreate" => replicas,
            _ => 0,
        }
    }

    /// `scaleReplicaSet`: sets the size and the replicas annotations if either differs.
    /// Whether the size changed.
    fn scale_replica_set(&mut self, i: usize, new_scale: i32) -> bool {
        let replicas = self.replicas();
        let max = replicas + surge_of(&self.spec);
        let size_changes = self.spec_of(i) != new_scale;
        if size_changes || replicas_annotations_need_update(&self.rss[i], replicas, max) {
            set_spec_replicas(&mut self.rss[i], new_scale);
            set_replicas_annotations(&mut self.rss[i], replicas, max);
            self.touch(i);
        }
        size_changes
    }

    /// `scaleReplicaSetAndRecordEvent`: nothing if the size is already right.
    fn scale_and_record(&mut self, i: usize, new_scale: i32) -> bool {
        if self.spec_of(i) == new_scale {
            return false;
        }
        self.scale_replica_set(i, new_scale)
    }

    /// `isScalingEvent`: an active ReplicaSet was last scaled for another `spec.replicas`.
    fn is_scaling_event(&self, new: Option<usize>, old: &[usize]) -> bool {
        let replicas = self.replicas();
        all_of(old, new)
            .into_iter()
            .filter(|&i| self.spec_of(i) > 0)
            .any(|i| {
                int_annotation(&self.rss[i], DESIRED_REPLICAS_ANNOTATION)
                    .is_some_and(|desired| desired != replicas)
            })
    }

    /// `sync`: scale (and, paused, clean up), then the plain status.
    fn scale_sync(&mut self, new: Option<usize>, old: &[usize]) {
        self.scale(new, old);
        if self.spec.paused == Some(true) {
            self.cleanup(old);
        }
        self.status = self.calculate_status(&all_of(old, new), new);
    }

    /// `scale`: the sole active ReplicaSet (or, none active, the newest) takes the whole
    /// count; a saturated new one takes it from the old ones; otherwise, rolling, the
    /// change is spread over the active ReplicaSets in proportion to their size.
    fn scale(&mut self, new: Option<usize>, old: &[usize]) {
        let replicas = self.replicas();
        // FindActiveOrLatest sorts the old ReplicaSets newest first, in place: the order
        // the rest of `scale` sees them in.
        let mut old = self.by_creation(old.to_vec());
        old.reverse();
        if let Some(i) = self.active_or_latest(new, &old) {
            if self.spec_of(i) != replicas {
                self.scale_and_record(i, replicas);
            }
            return;
        }
        if self.is_saturated(new) {
            let active: Vec<usize> = old.into_iter().filter(|&i| self.spec_of(i) > 0).collect();
            for i in active {
                self.scale_and_record(i, 0);
            }
            return;
        }
        if !is_rolling(&self.spec) {
            return;
        }
        let mut active: Vec<usize> = all_of(&old, new)
            .into_iter()
            .filter(|&i| self.spec_of(i) > 0)
            .collect();
        let total: i32 = active.iter().map(|&i| self.spec_of(i)).sum();
        let allowed = if replicas > 0 {
            replicas + surge_of(&self.spec)
        } else {
            0
        };
        let to_add = allowed - total;
        // Larger first; among equals, newer first when growing (ReplicaSetsBySizeNewer)
        // and older first when shrinking (ReplicaSetsBySizeOlder).
        if to_add > 0 {
            active.sort_by(|&a, &b| {
                self.spec_of(b)
                    .cmp(&self.spec_of(a))
                    .then_with(|| creation_key(&self.rss[b]).cmp(&creation_key(&self.rss[a])))
            });
        } else if to_add < 0 {
            active.sort_by(|&a, &b| {
                self.spec_of(b)
                    .cmp(&self.spec_of(a))
                    .then_with(|| creation_key(&self.rss[a]).cmp(&creation_key(&self.rss[b])))
            });
        }
        let mut added = 0;
        let mut sizes = Vec::with_capacity(active.len());
        for &i in &active {
            if to_add == 0 {
                sizes.push(self.spec_of(i));
            } else {
                let p = self.proportion(i, to_add, added);
                sizes.push(self.spec_of(i) + p);
                added += p;
            }
        }
        for (n, &i) in active.iter().enumerate() {
            if n == 0 && to_add != 0 {
                // Leftovers (from rounding) go to the largest.
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_replica_set(i, sizes[n]);
        }
    }

    /// `FindActiveOrLatest` over `old` sorted newest first.
    fn active_or_latest(&self, new: Option<usize>, old: &[usize]) -> Option<usize> {
        if new.is_none() && old.is_empty() {
            return None;
        }
        let active: Vec<usize> = all_of(old, new)
            .into_iter()
            .filter(|&i| self.spec_of(i) > 0)
            .collect();
        match active.len() {
            0 => new.or_else(|| old.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    /// `IsSaturated`: the new ReplicaSet has, wants and was last scaled for the whole count,
    /// all of it available.
    fn is_saturated(&self, new: Option<usize>) -> bool {
        let Some(i) = new else { return false };
        let rs = &self.rss[i];
        let replicas = self.replicas();
        int_annotation(rs, DESIRED_REPLICAS_ANNOTATION) == Some(replicas)
            && spec_replicas(rs) == replicas
            && available_replicas(rs) == replicas
    }

    /// `GetProportion`: ReplicaSet `i`'s share of `to_add`, bounded by what is left.
    fn proportion(&self, i: usize, to_add: i32, added: i32) -> i32 {
        if self.spec_of(i) == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(i);
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// `getReplicaSetFraction`: the ReplicaSet's size scaled by the new maximum over the
    /// maximum it was last scaled for (its max-replicas annotation, else the Deployment's
    /// `status.replicas`), rounded half away from zero, minus its size.
    fn fraction(&self, i: usize) -> i32 {
        let size = self.spec_of(i);
        let replicas = self.replicas();
        if replicas == 0 {
            return -size;
        }
        let deployment_max = replicas + surge_of(&self.spec);
        let annotated =
            int_annotation(&self.rss[i], MAX_REPLICAS_ANNOTATION).unwrap_or(self.status.replicas);
        if annotated == 0 {
            // Go divides by zero here (an infinite float cast to int32); no share.
            return 0;
        }
        let scaled = (f64::from(size) * f64::from(deployment_max)) / f64::from(annotated);
        // integer.RoundToInt32.
        let rounded = if scaled < 0.0 {
            (scaled - 0.5) as i32
        } else {
            (scaled + 0.5) as i32
        };
        rounded - size
    }

    /// `rolloutRolling`: scale the new ReplicaSet up, or else the old ones down; when
    /// neither moves and the last status said complete, clean up.
    fn rollout_rolling(&mut self, new: Option<usize>, old: &[usize]) -> Result<(), Abort> {
        let new = self.ensure_new(new, old)?;
        let all = all_of(old, Some(new));
        if self.reconcile_new(&all, new) {
            self.rollout_status(&all, Some(new));
            return Ok(());
        }
        let active_old: Vec<usize> = old
            .iter()
            .copied()
            .filter(|&i| self.spec_of(i) > 0)
            .collect();
        if self.reconcile_old(&all, &active_old, new) {
            self.rollout_status(&all, Some(new));
            return Ok(());
        }
        if self.deployment_complete(&self.status) {
            self.cleanup(old);
        }
        self.rollout_status(&all, Some(new));
        Ok(())
    }

    /// `reconcileNewReplicaSet`.
    fn reconcile_new(&mut self, all: &[usize], new: usize) -> bool {
        let replicas = self.replicas();
        if self.spec_of(new) == replicas {
            return false;
        }
        if self.spec_of(new) > replicas {
            return self.scale_and_record(new, replicas);
        }
        let count = self.new_rs_new_replicas(all, new);
        self.scale_and_record(new, count)
    }

    /// `reconcileOldReplicaSets`: scale old ReplicaSets down as far as keeps
    /// `replicas - maxUnavailable` available, counting the new ReplicaSet's unavailable
    /// pods against it; unhealthy old replicas go first.
    fn reconcile_old(&mut self, all: &[usize], old: &[usize], new: usize) -> bool {
        let old_pods: i32 = old.iter().map(|&i| self.spec_of(i)).sum();
        if old_pods == 0 {
            return false;
        }
        let all_pods: i32 = all.iter().map(|&i| self.spec_of(i)).sum();
        let min_available = self.replicas() - unavailable_of(&self.spec);
        let new_unavailable = self.spec_of(new) - available_replicas(&self.rss[new]);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let old = self.by_creation(old.to_vec());
        let cleaned = self.cleanup_unhealthy_replicas(&old, max_scaled_down);
        let all: Vec<usize> = all_of(&old, Some(new));
        let scaled = self.scale_down_old_for_rolling_update(&all, &old);
        cleaned + scaled > 0
    }

    /// `cleanupUnhealthyReplicas`: old replicas that are not available cost nothing to
    /// remove, so they go first (the ReplicaSet controller deletes not-ready pods first).
    fn cleanup_unhealthy_replicas(&mut self, old: &[usize], max_cleanup: i32) -> i32 {
        let mut total = 0;
        for &i in old {
            if total >= max_cleanup {
                break;
            }
            let size = self.spec_of(i);
            let available = available_replicas(&self.rss[i]);
            if size == 0 || size == available {
                continue;
            }
            let down = (max_cleanup - total).min(size - available);
            self.scale_and_record(i, size - down);
            total += down;
        }
        total
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`: oldest first, as far as availability
    /// above `replicas - maxUnavailable` allows.
    fn scale_down_old_for_rolling_update(&mut self, all: &[usize], old: &[usize]) -> i32 {
        let min_available = self.replicas() - unavailable_of(&self.spec);
        let available: i32 = all.iter().map(|&i| available_replicas(&self.rss[i])).sum();
        if available <= min_available {
            return 0;
        }
        let goal = available - min_available;
        let mut total = 0;
        for &i in old {
            if total >= goal {
                break;
            }
            let size = self.spec_of(i);
            if size == 0 {
                continue;
            }
            let down = size.min(goal - total);
            self.scale_and_record(i, size - down);
            total += down;
        }
        total
    }

    /// `rolloutRecreate`: old ReplicaSets to 0; once no old pod runs, the new one (created
    /// now if need be) to the whole count.
    fn rollout_recreate(&mut self, new: Option<usize>, old: &[usize]) -> Result<(), Abort> {
        let mut scaled_down = false;
        for &i in old {
            if self.spec_of(i) > 0 && self.scale_and_record(i, 0) {
                scaled_down = true;
            }
        }
        if scaled_down || self.old_pods_running(new, old) {
            self.rollout_status(&all_of(old, new), new);
            return Ok(());
        }
        let new = self.ensure_new(new, old)?;
        let replicas = self.replicas();
        self.scale_and_record(new, replicas);
        if self.deployment_complete(&self.status) {
            self.cleanup(old);
        }
        self.rollout_status(&all_of(old, Some(new)), Some(new));
        Ok(())
    }

    /// `oldPodsRunning`: an old ReplicaSet still counts replicas, or one of its pods is in
    /// a non-terminal phase (terminating ones included: they may still be running).
    fn old_pods_running(&self, new: Option<usize>, old: &[usize]) -> bool {
        if old
            .iter()
            .map(|&i| status_replicas(&self.rss[i]))
            .sum::<i32>()
            > 0
        {
            return true;
        }
        let new_uid = new.and_then(|i| self.rss[i].metadata.uid.as_deref());
        let owned: Vec<&str> = self.rss[..self.read_count]
            .iter()
            .filter_map(|rs| rs.metadata.uid.as_deref())
            .filter(|uid| Some(*uid) != new_uid)
            .collect();
        self.pods.iter().any(|pod| {
            let controller = pod
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
                .and_then(|r| r["uid"].as_str());
            let phase = pod.pointer("/status/phase").and_then(Value::as_str);
            controller.is_some_and(|uid| owned.contains(&uid))
                && !matches!(phase, Some("Failed" | "Succeeded"))
        })
    }

    /// `cleanupDeployment`: old ReplicaSets past the history limit, lowest revision first,
    /// each only if it is empty, at rest and not being deleted.
    fn cleanup(&mut self, old: &[usize]) {
        let Some(limit) = revision_history_limit(&self.spec) else {
            return;
        };
        let mut cleanable: Vec<usize> = old
            .iter()
            .copied()
            .filter(|&i| self.snapshot[i].metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return;
        }
        // ReplicaSetsByRevision; Kubernetes orders an unparsable revision by creation
        // against anything, which is no total order: here it counts as 0.
        cleanable.sort_by_key(|&i| {
            let rs = &self.snapshot[i];
            (revision_of(&rs.metadata).unwrap_or(0), creation_key(rs))
        });
        for &i in cleanable.iter().take(excess as usize) {
            let rs = &self.snapshot[i];
            let at_rest = rs.metadata.generation.unwrap_or(0)
                <= rs
                    .status
                    .as_ref()
                    .and_then(|s| s.observed_generation)
                    .unwrap_or(0);
            if status_replicas(rs) != 0 || spec_replicas(rs) != 0 || !at_rest {
                continue;
            }
            // One this sync also writes would fail its preconditions.
            if self.ops.contains(&Op::Write(i)) {
                continue;
            }
            self.ops.push(Op::Delete(i));
        }
    }

    /// `calculateStatus`: counts from the ReplicaSets' status (unavailable against their
    /// spec), the conditions as they stand, and `Available`.
    fn calculate_status(&self, all: &[usize], new: Option<usize>) -> Status {
        let rss: Vec<&ReplicaSet> = all.iter().map(|&i| &self.snapshot[i]).collect();
        let available: i32 = rss.iter().map(|rs| available_replicas(rs)).sum();
        let total: i32 = rss.iter().map(|rs| spec_replicas(rs)).sum();
        let mut status = Status {
            observed_generation: self.generation(),
            replicas: rss.iter().map(|rs| status_replicas(rs)).sum(),
            updated_replicas: new.map_or(0, |i| status_replicas(&self.snapshot[i])),
            ready_replicas: rss.iter().map(|rs| ready_replicas(rs)).sum(),
            available_replicas: available,
            // More available than wanted (scaling down) is not negative unavailability.
            unavailable_replicas: (total - available).max(0),
            collision_count: self.status.collision_count,
            conditions: self.status.conditions.clone(),
        };
        let c = if available >= self.replicas() - unavailable_of(&self.spec) {
            self.condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
            )
        } else {
            self.condition(
                AVAILABLE,
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
            )
        };
        status.set_condition(c);
        status
    }

    /// `DeploymentComplete`: every replica updated and available, this generation seen.
    fn deployment_complete(&self, status: &Status) -> bool {
        let replicas = self.replicas();
        status.updated_replicas == replicas
            && status.replicas == replicas
            && status.available_replicas == replicas
            && status.observed_generation >= self.generation()
    }

    /// `DeploymentProgressing`: more updated, ready or available replicas than the
    /// Deployment's status said, or fewer old ones.
    fn deployment_progressing(&self, new: &Status) -> bool {
        let old = &self.status;
        new.updated_replicas > old.updated_replicas
            || new.replicas - new.updated_replicas < old.replicas - old.updated_replicas
            || new.ready_replicas > old.ready_replicas
            || new.available_replicas > old.available_replicas
    }

    /// `DeploymentTimedOut`: the Progressing condition was last updated more than
    /// `progressDeadlineSeconds` ago (or already says so); never after a completed rollout.
    fn deployment_timed_out(&self, new: &Status) -> bool {
        let Some(deadline) = self
            .spec
            .progress_deadline_seconds
            .filter(|_| has_progress_deadline(&self.spec))
        else {
            return false;
        };
        let Some(c) = new.condition(PROGRESSING) else {
            return false;
        };
        match c.reason.as_str() {
            NEW_REPLICA_SET_AVAILABLE => false,
            PROGRESS_DEADLINE_EXCEEDED => true,
            _ => c.last_update_us.unwrap_or(0) + i64::from(deadline) * SECOND_US < self.now_us,
        }
    }

    /// `syncRolloutStatus`: the status with the Progressing condition the rollout earned.
    fn rollout_status(&mut self, all: &[usize], new: Option<usize>) {
        let mut status = self.calculate_status(all, new);
        let deadline = has_progress_deadline(&self.spec);
        if !deadline {
            status.remove_condition(PROGRESSING);
        }
        let current = self.status.condition(PROGRESSING).cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason == NEW_REPLICA_SET_AVAILABLE);
        let subject = match new {
            Some(i) => format!("ReplicaSet {:?}", name_of(&self.snapshot[i].metadata)),
            None => format!("Deployment {:?}", self.name()),
        };
        if deadline && !complete_before {
            if self.deployment_complete(&status) {
                let message = format!("{subject} has successfully progressed.");
                let c = self.condition(PROGRESSING, "True", NEW_REPLICA_SET_AVAILABLE, message);
                status.set_condition(c);
            } else if self.deployment_progressing(&status) {
                let message = format!("{subject} is progressing.");
                let mut c = self.condition(PROGRESSING, "True", REPLICA_SET_UPDATED, message);
                // Progress refreshes lastUpdateTime even with the same reason, so the
                // condition is replaced rather than set.
                if let Some(current) = &current {
                    if current.status == "True" {
                        c.last_transition_us = current.last_transition_us;
                    }
                    status.remove_condition(PROGRESSING);
                }
                status.set_condition(c);
            } else if self.deployment_timed_out(&status) {
                let message = format!("{subject} has timed out progressing.");
                let c = self.condition(PROGRESSING, "False", PROGRESS_DEADLINE_EXCEEDED, message);
                status.set_condition(c);
            }
        }
        match self.replica_failure(all, new) {
            Some(c) => status.set_condition(c),
            None => status.remove_condition(REPLICA_FAILURE),
        }
        if status == self.status {
            self.requeue_after_us = self.requeue_stuck(&status);
        }
        self.status = status;
    }

    /// `getReplicaFailures`: the new ReplicaSet's ReplicaFailure condition, else any old
    /// one's, as a Deployment condition.
    fn replica_failure(&self, all: &[usize], new: Option<usize>) -> Option<Condition> {
        let failure = |i: usize| {
            self.snapshot[i]
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == REPLICA_FAILURE))
                .map(|c| {
                    let at = c.last_transition_time.as_ref().map(us_of);
                    Condition {
                        kind: REPLICA_FAILURE.to_string(),
                        status: c.status.clone(),
                        reason: c.reason.clone().unwrap_or_default(),
                        message: c.message.clone().unwrap_or_default(),
                        last_update_us: at,
                        last_transition_us: at,
                    }
                })
        };
        new.and_then(failure)
            .or_else(|| all.iter().find_map(|&i| failure(i)))
    }

    /// `requeueStuckDeployment`: when a rollout shows no progress, come back when its
    /// deadline passes (a second later, against timer skew), or now if it is that close.
    fn requeue_stuck(&self, status: &Status) -> Option<i64> {
        let deadline = self
            .spec
            .progress_deadline_seconds
            .filter(|_| has_progress_deadline(&self.spec))?;
        let current = self.status.condition(PROGRESSING)?;
        if self.deployment_complete(status) || current.reason == PROGRESS_DEADLINE_EXCEEDED {
            return None;
        }
        let after =
            current.last_update_us.unwrap_or(0) + i64::from(deadline) * SECOND_US - self.now_us;
        Some(if after < SECOND_US {
            0
        } else {
            after + SECOND_US
        })
    }

    /// The Deployment as read, with the in-memory status and annotations.
    fn deployment_json(&self) -> Value {
        let mut d = self.raw.clone();
        d["status"] = self.status.to_json();
        if let Some(annotations) = &self.d.metadata.annotations {
            d["metadata"]["annotations"] = serde_json::to_value(annotations).unwrap_or_default();
        }
        d
    }

    /// The actions, in order: ReplicaSet writes as they were decided, then the status if
    /// it changed, then the requeue.
    fn finish(self) -> Vec<Action> {
        let mut actions: Vec<Action> = self
            .ops
            .iter()
            .map(|op| match *op {
                Op::Write(i) => {
                    let rs = serde_json::to_value(&self.rss[i]).unwrap_or_default();
                    if i >= self.read_count {
                        Action::CreateReplicaSet(rs)
                    } else {
                        Action::UpdateReplicaSet(rs)
                    }
                }
                Op::Delete(i) => {
                    let meta = &self.snapshot[i].metadata;
                    Action::DeleteReplicaSet {
                        namespace: meta.namespace.clone().unwrap_or_default(),
                        name: name_of(meta).to_string(),
                        uid: meta.uid.clone().unwrap_or_default(),
                        resource_version: meta.resource_version.clone().unwrap_or_default(),
                    }
                }
            })
            .collect();
        if self.status != self.read_status || self.d.metadata.annotations != self.read_annotations {
            actions.push(Action::UpdateStatus(self.deployment_json()));
        }
        if let Some(after_us) = self.requeue_after_us {
            actions.push(Action::RequeueAfter { after_us });
        }
        actions
    }
}

/// `append(oldRSs, newRS)`.
fn all_of(old: &[usize], new: Option<usize>) -> Vec<usize> {
    old.iter().copied().chain(new).collect()
}

/// Appends `old_revision` to the revision-history annotation, dropping the oldest entries
/// to stay within 2000 characters (`SetNewReplicaSetAnnotations`).
fn push_revision_history(annotations: &mut BTreeMap<String, String>, old_revision: &str) {
    let history = annotations
        .get(REVISION_HISTORY_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let entries: Vec<&str> = history.split(',').collect();
    if entries[0].is_empty() {
        annotations.insert(
            REVISION_HISTORY_ANNOTATION.to_string(),
            old_revision.to_string(),
        );
        return;
    }
    let mut length = history.len() + old_revision.len() + 1;
    let mut start = 0;
    while length > MAX_REV_HISTORY_LENGTH_IN_CHARS && start < entries.len() {
        length -= entries[start].len() + 1;
        start += 1;
    }
    if length <= MAX_REV_HISTORY_LENGTH_IN_CHARS {
        let mut kept = entries[start..].to_vec();
        kept.push(old_revision);
        annotations.insert(REVISION_HISTORY_ANNOTATION.to_string(), kept.join(","));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults;
    use crate::resource::by_kind;
    use serde_json::json;
    use std::cmp::Reverse;

    const S: i64 = SECOND_US;

    /// A Deployment `web` of `replicas` running image `v1`, defaulted as the API server
    /// stores it.
    fn deployment(replicas: i32, strategy: Value) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "d-1",
                "generation": 1, "resourceVersion": "1"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "strategy": strategy,
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "v1"}]}}}});
        defaults::apply(by_kind("apps/v1", "Deployment").unwrap(), &mut d);
        d
    }

    fn set_image(d: &mut Value, image: &str) {
        set_template_image(&mut d["spec"]["template"], image);
    }

    fn set_template_image(template: &mut Value, image: &str) {
        template["spec"]["containers"][0]["image"] = json!(image);
    }

    fn image_of(template: &Value) -> &str {
        template["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
    }

    fn is_ready(pod: &Value) -> bool {
        pod["status"]["conditions"][0]["status"] == "True"
    }

    /// The API server, the ReplicaSet controller and the kubelets, just enough to run the
    /// Deployment controller against: writes with their preconditions checked, pods made
    /// and deleted to each ReplicaSet's size, Ready a second after they are made (unless
    /// their image is in `never_ready`), gone `grace_us` after their deletion.
    #[derive(Debug)]
    struct World {
        d: Value,
        rss: Vec<Value>,
        pods: Vec<Value>,
        now_us: i64,
        version: u64,
        pods_made: u64,
        grace_us: i64,
        never_ready: Vec<&'static str>,
    }

    impl World {
        fn new(d: Value) -> Self {
            World {
                d,
                rss: Vec::new(),
                pods: Vec::new(),
                now_us: 10 * S,
                version: 1,
                pods_made: 0,
                grace_us: S,
                never_ready: Vec::new(),
            }
        }

        fn version(&mut self) -> String {
            self.version += 1;
            self.version.to_string()
        }

        /// A user's update of the Deployment (a spec change bumps the generation).
        fn edit(&mut self, f: impl FnOnce(&mut Value)) {
            let before = self.d["spec"].clone();
            f(&mut self.d);
            defaults::apply(by_kind("apps/v1", "Deployment").unwrap(), &mut self.d);
            if self.d["spec"] != before {
                let g = self.d["metadata"]["generation"].as_i64().unwrap();
                self.d["metadata"]["generation"] = json!(g + 1);
            }
            self.d["metadata"]["resourceVersion"] = json!(self.version());
        }

        fn sync(&self) -> Vec<Action> {
            sync(&self.d, &self.rss, &self.pods, self.now_us)
        }

        fn rs_index(&self, name: &str) -> usize {
            self.rss
                .iter()
                .position(|r| r["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("no ReplicaSet {name}"))
        }

        fn apply(&mut self, actions: &[Action]) {
            for a in actions {
                match a {
                    Action::CreateReplicaSet(rs) => {
                        let mut rs = rs.clone();
                        let name = rs["metadata"]["name"].as_str().unwrap().to_string();
                        assert!(
                            self.rss.iter().all(|r| r["metadata"]["name"] != name),
                            "{name} exists"
                        );
                        let version = self.version();
                        let meta = &mut rs["metadata"];
                        meta["uid"] = json!(format!("uid-{name}"));
                        meta["resourceVersion"] = json!(version);
                        meta["generation"] = json!(1);
                        meta["creationTimestamp"] = json!(rfc3339(self.now_us, false));
                        self.rss.push(rs);
                    }
                    Action::UpdateReplicaSet(rs) => {
                        let version = self.version();
                        let n = self.rs_index(rs["metadata"]["name"].as_str().unwrap());
                        let stored = &mut self.rss[n];
                        assert_eq!(
                            stored["metadata"]["resourceVersion"],
                            rs["metadata"]["resourceVersion"],
                            "an update from a stale read"
                        );
                        let generation = stored["metadata"]["generation"].as_i64().unwrap()
                            + i64::from(stored["spec"] != rs["spec"]);
                        let status = stored["status"].clone();
                        *stored = rs.clone();
                        stored["status"] = status;
                        stored["metadata"]["generation"] = json!(generation);
                        stored["metadata"]["resourceVersion"] = json!(version);
                    }
                    Action::DeleteReplicaSet {
                        name,
                        uid,
                        resource_version,
                        ..
                    } => {
                        let n = self.rs_index(name);
                        assert_eq!(self.rss[n]["metadata"]["uid"], json!(uid));
                        assert_eq!(
                            self.rss[n]["metadata"]["resourceVersion"],
                            json!(resource_version)
                        );
                        self.rss.remove(n);
                    }
                    Action::UpdateStatus(d) => {
                        assert_eq!(
                            d["metadata"]["resourceVersion"], self.d["metadata"]["resourceVersion"],
                            "a status write from a stale read"
                        );
                        // deploymentStatusStrategy: spec and labels from storage, the
                        // rest (status, annotations) from the body.
                        self.d["status"] = d["status"].clone();
                        self.d["metadata"]["annotations"] = d["metadata"]["annotations"].clone();
                        self.d["metadata"]["resourceVersion"] = json!(self.version());
                    }
                    Action::RequeueAfter { .. } => {}
                }
            }
        }

        fn owned_pods(&self, uid: &Value) -> Vec<usize> {
            (0..self.pods.len())
                .filter(|&p| self.pods[p]["metadata"]["ownerReferences"][0]["uid"] == *uid)
                .collect()
        }

        /// The ReplicaSet controller: pods to each size (not-ready and newer ones deleted
        /// first), then the status it reports.
        fn replica_set_controller(&mut self) {
            for n in 0..self.rss.len() {
                let rs = self.rss[n].clone();
                let uid = rs["metadata"]["uid"].clone();
                let want = rs["spec"]["replicas"].as_u64().unwrap() as usize;
                let active = |w: &World| -> Vec<usize> {
                    w.owned_pods(&uid)
                        .into_iter()
                        .filter(|&p| w.pods[p]["metadata"]["deletionTimestamp"].is_null())
                        .collect()
                };
                let mut live = active(self);
                if live.len() > want {
                    live.sort_by_key(|&p| (is_ready(&self.pods[p]), Reverse(p)));
                    for &p in &live[..live.len() - want] {
                        self.pods[p]["metadata"]["deletionTimestamp"] =
                            json!(rfc3339(self.now_us, false));
                    }
                }
                for _ in live.len()..want {
                    self.pods_made += 1;
                    let template = &rs["spec"]["template"];
                    self.pods.push(json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": format!("{}-{}", rs["metadata"]["name"].as_str().unwrap(), self.pods_made),
                            "namespace": "default", "uid": format!("pod-{}", self.pods_made),
                            "labels": template["metadata"]["labels"],
                            "creationTimestamp": rfc3339(self.now_us, false),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                "name": rs["metadata"]["name"], "uid": uid, "controller": true}]},
                        "spec": template["spec"], "status": {"phase": "Pending"}}));
                }
                let live = active(self);
                let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0) as i32;
                let ready = live.iter().filter(|&&p| is_ready(&self.pods[p])).count();
                let available = live
                    .iter()
                    .filter(|&&p| is_pod_available(&self.pods[p], min_ready, self.now_us))
                    .count();
                let status = json!({"replicas": live.len(), "fullyLabeledReplicas": live.len(),
                    "readyReplicas": ready, "availableReplicas": available,
                    "observedGeneration": rs["metadata"]["generation"]});
                if self.rss[n]["status"] != status {
                    self.rss[n]["status"] = status;
                    self.rss[n]["metadata"]["resourceVersion"] = json!(self.version());
                }
            }
        }

        /// The kubelets: deleted pods go after their grace period, pending ones turn Ready.
        fn kubelet(&mut self) {
            let (now, grace) = (self.now_us, self.grace_us);
            self.pods.retain(|p| {
                p["metadata"]["deletionTimestamp"]
                    .as_str()
                    .and_then(super::super::parse_time_us)
                    .is_none_or(|deleted| deleted + grace > now)
            });
            for p in &mut self.pods {
                let made = p["metadata"]["creationTimestamp"]
                    .as_str()
                    .and_then(super::super::parse_time_us)
                    .unwrap();
                if p["status"]["phase"] == "Pending"
                    && made < now
                    && !self.never_ready.contains(&image_of(p))
                {
                    p["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready",
                        "status": "True", "lastTransitionTime": rfc3339(now, false)}]});
                }
            }
        }

        /// One sync and its writes, then a second of the rest of the cluster.
        fn step(&mut self) -> Vec<Action> {
            let actions = self.sync();
            self.apply(&actions);
            self.replica_set_controller();
            self.now_us += S;
            self.kubelet();
            self.replica_set_controller();
            actions
        }

        /// Steps until a sync decides nothing.
        fn settle(&mut self) {
            for _ in 0..50 {
                if self.step().is_empty() {
                    return;
                }
            }
            panic!("no rest after 50 syncs: {:#?}", self.d["status"]);
        }

        /// The ReplicaSets' sizes, oldest first.
        fn sizes(&self) -> Vec<i64> {
            let mut rss: Vec<&Value> = self.rss.iter().collect();
            rss.sort_by_key(|r| {
                (
                    r["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    r["metadata"]["name"].as_str().unwrap().to_string(),
                )
            });
            rss.iter()
                .map(|r| r["spec"]["replicas"].as_i64().unwrap())
                .collect()
        }

        fn available(&self) -> i64 {
            self.rss
                .iter()
                .map(|r| r["status"]["availableReplicas"].as_i64().unwrap_or(0))
                .sum()
        }

        /// (status, reason, message) of a Deployment condition.
        fn condition(&self, kind: &str) -> (String, String, String) {
            let c = self.d["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
                .unwrap_or_else(|| panic!("no {kind} condition: {:#?}", self.d["status"]));
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            (s("status"), s("reason"), s("message"))
        }

        fn condition_field(&self, kind: &str, field: &str) -> Value {
            self.d["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
                .map(|c| c[field].clone())
                .unwrap_or_default()
        }
    }

    fn creates(actions: &[Action]) -> Vec<&Value> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::CreateReplicaSet(rs) => Some(rs),
                _ => None,
            })
            .collect()
    }

    fn status_write(actions: &[Action]) -> Option<&Value> {
        actions.iter().find_map(|a| match a {
            Action::UpdateStatus(d) => Some(d),
            _ => None,
        })
    }

    fn hash_of(d: &Value, collision_count: Option<i32>) -> String {
        pod_template_hash(&d["spec"]["template"], collision_count)
    }

    fn cond(s: &str, reason: &str, message: &str) -> (String, String, String) {
        (s.into(), reason.into(), message.into())
    }

    #[test]
    fn a_new_deployment_creates_its_replica_set_then_rests() {
        let mut w = World::new(deployment(3, json!({})));
        let actions = w.step();
        let hash = hash_of(&w.d, None);
        let name = format!("web-{hash}");
        let created = creates(&actions);
        assert_eq!(created.len(), 1, "{actions:#?}");
        let rs = created[0];
        assert_eq!(rs["apiVersion"], "apps/v1");
        assert_eq!(rs["kind"], "ReplicaSet");
        assert_eq!(rs["metadata"]["name"], json!(name));
        assert_eq!(rs["metadata"]["namespace"], "default");
        let labels = json!({"app": "web", "pod-template-hash": hash});
        assert_eq!(rs["metadata"]["labels"], labels);
        assert_eq!(rs["spec"]["selector"], json!({"matchLabels": labels}));
        assert_eq!(rs["spec"]["template"]["metadata"]["labels"], labels);
        assert_eq!(
            rs["metadata"]["ownerReferences"],
            json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-1",
                "controller": true, "blockOwnerDeletion": true}])
        );
        // 25% of 3: surge 1 (rounded up), so max-replicas 4; all 3 at once (nothing old).
        assert_eq!(
            rs["metadata"]["annotations"],
            json!({"deployment.kubernetes.io/revision": "1",
                "deployment.kubernetes.io/desired-replicas": "3",
                "deployment.kubernetes.io/max-replicas": "4"})
        );
        assert_eq!(rs["spec"]["replicas"], 3);
        // The template is the Deployment's but for the label.
        assert!(equal_ignore_hash(
            &rs["spec"]["template"],
            &w.d["spec"]["template"]
        ));
        // Status: the revision rides on the status write; counts of 0 are omitted as Go does.
        let status = &w.d["status"];
        assert_eq!(w.d["metadata"]["annotations"][REVISION_ANNOTATION], "1");
        assert_eq!(status["observedGeneration"], 1);
        assert_eq!(status["unavailableReplicas"], 3);
        assert!(status.get("replicas").is_none(), "{status:#}");
        assert_eq!(
            w.condition(PROGRESSING),
            cond(
                "True",
                NEW_REPLICA_SET_CREATED,
                &format!("Created new replica set \"{name}\"")
            )
        );
        assert_eq!(
            w.condition(AVAILABLE),
            cond(
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability."
            )
        );
        w.settle();
        assert_eq!(w.sizes(), [3]);
        let status = &w.d["status"];
        for field in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            assert_eq!(status[field], 3, "{field}");
        }
        assert!(status.get("unavailableReplicas").is_none());
        assert_eq!(
            w.condition(PROGRESSING),
            cond(
                "True",
                NEW_REPLICA_SET_AVAILABLE,
                &format!("ReplicaSet \"{name}\" has successfully progressed.")
            )
        );
        assert_eq!(
            w.condition(AVAILABLE),
            cond(
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability."
            )
        );
        // At rest, a sync (a resync, say) writes nothing.
        assert_eq!(w.sync(), []);
    }

    #[test]
    fn scaling_resizes_the_only_replica_set_and_its_annotations() {
        let mut w = World::new(deployment(3, json!({})));
        w.settle();
        // (replicas, desired-replicas, max-replicas = replicas + 25% rounded up)
        for (replicas, desired, max) in [(1, "1", "2"), (5, "5", "7")] {
            w.edit(|d| d["spec"]["replicas"] = json!(replicas));
            let actions = w.step();
            let updates: Vec<&Value> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::UpdateReplicaSet(rs) => Some(rs),
                    _ => None,
                })
                .collect();
            assert_eq!(updates.len(), 1, "{actions:#?}");
            assert_eq!(updates[0]["spec"]["replicas"], replicas);
            let a = &updates[0]["metadata"]["annotations"];
            assert_eq!(a[DESIRED_REPLICAS_ANNOTATION], desired);
            assert_eq!(a[MAX_REPLICAS_ANNOTATION], max);
            w.settle();
            assert_eq!(w.sizes(), [i64::from(replicas)]);
            assert_eq!(w.d["status"]["availableReplicas"], replicas);
            assert_eq!(
                w.d["status"]["observedGeneration"],
                w.d["metadata"]["generation"]
            );
        }
        assert_eq!(w.rss.len(), 1, "scaling makes no new ReplicaSet");
    }

    /// Drives a template change through the world, checking the rollout's bounds after
    /// every sync; returns (old size, new size) after each.
    fn roll(w: &mut World, max_total: i64, min_available: i64, syncs: usize) -> Vec<(i64, i64)> {
        w.edit(|d| set_image(d, "v2"));
        let mut seen = Vec::new();
        for _ in 0..syncs {
            w.step();
            let sizes = w.sizes();
            assert!(
                sizes.iter().sum::<i64>() <= max_total,
                "more than replicas + maxSurge: {sizes:?}"
            );
            assert!(
                w.available() >= min_available,
                "fewer than replicas - maxUnavailable available: {sizes:?}"
            );
            seen.push((sizes[0], sizes[1]));
        }
        seen
    }

    #[test]
    fn a_rolling_update_of_4_with_25_percent_surges_1_and_keeps_3_available() {
        let mut w = World::new(deployment(4, json!({})));
        w.settle();
        let transition = w.condition_field(PROGRESSING, "lastTransitionTime");
        // 25% of 4: maxSurge 1, maxUnavailable 1. The first sync creates the new
        // ReplicaSet with 1 and takes 1 from the old one (4 available > 3); then the new
        // one grows by what the surge allows and the old one shrinks by what became
        // available: by 2 once two new pods are available at once.
        let seen = roll(&mut w, 5, 3, 6);
        assert_eq!(seen, [(3, 1), (3, 2), (1, 2), (1, 4), (0, 4), (0, 4)]);
        assert_eq!(w.sync(), [], "done");
        let new = &w.rss[1];
        assert_eq!(new["metadata"]["annotations"][REVISION_ANNOTATION], "2");
        assert_eq!(w.d["metadata"]["annotations"][REVISION_ANNOTATION], "2");
        for field in ["replicas", "updatedReplicas", "availableReplicas"] {
            assert_eq!(w.d["status"][field], 4, "{field}");
        }
        let (_, reason, message) = w.condition(PROGRESSING);
        assert_eq!(reason, NEW_REPLICA_SET_AVAILABLE);
        assert!(message.contains(new["metadata"]["name"].as_str().unwrap()));
        // Progressing stayed True throughout: its transition time is the first rollout's.
        assert_eq!(
            w.condition_field(PROGRESSING, "lastTransitionTime"),
            transition
        );
    }

    #[test]
    fn going_back_to_an_old_template_reuses_its_replica_set_with_a_new_revision() {
        let mut w = World::new(deployment(4, json!({})));
        w.settle();
        w.edit(|d| set_image(d, "v2"));
        w.settle();
        assert_eq!(w.sizes(), [0, 4]);
        w.edit(|d| set_image(d, "v1"));
        let actions = w.step();
        assert!(creates(&actions).is_empty(), "{actions:#?}");
        // One write to the v1 ReplicaSet: revision 3 (remembering 1), and its first step
        // up; Kubernetes makes these two writes.
        let updates: Vec<&Value> = actions
            .iter()
            .filter_map(|a| match a {
                Action::UpdateReplicaSet(rs) => Some(rs),
                _ => None,
            })
            .collect();
        assert_eq!(updates.len(), 1, "{actions:#?}");
        let a = &updates[0]["metadata"]["annotations"];
        assert_eq!(a[REVISION_ANNOTATION], "3");
        assert_eq!(a[REVISION_HISTORY_ANNOTATION], "1");
        assert_eq!(updates[0]["spec"]["replicas"], 1);
        w.settle();
        assert_eq!(w.sizes(), [4, 0]);
        assert_eq!(w.d["metadata"]["annotations"][REVISION_ANNOTATION], "3");
    }

    #[test]
    fn progress_refreshes_the_progressing_condition() {
        let mut w = World::new(deployment(4, json!({})));
        w.settle();
        let transition = w.condition_field(PROGRESSING, "lastTransitionTime");
        w.edit(|d| set_image(d, "v2"));
        w.step();
        let name = w.rss[1]["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(
            w.condition(PROGRESSING),
            cond(
                "True",
                NEW_REPLICA_SET_CREATED,
                &format!("Created new replica set \"{name}\"")
            )
        );
        let now = w.now_us;
        w.step();
        assert_eq!(
            w.condition(PROGRESSING),
            cond(
                "True",
                REPLICA_SET_UPDATED,
                &format!("ReplicaSet \"{name}\" is progressing.")
            )
        );
        assert_eq!(
            w.condition_field(PROGRESSING, "lastUpdateTime"),
            json!(rfc3339(now, false))
        );
        assert_eq!(
            w.condition_field(PROGRESSING, "lastTransitionTime"),
            transition
        );
    }

    #[test]
    fn max_surge_0_max_unavailable_1_removes_before_it_adds() {
        let strategy = json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}});
        let mut w = World::new(deployment(3, strategy));
        w.settle();
        let seen = roll(&mut w, 3, 2, 7);
        assert_eq!(
            seen,
            [(2, 0), (2, 1), (1, 1), (1, 2), (0, 2), (0, 3), (0, 3)]
        );
        assert_eq!(w.sync(), []);
        assert_eq!(w.d["status"]["updatedReplicas"], 3);
    }

    #[test]
    fn recreate_scales_old_to_zero_and_waits_for_its_pods_to_go() {
        let mut w = World::new(deployment(3, json!({"type": "Recreate"})));
        w.settle();
        // Deleted pods take two seconds to go: one sync sees them terminating.
        w.grace_us = 2 * S;
        w.edit(|d| set_image(d, "v2"));
        let first = w.step();
        assert!(creates(&first).is_empty());
        assert_eq!(w.sizes(), [0]);
        let old_uid = w.rss[0]["metadata"]["uid"].clone();
        assert_eq!(w.owned_pods(&old_uid).len(), 3, "terminating, not gone");
        let second = w.step();
        assert!(
            creates(&second).is_empty(),
            "old pods still there: {second:#?}"
        );
        assert!(w.owned_pods(&old_uid).is_empty());
        let third = w.step();
        let created = creates(&third);
        assert_eq!(created.len(), 1);
        // Recreate creates the new ReplicaSet at full size.
        assert_eq!(created[0]["spec"]["replicas"], 3);
        w.settle();
        assert_eq!(w.sizes(), [0, 3]);
        assert_eq!(w.d["status"]["availableReplicas"], 3);
    }

    #[test]
    fn scaling_mid_rollout_is_proportional() {
        // The example of the Kubernetes documentation ("Proportional scaling"): 10
        // replicas, maxSurge 3, maxUnavailable 2, a rollout stuck on an image that never
        // becomes ready at 8 old and 5 new; scaled to 15, the 5 more replicas (18 allowed
        // in all) go 3 to the old ReplicaSet and 2 to the new one.
        let strategy = json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}});
        let mut w = World::new(deployment(10, strategy));
        w.settle();
        w.never_ready = vec!["v2"];
        let seen = roll(&mut w, 13, 8, 4);
        assert_eq!(seen, [(8, 3), (8, 5), (8, 5), (8, 5)]);
        w.edit(|d| d["spec"]["replicas"] = json!(15));
        w.step();
        assert_eq!(w.sizes(), [11, 7]);
        for rs in &w.rss {
            let a = &rs["metadata"]["annotations"];
            assert_eq!(a[DESIRED_REPLICAS_ANNOTATION], "15");
            assert_eq!(a[MAX_REPLICAS_ANNOTATION], "18");
        }
        // Back to 10 (13 allowed): 5 fewer, 3 from the larger old one and 2 from the new.
        w.edit(|d| d["spec"]["replicas"] = json!(10));
        w.step();
        assert_eq!(w.sizes().iter().sum::<i64>(), 13);
        assert_eq!(w.sizes(), [8, 5]);
    }

    /// A ReplicaSet of `web` at `revision` running `image`, created at second `created_s`.
    fn old_rs(revision: i64, image: &str, created_s: i64) -> Value {
        let mut template = deployment(1, json!({}))["spec"]["template"].clone();
        set_template_image(&mut template, image);
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("web-{image}"), "namespace": "default",
                "uid": format!("uid-{image}"), "resourceVersion": format!("{revision}0"),
                "generation": 1, "creationTimestamp": rfc3339(created_s * S, false),
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": "web", "uid": "d-1", "controller": true}]},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                "template": template},
            "status": {"replicas": 0, "observedGeneration": 1}})
    }

    #[test]
    fn old_replica_sets_beyond_the_history_limit_go_lowest_revision_first() {
        // A completed rollout to v6 with old v1..v5 at 0; v3 was created first but is
        // revision 3.
        let complete = |paused: bool| {
            let mut d = deployment(3, json!({}));
            set_image(&mut d, "v6");
            d["spec"]["revisionHistoryLimit"] = json!(2);
            d["spec"]["paused"] = json!(paused);
            d["status"] = json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                "readyReplicas": 3, "availableReplicas": 3});
            d
        };
        let mut new = old_rs(6, "v6", 60);
        new["spec"]["replicas"] = json!(3);
        new["status"] = json!({"replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "observedGeneration": 1});
        new["metadata"]["annotations"] = json!({REVISION_ANNOTATION: "6",
            DESIRED_REPLICAS_ANNOTATION: "3", MAX_REPLICAS_ANNOTATION: "4"});
        let olds = || {
            vec![
                old_rs(1, "v1", 10),
                old_rs(2, "v2", 20),
                old_rs(3, "v3", 5),
                old_rs(4, "v4", 40),
                old_rs(5, "v5", 50),
            ]
        };
        type Case = (
            &'static str,
            bool,
            Box<dyn Fn(&mut Value, &mut Vec<Value>)>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "three past the limit",
                false,
                Box::new(|_, _| {}),
                vec!["web-v1", "web-v2", "web-v3"],
            ),
            (
                "not at rest: the ReplicaSet controller has not seen its last change",
                false,
                Box::new(|_, rss| rss[1]["metadata"]["generation"] = json!(2)),
                vec!["web-v1", "web-v3"],
            ),
            (
                "being deleted: not counted",
                false,
                Box::new(|_, rss| {
                    rss[0]["metadata"]["deletionTimestamp"] = json!(rfc3339(0, false))
                }),
                vec!["web-v2", "web-v3"],
            ),
            (
                "paused: cleaned up too, but never one with pods",
                true,
                Box::new(|_, rss| rss[1]["status"]["replicas"] = json!(1)),
                vec!["web-v1", "web-v3"],
            ),
            (
                "a rollout not complete yet: nothing",
                false,
                Box::new(|d, rss| {
                    rss[5]["status"]["availableReplicas"] = json!(2);
                    d["status"]["availableReplicas"] = json!(2);
                }),
                vec![],
            ),
        ];
        for (name, paused, change, want) in cases {
            let mut d = complete(paused);
            let mut rss = olds();
            rss.push(new.clone());
            change(&mut d, &mut rss);
            let actions = sync(&d, &rss, &[], 100 * S);
            let deleted: Vec<&str> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::DeleteReplicaSet {
                        name,
                        uid,
                        resource_version,
                        namespace,
                    } => {
                        let rs = rss.iter().find(|r| r["metadata"]["name"] == *name).unwrap();
                        assert_eq!(rs["metadata"]["uid"], json!(uid), "{name}");
                        assert_eq!(rs["metadata"]["resourceVersion"], json!(resource_version));
                        assert_eq!(namespace, "default");
                        Some(name.as_str())
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(deleted, want, "{name}: {actions:#?}");
            assert!(
                actions.iter().all(|a| !matches!(
                    a,
                    Action::UpdateReplicaSet(_) | Action::CreateReplicaSet(_)
                )),
                "{name}: {actions:#?}"
            );
        }
    }

    /// The sizes each ReplicaSet is created or updated to, by name.
    fn writes(actions: &[Action]) -> Vec<(String, i64)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::CreateReplicaSet(rs) | Action::UpdateReplicaSet(rs) => Some((
                    rs["metadata"]["name"].as_str().unwrap().to_string(),
                    rs["spec"]["replicas"].as_i64().unwrap(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn unhealthy_old_replicas_go_first() {
        // 4 replicas at 25%/25%, the old ReplicaSet has 2 of its 4 unavailable: only 2
        // available, below the 3 required, so no healthy old replica may go; but an
        // unavailable one costs nothing (allowed: 5 - 3 - 1 unavailable new = 1).
        let mut d = deployment(4, json!({}));
        set_image(&mut d, "v2");
        let mut old = old_rs(1, "v1", 10);
        old["spec"]["replicas"] = json!(4);
        old["status"] = json!({"replicas": 4, "readyReplicas": 2, "availableReplicas": 2,
            "observedGeneration": 1});
        old["metadata"]["annotations"] = json!({REVISION_ANNOTATION: "1",
            DESIRED_REPLICAS_ANNOTATION: "4", MAX_REPLICAS_ANNOTATION: "5"});
        let actions = sync(&d, &[old], &[], 100 * S);
        let new = format!("web-{}", hash_of(&d, None));
        assert_eq!(
            writes(&actions),
            [(new, 1), ("web-v1".to_string(), 3)],
            "{actions:#?}"
        );
    }

    #[test]
    fn a_saturated_new_replica_set_takes_the_rest_from_old_ones_on_a_scaling_event() {
        let d = deployment(3, json!({}));
        let hash = hash_of(&d, None);
        let mut new = old_rs(2, "v1", 20);
        new["metadata"]["name"] = json!(format!("web-{hash}"));
        new["spec"]["replicas"] = json!(3);
        new["spec"]["template"]["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
        new["status"] = json!({"replicas": 3, "availableReplicas": 3, "observedGeneration": 1});
        new["metadata"]["annotations"] = json!({REVISION_ANNOTATION: "2",
            DESIRED_REPLICAS_ANNOTATION: "3", MAX_REPLICAS_ANNOTATION: "4"});
        // An old one last scaled when the Deployment wanted 2: a scaling event.
        let mut old = old_rs(1, "v0", 10);
        old["spec"]["replicas"] = json!(1);
        old["status"] = json!({"replicas": 1, "availableReplicas": 1, "observedGeneration": 1});
        old["metadata"]["annotations"] = json!({REVISION_ANNOTATION: "1",
            DESIRED_REPLICAS_ANNOTATION: "2", MAX_REPLICAS_ANNOTATION: "3"});
        let actions = sync(&d, &[old, new], &[], 100 * S);
        assert_eq!(
            writes(&actions),
            [("web-v0".to_string(), 0)],
            "{actions:#?}"
        );
    }

    #[test]
    fn a_rollout_without_progress_times_out_after_its_deadline() {
        let mut d = deployment(2, json!({}));
        d["spec"]["progressDeadlineSeconds"] = json!(30);
        let mut w = World::new(d);
        w.never_ready = vec!["v1"];
        w.step(); // t=10: created
        w.step(); // t=11: 2 updated replicas: progress
        let name = w.rss[0]["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(w.condition(PROGRESSING).1, REPLICA_SET_UPDATED);
        assert_eq!(
            w.condition_field(PROGRESSING, "lastUpdateTime"),
            json!(rfc3339(11 * S, false))
        );
        // t=12: nothing moves; come back a second after 11 s + 30 s.
        assert_eq!(w.step(), [Action::RequeueAfter { after_us: 30 * S }]);
        w.now_us = 41 * S;
        assert_eq!(
            w.sync(),
            [Action::RequeueAfter { after_us: 0 }],
            "deadline not passed yet"
        );
        w.now_us = 42 * S;
        let actions = w.step();
        assert_eq!(actions.len(), 1, "{actions:#?}");
        assert_eq!(
            w.condition(PROGRESSING),
            cond(
                "False",
                PROGRESS_DEADLINE_EXCEEDED,
                &format!("ReplicaSet \"{name}\" has timed out progressing.")
            )
        );
        assert_eq!(
            w.condition_field(PROGRESSING, "lastTransitionTime"),
            json!(rfc3339(42 * S, false))
        );
        assert_eq!(w.condition(AVAILABLE).1, MINIMUM_REPLICAS_UNAVAILABLE);
        // Timed out is final for this rollout: no more requeues, no more writes.
        assert_eq!(w.sync(), []);
        // Until pods become ready: progress again.
        w.never_ready.clear();
        w.now_us += S;
        w.kubelet();
        w.replica_set_controller();
        w.step();
        assert_eq!(w.condition(PROGRESSING).1, NEW_REPLICA_SET_AVAILABLE);
    }

    #[test]
    fn a_paused_deployment_scales_but_does_not_roll() {
        let mut w = World::new(deployment(3, json!({})));
        w.settle();
        w.edit(|d| {
            d["spec"]["paused"] = json!(true);
            set_image(d, "v2");
        });
        let actions = w.step();
        assert!(creates(&actions).is_empty(), "{actions:#?}");
        assert_eq!(
            w.condition(PROGRESSING),
            cond("Unknown", DEPLOYMENT_PAUSED, "Deployment is paused")
        );
        assert_eq!(w.sync(), [], "paused and at rest");
        w.edit(|d| d["spec"]["replicas"] = json!(5));
        w.settle();
        assert_eq!(w.sizes(), [5], "scaled while paused");
        assert_eq!(w.d["status"]["availableReplicas"], 5);
        assert_eq!(w.d["status"]["updatedReplicas"], Value::Null, "none of v2");
        assert_eq!(w.condition(PROGRESSING).1, DEPLOYMENT_PAUSED);
        w.edit(|d| d["spec"]["paused"] = json!(false));
        let actions = w.step();
        assert_eq!(creates(&actions).len(), 1, "resumed: rolls");
        // Resumed (Unknown), then the new ReplicaSet's creation (True).
        assert_eq!(w.condition(PROGRESSING).1, NEW_REPLICA_SET_CREATED);
        w.settle();
        assert_eq!(w.sizes(), [0, 5]);
    }

    #[test]
    fn resuming_a_complete_deployment_passes_through_unknown() {
        let mut w = World::new(deployment(2, json!({})));
        w.settle();
        w.edit(|d| d["spec"]["paused"] = json!(true));
        w.step();
        assert_eq!(
            w.condition(PROGRESSING),
            cond("Unknown", DEPLOYMENT_PAUSED, "Deployment is paused")
        );
        w.edit(|d| d["spec"]["paused"] = json!(false));
        let now = w.now_us;
        let actions = w.sync();
        // Resumed (Unknown), then complete again (True) in the same sync: the condition
        // transitioned now.
        let progressing = status_write(&actions).unwrap()["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == PROGRESSING)
            .unwrap()
            .clone();
        assert_eq!(progressing["reason"], NEW_REPLICA_SET_AVAILABLE);
        assert_eq!(
            progressing["lastTransitionTime"],
            json!(rfc3339(now, false))
        );
        // With no progress deadline (MaxInt32) a rollout's status has no Progressing
        // condition at all.
        w.step();
        let mut d = w.d.clone();
        d["spec"]["progressDeadlineSeconds"] = json!(i32::MAX);
        let actions = sync(&d, &w.rss, &w.pods, w.now_us);
        let conditions = status_write(&actions).unwrap()["status"]["conditions"].clone();
        assert_eq!(conditions.as_array().unwrap().len(), 1, "{conditions:#}");
        assert_eq!(conditions[0]["type"], AVAILABLE);
    }

    #[test]
    fn a_deployment_being_deleted_only_gets_its_status() {
        let mut w = World::new(deployment(3, json!({})));
        w.settle();
        w.edit(|d| {
            d["metadata"]["deletionTimestamp"] = json!(rfc3339(20 * S, false));
            set_image(d, "v2");
            d["spec"]["replicas"] = json!(1);
        });
        let actions = w.sync();
        assert!(
            actions.iter().all(|a| matches!(a, Action::UpdateStatus(_))),
            "{actions:#?}"
        );
        assert_eq!(actions.len(), 1, "observedGeneration moved");
    }

    #[test]
    fn only_replica_sets_it_controls_count() {
        let mut w = World::new(deployment(2, json!({})));
        w.step();
        // Another owner's ReplicaSet with the same template is not this Deployment's.
        let mut foreign = w.rss[0].clone();
        foreign["metadata"]["ownerReferences"][0]["uid"] = json!("someone-else");
        let actions = sync(&w.d, &[foreign], &[], w.now_us);
        assert_eq!(creates(&actions).len(), 1);
    }

    #[test]
    fn a_hash_collision_bumps_collision_count_and_a_stale_cache_does_not() {
        let d = deployment(3, json!({}));
        let actions = sync(&d, &[], &[], 10 * S);
        let created = creates(&actions)[0].clone();
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        // The name is taken by a ReplicaSet of another template.
        let mut other = created.clone();
        set_template_image(&mut other["spec"]["template"], "v0");
        other["metadata"]["uid"] = json!("uid-other");
        let after = on_already_exists(&d, &[], &[], &other, 10 * S);
        assert_eq!(after.len(), 1, "{after:#?}");
        let status = &status_write(&after).unwrap()["status"];
        assert_eq!(status["collisionCount"], 1);
        // Next sync hashes with the count: another name.
        let mut bumped = d.clone();
        bumped["status"] = status.clone();
        let again = sync(&bumped, &[], &[], 11 * S);
        let renamed = creates(&again)[0]["metadata"]["name"].as_str().unwrap();
        assert_ne!(renamed, name);
        assert_eq!(renamed, format!("web-{}", hash_of(&d, Some(1))));
        // The name is taken by the very ReplicaSet (the cache had not seen it yet): the
        // sync goes on with it, no collision.
        let mut ours = created.clone();
        ours["metadata"]["uid"] = json!("uid-ours");
        ours["metadata"]["resourceVersion"] = json!("7");
        let after = on_already_exists(&d, &[], &[], &ours, 10 * S);
        assert!(creates(&after).is_empty(), "{after:#?}");
        let status = &status_write(&after).unwrap()["status"];
        assert!(status.get("collisionCount").is_none());
        assert_eq!(
            status["conditions"][0]["reason"], FOUND_NEW_REPLICA_SET,
            "{status:#}"
        );
    }

    #[test]
    fn a_refused_create_is_reported_in_progressing() {
        let d = deployment(3, json!({}));
        let name = format!("web-{}", hash_of(&d, None));
        let message = format!(
            "replicasets.apps \"{name}\" is forbidden: exceeded quota: pods, requested: pods=3"
        );
        let actions = on_create_failed(&d, &[], &[], &message, 10 * S);
        assert_eq!(actions.len(), 1);
        let status = &status_write(&actions).unwrap()["status"];
        assert_eq!(status["conditions"][0]["type"], PROGRESSING);
        assert_eq!(status["conditions"][0]["status"], "False");
        assert_eq!(status["conditions"][0]["reason"], FAILED_RS_CREATE);
        assert_eq!(
            status["conditions"][0]["message"],
            json!(format!(
                "Failed to create new replica set \"{name}\": {message}"
            ))
        );
    }

    #[test]
    fn an_empty_selector_only_records_the_generation() {
        let mut d = deployment(3, json!({}));
        d["spec"]["selector"] = json!({});
        d["metadata"]["generation"] = json!(4);
        let actions = sync(&d, &[], &[], 10 * S);
        assert_eq!(actions.len(), 1);
        assert_eq!(
            status_write(&actions).unwrap()["status"],
            json!({"observedGeneration": 4})
        );
    }

    #[test]
    fn surge_and_unavailability_resolve_as_kubernetes_rounds_them() {
        // (replicas, maxSurge, maxUnavailable) -> (surge, unavailable)
        let cases = [
            (4, json!("25%"), json!("25%"), (1, 1)),
            (3, json!("25%"), json!("25%"), (1, 0)),
            (10, json!("25%"), json!("25%"), (3, 2)),
            (5, json!("10%"), json!("10%"), (1, 0)),
            (5, json!("0%"), json!("10%"), (0, 1)),
            (4, json!(0), json!(0), (0, 1)),
            (3, json!(2), json!(5), (2, 3)),
            (0, json!(1), json!(1), (1, 0)),
        ];
        for (replicas, surge, unavailable, want) in cases {
            let d = deployment(
                replicas,
                json!({"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}),
            );
            assert_eq!(
                (max_surge(&d), max_unavailable(&d)),
                want,
                "{replicas} {surge} {unavailable}"
            );
        }
        let recreate = deployment(4, json!({"type": "Recreate"}));
        assert_eq!((max_surge(&recreate), max_unavailable(&recreate)), (0, 0));
        assert_eq!(
            scaled_value(&IntOrString::String("25".into()), 4, true),
            None
        );
    }

    #[test]
    fn a_pod_is_available_once_ready_for_min_ready_seconds() {
        let pod = |ready: &str, since_s: i64| {
            json!({"status": {"phase": "Running", "conditions": [{"type": "Ready",
                "status": ready, "lastTransitionTime": rfc3339(since_s * S, false)}]}})
        };
        // (pod, minReadySeconds, now) -> available
        let cases = [
            (pod("False", 0), 0, 100, false),
            (pod("True", 100), 0, 100, true),
            (pod("True", 95), 10, 100, false),
            (pod("True", 90), 10, 100, false),
            (pod("True", 89), 10, 100, true),
            (json!({"status": {"phase": "Pending"}}), 0, 100, false),
        ];
        for (pod, min_ready, now_s, want) in cases {
            assert_eq!(is_pod_available(&pod, min_ready, now_s * S), want, "{pod}");
        }
    }

    #[test]
    fn the_pod_template_hash_is_stable_and_changes_with_template_and_collisions() {
        // FNV-32a's published test vectors and SafeEncodeString's alphabet.
        for (input, want) in [
            ("", 0x811c_9dc5u32),
            ("a", 0xe40c_292c),
            ("foobar", 0xbf9c_f968),
        ] {
            let mut h = Fnv32a::new();
            h.write(input.as_bytes());
            assert_eq!(h.sum(), want, "{input}");
        }
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
        let d = deployment(3, json!({}));
        let template = &d["spec"]["template"];
        let hash = pod_template_hash(template, None);
        // Pinned: a change here changes every ReplicaSet name in every trace.
        assert_eq!(hash, "5d6bfb9d4");
        assert!(hash.chars().all(|c| "456789bcdf".contains(c)), "{hash}");
        let mut v2 = template.clone();
        set_template_image(&mut v2, "v2");
        let mut nulls = template.clone();
        nulls["spec"]["nodeSelector"] = Value::Null;
        let others = [
            pod_template_hash(&v2, None),
            pod_template_hash(template, Some(0)),
            pod_template_hash(template, Some(1)),
        ];
        for other in &others {
            assert_ne!(*other, hash);
        }
        assert_ne!(others[1], others[2]);
        assert_eq!(pod_template_hash(&nulls, None), hash, "null is absent");
    }
}
