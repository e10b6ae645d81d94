//! Forecaster behaviour on synthetic series whose truth is known: seasonal, sparse, gappy,
//! level-shifted and short.

use super::*;

/// SplitMix64 and a Poisson sampler: deterministic test inputs without a dependency.
pub(crate) struct TestRng(u64);

impl TestRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((x ^ (x >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn poisson(&mut self, mean: f64) -> u64 {
        if mean > 50.0 {
            let u1 = self.uniform().max(1e-300);
            let u2 = self.uniform();
            let n = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            return (mean + mean.sqrt() * n).round().max(0.0) as u64;
        }
        let limit = (-mean).exp();
        let (mut k, mut p) = (0, self.uniform());
        while p > limit {
            k += 1;
            p *= self.uniform();
        }
        k
    }
}

/// Per-minute loads of a Poisson process with the given rate (per minute) function.
pub(crate) fn poisson_loads(from: i64, minutes: i64, seed: u64, rate: impl Fn(Minute) -> f64) -> Vec<MinuteLoad> {
    let mut rng = TestRng::new(seed);
    (from..from + minutes)
        .filter_map(|m| {
            let n = rng.poisson(rate(Minute(m)));
            (n > 0).then(|| MinuteLoad {
                minute: Minute(m),
                invocations: n,
                concurrency: n as f64 * 0.2 / 60.0,
                environments: 1,
                cold_starts: 0,
            })
        })
        .collect()
}

/// Daily cycle between 2 and 18 per minute, peak mid-day.
pub(crate) fn daily_rate(m: Minute) -> f64 {
    let phase = m.minute_of_day() as f64 / 1440.0 * std::f64::consts::TAU;
    10.0 - 8.0 * phase.cos()
}

const DAYS14: i64 = 14 * 1440;

#[test]
fn seasonal_series_forecast_follows_the_cycle_and_its_p90_covers() {
    let load = poisson_loads(0, DAYS14 + 1440, 1, daily_rate);
    let history: Vec<_> = load.iter().copied().filter(|l| l.minute.0 < DAYS14).collect();
    let f = forecast_load(&history, &[], Minute(0), Minute(DAYS14), 1440, &ForecastConfig::default());
    assert_eq!(f.model, ModelKind::Weekly);
    assert_eq!(f.slots.len(), 288);
    let actual = Series::from_minute_loads(Minute(DAYS14), Minute(DAYS14 + 1440), &load, &[]).rebin(5);
    let (mut covered, mut abs_err) = (0, 0.0);
    for (s, y) in f.slots.iter().zip(&actual.values) {
        let truth = daily_rate(s.start.plus(2));
        abs_err += (s.invocations_per_minute.p50() - truth).abs() / truth;
        covered += usize::from(*y <= s.invocations_per_minute.p90());
    }
    let mape = abs_err / 288.0;
    let coverage = covered as f64 / 288.0;
    assert!(mape < 0.12, "p50 should track the true daily rate, mean abs error {mape:.3}");
    assert!((0.8..=0.98).contains(&coverage), "p90 should cover about 90% of slots, got {coverage:.3}");
    assert!((f.mean_duration_ms.unwrap() - 200.0).abs() < 1e-6);
}

#[test]
fn weekly_structure_is_learned_once_two_weeks_exist() {
    // Weekends (minute_of_week ≥ 5 days) at a fifth of weekday traffic.
    let rate = |m: Minute| if m.minute_of_week() >= 5 * 1440 { 2.0 } else { 10.0 };
    let start = 4 * 1440; // Monday 1970-01-05
    let history = 3 * 7 * 1440 + 4 * 1440; // to Friday 00:00 of week four
    let load = poisson_loads(start, history, 2, rate);
    let now = Minute(start + history);
    let f = forecast_load(&load, &[], Minute(start), now, 2 * 1440, &ForecastConfig::default());
    assert_eq!(f.model, ModelKind::Weekly);
    let mean = |from: usize, to: usize| {
        f.slots[from..to].iter().map(|s| s.invocations_per_minute.p50()).sum::<f64>() / (to - from) as f64
    };
    let friday = mean(0, 288);
    let saturday = mean(288, 576);
    assert!(friday > 2.5 * saturday, "friday {friday:.2} vs saturday {saturday:.2}");
}

#[test]
fn sparse_series_never_forecasts_negative_and_keeps_a_tail() {
    // One call every ~40 minutes on average.
    let load = poisson_loads(0, DAYS14, 3, |_| 0.025);
    let f = forecast_load(&load, &[], Minute(0), Minute(DAYS14), 60, &ForecastConfig::default());
    for s in &f.slots {
        let q = s.invocations_per_minute;
        assert!(q.0.iter().all(|v| *v >= 0.0 && v.is_finite()));
        assert!(q.0.windows(2).all(|w| w[0] <= w[1]), "quantiles ordered: {q:?}");
        assert!(q.p50() < 0.05, "the typical slot is empty: {q:?}");
        assert!(q.p99() >= 0.2, "but one call in a slot is within the p99: {q:?}");
    }
}

#[test]
fn gaps_are_skipped_not_read_as_zero() {
    let load = poisson_loads(0, DAYS14, 4, daily_rate);
    // A lost day and every 7th minute missing.
    let gaps: Vec<Minute> =
        (0..DAYS14).filter(|m| (5 * 1440..6 * 1440).contains(m) || m % 7 == 0).map(Minute).collect();
    let kept: Vec<_> = load.iter().copied().filter(|l| !gaps.contains(&l.minute)).collect();
    let with_gaps = forecast_load(&kept, &gaps, Minute(0), Minute(DAYS14), 1440, &ForecastConfig::default());
    let as_zeros = forecast_load(&kept, &[], Minute(0), Minute(DAYS14), 1440, &ForecastConfig::default());
    let err = |f: &Forecast| {
        f.slots.iter().map(|s| (s.invocations_per_minute.p50() - daily_rate(s.start.plus(2))).abs()).sum::<f64>()
            / 288.0
    };
    assert!(err(&with_gaps) < 1.2, "gaps skipped: mean abs error {:.2}", err(&with_gaps));
    assert!(err(&with_gaps) < err(&as_zeros), "reading gaps as idle must be worse");
}

#[test]
fn a_level_shift_is_followed_within_hours() {
    // 10 per minute for ten days, then 40 per minute for the last six hours.
    let shift = 10 * 1440;
    let now = shift + 360;
    let load = poisson_loads(0, now, 5, |m| if m.0 < shift { 10.0 } else { 40.0 });
    let f = forecast_load(&load, &[], Minute(0), Minute(now), 60, &ForecastConfig::default());
    let p50 = f.slots[0].invocations_per_minute.p50();
    assert!(p50 > 30.0, "the next slot follows the new level, got {p50:.1}");
    let p50_late = f.slots[11].invocations_per_minute.p50();
    assert!(p50_late > 25.0, "and an hour later still mostly does, got {p50_late:.1}");
}

#[test]
fn short_and_empty_histories() {
    let load = poisson_loads(0, 180, 6, |_| 5.0);
    let f = forecast_load(&load, &[], Minute(0), Minute(180), 60, &ForecastConfig::default());
    assert_eq!(f.model, ModelKind::RecentLevel);
    assert!((f.slots[0].invocations_per_minute.p50() - 5.0).abs() < 1.5);
    let none = forecast_load(&[], &[], Minute(0), Minute(180), 60, &ForecastConfig::default());
    assert_eq!(none.model, ModelKind::RecentLevel, "three idle hours are a history of zeros");
    assert_eq!(none.slots[0].invocations_per_minute, Quantiles::ZERO);
    let nothing = forecast_load(&[], &[], Minute(180), Minute(180), 60, &ForecastConfig::default());
    assert_eq!(nothing.model, ModelKind::NoHistory);
    assert!(nothing.mean_duration_ms.is_none());
}

#[test]
fn origin_is_the_slot_boundary_before_now() {
    let load = poisson_loads(0, 600, 7, |_| 1.0);
    let f = forecast_load(&load, &[], Minute(0), Minute(603), 60, &ForecastConfig::default());
    assert_eq!(f.origin, Minute(600));
    assert_eq!(f.slots[1].start, Minute(605));
    assert_eq!(f.slots.len(), 12);
}

#[test]
fn a_jump_from_an_empty_stretch_does_not_become_the_mean() {
    // A day whose first hours have no calls (a function deployed, or first seen, in the
    // window), then 300 a minute: the replayed errors hold one jump of ln(1 + 1,500) per
    // 5-minute bin, and exp of it averaged with the rest was the mean, ten times the p50.
    let start = 4 * 60;
    let load = poisson_loads(start, 1440 - start, 7, |_| 300.0);
    let f = forecast_load(&load, &[], Minute(0), Minute(1440), 60, &ForecastConfig::default());
    assert_eq!(f.model, ModelKind::RecentLevel);
    for s in &f.slots {
        let q = s.invocations_per_minute;
        assert!((250.0..350.0).contains(&q.p50()), "p50 {:.1}", q.p50());
        assert!(s.mean_per_minute <= q.p99(), "mean {:.1} above the p99 {:.1}", s.mean_per_minute, q.p99());
        assert!(s.mean_per_minute >= q.0[0], "mean {:.1} below the p10 {:.1}", s.mean_per_minute, q.0[0]);
    }
}
