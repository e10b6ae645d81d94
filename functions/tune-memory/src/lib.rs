//! tune-memory: for one batch of a memory run, the core tuner's decision per function (judge the last change, roll back a regression inline, explore or resize in bounded steps, canary behind an alias), applied in autopilot mode, published as a recommendation in recommend mode.
//!
//! Input: [`Input`] ([`autopilot_runner::contract::BatchInput`]); output: [`Output`]
//! ([`autopilot_runner::contract::TuneMemoryOutput`]). Errors: [`Error`], reported with a stable
//! Step Functions error name. The run logic is [`autopilot_runner`]'s; this crate is the
//! contract, the configuration and the logging.

use autopilot_core::ports::{ChangeLog, EventSink, FunctionControl, Lease, RunStore};
use autopilot_runner::tune_memory_batch;
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::info;

/// The ports this function uses.
pub use autopilot_lambda::ActingDeps as Deps;
pub use autopilot_lambda::HandlerError as Error;
/// The environment this function reads.
pub use autopilot_lambda::config::ActingConfig as Config;
pub use autopilot_runner::contract::{BatchInput as Input, TuneMemoryOutput as Output};

pub async fn handler<F, C, E, L, R>(event: LambdaEvent<Input>, deps: &Deps<F, C, E, L, R>) -> Result<Output, Error>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
    R: RunStore,
{
    let ports = deps.ports();
    let out = tune_memory_batch(&ports, &event.payload).await?;
    for r in &out.results {
        info!(function = %r.function, action = %r.action, from = r.from.get(), to = r.to.get(), outcome = ?r.outcome, verdict = ?r.verdict, "memory decision");
    }
    info!(mode = ?out.mode, evaluated = out.evaluated, kept = out.kept, changed = out.results.len(), rolled_back = out.rolled_back.len(), skipped = out.skipped.len(), "tune-memory");
    Ok(out)
}
