//! The concurrency autopilot in the simulator's autopilot slot: on each scheduled run, for
//! every opted-in function, read the new per-minute stats through `StatsStore`,
//! forecast and plan with the core, then apply through `FunctionControl` — provisioned
//! concurrency on the alias (requested a lead time ahead; functions without an alias get
//! none) and, when the policy opts in, warm-up rounds.
//!
//! It repeats what crates/runner's forecast and apply-concurrency steps do (the Lambdas' code,
//! run over the simulator's ports by crates/runner/tests/simulator.rs), canary skip included,
//! because the runner re-reads a day of stats on every run and a week of 5-minute runs would
//! be slow; it keeps the stats read so far and the evidence of its own warm-up rounds instead.
//! Once the runner reads incrementally, this slot should become the runner.

use std::collections::{BTreeMap, HashMap};

use autopilot_core::decision::ConcurrencyPlan;
use autopilot_core::forecast::{ForecastConfig, forecast_load};
use autopilot_core::observe::MinuteLoad;
use autopilot_core::planner::evidence::IdleEvidence;
use autopilot_core::planner::{FunctionProfile, PlannerState, plan};
use autopilot_core::policy::ConcurrencyPolicy;
use autopilot_core::ports::{FunctionControl, StatsStore};
use autopilot_core::{Concurrency, Minute};
use autopilot_sim::ports::FleetPorts;
use autopilot_sim::{Autopilot, RunSummary, block_on};

/// INIT assumed before any cold start has been measured (ms).
const DEFAULT_INIT_MS: f64 = 200.0;

#[derive(Debug, Default, Clone)]
struct FunctionState {
    /// Per-minute load read so far (the stats table is read incrementally).
    history: Vec<MinuteLoad>,
    read_until: Option<Minute>,
    init_ms: Option<f64>,
    requested: u32,
    last_warm: Option<Minute>,
    /// Minutes in which this autopilot sent warm-up rounds, and had PC in place.
    rounds: Vec<Minute>,
    pc: Vec<Minute>,
    plan: Option<ConcurrencyPlan>,
}

/// The forecaster + planner behind the simulator's ports.
#[derive(Debug)]
pub struct ConcurrencyAutopilot {
    pub policy: ConcurrencyPolicy,
    pub forecast: ForecastConfig,
    pub opt_in_tag: String,
    state: HashMap<String, FunctionState>,
}

impl ConcurrencyAutopilot {
    pub fn new(policy: ConcurrencyPolicy, opt_in_tag: &str) -> Self {
        // Two weeks of stats: the weekly profile's two cycles, bounded memory in the simulator.
        let forecast = ForecastConfig { max_history_days: 14, ..ForecastConfig::default() };
        Self { policy, forecast, opt_in_tag: opt_in_tag.to_owned(), state: HashMap::new() }
    }

    /// The latest plan made for a function (for reports and tests).
    pub fn plan_of(&self, function: &str) -> Option<&ConcurrencyPlan> {
        self.state.get(function).and_then(|s| s.plan.as_ref())
    }
}

impl Autopilot for ConcurrencyAutopilot {
    fn name(&self) -> &str {
        "concurrency-planner"
    }

    fn stats_retention_minutes(&self) -> usize {
        self.forecast.max_history_days as usize * Minute::PER_DAY as usize
    }

    fn memory_run(&mut self, _now: Minute, _fleet: &FleetPorts<'_>) -> RunSummary {
        RunSummary::default()
    }

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        let mut summary = RunSummary::default();
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
            let from = now.plus(-i64::from(self.forecast.max_history_days) * Minute::PER_DAY);
            let state = self.state.entry(config.function.name().to_owned()).or_default();
            let read_from = state.read_until.map_or(from, |t| t.max(from));
            let Ok(items) = block_on(fleet.control.read_minutes(&config.function, read_from, now)) else { continue };
            let (load, init_ms) = minute_loads(&items);
            state.history.retain(|l| l.minute >= from);
            state.history.extend(load);
            state.read_until = Some(now);
            state.init_ms = init_ms.or(state.init_ms);
            let slot = self.policy.slot_minutes;
            if now.0.rem_euclid(i64::from(slot)) == 0 || state.plan.is_none() {
                let forecast =
                    forecast_load(&state.history, &[], from, now, self.policy.horizon_minutes, &self.forecast);
                let profile = FunctionProfile {
                    architecture: config.architecture,
                    memory: config.memory,
                    mean_duration_ms: None,
                    init_ms: state.init_ms.unwrap_or(DEFAULT_INIT_MS),
                    idle_evidence: Some(IdleEvidence::from_history(
                        &state.history,
                        &state.rounds,
                        &state.pc,
                        Minute(i64::MIN),
                    )),
                };
                let planner_state = PlannerState { provisioned: state.requested };
                let policy = if alias.is_some() {
                    self.policy.clone()
                } else {
                    ConcurrencyPolicy { max_provisioned: Some(0), ..self.policy.clone() }
                };
                state.plan =
                    Some(plan(&target, now, &forecast, &profile, &planner_state, &policy, &Default::default()));
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
            let period = i64::from(self.policy.keep_warm_period_minutes);
            let due = state.last_warm.is_none_or(|t| now.0 - t.0 >= period);
            if self.policy.keep_warm && due {
                let count = p.slot_at(now, slot).map_or(0, |s| s.keep_warm);
                if count > 0 && block_on(fleet.control.warm(&target, count)).is_ok() {
                    state.last_warm = Some(now);
                    state.rounds.push(now);
                }
            }
            if state.requested > 0 {
                state.pc.push(now);
            }
            state.rounds.retain(|m| *m >= from);
            state.pc.retain(|m| *m >= from);
        }
        summary
    }
}

/// Per-minute load (all memory sizes together) and the mean INIT measured, from stats items.
fn minute_loads(items: &[autopilot_core::observe::MinuteStats]) -> (Vec<MinuteLoad>, Option<f64>) {
    let mut by_minute: BTreeMap<Minute, MinuteLoad> = BTreeMap::new();
    let (mut init_sum, mut init_n) = (0.0, 0u64);
    for item in items {
        let c = &item.counters;
        let l = by_minute.entry(item.minute).or_insert(MinuteLoad {
            minute: item.minute,
            invocations: 0,
            concurrency: 0.0,
            environments: 0,
            cold_starts: 0,
        });
        l.invocations += c.invocations;
        l.concurrency += item.mean_concurrency();
        l.environments += c.environments;
        l.cold_starts += c.cold_starts + c.restores;
        init_sum += c.init.sum();
        init_n += c.init.count();
    }
    (by_minute.into_values().collect(), (init_n > 0).then(|| init_sum / init_n as f64))
}

#[cfg(test)]
mod tests {
    use autopilot_sim::fleet::{OPT_IN_TAG, demo_fleet};
    use autopilot_sim::{DoNothing, SimConfig, Simulation};

    use super::*;

    #[test]
    fn the_planner_in_the_slot_removes_cold_starts_of_the_demo_fleet() {
        let cfg = SimConfig { seed: 5, minutes: 1_440, ..SimConfig::default() };
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
