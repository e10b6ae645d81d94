//! The run logic of lambda-autopilot, written once: read → decide → act → report, generic
//! over the core ports, so the five Lambdas (over the AWS adapters) and the simulator (over
//! its fleet) run the same code.
//!
//! - [`collect()`]: discover, read each function's stats window, write window summaries, batch.
//! - [`forecast_batch`]: a forecast per function of a batch, stored for apply-concurrency.
//! - [`tune_memory_batch`]: the tuner's decision per function; judge, roll back inline,
//!   resize directly or through an alias canary.
//! - [`apply_concurrency_batch`]: the planner's PC level per alias and keep-warm rounds.
//! - [`rollback()`]: restore the configuration a change record says was there before.
//!
//! Decisions come from the core engines only (`tuner::decide`, `forecast::forecast_load`,
//! `planner::plan`). Acting follows one discipline ([`act`]): take the function's lease,
//! record the change (deterministic id from execution, function and kind) before applying
//! it, apply, mark it applied or failed, publish one event, release the lease. Modes:
//! observe writes summaries only; recommend publishes `Recommendation` events and changes
//! nothing; autopilot applies. Re-running a step with the same input changes nothing the
//! second time.
//!
//! No clock is read: `now` comes from the input. No logging either: the steps return what
//! they did and the Lambdas log it.

pub mod act;
pub mod collect;
pub mod concurrency;
pub mod contract;
pub mod error;
pub mod events;
pub mod fakes;
pub mod forecast;
pub mod memory;
pub mod rollback;

pub use collect::{CollectPorts, collect};
pub use concurrency::{ConcurrencyPorts, apply_concurrency_batch};
pub use error::RunError;
pub use forecast::forecast_batch;
pub use memory::{MemoryPorts, tune_memory_batch};
pub use rollback::{RollbackPorts, rollback};

use autopilot_core::FunctionRef;
use autopilot_core::policy::Policy;

/// Rejects a policy that contradicts itself, with the field it names.
pub(crate) fn valid_policy(policy: &Policy) -> Result<(), RunError> {
    policy.validate().map_err(|e| RunError::InvalidInput(e.to_string()))
}

/// Batch steps work on unqualified functions (the names collect hands out).
pub(crate) fn unqualified(functions: &[FunctionRef]) -> Result<(), RunError> {
    match functions.iter().find(|f| f.qualifier().is_some()) {
        Some(f) => Err(RunError::InvalidInput(format!("{f}: expected an unqualified function name"))),
        None => Ok(()),
    }
}

pub(crate) fn execution_id_ok(id: &str) -> Result<(), RunError> {
    if id.is_empty() || id.len() > 128 || id.contains('#') {
        return Err(RunError::InvalidInput(format!(
            "executionId {id:?}: expected 1-128 characters without '#' ($$.Execution.Name)"
        )));
    }
    Ok(())
}
