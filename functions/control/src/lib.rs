//! control: the control-center endpoint, a Lambda Function URL with `AuthType: AWS_IAM`.
//! Reports the recent runs of the memory-run and rollback state machines and a function's
//! decisions from the change log, and starts a manual rollback (an execution of the
//! rollback state machine, so it is retried, recorded and visible like every other).
//!
//! Input: [`Input`] (the Function URL request); output: [`Output`] (the HTTP response). Every
//! failure is an HTTP status with `{"error": message}` (see [`routes`]); the handler itself
//! fails only on a payload that is not a Function URL request. It reads and starts; it
//! never changes a function itself.

pub mod routes;
pub mod url;

use autopilot_core::ports::{ChangeLog, Workflows};
use autopilot_lambda::config::{CONTROL_TABLE, ConfigError, LOG_LEVEL, LogLevel, env_lookup, log_level, required};
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::info;

pub use autopilot_lambda::HandlerError as Error;
pub use url::{UrlRequest as Input, UrlResponse as Output};

/// ARN of the memory-run state machine (Standard), whose runs `GET /status` lists.
pub const MEMORY_RUN_STATE_MACHINE: &str = "AUTOPILOT_MEMORY_RUN_STATE_MACHINE";
/// ARN of the rollback state machine, which `POST /rollback` starts.
pub const ROLLBACK_STATE_MACHINE: &str = "AUTOPILOT_ROLLBACK_STATE_MACHINE";

/// The environment this function reads (wiring only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub control_table: String,
    pub state_machines: StateMachines,
    pub log_level: LogLevel,
}

/// The state machines the endpoint reads and starts (ARNs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachines {
    pub memory_run: String,
    pub rollback: String,
}

fn state_machine_arn(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    let value = required(lookup, name)?;
    if value.starts_with("arn:") && value.contains(":states:") && value.contains(":stateMachine:") {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            value,
            problem: "expected a state machine ARN (arn:...:states:...:stateMachine:...)",
        })
    }
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads: the template must set exactly these.
    pub const VARS: &[&str] = &[CONTROL_TABLE, MEMORY_RUN_STATE_MACHINE, ROLLBACK_STATE_MACHINE, LOG_LEVEL];

    /// Strict: a required variable missing or any variable malformed is an error naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            control_table: required(&lookup, CONTROL_TABLE)?,
            state_machines: StateMachines {
                memory_run: state_machine_arn(&lookup, MEMORY_RUN_STATE_MACHINE)?,
                rollback: state_machine_arn(&lookup, ROLLBACK_STATE_MACHINE)?,
            },
            log_level: log_level(&lookup)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }
}

/// The ports this function uses.
#[derive(Debug)]
pub struct Deps<C, W> {
    /// The change log (read only).
    pub changes: C,
    /// The autopilot's state machines.
    pub workflows: W,
    pub state_machines: StateMachines,
}

pub async fn handler<C, W>(event: LambdaEvent<Input>, deps: &Deps<C, W>) -> Result<Output, Error>
where
    C: ChangeLog,
    W: Workflows,
{
    let req = &event.payload;
    let out = routes::route(req, deps).await;
    info!(
        method = %req.request_context.http.method,
        path = %req.raw_path,
        status = out.status_code,
        caller = req.caller().unwrap_or("-"),
        "control"
    );
    Ok(out)
}
