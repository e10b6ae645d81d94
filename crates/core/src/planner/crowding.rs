//! Callers a warm-up round crowds out.
//!
//! A round of several calls holds the idle environments it lands on for the policy's hold
//! `h`; a caller arriving meanwhile finds a free environment only if a busy one has finished
//! since the round went out. Counted pessimistically — the round takes every idle
//! environment, none is left above it — the callers that start cold are those that arrive
//! when as many callers have arrived as environments have been freed:
//!
//! - arrivals during the hold are Poisson at the slot's rate λ;
//! - in steady state the departures of an M/G/∞ system are Poisson at the same rate λ (its
//!   output theorem), whatever the duration distribution;
//! - a caller that finds nothing free starts an environment of its own, which stays busy
//!   past the hold (a duration is far longer than the 50 ms hold), so the crowded callers up
//!   to time t are `max over s ≤ t of (A(s) − D(s))`, never below 0 (Lindley's recursion).
//!
//! `A − D` is a symmetric skip-free walk, so the reflection principle gives
//! `P(max ≥ m) = P(S ≥ m) + P(S > m)` for m ≥ 1, with S ~ Skellam(μ, μ), μ = λh; summed over m,
//! `E[max] = E|S| − (1 − P(S = 0)) / 2`, and for equal means
//! `E|S| = 2μ·e^(−2μ)·(I₀(2μ) + I₁(2μ))`, `P(S = 0) = e^(−2μ)·I₀(2μ)`.
//!
//! That is about `μ` for a quiet function (an arrival during the hold is crowded out only if no
//! call finished before it) and `2·√(μ/π) − 1/2` for a busy one, against the `μ` of counting every
//! arrival during the hold as crowded (at 100 calls a second and a 50 ms hold: 2.1 against 5).

/// Expected callers crowded out by one round that holds every idle environment while
/// `arrivals` callers are expected to arrive (λ × hold).
pub fn crowded_per_round(arrivals: f64) -> f64 {
    if arrivals.is_nan() || arrivals <= 0.0 {
        return 0.0;
    }
    if 2.0 * arrivals <= SERIES_UP_TO {
        return by_jumps(arrivals);
    }
    let x = 2.0 * arrivals;
    let (i0, i1) = (scaled_i0(x), scaled_i1(x));
    (x * (i0 + i1) - 0.5 * (1.0 - i0)).max(0.0)
}

/// Below this many expected jumps of the walk (2μ) the expectation is summed over the number of
/// jumps ([`by_jumps`]): the closed form subtracts nearly equal numbers there.
const SERIES_UP_TO: f64 = 2.0;
/// Jump counts [`by_jumps`] sums: the Poisson(2) tail beyond them is below 1e-16.
const MAX_JUMPS: usize = 24;

/// The same expectation as a sum over the number of jumps n ~ Poisson(2μ) of the walk: each jump
/// is ±1 with even odds, and the mean maximum of n steps is `E[S_n⁺] + E[(S_n − 1)⁺]` (the
/// discrete reflection principle).
fn by_jumps(mu: f64) -> f64 {
    let rate = 2.0 * mu;
    let mut p = (-rate).exp();
    let mut sum = 0.0;
    for (n, m) in MAX_OF_WALK.iter().enumerate().skip(1) {
        p *= rate / n as f64;
        sum += p * m;
    }
    sum
}

/// `E[max(0, S_1, …, S_n)]` of a simple symmetric walk of n steps, n < [`MAX_JUMPS`].
static MAX_OF_WALK: std::sync::LazyLock<[f64; MAX_JUMPS]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|n| {
        // S_n = 2u − n with u ~ Binomial(n, 1/2).
        let mut total = 0.0;
        let mut c = 1.0; // C(n, u)
        for u in 0..=n {
            let s = 2.0 * u as f64 - n as f64;
            total += c * (s.max(0.0) + (s - 1.0).max(0.0));
            c = c * (n - u) as f64 / (u + 1) as f64;
        }
        total / 2f64.powi(n as i32)
    })
});

/// `e^(−x)·I₀(x)` for x ≥ 0 (Abramowitz & Stegun 9.8.1 and 9.8.2; error below 2e-7).
fn scaled_i0(x: f64) -> f64 {
    if x <= 3.75 {
        let t = (x / 3.75).powi(2);
        let i0 = 1.0
            + t * (3.515_622_9
                + t * (3.089_942_4 + t * (1.206_749_2 + t * (0.265_973_2 + t * (0.036_076_8 + t * 0.004_581_3)))));
        i0 * (-x).exp()
    } else {
        let t = 3.75 / x;
        let p = 0.398_942_28
            + t * (0.013_285_92
                + t * (0.002_253_19
                    + t * (-0.001_575_65
                        + t * (0.009_162_81
                            + t * (-0.020_577_06 + t * (0.026_355_37 + t * (-0.016_476_33 + t * 0.003_923_77)))))));
        p / x.sqrt()
    }
}

/// `e^(−x)·I₁(x)` for x ≥ 0 (Abramowitz & Stegun 9.8.3 and 9.8.4; error below 3e-7).
fn scaled_i1(x: f64) -> f64 {
    if x <= 3.75 {
        let t = (x / 3.75).powi(2);
        let i1_over_x = 0.5
            + t * (0.878_905_94
                + t * (0.514_988_69 + t * (0.150_849_34 + t * (0.026_587_33 + t * (0.003_015_32 + t * 0.000_324_11)))));
        x * i1_over_x * (-x).exp()
    } else {
        let t = 3.75 / x;
        let p = 0.398_942_28
            + t * (-0.039_880_24
                + t * (-0.003_620_18
                    + t * (0.001_638_01
                        + t * (-0.010_315_55
                            + t * (0.022_829_67 + t * (-0.028_953_12 + t * (0.017_876_54 + t * -0.004_200_59)))))));
        p / x.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk's mean maximum straight from its paths: every sequence of n steps.
    fn max_by_paths(n: u32) -> f64 {
        let mut total = 0.0;
        for bits in 0u32..(1 << n) {
            let (mut s, mut max) = (0i32, 0i32);
            for i in 0..n {
                s += if bits >> i & 1 == 1 { 1 } else { -1 };
                max = max.max(s);
            }
            total += f64::from(max);
        }
        total / f64::from(1u32 << n)
    }

    /// `E|S| − (1 − P(S = 0)) / 2` from Skellam's distribution summed term by term: the
    /// convolution of two Poisson(μ) distributions.
    fn by_distribution(mu: f64) -> f64 {
        let terms = (mu + 12.0 * mu.sqrt() + 40.0) as usize;
        let mut pois = vec![(-mu).exp()];
        for k in 1..terms {
            let prev = pois[k - 1];
            pois.push(prev * mu / k as f64);
        }
        let (mut abs, mut zero) = (0.0, 0.0);
        for (a, pa) in pois.iter().enumerate() {
            for (d, pd) in pois.iter().enumerate() {
                let s = a as f64 - d as f64;
                abs += pa * pd * s.abs();
                if a == d {
                    zero += pa * pd;
                }
            }
        }
        abs - 0.5 * (1.0 - zero)
    }

    #[test]
    fn the_reflected_walk_has_the_mean_maximum_of_its_paths() {
        for n in 0..=14 {
            let table = MAX_OF_WALK[n as usize];
            assert!((table - max_by_paths(n)).abs() < 1e-12, "{n} steps: {table} vs {}", max_by_paths(n));
        }
    }

    #[test]
    fn both_forms_match_skellams_distribution() {
        for mu in [1e-6, 0.01, 0.3, 0.99, 1.0, 1.01, 1.8, 3.0, 8.0, 25.0, 120.0] {
            let want = by_distribution(mu);
            let got = crowded_per_round(mu);
            assert!((got - want).abs() <= 2e-6 * want.max(1.0), "μ {mu}: {got} vs {want}");
        }
    }

    #[test]
    fn a_quiet_function_loses_about_every_arrival_and_a_busy_one_far_fewer() {
        // Few arrivals during the hold: nearly each is crowded out (no call finished before it).
        assert!((crowded_per_round(0.001) / 0.001 - 1.0).abs() < 0.002);
        // Many: departures free environments for most of them (2√(μ/π) − 1/2).
        let busy = crowded_per_round(400.0);
        assert!((busy - (2.0 * (400.0 / std::f64::consts::PI).sqrt() - 0.5)).abs() < 0.01, "{busy}");
        assert!(crowded_per_round(5.0) < 2.2 && crowded_per_round(5.0) > 2.0);
        for mu in [0.0, -1.0, f64::NAN] {
            assert_eq!(crowded_per_round(mu), 0.0);
        }
        // More arrivals never crowd out fewer callers.
        let grid: Vec<f64> = (0..400).map(|i| crowded_per_round(f64::from(i) * 0.01)).collect();
        assert!(grid.windows(2).all(|w| w[1] >= w[0] - 1e-9), "monotone across the switch of forms");
    }
}
