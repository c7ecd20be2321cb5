//! What a scenario is, and what running one gives.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sim_core::{Directory, FaultError, FaultSchedule, History, NodeId, SimError, Trace, Verdict};

/// A scenario that cannot run as asked. Every variant is the user's to fix (exit code 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// No scenario has this name.
    #[error("unknown scenario `{name}` (known: {})", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A TOML file does not parse or does not fit its schema.
    #[error("{origin}:{line}:{column}: {message}")]
    Toml {
        /// The file.
        origin: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The scenario's config is invalid.
    #[error("config: {0}")]
    Config(String),
    /// A planted bug the scenario does not have.
    #[error("unknown mutant `{name}` for {scenario} (known: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    UnknownMutant {
        /// The name asked for.
        name: String,
        /// The scenario.
        scenario: String,
        /// The planted bugs it can switch on.
        known: Vec<String>,
    },
    /// A manifest file that does not load (its file, document, line and field path).
    #[error("{0}")]
    Manifest(String),
    /// The fault schedule does not fit the scenario's nodes.
    #[error("faults: {0}")]
    Faults(#[from] FaultError),
}

impl ScenarioError {
    /// A TOML error with its line and column.
    pub fn from_toml(text: &str, origin: &str, err: &toml::de::Error) -> Self {
        Self::from_fault_toml(sim_core::fault::toml_error(text, origin, err))
    }

    /// A fault-file error, keeping a TOML location as such.
    pub fn from_fault_toml(err: FaultError) -> Self {
        match err {
            FaultError::Toml {
                origin,
                line,
                column,
                message,
            } => ScenarioError::Toml {
                origin,
                line,
                column,
                message,
            },
            other => ScenarioError::Faults(other),
        }
    }
}

impl From<SimError> for ScenarioError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::Fault(f) => ScenarioError::Faults(f),
            SimError::NodeCount(_) | SimError::Name(_) => ScenarioError::Config(e.to_string()),
        }
    }
}

/// What a scenario run produced.
#[derive(Debug)]
pub struct ScenarioRun {
    /// The nodes of the world.
    pub nodes: Vec<NodeId>,
    /// Everything that happened.
    pub trace: Trace,
    /// The client operations.
    pub history: History,
    /// The checks' judgement.
    pub verdict: Verdict,
    /// Measured data for the run folder: file name and contents (CSV or JSON).
    pub data: Vec<(String, Vec<u8>)>,
}

impl ScenarioRun {
    /// The data file called `name`, if the scenario wrote one.
    pub fn data_file(&self, name: &str) -> Option<&[u8]> {
        self.data
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, bytes)| bytes.as_slice())
    }

    /// The data file called `name` read as JSON, if there is one and it is JSON.
    pub fn data_json(&self, name: &str) -> Option<serde_json::Value> {
        serde_json::from_slice(self.data_file(name)?).ok()
    }

    /// The names of the checks that did not pass.
    pub fn failing_checks(&self) -> Vec<String> {
        self.verdict.failures().map(|c| c.name.clone()).collect()
    }
}

/// What one run of a scenario gets.
#[derive(Clone, Copy, Debug)]
pub struct RunInput<'a, C> {
    /// The seed.
    pub seed: u64,
    /// The complete, checked config.
    pub config: &'a C,
    /// The fault schedule, already checked against the nodes.
    pub faults: &'a FaultSchedule,
    /// Planted bugs to switch on, already checked against [`Scenario::mutants`].
    pub mutants: &'a [String],
}

/// A scenario's typed config: a serde struct with `deny_unknown_fields`, whose `Default`
/// is the catalog's story (each default says where it comes from), read from TOML once.
pub trait ScenarioConfig:
    Serialize + DeserializeOwned + Default + Clone + std::fmt::Debug + Send + Sync + 'static
{
    /// Checks what serde cannot (impossible cluster sizes, a run too short for its story)
    /// and derives the fields that follow from others; the config the scenario runs is
    /// what this returns.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError::Config`] that names the field and the values it may take.
    fn check(self) -> Result<Self, ScenarioError>;
}

/// A named, seeded, replayable run over a typed config.
///
/// The config is parsed and checked once, by [`read_config`], before any of these methods
/// is called, so none of them can meet a bad value. The catalog holds scenarios as
/// [`AnyScenario`], which every `Scenario` is.
pub trait Scenario: Sync + 'static {
    /// Its config.
    type Config: ScenarioConfig;

    /// Its name (`ping-mesh`, `election`, ...).
    fn name(&self) -> &'static str;

    /// One line on what it shows.
    fn summary(&self) -> &'static str;

    /// The nodes a run with this config has, with their names and groups: fault files name
    /// nodes through it and fault schedules are checked against it. The run's world must
    /// name its nodes the same way (the Raft scenarios build both from
    /// `ClusterConfig::directory`).
    fn directory(&self, config: &Self::Config) -> Directory;

    /// The fault schedule this seed draws when none is given.
    fn generate_faults(&self, seed: u64, config: &Self::Config) -> FaultSchedule;

    /// The planted bugs (`SCENARIOS.md`, "Planted bugs") this scenario can switch on.
    fn mutants(&self) -> &'static [&'static str] {
        &[]
    }

    /// The planted bugs this scenario's story is built to catch (a subset of
    /// [`Scenario::mutants`]; the planted-bug tests run each against it).
    fn catches(&self) -> &'static [&'static str] {
        &[]
    }

    /// Runs it.
    ///
    /// # Errors
    ///
    /// If the fault schedule asks for what this scenario cannot do; nothing runs then.
    fn run(&self, input: &RunInput<'_, Self::Config>) -> Result<ScenarioRun, ScenarioError>;
}

/// A scenario as the catalog and the CLI see it, whatever its config type: its names, and
/// [`AnyScenario::configure`], the one place a config table becomes a typed config.
pub trait AnyScenario: Sync {
    /// As [`Scenario::name`].
    fn name(&self) -> &'static str;

    /// As [`Scenario::summary`].
    fn summary(&self) -> &'static str;

    /// As [`Scenario::mutants`].
    fn mutants(&self) -> &'static [&'static str];

    /// As [`Scenario::catches`].
    fn catches(&self) -> &'static [&'static str];

    /// Reads and checks `table` (laid over the defaults) into this scenario's config.
    ///
    /// # Errors
    ///
    /// As [`read_config`].
    fn configure(&'static self, table: &toml::Table) -> Result<Box<dyn Configured>, ScenarioError>;
}

/// A scenario with its typed config, ready to draw faults and run.
pub trait Configured: Send + Sync {
    /// The complete config, every default filled in, for `scenario.toml`.
    fn table(&self) -> toml::Table;

    /// As [`Scenario::directory`].
    fn directory(&self) -> Directory;

    /// As [`Scenario::generate_faults`].
    fn generate_faults(&self, seed: u64) -> FaultSchedule;

    /// As [`Scenario::run`].
    ///
    /// # Errors
    ///
    /// As [`Scenario::run`].
    fn run(
        &self,
        seed: u64,
        faults: &FaultSchedule,
        mutants: &[String],
    ) -> Result<ScenarioRun, ScenarioError>;
}

impl<S: Scenario> AnyScenario for S {
    fn name(&self) -> &'static str {
        Scenario::name(self)
    }

    fn summary(&self) -> &'static str {
        Scenario::summary(self)
    }

    fn mutants(&self) -> &'static [&'static str] {
        Scenario::mutants(self)
    }

    fn catches(&self) -> &'static [&'static str] {
        Scenario::catches(self)
    }

    fn configure(&'static self, table: &toml::Table) -> Result<Box<dyn Configured>, ScenarioError> {
        Ok(Box::new(WithConfig {
            scenario: self,
            config: read_config::<S::Config>(table)?,
        }))
    }
}

/// A scenario and its config: what [`AnyScenario::configure`] gives.
struct WithConfig<S: Scenario> {
    scenario: &'static S,
    config: S::Config,
}

impl<S: Scenario> Configured for WithConfig<S> {
    fn table(&self) -> toml::Table {
        config_table(&self.config)
    }

    fn directory(&self) -> Directory {
        self.scenario.directory(&self.config)
    }

    fn generate_faults(&self, seed: u64) -> FaultSchedule {
        self.scenario.generate_faults(seed, &self.config)
    }

    fn run(
        &self,
        seed: u64,
        faults: &FaultSchedule,
        mutants: &[String],
    ) -> Result<ScenarioRun, ScenarioError> {
        self.scenario.run(&RunInput {
            seed,
            config: &self.config,
            faults,
            mutants,
        })
    }
}

/// Reads and checks a typed config: [`parse_config`], then [`ScenarioConfig::check`].
///
/// # Errors
///
/// A [`ScenarioError::Config`] naming the bad key or value.
pub fn read_config<C: ScenarioConfig>(table: &toml::Table) -> Result<C, ScenarioError> {
    parse_config::<C>(table)?.check()
}

/// Reads a typed config from a table: the table is laid over the config's `Default` key by
/// key, nested tables too, so a partly given `[cluster]` keeps this scenario's other
/// cluster defaults (serde's own `default` would refill it from the nested type's
/// `Default`); unknown keys are refused.
///
/// # Errors
///
/// A [`ScenarioError::Config`] naming the bad key or value.
pub fn parse_config<C: DeserializeOwned + Serialize + Default>(
    table: &toml::Table,
) -> Result<C, ScenarioError> {
    fn lay(base: &mut toml::Table, over: &toml::Table) {
        for (key, value) in over {
            match (base.get_mut(key), value) {
                (Some(toml::Value::Table(b)), toml::Value::Table(o)) => lay(b, o),
                _ => {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let mut merged = config_table(&C::default());
    lay(&mut merged, table);
    C::deserialize(toml::Value::Table(merged))
        .map_err(|e| ScenarioError::Config(e.message().trim().replace('\n', " ")))
}

/// A typed config as a table.
pub fn config_table<C: Serialize>(config: &C) -> toml::Table {
    toml::Table::try_from(config).expect("configs serialize to tables")
}
