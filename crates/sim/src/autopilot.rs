//! The autopilot slot: what the simulation calls on its schedule, with the simulated clock's
//! `now` and the fleet behind the same ports the Lambdas use. The memory tuner and the
//! concurrency planner (crates/core) plug in here; today only [`DoNothing`] exists, and it is
//! also the baseline every policy is compared with (same fleet, same seeds).

use autopilot_core::Minute;
use serde::Serialize;

use crate::ports::FleetPorts;

/// What one scheduled run decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Functions a decision was made for (keeping is a decision).
    pub evaluated: u64,
    /// Decisions that changed something.
    pub changed: u64,
}

/// When the simulation calls the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Memory runs (default daily, at 00:00 of each simulated day after the first).
    pub memory_every_minutes: u64,
    /// Concurrency runs (default every 5 minutes) ...
    pub concurrency_every_minutes: u64,
    /// ... from this minute of the run on (default 2). The deployed stack schedules them with
    /// EventBridge `rate(5 minutes)`, whose phase is wherever the rule was created, not the
    /// clock's 5-minute marks; on the marks, every warm-up round would land in the very
    /// minute users' cron jobs fire (here: the timer archetypes) and hold the environment
    /// those calls need. Any phase off the marks is as good as another.
    pub concurrency_offset_minutes: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self { memory_every_minutes: 1_440, concurrency_every_minutes: 5, concurrency_offset_minutes: 2 }
    }
}

impl Schedule {
    /// Whether minute `index` of the run has a concurrency run.
    pub fn concurrency_due(&self, index: u64) -> bool {
        index >= self.concurrency_offset_minutes
            && (index - self.concurrency_offset_minutes).is_multiple_of(self.concurrency_every_minutes.max(1))
    }
}

/// A decision policy driven by the simulation.
pub trait Autopilot {
    fn name(&self) -> &str;

    /// True only for a policy that never touches the fleet: the runner may then reuse the
    /// baseline run instead of simulating the same world twice.
    fn is_do_nothing(&self) -> bool {
        false
    }

    /// Minutes of per-minute stats the policy reads back through `StatsStore`.
    fn stats_retention_minutes(&self) -> usize {
        0
    }

    /// True for a policy whose decisions for a function depend on that function alone (its
    /// configuration and its stats; counters across the fleet aside): the simulation may then
    /// run the fleet a group of functions at a time, each group through the whole run, with
    /// the policy's runs over that group only (see [`crate::Simulation::run_all`]). A policy
    /// with fleet-wide state (a fleet budget, a limit on changes per run) must say false.
    fn decides_per_function(&self) -> bool {
        false
    }

    fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary;

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary;
}

/// Changes nothing, ever: the baseline, and the autopilot slot until the engines land.
#[derive(Debug, Clone, Copy, Default)]
pub struct DoNothing;

impl Autopilot for DoNothing {
    fn name(&self) -> &str {
        "do-nothing"
    }

    fn is_do_nothing(&self) -> bool {
        true
    }

    fn decides_per_function(&self) -> bool {
        true
    }

    fn memory_run(&mut self, _now: Minute, _fleet: &FleetPorts<'_>) -> RunSummary {
        RunSummary::default()
    }

    fn concurrency_run(&mut self, _now: Minute, _fleet: &FleetPorts<'_>) -> RunSummary {
        RunSummary::default()
    }
}

/// Two policies in one slot: memory runs go to `memory`, concurrency runs to `concurrency`,
/// as the deployed stack schedules its two state machines.
#[derive(Debug)]
pub struct Both<M, C> {
    pub memory: M,
    pub concurrency: C,
    name: String,
}

impl<M: Autopilot, C: Autopilot> Both<M, C> {
    pub fn new(memory: M, concurrency: C) -> Self {
        // A half that does nothing is left out of the name.
        let name = match (memory.is_do_nothing(), concurrency.is_do_nothing()) {
            (false, true) => memory.name().to_owned(),
            (true, false) => concurrency.name().to_owned(),
            _ => format!("{} + {}", memory.name(), concurrency.name()),
        };
        Self { memory, concurrency, name }
    }
}

impl<M: Autopilot, C: Autopilot> Autopilot for Both<M, C> {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_do_nothing(&self) -> bool {
        self.memory.is_do_nothing() && self.concurrency.is_do_nothing()
    }

    fn stats_retention_minutes(&self) -> usize {
        self.memory.stats_retention_minutes().max(self.concurrency.stats_retention_minutes())
    }

    fn decides_per_function(&self) -> bool {
        self.memory.decides_per_function() && self.concurrency.decides_per_function()
    }

    fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.memory.memory_run(now, fleet)
    }

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.concurrency.concurrency_run(now, fleet)
    }
}

/// A policy that may be absent: `None` does nothing (a half of [`Both`] switched off).
impl<A: Autopilot> Autopilot for Option<A> {
    fn name(&self) -> &str {
        self.as_ref().map_or("do-nothing", Autopilot::name)
    }

    fn is_do_nothing(&self) -> bool {
        self.as_ref().is_none_or(Autopilot::is_do_nothing)
    }

    fn stats_retention_minutes(&self) -> usize {
        self.as_ref().map_or(0, Autopilot::stats_retention_minutes)
    }

    fn decides_per_function(&self) -> bool {
        self.as_ref().is_none_or(Autopilot::decides_per_function)
    }

    fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.as_mut().map(|a| a.memory_run(now, fleet)).unwrap_or_default()
    }

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.as_mut().map(|a| a.concurrency_run(now, fleet)).unwrap_or_default()
    }
}
