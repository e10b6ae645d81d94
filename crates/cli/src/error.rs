//! The CLI's one error type; each variant says what to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Trace(#[from] autopilot_datasets::traces::TraceError),
    #[error("{path}: {problem}")]
    BadInput { path: PathBuf, problem: String },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// A run of the deployed steps failed in the simulation (a bug: the simulator's ports
    /// do not fail).
    #[error("a deployed step failed: {0}")]
    Step(String),
}

impl CliError {
    /// 2 for bad input (as clap uses for bad arguments), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Trace(_) | Self::BadInput { .. } | Self::InvalidOption(_) => 2,
            Self::Write { .. } | Self::Output(_) | Self::Step(_) => 1,
        }
    }
}
