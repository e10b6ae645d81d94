//! forecast: for one batch of a concurrency run, the core forecaster over each function's window summary; forecasts are stored in the control table for apply-concurrency.
//!
//! Input: [`Input`] ([`autopilot_runner::contract::BatchInput`]); output: [`Output`]
//! ([`autopilot_runner::contract::ForecastOutput`]). Errors: [`Error`], reported with a stable
//! Step Functions error name. The run logic is [`autopilot_runner`]'s; this crate is the
//! contract, the configuration and the logging.

use autopilot_core::ports::RunStore;
use autopilot_lambda::config::{CONTROL_TABLE, ConfigError, LOG_LEVEL, LogLevel, env_lookup, log_level, required};
use autopilot_runner::forecast_batch;
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::info;

pub use autopilot_lambda::HandlerError as Error;
pub use autopilot_runner::contract::{BatchInput as Input, ForecastOutput as Output};

/// The environment this function reads (wiring only; tunables are the execution's policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub control_table: String,
    pub log_level: LogLevel,
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads: the template must set exactly these.
    pub const VARS: &[&str] = &[CONTROL_TABLE, LOG_LEVEL];

    /// Strict: a required variable missing or any variable malformed is an error naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self { control_table: required(&lookup, CONTROL_TABLE)?, log_level: log_level(&lookup)? })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }
}

/// The ports this function uses.
#[derive(Debug)]
pub struct Deps<R> {
    /// The control table (window summaries in, forecasts out).
    pub store: R,
}

pub async fn handler<R>(event: LambdaEvent<Input>, deps: &Deps<R>) -> Result<Output, Error>
where
    R: RunStore,
{
    let event_functions = event.payload.functions.len();
    let out = forecast_batch(&deps.store, &event.payload).await?;
    info!(
        functions = event_functions,
        forecasts = out.forecasts,
        without_history = out.without_history.len(),
        skipped = out.skipped.len(),
        "forecast"
    );
    Ok(out)
}
