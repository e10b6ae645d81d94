//! The seasonal model the forecaster fits to one series.
//!
//! On `z = ln(1 + arrivals per bin)` (multiplicative seasonality for busy series, additive for
//! sparse ones, no negative forecasts after the inverse transform):
//! 1. a **daily profile** (recency-weighted mean of each bin of the day, smoothed over
//!    neighbouring bins) once the history spans two days, and a **weekly deviation** from it
//!    once it spans two weeks (two full cycles, as any seasonal fit needs). Each is shrunk
//!    towards "no seasonality" by an empirical-Bayes factor, signal variance ÷ (signal +
//!    sampling noise), so a noisy or sparse series is not fitted to its own noise;
//! 2. a **level** on the leave-one-out residuals, an exponentially weighted mean (half-life one
//!    day with a profile, one hour without: level shifts and trend), and an AR(1) pull of the
//!    latest residual that decays with the horizon (φ fitted per series);
//! 3. **quantiles** from the empirical distribution of the model's own h-step errors over the
//!    last week, replayed in sample with the level as it stood at each origin.
//!
//! With less than two days of history it is a recent-level model (no profile).

use serde::{Deserialize, Serialize};

use super::quantiles::{Quantiles, empirical};
use super::series::Series;
use crate::domain::Minute;

const DAY: i64 = Minute::PER_DAY;
const WEEK: i64 = Minute::PER_WEEK;
/// Older cycles count less in the profiles: weight halves every week of age.
const PROFILE_HALF_LIFE_MINUTES: f64 = 7.0 * 1440.0;
/// Half-life of the level with a seasonal profile (it follows shifts and trend) ...
const LEVEL_HALF_LIFE_SEASONAL_MINUTES: f64 = 1440.0;
/// ... and without one (it is the whole model, so it follows the recent hour).
const LEVEL_HALF_LIFE_RECENT_MINUTES: f64 = 60.0;
/// Horizons (minutes) at which the error distribution is measured; others interpolate.
const ERROR_HORIZONS_MINUTES: [i64; 9] = [5, 10, 15, 30, 60, 180, 360, 720, 1440];
/// Errors are measured over this recent span.
const ERROR_WINDOW_MINUTES: i64 = 7 * 1440;
/// Fewer error samples than this at a horizon and the previous horizon's are used.
const MIN_ERROR_SAMPLES: usize = 24;
/// The level jumps to the mean of this recent span when that mean is significantly off it.
const SHIFT_WINDOW_MINUTES: i64 = 60;
/// Standard errors that make a level shift significant.
const SHIFT_Z: f64 = 4.0;
/// Kernel smoothing each profile over neighbouring bins (1-2-1).
const KERNEL_CENTRE: f64 = 0.5;
const KERNEL_NOISE_SHARE: f64 = 6.0 / 16.0;

/// New bins a model was advanced over, and how many of them came above its p99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Surprises {
    pub bins: usize,
    pub above_p99: usize,
}

/// Which structure the history supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ModelKind {
    /// No bin with data: the forecast is zero.
    NoHistory,
    /// Less than two days: recent level and its noise only.
    RecentLevel,
    /// Two days or more: daily profile.
    Daily,
    /// Two weeks or more: daily profile plus weekly deviation.
    Weekly,
}

/// A fitted model, positioned at the end of its history. Serializable so that a step that
/// keeps nothing in memory can keep it between runs ([`super::kept`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeasonalModel {
    pub kind: ModelKind,
    /// First minute after the history: bin 0 of a forecast starts here.
    pub origin: Minute,
    pub step_minutes: u32,
    /// Bins with data in the history used.
    pub known_bins: usize,
    daily: Vec<f64>,
    weekly: Vec<f64>,
    level: f64,
    phi: f64,
    last_dev: f64,
    last_age: i64,
    /// Per measured horizon (minutes): error quantiles at LEVELS, then ln E[exp(error)].
    errors: Vec<(i64, [f64; 7])>,
    /// What [`Self::advance`] needs to move the level as the fit would have.
    tail: LevelTail,
}

/// The level's running state at the end of the history: the EWMA before the shift test, its
/// smoothing, the innovations seen, and the residuals of the shift window (`NaN` = no data).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LevelTail {
    ewma: Option<f64>,
    alpha: f64,
    innovation_ss: f64,
    innovations: usize,
    #[serde(with = "super::series::nan_as_null")]
    recent: std::collections::VecDeque<f64>,
    window: usize,
    last_resid: f64,
}

impl SeasonalModel {
    /// Fits the model to at most `max_history_days` of the end of `series`.
    pub fn fit(series: &Series, max_history_days: u32) -> Self {
        let step = i64::from(series.step_minutes);
        let s = series.window_before(series.end(), (i64::from(max_history_days) * DAY / step) as usize);
        let z: Vec<f64> =
            s.values.iter().map(|&y| if y.is_nan() { f64::NAN } else { (y.max(0.0) * step as f64).ln_1p() }).collect();
        let known: Vec<usize> = (0..z.len()).filter(|&i| !z[i].is_nan()).collect();
        let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
            return Self::empty(s.end(), series.step_minutes);
        };
        let span = (last - first + 1) as i64 * step;
        let clock_aligned = DAY % step == 0;
        let kind = match span {
            _ if !clock_aligned => ModelKind::RecentLevel,
            s if s >= 2 * WEEK => ModelKind::Weekly,
            s if s >= 2 * DAY => ModelKind::Daily,
            _ => ModelKind::RecentLevel,
        };
        let mut fit = Fit { s: &s, z: &z, step, seasonal: vec![0.0; z.len()], self_weight: vec![0.0; z.len()] };
        let (daily, weekly) = match kind {
            ModelKind::Weekly => {
                let daily = fit.profile(DAY, |i| z[i]);
                let dev: Vec<f64> = fit.phases(DAY).iter().zip(&z).map(|(&p, z)| z - daily[p]).collect();
                let weekly = fit.profile(WEEK, |i| dev[i]);
                (daily, weekly)
            }
            ModelKind::Daily => (fit.profile(DAY, |i| z[i]), Vec::new()),
            _ => (Vec::new(), Vec::new()),
        };
        let half_life =
            if daily.is_empty() { LEVEL_HALF_LIFE_RECENT_MINUTES } else { LEVEL_HALF_LIFE_SEASONAL_MINUTES };
        let resid: Vec<f64> =
            (0..z.len()).map(|i| (z[i] - fit.seasonal[i]) / (1.0 - fit.self_weight[i].min(0.9))).collect();
        let level = Level::fit(&resid, half_life / step as f64, (ERROR_WINDOW_MINUTES / step) as usize);
        let errors = level.errors(&resid, step, (ERROR_WINDOW_MINUTES / step) as usize);
        let tail = level.tail(&resid, last, (SHIFT_WINDOW_MINUTES / step).max(2) as usize);
        let current = tail.current(level.phi);
        Self {
            kind,
            origin: s.end(),
            step_minutes: series.step_minutes,
            known_bins: known.len(),
            daily,
            weekly,
            level: current,
            phi: level.phi,
            last_dev: resid[last] - current,
            last_age: (z.len() - 1 - last) as i64,
            errors,
            tail,
        }
    }

    /// Moves the model to the end of `values`, the bins (arrivals per minute, `NaN` = no data)
    /// that follow its history, without refitting: the profiles, φ and the error quantiles
    /// stay as fitted, the level takes each new bin as the fit would (EWMA of the residual,
    /// level-shift test, AR(1) deviation). Cheap enough to run at every bin; refit now and then
    /// (profiles and errors move slowly: a week's half-life, a week's window).
    pub fn advance(&mut self, values: &[f64]) {
        self.advance_counting(values);
    }

    /// [`Self::advance`], counting how often the new bins came above the model's own p99: of
    /// the bins with data, those with at least one call more than the p99 of the model's
    /// forecast of them just before (as the level stood then). A model that describes its
    /// series sees about 1%; many more say the fit no longer does (a young history whose
    /// errors were measured on nothing like today's traffic, a new rhythm) and it is time to
    /// refit rather than advance.
    pub fn advance_counting(&mut self, values: &[f64]) -> Surprises {
        let mut seen = Surprises::default();
        if self.kind == ModelKind::NoHistory {
            if values.iter().any(|v| !v.is_nan()) {
                // Data where there was none: nothing to advance, the caller must refit.
                self.known_bins += values.iter().filter(|v| !v.is_nan()).count();
            }
            self.origin = self.origin.plus(values.len() as i64 * i64::from(self.step_minutes));
            return seen;
        }
        let step = i64::from(self.step_minutes);
        for &y in values {
            let minute = self.origin;
            self.origin = self.origin.plus(step);
            if y.is_nan() {
                // The fit's shift window ends at the last bin with data: a gap counts in it
                // only once data follows.
                self.last_age += 1;
                continue;
            }
            let seasonal = self.seasonal_at(minute);
            let calls = y.max(0.0) * step as f64;
            let z = calls.ln_1p();
            let h = 1 + self.last_age;
            let expected = seasonal + self.level + self.phi.powi(h.min(i64::from(i32::MAX)) as i32) * self.last_dev;
            seen.bins += 1;
            // At least one call above the p99's count, e^(z) − e^(p99) ≥ 1, i.e. calls ≥ e^(p99)
            // (a constant series, whose errors are all zero, is not surprised by rounding); the
            // exponential only for the few bins above the p99 at all.
            let p99 = expected + self.error_stats(h * step)[5];
            seen.above_p99 += usize::from(z > p99 && calls >= p99.exp());
            let resid = z - seasonal;
            let t = &mut self.tail;
            for _ in 0..self.last_age.min(t.window as i64) {
                t.push_recent(f64::NAN);
            }
            let before = t.ewma.unwrap_or(resid);
            if t.ewma.is_some() {
                t.innovation_ss += (resid - before).powi(2);
                t.innovations += 1;
            }
            t.ewma = Some(before + t.alpha * (resid - before));
            t.last_resid = resid;
            t.push_recent(resid);
            self.known_bins += 1;
            self.last_age = 0;
            self.level = self.tail.current(self.phi);
            self.last_dev = self.tail.last_resid - self.level;
        }
        seen
    }

    /// True when the model needs a refit rather than [`Self::advance`] to take new data: it
    /// had none when fitted.
    pub fn needs_refit(&self) -> bool {
        self.kind == ModelKind::NoHistory && self.known_bins > 0
    }

    fn empty(origin: Minute, step_minutes: u32) -> Self {
        Self {
            kind: ModelKind::NoHistory,
            origin,
            step_minutes,
            known_bins: 0,
            daily: Vec::new(),
            weekly: Vec::new(),
            level: 0.0,
            phi: 0.0,
            last_dev: 0.0,
            last_age: 0,
            errors: Vec::new(),
            tail: LevelTail::default(),
        }
    }

    /// Quantiles of arrivals per minute for `bins` bins from the origin.
    pub fn forecast(&self, bins: usize) -> Vec<Quantiles> {
        self.forecast_from(0, bins).into_iter().map(|(q, _)| q).collect()
    }

    /// Quantiles and mean of arrivals per minute for bins `skip..skip + bins` after the origin.
    pub fn forecast_from(&self, skip: usize, bins: usize) -> Vec<(Quantiles, f64)> {
        self.bins_from(skip, bins).iter().map(|b| (b.quantiles(), b.mean())).collect()
    }

    /// The forecast of bins `skip..skip + bins` after the origin on the model's scale.
    pub fn bins_from(&self, skip: usize, bins: usize) -> Vec<BinForecast> {
        self.bins_iter(skip, bins).collect()
    }

    /// [`Self::bins_from`] one bin at a time, for a caller that collects them with more.
    pub fn bins_iter(&self, skip: usize, bins: usize) -> impl Iterator<Item = BinForecast> + '_ {
        let step = i64::from(self.step_minutes);
        // The profiles' bins of the first bin, as seasonal_at has them; a profile covers its
        // period in whole bins, so from there each bin is the next, wrapping.
        let first = self.origin.plus(skip as i64 * step);
        let mut day = if self.daily.is_empty() { 0 } else { (first.minute_of_day() / step) as usize };
        let mut week = if self.weekly.is_empty() { 0 } else { (first.minute_of_week() / step) as usize };
        let next = |at: &mut usize, len: usize| *at = if *at + 1 == len { 0 } else { *at + 1 };
        (skip..skip + bins).map(move |k| {
            if self.kind == ModelKind::NoHistory {
                return BinForecast { centre: 0.0, err: [0.0; 7], step_minutes: step };
            }
            let h = k as i64 + 1 + self.last_age;
            let pull = self.phi.powi(h.min(i64::from(i32::MAX)) as i32) * self.last_dev;
            let mut seasonal = 0.0;
            if !self.daily.is_empty() {
                seasonal += self.daily[day];
                next(&mut day, self.daily.len());
            }
            if !self.weekly.is_empty() {
                seasonal += self.weekly[week];
                next(&mut week, self.weekly.len());
            }
            let centre = seasonal + self.level + pull;
            BinForecast { centre, err: self.error_stats(h * step), step_minutes: step }
        })
    }

    fn seasonal_at(&self, minute: Minute) -> f64 {
        let step = i64::from(self.step_minutes);
        let mut v = 0.0;
        if !self.daily.is_empty() {
            v += self.daily[(minute.minute_of_day() / step) as usize];
        }
        if !self.weekly.is_empty() {
            v += self.weekly[(minute.minute_of_week() / step) as usize];
        }
        v
    }

    /// Error quantiles and log mean-exp (z-scale) at a horizon in minutes, linear between
    /// measured horizons.
    fn error_stats(&self, horizon_minutes: i64) -> [f64; 7] {
        let Some((h0, q0)) = self.errors.first() else {
            return [0.0; 7];
        };
        if horizon_minutes <= *h0 {
            return *q0;
        }
        for w in self.errors.windows(2) {
            // By reference: the quantiles are read only at the horizons that bracket this one.
            let ((ha, qa), (hb, qb)) = (&w[0], &w[1]);
            let (ha, hb) = (*ha, *hb);
            if horizon_minutes <= hb {
                let t = (horizon_minutes - ha) as f64 / (hb - ha) as f64;
                let mut out = [0.0; 7];
                #[allow(clippy::needless_range_loop)] // indexed, the compiler unrolls it
                for i in 0..7 {
                    out[i] = qa[i] + t * (qb[i] - qa[i]);
                }
                return out;
            }
        }
        self.errors[self.errors.len() - 1].1
    }
}

/// One bin's forecast on the model's scale (`z = ln(1 + arrivals)`): its centre and the error
/// statistics at its horizon. Each figure in arrivals per minute costs an `exp_m1`, so a caller
/// that reads only a few of them (whether a plan still holds) pays only for those.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinForecast {
    centre: f64,
    /// Error quantiles at [`super::LEVELS`], then ln E[exp(error)].
    err: [f64; 7],
    step_minutes: i64,
}

impl BinForecast {
    /// Arrivals per minute at [`super::LEVELS`]`[i]` (`i` < 6).
    pub fn quantile(&self, i: usize) -> f64 {
        self.per_minute(self.err[i])
    }

    /// Expected arrivals per minute.
    pub fn mean(&self) -> f64 {
        self.per_minute(self.err[6])
    }

    pub fn quantiles(&self) -> Quantiles {
        Quantiles(std::array::from_fn(|i| self.quantile(i)))
    }

    fn per_minute(&self, err: f64) -> f64 {
        (self.centre + err).exp_m1().max(0.0) / self.step_minutes as f64
    }
}

/// Working state of one fit: the seasonal component and each bin's weight in its own fit.
struct Fit<'a> {
    s: &'a Series,
    z: &'a [f64],
    step: i64,
    seasonal: Vec<f64>,
    self_weight: Vec<f64>,
}

impl Fit<'_> {
    fn phase(&self, i: usize, period: i64) -> usize {
        let minute = self.s.start.plus(i as i64 * self.step);
        let m = if period == WEEK { minute.minute_of_week() } else { minute.minute_of_day() };
        (m / self.step) as usize
    }

    /// [`Self::phase`] of every bin. The period is a whole number of bins (only a clock-aligned
    /// step gets profiles), so the phase goes up by one a bin and wraps: one division for the
    /// first bin instead of one per bin.
    fn phases(&self, period: i64) -> Vec<usize> {
        let bins = (period / self.step) as usize;
        let mut p = self.phase(0, period);
        (0..self.z.len())
            .map(|_| {
                let here = p;
                p = if p + 1 == bins { 0 } else { p + 1 };
                here
            })
            .collect()
    }

    // Several parallel arrays indexed by bin and by phase: index loops read clearer here.
    #[allow(clippy::needless_range_loop)]
    /// Fits one profile of `period` to `value(i)`, shrunk towards zero by its signal-to-noise
    /// share, adds it to the seasonal component and returns it (per bin of the period).
    fn profile(&mut self, period: i64, value: impl Fn(usize) -> f64) -> Vec<f64> {
        let bins = (period / self.step) as usize;
        let n = self.z.len();
        let mut sw = vec![0.0; bins];
        let mut swv = vec![0.0; bins];
        let mut sw2 = vec![0.0; bins];
        let decay = 0.5f64.powf(self.step as f64 / PROFILE_HALF_LIFE_MINUTES);
        let mut w = 1.0;
        let mut weights = vec![0.0; n];
        let phase = self.phases(period);
        for i in (0..n).rev() {
            weights[i] = w;
            w *= decay;
            if self.z[i].is_nan() {
                continue;
            }
            let p = phase[i];
            let v = value(i);
            sw[p] += weights[i];
            swv[p] += weights[i] * v;
            sw2[p] += weights[i] * weights[i];
        }
        let (mut total_w, mut total_wv) = (0.0, 0.0);
        for p in 0..bins {
            total_w += sw[p];
            total_wv += swv[p];
        }
        let base = if total_w > 0.0 { total_wv / total_w } else { 0.0 };
        let raw: Vec<f64> = (0..bins).map(|p| if sw[p] > 0.0 { swv[p] / sw[p] } else { base }).collect();
        // Pooled within-bin variance around the raw profile, and each bin's sampling noise.
        let (mut ss, mut sum_w, mut count, mut phases) = (0.0, 0.0, 0usize, 0usize);
        for i in 0..n {
            if !self.z[i].is_nan() {
                let p = phase[i];
                ss += weights[i] * (value(i) - raw[p]).powi(2);
                sum_w += weights[i];
                count += 1;
            }
        }
        for p in 0..bins {
            phases += usize::from(sw[p] > 0.0);
        }
        let within =
            if count > phases && sum_w > 0.0 { ss / sum_w * count as f64 / (count - phases) as f64 } else { 0.0 };
        let smoothed: Vec<f64> =
            (0..bins).map(|p| 0.25 * raw[(p + bins - 1) % bins] + 0.5 * raw[p] + 0.25 * raw[(p + 1) % bins]).collect();
        let noise: f64 = (0..bins)
            .filter(|&p| sw[p] > 0.0)
            .map(|p| within * sw2[p] / (sw[p] * sw[p]) * KERNEL_NOISE_SHARE)
            .sum::<f64>()
            / phases.max(1) as f64;
        let mean = smoothed.iter().sum::<f64>() / bins as f64;
        let spread = smoothed.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / bins as f64;
        let signal = (spread - noise).max(0.0);
        let shrink = if signal + noise > 0.0 { signal / (signal + noise) } else { 0.0 };
        let profile: Vec<f64> = smoothed.iter().map(|v| mean + shrink * (v - mean)).collect();
        for i in 0..n {
            if !self.z[i].is_nan() {
                let p = phase[i];
                self.seasonal[i] += profile[p];
                self.self_weight[i] += shrink * KERNEL_CENTRE * weights[i] / sw[p];
            }
        }
        profile
    }
}

impl LevelTail {
    fn push_recent(&mut self, resid: f64) {
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back(resid);
    }

    /// The level at the end of the history: the EWMA, unless the mean of the shift window
    /// differs from it by more than [`SHIFT_Z`] standard errors (a level shift, which the slow
    /// EWMA would take a day to follow), in which case that recent mean.
    fn current(&self, phi: f64) -> f64 {
        let Some(ewma) = self.ewma else { return 0.0 };
        let (mut sum, mut known) = (0.0, 0usize);
        for e in self.recent.iter().filter(|e| !e.is_nan()) {
            sum += e;
            known += 1;
        }
        if known < self.window / 2 || known < 2 || self.innovations < 2 {
            return ewma;
        }
        let mean = sum / known as f64;
        // Innovation spread over the whole history, inflated for AR(1) correlation.
        let sd = (self.innovation_ss / self.innovations as f64).sqrt();
        let se = sd / (known as f64).sqrt() * ((1.0 + phi) / (1.0 - phi)).sqrt();
        if (mean - ewma).abs() > SHIFT_Z * se { mean } else { ewma }
    }
}

/// The level on residuals: EWMA and AR(1) of the deviation from it.
struct Level {
    /// Level after taking bin i into account (carried over gaps).
    mu_after: Vec<f64>,
    phi: f64,
    alpha: f64,
}

impl Level {
    fn fit(resid: &[f64], half_life_bins: f64, window: usize) -> Self {
        let alpha = 1.0 - 0.5f64.powf(1.0 / half_life_bins.max(1.0));
        let mut mu_after = vec![f64::NAN; resid.len()];
        let mut mu: Option<f64> = None;
        let (mut num, mut den) = (0.0, 0.0);
        let mut prev_dev: Option<f64> = None;
        let from = resid.len().saturating_sub(window);
        for (i, &e) in resid.iter().enumerate() {
            if e.is_nan() {
                prev_dev = None;
                if let Some(m) = mu {
                    mu_after[i] = m;
                }
                continue;
            }
            let before = mu.unwrap_or(e);
            let dev = e - before;
            if i >= from
                && let Some(p) = prev_dev
            {
                num += dev * p;
                den += p * p;
            }
            prev_dev = Some(dev);
            let m = before + alpha * (e - before);
            mu = Some(m);
            mu_after[i] = m;
        }
        let phi = if den > 0.0 { (num / den).clamp(0.0, 0.98) } else { 0.0 };
        Self { mu_after, phi, alpha }
    }

    /// The running state at bin `last` (the last with data), with the shift test's `window`.
    #[allow(clippy::needless_range_loop)] // resid[i] against mu_after[i - 1]
    fn tail(&self, resid: &[f64], last: usize, window: usize) -> LevelTail {
        let (mut ss, mut n) = (0.0, 0usize);
        for i in 1..=last {
            if !resid[i].is_nan() && !self.mu_after[i - 1].is_nan() {
                ss += (resid[i] - self.mu_after[i - 1]).powi(2);
                n += 1;
            }
        }
        LevelTail {
            ewma: Some(self.mu_after[last]),
            alpha: self.alpha,
            innovation_ss: ss,
            innovations: n,
            recent: resid[last.saturating_sub(window - 1)..=last].iter().copied().collect(),
            window,
            last_resid: resid[last],
        }
    }

    /// Empirical quantiles of the h-step error at each measured horizon, replaying the
    /// forecast from every origin of the last `window` bins.
    fn errors(&self, resid: &[f64], step: i64, window: usize) -> Vec<(i64, [f64; 7])> {
        let n = resid.len();
        let from = n.saturating_sub(window);
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(window);
        for &h_min in &ERROR_HORIZONS_MINUTES {
            let h = (h_min / step).max(1) as usize;
            if out.last().is_some_and(|&(prev, _)| prev >= h as i64 * step) {
                continue;
            }
            buf.clear();
            let decay = self.phi.powi(h as i32);
            // Origins i in from..n - h: resid[i], resid[i + h] and mu_after[i] side by side.
            let end = n.saturating_sub(h).max(from);
            let ahead = resid.get(from + h..).unwrap_or_default();
            for ((&e0, &e1), &mu) in resid[from..end].iter().zip(ahead).zip(&self.mu_after[from..end]) {
                if e0.is_nan() || e1.is_nan() {
                    continue;
                }
                buf.push(e1 - mu - decay * (e0 - mu));
            }
            if buf.len() < MIN_ERROR_SAMPLES {
                break;
            }
            if let Some(q) = empirical(&mut buf) {
                // The mean of exp(error) with errors above the top quantile counted at it: one
                // replayed jump (the first calls after an empty stretch, ln(1 + thousands))
                // would otherwise be the mean, several times every quantile, and the planner
                // would provision for it (measured on the simulator's busiest API in the runner's
                // first day: PC for ten times its traffic, the day's bill ×3.7).
                let mean_exp = buf.iter().map(|e| e.min(q[5]).exp()).sum::<f64>() / buf.len() as f64;
                let mut stats = [0.0; 7];
                stats[..6].copy_from_slice(&q);
                stats[6] = mean_exp.ln();
                out.push((h as i64 * step, stats));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_bins_take_each_bin_s_own_profile_positions() {
        // Fifteen days off the step's grid: a weekly model.
        let values: Vec<f64> = (0..15 * 288).map(|i| f64::from(i % 288 + i % 2016 / 100) / 50.0).collect();
        let model = SeasonalModel::fit(&Series::new(Minute(-7), 5, values), 28);
        assert_eq!(model.kind, ModelKind::Weekly);
        let varies = |p: &[f64]| p.iter().any(|&v| v != p[0]);
        assert!(varies(&model.daily) && varies(&model.weekly));
        for skip in [0, 3, 287, 2015] {
            for (k, bin) in (skip..).zip(model.bins_from(skip, 2100)) {
                let h = k as i64 + 1 + model.last_age;
                let minute = model.origin.plus(k as i64 * 5);
                let centre = model.seasonal_at(minute) + model.level + model.phi.powi(h as i32) * model.last_dev;
                assert_eq!((bin.centre, bin.err), (centre, model.error_stats(h * 5)), "bin {k}");
            }
        }
    }

    #[test]
    fn phases_step_through_the_period_as_each_bin_s_own() {
        // Starts on and off the step's grid, before and after the epoch.
        for start in [0, 3, -7, 1_439, 3 * DAY + 2, -WEEK - 11] {
            let z = vec![0.0; 3 * 2016 + 5];
            let s = Series::new(Minute(start), 5, z.clone());
            let fit = Fit { s: &s, z: &z, step: 5, seasonal: Vec::new(), self_weight: Vec::new() };
            for period in [DAY, WEEK] {
                let each: Vec<usize> = (0..z.len()).map(|i| fit.phase(i, period)).collect();
                assert_eq!(fit.phases(period), each, "start {start}, period {period}");
            }
        }
    }
}
