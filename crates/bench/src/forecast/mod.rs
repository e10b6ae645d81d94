//! `autopilot bench forecast`: rolling-origin accuracy of the forecaster against
//! seasonal-naive, and its speed on a fleet.
//!
//! - Every series of at least [`MIN_DAYS`] days (any layout the loaders accept) is put on
//!   5-minute bins (arrivals per minute; gaps stay gaps). Origins every [`ORIGIN_STEP_HOURS`]
//!   hours (co-prime with the day, so every hour of the day is an origin) from day
//!   [`MIN_DAYS`] until a day before the end; at each, the model is fitted on up to 28 days
//!   before the origin and forecasts the next 24 hours.
//! - MASE (Hyndman & Koehler): MAE of the p50 over the first 1 h / 24 h, divided by the
//!   in-sample MAE of the seasonal-naive forecast (value one day earlier) over the fitting
//!   window; averaged over origins per series. Seasonal-naive itself scores about 1 at 24 h.
//! - Speed: 10,000 synthetic functions with 14 days of 1-minute history each, forecast one
//!   after another on one thread through the production entry point
//!   ([`autopilot_core::forecast::forecast_load`]).

#[cfg(feature = "augurs")]
pub mod augurs_eval;
pub mod cpu_time;
pub mod fleet;

use std::path::Path;

use autopilot_core::Minute;
use autopilot_core::forecast::{SeasonalModel, Series};
use autopilot_datasets::traces::{self, RateSeries, TraceError};

pub const MIN_DAYS: i64 = 7;
pub const ORIGIN_STEP_HOURS: i64 = 7;
pub const BIN_MINUTES: u32 = 5;
pub const HISTORY_DAYS: u32 = 28;
const DAY_BINS: usize = 288;
const HOUR_BINS: usize = 12;

/// Accuracy of one model on one series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Accuracy {
    pub mase_1h: f64,
    pub mase_24h: f64,
    /// Share of actual 5-minute bins at or below the forecast p90 / p99 (24 h horizon).
    pub coverage_p90: f64,
    pub coverage_p99: f64,
}

/// One series' figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesResult {
    pub name: String,
    pub days: f64,
    pub origins: usize,
    pub ours: Accuracy,
    /// Seasonal-naive (one day back) and weekly-naive (one week back), same origins.
    pub naive_day: Accuracy,
    pub naive_week: Accuracy,
    /// Mean CPU ms per fit + forecast on this series.
    pub fit_ms: f64,
    /// augurs MSTL + ETS on the same origins, when built with `--features augurs`.
    pub augurs: Option<(Accuracy, f64)>,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    pub series: Vec<SeriesResult>,
    pub fleet: fleet::FleetTiming,
}

impl Report {
    pub fn summary_line(&self) -> String {
        let mut m24: Vec<f64> = self.series.iter().map(|s| s.ours.mase_24h).collect();
        let mut m1: Vec<f64> = self.series.iter().map(|s| s.ours.mase_1h).collect();
        let worst = m24.iter().copied().fold(f64::NAN, f64::max);
        format!(
            "forecast: traces={} median_mase_24h={:.3} worst_mase_24h={:.3} median_mase_1h={:.3} fit_ms_per_series={:.3}",
            self.series.len(),
            median(&mut m24),
            worst,
            median(&mut m1),
            self.fleet.ms_per_series
        )
    }
}

pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Runs the benchmark on every trace of `dir`, then the fleet timing with `fleet_functions`.
pub fn run_dir(dir: &Path, fleet_functions: usize) -> Result<Report, TraceError> {
    let mut series = Vec::new();
    for trace in traces::load_dir(dir)? {
        for s in &trace.series {
            let Some(binned) = to_bins(s) else { continue };
            if (binned.len() as i64) * i64::from(BIN_MINUTES) < (MIN_DAYS + 1) * Minute::PER_DAY {
                continue;
            }
            series.push(evaluate(&s.name, &binned));
        }
    }
    Ok(Report { series, fleet: fleet::time_fleet(fleet_functions, 14) })
}

/// A trace series on 5-minute bins of arrivals per minute (`None` if its interval does not
/// divide into or from 5 minutes).
pub fn to_bins(s: &RateSeries) -> Option<Series> {
    let minutes = s.interval_ms / 60_000;
    if minutes <= 0 || s.interval_ms % 60_000 != 0 {
        return None;
    }
    let values = s.counts.iter().map(|c| c.map_or(f64::NAN, |c| c / minutes as f64)).collect();
    let series = Series::new(Minute::from_epoch_ms(s.start_ms), minutes as u32, values);
    let ok = (minutes as u32).is_multiple_of(BIN_MINUTES) || BIN_MINUTES.is_multiple_of(minutes as u32);
    ok.then(|| series.rebin(BIN_MINUTES))
}

/// The origins of a series of `n` bins.
pub fn origins(n: usize) -> Vec<usize> {
    let first = (MIN_DAYS * Minute::PER_DAY / i64::from(BIN_MINUTES)) as usize;
    let step = (ORIGIN_STEP_HOURS * 60 / i64::from(BIN_MINUTES)) as usize;
    (first..=n.saturating_sub(DAY_BINS)).step_by(step).collect()
}

/// Errors of one forecast against the actuals after the origin.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scored {
    abs_1h: f64,
    n_1h: usize,
    abs_24h: f64,
    n_24h: usize,
    under_p90: usize,
    under_p99: usize,
}

impl Scored {
    /// `forecast[k]` = (p50, p90, p99) of bin `origin + k`.
    pub fn score(actual: &[f64], origin: usize, forecast: &[(f64, f64, f64)]) -> Self {
        let mut s = Self::default();
        for (k, &(p50, p90, p99)) in forecast.iter().enumerate().take(DAY_BINS) {
            let Some(&y) = actual.get(origin + k) else { break };
            if y.is_nan() || p50.is_nan() {
                continue;
            }
            let e = (y - p50).abs();
            if k < HOUR_BINS {
                s.abs_1h += e;
                s.n_1h += 1;
            }
            s.abs_24h += e;
            s.n_24h += 1;
            s.under_p90 += usize::from(y <= p90);
            s.under_p99 += usize::from(y <= p99);
        }
        s
    }
}

/// In-sample MAE of the one-day-back forecast over `[from, to)`.
pub fn naive_scale(values: &[f64], from: usize, to: usize) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for t in from.max(DAY_BINS)..to {
        let (a, b) = (values[t], values[t - DAY_BINS]);
        if !a.is_nan() && !b.is_nan() {
            sum += (a - b).abs();
            n += 1;
        }
    }
    (n > 0 && sum > 0.0).then(|| sum / n as f64)
}

/// Accumulates MASE over origins.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaseAcc {
    sum_1h: f64,
    sum_24h: f64,
    n: usize,
    covered_90: usize,
    covered_99: usize,
    scored: usize,
}

impl MaseAcc {
    pub fn add(&mut self, s: &Scored, scale: f64) {
        if s.n_1h == 0 || s.n_24h == 0 {
            return;
        }
        self.sum_1h += s.abs_1h / s.n_1h as f64 / scale;
        self.sum_24h += s.abs_24h / s.n_24h as f64 / scale;
        self.n += 1;
        self.covered_90 += s.under_p90;
        self.covered_99 += s.under_p99;
        self.scored += s.n_24h;
    }

    pub fn accuracy(&self) -> Accuracy {
        let n = self.n.max(1) as f64;
        let scored = self.scored.max(1) as f64;
        Accuracy {
            mase_1h: self.sum_1h / n,
            mase_24h: self.sum_24h / n,
            coverage_p90: self.covered_90 as f64 / scored,
            coverage_p99: self.covered_99 as f64 / scored,
        }
    }
}

fn evaluate(name: &str, series: &Series) -> SeriesResult {
    let values = &series.values;
    let history_bins = (i64::from(HISTORY_DAYS) * Minute::PER_DAY / i64::from(BIN_MINUTES)) as usize;
    let (mut ours, mut day, mut week) = (MaseAcc::default(), MaseAcc::default(), MaseAcc::default());
    let mut fit_seconds = 0.0;
    let origins = origins(values.len());
    #[cfg(feature = "augurs")]
    let mut augurs = augurs_eval::Evaluator::default();
    for &origin in &origins {
        let from = origin.saturating_sub(history_bins);
        let Some(scale) = naive_scale(values, from, origin) else { continue };
        let window = Series::new(
            series.start.plus(from as i64 * i64::from(BIN_MINUTES)),
            BIN_MINUTES,
            values[from..origin].to_vec(),
        );
        let timer = cpu_time::CpuTimer::start();
        let model = SeasonalModel::fit(&window, HISTORY_DAYS);
        let forecast = model.forecast(DAY_BINS);
        fit_seconds += timer.seconds().0;
        let f: Vec<(f64, f64, f64)> = forecast.iter().map(|q| (q.p50(), q.p90(), q.p99())).collect();
        ours.add(&Scored::score(values, origin, &f), scale);
        let naive = |lag: usize| -> Vec<(f64, f64, f64)> {
            (0..DAY_BINS)
                .map(|k| {
                    // The latest value of the same phase at or before the origin.
                    let mut back = lag;
                    while back <= k {
                        back += lag;
                    }
                    let v = (origin + k).checked_sub(back).map_or(f64::NAN, |i| values[i]);
                    (v, v, v)
                })
                .collect()
        };
        day.add(&Scored::score(values, origin, &naive(DAY_BINS)), scale);
        if origin >= 7 * DAY_BINS {
            week.add(&Scored::score(values, origin, &naive(7 * DAY_BINS)), scale);
        }
        #[cfg(feature = "augurs")]
        augurs.add(&window, values, origin, scale);
    }
    #[cfg(feature = "augurs")]
    let augurs_result = augurs.result();
    #[cfg(not(feature = "augurs"))]
    let augurs_result = None;
    SeriesResult {
        name: name.to_owned(),
        days: values.len() as f64 * f64::from(BIN_MINUTES) / 1440.0,
        origins: origins.len(),
        ours: ours.accuracy(),
        naive_day: day.accuracy(),
        naive_week: week.accuracy(),
        fit_ms: 1000.0 * fit_seconds / origins.len().max(1) as f64,
        augurs: augurs_result,
    }
}
