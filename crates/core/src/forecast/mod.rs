//! The forecaster: per function, demand over the next planning horizon with quantiles, from
//! its per-minute history. Pure: data and an explicit `now` in, a forecast out.
//!
//! **Why our own model and not augurs (MSTL + ETS).** Both were run on the same rolling-origin
//! benchmark (`autopilot bench forecast`, figures in the benchmark's output and the issue
//! report). augurs needs two full cycles of every period (no weekly model before 14 days), works
//! in f32, rejects gaps, forecasts negative counts on sparse series, under-covers its intervals
//! and costs ≈ 0.1 s per series at 5-minute resolution in release builds: 10,000 functions
//! would take ≈ 1,000 s against a budget of 60 s on one core. The model in [`seasonal`] fits
//! in well under a millisecond per series, takes gaps and zeros as they are, never forecasts
//! below zero, and its quantiles are its own measured errors, so the burst tail the planner
//! relies on is calibrated per function rather than assumed Gaussian.

pub mod kept;
pub mod quantiles;
pub mod seasonal;
pub mod series;
pub mod tracker;

use serde::{Deserialize, Serialize};

pub use quantiles::{LEVELS, Quantiles, SCENARIO_WEIGHTS};
pub use seasonal::{BinForecast, ModelKind, SeasonalModel};
pub use series::Series;
pub use tracker::Tracker;

use crate::domain::Minute;
use crate::observe::MinuteLoad;

/// How the forecaster reads history. Defaults are constants, not tuned to any trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ForecastConfig {
    /// Resolution of the model and of the forecast (minutes). Default 5: the PC billing step
    /// and the plan's slot.
    pub slot_minutes: u32,
    /// History read (days). Default 28: four weekly cycles.
    pub max_history_days: u32,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        Self { slot_minutes: 5, max_history_days: 28 }
    }
}

/// Forecast demand of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotForecast {
    pub start: Minute,
    /// Mean invocations per minute over the slot, at [`LEVELS`].
    pub invocations_per_minute: Quantiles,
    /// Expected invocations per minute over the slot (the mean of the forecast distribution,
    /// which for sparse series is well above its median).
    #[serde(default)]
    pub mean_per_minute: f64,
}

/// Demand over a horizon, and what the planner needs to turn it into concurrency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    /// Start of the first slot: `now` rounded down to the slot.
    pub origin: Minute,
    pub slot_minutes: u32,
    pub model: ModelKind,
    /// Minutes of history with data that the model saw.
    pub history_minutes: u64,
    /// Mean busy time per invocation over the last day with traffic (ms): concurrency =
    /// arrival rate × this (Little's law). `None` without traffic.
    pub mean_duration_ms: Option<f64>,
    pub slots: Vec<SlotForecast>,
    /// Environments that served in each minute before `origin`, the latest first, for up to
    /// [`RECENT_MINUTES`] (0 = none): which environments are alive when the horizon starts.
    /// Empty when unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_environments: Vec<u64>,
}

/// A forecast whose slots are still on the model's scale: what a caller that may not need the
/// forecast at all reads first ([`Tracker::forecast_draft`]), paying for every quantile of
/// every slot only when it does ([`Self::into_forecast`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastDraft {
    /// The forecast but for its slots (empty).
    head: Forecast,
    /// Start of each slot and its forecast.
    pub slots: Vec<(Minute, BinForecast)>,
}

impl ForecastDraft {
    /// The forecast, every slot's quantiles and mean worked out.
    pub fn into_forecast(self) -> Forecast {
        Forecast { slots: slot_forecasts(&self.slots), ..self.head }
    }
}

/// Minutes of [`Forecast::recent_environments`] kept: one default horizon, longer than any
/// reclaim time the planner assumes.
pub const RECENT_MINUTES: usize = 60;

/// Forecasts `horizon_minutes` from `now` out of the per-minute load of `[history_from, now)`
/// (absent minutes are idle, `gaps` are minutes without data).
pub fn forecast_load(
    load: &[MinuteLoad],
    gaps: &[Minute],
    history_from: Minute,
    now: Minute,
    horizon_minutes: u32,
    config: &ForecastConfig,
) -> Forecast {
    let slot = i64::from(config.slot_minutes.max(1));
    let origin = Minute(now.0.div_euclid(slot) * slot);
    let from = Minute(history_from.0.max(origin.0 - i64::from(config.max_history_days) * Minute::PER_DAY));
    let series = Series::from_minute_loads(from, origin, load, gaps).rebin(config.slot_minutes.max(1));
    let model = SeasonalModel::fit(&series, config.max_history_days);
    forecast_at(&model, origin, load, horizon_minutes, config)
}

/// The forecast of `model` (fitted, or advanced, to its origin) for `horizon_minutes` from
/// its origin, with what the forecast needs besides the model from the per-minute `load`
/// before the origin: busy time per call and recent environments.
pub fn forecast_with(
    model: &SeasonalModel,
    load: &[MinuteLoad],
    horizon_minutes: u32,
    config: &ForecastConfig,
) -> Forecast {
    forecast_at(model, model.origin, load, horizon_minutes, config)
}

/// [`forecast_with`] from `origin` (the model's, but for a history that starts after it).
fn forecast_at(
    model: &SeasonalModel,
    origin: Minute,
    load: &[MinuteLoad],
    horizon_minutes: u32,
    config: &ForecastConfig,
) -> Forecast {
    let step = i64::from(model.step_minutes);
    let window_bins = (i64::from(config.max_history_days) * Minute::PER_DAY / step) as usize;
    Forecast {
        origin,
        slot_minutes: model.step_minutes,
        model: model.kind,
        // An advanced model counts every bin it took; a fit only those of its window.
        history_minutes: model.known_bins.min(window_bins) as u64 * step as u64,
        mean_duration_ms: mean_duration_ms(|| load.iter().map(|l| (l.minute, l.invocations, l.concurrency)), origin),
        slots: slot_forecasts(&horizon_bins(model, origin, step, horizon_minutes)),
        recent_environments: recent_environments(load.iter().map(|l| (l.minute, l.environments)), origin),
    }
}

/// The model's forecast for the slots of `step` minutes that cover `horizon_minutes` from
/// `origin` (where the model's history ends), on the model's scale, with each slot's start.
fn horizon_bins(model: &SeasonalModel, origin: Minute, step: i64, horizon_minutes: u32) -> Vec<(Minute, BinForecast)> {
    let bins = (i64::from(horizon_minutes) + step - 1).div_euclid(step) as usize;
    model.bins_iter(0, bins).enumerate().map(|(k, b)| (origin.plus(k as i64 * step), b)).collect()
}

fn slot_forecasts(bins: &[(Minute, BinForecast)]) -> Vec<SlotForecast> {
    bins.iter()
        .map(|(start, b)| SlotForecast {
            start: *start,
            invocations_per_minute: b.quantiles(),
            mean_per_minute: b.mean(),
        })
        .collect()
}

/// Environments per minute over the [`RECENT_MINUTES`] before `until`, the latest first, from
/// `(minute, environments)` points in any order.
fn recent_environments(points: impl IntoIterator<Item = (Minute, u64)>, until: Minute) -> Vec<u64> {
    let mut out = vec![0; RECENT_MINUTES];
    for (minute, n) in points {
        let back = until.0 - 1 - minute.0;
        if (0..RECENT_MINUTES as i64).contains(&back) {
            out[back as usize] = out[back as usize].max(n);
        }
    }
    out
}

/// Busy ms per invocation over the last day with traffic before `until`, from
/// `(minute, invocations, mean concurrency)` points in any order.
fn mean_duration_ms<I: IntoIterator<Item = (Minute, u64, f64)>>(points: impl Fn() -> I, until: Minute) -> Option<f64> {
    let last = points().into_iter().filter(|p| p.0 < until && p.1 > 0).map(|p| p.0).max()?;
    let (mut busy, mut calls) = (0.0, 0u64);
    for (_, n, concurrency) in points().into_iter().filter(|p| p.0 < until && p.0.0 > last.0 - Minute::PER_DAY) {
        busy += concurrency * 60_000.0;
        calls += n;
    }
    (calls > 0 && busy > 0.0).then(|| busy / calls as f64)
}

#[cfg(test)]
mod tests;
