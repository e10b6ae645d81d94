//! The Lambdas' environment: wiring only, one prefix, read strictly by a pure function of a
//! lookup (tests pass a map; `from_env` passes the process environment). Tunables are the
//! `Policy` in the execution input, never environment variables.
//!
//! | variable | used by | default | meaning |
//! |---|---|---|---|
//! | `AUTOPILOT_STATS_TABLE` | collect | required | DynamoDB table the extension writes |
//! | `AUTOPILOT_CONTROL_TABLE` | all five | required | change log, leases, window summaries, forecasts |
//! | `AUTOPILOT_EVENT_BUS` | tune-memory, apply-concurrency, rollback | `default` | EventBridge bus of decision events |
//! | `AUTOPILOT_OPT_IN_TAG` | collect | `autopilot` | tag key that opts a function in |
//! | `AUTOPILOT_LOG_LEVEL` | all five | `info` | `error`, `warn`, `info`, `debug` or `trace` |

use std::str::FromStr;

use lambda_runtime::tracing::Level;

pub const STATS_TABLE: &str = "AUTOPILOT_STATS_TABLE";
pub const CONTROL_TABLE: &str = "AUTOPILOT_CONTROL_TABLE";
pub const EVENT_BUS: &str = "AUTOPILOT_EVENT_BUS";
pub const OPT_IN_TAG: &str = "AUTOPILOT_OPT_IN_TAG";
pub const LOG_LEVEL: &str = "AUTOPILOT_LOG_LEVEL";

pub const DEFAULT_EVENT_BUS: &str = "default";
pub const DEFAULT_OPT_IN_TAG: &str = "autopilot";
pub const DEFAULT_LOG_LEVEL: LogLevel = LogLevel::Info;

/// A variable that is missing or malformed; names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name}={value:?}: {problem}")]
    Invalid { name: &'static str, value: String, problem: &'static str },
}

/// A required variable (empty counts as missing).
pub fn required(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    match lookup(name) {
        Some(v) if !v.trim().is_empty() => {
            if v.trim() != v {
                return Err(ConfigError::Invalid { name, value: v, problem: "has surrounding spaces" });
            }
            Ok(v)
        }
        _ => Err(ConfigError::Missing(name)),
    }
}

/// An optional variable with its default (set but empty is an error, not the default).
pub fn or_default(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    match lookup(name) {
        None => Ok(default.to_owned()),
        Some(_) => required(lookup, name),
    }
}

/// The log level variable.
pub fn log_level(lookup: &impl Fn(&str) -> Option<String>) -> Result<LogLevel, ConfigError> {
    match lookup(LOG_LEVEL) {
        None => Ok(DEFAULT_LOG_LEVEL),
        Some(v) => v.parse().map_err(|()| ConfigError::Invalid {
            name: LOG_LEVEL,
            value: v,
            problem: "expected error, warn, info, debug or trace",
        }),
    }
}

/// The process environment as a lookup.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn filter(self) -> Level {
        match self {
            Self::Error => Level::ERROR,
            Self::Warn => Level::WARN,
            Self::Info => Level::INFO,
            Self::Debug => Level::DEBUG,
            Self::Trace => Level::TRACE,
        }
    }
}

impl FromStr for LogLevel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "error" => Self::Error,
            "warn" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return Err(()),
        })
    }
}

/// The environment of the functions that act and announce (tune-memory, apply-concurrency,
/// rollback): wiring only; tunables are the execution's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingConfig {
    pub control_table: String,
    pub event_bus: String,
    pub log_level: LogLevel,
}

impl ActingConfig {
    /// Every variable [`ActingConfig::from_lookup`] reads: the template must set exactly these.
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn strict_reading() {
        let l = lookup(&[(CONTROL_TABLE, "ctl"), (EVENT_BUS, ""), (LOG_LEVEL, "INFO")]);
        assert_eq!(required(&l, CONTROL_TABLE).unwrap(), "ctl");
        assert_eq!(required(&l, STATS_TABLE), Err(ConfigError::Missing(STATS_TABLE)));
        assert_eq!(or_default(&l, OPT_IN_TAG, DEFAULT_OPT_IN_TAG).unwrap(), "autopilot");
        assert_eq!(or_default(&l, EVENT_BUS, DEFAULT_EVENT_BUS), Err(ConfigError::Missing(EVENT_BUS)));
        assert!(log_level(&l).unwrap_err().to_string().contains("AUTOPILOT_LOG_LEVEL=\"INFO\""));
        assert_eq!(log_level(&lookup(&[])).unwrap(), LogLevel::Info);
        assert_eq!(log_level(&lookup(&[(LOG_LEVEL, "debug")])).unwrap(), LogLevel::Debug);
        let spaced = lookup(&[(CONTROL_TABLE, " ctl")]);
        assert!(required(&spaced, CONTROL_TABLE).is_err());
    }
}
