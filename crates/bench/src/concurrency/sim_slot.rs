//! The concurrency autopilot in the simulator's autopilot slot: on each scheduled run, for
//! every opted-in function, read the new minutes' load through `StatsStore` (counters and
//! INIT time, no histograms), forecast and plan with the core, then apply through
//! `FunctionControl` — provisioned concurrency on the alias (requested a lead time ahead;
//! functions without an alias get none) and, when the policy opts in, warm-up rounds.
//!
//! It repeats what crates/runner's forecast and apply-concurrency steps do (the Lambdas' code,
//! run over the simulator's ports by `autopilot bench deployed`), canary skip included,
//! but as a process that lives for the whole simulation rather than a Lambda that starts from
//! the stats table each run, which is what lets a fleet of a thousand functions be simulated
//! for weeks in a minute:
//! - it reads only the minutes new since its last run;
//! - it keeps each function's forecaster ([`Tracker`]: refit daily, the level advanced every
//!   run) and idle evidence ([`IdleTracker`], including what its own warm-up rounds showed);
//! - it replans only when the plan in force no longer holds (see [`needs_replan`]): most runs
//!   apply the plan made earlier, as apply-concurrency does between two forecast runs.
//!
//! Once the runner keeps its state between runs, this slot should become the runner.

use std::collections::HashMap;

use autopilot_core::decision::ConcurrencyPlan;
use autopilot_core::forecast::tracker::DEFAULT_REFIT_MINUTES;
use autopilot_core::forecast::{BinForecast, ForecastConfig, Quantiles, SlotForecast, Tracker};
use autopilot_core::planner::evidence::IdleTracker;
use autopilot_core::planner::warmup::round_hold_ms;
use autopilot_core::planner::{FunctionProfile, PlannerState, plan};
use autopilot_core::policy::ConcurrencyPolicy;
use autopilot_core::ports::{FunctionControl, StatsStore};
use autopilot_core::{Concurrency, MemoryMb, Minute};
use autopilot_sim::ports::FleetPorts;
use autopilot_sim::{Autopilot, RunSummary, block_on};

/// INIT assumed before any cold start has been measured (ms).
const DEFAULT_INIT_MS: f64 = 200.0;
/// A forecast quantile (calls per minute) that moved by more than this share of its value ...
const REPLAN_RELATIVE: f64 = 0.1;
/// ... and by more than this many calls per minute makes the plan stale.
const REPLAN_ABSOLUTE: f64 = 0.05;
/// A plan is remade at the latest when this many slots of it are left ahead.
const REPLAN_SLOTS_LEFT: usize = 2;

#[derive(Debug, Clone)]
struct FunctionState {
    forecaster: Tracker,
    idle: IdleTracker,
    init_ms: Option<f64>,
    requested: u32,
    last_warm: Option<Minute>,
    /// Minutes in which this autopilot sent warm-up rounds, and had PC in place, since the
    /// last minute with calls (what [`IdleTracker`] still needs).
    rounds: Vec<Minute>,
    pc: Vec<Minute>,
    plan: Option<ConcurrencyPlan>,
    /// What the plan in force was made from, and the slot of the last forecast.
    planned: Planned,
    forecast_origin: Option<Minute>,
}

impl FunctionState {
    /// A function first seen at `now`: its history starts there (earlier minutes are unknown).
    fn new(now: Minute, forecast: ForecastConfig) -> Self {
        Self {
            forecaster: Tracker::new(now, forecast, DEFAULT_REFIT_MINUTES),
            idle: IdleTracker::default(),
            init_ms: None,
            requested: 0,
            last_warm: None,
            rounds: Vec::new(),
            pc: Vec::new(),
            plan: None,
            planned: Planned::default(),
            forecast_origin: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Planned {
    slots: Vec<SlotForecast>,
    memory: Option<MemoryMb>,
    reclaim_minutes: u32,
}

/// The forecaster + planner behind the simulator's ports.
#[derive(Debug)]
pub struct ConcurrencyAutopilot {
    pub policy: ConcurrencyPolicy,
    pub forecast: ForecastConfig,
    pub opt_in_tag: String,
    state: HashMap<String, FunctionState>,
    /// The run before this one: the time between runs is when the next round goes out.
    last_run: Option<Minute>,
    /// Plans made, and runs that applied a plan made earlier; time spent making plans.
    pub plans: u64,
    pub kept: u64,
    pub planning: std::time::Duration,
}

impl ConcurrencyAutopilot {
    pub fn new(policy: ConcurrencyPolicy, opt_in_tag: &str) -> Self {
        // Two weeks of stats: the weekly profile's two cycles, bounded memory in the simulator.
        let forecast = ForecastConfig { max_history_days: 14, ..ForecastConfig::default() };
        Self {
            policy,
            forecast,
            opt_in_tag: opt_in_tag.to_owned(),
            state: HashMap::new(),
            last_run: None,
            plans: 0,
            kept: 0,
            planning: std::time::Duration::ZERO,
        }
    }

    /// The latest plan made for a function (for reports and tests).
    pub fn plan_of(&self, function: &str) -> Option<&ConcurrencyPlan> {
        self.state.get(function).and_then(|s| s.plan.as_ref())
    }
}

/// A slot's forecast as [`needs_replan`] reads it: its start, then its mean, p90 and p99 in
/// calls per minute.
trait ReplanKeys {
    fn start(&self) -> Minute;
    fn keys(&self) -> [f64; 3];
}

impl ReplanKeys for SlotForecast {
    fn start(&self) -> Minute {
        self.start
    }

    fn keys(&self) -> [f64; 3] {
        let Quantiles(v) = self.invocations_per_minute;
        [self.mean_per_minute, v[4], v[5]]
    }
}

/// A slot of a [`autopilot_core::forecast::ForecastDraft`]: three `exp_m1` for the check
/// rather than the seven of the whole slot.
impl ReplanKeys for (Minute, BinForecast) {
    fn start(&self) -> Minute {
        self.0
    }

    fn keys(&self) -> [f64; 3] {
        [self.1.mean(), self.1.quantile(4), self.1.quantile(5)]
    }
}

/// Whether the plan in force must be remade: none yet, too little of it left ahead, the
/// function's memory (so its price and duration) changed, the reclaim time its idle evidence
/// gives changed, or the forecast of a slot still ahead moved beyond the tolerance on its
/// mean, p90 or p99.
fn needs_replan(
    plan: Option<&ConcurrencyPlan>,
    planned: &Planned,
    now: Minute,
    slots: &[impl ReplanKeys],
    memory: MemoryMb,
    reclaim_minutes: u32,
) -> bool {
    let Some(plan) = plan else { return true };
    let ahead = plan.slots.iter().filter(|s| s.start >= now).count();
    if ahead <= REPLAN_SLOTS_LEFT || planned.memory != Some(memory) || planned.reclaim_minutes != reclaim_minutes {
        return true;
    }
    let moved = |a: f64, b: f64| (a - b).abs() > REPLAN_ABSOLUTE + REPLAN_RELATIVE * a.abs().max(b.abs());
    slots.iter().any(|new| {
        planned.slots.iter().find(|old| old.start == new.start()).is_some_and(|old| {
            let (a, b) = (old.keys(), new.keys());
            a.iter().zip(&b).any(|(x, y)| moved(*x, *y))
        })
    })
}

impl Autopilot for ConcurrencyAutopilot {
    fn name(&self) -> &str {
        "concurrency-planner"
    }

    /// Each function's forecaster, idle evidence and plan are its own; nothing is shared
    /// but the counters of plans made.
    fn decides_per_function(&self) -> bool {
        true
    }

    fn stats_retention_minutes(&self) -> usize {
        // Read incrementally: the minutes since the last run are enough, and runs are at
        // most a day apart.
        Minute::PER_DAY as usize + 60
    }

    fn memory_run(&mut self, _now: Minute, _fleet: &FleetPorts<'_>) -> RunSummary {
        RunSummary::default()
    }

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        let mut summary = RunSummary::default();
        // The next run (and round) comes as long after this one as this one after the last.
        let period = i64::from(self.policy.keep_warm_period_minutes);
        let next_round = now.plus(self.last_run.map_or(period, |t| (now.0 - t.0).max(period)));
        self.last_run = Some(now);
        let Ok(functions) = block_on(fleet.control.list_functions(&self.opt_in_tag)) else { return summary };
        for config in functions {
            // As apply-concurrency does: a function whose alias runs a memory canary is left
            // alone until the canary is promoted or rolled back.
            if config.aliases.first().is_some_and(|a| a.routing.canary.is_some()) {
                continue;
            }
            // PC needs an alias (or a version); keep-warm works on any qualifier.
            let alias = config.aliases.first().map(|a| a.name.clone());
            let Ok(target) = config.function.with_qualifier(alias.as_deref()) else { continue };
            summary.evaluated += 1;
            let name = config.function.name();
            // Looked up before inserting: the entry API would allocate the name at every run
            // (and a check before the lookup would hash the name twice).
            let state = match self.state.get_mut(name) {
                Some(state) => state,
                None => self.state.entry(name.to_owned()).or_insert_with(|| FunctionState::new(now, self.forecast)),
            };
            let read_from = state.forecaster.known_until();
            if read_from < now {
                let Ok(read) = block_on(fleet.control.read_load(&config.function, read_from, now)) else {
                    continue;
                };
                for l in &read.load {
                    state.idle.push(l, &state.rounds, &state.pc, Minute(i64::MIN));
                }
                state.forecaster.push(&read.load, now);
                state.init_ms = read.mean_init_ms().or(state.init_ms);
                // Rounds and PC minutes before the last call say nothing about later spells.
                if let Some(last) = state.idle.last_active() {
                    for list in [&mut state.rounds, &mut state.pc] {
                        let stale = list.partition_point(|m| *m < last);
                        list.drain(..stale);
                    }
                }
            }
            let slot = self.policy.slot_minutes;
            let origin = Minute(now.0.div_euclid(i64::from(slot)) * i64::from(slot));
            // Once per slot of the plan (runs may come more often, and at any phase).
            if state.plan.as_ref().is_none_or(|_| state.forecast_origin != Some(origin)) {
                state.forecast_origin = Some(origin);
                // Three figures of each slot decide whether to replan; only a new plan reads the
                // whole forecast, and what it has besides the model's (busy time, environments).
                let draft = state.forecaster.forecast_draft(now, self.policy.horizon_minutes);
                let evidence = state.idle.evidence;
                let reclaim = evidence
                    .reclaim_minutes(self.policy.assumed_reclaim_minutes, self.policy.keep_warm_period_minutes + 1);
                if needs_replan(state.plan.as_ref(), &state.planned, now, &draft.slots, config.memory, reclaim) {
                    let profile = FunctionProfile {
                        architecture: config.architecture,
                        memory: config.memory,
                        mean_duration_ms: None,
                        init_ms: state.init_ms.unwrap_or(DEFAULT_INIT_MS),
                        idle_evidence: Some(evidence),
                    };
                    let mut forecast = draft.into_forecast();
                    state.forecaster.complete(&mut forecast);
                    // The rounds going out keep the plan's top warm.
                    let warm_top = state
                        .plan
                        .as_ref()
                        .filter(|_| state.last_warm.is_some())
                        .and_then(|p| p.slot_at(now, slot))
                        .map_or(0, |s| s.keep_warm);
                    let planner_state =
                        PlannerState { provisioned: state.requested, warm_top, ..PlannerState::default() };
                    let policy = if alias.is_some() {
                        self.policy.clone()
                    } else {
                        ConcurrencyPolicy { max_provisioned: Some(0), ..self.policy.clone() }
                    };
                    let started = std::time::Instant::now();
                    state.plan =
                        Some(plan(&target, now, &forecast, &profile, &planner_state, &policy, &Default::default()));
                    self.planning += started.elapsed();
                    state.planned =
                        Planned { slots: forecast.slots, memory: Some(config.memory), reclaim_minutes: reclaim };
                    self.plans += 1;
                } else {
                    self.kept += 1;
                }
            }
            let Some(p) = &state.plan else { continue };
            let level = p.provisioned_to_request(now, slot, self.policy.allocation_lead_minutes);
            if alias.is_some() && level != state.requested {
                let applied = if level == 0 {
                    block_on(fleet.control.delete_provisioned(&target))
                } else {
                    block_on(
                        fleet.control.put_provisioned(&target, Concurrency::new(u64::from(level)).unwrap_or_default()),
                    )
                };
                if applied.is_ok() {
                    state.requested = level;
                    summary.changed += 1;
                }
            }
            let due = state.last_warm.is_none_or(|t| now.0 - t.0 >= period);
            if self.policy.keep_warm && due {
                let count = p.keep_warm_until(now, next_round, slot);
                let hold = round_hold_ms(count, self.policy.keep_warm_hold_ms);
                if count > 0 && block_on(fleet.control.warm(&target, count, hold)).is_ok() {
                    state.last_warm = Some(now);
                    state.rounds.push(now);
                }
            }
            if state.requested > 0 {
                state.pc.push(now);
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use autopilot_sim::fleet::{OPT_IN_TAG, demo_fleet};
    use autopilot_sim::{DoNothing, SimConfig, Simulation};

    use super::*;

    fn forecast_slots(from: i64, means: &[f64]) -> Vec<SlotForecast> {
        means
            .iter()
            .enumerate()
            .map(|(i, &m)| SlotForecast {
                start: Minute(from + 5 * i as i64),
                invocations_per_minute: Quantiles([0.5 * m, 0.7 * m, m, 1.3 * m, 1.6 * m, 2.5 * m]),
                mean_per_minute: m,
            })
            .collect()
    }

    #[test]
    fn a_plan_is_kept_while_its_forecast_holds_and_remade_when_it_does_not() {
        let function = autopilot_core::FunctionRef::parse("f:live").unwrap();
        let memory = MemoryMb::new(512).unwrap();
        let slots = forecast_slots(0, &[10.0; 12]);
        let made = plan(
            &function,
            Minute(0),
            &autopilot_core::forecast::Forecast {
                origin: Minute(0),
                slot_minutes: 5,
                model: autopilot_core::forecast::ModelKind::Daily,
                history_minutes: 5_000,
                mean_duration_ms: Some(100.0),
                slots: slots.clone(),
                recent_environments: Vec::new(),
            },
            &FunctionProfile {
                architecture: autopilot_core::Architecture::Arm64,
                memory,
                mean_duration_ms: None,
                init_ms: 300.0,
                idle_evidence: None,
            },
            &PlannerState::default(),
            &ConcurrencyPolicy::default(),
            &Default::default(),
        );
        let planned = Planned { slots: slots.clone(), memory: Some(memory), reclaim_minutes: 10 };
        let at = |now: i64, slots: &[SlotForecast], memory, reclaim| {
            needs_replan(Some(&made), &planned, Minute(now), slots, memory, reclaim)
        };
        assert!(needs_replan(None, &planned, Minute(0), &slots, memory, 10), "no plan yet");
        // Ten minutes on, the forecast of the slots still ahead moved by under the tolerance.
        let later = forecast_slots(10, &[10.4; 12]);
        assert!(!at(10, &later, memory, 10));
        // The same forecast moved by a fifth, or a new size, or a new reclaim time: remade.
        assert!(at(10, &forecast_slots(10, &[12.0; 12]), memory, 10));
        assert!(at(10, &later, MemoryMb::new(1_024).unwrap(), 10));
        assert!(at(10, &later, memory, 14));
        // Near the end of the horizon it is remade whatever the forecast.
        assert!(at(50, &forecast_slots(50, &[10.0; 12]), memory, 10));
        // A sparse function's tiny forecasts move a lot relatively, not in calls.
        let sparse = Planned { slots: forecast_slots(0, &[0.01; 12]), ..planned.clone() };
        assert!(!needs_replan(Some(&made), &sparse, Minute(10), &forecast_slots(10, &[0.02; 12]), memory, 10));
    }

    #[test]
    fn the_planner_in_the_slot_removes_cold_starts_of_the_demo_fleet() {
        // Three days: its history starts with the run, and a daily profile needs two.
        let cfg = SimConfig { seed: 5, minutes: 3 * 1_440, ..SimConfig::default() };
        let baseline = Simulation::new(cfg.clone(), demo_fleet(12, 5), DoNothing).run(&mut |_, _| {});
        let policy = ConcurrencyPolicy { keep_warm: true, ..ConcurrencyPolicy::default() };
        let sim = Simulation::new(cfg, demo_fleet(12, 5), ConcurrencyAutopilot::new(policy, OPT_IN_TAG));
        let ours = sim.run(&mut |_, _| {});
        let busy = |r: &autopilot_sim::SimReport| -> u64 {
            r.functions.iter().filter(|f| f.traffic == "daily+weekly").map(|f| f.cold_starts).sum()
        };
        assert!(busy(&ours) * 10 < busy(&baseline) * 7, "busy APIs: cold starts {} → {}", busy(&baseline), busy(&ours));
        assert!(
            ours.total.cold_starts < baseline.total.cold_starts,
            "cold starts {} → {}",
            baseline.total.cold_starts,
            ours.total.cold_starts
        );
        assert!(ours.total.warmups.sent > 0);
    }
}
