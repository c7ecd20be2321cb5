//! The catalog: every scenario `ksim` knows, by name.

use crate::deployment_reconcile::DeploymentReconcile;
use crate::disk_stall::DiskStall;
use crate::election::Election;
use crate::election_timing::ElectionTiming;
use crate::etcd_capacity::EtcdCapacity;
use crate::fault_tolerance::FaultTolerance;
use crate::leader_crash::LeaderCrash;
use crate::lock_safety::LockSafety;
use crate::membership_change::MembershipChange;
use crate::node_failure::NodeFailure;
use crate::partition_5node::Partition5Node;
use crate::ping_mesh::PingMesh;
use crate::pod_lifecycle::PodLifecycle;
use crate::power_failure::PowerFailure;
use crate::quorum_write::QuorumWrite;
use crate::scenario::{AnyScenario, ScenarioError};
use crate::split_brain::SplitBrain;

/// Every scenario, in the order `ksim list` prints them.
pub fn scenarios() -> Vec<&'static dyn AnyScenario> {
    vec![
        &PingMesh,
        &Election,
        &QuorumWrite,
        &LeaderCrash,
        &Partition5Node,
        &SplitBrain,
        &FaultTolerance,
        &PowerFailure,
        &DiskStall,
        &MembershipChange,
        &EtcdCapacity,
        &LockSafety,
        &ElectionTiming,
        &PodLifecycle,
        &DeploymentReconcile,
        &NodeFailure,
    ]
}

/// The scenario called `name`.
///
/// # Errors
///
/// [`ScenarioError::Unknown`], listing the known names.
pub fn find(name: &str) -> Result<&'static dyn AnyScenario, ScenarioError> {
    scenarios()
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| ScenarioError::Unknown {
            name: name.to_string(),
            known: scenarios().iter().map(|s| s.name().to_string()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_scenario_catches_it_can_switch_on_and_every_bug_is_described() {
        for s in scenarios() {
            for bug in s.catches() {
                assert!(
                    s.mutants().contains(bug),
                    "{} catches unknown {bug}",
                    s.name()
                );
            }
        }
        let described: Vec<&str> = raft::driver::MUTANT_SUMMARIES
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(described, raft::driver::MUTANT_NAMES);
        // Every planted bug is some scenario's to catch.
        let kube = crate::kube_world::KUBE_MUTANTS.map(|(name, _)| name);
        assert_eq!(kube, crate::kube_world::KUBE_MUTANT_NAMES);
        for bug in raft::driver::MUTANT_NAMES
            .iter()
            .chain(&["scheduler-forgets-assumed"])
        {
            assert!(
                scenarios().iter().any(|s| s.catches().contains(bug)),
                "no scenario catches {bug}"
            );
        }
    }
}
