//! The `autopilot` command line. Each subcommand lives in its own module under `cmd/`;
//! adding one is a variant in [`Command`] (or [`cmd::bench::BenchCommand`]) and a module.

use std::io::Write;

use clap::{Parser, Subcommand};

pub mod cmd;
mod error;
mod progress;
mod table;

pub use error::CliError;

/// Autonomous optimizer for AWS Lambda fleets — the local, AWS-free commands.
///
/// `autopilot simulate` runs a simulated fleet with and without the autopilot and prints
/// what changed; `autopilot bench ...` runs the benchmarks that measure the project.
#[derive(Debug, Parser)]
#[command(name = "autopilot", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  autopilot simulate\n  autopilot simulate --functions 1000 --days 14 --json out.json\n  autopilot bench scale"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Simulate(cmd::simulate::SimulateArgs),
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

/// Runs a parsed command, writing results to `out` and progress to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    match cli.command {
        Command::Simulate(args) => cmd::simulate::run(&args, out, err),
        Command::Bench(bench) => cmd::bench::run(bench, out, err),
    }
}
