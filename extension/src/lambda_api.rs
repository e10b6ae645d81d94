//! Clients of the two local Lambda APIs the extension talks to: the Extensions API
//! (`/2020-01-01/extension`) and the Telemetry API (`/2022-07-01/telemetry`).

use std::io;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::http::{Url, request_once};

pub const REGISTER_PATH: &str = "/2020-01-01/extension/register";
pub const NEXT_PATH: &str = "/2020-01-01/extension/event/next";
pub const INIT_ERROR_PATH: &str = "/2020-01-01/extension/init/error";
pub const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
pub const NAME_HEADER: &str = "Lambda-Extension-Name";
pub const ID_HEADER: &str = "Lambda-Extension-Identifier";

/// Telemetry API schema version we read (the records' shapes are documented for it).
pub const SCHEMA_VERSION: &str = "2022-12-13";
/// Buffering asked of the Telemetry API: batches of up to 1,000 records or 256 KiB, at most
/// 100 ms late — short enough that the last invocation's report arrives early in the
/// SHUTDOWN window, long enough to batch a busy environment's records.
pub const BUFFER_MAX_ITEMS: u32 = 1_000;
pub const BUFFER_MAX_BYTES: u32 = 256 * 1024;
pub const BUFFER_TIMEOUT_MS: u32 = 100;

const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A call to a local Lambda API failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{what}: {source}")]
    Io { what: &'static str, source: io::Error },
    #[error("{what}: HTTP {status}: {body}")]
    Status { what: &'static str, status: u16, body: String },
    #[error("{what}: unexpected answer: {detail}")]
    Answer { what: &'static str, detail: String },
}

/// An event from `/event/next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Shutdown {
        reason: Option<String>,
        deadline_ms: Option<i64>,
    },
    /// Never expected (we do not register for INVOKE); ignored if it comes.
    Invoke,
    Other(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventBody {
    event_type: String,
    #[serde(default)]
    shutdown_reason: Option<String>,
    #[serde(default)]
    deadline_ms: Option<i64>,
}

/// The Extensions and Telemetry APIs at `AWS_LAMBDA_RUNTIME_API`.
#[derive(Debug, Clone)]
pub struct LambdaApi {
    base: Url,
}

impl LambdaApi {
    pub fn new(base: Url) -> Self {
        Self { base }
    }

    /// Registers for `SHUTDOWN` only, which keeps the extension off the invoke path: Lambda
    /// never waits for it between invocations. Returns the extension identifier.
    pub fn register(&self, name: &str) -> Result<String, ApiError> {
        let what = "register";
        let body = json!({ "events": ["SHUTDOWN"] }).to_string();
        let resp = request_once(
            &self.base,
            "POST",
            REGISTER_PATH,
            &[(NAME_HEADER, name)],
            body.as_bytes(),
            Some(CALL_TIMEOUT),
        )
        .map_err(|source| ApiError::Io { what, source })?;
        if resp.status != 200 {
            return Err(ApiError::Status { what, status: resp.status, body: resp.body_text() });
        }
        resp.header(ID_HEADER)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or(ApiError::Answer { what, detail: format!("no {ID_HEADER} header") })
    }

    /// Blocks until the next lifecycle event (a long poll: no timeout).
    pub fn next(&self, id: &str) -> Result<Event, ApiError> {
        let what = "event/next";
        let resp = request_once(&self.base, "GET", NEXT_PATH, &[(ID_HEADER, id)], b"", None)
            .map_err(|source| ApiError::Io { what, source })?;
        if resp.status != 200 {
            return Err(ApiError::Status { what, status: resp.status, body: resp.body_text() });
        }
        let ev: EventBody =
            serde_json::from_slice(&resp.body).map_err(|e| ApiError::Answer { what, detail: e.to_string() })?;
        Ok(match ev.event_type.as_str() {
            "SHUTDOWN" => Event::Shutdown { reason: ev.shutdown_reason, deadline_ms: ev.deadline_ms },
            "INVOKE" => Event::Invoke,
            other => Event::Other(other.to_owned()),
        })
    }

    /// Subscribes `destination` (our listener) to `platform` records.
    pub fn subscribe(&self, id: &str, destination: &str) -> Result<(), ApiError> {
        let what = "telemetry subscribe";
        let body = subscription_body(destination);
        let headers = [(ID_HEADER, id), ("Content-Type", "application/json")];
        let resp = request_once(&self.base, "PUT", TELEMETRY_PATH, &headers, body.as_bytes(), Some(CALL_TIMEOUT))
            .map_err(|source| ApiError::Io { what, source })?;
        if resp.status != 200 {
            return Err(ApiError::Status { what, status: resp.status, body: resp.body_text() });
        }
        Ok(())
    }
}

/// The Telemetry API subscription request.
pub fn subscription_body(destination: &str) -> String {
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "destination": { "protocol": "HTTP", "URI": destination },
        "types": ["platform"],
        "buffering": { "maxItems": BUFFER_MAX_ITEMS, "maxBytes": BUFFER_MAX_BYTES, "timeoutMs": BUFFER_TIMEOUT_MS },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_asks_for_platform_records_only() {
        let v: serde_json::Value = serde_json::from_str(&subscription_body("http://sandbox.localdomain:4243")).unwrap();
        assert_eq!(v["types"], json!(["platform"]));
        assert_eq!(v["destination"]["URI"], "http://sandbox.localdomain:4243");
        assert_eq!(v["schemaVersion"], "2022-12-13");
        // The documented limits: maxItems 1,000-10,000, maxBytes 262,144-1,048,576, timeoutMs 25-30,000.
        assert!((1_000..=10_000).contains(&BUFFER_MAX_ITEMS));
        assert!((262_144..=1_048_576).contains(&BUFFER_MAX_BYTES));
        assert!((25..=30_000).contains(&BUFFER_TIMEOUT_MS));
    }
}
