//! rollback: restores the configuration a change record says was there before (memory and alias routing, or the PC level of an alias), for a guardrail trip, a failed step or a manual execution; "already there" is success.
//!
//! Input: [`Input`] ([`autopilot_runner::contract::RollbackInput`]); output: [`Output`]
//! ([`autopilot_runner::contract::RollbackOutput`]). Errors: [`Error`], reported with a stable
//! Step Functions error name. The run logic is [`autopilot_runner`]'s; this crate is the
//! contract, the configuration and the logging.

use autopilot_core::ports::{ChangeLog, EventSink, FunctionControl, Lease};
use autopilot_runner::{RollbackPorts, rollback};
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::info;

pub use autopilot_lambda::HandlerError as Error;
/// The environment this function reads.
pub use autopilot_lambda::config::ActingConfig as Config;
pub use autopilot_runner::contract::{RollbackInput as Input, RollbackOutput as Output};

/// The ports this function uses.
#[derive(Debug)]
pub struct Deps<F, C, E, L> {
    /// The Lambda control plane.
    pub control: F,
    /// The change log.
    pub changes: C,
    /// Decision events.
    pub events: E,
    /// Per-function leases.
    pub lease: L,
}

pub async fn handler<F, C, E, L>(event: LambdaEvent<Input>, deps: &Deps<F, C, E, L>) -> Result<Output, Error>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
{
    let ports =
        RollbackPorts { control: &deps.control, changes: &deps.changes, events: &deps.events, lease: &deps.lease };
    let out = rollback(&ports, &event.payload).await?;
    info!(function = %out.function, change = %out.change_id, outcome = ?out.outcome, memory = out.restored.memory.get(), "rollback");
    Ok(out)
}
