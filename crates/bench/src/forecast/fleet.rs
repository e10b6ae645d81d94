//! Forecasting speed on a fleet: N synthetic functions with `days` of 1-minute history each
//! (daily cycles of different phases and levels, weekends, sparse ones), forecast one after
//! another on one thread. Only the forecast is timed, not the generation of its input.

use autopilot_core::Minute;
use autopilot_core::forecast::{ForecastConfig, forecast_load};
use autopilot_core::observe::MinuteLoad;
use autopilot_sim::rng::Rng;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FleetTiming {
    pub functions: usize,
    pub history_days: u32,
    /// Time spent forecasting (CPU seconds of the thread when `cpu`, else wall).
    pub seconds: f64,
    pub ms_per_series: f64,
    pub cpu: bool,
}

pub fn time_fleet(functions: usize, days: u32) -> FleetTiming {
    let minutes = i64::from(days) * Minute::PER_DAY;
    let now = Minute(20_000 * Minute::PER_DAY);
    let from = now.plus(-minutes);
    let config = ForecastConfig::default();
    let mut rng = Rng::seed(7);
    let mut load = Vec::with_capacity(minutes as usize);
    let mut seconds = 0.0;
    let mut sink = 0.0;
    let mut cpu = false;
    for f in 0..functions {
        // Levels from 0.01 to 1,000 calls per minute, log-uniform; phase and weekend vary.
        let level = 10f64.powf(-2.0 + 5.0 * rng.uniform());
        let phase = rng.uniform() * 24.0;
        let weekend = 0.3 + 0.7 * rng.uniform();
        load.clear();
        for i in 0..minutes {
            let m = from.plus(i);
            let hour = m.minute_of_day() as f64 / 60.0;
            let daily = 1.0 + 0.6 * ((hour - phase) / 24.0 * std::f64::consts::TAU).cos();
            let w = if m.minute_of_week() >= 5 * Minute::PER_DAY { weekend } else { 1.0 };
            let n = rng.poisson(level * daily * w);
            if n > 0 {
                load.push(MinuteLoad {
                    minute: m,
                    invocations: n,
                    concurrency: n as f64 * 0.1 / 60.0,
                    environments: 1,
                    cold_starts: 0,
                });
            }
        }
        let timer = super::cpu_time::CpuTimer::start();
        let forecast = forecast_load(&load, &[], from, now, 60, &config);
        let (s, is_cpu) = timer.seconds();
        seconds += s;
        cpu = is_cpu;
        sink += forecast.slots.first().map_or(0.0, |s| s.invocations_per_minute.p50()) * 1e-9 * f as f64;
    }
    std::hint::black_box(sink);
    FleetTiming {
        functions,
        history_days: days,
        seconds,
        ms_per_series: 1000.0 * seconds / functions.max(1) as f64,
        cpu,
    }
}
