//! The fleet simulator: the arena in which every decision engine is measured, and the
//! embedded default of the main job.
//!
//! - [`model`]: a function's duration-vs-memory model, runtime and init, memory floor;
//! - [`traffic`]: arrival processes (synthetic shapes or real traces) at sub-minute resolution;
//! - [`env`](mod@env): execution environments — keep-alive, MRU reuse, cold starts, provisioned
//!   concurrency with allocation delay, throttling; reusable on its own;
//! - [`peak`]: the aggregate model of busy minutes (M/G/∞ peak, Erlang B);
//! - [`world`], [`run`]: the simulated fleet and its loop; [`report`]: what a run produced;
//! - [`ports`], [`fakes`]: the core ports over the simulated world, so decision code runs
//!   unchanged; [`block_on`] drives their always-ready futures;
//! - [`autopilot`]: the policy slot and the do-nothing baseline; [`fleet`]: the demo fleet.
//!
//! Everything is billed by `autopilot_core::cost`, deterministic for a seed (one random
//! stream per function and purpose), and bounded in memory: no per-invocation storage.

pub mod acc;
pub mod autopilot;
mod block_on;
pub mod env;
pub mod fakes;
pub mod fleet;
pub mod model;
pub mod peak;
pub mod ports;
pub mod report;
pub mod rng;
pub mod run;
mod stats_log;
mod step;
pub mod traffic;
pub mod world;

pub use autopilot::{Autopilot, Both, DoNothing, RunSummary, Schedule};
pub use block_on::block_on;
pub use report::{FunctionReport, SimReport};
pub use run::Simulation;
pub use world::{SimConfig, World};
