//! A regular series of rates with explicit gaps: what the forecaster fits.
//!
//! Values are **arrivals per minute**, averaged over each bin, so that series of any
//! resolution (1-minute stats, 5-minute CloudWatch, 30-minute traces) share one scale.
//! `NaN` marks a bin with no data, which is not the same as a bin with no traffic.

use crate::domain::Minute;
use crate::observe::MinuteLoad;

/// Bins of `step_minutes` starting at `start`; `values[i]` covers
/// `[start + i·step, start + (i+1)·step)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub start: Minute,
    pub step_minutes: u32,
    /// Mean arrivals per minute in each bin; `NaN` = no data.
    pub values: Vec<f64>,
}

impl Series {
    pub fn new(start: Minute, step_minutes: u32, values: Vec<f64>) -> Self {
        assert!(step_minutes > 0, "a series needs a positive step");
        Self { start, step_minutes, values }
    }

    /// Minute just after the last bin.
    pub fn end(&self) -> Minute {
        self.start.plus(self.values.len() as i64 * i64::from(self.step_minutes))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Bins with data.
    pub fn known(&self) -> usize {
        self.values.iter().filter(|v| !v.is_nan()).count()
    }

    /// Invocations per minute over `[from, to)` from the stats table's per-minute load.
    /// A minute without an item had no traffic (the extension writes nothing when idle), so
    /// it is 0, not a gap; minutes listed in `gaps` (collection outages) are `NaN`.
    pub fn from_minute_loads(from: Minute, to: Minute, load: &[MinuteLoad], gaps: &[Minute]) -> Self {
        let n = (to.0 - from.0).max(0) as usize;
        let mut values = vec![0.0; n];
        for l in load {
            if l.minute >= from && l.minute < to {
                values[(l.minute.0 - from.0) as usize] += l.invocations as f64;
            }
        }
        for g in gaps {
            if *g >= from && *g < to {
                values[(g.0 - from.0) as usize] = f64::NAN;
            }
        }
        Self::new(from, 1, values)
    }

    /// Re-bins to `step_minutes` (a multiple of the current step, or a divisor of it).
    ///
    /// Coarser: each new bin is the mean of the old bins it covers that have data, `NaN`
    /// when less than half of them do. Finer: each old bin's rate is repeated (a rate per
    /// minute is the same in every part of its bin). The new grid starts at a multiple of
    /// the new step (minutes since the epoch), so bins align with wall-clock slots.
    pub fn rebin(&self, step_minutes: u32) -> Self {
        let old = i64::from(self.step_minutes);
        let new = i64::from(step_minutes);
        if new == old {
            return self.clone();
        }
        if new < old {
            assert!(old % new == 0, "step {new} does not divide {old}");
            let k = (old / new) as usize;
            let values = self.values.iter().flat_map(|v| std::iter::repeat_n(*v, k)).collect();
            return Self::new(self.start, step_minutes, values);
        }
        assert!(new % old == 0, "step {new} is not a multiple of {old}");
        let start = Minute(self.start.0.div_euclid(new) * new);
        let end = self.end();
        let bins = (end.0 - start.0 + new - 1).div_euclid(new).max(0) as usize;
        let per_bin = (new / old) as usize;
        let mut sum = vec![0.0; bins];
        let mut count = vec![0usize; bins];
        for (i, v) in self.values.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let minute = self.start.0 + i as i64 * old;
            let b = ((minute - start.0) / new) as usize;
            sum[b] += v;
            count[b] += 1;
        }
        let values = sum
            .iter()
            .zip(&count)
            .map(|(s, &c)| if c * 2 >= per_bin && c > 0 { s / c as f64 } else { f64::NAN })
            .collect();
        Self::new(start, step_minutes, values)
    }

    /// The bins that end at or before `end`, and at most `max_bins` of them (the most recent).
    pub fn window_before(&self, end: Minute, max_bins: usize) -> Self {
        let step = i64::from(self.step_minutes);
        let stop = ((end.0 - self.start.0).div_euclid(step)).clamp(0, self.values.len() as i64) as usize;
        let begin = stop.saturating_sub(max_bins);
        Self::new(self.start.plus(begin as i64 * step), self.step_minutes, self.values[begin..stop].to_vec())
    }
}

/// Serde for a sequence of `f64` in which `NaN` means "no data": JSON has no `NaN`, so it is
/// written as `null` and read back as `NaN` (`#[serde(with = "nan_as_null")]`).
pub mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T, S>(values: &T, s: S) -> Result<S::Ok, S::Error>
    where
        for<'a> &'a T: IntoIterator<Item = &'a f64>,
        S: Serializer,
    {
        s.collect_seq(values.into_iter().map(|v| (!v.is_nan()).then_some(*v)))
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromIterator<f64>,
        D: Deserializer<'de>,
    {
        let values = Vec::<Option<f64>>::deserialize(d)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(minute: i64, invocations: u64) -> MinuteLoad {
        MinuteLoad { minute: Minute(minute), invocations, concurrency: 0.0, environments: 0, cold_starts: 0 }
    }

    #[test]
    fn absent_minutes_are_idle_and_listed_gaps_are_missing() {
        let s = Series::from_minute_loads(
            Minute(100),
            Minute(105),
            &[load(101, 7), load(104, 2), load(99, 5)],
            &[Minute(103)],
        );
        assert_eq!(s.values[..3], [0.0, 7.0, 0.0]);
        assert!(s.values[3].is_nan());
        assert_eq!(s.values[4], 2.0);
        assert_eq!(s.known(), 4);
    }

    #[test]
    fn rebinning_aligns_to_the_clock_and_keeps_rates() {
        // Minutes 3..13 at 1-minute resolution → 5-minute bins [0,5) [5,10) [10,15).
        let s = Series::new(Minute(3), 1, (3..13).map(|m| m as f64).collect());
        let r = s.rebin(5);
        assert_eq!(r.start, Minute(0));
        assert_eq!(r.len(), 3);
        assert!(r.values[0].is_nan(), "2 of 5 minutes known is too few");
        assert_eq!(r.values[1], 7.0);
        assert_eq!(r.values[2], 11.0, "3 of 5 minutes known: their mean");
        let fine = Series::new(Minute(0), 30, vec![6.0, f64::NAN]).rebin(5);
        assert_eq!(fine.len(), 12);
        assert_eq!(fine.values[5], 6.0);
        assert!(fine.values[6].is_nan());
    }

    #[test]
    fn window_before_takes_the_most_recent_bins() {
        let s = Series::new(Minute(0), 5, (0..10).map(f64::from).collect());
        let w = s.window_before(Minute(37), 3);
        assert_eq!(w.start, Minute(20));
        assert_eq!(w.values, [4.0, 5.0, 6.0]);
        assert!(s.window_before(Minute(-5), 3).is_empty());
    }
}
