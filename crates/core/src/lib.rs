//! The pure core of lambda-autopilot.
//!
//! Every decision the autopilot makes is a function of data and an explicit `now` that lives
//! here. This crate does no I/O, reads no clock, starts no runtime and knows no AWS type:
//! the Lambda functions, the extension, the simulator and the CLI all build on it.
//!
//! - [`domain`]: validated newtypes (memory, architecture, region, function, concurrency, minute)
//! - [`policy`]: goals, constraints, modes and their defaults
//! - [`pricing`] and [`cost`]: list prices and the one cost model
//! - [`report`]: Lambda REPORT lines and `platform.report` records
//! - [`histogram`], [`observe`], [`stats_item`]: what is observed, and how it is stored
//! - [`forecast`] and [`planner`]: demand forecasts and the cold-start plan (PC + keep-warm)
//! - [`decision`]: decisions and their reasons
//! - [`ports`]: the traits adapters and the simulator implement

pub mod calendar;
pub mod cost;
pub mod decision;
pub mod domain;
pub mod forecast;
pub mod histogram;
pub mod observe;
pub mod planner;
pub mod policy;
pub mod ports;
pub mod pricing;
pub mod report;
pub mod stats_item;
pub mod tuner;

pub use domain::{Architecture, Concurrency, DomainError, FunctionRef, MemoryMb, Minute, Region};
