//! `ksim`: run, replay and check deterministic simulations. See `ksim --help`.
//!
//! `RUST_LOG` (e.g. `RUST_LOG=ksim::trace=debug`, `RUST_LOG=ksim::raft=info`) prints log
//! lines stamped with virtual time and node on stderr (see `sim_core::logging`).

fn main() {
    sim_core::logging::init_from_env();
    let code = scenarios::cli::main_with(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    std::process::exit(code);
}
