//! Configuration: environment variables with the `AUTOPILOT_` prefix, plus what Lambda sets
//! in every execution environment. Built by a pure [`Config::from_lookup`]; tests pass a map.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AUTOPILOT_STATS_TABLE` | — (writing disabled, one WARN) | DynamoDB stats table name |
//! | `AUTOPILOT_FLUSH_INTERVAL_SECONDS` | 60 | write at most this often while thawed (1–3600) |
//! | `AUTOPILOT_LOG_LEVEL` | `warn` | `off`, `error`, `warn`, `info`, `debug` |
//! | `AUTOPILOT_RETENTION_DAYS` | 35 ([`stats_item::DEFAULT_RETENTION_DAYS`]) | TTL of items (1–3650) |
//!
//! From Lambda: `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`,
//! `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; endpoint override
//! `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` (tests point these at the emulator).

use std::fmt;
use std::time::Duration;

use autopilot_core::stats_item;
use autopilot_core::{FunctionRef, MemoryMb};

use crate::http::Url;
use crate::log::Level;

pub const STATS_TABLE: &str = "AUTOPILOT_STATS_TABLE";
pub const FLUSH_INTERVAL_SECONDS: &str = "AUTOPILOT_FLUSH_INTERVAL_SECONDS";
pub const LOG_LEVEL: &str = "AUTOPILOT_LOG_LEVEL";
pub const RETENTION_DAYS: &str = "AUTOPILOT_RETENTION_DAYS";

pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
pub const FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
pub const FUNCTION_MEMORY: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
pub const REGION: &str = "AWS_REGION";
pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
pub const ENDPOINT_URL_DYNAMODB: &str = "AWS_ENDPOINT_URL_DYNAMODB";
pub const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

pub const DEFAULT_FLUSH_INTERVAL_SECONDS: u64 = 60;
pub const DEFAULT_LOG_LEVEL: Level = Level::Warn;
const FLUSH_INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 1..=3_600;
const RETENTION_RANGE: std::ops::RangeInclusive<i64> = 1..=3_650;

/// Everything the extension needs to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `host:port` of the Runtime/Extensions/Telemetry APIs.
    pub runtime_api: Url,
    pub log_level: Level,
    pub flush_interval: Duration,
    pub retention_days: i64,
    /// The environment's configured memory, for records that carry none.
    pub memory: Option<MemoryMb>,
    pub writer: Writer,
}

/// Where aggregated stats go.
#[derive(Debug, Clone, PartialEq)]
pub enum Writer {
    /// Not writing (the extension still registers, listens and aggregates); says why.
    Disabled(String),
    Dynamo(DynamoTarget),
}

/// The stats table and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoTarget {
    pub table: String,
    /// `resourceId` of every item: `name:version` as Lambda reports it inside the
    /// environment (`orders:$LATEST`, `orders:7`); collect maps aliases to versions.
    pub function: FunctionRef,
    pub region: String,
    pub endpoint: Url,
    pub credentials: Credentials,
}

/// Static credentials from the environment. `Debug` never prints the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .finish()
    }
}

/// Invalid settings, all of them in one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid extension configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Without the Runtime API there is nothing to register with: not running inside Lambda.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{RUNTIME_API} is missing or invalid ({0}): not running inside a Lambda execution environment")]
pub struct NoRuntimeApi(pub String);

impl Config {
    /// Reads and validates every setting. Strict: any invalid value is an error that names
    /// the variable, the value and what is expected. A missing table name (or missing AWS
    /// wiring) is not an error: it yields [`Writer::Disabled`] with the reason.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut problems = Vec::new();
        let mut invalid = |name: &str, value: &str, expected: &str| {
            problems.push(format!("{name}={value:?} is not valid: expected {expected}"));
        };

        let runtime_api = match get(RUNTIME_API).map(|v| Url::parse(&v)) {
            Some(Ok(url)) => Some(url),
            Some(Err(e)) => {
                invalid(RUNTIME_API, &e.input, "host:port");
                None
            }
            None => {
                invalid(RUNTIME_API, "", "host:port (set by Lambda)");
                None
            }
        };
        let log_level = match get(LOG_LEVEL) {
            None => DEFAULT_LOG_LEVEL,
            Some(v) => Level::parse(&v).unwrap_or_else(|| {
                invalid(LOG_LEVEL, &v, "off, error, warn, info or debug");
                DEFAULT_LOG_LEVEL
            }),
        };
        let flush_seconds = match get(FLUSH_INTERVAL_SECONDS) {
            None => DEFAULT_FLUSH_INTERVAL_SECONDS,
            Some(v) => v.parse::<u64>().ok().filter(|s| FLUSH_INTERVAL_RANGE.contains(s)).unwrap_or_else(|| {
                invalid(FLUSH_INTERVAL_SECONDS, &v, "whole seconds from 1 to 3600");
                DEFAULT_FLUSH_INTERVAL_SECONDS
            }),
        };
        let retention_days = match get(RETENTION_DAYS) {
            None => stats_item::DEFAULT_RETENTION_DAYS,
            Some(v) => v.parse::<i64>().ok().filter(|d| RETENTION_RANGE.contains(d)).unwrap_or_else(|| {
                invalid(RETENTION_DAYS, &v, "whole days from 1 to 3650");
                stats_item::DEFAULT_RETENTION_DAYS
            }),
        };
        let memory = match get(FUNCTION_MEMORY) {
            None => None,
            Some(v) => match v.parse::<u64>().ok().and_then(|mb| MemoryMb::new(mb).ok()) {
                Some(m) => Some(m),
                None => {
                    invalid(FUNCTION_MEMORY, &v, "a memory size in MB (128-10240)");
                    None
                }
            },
        };
        let writer = match dynamo_target(&get, &mut invalid) {
            Ok(target) => Writer::Dynamo(target),
            Err(reason) => Writer::Disabled(reason),
        };
        match runtime_api {
            Some(runtime_api) if problems.is_empty() => Ok(Self {
                runtime_api,
                log_level,
                flush_interval: Duration::from_secs(flush_seconds),
                retention_days,
                memory,
                writer,
            }),
            _ => Err(ConfigError { problems }),
        }
    }

    /// The configuration to run with after `from_lookup` failed: defaults everywhere and
    /// writing disabled. The extension must keep running: an extension process that exits
    /// makes Lambda fail the environment's INIT (or reset it), which would break the
    /// customer's function over a typo in our settings. Only a missing Runtime API (not in
    /// Lambda at all) is fatal.
    pub fn writing_disabled(
        lookup: impl Fn(&str) -> Option<String>,
        error: &ConfigError,
    ) -> Result<Self, NoRuntimeApi> {
        let raw = lookup(RUNTIME_API).unwrap_or_default();
        let runtime_api = Url::parse(raw.trim()).map_err(|_| NoRuntimeApi(raw.clone()))?;
        let memory =
            lookup(FUNCTION_MEMORY).and_then(|v| v.trim().parse::<u64>().ok()).and_then(|m| MemoryMb::new(m).ok());
        Ok(Self {
            runtime_api,
            log_level: DEFAULT_LOG_LEVEL,
            flush_interval: Duration::from_secs(DEFAULT_FLUSH_INTERVAL_SECONDS),
            retention_days: stats_item::DEFAULT_RETENTION_DAYS,
            memory,
            writer: Writer::Disabled(error.to_string()),
        })
    }

    /// [`Config::from_lookup`] over the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The DynamoDB target, or why writing is disabled. Invalid values are reported through
/// `invalid` (they are errors); absent ones only disable writing.
fn dynamo_target(
    get: &impl Fn(&str) -> Option<String>,
    invalid: &mut impl FnMut(&str, &str, &str),
) -> Result<DynamoTarget, String> {
    let table = get(STATS_TABLE).ok_or_else(|| format!("{STATS_TABLE} is not set: stats are not written"))?;
    let table_ok = (3..=255).contains(&table.len())
        && table.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !table_ok {
        invalid(STATS_TABLE, &table, "a DynamoDB table name (3-255 of letters, digits, '_', '-', '.')");
        return Err(format!("{STATS_TABLE} is invalid"));
    }
    let (Some(name), Some(version)) = (get(FUNCTION_NAME), get(FUNCTION_VERSION)) else {
        return Err(format!("{FUNCTION_NAME}/{FUNCTION_VERSION} are not set: not a Lambda environment"));
    };
    let function = FunctionRef::new(&name, Some(&version)).map_err(|e| {
        invalid(FUNCTION_NAME, &format!("{name}:{version}"), "a function name and version");
        e.to_string()
    })?;
    let region = get(REGION).ok_or_else(|| format!("{REGION} is not set: cannot address DynamoDB"))?;
    if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        invalid(REGION, &region, "a region code such as us-east-1");
        return Err(format!("{REGION} is invalid"));
    }
    let endpoint = match get(ENDPOINT_URL_DYNAMODB)
        .map(|v| (ENDPOINT_URL_DYNAMODB, v))
        .or_else(|| get(ENDPOINT_URL).map(|v| (ENDPOINT_URL, v)))
    {
        Some((var, value)) => Url::parse(&value).map_err(|e| {
            invalid(var, &value, "an http:// or https:// URL");
            e.to_string()
        })?,
        None => default_endpoint(&region),
    };
    let access_key_id = get(ACCESS_KEY_ID);
    let secret_access_key = get(SECRET_ACCESS_KEY);
    let credentials = match (access_key_id, secret_access_key) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Credentials { access_key_id, secret_access_key, session_token: get(SESSION_TOKEN) }
        }
        _ => return Err(format!("{ACCESS_KEY_ID}/{SECRET_ACCESS_KEY} are not set: cannot sign requests")),
    };
    Ok(DynamoTarget { table, function, region, endpoint, credentials })
}

/// DynamoDB's regional endpoint.
pub fn default_endpoint(region: &str) -> Url {
    let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    Url { tls: true, host: format!("dynamodb.{region}.{domain}"), port: 443, path: String::new() }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lambda_env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            (RUNTIME_API, "127.0.0.1:9001"),
            (FUNCTION_NAME, "orders"),
            (FUNCTION_VERSION, "$LATEST"),
            (FUNCTION_MEMORY, "512"),
            (REGION, "eu-west-1"),
            (ACCESS_KEY_ID, "AKIDEXAMPLE"),
            (SECRET_ACCESS_KEY, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            (SESSION_TOKEN, "token"),
            (STATS_TABLE, "autopilot-stats"),
        ])
    }

    fn load(env: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        Config::from_lookup(|n| env.get(n).map(|v| (*v).to_owned()))
    }

    #[test]
    fn defaults_and_lambda_wiring() {
        let c = load(&lambda_env()).unwrap();
        assert_eq!(c.flush_interval, Duration::from_secs(60));
        assert_eq!(c.log_level, Level::Warn);
        assert_eq!(c.retention_days, stats_item::DEFAULT_RETENTION_DAYS);
        assert_eq!(c.memory, Some(MemoryMb::new(512).unwrap()));
        let Writer::Dynamo(t) = c.writer else { panic!("writing should be enabled") };
        assert_eq!(t.function.resource_id(), "orders:$LATEST");
        assert_eq!(t.endpoint.to_string(), "https://dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(t.credentials.session_token.as_deref(), Some("token"));
        assert!(!format!("{:?}", t.credentials).contains("EXAMPLEKEY"), "secrets never reach Debug output");
    }

    #[test]
    fn endpoint_override_and_settings() {
        let mut env = lambda_env();
        env.insert(ENDPOINT_URL, "http://127.0.0.1:5000");
        env.insert(FLUSH_INTERVAL_SECONDS, "5");
        env.insert(LOG_LEVEL, "debug");
        env.insert(RETENTION_DAYS, "7");
        let c = load(&env).unwrap();
        assert_eq!((c.flush_interval.as_secs(), c.log_level, c.retention_days), (5, Level::Debug, 7));
        let Writer::Dynamo(t) = c.writer else { panic!() };
        assert_eq!(t.endpoint.to_string(), "http://127.0.0.1:5000");
        env.insert(ENDPOINT_URL_DYNAMODB, "http://127.0.0.1:6000");
        let Writer::Dynamo(t) = load(&env).unwrap().writer else { panic!() };
        assert_eq!(t.endpoint.port, 6000, "the service-specific override wins");
    }

    #[test]
    fn missing_table_disables_writing_without_an_error() {
        let mut env = lambda_env();
        env.remove(STATS_TABLE);
        let c = load(&env).unwrap();
        assert!(matches!(c.writer, Writer::Disabled(ref r) if r.contains(STATS_TABLE)));
        env.remove(SECRET_ACCESS_KEY);
        env.insert(STATS_TABLE, "t-1");
        assert!(matches!(load(&env).unwrap().writer, Writer::Disabled(ref r) if r.contains(SECRET_ACCESS_KEY)));
    }

    #[test]
    fn invalid_values_are_one_error_naming_each_and_writing_is_then_disabled() {
        let mut env = lambda_env();
        env.insert(FLUSH_INTERVAL_SECONDS, "0");
        env.insert(LOG_LEVEL, "loud");
        env.insert(RETENTION_DAYS, "forever");
        env.insert(STATS_TABLE, "no spaces");
        let e = load(&env).unwrap_err();
        assert_eq!(e.problems.len(), 4, "{e}");
        for name in [FLUSH_INTERVAL_SECONDS, LOG_LEVEL, RETENTION_DAYS, STATS_TABLE] {
            assert!(e.to_string().contains(name), "{e}");
        }
        let fallback = Config::writing_disabled(|n| env.get(n).map(|v| (*v).to_owned()), &e).unwrap();
        assert!(matches!(fallback.writer, Writer::Disabled(_)));
        assert_eq!(fallback.runtime_api.port, 9001);
        assert!(Config::writing_disabled(|_| None, &e).is_err(), "outside Lambda there is nothing to serve");
    }
}
