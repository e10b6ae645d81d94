//! The guardrail: after a change, is the new window significantly worse than the old one?
//!
//! Every test is exact and one-sided, at the policy's confidence split evenly across the
//! five tests (Bonferroni), so the chance of rolling back a harmless change is at most
//! `1 − confidence`:
//! - **error, timeout, out-of-memory and throttle rates**: the conditional binomial test of
//!   two Poisson rates. Given `k = k₁ + k₂` events, `k₂ ~ Binomial(k, p₀)` with
//!   `p₀ = n₂(1+δ) / (n₁ + n₂(1+δ))` when the rate after is at most `1 + δ` times the rate
//!   before ([`RATE_MARGIN`] = δ: a practical margin, so that a 1% wobble on a huge window
//!   is not a regression);
//! - **p99 duration**: a quantile test. The allowed p99 is the SLO when one is set, else
//!   `(1 + p99Margin) ×` the p99 the change was expected to give (or a distribution-free
//!   upper bound of the p99 before); when the SLO was already broken before the change,
//!   `(1 + p99Margin) ×` the p99 before (not breaking it, but not worsening it). If the true p99 after is within it, at most 1% of the
//!   new invocations exceed it, so the count above it is at most `Binomial(n₂, 0.01)`; many
//!   more is a regression. A p99 that rises as predicted (less memory is slower) is not one.
//!
//! Too few invocations after the change and nothing significant yet: inconclusive, wait.

use crate::decision::{Metric, Verdict};
use crate::observe::Counters;
use crate::policy::Guardrails;

use super::stats::{binomial_sf, quantile_upper_rank};

/// A rate is worse only when it rose by more than this share (and significantly so).
pub const RATE_MARGIN: f64 = 0.1;
/// Number of tests sharing the confidence.
const TESTS: f64 = 5.0;

/// What a change is judged against besides the window before it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Expected {
    /// p99 the tuner predicted at the new size (ms).
    pub p99_ms: Option<f64>,
    /// The policy's p99 SLO (ms).
    pub slo_ms: Option<f64>,
}

/// Compares the window after a change with the window before it.
pub fn judge(before: &Counters, after: &Counters, expected: Expected, g: &Guardrails) -> Verdict {
    let alpha = (1.0 - g.confidence) / TESTS;
    let counts = |c: &Counters| [c.out_of_memory, c.timeouts, c.errors, c.throttles];
    let metrics = [Metric::OutOfMemoryRate, Metric::TimeoutRate, Metric::ErrorRate, Metric::ThrottleRate];
    for ((metric, k1), k2) in metrics.into_iter().zip(counts(before)).zip(counts(after)) {
        if rate_p_value(k1, before.invocations, k2, after.invocations) < alpha {
            return Verdict::Regressed {
                metric,
                before: k1 as f64 / before.invocations.max(1) as f64,
                after: k2 as f64 / after.invocations.max(1) as f64,
            };
        }
    }
    if let Some(allowed) = allowed_p99(before, expected, g) {
        let n2 = after.duration.count();
        let above = (after.duration.share_above(allowed) * n2 as f64).round() as u64;
        if binomial_sf(above, n2, 0.01) < alpha {
            return Verdict::Regressed {
                metric: Metric::P99DurationMs,
                before: before.duration.quantile(0.99).or(expected.p99_ms).unwrap_or(allowed),
                after: after.duration.quantile(0.99).unwrap_or(f64::NAN),
            };
        }
    }
    if after.invocations < g.min_invocations {
        return Verdict::Inconclusive { invocations: after.invocations, needed: g.min_invocations };
    }
    Verdict::Healthy
}

/// One-sided p-value of "the rate after is more than 1 + δ times the rate before".
pub fn rate_p_value(k1: u64, n1: u64, k2: u64, n2: u64) -> f64 {
    if k2 == 0 || n2 == 0 {
        return 1.0;
    }
    if n1 == 0 {
        // Nothing to compare against: no evidence of a change.
        return 1.0;
    }
    let w2 = n2 as f64 * (1.0 + RATE_MARGIN);
    let p0 = w2 / (n1 as f64 + w2);
    binomial_sf(k2, k1 + k2, p0)
}

/// The p99 a change may reach before it counts as a regression; `None` when there is
/// nothing to judge it by. With an SLO that held before the change, the SLO; with one that
/// was already broken, the p99 before plus the margin (the change did not break it, but
/// must not make it worse).
pub fn allowed_p99(before: &Counters, expected: Expected, g: &Guardrails) -> Option<f64> {
    let before_upper = || {
        let n = before.duration.count();
        let alpha = (1.0 - g.confidence) / TESTS;
        quantile_upper_rank(n, 0.99, 1.0 - alpha / 2.0)
            .and_then(|r| before.duration.quantile((((r - 1) as f64 + 0.5) / (n - 1).max(1) as f64).min(1.0)))
    };
    if let Some(slo) = expected.slo_ms {
        return match before.duration.quantile(0.99) {
            Some(p99) if p99 > slo => Some(before_upper().unwrap_or(p99).max(slo) * (1.0 + g.p99_margin)),
            _ => Some(slo),
        };
    }
    let base = expected.p99_ms.or_else(before_upper)?;
    Some(base * (1.0 + g.p99_margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(n: u64, base_ms: f64, oom: u64, errors: u64) -> Counters {
        let mut c = Counters { invocations: n, out_of_memory: oom, errors, ..Counters::default() };
        for i in 0..n {
            // A deterministic spread: 1% of values at 3× the base.
            let d = if i % 100 == 99 { 3.0 * base_ms } else { base_ms * (1.0 + (i % 10) as f64 / 50.0) };
            c.duration.record(d);
            c.billed_ms += d.ceil() as u64;
        }
        c
    }

    fn g() -> Guardrails {
        Guardrails::default()
    }

    #[test]
    fn the_same_window_twice_is_healthy() {
        let w = window(5_000, 100.0, 3, 20);
        assert_eq!(judge(&w, &w, Expected::default(), &g()), Verdict::Healthy);
    }

    #[test]
    fn out_of_memory_after_a_downsize_is_a_regression() {
        let before = window(10_000, 100.0, 0, 10);
        let after = window(2_000, 180.0, 12, 2);
        match judge(&before, &after, Expected { p99_ms: Some(600.0), slo_ms: None }, &g()) {
            Verdict::Regressed { metric: Metric::OutOfMemoryRate, before, after } => {
                assert_eq!(before, 0.0);
                assert!((after - 0.006).abs() < 1e-12);
            }
            v => panic!("{v:?}"),
        }
        // One OOM in 2,000 after none in 10,000 is not significant at 95%: the tuner's own
        // evidence (a size that ran out of memory is infeasible) handles it.
        let after = window(2_000, 180.0, 1, 2);
        assert_eq!(judge(&before, &after, Expected { p99_ms: Some(600.0), slo_ms: None }, &g()), Verdict::Healthy);
    }

    #[test]
    fn a_p99_cliff_is_a_regression_but_a_predicted_slowdown_is_not() {
        let before = window(10_000, 100.0, 0, 0);
        // Half the memory, twice the duration, as predicted: p99 300 → 600.
        let slower = window(10_000, 200.0, 0, 0);
        let expected = Expected { p99_ms: Some(600.0), slo_ms: None };
        assert_eq!(judge(&before, &slower, expected, &g()), Verdict::Healthy);
        // The same plus 5% of invocations ten times slower (garbage collection thrash).
        let mut cliff = slower.clone();
        for _ in 0..500 {
            cliff.duration.record(2_000.0);
        }
        cliff.invocations += 500;
        match judge(&before, &cliff, expected, &g()) {
            Verdict::Regressed { metric: Metric::P99DurationMs, after, .. } => assert!(after > 1_500.0),
            v => panic!("{v:?}"),
        }
        // With an SLO, only the SLO counts.
        let with_slo = Expected { p99_ms: Some(600.0), slo_ms: Some(2_500.0) };
        assert_eq!(judge(&before, &cliff, with_slo, &g()), Verdict::Healthy);
        let tight = Expected { p99_ms: Some(600.0), slo_ms: Some(1_000.0) };
        assert!(matches!(judge(&before, &cliff, tight, &g()), Verdict::Regressed { .. }));
        // An SLO already broken before the change: judged against the p99 before.
        let broken = Expected { p99_ms: None, slo_ms: Some(100.0) };
        assert_eq!(judge(&before, &before, broken, &g()), Verdict::Healthy);
        assert!(matches!(judge(&before, &cliff, broken, &g()), Verdict::Regressed { .. }));
    }

    #[test]
    fn too_few_invocations_is_inconclusive_unless_something_is_already_clear() {
        let before = window(10_000, 100.0, 0, 0);
        let after = window(20, 100.0, 0, 0);
        assert_eq!(
            judge(&before, &after, Expected::default(), &g()),
            Verdict::Inconclusive { invocations: 20, needed: 50 }
        );
        let after = window(20, 100.0, 10, 0);
        assert!(matches!(judge(&before, &after, Expected::default(), &g()), Verdict::Regressed { .. }));
    }

    #[test]
    fn rate_test_respects_exposure() {
        // 10 errors in 1,000 after vs 100 in 10,000 before: the same rate.
        assert!(rate_p_value(100, 10_000, 10, 1_000) > 0.4);
        // 30 in 1,000 vs 100 in 10,000: three times the rate.
        assert!(rate_p_value(100, 10_000, 30, 1_000) < 1e-4);
        assert_eq!(rate_p_value(5, 100, 0, 100), 1.0);
    }
}
