//! collect: discovers the opted-in functions (or takes the execution's list), reads each one's stats window (CloudWatch for functions without extension data, memory runs only), writes a window summary per function to the control table, and returns batches of function names for the Map state.
//!
//! Input: [`Input`] ([`autopilot_runner::contract::CollectInput`]); output: [`Output`]
//! ([`autopilot_runner::contract::CollectOutput`]). Errors: [`Error`], reported with a stable
//! Step Functions error name. The run logic is [`autopilot_runner`]'s; this crate is the
//! contract, the configuration and the logging.

use autopilot_core::ports::{FunctionControl, MetricsSource, RunStore, StatsStore};
use autopilot_lambda::config::{
    CONTROL_TABLE, ConfigError, DEFAULT_OPT_IN_TAG, LOG_LEVEL, LogLevel, OPT_IN_TAG, STATS_TABLE, env_lookup,
    log_level, or_default, required,
};
use autopilot_runner::{CollectPorts, collect};
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::info;

pub use autopilot_lambda::HandlerError as Error;
pub use autopilot_runner::contract::{CollectInput as Input, CollectOutput as Output};

/// The environment this function reads (wiring only; tunables are the execution's policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub stats_table: String,
    pub control_table: String,
    pub opt_in_tag: String,
    pub log_level: LogLevel,
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads: the template must set exactly these.
    pub const VARS: &[&str] = &[STATS_TABLE, CONTROL_TABLE, OPT_IN_TAG, LOG_LEVEL];

    /// Strict: a required variable missing or any variable malformed is an error naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            stats_table: required(&lookup, STATS_TABLE)?,
            control_table: required(&lookup, CONTROL_TABLE)?,
            opt_in_tag: or_default(&lookup, OPT_IN_TAG, DEFAULT_OPT_IN_TAG)?,
            log_level: log_level(&lookup)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }
}

/// The ports this function uses.
#[derive(Debug)]
pub struct Deps<F, S, M, R> {
    /// The Lambda control plane.
    pub control: F,
    /// The stats table the extension writes.
    pub stats: S,
    /// CloudWatch, for functions without extension data.
    pub metrics: M,
    /// The control table (window summaries).
    pub store: R,
    /// Tag key that opts a function in.
    pub opt_in_tag: String,
}

pub async fn handler<F, S, M, R>(event: LambdaEvent<Input>, deps: &Deps<F, S, M, R>) -> Result<Output, Error>
where
    F: FunctionControl,
    S: StatsStore,
    M: MetricsSource,
    R: RunStore,
{
    let ports = CollectPorts {
        control: &deps.control,
        stats: &deps.stats,
        metrics: &deps.metrics,
        store: &deps.store,
        opt_in_tag: &deps.opt_in_tag,
    };
    let out = collect(&ports, &event.payload).await?;
    info!(run = %out.run, window_from = %out.window.from.0, window_to = %out.window.to.0, functions = out.collected.functions, from_stats = out.collected.from_stats, from_metrics = out.collected.from_metrics, without_data = out.collected.without_data, batches = out.batches.len(), "collected");
    Ok(out)
}
