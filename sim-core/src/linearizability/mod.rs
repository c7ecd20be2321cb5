//! The linearizability checker: is there one order of a history's operations, consistent
//! with real time, that a sequential specification explains?
//!
//! The search is Wing & Gong's, with Lowe's memoization of (operations linearized, model
//! state) ("Testing for linearizability", 2016) and Porcupine's P-compositionality: keyed
//! models are checked per key, and the smallest failing key is reported
//! ([`partition`](self)). Indeterminate operations (`info`, or never completed) may take
//! effect at any point after their invocation, or never, and the model accepts any answer
//! for them; `fail` operations certainly did not happen and are dropped. A step budget,
//! counted in model steps and backtracks (never wall time, so a verdict is the same on
//! every machine), makes the search give up with [`LinResult::Unknown`] rather than hang.
//!
//! Why not a crate: the crates.io candidates fit badly. `stateright`'s linearizability
//! tester records operations as its own model checker runs them; it does not read an
//! external history, and has no indeterminate operations, keys or budget. `todc-utils`
//! has a Wing–Gong–Lowe checker over its own specification trait but no notion of
//! indeterminate operations with unknown outputs, keyed partitions, or a step budget, and
//! is a small, rarely released project. The Rust ports of Porcupine are unmaintained
//! experiments. The search is about 200 lines; owning it lets the models (etcd's revisions,
//! with nondeterministic successor states) and the report shape fit ksim. (The registry
//! could not be queried from the build machine; this is from the crates' documentation.)
//!
//! Models ([`models`]): `cas-register` (Jepsen's), `kv` (Jepsen's keyed register and ksim's
//! etcd operations, with a cross-key revision check), `list-map` (Jepsen's append
//! workload: lists) and `string-kv` (Porcupine's key-value histories: strings that append
//! concatenates). [`ModelKind::resolve`] picks `string-kv` for a history that needs it.

mod bitset;
pub mod generate;
mod model;
pub mod models;
mod operation;
mod partition;
mod report;
mod search;

use std::fmt;
use std::str::FromStr;

pub use model::Model;
pub use operation::{operations, DecodeError, OpSummary, Operation};
pub use report::{Counterexample, LinReport, LinResult};

use crate::history::{EntryType, History};

/// Search steps allowed per partition when nobody says otherwise: a few seconds at most
/// on a slow machine, and far more than a well-behaved history of 10k operations needs.
pub const DEFAULT_MAX_STEPS: u64 = 2_000_000;

/// How much work a check may do before its answer is "unknown".
#[derive(Clone, Copy, Debug)]
pub struct Budget<'a> {
    /// Search steps allowed per partition. Steps are counted work, not time, so a verdict
    /// under this limit alone is the same on every machine.
    pub max_steps: u64,
    /// A caller's reason to stop early (a wall-clock limit, Ctrl-C), asked every
    /// [`INTERRUPT_POLL_STEPS`] steps. sim-core reads no clock itself: the caller decides
    /// what the limit is and says why in [`Interrupt::reason`].
    pub interrupt: Option<Interrupt<'a>>,
}

/// See [`Budget::interrupt`].
#[derive(Clone, Copy)]
pub struct Interrupt<'a> {
    /// True once the check should stop.
    pub stop: &'a dyn Fn() -> bool,
    /// What the unknown verdict says stopped it, e.g. `time limit of 500 ms reached`.
    pub reason: &'a str,
}

impl fmt::Debug for Interrupt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupt")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// How often (in search steps) [`Interrupt::stop`] is asked: rarely enough that asking
/// costs nothing measurable, often enough to stop within a millisecond or so.
pub const INTERRUPT_POLL_STEPS: u64 = 4096;

impl Budget<'_> {
    /// Only a step limit.
    pub fn steps(max_steps: u64) -> Self {
        Budget {
            max_steps,
            interrupt: None,
        }
    }

    /// Whether the caller asked to stop.
    pub(crate) fn interrupted(&self) -> bool {
        self.interrupt.is_some_and(|i| (i.stop)())
    }
}

/// Checks `history` against `model`, with at most `max_steps` search steps per partition.
///
/// # Errors
///
/// When the history is malformed (a completion without an invocation, ...) or holds an
/// operation the model cannot read.
pub fn check<M: Model>(
    model: &M,
    history: &History,
    max_steps: u64,
) -> Result<LinReport, DecodeError> {
    check_within(model, history, &Budget::steps(max_steps))
}

/// [`check`] within a [`Budget`] that may also stop it early.
///
/// # Errors
///
/// As [`check`].
pub fn check_within<M: Model>(
    model: &M,
    history: &History,
    budget: &Budget<'_>,
) -> Result<LinReport, DecodeError> {
    let ops = operations(model, history)?;
    Ok(partition::check_partitions(model, ops, budget))
}

/// The models `ksim check-history --model` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ModelKind {
    /// [`models::CasRegister`].
    CasRegister,
    /// [`models::EtcdKv`].
    Kv,
    /// [`models::ListMap`].
    ListMap,
    /// [`models::StringKv`].
    StringKv,
}

impl ModelKind {
    /// Every model, in the order help lists them.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::ListMap,
        ModelKind::StringKv,
    ];

    /// The name `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::ListMap => "list-map",
            ModelKind::StringKv => "string-kv",
        }
    }

    /// The model that fits `history` among those a user who asked for this one means.
    ///
    /// Histories of the same workload come with values of different shapes: Porcupine's
    /// key-value tests append to strings, Jepsen's append workload to lists, and ksim's
    /// etcd `kv` model has no append at all. So `kv` becomes `string-kv` when the history
    /// appends, and `list-map` becomes `string-kv` when a read returns a string; every
    /// other choice stands. Decided from the history alone, before any check.
    pub fn resolve(self, history: &History) -> ModelKind {
        let appends = || history.entries.iter().any(|e| e.f == "append");
        let reads_a_string = || {
            history.entries.iter().any(|e| {
                e.entry_type == EntryType::Ok
                    && matches!(e.f.as_str(), "get" | "read")
                    && e.value.is_string()
            })
        };
        match self {
            ModelKind::Kv if appends() => ModelKind::StringKv,
            ModelKind::ListMap if reads_a_string() => ModelKind::StringKv,
            other => other,
        }
    }

    /// Whether the model splits its history per key.
    pub fn keyed(self) -> bool {
        self != ModelKind::CasRegister
    }

    /// [`check`] with this model.
    ///
    /// # Errors
    ///
    /// As [`check`].
    pub fn check(self, history: &History, max_steps: u64) -> Result<LinReport, DecodeError> {
        self.check_within(history, &Budget::steps(max_steps))
    }

    /// [`check_within`] with this model.
    ///
    /// # Errors
    ///
    /// As [`check`].
    pub fn check_within(
        self,
        history: &History,
        budget: &Budget<'_>,
    ) -> Result<LinReport, DecodeError> {
        match self {
            ModelKind::CasRegister => check_within(&models::CasRegister, history, budget),
            ModelKind::Kv => check_within(&models::EtcdKv, history, budget),
            ModelKind::ListMap => check_within(&models::ListMap, history, budget),
            ModelKind::StringKv => check_within(&models::StringKv, history, budget),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A model name that is not one of [`ModelKind::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown model `{0}` (expected cas-register, kv, list-map or string-kv)")]
pub struct UnknownModel(pub String);

impl FromStr for ModelKind {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

#[cfg(test)]
mod tests;
