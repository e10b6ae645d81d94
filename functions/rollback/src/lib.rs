//! rollback: restores the configuration a change record says was there before (memory and alias routing, or the PC level of an alias), for a guardrail trip, a failed step or a manual execution; "already there" is success.
//!
//! Input: [`Input`] ([`autopilot_runner::contract::RollbackInput`]); output: [`Output`]
//! ([`autopilot_runner::contract::RollbackOutput`]). Errors: [`Error`], reported with a stable
//! Step Functions error name. The run logic is [`autopilot_runner`]'s; this crate is the
//! contract, the configuration and the logging.

use autopilot_core::ports::{ChangeLog, EventSink, FunctionControl, Lease};
use autopilot_lambda::config::{
    CONTROL_TABLE, ConfigError, DEFAULT_EVENT_BUS, EVENT_BUS, LOG_LEVEL, LogLevel, env_lookup, log_level, or_default,
    required,
};
use autopilot_runner::{RollbackPorts, rollback};
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::info;

pub use autopilot_lambda::HandlerError as Error;
pub use autopilot_runner::contract::{RollbackInput as Input, RollbackOutput as Output};

/// The environment this function reads (wiring only; tunables are the execution's policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub control_table: String,
    pub event_bus: String,
    pub log_level: LogLevel,
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads: the template must set exactly these.
    pub const VARS: &[&str] = &[CONTROL_TABLE, EVENT_BUS, LOG_LEVEL];

    /// Strict: a required variable missing or any variable malformed is an error naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            control_table: required(&lookup, CONTROL_TABLE)?,
            event_bus: or_default(&lookup, EVENT_BUS, DEFAULT_EVENT_BUS)?,
            log_level: log_level(&lookup)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }
}

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
