//! Turning a scenario file into a run: resolve the config, draw or check the faults, run.

use sim_core::FaultSchedule;

use crate::catalog::find;
use crate::scenario::{RunInput, Scenario, ScenarioError, ScenarioRun};
use crate::spec::ScenarioFile;

/// A scenario file made concrete: full config, concrete fault schedule, both validated.
pub struct Prepared {
    /// The scenario.
    pub scenario: &'static dyn Scenario,
    /// The file as it will be saved: complete config and the schedule that runs.
    pub file: ScenarioFile,
    /// The schedule that runs.
    pub schedule: FaultSchedule,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("file", &self.file)
            .finish()
    }
}

/// Resolves `file` into a concrete, validated run.
///
/// # Errors
///
/// Unknown scenario, bad config, or a schedule that does not fit the scenario's nodes.
pub fn prepare(file: &ScenarioFile) -> Result<Prepared, ScenarioError> {
    let scenario = find(&file.scenario)?;
    let config = scenario.resolve_config(&file.config)?;
    let schedule = match file.schedule() {
        Some(schedule) => schedule,
        None => scenario.generate_faults(file.seed, &config)?,
    };
    schedule.validate(&scenario.nodes(&config)?)?;
    for name in &file.mutants {
        if !scenario.mutants().contains(&name.as_str()) {
            return Err(ScenarioError::UnknownMutant {
                name: name.clone(),
                scenario: scenario.name().to_string(),
                known: scenario.mutants().iter().map(|m| m.to_string()).collect(),
            });
        }
    }
    Ok(Prepared {
        scenario,
        file: ScenarioFile {
            scenario: file.scenario.clone(),
            seed: file.seed,
            config,
            mutants: file.mutants.clone(),
            faults: Some(schedule.faults.clone()),
        },
        schedule,
    })
}

/// Runs a prepared scenario.
///
/// # Errors
///
/// Only for invalid input, which [`prepare`] has already ruled out.
pub fn execute(prepared: &Prepared) -> Result<ScenarioRun, ScenarioError> {
    prepared.scenario.run(&RunInput {
        seed: prepared.file.seed,
        config: &prepared.file.config,
        faults: &prepared.schedule,
        mutants: &prepared.file.mutants,
    })
}
