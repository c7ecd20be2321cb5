//! Reports for ksim runs: pictures and exports drawn from a run's trace and verdict alone.
//!
//! A run folder (`scenario.toml`, `trace.jsonl`, `history.json`, `verdict.json`, the
//! scenario's data files) is read into a [`RunFolder`], folded once into a [`RunModel`]
//! (role spans, fault spans, messages, operations), and every picture is drawn from that
//! fold. Nothing here knows a scenario's code: the only scenario knowledge is which data
//! file a chart reads (`election_times.csv`, `fault_tolerance.json`, `capacity.json`).
//!
//! Files written into the run folder (see [`render`]):
//! - `timeline.svg`, `timeline.png`: roles per node coloured by term, fault bands, client
//!   operations, throughput, commit indexes (plotters).
//! - `sequence.svg`, `sequence.mmd`: the Lamport diagram of a window of the run, and the
//!   same as Mermaid `sequenceDiagram` text.
//! - `storyboard.svg`: before / during / after panels of the run's first partition.
//! - the scenario's charts, `<name>.svg` and `<name>.png` (CDF, heat map, latency curves).
//! - `report.html`: all of the above inline, the verdict with evidence, and the
//!   step-through viewer.
//! - `trace.perfetto.json`: Chrome trace events for Perfetto.

pub mod charts;
pub mod fonts;
pub mod html;
pub mod input;
pub mod model;
pub mod palette;
pub mod perfetto;
pub mod sequence;
pub mod state;
pub mod storyboard;
pub mod svg;
pub mod timeline;
pub mod viewer;

pub use input::{InputError, RunFolder};
pub use model::RunModel;

use std::path::{Path, PathBuf};

use sim_core::NodeId;

/// Which part of a run the sequence diagram (and any other windowed picture) shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// First instant shown, virtual microseconds (default: chosen by the picture).
    pub from_us: Option<u64>,
    /// Last instant shown (inclusive).
    pub to_us: Option<u64>,
    /// Only these nodes' lifelines (default: every node).
    pub nodes: Option<Vec<NodeId>>,
}

/// How to render.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The sequence diagram's window.
    pub window: Window,
    /// Also write PNG copies of the plotted charts.
    pub png: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            window: Window::default(),
            png: true,
        }
    }
}

/// One file a report writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// File name inside the run folder.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A report that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run folder could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A chart library failed (a bug in the chart, or data it cannot draw).
    #[error("cannot draw {picture}: {message}")]
    Draw {
        /// The picture.
        picture: String,
        /// What the library said.
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// How a picture maps virtual time to pixels along x, so another view (the HTML report's
/// cursor, an evidence link) can point at a moment in it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct TimeAxis {
    /// The picture's width, pixels.
    pub width_px: f64,
    /// The picture's height, pixels.
    pub height_px: f64,
    /// x of `start_us`.
    pub left_px: f64,
    /// x of `end_us`.
    pub right_px: f64,
    /// Top of the plotted area (a cursor line starts here).
    pub top_px: f64,
    /// Bottom of the plotted area.
    pub bottom_px: f64,
    /// The first instant shown.
    pub start_us: u64,
    /// The last instant shown.
    pub end_us: u64,
}

impl TimeAxis {
    /// The x pixel of an instant (clamped to the axis).
    pub fn x_of(&self, t_us: u64) -> f64 {
        let span = self.end_us.saturating_sub(self.start_us).max(1) as f64;
        let t = t_us.clamp(self.start_us, self.end_us.max(self.start_us));
        self.left_px + (t - self.start_us) as f64 / span * (self.right_px - self.left_px)
    }
}

/// Draws every picture and export of a run.
///
/// `run_dir` is how the report names the run folder in the commands it shows (`ksim
/// replay <run_dir>`); it is not read.
///
/// # Errors
///
/// A chart that cannot be drawn (malformed scenario data).
pub fn render(
    run: &RunFolder,
    options: &ReportOptions,
    run_dir: &str,
) -> Result<Vec<Artifact>, ReportError> {
    let model = RunModel::new(&run.trace, &run.history);
    let mut artifacts = Vec::new();
    let mut push = |name: String, bytes: Vec<u8>| artifacts.push(Artifact { name, bytes });

    let title = run_title(run);
    let timeline = timeline::render(&model, &title, options.png)?;
    push("timeline.svg".into(), timeline.svg.clone().into_bytes());
    if let Some(png) = &timeline.png {
        push("timeline.png".into(), png.clone());
    }
    let charts = charts::render(run, options.png)?;
    for chart in &charts {
        push(
            format!("{}.svg", chart.name),
            chart.svg.clone().into_bytes(),
        );
        if let Some(png) = &chart.png {
            push(format!("{}.png", chart.name), png.clone());
        }
    }
    let sequence = sequence::render(&model, &options.window);
    push("sequence.svg".into(), sequence.svg.clone().into_bytes());
    push("sequence.mmd".into(), sequence.mermaid.clone().into_bytes());
    let storyboard = storyboard::render(&model, &run.trace);
    if let Some(board) = &storyboard {
        push("storyboard.svg".into(), board.svg.clone().into_bytes());
    }
    push(
        "trace.perfetto.json".into(),
        perfetto::render(&model, run.scenario_name()),
    );

    let pictures = html::Pictures {
        timeline: Some((timeline.svg.as_str(), timeline.axis)),
        sequence: Some((sequence.svg.as_str(), sequence.note.as_str())),
        storyboard: storyboard.as_ref().map(|b| b.svg.as_str()),
        charts: charts
            .iter()
            .map(|c| (c.title.as_str(), c.caption.as_str(), c.svg.as_str()))
            .collect(),
    };
    let page = html::render_with(
        run,
        &model,
        &pictures,
        run_dir,
        viewer::ViewerLimits::from(&options.window),
    );
    push("report.html".into(), page.into_bytes());
    Ok(artifacts)
}

/// `partition-5node · seed 1 · PASS`, the pictures' common title.
fn run_title(run: &RunFolder) -> String {
    let mutants = run.mutants();
    let mutants = if mutants.is_empty() {
        String::new()
    } else {
        format!(" · bug {}", mutants.join(", "))
    };
    format!(
        "{} · seed {}{mutants} · {}",
        run.scenario_name(),
        run.seed(),
        html::status_text(run.verdict.status)
    )
}

/// Writes artifacts into `dir`; returns their names.
///
/// # Errors
///
/// A file that cannot be written.
pub fn write(dir: &Path, artifacts: &[Artifact]) -> Result<Vec<String>, ReportError> {
    let mut names = Vec::new();
    for artifact in artifacts {
        let path = dir.join(&artifact.name);
        std::fs::write(&path, &artifact.bytes)
            .map_err(|source| ReportError::Write { path, source })?;
        names.push(artifact.name.clone());
    }
    Ok(names)
}

/// Reads the run folder `dir`, draws its report and writes it beside the run's files.
///
/// # Errors
///
/// An unreadable run folder, a chart that cannot be drawn, a file that cannot be written.
pub fn report_dir(dir: &Path, options: &ReportOptions) -> Result<Vec<String>, ReportError> {
    let run = RunFolder::load(dir)?;
    let artifacts = render(&run, options, &dir.display().to_string())?;
    write(dir, &artifacts)
}

/// Every trace layer a ksim world writes: the Raft world's (Raft, its messages, etcd), the
/// control plane's (the API's messages, the Kubernetes events) and the ping mesh's. The
/// reports read run folders of any scenario, so they know them all.
pub fn layers() -> sim_core::Layers {
    apiserver_model::events::layers().with::<sim_core::demo::PingMsg>()
}
