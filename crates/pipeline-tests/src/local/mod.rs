//! The stack on the local emulator, built from the template's own definitions, and what the
//! end-to-end tests and `autopilot local` do with it:
//!
//! - [`deploy`]: both tables, the six functions backed by the built binaries
//!   (`LOCAL_BOOTSTRAP`) with their environment resolved from the template, the state machines
//!   from their ASL with `DefinitionSubstitutions` applied;
//! - [`fleet`]: monitored functions opted in with the stack's tag, their stats written as the
//!   extension writes them, their memory and PC read back;
//! - [`execution`]: executions started with unique names and followed to their end, with the
//!   path of states they entered and their history for failure reports;
//! - [`observe`]: what the pipeline left behind: decision events delivered by an EventBridge
//!   rule to a log group, the control table's items, the control endpoint's answers.

pub mod deploy;
pub mod execution;
pub mod fleet;
pub mod observe;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use autopilot_aws::{ClientOptions, Clients};

use crate::PipelineError;

pub use deploy::{DeployOptions, Stack, build_functions, deploy};
pub use execution::{Execution, run, start, wait};
pub use fleet::{Traffic, add_monitored, memory_of, provisioned_of, seed_stats, steady_minutes};
pub use observe::{EventCapture, control_table_keys, invoke_control};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub(crate) fn aws(what: &str, e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Wiring { what: format!("{what}: {e}") }
}

/// SDK clients pointed at the emulator.
#[derive(Debug, Clone)]
pub struct Emulator {
    pub endpoint: String,
    pub clients: Clients,
}

impl Emulator {
    pub async fn connect(endpoint: &str) -> Self {
        let options =
            ClientOptions { max_attempts: 3, initial_backoff: Duration::from_millis(10), ..ClientOptions::DEFAULT };
        Self { endpoint: endpoint.to_owned(), clients: Clients::for_endpoint(endpoint, REGION, &options).await }
    }

    /// True when something answers on the endpoint's `/moto-api/`.
    pub fn answers(endpoint: &str) -> bool {
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
        let Ok(mut stream) = TcpStream::connect(host) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("GET /moto-api/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let mut response = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut response).is_ok()
            && response.starts_with("HTTP/1.1 200")
    }

    /// One unsigned POST to the emulator (it checks no signature, only the credential scope
    /// for the service and region); returns the status and the body.
    fn post(&self, service: &str, headers: &[(&str, &str)], body: &str) -> Result<(u16, String), PipelineError> {
        let host = self.endpoint.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = TcpStream::connect(host).map_err(|e| aws("connect to the emulator", e))?;
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=test/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).map_err(|e| aws(service, e))?;
        let mut response = String::new();
        stream.read_to_string(&mut response).map_err(|e| aws(service, e))?;
        let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// One call of a JSON-protocol API (`X-Amz-Target`), read as plain JSON. For answers the
    /// SDK cannot read: the emulator's CloudWatch Logs gives the timestamps of events that
    /// EventBridge delivered as fractional milliseconds, which aws-sdk-cloudwatchlogs rejects.
    pub fn json_call(
        &self,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, PipelineError> {
        let headers = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", target)];
        let (status, text) = self.post(service, &headers, &body.to_string())?;
        if status != 200 {
            return Err(aws(target, format!("HTTP {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| aws(target, e))
    }

    /// An IAM role (the emulator checks that a function's role exists), by one Query-protocol
    /// call (no IAM client in the workspace for one call).
    pub fn create_role(&self, name: &str) -> Result<String, PipelineError> {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","states.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
        let encoded: String = policy
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let body = format!("Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={encoded}");
        let (status, text) = self.post("iam", &[("Content-Type", "application/x-www-form-urlencoded")], &body)?;
        if status != 200 {
            return Err(aws("IAM CreateRole", format!("HTTP {status}: {text}")));
        }
        Ok(format!("arn:aws:iam::{ACCOUNT}:role/{name}"))
    }
}
