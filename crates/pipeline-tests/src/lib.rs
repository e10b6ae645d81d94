//! The deployable pipeline under test: `statemachines/*.asl.json`, `sam-template.yaml` and
//! `events/`, read as data.
//!
//! - [`asl`]: the state machines' scopes, states and edges (graph checks, placeholders);
//! - [`template`]: the SAM template (functions, their environment and policies, tables,
//!   state machines and their substitutions, schedules);
//! - [`bill`]: the states a run enters, priced as Standard and as Express workflows;
//! - [`local`]: the stack on the local emulator (the end-to-end tests and `autopilot local`).
//!
//! The tests in `tests/` check the graph, the wiring between template, ASL and code, the
//! samples in `events/`, print the transitions-per-run table, and run the pipeline end to end
//! on the emulator (`e2e`).

pub mod asl;
pub mod bill;
pub mod local;
pub mod template;

use std::path::{Path, PathBuf};

/// A file that cannot be read or parsed, or a broken link between the pieces.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{what}")]
    Wiring { what: String },
}

impl PipelineError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_owned(), source }
    }

    pub fn parse(path: &Path, e: impl std::fmt::Display) -> Self {
        Self::Parse { path: path.to_owned(), message: e.to_string() }
    }
}

/// The workspace root (where `sam-template.yaml` and `statemachines/` are).
pub fn root() -> PathBuf {
    autopilot_testkit::workspace_root()
}
