//! `autopilot`: wiring only. Everything is in the library (`autopilot_cli`), so it can be tested.

use std::process::ExitCode;

use clap::Parser;

/// See the workspace's Cargo.toml: the simulator is allocation-heavy.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = autopilot_cli::Cli::parse();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    match autopilot_cli::run(cli, &mut out, &mut err) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write;
            // Nothing sensible is left to do if stderr itself fails.
            let _ = writeln!(err, "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
