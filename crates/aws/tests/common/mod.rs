//! Shared setup of the emulator-backed tests: clients with short retries, an IAM role,
//! functions and tables with unique names.
#![allow(dead_code)] // each test file uses part of this module

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use autopilot_aws::{ClientOptions, Clients};
use autopilot_core::domain::FunctionRef;
use autopilot_testkit::{emulator_endpoint, unique_name};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// Short SDK backoff so the few retries a test may see take milliseconds.
pub const FAST: ClientOptions = ClientOptions {
    max_attempts: 3,
    initial_backoff: Duration::from_millis(5),
    max_backoff: Duration::from_millis(20),
    connect_timeout: Duration::from_secs(3),
    attempt_timeout: Duration::from_secs(30),
    operation_timeout: Duration::from_secs(60),
};

pub async fn clients() -> Clients {
    Clients::for_endpoint(&emulator_endpoint(), REGION, &FAST).await
}

/// An empty zip archive (end-of-central-directory record only): Lambda needs some code,
/// the emulator runs `LOCAL_BOOTSTRAP` instead.
pub fn empty_zip() -> Vec<u8> {
    let mut z = b"PK\x05\x06".to_vec();
    z.extend([0u8; 18]);
    z
}

/// Creates an IAM role Lambda can assume (the emulator checks that it exists) with a raw
/// Query-protocol call: the crate has no IAM client and needs none elsewhere.
pub fn create_role() -> String {
    let name = unique_name("role");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let body =
        format!("Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={}", url_encode(policy));
    raw_post("iam", "application/x-www-form-urlencoded", None, &body);
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// One unsigned POST to the emulator (it routes by the credential scope's service); returns
/// the response body, panicking on a status other than 200.
pub fn raw_post(service: &str, content_type: &str, target: Option<&str>, body: &str) -> String {
    let url = emulator_endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).expect("emulator reachable");
    let target = target.map(|t| format!("X-Amz-Target: {t}\r\n")).unwrap_or_default();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{target}\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"), "{response}");
    response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A function with a unique name, the given memory and tags; `bootstrap` (a path) makes it
/// invocable on the emulator.
pub async fn create_function(
    c: &Clients,
    prefix: &str,
    memory: i32,
    tags: &[(&str, &str)],
    bootstrap: Option<&str>,
) -> FunctionRef {
    let name = unique_name(prefix);
    let mut req = c
        .lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .role(create_role())
        .handler("bootstrap")
        .memory_size(memory)
        .timeout(10)
        .code(FunctionCode::builder().zip_file(Blob::new(empty_zip())).build());
    for (k, v) in tags {
        req = req.tags(*k, *v);
    }
    if let Some(path) = bootstrap {
        req = req.environment(Environment::builder().variables("LOCAL_BOOTSTRAP", path).build());
    }
    req.send().await.expect("CreateFunction");
    FunctionRef::new(&name, None).unwrap()
}

/// The warm-up test function: a Runtime API client in Python that honours the documented
/// warm-up payload (python3 is on every machine the emulator runs on).
pub fn warm_bootstrap() -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "warm_bootstrap.py"].iter().collect();
    path.to_string_lossy().into_owned()
}

/// Seconds since the epoch as a `Minute`, rounded down: tests that need "now".
pub fn this_minute() -> autopilot_core::domain::Minute {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    autopilot_core::domain::Minute::from_epoch_ms(ms)
}
