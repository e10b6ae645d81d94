//! The scale benchmark: how fast the simulated fleet and the decision loop run.
//!
//! Simulates N synthetic functions (the demo archetypes, cycled with jitter) for some days
//! with a placeholder policy that, on the real schedule (memory daily, concurrency every 5
//! minutes), lists every opted-in function through the `FunctionControl` port and decides to
//! keep it: "decisions per second" measures that loop, the port round trip and the
//! scheduling, not the tuner's or the planner's arithmetic. The engines are timed by
//! [`run_fleet`], which runs what `autopilot simulate` runs.

use std::time::{Duration, Instant};

use autopilot_core::Minute;
use autopilot_core::ports::FunctionControl;
use autopilot_sim::fleet::{OPT_IN_TAG, demo_fleet};
use autopilot_sim::ports::FleetPorts;
use autopilot_sim::{Autopilot, DoNothing, RunSummary, SimConfig, Simulation, block_on};

use crate::slot::simulate_slot;
use serde::Serialize;

/// Lists the fleet and keeps every function, timing itself.
#[derive(Debug, Default)]
pub struct KeepAll {
    pub busy: Duration,
}

impl KeepAll {
    fn keep_all(&mut self, fleet: &FleetPorts<'_>) -> RunSummary {
        let started = Instant::now();
        let functions = block_on(fleet.control.list_functions(OPT_IN_TAG)).unwrap_or_default();
        let evaluated = functions.iter().filter(|f| f.memory.get() > 0).count() as u64;
        self.busy += started.elapsed();
        RunSummary { evaluated, changed: 0 }
    }
}

impl Autopilot for KeepAll {
    fn name(&self) -> &str {
        "keep-all (placeholder)"
    }

    fn memory_run(&mut self, _now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.keep_all(fleet)
    }

    fn concurrency_run(&mut self, _now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.keep_all(fleet)
    }
}

/// What a scale run measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleFigures {
    pub functions: usize,
    pub days: f64,
    pub wall_seconds: f64,
    /// Time spent inside the policy (listing through the port and deciding).
    pub policy_seconds: f64,
    pub decisions: u64,
    pub decisions_per_second: f64,
    pub invocations: u64,
    pub function_minutes_per_second: f64,
}

/// Simulates `functions` functions for `days` with the [`KeepAll`] placeholder policy.
pub fn run_scale(functions: usize, days: f64, seed: u64, progress: &mut dyn FnMut(u64, u64)) -> ScaleFigures {
    let cfg = SimConfig { seed, minutes: (days * 1_440.0).round().max(1.0) as u64, ..SimConfig::default() };
    let minutes = cfg.minutes;
    let started = Instant::now();
    let mut sim = Simulation::new(cfg, demo_fleet(functions, seed), KeepAll::default());
    while sim.world.elapsed_minutes() < minutes {
        sim.step_minute();
        let done = sim.world.elapsed_minutes();
        if done.is_multiple_of(60) {
            progress(done, minutes);
        }
    }
    let policy_seconds = sim.autopilot.busy.as_secs_f64();
    let report = sim.finish();
    let wall_seconds = started.elapsed().as_secs_f64();
    ScaleFigures {
        functions,
        days,
        wall_seconds,
        policy_seconds,
        decisions: report.decisions_evaluated,
        decisions_per_second: report.decisions_evaluated as f64 / policy_seconds.max(1e-9),
        invocations: report.total.invocations,
        function_minutes_per_second: (functions as u64 * minutes) as f64 / wall_seconds.max(1e-9),
    }
}

/// What `autopilot simulate --functions N --days D` does, timed: the do-nothing baseline, then
/// the same fleet with the autopilot slot of the command (memory tuner and concurrency planner),
/// with the time spent inside each engine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetFigures {
    pub baseline_seconds: f64,
    pub autopilot_seconds: f64,
    /// Of the autopilot run: inside the memory tuner's runs, the concurrency planner's runs,
    /// and of those, making plans (`planner::plan`).
    pub memory_seconds: f64,
    pub concurrency_seconds: f64,
    pub planning_seconds: f64,
    pub plans: u64,
    pub invocations: u64,
}

impl FleetFigures {
    pub fn wall_seconds(&self) -> f64 {
        self.baseline_seconds + self.autopilot_seconds
    }
}

/// A policy with the time spent in each kind of run.
#[derive(Debug)]
struct Timed<A> {
    inner: A,
    memory: Duration,
    concurrency: Duration,
}

impl<A: Autopilot> Autopilot for Timed<A> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn is_do_nothing(&self) -> bool {
        self.inner.is_do_nothing()
    }

    fn stats_retention_minutes(&self) -> usize {
        self.inner.stats_retention_minutes()
    }

    fn decides_per_function(&self) -> bool {
        self.inner.decides_per_function()
    }

    fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        let started = Instant::now();
        let s = self.inner.memory_run(now, fleet);
        self.memory += started.elapsed();
        s
    }

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        let started = Instant::now();
        let s = self.inner.concurrency_run(now, fleet);
        self.concurrency += started.elapsed();
        s
    }
}

/// Runs and times both simulations of `autopilot simulate` on `functions` functions for `days`.
pub fn run_fleet(functions: usize, days: f64, seed: u64, progress: &mut dyn FnMut(u64, u64)) -> FleetFigures {
    let cfg = SimConfig { seed, minutes: (days * 1_440.0).round().max(1.0) as u64, ..SimConfig::default() };
    let started = Instant::now();
    let report = Simulation::new(cfg.clone(), demo_fleet(functions, seed), DoNothing).run(progress);
    let baseline_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let slot = Timed { inner: simulate_slot(true), memory: Duration::ZERO, concurrency: Duration::ZERO };
    let mut sim = Simulation::new(cfg, demo_fleet(functions, seed), slot);
    sim.run_all(progress);
    let autopilot_seconds = started.elapsed().as_secs_f64();
    let Timed { inner, memory, concurrency } = &sim.autopilot;
    let (planning, plans) = inner.concurrency.as_ref().map_or((Duration::ZERO, 0), |c| (c.planning, c.plans));
    FleetFigures {
        baseline_seconds,
        autopilot_seconds,
        memory_seconds: memory.as_secs_f64(),
        concurrency_seconds: concurrency.as_secs_f64(),
        planning_seconds: planning.as_secs_f64(),
        plans,
        invocations: report.total.invocations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_policy_decides_for_every_function_on_schedule() {
        let f = run_scale(24, 0.25, 1, &mut |_, _| {});
        // 6 hours: concurrency runs at minutes 2, 7, ..., 357 (72 runs) × 24 functions; no memory run.
        assert_eq!(f.decisions, 72 * 24);
        assert!(f.invocations > 0);
    }
}
