//! Turning a scenario file into a run: resolve the config, draw or check the faults, run.

use sim_core::FaultSchedule;

use crate::catalog::find;
use crate::scenario::{AnyScenario, Configured, ScenarioError, ScenarioRun};
use crate::spec::ScenarioFile;

/// A scenario file made concrete: full config, concrete fault schedule, both validated.
pub struct Prepared {
    /// The scenario.
    pub scenario: &'static dyn AnyScenario,
    /// The scenario with its typed config: the one parse of the file's config.
    pub configured: Box<dyn Configured>,
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
    let configured = scenario.configure(&file.config)?;
    let schedule = match file.schedule() {
        Some(schedule) => schedule,
        None => configured.generate_faults(file.seed),
    };
    schedule.validate(&configured.directory().ids())?;
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
            config: configured.table(),
            mutants: file.mutants.clone(),
            faults: Some(schedule.faults.clone()),
        },
        schedule,
        configured,
    })
}

/// Runs a prepared scenario.
///
/// # Errors
///
/// Only for invalid input, which [`prepare`] has already ruled out.
pub fn execute(prepared: &Prepared) -> Result<ScenarioRun, ScenarioError> {
    prepared.configured.run(
        prepared.file.seed,
        &prepared.schedule,
        &prepared.file.mutants,
    )
}

/// The scenario file for `scenario` with `seed`, a config given as TOML text, and planted
/// bugs: how tests and benchmarks name one run.
///
/// # Errors
///
/// [`ScenarioError::Config`] if `config` is not a TOML table.
pub fn file_for(
    scenario: &str,
    seed: u64,
    config: &str,
    mutants: &[&str],
) -> Result<ScenarioFile, ScenarioError> {
    let config = toml::from_str::<toml::Table>(config)
        .map_err(|e| ScenarioError::from_toml(config, "config", &e))?;
    Ok(ScenarioFile {
        scenario: scenario.to_string(),
        seed,
        config,
        mutants: mutants.iter().map(|m| m.to_string()).collect(),
        faults: None,
    })
}

/// Prepares and runs [`file_for`]'s file.
///
/// # Errors
///
/// As [`file_for`], [`prepare`] and [`execute`].
pub fn run_scenario(
    scenario: &str,
    seed: u64,
    config: &str,
    mutants: &[&str],
) -> Result<ScenarioRun, ScenarioError> {
    execute(&prepare(&file_for(scenario, seed, config, mutants)?)?)
}
