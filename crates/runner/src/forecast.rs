//! forecast: per function of a batch, the core forecaster over the window's per-minute load,
//! stored (with the window's mean INIT) for apply-concurrency.

use autopilot_core::forecast::{ForecastConfig, ModelKind, forecast_load};
use autopilot_core::observe::WindowSummary;
use autopilot_core::planner::evidence::IdleEvidence;
use autopilot_core::policy::Mode;
use autopilot_core::ports::{RunStore, StoredForecast};
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
) -> autopilot_core::ports::PortResult<Option<ModelKind>> {
    let (from, to) = (input.window.from.0, input.window.to.0);
    let Some(summary) = store.get_summary(function, from, to).await? else { return Ok(None) };
    let horizon = input.policy.concurrency.horizon_minutes;
    let mut forecast = forecast_load(&summary.load, &[], from, input.now.0, horizon, config);
    let kind = forecast.model;
    // Idle evidence needs the minutes the autopilot itself kept the function warm (a call
    // after an idle spell that a warm-up round kept warm says nothing about AWS), and no
    // record of those exists here: the planner uses its level model alone. For the same
    // reason the environments seen lately are not handed on: the stats count those that
    // served our own warm-up rounds, and the planner would take them for environments that
    // outlive the next round (on the simulator's demo fleet, busy APIs then kept 190 of 237
    // cold starts; crates/runner/tests/simulator.rs asks for under 70%).
    forecast.recent_environments.clear();
    let idle_evidence: Option<IdleEvidence> = None;
    let stored =
        StoredForecast { function: function.clone(), forecast, init_ms: mean_init_ms(&summary), idle_evidence };
    store.put_forecast(&stored).await?;
    Ok(Some(kind))
}
