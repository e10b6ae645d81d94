//! What `autopilot simulate` puts in the simulator's autopilot slot, in one place for the
//! command and for the benchmark that times it (`autopilot bench scale`).

use autopilot_core::policy::{ConcurrencyPolicy, Mode, Policy};
use autopilot_sim::Both;
use autopilot_sim::fleet::OPT_IN_TAG;

use crate::concurrency::sim_slot::ConcurrencyAutopilot;
use crate::tuner::sim_slot::MemoryAutopilot;

/// The memory tuner (daily, passive) and, unless left out, the concurrency planner.
pub type SimulateSlot = Both<MemoryAutopilot, Option<ConcurrencyAutopilot>>;

/// The policy of the slot: autopilot mode, keep-warm opted in (the demo functions answer
/// warm-up calls), the documented defaults otherwise.
pub fn simulate_policy() -> Policy {
    Policy {
        mode: Mode::Autopilot,
        concurrency: ConcurrencyPolicy { keep_warm: true, ..ConcurrencyPolicy::default() },
        ..Policy::default()
    }
}

/// The slot, with the concurrency planner or without it.
pub fn simulate_slot(with_concurrency: bool) -> SimulateSlot {
    let policy = simulate_policy();
    Both::new(
        MemoryAutopilot::new(policy.clone(), OPT_IN_TAG),
        with_concurrency.then(|| ConcurrencyAutopilot::new(policy.concurrency.clone(), OPT_IN_TAG)),
    )
}
