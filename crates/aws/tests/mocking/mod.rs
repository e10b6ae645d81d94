//! Clients whose HTTP exchanges are served by aws-smithy-mocks rules, built by the same
//! production code path ([`Clients::with_interceptors`]) with short SDK backoff, and error
//! responses as the services send them (status, error-type header or `__type`, body), so the
//! SDK's own deserialisation and retry classification run as they do against AWS.
#![allow(dead_code)] // each test file uses part of this module

use std::time::Duration;

use autopilot_aws::{ClientOptions, Clients, RetryPolicy};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_lambda::config::{
    AsyncSleep, Credentials, SharedAsyncSleep, SharedCredentialsProvider, SharedHttpClient, SharedInterceptor, Sleep,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// Three SDK attempts, millisecond backoff, 50-ms attempt timeout.
pub const OPTIONS: ClientOptions = ClientOptions {
    max_attempts: 3,
    initial_backoff: Duration::from_millis(1),
    max_backoff: Duration::from_millis(5),
    connect_timeout: Duration::from_millis(200),
    attempt_timeout: Duration::from_millis(50),
    operation_timeout: Duration::from_secs(5),
};

/// The adapters' conflict retry, shrunk: 4 attempts.
pub const CONFLICT_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(4) };

#[derive(Debug)]
struct TokioSleep;

impl AsyncSleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(duration))
    }
}

fn config(http: SharedHttpClient) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("a", "b", None, None, "mock")))
        .http_client(http)
        .sleep_impl(SharedAsyncSleep::new(TokioSleep))
        .retry_config(OPTIONS.retry_config())
        .timeout_config(OPTIONS.timeout_config())
        .build()
}

/// Clients answered by `rules` (any order: each request takes the first matching rule).
pub fn clients(rules: &[&Rule]) -> Clients {
    let mut mock = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        mock = mock.with_rule(rule);
    }
    Clients::with_interceptors(&config(create_mock_http_client()), &[SharedInterceptor::new(mock)])
}

/// Clients whose every request hangs: each attempt ends in the attempt timeout.
pub fn hanging_clients() -> Clients {
    Clients::from_config(&config(SharedHttpClient::new(Hang)))
}

#[derive(Debug)]
struct Hang;

impl HttpConnector for Hang {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::new(std::future::pending())
    }
}

impl HttpClient for Hang {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Hang)
    }
}

fn response(status: u16, headers: &[(&str, &str)], body: String) -> HttpResponse {
    let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    for (k, v) in headers {
        r.headers_mut().insert(k.to_string(), v.to_string());
    }
    r
}

/// A Lambda (restJson1) error: status, `x-amzn-ErrorType`, `{"Type","message"}`.
pub fn lambda_error(status: u16, code: &str) -> HttpResponse {
    response(
        status,
        &[("x-amzn-errortype", code), ("content-type", "application/json")],
        format!(r#"{{"Type":"User","message":"{code} from the mock"}}"#),
    )
}

/// A DynamoDB (awsJson1.0) error: `{"__type":"com.amazonaws.dynamodb.v20120810#Code"}`.
pub fn dynamodb_error(status: u16, code: &str) -> HttpResponse {
    response(
        status,
        &[("content-type", "application/x-amz-json-1.0")],
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{code} from the mock"}}"#),
    )
}
