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

#[cfg(test)]
mod tests {
    use autopilot_core::Minute;
    use autopilot_sim::fleet::demo_fleet;
    use autopilot_sim::ports::FleetPorts;
    use autopilot_sim::run::FUNCTION_GROUP;
    use autopilot_sim::{Autopilot, RunSummary, SimConfig, Simulation};

    use super::*;

    /// The slot with its claim to decide per function withdrawn: the simulation then steps the
    /// whole fleet minute by minute.
    struct FleetWide(SimulateSlot);

    impl Autopilot for FleetWide {
        fn name(&self) -> &str {
            self.0.name()
        }

        fn stats_retention_minutes(&self) -> usize {
            self.0.stats_retention_minutes()
        }

        fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
            self.0.memory_run(now, fleet)
        }

        fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
            self.0.concurrency_run(now, fleet)
        }
    }

    #[test]
    fn the_slot_run_a_group_of_functions_at_a_time_gives_the_fleet_run_to_the_last_bit() {
        // Two days (a daily memory run, concurrency plans from the second day), and a fleet
        // that leaves a smaller group last.
        let cfg = SimConfig { seed: 3, minutes: 2 * 1_440, ..SimConfig::default() };
        let fleet = demo_fleet(2 * FUNCTION_GROUP + 3, 3);
        let mut grouped = Simulation::new(cfg.clone(), fleet.clone(), simulate_slot(true));
        assert!(grouped.autopilot.decides_per_function());
        grouped.run_all(&mut |_, _| {});
        let mut whole = Simulation::new(cfg, fleet, FleetWide(simulate_slot(true)));
        whole.run_all(&mut |_, _| {});

        assert_eq!(grouped.autopilot.memory.summaries(), whole.autopilot.0.memory.summaries());
        let plans = |s: &SimulateSlot| s.concurrency.as_ref().map(|c| (c.plans, c.kept));
        assert_eq!(plans(&grouped.autopilot), plans(&whole.autopilot.0));
        assert!(plans(&grouped.autopilot).is_some_and(|(made, _)| made > 0));
        let (grouped, whole) = (grouped.finish(), whole.finish());
        assert!(whole.policy_runs > 0 && whole.total.cold_starts > 0);
        assert_eq!(grouped, whole);
    }
}
