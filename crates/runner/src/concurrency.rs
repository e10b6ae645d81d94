//! apply-concurrency: per function of a batch, the core planner's plan from the stored
//! forecast and the PC in place now; the PC level to request (a lead time ahead) on the
//! function's alias, and, when the policy opts in, one keep-warm round.
//!
//! PC is set on the function's first alias; a function without an alias gets no PC (Lambda
//! sets PC on an alias or version, never `$LATEST`) and keep-warm, if any, on `$LATEST`.
//! Change records of PC are kept under the alias (`name:alias`), which is what rollback
//! takes to restore them.

use autopilot_core::cost::CostModel;
use autopilot_core::decision::ConcurrencyPlan;
use autopilot_core::planner::prices::UnitPrices;
use autopilot_core::planner::warmup::round_hold_ms;
use autopilot_core::planner::{DEFAULT_DURATION_MS, FunctionProfile, PlannerState, ledger, plan};
use autopilot_core::policy::{ConcurrencyPolicy, Mode};
use autopilot_core::ports::{
    ActRecord, Change, ChangeLog, ChangeRecord, ChangeStatus, ErrorKind, EventSink, FunctionControl, FunctionState,
    Lease, PortError, PortResult, Recorded, RunStore, detail_type,
};
use autopilot_core::{Concurrency, FunctionRef, MemoryMb};
use serde_json::json;

use crate::RunError;
use crate::act::{acquire, apply_recorded, change_id, kind, record_intent, release_after};
use crate::contract::{
    ApplyConcurrencyOutput, BatchInput, ConcurrencyResult, Outcome, RunKind, SkipReason, Skipped, Warmed,
};
use crate::events::event;
use crate::forecast::{forecast_origin, valid_batch};

/// INIT assumed for a function whose window had no cold start (ms).
pub const DEFAULT_INIT_MS: f64 = 200.0;

/// The ports apply-concurrency reads and acts through.
pub type ConcurrencyPorts<'a, F, C, E, L, R> = crate::act::ActingPorts<'a, F, C, E, L, R>;

enum Done {
    Kept,
    Changed(ConcurrencyResult),
    Skipped(SkipReason),
}

pub async fn apply_concurrency_batch<F, C, E, L, R>(
    p: &ConcurrencyPorts<'_, F, C, E, L, R>,
    input: &BatchInput,
) -> Result<ApplyConcurrencyOutput, RunError>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
    R: RunStore,
{
    valid_batch(input, RunKind::Concurrency, "apply-concurrency")?;
    let mode = input.policy.mode;
    let mut out = ApplyConcurrencyOutput {
        mode,
        evaluated: 0,
        kept: 0,
        results: Vec::new(),
        warmed: Vec::new(),
        skipped: Vec::new(),
    };
    if mode == Mode::Observe {
        return Ok(out);
    }
    let mut failures = Vec::new();
    for function in &input.functions {
        match one(p, input, function, &mut out.warmed).await {
            Ok(Done::Kept) => {
                out.evaluated += 1;
                out.kept += 1;
            }
            Ok(Done::Changed(r)) => {
                out.evaluated += 1;
                out.results.push(r);
            }
            Ok(Done::Skipped(reason)) => out.skipped.push(Skipped { function: function.clone(), reason }),
            Err(e) => failures.push((function.clone(), e)),
        }
    }
    match RunError::from_failures(input.functions.len(), failures) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The plan for `target` at `now`, from the stored forecast (made over a window of
/// `window_minutes`) and the PC in place.
pub fn plan_for(
    target: &FunctionRef,
    config: &autopilot_core::ports::FunctionConfig,
    stored: &autopilot_core::ports::StoredForecast,
    current: u32,
    policy: &ConcurrencyPolicy,
    (now, window_minutes): (autopilot_core::Minute, i64),
) -> ConcurrencyPlan {
    let profile = FunctionProfile {
        architecture: config.architecture,
        memory: config.memory,
        mean_duration_ms: None,
        init_ms: stored.init_ms.unwrap_or(DEFAULT_INIT_MS),
        idle_evidence: stored.idle_evidence,
    };
    let cost = CostModel::default();
    // The money the window's PC and rounds spent, against the cap: over it, the plan gets no
    // budget and does only what pays for itself (`PlannerState::overspent`).
    let overspent = stored.spend.is_some_and(|spend| {
        let duration = stored.forecast.mean_duration_ms.unwrap_or(DEFAULT_DURATION_MS);
        let prices = UnitPrices::new(&cost, config.architecture, config.memory, duration, profile.init_ms, policy);
        let (calls, extra) = (spend.calls_usd(&prices), spend.extra_usd(&prices, policy.slot_minutes));
        ledger::overspent(policy, calls, extra, window_minutes) > 0.0
    });
    let policy = if target.is_alias() {
        policy.clone()
    } else {
        ConcurrencyPolicy { max_provisioned: Some(0), ..policy.clone() }
    };
    plan(
        target,
        now,
        &stored.forecast,
        &profile,
        &PlannerState { provisioned: current, warm_top: stored.warm_top, overspent },
        &policy,
        &cost,
    )
}

async fn one<F, C, E, L, R>(
    p: &ConcurrencyPorts<'_, F, C, E, L, R>,
    input: &BatchInput,
    function: &FunctionRef,
    warmed: &mut Vec<Warmed>,
) -> PortResult<Done>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
    R: RunStore,
{
    let k = &input.policy.concurrency;
    let now = input.now.0;
    // Only the function itself missing means "gone, skip it"; a resource missing after a
    // change (the event bus, the table) is a failure of the batch.
    let config = match p.control.get_function(function).await {
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(Done::Skipped(SkipReason::NotFound)),
        config => config?,
    };
    let Some(stored) = p.store.get_forecast(function, forecast_origin(now, k.slot_minutes)).await? else {
        return Ok(Done::Skipped(SkipReason::NoForecast));
    };
    if config.aliases.first().is_some_and(|a| a.routing.canary.is_some()) {
        return Ok(Done::Skipped(SkipReason::CanaryInProgress));
    }
    let alias = config.aliases.first().map(|a| a.name.clone());
    let target = function.with_qualifier(alias.as_deref()).map_err(|e| {
        PortError::new(ErrorKind::Fatal, "apply-concurrency", format!("{function}: alias not valid: {e}"))
    })?;
    let current = match &alias {
        Some(_) => match p.control.get_provisioned(&target).await {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(Done::Skipped(SkipReason::NotFound)),
            pc => pc?.map_or(0, |pc| pc.requested.get()),
        },
        None => 0,
    };
    let plan = plan_for(&target, &config, &stored, current, k, (now, input.window.minutes()));
    let level =
        if k.enabled { plan.provisioned_to_request(now, k.slot_minutes, k.allocation_lead_minutes) } else { current };
    let mode = input.policy.mode;
    let mut done = Done::Kept;
    if alias.is_some() && level != current {
        done = if mode.applies_changes() {
            change_pc(p, input, &target, current, level, config.memory, &plan).await?
        } else {
            let detail = json!({"kind": "concurrency", "target": target, "from": current, "to": level, "plan": plan});
            p.events.publish(&[event(detail_type::RECOMMENDATION, &target, mode, now, detail)]).await?;
            Done::Changed(ConcurrencyResult {
                target: target.clone(),
                from: current,
                to: level,
                outcome: Outcome::Recommended,
            })
        };
    }
    if !mode.applies_changes() {
        return Ok(done);
    }
    let provisioned = match &done {
        Done::Changed(r) if matches!(r.outcome, Outcome::Applied | Outcome::AlreadyThere) => r.to,
        _ => current,
    };
    let mut act = ActRecord {
        function: function.clone(),
        minute: now,
        provisioned,
        warm_sent: 0,
        warm_cold: 0,
        warm_failed: 0,
        warm_hold_ms: 0,
    };
    // Rounds go out every run, a run every `keepWarmPeriodMinutes` (the schedule's rate).
    let next_round = now.plus(i64::from(k.keep_warm_period_minutes));
    let count = if k.keep_warm { plan.keep_warm_until(now, next_round, k.slot_minutes) } else { 0 };
    if count > 0 {
        act.warm_hold_ms = round_hold_ms(count, k.keep_warm_hold_ms);
        let w = p.control.warm(&target, count, act.warm_hold_ms).await?;
        (act.warm_sent, act.warm_cold, act.warm_failed) = (w.sent, w.landed_cold, w.failed);
        warmed.push(Warmed { target, sent: w.sent, landed_cold: w.landed_cold, failed: w.failed });
    }
    // The next forecasts take these rounds out of the stats, and see the PC in place.
    if act.acted() {
        p.store.put_act(&act).await?;
    }
    Ok(done)
}

async fn change_pc<F, C, E, L, R>(
    p: &ConcurrencyPorts<'_, F, C, E, L, R>,
    input: &BatchInput,
    target: &FunctionRef,
    current: u32,
    level: u32,
    memory: MemoryMb,
    plan: &ConcurrencyPlan,
) -> PortResult<Done>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
{
    let (now, owner) = (input.now.0, input.execution_id.as_str());
    if !acquire(p.lease, target, owner, now).await? {
        return Ok(Done::Skipped(SkipReason::LeaseHeld));
    }
    let work = async {
        let id = change_id(owner, target, kind::PROVISIONED);
        let record = ChangeRecord {
            id: id.clone(),
            function: target.clone(),
            at: now,
            change: Change::Provisioned { from: current, to: level },
            previous: FunctionState { memory, alias: None, provisioned: Concurrency::new(u64::from(current)).ok() },
            status: ChangeStatus::Intended,
            reason: serde_json::to_value(plan).unwrap_or_default(),
        };
        let (record, how) = record_intent(p.changes, record).await?;
        let Change::Provisioned { from, to } = record.change else {
            return Err(PortError::new(
                ErrorKind::Conflict,
                "apply-concurrency",
                format!("change {id} is not a PC change"),
            ));
        };
        if how == Recorded::AlreadyThere && current == to {
            return Ok(ConcurrencyResult { target: target.clone(), from, to, outcome: Outcome::AlreadyThere });
        }
        apply_recorded(p.changes, &record, set_level(p.control, target, to)).await?;
        let detail = json!({"target": target, "from": from, "to": to, "changeId": id, "plan": plan});
        p.events.publish(&[event(detail_type::CONCURRENCY_CHANGED, target, input.policy.mode, now, detail)]).await?;
        Ok(ConcurrencyResult { target: target.clone(), from, to, outcome: Outcome::Applied })
    }
    .await;
    release_after(p.lease, target, owner, work).await.map(Done::Changed)
}

/// Requests `level` PC on `target` (0 removes the configuration).
pub async fn set_level<F: FunctionControl>(control: &F, target: &FunctionRef, level: u32) -> PortResult<()> {
    if level == 0 {
        control.delete_provisioned(target).await
    } else {
        let c = Concurrency::new(u64::from(level))
            .map_err(|e| PortError::new(ErrorKind::InvalidInput, "apply-concurrency", e.to_string()))?;
        control.put_provisioned(target, c).await
    }
}
