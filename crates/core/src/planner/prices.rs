//! The planner's unit prices, every one of them taken from the core cost model.

use crate::cost::{CostModel, Usage};
use crate::domain::{Architecture, Concurrency, MemoryMb};
use crate::policy::ConcurrencyPolicy;

/// Prices of the planner's moves for one function, per slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitPrices {
    /// One provisioned environment for one slot (billed whole: slots are 5-minute steps).
    pub pc_level: f64,
    /// Saving when one PC level is busy the whole slot: on-demand minus PC duration price.
    pub pc_busy_saving: f64,
    /// INIT of one on-demand cold start.
    pub init: f64,
    /// INIT plus the policy's penalty: what one avoided cold start is worth.
    pub cold_start: f64,
    /// One warm-up call on an on-demand environment / on a provisioned one, holding it for
    /// the policy's hold (a round of several calls).
    pub ping_on_demand: f64,
    pub ping_provisioned: f64,
    /// The call of a round of one: held for nothing, answered at once (1 ms billed).
    pub ping_single: f64,
    /// How long the calls of a round of several hold their environments (s): callers arriving
    /// then find the environments the round took busy.
    pub hold_s: f64,
    /// One on-demand invocation of mean duration (requests + duration).
    pub invocation: f64,
}

impl UnitPrices {
    pub fn new(
        cost: &CostModel,
        arch: Architecture,
        memory: MemoryMb,
        mean_duration_ms: f64,
        init_ms: f64,
        policy: &ConcurrencyPolicy,
    ) -> Self {
        let slot_ms = u64::from(policy.slot_minutes) * 60_000;
        let one = Concurrency::new(1).unwrap_or_default();
        let on_demand_slot = cost.cost(arch, &Usage::invocations(memory, 0, slot_ms)).duration;
        let pc_slot = cost.cost(arch, &Usage::pc_invocations(memory, 0, slot_ms)).pc_duration;
        let hold = u64::from(policy.keep_warm_hold_ms);
        let init = cost.init(arch, memory, init_ms);
        Self {
            pc_level: cost.cost(arch, &Usage::provisioned(memory, one, slot_ms)).total(),
            pc_busy_saving: on_demand_slot - pc_slot,
            init,
            cold_start: init + policy.cold_start_penalty_usd,
            ping_on_demand: cost.cost(arch, &Usage::invocations(memory, 1, hold)).total(),
            ping_provisioned: cost.cost(arch, &Usage::pc_invocations(memory, 1, hold)).total(),
            ping_single: cost.cost(arch, &Usage::invocations(memory, 1, 1)).total(),
            hold_s: hold as f64 / 1000.0,
            invocation: cost.invocation(arch, memory, mean_duration_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fully_busy_pc_level_pays_and_break_even_is_the_cost_models() {
        let cost = CostModel::default();
        let memory = MemoryMb::new(512).unwrap();
        let p = UnitPrices::new(&cost, Architecture::X86_64, memory, 200.0, 300.0, &ConcurrencyPolicy::default());
        let break_even = p.pc_level / p.pc_busy_saving;
        assert!((break_even - cost.pc_break_even_utilisation(Architecture::X86_64)).abs() < 1e-9);
        // 0.5 GB × 300 s × $0.0000041667.
        assert!((p.pc_level - 0.5 * 300.0 * 0.000_004_166_7).abs() < 1e-9);
        assert!(p.ping_provisioned < p.ping_on_demand);
        assert!(p.ping_single < p.ping_on_demand && (p.hold_s - 0.05).abs() < 1e-12);
        assert!((p.cold_start - p.init - 0.0001).abs() < 1e-12);
    }
}
