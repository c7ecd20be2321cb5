//! The one rewrite switch for every golden file of the repository.
//!
//! Golden files (the report snapshots in `tests/snapshots/`, the trace hashes in
//! `tests/golden/`, the Raft interaction scripts in `raft/testdata/`) are compared
//! byte for byte; with `KSIM_UPDATE_GOLDEN=1` in the environment the tests rewrite them
//! instead (then review the diff in git). The Raft crate cannot depend on this one, so
//! `raft/src/core/interaction.rs` reads the same variable the same way.

/// The environment variable that rewrites golden files.
pub const UPDATE_VAR: &str = "KSIM_UPDATE_GOLDEN";

/// Whether this test run rewrites golden files (`KSIM_UPDATE_GOLDEN=1`; any other value,
/// or none, compares).
pub fn updating() -> bool {
    // Test-support code, never simulated: the switch is the person running the tests.
    #[allow(clippy::disallowed_methods)]
    let value = std::env::var(UPDATE_VAR);
    value.is_ok_and(|v| v == "1")
}
