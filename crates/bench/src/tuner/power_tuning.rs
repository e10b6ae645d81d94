//! A faithful replica of AWS Lambda Power Tuning's decision (alexcasalboni/
//! aws-lambda-power-tuning, `lambda/executor.js`, `lambda/utils.js`, `lambda/analyzer.js`),
//! written from its documented behaviour and unit tests:
//! - it invokes the function `num` times at each power value (default 128, 256, 512, 1024,
//!   1536, 3008 MB) and reads the **billed** duration of each invocation;
//! - average duration = the trimmed mean that sorts the durations and discards
//!   `floor(n × discardTopBottom)` values from each end (default 0.2);
//! - average price = `ceil(average duration) × base cost × value / 128`, with base cost
//!   2.1e-9 $/ms at 128 MB on x86_64 and 1.7e-9 on arm64 (the request charge is ignored);
//! - total cost = the same price summed over each invocation;
//! - strategies: `cost` sorts by price then duration; `speed` by duration then price;
//!   `balanced` by `w·cost/maxCost + (1−w)·duration/maxDuration` (w = 1 is cost only),
//!   maxima over the power values run. Sorting is stable: ties keep ascending power.

use autopilot_core::Architecture;

/// Power Tuning's default power values (MB).
pub const DEFAULT_POWER_VALUES: [u32; 6] = [128, 256, 512, 1024, 1536, 3008];
/// Default share of invocations discarded at each end before averaging.
pub const DEFAULT_DISCARD_TOP_BOTTOM: f64 = 0.2;
/// Memory the base cost refers to (`minRAM`).
pub const MIN_RAM_MB: u32 = 128;

/// Base cost per ms at 128 MB.
pub fn base_cost(arch: Architecture) -> f64 {
    match arch {
        Architecture::X86_64 => 2.1e-9,
        Architecture::Arm64 => 1.7e-9,
    }
}

/// The trimmed mean Power Tuning reports as average duration.
pub fn trimmed_mean(durations: &[f64], discard_top_bottom: f64) -> f64 {
    if durations.is_empty() {
        return 0.0;
    }
    let discard = discard_top_bottom.clamp(0.0, 0.4);
    let drop = (durations.len() as f64 * discard).floor() as usize;
    let mut sorted = durations.to_vec();
    sorted.sort_by(f64::total_cmp);
    let kept = &sorted[drop..sorted.len() - drop];
    kept.iter().sum::<f64>() / kept.len() as f64
}

/// `computePrice`: ceil(duration) × min cost × value / min RAM.
pub fn compute_price(min_cost: f64, min_ram_mb: u32, value_mb: u32, duration_ms: f64) -> f64 {
    duration_ms.ceil() * min_cost * (f64::from(value_mb) / f64::from(min_ram_mb))
}

/// `computeTotalCost`: the price of every invocation, summed.
pub fn compute_total_cost(min_cost: f64, min_ram_mb: u32, value_mb: u32, durations: &[f64]) -> f64 {
    durations.iter().map(|&d| compute_price(min_cost, min_ram_mb, value_mb, d)).sum()
}

/// Statistics of one power value, as the executor returns them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerStats {
    pub power: u32,
    pub average_price: f64,
    pub average_duration: f64,
    pub total_cost: f64,
}

impl PowerStats {
    /// The executor's statistics for billed durations at one power value.
    pub fn from_billed(arch: Architecture, power: u32, billed_ms: &[f64], discard_top_bottom: f64) -> Self {
        let average_duration = trimmed_mean(billed_ms, discard_top_bottom);
        Self {
            power,
            average_price: compute_price(base_cost(arch), MIN_RAM_MB, power, average_duration),
            average_duration,
            total_cost: compute_total_cost(base_cost(arch), MIN_RAM_MB, power, billed_ms),
        }
    }
}

/// Optimisation strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    Cost,
    Speed,
    /// Weight of cost, 0..=1 (Power Tuning's `balancedWeight`, default 0.5).
    Balanced(f64),
}

/// The analyzer's pick among the power values run (empty results, i.e. zero average
/// duration, are ignored as Power Tuning does).
pub fn pick(stats: &[PowerStats], strategy: Strategy) -> Option<PowerStats> {
    let mut s: Vec<PowerStats> = stats.iter().copied().filter(|p| p.average_duration > 0.0).collect();
    match strategy {
        Strategy::Cost => s.sort_by(|a, b| {
            a.average_price.total_cmp(&b.average_price).then(a.average_duration.total_cmp(&b.average_duration))
        }),
        Strategy::Speed => s.sort_by(|a, b| {
            a.average_duration.total_cmp(&b.average_duration).then(a.average_price.total_cmp(&b.average_price))
        }),
        Strategy::Balanced(w) => {
            let w = w.clamp(0.0, 1.0);
            let max_cost = s.iter().map(|p| p.average_price).fold(f64::MIN, f64::max);
            let max_duration = s.iter().map(|p| p.average_duration).fold(f64::MIN, f64::max);
            let value = |p: &PowerStats| w * p.average_price / max_cost + (1.0 - w) * p.average_duration / max_duration;
            s.sort_by(|a, b| value(a).total_cmp(&value(b)));
        }
    }
    s.first().copied()
}

/// The default power values brought into a function's feasible range `[lo, hi]`: values
/// outside it are replaced by the nearest end (a user sets `powerValues` so that the
/// function can run), duplicates removed.
pub fn power_values_within(lo: u32, hi: u32) -> Vec<u32> {
    let mut v: Vec<u32> = DEFAULT_POWER_VALUES.iter().map(|&p| p.clamp(lo, hi)).collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(power: u32, cost: f64, duration: f64) -> PowerStats {
        PowerStats { power, average_price: cost, average_duration: duration, total_cost: 0.0 }
    }

    // Power Tuning's own unit-test values (test/unit/test-utils.js, test-analyzer.js).
    #[test]
    fn trimmed_mean_matches_power_tuning() {
        let d = [1.0, 2.0, 3.0, 4.0, 2000.0];
        assert_eq!(trimmed_mean(&d, 0.2), 3.0);
        assert_eq!(trimmed_mean(&d, 0.4), 3.0);
        assert_eq!(trimmed_mean(&d, 0.0), 402.0);
    }

    #[test]
    fn prices_match_power_tuning() {
        assert!((compute_price(2.1e-9, 128, 1024, 300.0) - 5.04e-6).abs() < 1e-18);
        let total = compute_total_cost(2.1e-9, 128, 1024, &[100.0, 150.0, 200.0, 300.0, 400.0]);
        assert!((total - 1.932e-5).abs() < 1e-17, "{total}");
    }

    #[test]
    fn strategies_match_power_tuning() {
        let cheapest =
            pick(&[stats(128, 100.0, 100.0), stats(256, 200.0, 300.0), stats(512, 30.0, 200.0)], Strategy::Cost);
        assert_eq!(cheapest.unwrap().power, 512);
        let tie = pick(&[stats(128, 100.0, 100.0), stats(256, 100.0, 90.0), stats(512, 300.0, 200.0)], Strategy::Cost);
        assert_eq!(tie.unwrap().power, 256, "equal cost: the faster one");
        let fastest =
            pick(&[stats(128, 100.0, 300.0), stats(256, 200.0, 200.0), stats(512, 300.0, 100.0)], Strategy::Speed);
        assert_eq!(fastest.unwrap().power, 512);
    }

    #[test]
    fn balanced_uses_max_normalisation() {
        let s = [stats(128, 100.0, 1000.0), stats(256, 120.0, 500.0), stats(512, 300.0, 240.0)];
        // w = 1 is cost only, w = 0 speed only.
        assert_eq!(pick(&s, Strategy::Balanced(1.0)).unwrap().power, 128);
        assert_eq!(pick(&s, Strategy::Balanced(0.0)).unwrap().power, 512);
        // w = 0.5: 128 → 0.5·100/300 + 0.5·1 = 0.667; 256 → 0.2 + 0.25 = 0.45; 512 → 0.5 + 0.12.
        assert_eq!(pick(&s, Strategy::Balanced(0.5)).unwrap().power, 256);
    }

    #[test]
    fn executor_statistics() {
        let s = PowerStats::from_billed(Architecture::X86_64, 1024, &[100.0, 150.0, 200.0, 300.0, 400.0], 0.2);
        assert!((s.average_duration - 650.0 / 3.0).abs() < 1e-12);
        assert!((s.average_price - 217.0 * 2.1e-9 * 8.0).abs() < 1e-18);
        assert!((s.total_cost - 1.932e-5).abs() < 1e-17);
        assert_eq!(power_values_within(128, 2048), vec![128, 256, 512, 1024, 1536, 2048]);
        assert_eq!(power_values_within(1024, 10_240), vec![1024, 1536, 3008]);
    }
}
