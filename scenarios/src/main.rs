//! `ksim`: run, replay and check deterministic simulations. See `ksim --help`.

fn main() {
    let code = scenarios::cli::main_with(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    std::process::exit(code);
}
