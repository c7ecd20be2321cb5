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
//! etcd operations, with a cross-key revision check) and `list-map`.

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

use crate::history::History;

/// Search steps allowed per partition when nobody says otherwise: a few seconds at most
/// on a slow machine, and far more than a well-behaved history of 10k operations needs.
pub const DEFAULT_MAX_STEPS: u64 = 2_000_000;

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
    let ops = operations(model, history)?;
    Ok(partition::check_partitions(model, ops, max_steps))
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
}

impl ModelKind {
    /// Every model, in the order help lists them.
    pub const ALL: [ModelKind; 3] = [ModelKind::CasRegister, ModelKind::Kv, ModelKind::ListMap];

    /// The name `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::ListMap => "list-map",
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
        match self {
            ModelKind::CasRegister => check(&models::CasRegister, history, max_steps),
            ModelKind::Kv => check(&models::EtcdKv, history, max_steps),
            ModelKind::ListMap => check(&models::ListMap, history, max_steps),
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
#[error("unknown model `{0}` (expected cas-register, kv or list-map)")]
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
