//! The AWS adapters of lambda-autopilot: the core's ports over the AWS SDK. This crate and
//! the Lambdas' `main.rs` are the only places that use `aws-sdk-*`.
//!
//! | port | adapter | service |
//! |---|---|---|
//! | [`StatsStore`](autopilot_core::ports::StatsStore) | [`DynamoStatsStore`] | DynamoDB stats table (written by the extension) |
//! | [`ChangeLog`](autopilot_core::ports::ChangeLog), [`Lease`](autopilot_core::ports::Lease), window summaries | [`ControlTable`] | DynamoDB control table |
//! | [`FunctionControl`](autopilot_core::ports::FunctionControl) | [`LambdaControl`] | Lambda, Resource Groups Tagging |
//! | [`MetricsSource`](autopilot_core::ports::MetricsSource) | [`CloudWatchMetrics`], [`LogReports`] | CloudWatch, CloudWatch Logs |
//! | [`EventSink`](autopilot_core::ports::EventSink) | [`EventBridgeSink`] | EventBridge |
//! | [`Workflows`](autopilot_core::ports::Workflows) | [`StepFunctionsWorkflows`] | Step Functions (the control endpoint) |
//!
//! Every SDK error goes through the one classifier in [`error`]; every HTTP attempt is
//! counted by [`ApiCalls`]; [`Clients`] builds every client with one explicit HTTPS client.

pub mod calls;
pub mod capacity;
pub mod clients;
pub mod cloudwatch;
pub mod dynamo;
pub mod error;
pub mod events;
pub mod lambda;
pub mod retry;
pub mod workflows;

pub use calls::ApiCalls;
pub use clients::{ClientOptions, Clients};
pub use cloudwatch::{CloudWatchMetrics, LogReports};
pub use dynamo::{ControlTable, DynamoStatsStore};
pub use events::EventBridgeSink;
pub use lambda::LambdaControl;
pub use retry::RetryPolicy;
pub use workflows::StepFunctionsWorkflows;
