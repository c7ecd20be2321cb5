//! `scenario.toml`: everything needed to rerun a run exactly.
//!
//! ```toml
//! scenario = "ping-mesh"
//! seed = 42
//!
//! mutants = []          # planted bugs switched on, if any
//!
//! [config]
//! nodes = 3
//!
//! [[faults]]
//! at_ms = 1000
//! op = "isolate"
//! node = "n2"
//! ```
//!
//! The `config` table is the scenario's own (see `ksim list`); keys left out take their
//! defaults. A run folder's `scenario.toml` always holds the full config and the concrete
//! fault schedule, so replaying it needs neither defaults nor the fault generator.

use serde::{Deserialize, Serialize};
use sim_core::fault::parse_fault_entries;
use sim_core::{FaultSchedule, TimedFault};

use crate::scenario::ScenarioError;

/// One run's complete input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The scenario's name, as `ksim list` prints it.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// The scenario's config; missing keys take defaults.
    #[serde(default)]
    pub config: toml::Table,
    /// Planted bugs switched on (`ksim run --mutant NAME`); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutants: Vec<String>,
    /// The fault schedule. Absent: drawn from the seed. Present (even empty): used as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<TimedFault>>,
}

impl ScenarioFile {
    /// Parses a scenario file; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        /// The same shape, with fault entries kept as spanned tables for precise errors.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            scenario: String,
            seed: u64,
            #[serde(default)]
            config: toml::Table,
            #[serde(default)]
            mutants: Vec<String>,
            #[serde(default)]
            faults: Option<Vec<toml::Spanned<toml::Table>>>,
        }
        let raw: Raw =
            toml::from_str(text).map_err(|e| ScenarioError::from_toml(text, origin, &e))?;
        let faults = match raw.faults {
            Some(entries) => Some(
                parse_fault_entries(text, origin, entries)
                    .map_err(ScenarioError::from_fault_toml)?,
            ),
            None => None,
        };
        Ok(ScenarioFile {
            scenario: raw.scenario,
            seed: raw.seed,
            config: raw.config,
            mutants: raw.mutants,
            faults,
        })
    }

    /// The TOML form.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario file always serializes")
    }

    /// The fault schedule, if one is given.
    pub fn schedule(&self) -> Option<FaultSchedule> {
        self.faults.clone().map(FaultSchedule::new)
    }
}
