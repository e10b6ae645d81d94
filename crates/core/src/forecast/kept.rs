//! The forecaster kept between the runs of a step that keeps nothing in memory (the deployed
//! forecast Lambda, which starts every 5 minutes from the window of stats that collect read).
//!
//! A day of stats gives a recent-level model only: the daily profile needs two days and the
//! weekly one two weeks. So, per function, two things are kept:
//! - [`BinHistory`], the callers' arrivals per bin over up to `max_history_days`, read and
//!   rewritten only when the model is refitted (every [`REFIT_MINUTES`]), extended then with
//!   the bins of the run's window;
//! - [`KeptModel`], the model as last fitted, read every run and [`SeasonalModel::advance`]d
//!   over the bins since its fit, which the run's window holds. That is what [`super::Tracker`]
//!   does in a long-lived process: profiles and error quantiles move slowly (a week's
//!   half-life, a week's window), the level follows every bin.
//!
//! Refits happen every [`REFIT_MINUTES`] at times of day set by the function's name
//! ([`refit_offset_minutes`]), so that a fleet's refits, each a read of weeks of bins and two
//! writes, spread over the day's runs rather than all land in one.

use serde::{Deserialize, Serialize};

use super::seasonal::{SeasonalModel, Surprises};
use super::series::{Series, nan_as_null};
use crate::domain::Minute;

/// Time between two refits: half the default window of a concurrency run (a day), so that
/// every bin between two refits is in the window of the second, whatever the refit times'
/// offset from the runs'. A window shorter than this leaves `NaN` bins in the history
/// between refits (the model takes gaps as they come).
pub const REFIT_MINUTES: i64 = 720;

/// Earlier, once the bins since the fit span an hour and more than one in twenty of them (and
/// at least three) came above the model's p99 (about one in a hundred when it describes the
/// series): a model fitted on a young history, or before the traffic changed, is refitted
/// within the hour rather than trusted for half a day.
const SURPRISE_MINUTES: i64 = 60;
const SURPRISE_SHARE: f64 = 0.05;
const SURPRISE_MIN: usize = 3;

/// Callers' arrivals per minute in bins of `step_minutes` from `start`; `NaN` = no data (the
/// runs did not see those minutes). What a refit reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinHistory {
    pub start: Minute,
    pub step_minutes: u32,
    #[serde(with = "nan_as_null")]
    pub values: Vec<f64>,
}

impl BinHistory {
    pub fn series(&self) -> Series {
        Series::new(self.start, self.step_minutes.max(1), self.values.clone())
    }

    /// Minute just after the last bin.
    pub fn end(&self) -> Minute {
        self.start.plus(self.values.len() as i64 * i64::from(self.step_minutes.max(1)))
    }

    /// `kept` (none at first) followed by the bins of `recent` after its end, with `NaN` for
    /// any bins between the two (runs that did not happen); the newest `max_bins` of them.
    /// A history of another step is dropped: `recent` alone.
    /// A history that ends more than `max_bins` before `recent` starts is dropped too: none
    /// of it would be kept.
    pub fn extended(kept: Option<Self>, recent: &Series, max_bins: usize) -> Self {
        let step = i64::from(recent.step_minutes.max(1));
        let reaches = |h: &Self| (recent.start.0 - h.end().0) / step <= max_bins as i64;
        let mut out = match kept {
            Some(h) if h.step_minutes == recent.step_minutes && reaches(&h) => h,
            _ => Self { start: recent.start, step_minutes: recent.step_minutes, values: Vec::new() },
        };
        let end = out.end();
        if recent.start > end {
            out.values.extend(std::iter::repeat_n(f64::NAN, ((recent.start.0 - end.0) / step) as usize));
        }
        let skip = ((end.0 - recent.start.0) / step).max(0) as usize;
        out.values.extend(recent.values.iter().skip(skip));
        let drop = out.values.len().saturating_sub(max_bins);
        out.values.drain(..drop);
        out.start = out.start.plus(drop as i64 * step);
        out
    }
}

/// The model as fitted at `fitted_at` (its origin then), to be advanced by later runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptModel {
    pub fitted_at: Minute,
    pub model: SeasonalModel,
}

/// Where a run's model comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    /// The kept model advanced to the run's origin.
    Advanced(Box<SeasonalModel>),
    /// Refit from the kept history extended with the run's bins, and keep both.
    Refit,
    /// The run is older than what is kept (a re-run of an old execution): fit the run's bins
    /// alone and keep nothing.
    WindowOnly,
}

/// The kept model advanced over `recent` (the run's bins, ending at its origin), unless a refit
/// is due: none is kept, it was fitted with another step, one of the function's refit times
/// has passed since it was fitted, `recent` does not reach back to where it stopped, it had
/// no data when fitted and now has some, or the bins since came above its p99 far more often
/// than its own errors say they should.
pub fn model_source(kept: Option<KeptModel>, recent: &Series, offset_minutes: i64) -> ModelSource {
    let origin = recent.end();
    let Some(KeptModel { fitted_at, mut model }) = kept else { return ModelSource::Refit };
    if model.origin > origin {
        return ModelSource::WindowOnly;
    }
    let period = |m: Minute| (m.0 - offset_minutes).div_euclid(REFIT_MINUTES);
    if model.step_minutes != recent.step_minutes || period(origin) != period(fitted_at) || model.origin < recent.start {
        return ModelSource::Refit;
    }
    let step = i64::from(recent.step_minutes);
    let from = ((model.origin.0 - recent.start.0) / step) as usize;
    let seen = model.advance_counting(&recent.values[from..]);
    if model.needs_refit() || surprised(seen, step) {
        ModelSource::Refit
    } else {
        ModelSource::Advanced(Box::new(model))
    }
}

/// Whether the bins a model was advanced over since its fit (of `step_minutes` each) say it is
/// time to refit: they span [`SURPRISE_MINUTES`] and more than [`SURPRISE_SHARE`] of them (at
/// least [`SURPRISE_MIN`]) came above its p99.
pub fn surprised(seen: Surprises, step_minutes: i64) -> bool {
    seen.bins as i64 * step_minutes >= SURPRISE_MINUTES
        && seen.above_p99 >= SURPRISE_MIN
        && seen.above_p99 as f64 > SURPRISE_SHARE * seen.bins as f64
}

/// Minute of the [`REFIT_MINUTES`] period (from midnight UTC) after which a function's model
/// is refitted: spread by its name (FNV-1a, stable across releases and machines, unlike the
/// standard hasher).
pub fn refit_offset_minutes(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % REFIT_MINUTES as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::super::forecast_with;
    use super::super::tests::{daily_rate as daily, poisson_loads};
    use super::super::{ForecastConfig, ModelKind};
    use super::*;

    const DAY: i64 = Minute::PER_DAY;

    fn bins(load: &[crate::observe::MinuteLoad], from: i64, to: i64) -> Series {
        Series::from_minute_loads(Minute(from), Minute(to), load, &[]).rebin(5)
    }

    #[test]
    fn a_history_extends_by_the_bins_after_it_and_marks_missed_ones() {
        let recent = Series::new(Minute(100), 5, vec![1.0, 2.0, 3.0]);
        let first = BinHistory::extended(None, &recent, 10);
        assert_eq!((first.start, first.values.as_slice()), (Minute(100), &[1.0, 2.0, 3.0][..]));
        // Overlapping: only the bins after the end are new.
        let next = BinHistory::extended(Some(first.clone()), &Series::new(Minute(105), 5, vec![9.0, 9.0, 4.0]), 10);
        assert_eq!(next.values, [1.0, 2.0, 3.0, 4.0]);
        // A gap of two bins, then the newest five kept.
        let later = BinHistory::extended(Some(next), &Series::new(Minute(130), 5, vec![5.0, 6.0]), 5);
        assert_eq!(later.start, Minute(115));
        assert_eq!(later.values[0], 4.0);
        assert!(later.values[1].is_nan() && later.values[2].is_nan());
        assert_eq!(later.values[3..], [5.0, 6.0]);
        // Another step, or an end further back than the bins kept: the new bins alone.
        let other = BinHistory::extended(Some(first.clone()), &Series::new(Minute(120), 10, vec![7.0]), 10);
        assert_eq!((other.start, other.step_minutes, other.values.as_slice()), (Minute(120), 10, &[7.0][..]));
        let long_ago = BinHistory::extended(Some(first), &Series::new(Minute(100_000), 5, vec![8.0]), 10);
        assert_eq!((long_ago.start, long_ago.values.as_slice()), (Minute(100_000), &[8.0][..]));
    }

    #[test]
    fn runs_that_keep_the_model_forecast_as_a_process_that_never_stopped() {
        // A step run every 5 minutes for five days, reading a day's window each time, against
        // what one process holding the whole history would forecast: the model fitted on all
        // bins up to the refit, advanced over those since.
        let config = ForecastConfig::default();
        let start = 7; // the first window starts off the grid
        let load = poisson_loads(start, 5 * DAY, 21, daily);
        let offset = refit_offset_minutes("orders");
        let (mut kept, mut history): (Option<KeptModel>, Option<BinHistory>) = (None, None);
        let (mut refits, mut kinds) = (0, Vec::new());
        for now in (start + DAY..start + 5 * DAY).step_by(5) {
            let origin = now.div_euclid(5) * 5;
            let recent = bins(&load, now - DAY, origin);
            let model = match model_source(kept.clone(), &recent, offset) {
                ModelSource::Advanced(m) => *m,
                ModelSource::Refit => {
                    let h = BinHistory::extended(history.take(), &recent, 28 * 288);
                    let m = SeasonalModel::fit(&h.series(), config.max_history_days);
                    kept = Some(KeptModel { fitted_at: Minute(origin), model: m.clone() });
                    history = Some(h);
                    refits += 1;
                    m
                }
                ModelSource::WindowOnly => unreachable!("runs go forwards"),
            };
            let fitted_at = kept.as_ref().unwrap().fitted_at;
            let mut expected = SeasonalModel::fit(&bins(&load, start, fitted_at.0), config.max_history_days);
            expected.advance(&bins(&load, fitted_at.0, origin).values);
            assert_eq!(model, expected, "run at {now}");
            kinds.push(model.kind);
            let f = forecast_with(&model, &load, 60, &config);
            assert_eq!((f.origin, f.slots.len()), (Minute(origin), 12));
        }
        // The first run, then twice a day at the function's times, and the odd run whose
        // bins since the fit surprised the model (the first fit, on a day, knew no cycle).
        assert!((9..=11).contains(&refits), "{refits}");
        assert_eq!(kinds.first(), Some(&ModelKind::RecentLevel));
        assert_eq!(kinds.last(), Some(&ModelKind::Daily), "the profile comes once two days are kept");
    }

    #[test]
    fn a_refit_is_due_when_the_kept_model_cannot_be_advanced() {
        let load = poisson_loads(0, 3 * DAY, 3, daily);
        let model = SeasonalModel::fit(&bins(&load, 0, 2 * DAY), 28);
        let kept = |fitted_at: i64| Some(KeptModel { fitted_at: Minute(fitted_at), model: model.clone() });
        let advanced = |s: ModelSource| matches!(s, ModelSource::Advanced(_));
        let offset = 600;
        // Within the function's period: advanced over the new bins.
        let recent = bins(&load, DAY + 300, 2 * DAY + 300);
        assert!(advanced(model_source(kept(2 * DAY), &recent, offset)));
        match model_source(kept(2 * DAY), &recent, offset) {
            ModelSource::Advanced(m) => assert_eq!(m.origin, Minute(2 * DAY + 300)),
            other => panic!("{other:?}"),
        }
        // Its refit time passed since the fit (2 days + 600); nothing kept; another step.
        assert_eq!(model_source(kept(2 * DAY), &bins(&load, DAY + 700, 2 * DAY + 700), offset), ModelSource::Refit);
        assert_eq!(model_source(None, &recent, offset), ModelSource::Refit);
        let coarse = Series::from_minute_loads(Minute(DAY), Minute(2 * DAY + 300), &load, &[]).rebin(10);
        assert_eq!(model_source(kept(2 * DAY), &coarse, offset), ModelSource::Refit);
        // The window starts after the model stopped: the bins between are not in it.
        assert_eq!(model_source(kept(2 * DAY), &bins(&load, 2 * DAY + 60, 2 * DAY + 300), offset), ModelSource::Refit);
        // An old execution run again.
        assert_eq!(model_source(kept(2 * DAY), &bins(&load, DAY, 2 * DAY - 60), offset), ModelSource::WindowOnly);
    }

    #[test]
    fn a_model_the_new_bins_keep_surprising_is_refitted_within_the_hour() {
        let steady = |_: Minute| 20.0;
        let offset = refit_offset_minutes("orders");
        // Fitted on two quiet days at the start of its refit period.
        let fitted_at = (2 * DAY + offset + 5).div_euclid(5) * 5;
        let quiet = poisson_loads(0, fitted_at, 4, steady);
        let kept =
            KeptModel { fitted_at: Minute(fitted_at), model: SeasonalModel::fit(&bins(&quiet, 0, fitted_at), 28) };
        let run = |load: &[crate::observe::MinuteLoad], minutes: i64| {
            let origin = fitted_at + minutes;
            model_source(Some(kept.clone()), &bins(load, origin - DAY, origin), offset)
        };
        // More of the same for 10 hours: advanced, the p99 exceeded about one bin in a hundred.
        let more = poisson_loads(0, fitted_at + 600, 4, steady);
        assert!(matches!(run(&more, 600), ModelSource::Advanced(_)));
        // Four times the traffic, in bursts: refitted once an hour of it has been seen.
        let busier = |m: Minute| if m.0 < fitted_at { 20.0 } else { 80.0 * f64::from(u8::from(m.0 % 3 == 0)) * 3.0 };
        let burst = poisson_loads(0, fitted_at + 60, 4, busier);
        assert!(matches!(run(&burst, 30), ModelSource::Advanced(_)), "half an hour is too little to tell");
        assert_eq!(run(&burst, 60), ModelSource::Refit);
    }

    #[test]
    fn refit_times_spread_over_the_day() {
        let offsets: Vec<i64> = (0..1200).map(|i| refit_offset_minutes(&format!("fn-{i}"))).collect();
        assert!(offsets.iter().all(|o| (0..REFIT_MINUTES).contains(o)));
        let mut per_hour = [0; 12];
        for o in &offsets {
            per_hour[(o / 60) as usize] += 1;
        }
        // 1,200 names over 12 hours: about 100 an hour, none far from it.
        assert!(per_hour.iter().all(|&n| (60..140).contains(&n)), "{per_hour:?}");
        assert_eq!(refit_offset_minutes("orders"), refit_offset_minutes("orders"));
    }

    #[test]
    fn the_kept_model_and_history_survive_json() {
        // A weekly model (15 days) with a gap, so the shift window holds `NaN`s.
        let mut values: Vec<f64> = (0..15 * 288).map(|i| f64::from(i % 288) / 20.0 + f64::from(i % 7)).collect();
        for v in &mut values[15 * 288 - 3..15 * 288 - 1] {
            *v = f64::NAN;
        }
        let history = BinHistory { start: Minute(0), step_minutes: 5, values };
        let model = SeasonalModel::fit(&history.series(), 28);
        assert_eq!(model.kind, ModelKind::Weekly);
        let kept = KeptModel { fitted_at: model.origin, model };
        let back: KeptModel = serde_json::from_str(&serde_json::to_string(&kept).unwrap()).unwrap();
        let (a, b) = (kept.model.forecast(300), back.model.forecast(300));
        for (x, y) in a.iter().zip(&b) {
            for (p, q) in x.0.iter().zip(&y.0) {
                assert!((p - q).abs() <= 1e-12 * p.abs().max(1.0), "{p} vs {q}");
            }
        }
        let h: BinHistory = serde_json::from_str(&serde_json::to_string(&history).unwrap()).unwrap();
        assert_eq!(h.values.iter().filter(|v| v.is_nan()).count(), 2);
        assert_eq!(
            (h.start, h.values.len(), h.values[100]),
            (history.start, history.values.len(), history.values[100])
        );
    }
}
