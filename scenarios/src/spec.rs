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
use sim_core::{Directory, FaultSchedule, TimedFault};

use crate::catalog::find;
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
            Some(entries) => {
                // Faults may name nodes (`etcd-1`) and groups (`servers`): the scenario's
                // world, with this file's config, says what they are.
                let directory = find(&raw.scenario)?.configure(&raw.config)?.directory();
                Some(
                    parse_fault_entries(text, origin, entries, Some(&directory))
                        .map_err(ScenarioError::from_fault_toml)?,
                )
            }
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

    /// The TOML form, nodes by id.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario file always serializes")
    }

    /// The TOML form with the faults' nodes by their names in `directory` (`etcd-1`), as
    /// run folders keep it; [`ScenarioFile::from_toml`] reads it back to the same file.
    pub fn to_toml_named(&self, directory: &Directory) -> String {
        let mut table = toml::Table::try_from(self).expect("a scenario file always serializes");
        if let Some(faults) = &self.faults {
            let named = FaultSchedule::new(faults.clone()).to_named_tables(directory);
            table.insert(
                "faults".into(),
                toml::Value::Array(named.into_iter().map(toml::Value::Table).collect()),
            );
        }
        toml::to_string(&table).expect("a scenario file always serializes")
    }

    /// The fault schedule, if one is given.
    pub fn schedule(&self) -> Option<FaultSchedule> {
        self.faults.clone().map(FaultSchedule::new)
    }
}
