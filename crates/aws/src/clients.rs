//! SDK clients, built once per process with one explicit HTTPS client, one retry and timeout
//! configuration, and the [`ApiCalls`] counter on every client.
//!
//! The SDK crates are compiled without `default-https-client` (see the root Cargo.toml), so a
//! client without an explicit HTTP client would fail at run time: [`https_client`] is the one
//! place that chooses it (hyper + rustls with the `ring` provider; plain `http://` endpoints
//! such as the local emulator work too).
//!
//! Endpoints: [`Clients::from_env`] honours `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`), like every AWS SDK; [`Clients::for_endpoint`] names one
//! explicitly with static test credentials, for the local emulator.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;

use crate::calls::ApiCalls;
use crate::capacity::DynamoUnits;

/// Retry and timeout settings shared by every client.
///
/// Two bounded retry layers exist: the SDK's standard retry (this struct) for throttling,
/// 5xx, timeouts and dispatch failures, with exponential backoff and full jitter; and the
/// adapters' own [`crate::retry::RetryPolicy`] for `ResourceConflictException`, which the
/// SDK does not retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientOptions {
    /// Attempts per call, first included (SDK standard retry mode).
    pub max_attempts: u32,
    /// First backoff of the SDK retry; later ones double, with full jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    /// One HTTP attempt, response read included.
    pub attempt_timeout: Duration,
    /// A whole call, retries included.
    pub operation_timeout: Duration,
}

impl ClientOptions {
    pub const DEFAULT: Self = Self {
        max_attempts: 3,
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(3),
        attempt_timeout: Duration::from_secs(30),
        operation_timeout: Duration::from_secs(90),
    };

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    fn loader(&self) -> ConfigLoader {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .retry_config(self.retry_config())
            .timeout_config(self.timeout_config())
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The HTTPS client of every SDK client: hyper with rustls and the `ring` crypto provider.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// One client per service, sharing configuration and the call counter (the DynamoDB client
/// also counts its request units into it: [`DynamoUnits`]).
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub calls: ApiCalls,
}

impl Clients {
    /// Region, credentials and endpoint from the environment (the default provider chains;
    /// `AWS_ENDPOINT_URL` is honoured).
    pub async fn from_env(options: &ClientOptions) -> Self {
        Self::from_config(&options.loader().load().await)
    }

    /// An explicit endpoint (the local emulator) with static test credentials.
    pub async fn for_endpoint(endpoint_url: &str, region: &str, options: &ClientOptions) -> Self {
        let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "autopilot-static");
        let config = options
            .loader()
            .endpoint_url(endpoint_url)
            .region(Region::new(region.to_owned()))
            .credentials_provider(creds)
            .load()
            .await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self::with_interceptors(config, &[])
    }

    /// As [`Clients::from_config`], with extra interceptors on every client (tests install
    /// aws-smithy-mocks this way, so mocked clients are built by the production code path).
    pub fn with_interceptors(config: &SdkConfig, extra: &[SharedInterceptor]) -> Self {
        let calls = ApiCalls::new();
        macro_rules! client {
            ($krate:ident $(, $own:expr)*) => {{
                let mut builder = $krate::config::Builder::from(config).interceptor(calls.clone());
                $(builder.push_interceptor(SharedInterceptor::new($own));)*
                for i in extra {
                    builder.push_interceptor(i.clone());
                }
                $krate::Client::from_conf(builder.build())
            }};
        }
        Self {
            dynamodb: client!(aws_sdk_dynamodb, DynamoUnits::new(calls.clone())),
            lambda: client!(aws_sdk_lambda),
            cloudwatch: client!(aws_sdk_cloudwatch),
            logs: client!(aws_sdk_cloudwatchlogs),
            events: client!(aws_sdk_eventbridge),
            tagging: client!(aws_sdk_resourcegroupstagging),
            sfn: client!(aws_sdk_sfn),
            calls,
        }
    }
}
