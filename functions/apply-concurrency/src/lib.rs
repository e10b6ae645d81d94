//! apply-concurrency: for one batch of a concurrency run, the core planner's plan per function from its stored forecast and the PC in place: the PC level on the function's alias (requested a lead time ahead) and keep-warm rounds when the policy opts in; applied in autopilot mode, published as a recommendation in recommend mode.
//!
//! Input: [`Input`] ([`autopilot_runner::contract::BatchInput`]); output: [`Output`]
//! ([`autopilot_runner::contract::ApplyConcurrencyOutput`]). Errors: [`Error`], reported with a stable
//! Step Functions error name. The run logic is [`autopilot_runner`]'s; this crate is the
//! contract, the configuration and the logging.

use autopilot_core::ports::{ChangeLog, EventSink, FunctionControl, Lease, RunStore};
use autopilot_runner::apply_concurrency_batch;
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::info;

/// The ports this function uses.
pub use autopilot_lambda::ActingDeps as Deps;
pub use autopilot_lambda::HandlerError as Error;
/// The environment this function reads.
pub use autopilot_lambda::config::ActingConfig as Config;
pub use autopilot_runner::contract::{ApplyConcurrencyOutput as Output, BatchInput as Input};

pub async fn handler<F, C, E, L, R>(event: LambdaEvent<Input>, deps: &Deps<F, C, E, L, R>) -> Result<Output, Error>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
    R: RunStore,
{
    let ports = deps.ports();
    let out = apply_concurrency_batch(&ports, &event.payload).await?;
    for r in &out.results {
        info!(target = %r.target, from = r.from, to = r.to, outcome = ?r.outcome, "provisioned concurrency");
    }
    for w in &out.warmed {
        info!(target = %w.target, sent = w.sent, landed_cold = w.landed_cold, failed = w.failed, "keep-warm");
    }
    info!(mode = ?out.mode, evaluated = out.evaluated, kept = out.kept, changed = out.results.len(), skipped = out.skipped.len(), "apply-concurrency");
    Ok(out)
}
