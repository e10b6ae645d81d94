//! The cold-start planner: per function alias and slot of the horizon, how many environments
//! to keep warm and by which means. Pure: a forecast, the current state and `now` in, a
//! [`ConcurrencyPlan`] out.
//!
//! - **Provisioned concurrency** where it pays: a PC level costs its allocation and saves the
//!   on-demand/PC duration price difference while busy, so the levels busy above the
//!   break-even utilisation (60% at us-east-1 prices) lower the bill; levels below it cost
//!   money and are bought only when the cold starts they prevent are worth more.
//! - **Keep-warm** (opt-in per group) above PC and for sparse traffic: k overlapping warm-up
//!   calls every P minutes (P shorter than the reclaim time) keep k environments alive at a
//!   few requests' price. Warm-up calls take idle environments only, so a round of k calls
//!   touches the k idle ones above whatever callers hold at that moment: callers arriving
//!   during the hold find the environments their own earlier calls free, and those who find
//!   none start cold ([`crowding`]).
//! - **Nothing** where a cold start is cheaper than either.
//!
//! The search ([`search`]) minimises expected extra money plus the policy's cold-start
//! penalty over the whole horizon with the PC level as state: lowering PC exposes levels whose
//! on-demand environments were reclaimed while PC served them, raising it bills an extra
//! 5-minute step for the allocation lead time. Hysteresis follows from those two costs
//! rather than from a threshold.
//!
//! With a money cap (`maxExtraCostPct`, `budgetPerDayUsd`) the group states a budget rather
//! than a price of latency: each slot may add at most its share (a share left unspent may
//! be spent by a later slot, never ahead of its own; one-off transitions are paid for by the
//! horizon's total), and within it the planner removes as
//! many cold starts as it can (money only breaks ties). Savings count only as far as they are
//! sure: PC's as busy as the forecast's lowest scenario keeps it, INIT's as the history has
//! shown. See [`levels`] for the traffic model.

pub mod acts;
pub mod crowding;
pub mod evidence;
pub mod ledger;
pub mod levels;
pub mod prices;
pub mod schedule;
pub mod search;
pub mod warmup;

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::cost::CostModel;
use crate::decision::{ConcurrencyPlan, ConcurrencyReason, PlannedSlot};
use crate::domain::{Architecture, FunctionRef, MemoryMb, Minute};
use crate::forecast::{Forecast, ModelKind};
use crate::policy::ConcurrencyPolicy;
use evidence::IdleEvidence;
use levels::{FirstLevelEvidence, LevelsAtStart, SlotLevels};
use prices::UnitPrices;
use search::{BUDGET_PENALTY_USD, Choice, Held, SlotEval, path_fits, plan_levels};

/// Mean duration assumed when a function has no traffic history at all (ms).
pub const DEFAULT_DURATION_MS: f64 = 100.0;

/// What the planner needs to know of the function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionProfile {
    pub architecture: Architecture,
    pub memory: MemoryMb,
    /// Mean busy time per invocation (ms); `None` = take the forecast's.
    pub mean_duration_ms: Option<f64>,
    /// Mean INIT duration of a cold start (ms), billed since 2025-08-01.
    pub init_ms: f64,
    /// What the history says about calls after idle spells ([`evidence`]); `None` = the
    /// level model alone.
    #[serde(default)]
    pub idle_evidence: Option<IdleEvidence>,
}

/// What is in place now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannerState {
    /// Provisioned concurrency currently requested on the alias.
    pub provisioned: u32,
    /// Highest level the warm-up rounds now going out keep warm (0 = none): levels up to it
    /// are alive, and keeping them warm costs no round landing cold.
    #[serde(default)]
    pub warm_top: u32,
    /// The money actually spent is over the policy's cap ([`ledger::SpendLedger`]): the plan
    /// gets no budget, and does only what pays for itself, until the calls have earned the
    /// cap back. Without a cap it changes nothing.
    #[serde(default)]
    pub overspent: bool,
}

/// The buffers of a plan's slots, kept from one plan to the next on each thread: a plan
/// allocates the per-level figures of its slots only when it has more slots or levels than
/// any plan before it on the thread.
#[derive(Debug, Default)]
struct Scratch {
    /// Levels of the slots (the first `forecast.slots.len()` in use).
    levels: Vec<SlotLevels>,
    /// Working buffer of [`SlotLevels::refill`].
    work: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Plans the horizon of `forecast` for `function`.
pub fn plan(
    function: &FunctionRef,
    now: Minute,
    forecast: &Forecast,
    profile: &FunctionProfile,
    state: &PlannerState,
    policy: &ConcurrencyPolicy,
    cost: &CostModel,
) -> ConcurrencyPlan {
    let request = Request { function, now, forecast, profile, state, policy, cost };
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => plan_in(&request, &mut scratch),
        // Not reached (a plan calls no plan), but a fresh scratch would do.
        Err(_) => plan_in(&request, &mut Scratch::default()),
    })
}

/// The arguments of [`plan`].
struct Request<'a> {
    function: &'a FunctionRef,
    now: Minute,
    forecast: &'a Forecast,
    profile: &'a FunctionProfile,
    state: &'a PlannerState,
    policy: &'a ConcurrencyPolicy,
    cost: &'a CostModel,
}

fn plan_in(request: &Request<'_>, scratch: &mut Scratch) -> ConcurrencyPlan {
    let Request { function, now, forecast, profile, state, policy, cost } = *request;
    let duration_ms = profile.mean_duration_ms.or(forecast.mean_duration_ms).unwrap_or(DEFAULT_DURATION_MS);
    let prices = UnitPrices::new(cost, profile.architecture, profile.memory, duration_ms, profile.init_ms, policy);
    let slot_s = f64::from(policy.slot_minutes) * 60.0;
    // The reclaim time the function's own idle spells point to (the policy's assumption
    // without evidence), never below the keep-warm period that is meant to beat it.
    let reclaim_minutes = profile.idle_evidence.map_or(policy.assumed_reclaim_minutes, |e| {
        e.reclaim_minutes(policy.assumed_reclaim_minutes, policy.keep_warm_period_minutes + 1)
    });
    let reclaim_s = f64::from(reclaim_minutes) * 60.0;
    let n = forecast.slots.len();
    if scratch.levels.len() < n {
        scratch.levels.resize_with(n, SlotLevels::default);
    }
    let levels = &mut scratch.levels[..n];
    for (i, s) in forecast.slots.iter().enumerate() {
        let (before, rest) = levels.split_at_mut(i);
        let start = match before.last() {
            Some(prev) => LevelsAtStart::After(&prev.alive_after),
            None => alive_now(forecast, reclaim_minutes),
        };
        rest[0].refill(
            &s.invocations_per_minute,
            s.mean_per_minute,
            duration_ms / 1000.0,
            (slot_s, reclaim_s),
            start,
            &mut scratch.work,
        );
    }
    if let Some(evidence) = &profile.idle_evidence {
        let first = FirstLevelEvidence::new(evidence, policy.assumed_reclaim_minutes);
        for lv in levels.iter_mut() {
            lv.calibrate_first_level(&first, slot_s);
        }
    }
    let budgeted = policy.is_capped();
    if budgeted {
        levels.iter_mut().for_each(SlotLevels::count_sure_busy);
    }
    let levels = &*levels;
    let max_pc = if policy.enabled { policy.max_provisioned.unwrap_or(u32::MAX) } else { 0 };
    let rounds = f64::from(policy.slot_minutes) / f64::from(policy.keep_warm_period_minutes.max(1));
    // On-demand cost of each slot; under a budget with level 1's cold starts as far as the
    // history has shown them (the savings a budget may count on).
    let baseline: Vec<f64> = levels
        .iter()
        .map(|lv| {
            let mut cold = lv.cold.iter().sum::<f64>();
            if budgeted && let Some(first) = lv.cold.first() {
                cold += lv.first_cold_for_budget() - first;
            }
            lv.mean_rate * slot_s * prices.invocation + cold * prices.init
        })
        .collect();
    let mut budgets = slot_budgets(policy, &baseline);
    if state.overspent
        && let Some(b) = &mut budgets
    {
        b.fill(0.0);
    }
    let search = |penalty: f64| {
        let evals: Vec<SlotEval<'_>> = levels
            .iter()
            .map(|lv| SlotEval::new(lv, &prices, rounds, policy.keep_warm, max_pc, (penalty, budgeted)))
            .collect();
        let alone: Vec<Choice> = evals.iter().map(SlotEval::standalone).collect();
        let held = Held { provisioned: state.provisioned, warm_top: state.warm_top };
        let path = plan_levels(&evals, &alone, held);
        let fits = budgets.as_ref().is_none_or(|b| path_fits(&evals, &path, held, b));
        (evals, alone, path, fits)
    };
    let (evals, alone, path, bound) = match budgets {
        None => {
            let (e, a, p, _) = search(prices.cold_start - prices.init);
            (e, a, p, false)
        }
        Some(_) => {
            // The highest price of a cold start whose plan fits the budget (bisection on a
            // log scale; a price near zero gives the cheapest plan, which always fits).
            let top = search(BUDGET_PENALTY_USD);
            if top.3 {
                (top.0, top.1, top.2, false)
            } else {
                let (mut lo, mut hi) = (1e-9f64, BUDGET_PENALTY_USD);
                let mut best = search(lo);
                for _ in 0..BUDGET_SEARCH_STEPS {
                    let mid = (lo * hi).sqrt();
                    let r = search(mid);
                    if r.3 {
                        lo = mid;
                        best = r;
                    } else {
                        hi = mid;
                    }
                }
                (best.0, best.1, best.2, true)
            }
        }
    };
    let path = if forecast.model == ModelKind::NoHistory { Vec::new() } else { path };
    let break_even = cost.pc_break_even_utilisation(profile.architecture);
    let mut plan = ConcurrencyPlan {
        function: function.clone(),
        made_at: now,
        slots: Vec::with_capacity(forecast.slots.len()),
        expected_cost_usd: baseline.iter().sum(),
        baseline_cost_usd: baseline.iter().sum(),
        expected_cold_starts: 0.0,
        baseline_cold_starts: evals.iter().map(SlotEval::baseline_cold).sum(),
        keep_warm_period_minutes: if policy.keep_warm { policy.keep_warm_period_minutes } else { 0 },
        keep_warm_hold_ms: if policy.keep_warm { policy.keep_warm_hold_ms } else { 0 },
    };
    let mut prev = Held { provisioned: state.provisioned, warm_top: state.warm_top };
    for (i, slot) in forecast.slots.iter().enumerate() {
        let p99 = slot.invocations_per_minute.p99();
        let Some(choice) = path.get(i) else {
            plan.expected_cold_starts = plan.baseline_cold_starts;
            plan.slots.push(PlannedSlot {
                start: slot.start,
                provisioned: 0,
                keep_warm: 0,
                reason: ConcurrencyReason::InsufficientHistory { minutes: forecast.history_minutes },
                keep_warm_reason: None,
                forecast_p99_per_minute: p99,
                expected_cold_starts: evals[i].baseline_cold(),
            });
            continue;
        };
        let eval = &evals[i];
        let (money, transition_cold) = eval.transition(prev, choice);
        plan.expected_cost_usd += choice.extra_money + money;
        let cold = choice.cold + transition_cold;
        plan.expected_cold_starts += cold;
        plan.slots.push(PlannedSlot {
            start: slot.start,
            provisioned: choice.provisioned,
            keep_warm: choice.warm_top,
            reason: pc_reason(choice, &alone[i], eval, break_even, p99, bound),
            keep_warm_reason: policy.keep_warm.then(|| warm_reason(choice, eval, p99, bound)),
            forecast_p99_per_minute: p99,
            expected_cold_starts: cold,
        });
        prev = Held::from(choice);
    }
    plan
}

/// The environments alive when the horizon starts: those that served in the last
/// `reclaim_minutes` (steady state when the forecast does not say).
fn alive_now(forecast: &Forecast, reclaim_minutes: u32) -> LevelsAtStart<'static> {
    if forecast.recent_environments.is_empty() {
        return LevelsAtStart::Steady;
    }
    let n = forecast.recent_environments.iter().take(reclaim_minutes as usize).max().copied().unwrap_or(0);
    LevelsAtStart::Alive(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The money each slot may add under the policy's cap (its share of the slot's on-demand
/// cost) and budget (the day's budget spread evenly over its slots); `None` without either.
fn slot_budgets(policy: &ConcurrencyPolicy, baseline: &[f64]) -> Option<Vec<f64>> {
    if policy.max_extra_cost_pct.is_none() && policy.budget_per_day_usd.is_none() {
        return None;
    }
    let per_day = policy.budget_per_day_usd.map(|b| b * f64::from(policy.slot_minutes) / 1440.0);
    let share = |cost: f64| policy.max_extra_cost_pct.map_or(f64::INFINITY, |pct| pct / 100.0 * cost);
    Some(baseline.iter().map(|&cost| share(cost).min(per_day.unwrap_or(f64::INFINITY))).collect())
}

/// Bisection steps of the budget search (a factor of 1e9 in cold-start price to ≈ 4%).
const BUDGET_SEARCH_STEPS: usize = 14;

fn pc_reason(
    choice: &Choice,
    alone: &Choice,
    eval: &SlotEval<'_>,
    break_even: f64,
    p99: f64,
    bound: bool,
) -> ConcurrencyReason {
    let p = choice.provisioned as usize;
    if p > 0 && choice.provisioned != alone.provisioned {
        return ConcurrencyReason::Hysteresis;
    }
    if p > 0 {
        let utilisation = eval.levels.busy[..p.min(eval.levels.levels())].iter().sum::<f64>() / p as f64;
        return ConcurrencyReason::BusyAboveBreakEven { utilisation, break_even };
    }
    if bound && choice.cold > 0.0 {
        return ConcurrencyReason::Capped { limit: BUDGET_LIMIT.to_owned() };
    }
    if p99 <= 0.0 {
        return ConcurrencyReason::Idle;
    }
    ConcurrencyReason::ColdStartsCheaper { expected_cold_starts: choice.cold }
}

const BUDGET_LIMIT: &str = "maxExtraCostPct/budgetPerDayUsd";

fn warm_reason(choice: &Choice, eval: &SlotEval<'_>, p99: f64, bound: bool) -> ConcurrencyReason {
    if choice.warm_top > 0 {
        return ConcurrencyReason::KeepWarmCheaper { expected_cold_starts: eval.baseline_cold() - choice.cold };
    }
    if bound && choice.cold > 0.0 {
        return ConcurrencyReason::Capped { limit: BUDGET_LIMIT.to_owned() };
    }
    if p99 <= 0.0 {
        return ConcurrencyReason::Idle;
    }
    ConcurrencyReason::ColdStartsCheaper { expected_cold_starts: choice.cold }
}

#[cfg(test)]
mod tests;
