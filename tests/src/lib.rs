//! Shared helpers of the integration tests (see `tests/`).

pub mod golden;
pub mod snapshot;
