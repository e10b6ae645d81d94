//! The one function every case runs, as in DESIGN.md's perfect-foresight study: 512 MB,
//! x86_64, us-east-1 list prices, 200 ms lognormal durations, ≈ 300 ms billed INIT.

use autopilot_core::cost::CostModel;
use autopilot_core::planner::FunctionProfile;
use autopilot_core::planner::evidence::IdleEvidence;
use autopilot_core::planner::prices::UnitPrices;
use autopilot_core::policy::ConcurrencyPolicy;
use autopilot_core::{Architecture, MemoryMb};

pub const MEMORY_MB: u64 = 512;
pub const ARCHITECTURE: Architecture = Architecture::X86_64;
pub const MEAN_DURATION_MS: f64 = 200.0;
pub const INIT_MS: f64 = 300.0;
/// PC allocation delay of the simulated pool (ms): AWS takes about 1–2 minutes.
pub const PC_ALLOCATION_DELAY_MS: f64 = 120_000.0;
/// The arrivals' seed: every policy sees the same arrivals.
pub const SEED: u64 = 20_240_401;

pub fn memory() -> MemoryMb {
    MemoryMb::new(MEMORY_MB).unwrap_or(MemoryMb::MIN)
}

pub fn cost_model() -> CostModel {
    CostModel::default()
}

/// What the planner knows of the function: the extension measures duration and INIT, the
/// stats show which calls after idle spells were cold.
pub fn profile(idle_evidence: Option<IdleEvidence>) -> FunctionProfile {
    FunctionProfile {
        architecture: ARCHITECTURE,
        memory: memory(),
        mean_duration_ms: None,
        init_ms: INIT_MS,
        idle_evidence,
    }
}

/// The function's unit prices under `policy` (what its spend ledger counts in).
pub fn unit_prices(policy: &ConcurrencyPolicy) -> UnitPrices {
    UnitPrices::new(&cost_model(), ARCHITECTURE, memory(), MEAN_DURATION_MS, INIT_MS, policy)
}
