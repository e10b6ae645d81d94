//! Arrival processes at sub-minute resolution.
//!
//! Each simulated minute a traffic model gives an arrival count and the window of the minute
//! the arrivals fall in; within the window arrivals are uniform (a Poisson process
//! conditioned on its count). Shapes:
//! - [`Traffic::Poisson`] with a synthetic rate: daily and weekly cycles, trend, bursts (a
//!   two-state Markov chain per minute) and a level shift;
//! - [`Traffic::Timer`]: a scheduled rule firing every k minutes (e.g. EventBridge);
//! - [`Traffic::Batches`]: a queue drained every k minutes in a short burst;
//! - [`Traffic::Trace`]: the shape of a real trace (any `datasets` series), scaled to a mean
//!   rate and replayed cyclically from a phase.

use std::f64::consts::PI;
use std::sync::Arc;

use autopilot_core::Minute;
use autopilot_datasets::traces::RateSeries;
use serde::Serialize;

use crate::rng::Rng;

/// Episodes of elevated traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bursts {
    pub per_day: f64,
    pub mean_minutes: f64,
    pub multiplier: f64,
}

/// A permanent change of level at some point of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LevelShift {
    pub at_day: f64,
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub mean_per_minute: f64,
    /// 0..1: amplitude of the daily cosine, peaking at `peak_hour_utc`.
    pub daily_amplitude: f64,
    pub peak_hour_utc: f64,
    /// Multiplier on Saturdays and Sundays.
    pub weekend_factor: f64,
    /// Relative growth per week.
    pub trend_per_week: f64,
    pub bursts: Option<Bursts>,
    pub level_shift: Option<LevelShift>,
}

impl Rate {
    pub fn flat(mean_per_minute: f64) -> Self {
        Self {
            mean_per_minute,
            daily_amplitude: 0.0,
            peak_hour_utc: 14.0,
            weekend_factor: 1.0,
            trend_per_week: 0.0,
            bursts: None,
            level_shift: None,
        }
    }

    /// Expected arrivals in a minute, bursts excluded; `elapsed_days` since the start of the run.
    pub fn base(&self, minute: Minute, elapsed_days: f64) -> f64 {
        let hour = minute.minute_of_day() as f64 / 60.0;
        let daily = 1.0 + self.daily_amplitude * (2.0 * PI * (hour - self.peak_hour_utc) / 24.0).cos();
        let weekend = if minute.minute_of_week() >= 5 * Minute::PER_DAY { self.weekend_factor } else { 1.0 };
        let trend = 1.0 + self.trend_per_week * elapsed_days / 7.0;
        let shift = match self.level_shift {
            Some(s) if elapsed_days >= s.at_day => s.factor,
            _ => 1.0,
        };
        (self.mean_per_minute * daily * weekend * trend * shift).max(0.0)
    }
}

/// A per-minute shape with mean 1, from a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceShape {
    pub name: String,
    #[serde(skip)]
    pub per_minute: Arc<[f32]>,
}

impl TraceShape {
    /// Expands a series to one value per minute (an interval's count spread evenly over its
    /// minutes; sub-minute intervals summed), fills gaps by interpolation, normalises to mean 1.
    /// `None` for a series with no arrivals.
    pub fn from_series(series: &RateSeries) -> Option<Self> {
        let filled = series.filled();
        let minutes_per = series.interval_ms as f64 / 60_000.0;
        let mut per_minute: Vec<f64> = Vec::new();
        if minutes_per >= 1.0 {
            let k = minutes_per.round().max(1.0) as usize;
            for v in &filled {
                per_minute.extend(std::iter::repeat_n(v / k as f64, k));
            }
        } else {
            let per = (1.0 / minutes_per).round().max(1.0) as usize;
            per_minute = filled.chunks(per).map(|c| c.iter().sum()).collect();
        }
        let mean = per_minute.iter().sum::<f64>() / per_minute.len().max(1) as f64;
        if mean.is_nan() || mean <= 0.0 {
            return None;
        }
        Some(Self { name: series.name.clone(), per_minute: per_minute.iter().map(|v| (v / mean) as f32).collect() })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Traffic {
    Poisson(Rate),
    Timer { every_minutes: u32, per_fire: u32 },
    Batches { every_minutes: u32, mean_batch: f64, spread_seconds: f64 },
    Trace { shape: TraceShape, mean_per_minute: f64, phase_minutes: usize },
}

impl Traffic {
    pub fn label(&self) -> String {
        match self {
            Self::Poisson(r) if r.level_shift.is_some() => "level shift".into(),
            Self::Poisson(r) if r.bursts.is_some() => "bursty".into(),
            Self::Poisson(r) if r.daily_amplitude > 0.0 => "daily+weekly".into(),
            Self::Poisson(_) => "steady".into(),
            Self::Timer { every_minutes, .. } => format!("timer/{every_minutes}m"),
            Self::Batches { every_minutes, .. } => format!("batches/{every_minutes}m"),
            Self::Trace { shape, .. } => format!("trace:{}", shape.name),
        }
    }

    /// Mean arrivals per minute over a long run (before bursts, trend and shifts).
    pub fn nominal_per_minute(&self) -> f64 {
        match self {
            Self::Poisson(r) => r.mean_per_minute,
            Self::Timer { every_minutes, per_fire } => f64::from(*per_fire) / f64::from((*every_minutes).max(1)),
            Self::Batches { every_minutes, mean_batch, .. } => mean_batch / f64::from((*every_minutes).max(1)),
            Self::Trace { mean_per_minute, .. } => *mean_per_minute,
        }
    }
}

/// Arrivals of one minute: how many, and the window (seconds from the minute's start) they
/// are spread over uniformly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteArrivals {
    pub count: u64,
    pub window_start_s: f64,
    pub window_s: f64,
}

/// The traffic model plus its state (burst episodes) and its own random stream.
#[derive(Debug, Clone)]
pub struct TrafficState {
    traffic: Traffic,
    rng: Rng,
    burst_left: u32,
}

impl TrafficState {
    pub fn new(traffic: Traffic, rng: Rng) -> Self {
        Self { traffic, rng, burst_left: 0 }
    }

    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// Arrivals of minute number `index` of the run (which is `minute` on the clock).
    pub fn next(&mut self, index: u64, minute: Minute) -> MinuteArrivals {
        let whole = |count| MinuteArrivals { count, window_start_s: 0.0, window_s: 60.0 };
        match &self.traffic {
            Traffic::Poisson(rate) => {
                let mut mean = rate.base(minute, index as f64 / Minute::PER_DAY as f64);
                if let Some(b) = rate.bursts {
                    if self.burst_left == 0 && self.rng.bernoulli(b.per_day / Minute::PER_DAY as f64) {
                        self.burst_left = 1 + (self.rng.exp() * b.mean_minutes) as u32;
                    }
                    if self.burst_left > 0 {
                        self.burst_left -= 1;
                        mean *= b.multiplier;
                    }
                }
                whole(self.rng.poisson(mean))
            }
            Traffic::Timer { every_minutes, per_fire } => {
                let fires = index.is_multiple_of(u64::from((*every_minutes).max(1)));
                MinuteArrivals {
                    count: if fires { u64::from(*per_fire) } else { 0 },
                    window_start_s: 0.0,
                    window_s: 0.05,
                }
            }
            Traffic::Batches { every_minutes, mean_batch, spread_seconds } => {
                if index.is_multiple_of(u64::from((*every_minutes).max(1))) {
                    let n = self.rng.poisson(*mean_batch);
                    MinuteArrivals { count: n, window_start_s: 0.0, window_s: spread_seconds.clamp(0.01, 60.0) }
                } else {
                    whole(0)
                }
            }
            Traffic::Trace { shape, mean_per_minute, phase_minutes } => {
                let len = shape.per_minute.len().max(1);
                let m = f64::from(shape.per_minute[(index as usize + phase_minutes) % len]);
                whole(self.rng.poisson(m * mean_per_minute))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_and_weekly_cycles() {
        let r = Rate { daily_amplitude: 0.5, weekend_factor: 0.5, ..Rate::flat(100.0) };
        let monday = Minute(0).plus(4 * Minute::PER_DAY); // 1970-01-05 was a Monday
        assert!((r.base(monday.plus(14 * 60), 0.0) - 150.0).abs() < 1e-9, "peak at 14:00");
        assert!((r.base(monday.plus(2 * 60), 0.0) - 50.0).abs() < 1e-9, "trough 12 h later");
        assert!((r.base(monday.plus(5 * Minute::PER_DAY + 14 * 60), 0.0) - 75.0).abs() < 1e-9, "Saturday");
    }

    #[test]
    fn trace_shapes_have_mean_one_and_cover_every_minute() {
        let s = RateSeries {
            name: "t".into(),
            start_ms: 0,
            interval_ms: 300_000,
            counts: vec![Some(10.0), None, Some(30.0), Some(0.0)],
            trigger: None,
        };
        let shape = TraceShape::from_series(&s).unwrap();
        assert_eq!(shape.per_minute.len(), 20);
        let mean: f64 = shape.per_minute.iter().map(|v| f64::from(*v)).sum::<f64>() / 20.0;
        assert!((mean - 1.0).abs() < 1e-6);
        assert!((shape.per_minute[5] / shape.per_minute[0] - 2.0).abs() < 1e-6, "the gap is interpolated");
    }

    #[test]
    fn the_same_seed_gives_the_same_arrivals() {
        let t = Traffic::Poisson(Rate {
            bursts: Some(Bursts { per_day: 20.0, mean_minutes: 10.0, multiplier: 5.0 }),
            ..Rate::flat(3.0)
        });
        let run = || {
            let mut s = TrafficState::new(t.clone(), Rng::seed(9));
            (0..5_000).map(|i| s.next(i, Minute(i as i64)).count).collect::<Vec<_>>()
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        let mean = a.iter().sum::<u64>() as f64 / a.len() as f64;
        assert!(mean > 3.5, "bursts raise the mean: {mean}");
    }
}
