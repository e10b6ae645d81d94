//! The lambda-autopilot Lambda extension.
//!
//! An external extension (one static binary beside any runtime) that registers for
//! `SHUTDOWN` only — so it is never on the invoke path — subscribes a tolerant local listener
//! to the Telemetry API's `platform` records, aggregates them per minute and memory size in
//! fixed memory, and writes one atomic `ADD` update per item to the DynamoDB stats table
//! (schema: [`autopilot_core::stats_item`]) while the environment is thawed and at SHUTDOWN.
//!
//! - [`config`]: settings from the environment (pure `from_lookup`)
//! - [`telemetry`]: lenient per-record parsing of Telemetry API batches
//! - [`aggregate`]: per-environment, per-minute aggregation with bounded memory
//! - [`listener`]: the local HTTP listener that always answers 200
//! - [`dynamo`] + [`sigv4`]: the signed `UpdateItem` call, its body and error classes
//! - [`writer`]: flushing with retries and bounded backoff, and what could not be written
//! - [`lambda_api`]: Extensions API and Telemetry API clients
//! - [`lifecycle`]: register → subscribe → wait for SHUTDOWN → drain → final write → exit
//! - [`http`], [`log`]: the small HTTP/1.1 client and the logger

pub mod aggregate;
pub mod config;
pub mod dynamo;
pub mod http;
pub mod lambda_api;
pub mod lifecycle;
pub mod listener;
pub mod log;
pub mod sigv4;
pub mod telemetry;
pub mod writer;
