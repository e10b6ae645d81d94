//! `autopilot bench <name>`: one module per benchmark; the engines are in crates/bench.
//! Each prints its figures as its last lines.

use std::io::Write;

use clap::Subcommand;

use crate::CliError;

pub mod concurrency;
pub mod deployed;
pub mod forecast;
pub mod scale;
pub mod tuner;

/// Benchmarks that measure the project (figures printed as the last lines).
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    Scale(scale::ScaleArgs),
    Concurrency(concurrency::ConcurrencyArgs),
    Deployed(deployed::DeployedArgs),
    Forecast(forecast::ForecastArgs),
    Tuner(tuner::TunerArgs),
}

pub fn run(command: BenchCommand, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    match command {
        BenchCommand::Scale(args) => scale::run(&args, out, err),
        BenchCommand::Concurrency(args) => concurrency::run(&args, out, err),
        BenchCommand::Deployed(args) => deployed::run(&args, out, err),
        BenchCommand::Forecast(args) => forecast::run(&args, out, err),
        BenchCommand::Tuner(args) => tuner::run(&args, out, err),
    }
}
