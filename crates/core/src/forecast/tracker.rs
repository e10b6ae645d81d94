//! The forecaster kept alive between runs: per function, the history as the model's bins, the
//! fitted model, and the little the forecast needs besides (busy time per call over the last
//! day with traffic, environments of the last hour), all updated as new minutes arrive.
//!
//! [`super::forecast_load`] refits the model on weeks of history at every call, which is right
//! for a Lambda that starts from the stats table each run, and about a millisecond per function.
//! A process that runs for days (the simulator, a long-lived scheduler) can do better: refit
//! every [`Tracker::refit_minutes`] and in between only [`SeasonalModel::advance`] the level
//! over the new bins, which is what moves from one 5-minute run to the next (profiles carry a
//! week's half-life, error quantiles a week's window). With `refit_minutes` 0 it refits at
//! every call and gives exactly what `forecast_load` gives on the same minutes.

use std::collections::VecDeque;

use super::seasonal::SeasonalModel;
use super::series::Series;
use super::{Forecast, ForecastConfig, ForecastDraft, RECENT_MINUTES, horizon_bins, recent_environments};
use crate::domain::Minute;
use crate::observe::MinuteLoad;

/// Default time between two refits: a day.
pub const DEFAULT_REFIT_MINUTES: u32 = 1_440;

/// One function's forecaster state.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: ForecastConfig,
    /// Minutes between refits (0 = refit at every forecast).
    pub refit_minutes: u32,
    /// First minute with data: earlier minutes are not history (not idle either).
    history_from: Minute,
    /// Minutes up to here (exclusive) have been pushed.
    known_until: Minute,
    /// Arrivals per bin of `config.slot_minutes`, the first bin starting at `bins_start`.
    bins_start: Minute,
    arrivals: VecDeque<f64>,
    model: Option<SeasonalModel>,
    fitted_at: Minute,
    /// Minutes with calls, `(minute, invocations, busy minutes)`, over the day before the
    /// latest call, and their sums: the busy time per call.
    active: VecDeque<(Minute, u64, f64)>,
    active_calls: u64,
    active_busy: f64,
    /// Environments per minute of the last two hours.
    environments: VecDeque<(Minute, u64)>,
}

impl Tracker {
    /// A tracker whose history starts at `history_from`.
    pub fn new(history_from: Minute, config: ForecastConfig, refit_minutes: u32) -> Self {
        let step = i64::from(config.slot_minutes.max(1));
        let bins_start = Minute(history_from.0.div_euclid(step) * step);
        Self {
            config,
            refit_minutes,
            history_from,
            known_until: history_from,
            bins_start,
            arrivals: VecDeque::new(),
            model: None,
            fitted_at: Minute(i64::MIN),
            active: VecDeque::new(),
            active_calls: 0,
            active_busy: 0.0,
            environments: VecDeque::new(),
        }
    }

    /// End (exclusive) of the minutes pushed so far: where the next read starts.
    pub fn known_until(&self) -> Minute {
        self.known_until
    }

    /// Takes the load of `[known_until, until)` (ascending; absent minutes had no calls).
    /// Minutes already pushed, or before the history's start, are ignored.
    pub fn push(&mut self, load: &[MinuteLoad], until: Minute) {
        if until <= self.known_until {
            return;
        }
        let step = i64::from(self.config.slot_minutes.max(1));
        let last_bin = (until.0 - 1 - self.bins_start.0).div_euclid(step);
        while (self.arrivals.len() as i64) <= last_bin {
            self.arrivals.push_back(0.0);
        }
        for l in load.iter().filter(|l| l.minute >= self.known_until && l.minute < until) {
            let bin = (l.minute.0 - self.bins_start.0).div_euclid(step) as usize;
            self.arrivals[bin] += l.invocations as f64;
            if l.invocations > 0 || l.concurrency > 0.0 {
                self.active.push_back((l.minute, l.invocations, l.concurrency));
                self.active_calls += l.invocations;
                self.active_busy += l.concurrency;
            }
            self.environments.push_back((l.minute, l.environments));
        }
        self.known_until = until;
        // Forget what no forecast reads: bins beyond the history read, and a refit's worth more.
        let keep_bins = (i64::from(self.config.max_history_days) * Minute::PER_DAY / step) as usize
            + (i64::from(self.refit_minutes) / step) as usize
            + 2;
        while self.arrivals.len() > keep_bins {
            self.arrivals.pop_front();
            self.bins_start = self.bins_start.plus(step);
        }
        if let Some(latest) = self.active.iter().rev().find(|a| a.1 > 0).map(|a| a.0) {
            // Exactly the day before the latest call: what a forecast from now reads.
            let horizon = latest.0 - Minute::PER_DAY;
            while self.active.front().is_some_and(|a| a.0.0 <= horizon) {
                if let Some((_, calls, busy)) = self.active.pop_front() {
                    self.active_calls -= calls;
                    self.active_busy -= busy;
                }
            }
        }
        if self.active.is_empty() {
            // No rounding left over from the sums of what was dropped.
            self.active_busy = 0.0;
        }
        let from = until.0 - 2 * RECENT_MINUTES as i64;
        while self.environments.front().is_some_and(|e| e.0.0 < from) {
            self.environments.pop_front();
        }
    }

    /// Forecasts `horizon_minutes` from `now` (`now` at most the end of what was pushed), as
    /// [`super::forecast_load`] would from the same minutes.
    pub fn forecast(&mut self, now: Minute, horizon_minutes: u32) -> Forecast {
        let mut forecast = self.forecast_slots(now, horizon_minutes);
        self.complete(&mut forecast);
        forecast
    }

    /// [`Self::forecast`] but for the figures that are not the model's — busy time per call
    /// (`None`) and recent environments (empty) — which take a walk over up to a day of
    /// minutes: for a caller that compares the slots with an earlier forecast first and may
    /// not need them. [`Self::complete`] adds them.
    pub fn forecast_slots(&mut self, now: Minute, horizon_minutes: u32) -> Forecast {
        self.forecast_draft(now, horizon_minutes).into_forecast()
    }

    /// [`Self::forecast_slots`] with the slots still on the model's scale: for a caller that
    /// reads a few figures of each slot first (whether a plan made earlier still holds) and
    /// needs the whole forecast only now and then.
    pub fn forecast_draft(&mut self, now: Minute, horizon_minutes: u32) -> ForecastDraft {
        let step = i64::from(self.config.slot_minutes.max(1));
        let origin = Minute(now.0.min(self.known_until.0).div_euclid(step) * step);
        let stale = match &self.model {
            None => true,
            Some(m) => {
                m.needs_refit()
                    || origin < m.origin
                    || origin.0 - self.fitted_at.0 >= i64::from(self.refit_minutes)
                    || self.bin_index(m.origin).is_none()
            }
        };
        if stale {
            let from =
                Minute(self.history_from.0.max(origin.0 - i64::from(self.config.max_history_days) * Minute::PER_DAY));
            let series = self.series(from, origin);
            self.model = Some(SeasonalModel::fit(&series, self.config.max_history_days));
            self.fitted_at = origin;
        } else if let Some(m) = &self.model
            && m.origin < origin
        {
            let values = self.series(m.origin, origin).values;
            if let Some(m) = &mut self.model {
                m.advance(&values);
            }
        }
        let model = self.model.as_ref().unwrap_or_else(|| unreachable!("fitted above"));
        let head = Forecast {
            origin,
            slot_minutes: self.config.slot_minutes,
            model: model.kind,
            // Advancing counts every new bin; a refit counts those of its window.
            history_minutes: model.known_bins.min(self.window_bins()) as u64 * step as u64,
            mean_duration_ms: None,
            slots: Vec::new(),
            recent_environments: Vec::new(),
        };
        ForecastDraft { head, slots: horizon_bins(model, origin, step, horizon_minutes) }
    }

    /// Adds to a forecast of [`Self::forecast_slots`] what [`Self::forecast`] has besides, for
    /// its origin (call it before pushing more minutes).
    pub fn complete(&self, forecast: &mut Forecast) {
        forecast.mean_duration_ms = self.mean_duration_ms(forecast.origin);
        forecast.recent_environments = recent_environments(self.environments.iter().copied(), forecast.origin);
    }

    fn window_bins(&self) -> usize {
        (i64::from(self.config.max_history_days) * Minute::PER_DAY / i64::from(self.config.slot_minutes.max(1)))
            as usize
    }

    fn bin_index(&self, minute: Minute) -> Option<usize> {
        let step = i64::from(self.config.slot_minutes.max(1));
        let i = (minute.0 - self.bins_start.0).div_euclid(step);
        (0..=self.arrivals.len() as i64).contains(&i).then_some(i as usize)
    }

    /// The model's bins over `[from, to)` (`to` on the grid): arrivals per minute over the
    /// minutes of each bin that are history; `NaN` when under half of them are, as
    /// [`Series::rebin`] has it.
    fn series(&self, from: Minute, to: Minute) -> Series {
        let step = i64::from(self.config.slot_minutes.max(1));
        let start = Minute(from.0.div_euclid(step) * step);
        let n = ((to.0 - start.0) / step).max(0) as usize;
        let values = (0..n)
            .map(|k| {
                let bin_start = start.0 + k as i64 * step;
                let lo = bin_start.max(from.0).max(self.history_from.0);
                let hi = (bin_start + step).min(self.known_until.0);
                let covered = (hi - lo).max(0);
                let sum = self.bin_index(Minute(bin_start)).and_then(|i| self.arrivals.get(i)).copied().unwrap_or(0.0);
                if covered > 0 && covered * 2 >= step { sum / covered as f64 } else { f64::NAN }
            })
            .collect();
        Series::new(start, self.config.slot_minutes.max(1), values)
    }

    /// Busy ms per invocation over the last day with traffic before `until`: the running sums
    /// of the kept minutes (all within a day of the latest call), less the few minutes at
    /// either end that `until` leaves out — those from `until` on, and those more than a day
    /// before the latest call before it. A run a few minutes into a slot forecasts from the
    /// slot's start, so this is every plan's case: O(those minutes), not O(a day).
    fn mean_duration_ms(&self, until: Minute) -> Option<f64> {
        let end = self.active.partition_point(|a| a.0 < until);
        let last = self.active.range(..end).rev().find(|a| a.1 > 0)?.0;
        let begin = self.active.partition_point(|a| a.0.0 <= last.0 - Minute::PER_DAY);
        let (mut calls, mut busy) = (self.active_calls, self.active_busy);
        for &(_, n, concurrency) in self.active.range(..begin).chain(self.active.range(end..)) {
            calls -= n;
            busy -= concurrency;
        }
        let busy = busy * 60_000.0;
        (calls > 0 && busy > 0.0).then(|| busy / calls as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Quantiles;
    use super::super::forecast_load;
    use super::super::tests::{daily_rate as daily, poisson_loads};
    use super::*;

    const DAY: i64 = Minute::PER_DAY;

    /// Runs every 5 minutes over `[from, to)`, pushing the new minutes and forecasting an
    /// hour; yields the tracker's forecast and `forecast_load`'s on the same minutes.
    fn replay(
        load: &[MinuteLoad],
        start: i64,
        from: i64,
        to: i64,
        refit: u32,
        mut check: impl FnMut(&Forecast, &Forecast),
    ) {
        let config = ForecastConfig { max_history_days: 14, ..ForecastConfig::default() };
        let mut tracker = Tracker::new(Minute(start), config, refit);
        let mut pushed = start;
        for now in (from..to).step_by(5) {
            let new: Vec<MinuteLoad> =
                load.iter().filter(|l| l.minute.0 >= pushed && l.minute.0 < now).copied().collect();
            tracker.push(&new, Minute(now));
            pushed = now;
            let seen: Vec<MinuteLoad> = load.iter().filter(|l| l.minute.0 < now).copied().collect();
            let full = forecast_load(&seen, &[], Minute(start), Minute(now), 60, &config);
            check(&tracker.forecast(Minute(now), 60), &full);
        }
    }

    /// Equal, but for the busy time per call, which the tracker keeps as running sums (equal
    /// up to rounding).
    fn same(t: &Forecast, f: &Forecast) {
        let close = match (t.mean_duration_ms, f.mean_duration_ms) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * b,
            (a, b) => a == b,
        };
        assert!(close, "{:?} vs {:?}", t.mean_duration_ms, f.mean_duration_ms);
        assert_eq!(&Forecast { mean_duration_ms: f.mean_duration_ms, ..t.clone() }, f);
    }

    #[test]
    fn refitting_every_run_is_exactly_forecast_load() {
        let start = 3; // not on the 5-minute grid: the first bin is partial
        let load = poisson_loads(start, 4 * DAY, 11, daily);
        let mut runs = 0;
        replay(&load, start, 3 * DAY, 3 * DAY + 120, 0, |t, f| {
            same(t, f);
            runs += 1;
        });
        // Short history too: the recent-level model, and the first minutes of all.
        replay(&load, start, 10, 130, 0, same);
        assert_eq!(runs, 24);
    }

    #[test]
    fn the_draft_then_the_slots_then_the_rest_is_the_whole_forecast() {
        let load = poisson_loads(0, 3 * DAY, 14, daily);
        let config = ForecastConfig { max_history_days: 14, ..ForecastConfig::default() };
        let (mut whole, mut parts) = (Tracker::new(Minute(0), config, 60), Tracker::new(Minute(0), config, 60));
        for now in (2 * DAY + 2..2 * DAY + 200).step_by(5) {
            let new: Vec<_> = load.iter().filter(|l| l.minute.0 >= now - 5 && l.minute.0 < now).copied().collect();
            whole.push(&new, Minute(now));
            parts.push(&new, Minute(now));
            let expected = whole.forecast(Minute(now), 60);
            let draft = parts.forecast_draft(Minute(now), 60);
            for ((start, bin), slot) in draft.slots.iter().zip(&expected.slots) {
                let Quantiles(q) = slot.invocations_per_minute;
                assert_eq!(
                    (*start, bin.mean(), bin.quantile(4), bin.quantile(5)),
                    (slot.start, slot.mean_per_minute, q[4], q[5])
                );
            }
            let mut f = draft.into_forecast();
            assert_eq!((f.mean_duration_ms, f.recent_environments.len()), (None, 0));
            assert_eq!(f.slots, expected.slots);
            parts.complete(&mut f);
            assert_eq!(f, expected);
            assert!(f.mean_duration_ms.is_some() && !f.recent_environments.is_empty());
        }
    }

    #[test]
    fn advancing_between_daily_refits_stays_close_to_a_full_refit() {
        // Nine days of a daily cycle, a 5-minute run for a whole day between two refits.
        let load = poisson_loads(0, 10 * DAY, 12, daily);
        let mut worst: f64 = 0.0;
        replay(&load, 0, 9 * DAY, 10 * DAY, DEFAULT_REFIT_MINUTES, |t, f| {
            assert_eq!((t.origin, t.model, t.history_minutes), (f.origin, f.model, f.history_minutes));
            assert_eq!(&t.recent_environments, &f.recent_environments);
            assert!((t.mean_duration_ms.unwrap() - f.mean_duration_ms.unwrap()).abs() < 1e-9);
            for (a, b) in t.slots.iter().zip(&f.slots) {
                for (x, y) in [
                    (a.invocations_per_minute.p50(), b.invocations_per_minute.p50()),
                    (a.invocations_per_minute.p90(), b.invocations_per_minute.p90()),
                ] {
                    worst = worst.max((x - y).abs() / y.max(1.0));
                }
            }
        });
        assert!(worst < 0.08, "largest relative gap to a full refit: {worst:.3}");
    }

    #[test]
    fn a_level_shift_is_followed_between_refits() {
        // Steady 5 per minute for three days, then 40 per minute: within the hour after the
        // shift, the advanced model must forecast the new level as a refit does.
        let shift = 3 * DAY + 600;
        let load = poisson_loads(0, shift + 120, 13, |m| if m.0 < shift { 5.0 } else { 40.0 });
        let mut last = None;
        replay(&load, 0, 3 * DAY, shift + 120, DEFAULT_REFIT_MINUTES, |t, f| last = Some((t.clone(), f.clone())));
        let (t, f) = last.unwrap();
        let (tp, fp) = (t.slots[0].invocations_per_minute.p50(), f.slots[0].invocations_per_minute.p50());
        assert!(tp > 30.0 && (tp - fp).abs() / fp < 0.1, "advanced p50 {tp:.1}, refit {fp:.1}");
    }

    #[test]
    fn memory_stays_bounded_over_a_long_run() {
        let config = ForecastConfig { max_history_days: 2, ..ForecastConfig::default() };
        let mut tracker = Tracker::new(Minute(0), config, 60);
        for day in 0..6 {
            let load = poisson_loads(day * DAY, DAY, day as u64, daily);
            for now in (day * DAY + 5..=(day + 1) * DAY).step_by(5) {
                let new: Vec<_> = load.iter().filter(|l| l.minute.0 >= now - 5 && l.minute.0 < now).copied().collect();
                tracker.push(&new, Minute(now));
                tracker.forecast(Minute(now), 60);
            }
        }
        assert!(tracker.arrivals.len() <= 2 * 288 + 12 + 2, "{}", tracker.arrivals.len());
        assert!(tracker.active.len() <= 1_440 && tracker.environments.len() <= 2 * RECENT_MINUTES);
    }
}
