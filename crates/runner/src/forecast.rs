//! forecast: per function of a batch, the core forecaster over the window's per-minute load and
//! the model kept from earlier runs, stored (with the window's mean INIT) for apply-concurrency.

use autopilot_core::forecast::kept::{BinHistory, KeptModel, ModelSource, model_source, refit_offset_minutes};
use autopilot_core::forecast::{ForecastConfig, ModelKind, SeasonalModel, Series, forecast_with};
use autopilot_core::observe::{MinuteLoad, WindowSummary};
use autopilot_core::planner::acts::{ledger_minutes, pc_minutes, round_minutes, warm_top, without_warmups};
use autopilot_core::planner::evidence::IdleEvidence;
use autopilot_core::planner::ledger::count_window;
use autopilot_core::policy::Mode;
use autopilot_core::ports::{PortResult, RunStore, StoredForecast};
use autopilot_core::{FunctionRef, Minute};

use crate::contract::{BatchInput, ForecastOutput, RunKind, SkipReason, Skipped};
use crate::{RunError, execution_id_ok, unqualified, valid_policy};

/// Checks a batch input for a step of `run`.
pub(crate) fn valid_batch(input: &BatchInput, run: RunKind, step: &str) -> Result<(), RunError> {
    valid_policy(&input.policy)?;
    execution_id_ok(&input.execution_id)?;
    unqualified(&input.functions)?;
    if input.run != run {
        return Err(RunError::InvalidInput(format!("{step} belongs to {run} runs, not {} runs", input.run)));
    }
    if input.window.minutes() <= 0 || input.window.to.0 > input.now.0 {
        return Err(RunError::InvalidInput(format!(
            "window {}..{} must be non-empty and end at or before now {}",
            input.window.from.0, input.window.to.0, input.now.0
        )));
    }
    Ok(())
}

/// Start of the forecast made at `now`: `now` rounded down to the slot (the key the forecast
/// is stored under).
pub fn forecast_origin(now: Minute, slot_minutes: u32) -> Minute {
    let slot = i64::from(slot_minutes.max(1));
    Minute(now.0.div_euclid(slot) * slot)
}

/// Mean INIT duration of the window's cold starts and restores (ms).
pub fn mean_init_ms(summary: &WindowSummary) -> Option<f64> {
    let init = summary.total().init;
    (init.count() > 0).then(|| init.sum() / init.count() as f64)
}

pub async fn forecast_batch<R: RunStore>(store: &R, input: &BatchInput) -> Result<ForecastOutput, RunError> {
    valid_batch(input, RunKind::Concurrency, "forecast")?;
    let mut out = ForecastOutput { forecasts: 0, without_history: Vec::new(), skipped: Vec::new() };
    if input.policy.mode == Mode::Observe {
        return Ok(out);
    }
    let k = &input.policy.concurrency;
    let config = ForecastConfig { slot_minutes: k.slot_minutes, ..ForecastConfig::default() };
    let mut failures = Vec::new();
    for function in &input.functions {
        match forecast_one(store, input, function, &config).await {
            Ok(Some(kind)) => {
                out.forecasts += 1;
                if kind == ModelKind::NoHistory {
                    out.without_history.push(function.clone());
                }
            }
            Ok(None) => out.skipped.push(Skipped { function: function.clone(), reason: SkipReason::NoSummary }),
            Err(e) => failures.push((function.clone(), e)),
        }
    }
    match RunError::from_failures(input.functions.len(), failures) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

async fn forecast_one<R: RunStore>(
    store: &R,
    input: &BatchInput,
    function: &FunctionRef,
    config: &ForecastConfig,
) -> PortResult<Option<ModelKind>> {
    let (from, to) = (input.window.from.0, input.window.to.0);
    let Some(mut summary) = store.get_summary(function, from, to).await? else { return Ok(None) };
    let k = &input.policy.concurrency;
    // The stats count the autopilot's own warm-up calls as invocations: forecast from the
    // callers' load alone (see `autopilot_core::planner::acts`).
    let acts = store.get_acts(function, from, input.now.0.plus(1)).await?;
    let mut load = std::mem::take(&mut summary.load);
    without_warmups(&mut load, &acts);
    let model = model_at(store, function, &load, from, input.now.0, config).await?;
    let mut forecast = forecast_with(&model, &load, k.horizon_minutes, config);
    let kind = forecast.model;
    // The environments seen lately are not handed on: the stats count every environment that
    // served in a minute, one after the other included, which at a busy API is more than were
    // alive at once, and the plan counted on levels that were gone. On the simulator's demo
    // fleet busy APIs kept 208 of 235 cold starts with them, 157 without
    // (crates/bench/tests/deployed.rs asks for under 70%).
    forecast.recent_environments.clear();
    // Calls after idle spells, those a round or PC kept warm left out: they say nothing
    // about how long AWS keeps an idle environment.
    let rounds = round_minutes(&acts);
    let pc = pc_minutes(&acts, from, to, k.slot_minutes);
    let evidence = IdleEvidence::from_history(&load, &rounds, &pc, from);
    let reclaim = evidence.reclaim_minutes(k.assumed_reclaim_minutes, k.keep_warm_period_minutes + 1);
    let stored = StoredForecast {
        function: function.clone(),
        forecast,
        init_ms: mean_init_ms(&summary),
        idle_evidence: Some(evidence),
        warm_top: warm_top(&acts, input.now.0, reclaim),
        spend: k.is_capped().then(|| count_window(&ledger_minutes(&load, &acts, from, to, k.slot_minutes), reclaim)),
    };
    store.put_forecast(&stored).await?;
    Ok(Some(kind))
}

/// The function's model at the run's origin, from the callers' per-minute `load` of the
/// window starting at `from`: the kept model advanced over the window's bins, or, when a refit
/// is due, refitted on the kept history extended with them, both kept again (see
/// `autopilot_core::forecast::kept`). A window alone holds a day: without what is kept the
/// model would never have the two days a daily profile needs.
async fn model_at<R: RunStore>(
    store: &R,
    function: &FunctionRef,
    load: &[MinuteLoad],
    from: Minute,
    now: Minute,
    config: &ForecastConfig,
) -> PortResult<SeasonalModel> {
    let step = config.slot_minutes.max(1);
    let origin = forecast_origin(now, step);
    let window_bins = (i64::from(config.max_history_days) * Minute::PER_DAY / i64::from(step)) as usize;
    let recent = Series::from_minute_loads(from.min(origin), origin, load, &[]).rebin(step);
    let kept = store.get_model(function).await?;
    match model_source(kept, &recent, refit_offset_minutes(function.name())) {
        ModelSource::Advanced(model) => Ok(*model),
        ModelSource::WindowOnly => Ok(SeasonalModel::fit(&recent, config.max_history_days)),
        ModelSource::Refit => {
            let history = BinHistory::extended(store.get_history(function).await?, &recent, window_bins);
            if history.end() != origin {
                // A kept history that runs past this run (an old execution run again, its model
                // gone): this run's bins alone, nothing kept.
                return Ok(SeasonalModel::fit(&recent, config.max_history_days));
            }
            let model = SeasonalModel::fit(&history.series(), config.max_history_days);
            // The history first: a model is never kept ahead of the history it came from.
            store.put_history(function, &history).await?;
            store.put_model(function, &KeptModel { fitted_at: origin, model: model.clone() }).await?;
            Ok(model)
        }
    }
}
