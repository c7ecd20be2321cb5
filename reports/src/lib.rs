//! Reports for ksim runs.
//!
//! Not filled yet. This crate will render a run's trace and verdict (it reads only
//! `sim-core`'s trace types) into timeline charts, sequence and partition diagrams (SVG and
//! Mermaid), a self-contained `report.html` with a step-through viewer, and a Perfetto export.
//! Until then a run folder holds `scenario.toml`, `trace.jsonl`, `history.json` and
//! `verdict.json`.
