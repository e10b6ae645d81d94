//! Everything the simulator knows about one function: its model and its starting
//! configuration (usually mis-sized, as real fleets are).

use std::collections::BTreeMap;

use autopilot_core::{Architecture, MemoryMb};
use serde::Serialize;

use super::{DurationModel, InitModel, Runtime};
use crate::traffic::Traffic;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec {
    pub name: String,
    /// What kind of function this is, for reports ("busy API", "nightly batch", ...).
    pub archetype: String,
    pub runtime: Runtime,
    pub architecture: Architecture,
    /// Configured memory at the start.
    pub memory: MemoryMb,
    pub timeout_ms: u64,
    pub duration: DurationModel,
    pub init: InitModel,
    /// Extra init work of the application on top of the runtime's (ms).
    pub init_offset_ms: f64,
    /// Median peak memory an invocation needs (MB); below it invocations die with OOM.
    /// Each invocation's peak is this × a lognormal factor of σ [`MEMORY_SIGMA`].
    pub memory_needed_mb: f64,
    /// Share of invocations that fail with a function error whatever the configuration.
    pub error_rate: f64,
    /// Reserved concurrency (a throttling limit), if any.
    pub reserved_concurrency: Option<u32>,
    /// Callers invoke this alias (e.g. `live`), or `$LATEST` when `None`.
    pub alias: Option<String>,
    pub traffic: Traffic,
    pub tags: BTreeMap<String, String>,
}

/// σ of the per-invocation peak-memory factor.
pub const MEMORY_SIGMA: f64 = 0.05;

impl FunctionSpec {
    /// Share of invocations that run out of memory at a configured size.
    pub fn oom_share(&self, memory: MemoryMb) -> f64 {
        let z = (f64::from(memory.get()) / self.memory_needed_mb.max(1.0)).ln() / MEMORY_SIGMA;
        1.0 - crate::rng::normal_cdf(z)
    }

    /// Init duration model including the application's offset: (μ, σ) of the runtime part
    /// and the constant offset.
    pub fn init_mean_ms(&self) -> f64 {
        self.init.mean_ms + self.init_offset_ms
    }
}
