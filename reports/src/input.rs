//! A run as the reports read it: the files of a run folder, or the same data in memory.

use std::collections::BTreeMap;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use sim_core::run_record::{files, VerdictFile};
use sim_core::{History, Trace};

/// A run folder's contents.
#[derive(Clone, Debug)]
pub struct RunFolder {
    /// `scenario.toml` as text (scenario, seed, complete config, mutants, fault schedule).
    pub scenario_toml: String,
    /// Its parsed form (a plain table: reports do not depend on the scenarios crate).
    pub scenario: toml::Table,
    /// `verdict.json`.
    pub verdict: VerdictFile,
    /// `trace.jsonl`.
    pub trace: Trace,
    /// `history.json`.
    pub history: History,
    /// Every other file the scenario wrote (its measured data), by name.
    pub data: BTreeMap<String, Vec<u8>>,
}

/// A run folder that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not a folder, or a file is missing or unreadable.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is there but malformed.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Files of a run folder that reports write (never read back as scenario data).
pub fn is_report_file(name: &str) -> bool {
    name == "report.html"
        || name == "trace.perfetto.json"
        || name.ends_with(".svg")
        || name.ends_with(".png")
        || name.ends_with(".mmd")
}

impl RunFolder {
    /// Reads a run folder written by `ksim run`.
    ///
    /// # Errors
    ///
    /// A missing folder or file, or one that does not parse.
    pub fn load(dir: &Path) -> Result<Self, InputError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| InputError::Io { path, source }
        };
        let malformed = |path: &Path, message: String| InputError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        if !dir.is_dir() {
            return Err(InputError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a run folder (expected a folder written by `ksim run`)",
                ),
            });
        }
        let path = dir.join(files::SCENARIO);
        let scenario_toml = fs::read_to_string(&path).map_err(io(&path))?;
        let scenario: toml::Table =
            toml::from_str(&scenario_toml).map_err(|e| malformed(&path, e.to_string()))?;
        let path = dir.join(files::VERDICT);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let verdict: VerdictFile =
            serde_json::from_str(&text).map_err(|e| malformed(&path, e.to_string()))?;
        let path = dir.join(files::TRACE);
        let file = fs::File::open(&path).map_err(io(&path))?;
        let trace = Trace::read_jsonl(BufReader::new(file), &crate::layers())
            .map_err(|e| malformed(&path, e.to_string()))?;
        let path = dir.join(files::HISTORY);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let history: History =
            serde_json::from_str(&text).map_err(|e| malformed(&path, e.to_string()))?;
        let mut data = BTreeMap::new();
        let entries = fs::read_dir(dir).map_err(io(dir))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(dir))?;
            if entry.file_type().map_err(io(&entry.path()))?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        for name in names {
            let standard = [
                files::SCENARIO,
                files::VERDICT,
                files::TRACE,
                files::HISTORY,
            ];
            if standard.contains(&name.as_str()) || is_report_file(&name) || name.starts_with('.') {
                continue;
            }
            let path = dir.join(&name);
            data.insert(name, fs::read(&path).map_err(io(&path))?);
        }
        Ok(RunFolder {
            scenario_toml,
            scenario,
            verdict,
            trace,
            history,
            data,
        })
    }

    /// The scenario's name.
    pub fn scenario_name(&self) -> &str {
        &self.verdict.scenario
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.verdict.seed
    }

    /// The planted bugs switched on.
    pub fn mutants(&self) -> Vec<String> {
        self.scenario
            .get("mutants")
            .and_then(|m| m.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A data file the scenario wrote, if present.
    pub fn data_file(&self, name: &str) -> Option<&[u8]> {
        self.data.get(name).map(Vec::as_slice)
    }
}
