//! The ksim scenario catalog and the `ksim` command line.
//!
//! A scenario is a named, seeded, replayable run: a typed config, a fault schedule (drawn
//! from the seed unless given), a simulation, and the checks that judge it. Its whole input
//! fits in one `scenario.toml` ([`ScenarioFile`]), so any run can be replayed exactly.
//! `../shared/SCENARIOS.md` is the catalog this crate grows into.

pub mod bench;
pub(crate) mod capacity_story;
pub mod catalog;
pub mod check_history;
pub mod cli;
pub mod deployment_reconcile;
pub mod disk_stall;
pub mod election;
pub mod election_timing;
pub mod etcd_capacity;
pub mod fault_tolerance;
pub mod kube_world;
pub mod leader_crash;
pub mod lock_safety;
pub mod lock_story;
pub mod membership_change;
pub mod membership_story;
pub mod node_failure;
pub mod output;
pub mod parallel;
pub mod partition_5node;
pub mod ping_mesh;
pub mod pod_lifecycle;
pub mod power_failure;
pub mod quorum_write;
pub mod raft_world;
pub mod runner;
pub mod scenario;
pub mod spec;
pub mod split_brain;
pub(crate) mod story;

pub use catalog::{find, scenarios};
pub use scenario::{Scenario, ScenarioError, ScenarioRun};
pub use spec::ScenarioFile;
