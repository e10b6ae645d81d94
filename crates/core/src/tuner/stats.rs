//! The few distributions the tuner and the guardrails need, written out so the core keeps
//! no numerical dependency: the normal CDF and quantile, the regularised incomplete beta
//! (hence exact binomial tails), and distribution-free bounds on quantiles.
//!
//! Accuracy: the normal CDF to ~1e-7 absolute (Chebyshev-fitted erfc), its quantile to
//! ~1e-9 relative (Acklam's rational approximation), binomial tails to
//! ~1e-10 relative (continued fraction of the incomplete beta, Lentz's method). That is far
//! below anything a decision could notice.

/// Standard normal cumulative distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal density.
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Complementary error function, fractional error below 1.2e-7 everywhere.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ];
    let mut acc = 0.0;
    for c in poly.iter().rev() {
        acc = c + t * acc;
    }
    let r = t * (-z * z + acc).exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal quantile (inverse CDF) for 0 < p < 1; ±infinity at the ends.
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let p_low = 0.024_25;
    let tail = |q: f64| {
        let num = ((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5];
        num / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < p_low {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - p_low {
        let q = p - 0.5;
        let r = q * q;
        let num = (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q;
        num / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

/// Natural log of the gamma function for x > 0 (Lanczos, g = 7, n = 9).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    let t = x + G + 0.5;
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised incomplete beta function I_x(a, b).
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        (ln_front.exp() * beta_continued_fraction(a, b, x) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - ln_front.exp() * beta_continued_fraction(b, a, 1.0 - x) / b).clamp(0.0, 1.0)
    }
}

fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-14;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    // Converges in O(sqrt(max(a, b))) steps; the cap covers windows of ~10^8 invocations.
    for m in 1..=20_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// P(X ≥ k) for X ~ Binomial(n, p): the exact upper tail.
pub fn binomial_sf(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    incomplete_beta(k as f64, (n - k + 1) as f64, p)
}

/// P(X ≤ k) for X ~ Binomial(n, p).
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    1.0 - binomial_sf(k + 1, n, p)
}

/// The 1-based rank `r` of the order statistic that bounds the `q`-quantile from above with
/// probability at least `confidence` in a sample of `n` (distribution-free: `X_(r) ≥ x_q`
/// unless at least `r` of the `n` values fall below `x_q`). `None` when `n` is too small for
/// any order statistic to give that confidence.
pub fn quantile_upper_rank(n: u64, q: f64, confidence: f64) -> Option<u64> {
    if n == 0 {
        return None;
    }
    // Smallest r with P(Bin(n, q) ≤ r − 1) ≥ confidence; start near the normal approximation.
    let mean = n as f64 * q;
    let sd = (n as f64 * q * (1.0 - q)).sqrt();
    let guess = (mean + normal_quantile(confidence) * sd).floor().max(0.0) as u64;
    let mut r = guess.saturating_sub(3).max(1);
    while r <= n {
        if binomial_cdf(r - 1, n, q) >= confidence {
            // Step back while the previous rank still qualifies (the guess may overshoot).
            while r > 1 && binomial_cdf(r - 2, n, q) >= confidence {
                r -= 1;
            }
            return Some(r);
        }
        r += 1;
    }
    None
}

/// Regularised lower incomplete gamma function P(a, x) (series below a + 1, continued
/// fraction above).
pub fn incomplete_gamma(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_front = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (sum * ln_front.exp()).clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -f64::from(i) * (f64::from(i) - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (1.0 - ln_front.exp() * h).clamp(0.0, 1.0)
    }
}

/// The `p`-quantile of the chi-square distribution with `df` degrees of freedom (bisection
/// on the incomplete gamma; exact to 1e-10 relative).
pub fn chi2_quantile(p: f64, df: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    let cdf = |x: f64| incomplete_gamma(df / 2.0, x / 2.0);
    let mut hi = df.max(1.0);
    while cdf(hi) < p {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// CDF of the noncentral t distribution with `df` degrees of freedom and noncentrality
/// `delta` at `t`: `P((Z + δ) / √(χ²_df / df) ≤ t)`, by quadrature over the scaled chi
/// variable `u = √(χ²_df / df)` in ln(u) (so the region near u = 0, which decides the tail
/// at one or two degrees of freedom, is resolved). Accurate to ~1e-6, enough for
/// tolerance bounds.
pub fn noncentral_t_cdf(t: f64, df: f64, delta: f64) -> f64 {
    if df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    // ln density of v = ln u, up to a constant: ν·v − ν·e^{2v}/2.
    let spread = 1.0 / (2.0 * df).sqrt();
    let (lo, hi) = (-36.0 / df - 10.0 * spread, 10.0 * spread + 1.0 / df);
    const STEPS: usize = 2_000;
    let h = (hi - lo) / STEPS as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..STEPS {
        let v = lo + (i as f64 + 0.5) * h;
        let w = (df * v - 0.5 * df * (2.0 * v).exp()).exp();
        num += w * normal_cdf(t * v.exp() - delta);
        den += w;
    }
    if den > 0.0 { (num / den).clamp(0.0, 1.0) } else { f64::NAN }
}

/// Confidence that the `p`-quantile of a lognormal lies at or below `limit`, from `n`
/// values whose logarithms have mean `log_mean` and sample standard deviation `log_sd`
/// (estimated with `df` degrees of freedom): the exact one-sided test of a normal quantile,
/// whose statistic `√n (ln limit − mean) / sd` is noncentral t with noncentrality
/// `z_p √n` when the quantile sits exactly at the limit. Its 1 − α point is the one-sided
/// tolerance factor: with 5 values the 99th percentile is bounded at 95% only
/// `5.741 · sd` above the mean (37.09 with 2 values), so a few values just under a limit
/// do not show that the limit holds.
pub fn quantile_below_confidence(limit: f64, log_mean: f64, log_sd: f64, n: u64, df: f64, p: f64) -> f64 {
    if n == 0 || df.is_nan() || df <= 0.0 || limit.is_nan() || limit <= 0.0 {
        return 0.0;
    }
    let root_n = (n as f64).sqrt();
    let delta = normal_quantile(p) * root_n;
    if log_sd <= 0.0 {
        return if limit.ln() > log_mean { 1.0 } else { 0.0 };
    }
    noncentral_t_cdf(root_n * (limit.ln() - log_mean) / log_sd, df, delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn normal_figures_from_the_tables() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-7);
        assert!((normal_cdf(-2.326_348) - 0.01).abs() < 1e-7);
        assert!(close(normal_quantile(0.975), 1.959_963_985, 1e-8));
        assert!(close(normal_quantile(0.99), 2.326_347_874, 1e-8));
        assert!(close(normal_quantile(0.001), -3.090_232_306, 1e-8));
        assert!(close(normal_quantile(0.5) + 1.0, 1.0, 1e-12));
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn gamma_and_beta() {
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-12));
        assert!(close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-12));
        assert!(close(ln_gamma(101.0), 363.739_375_555_563_5, 1e-12));
        // I_x(1, 1) = x; I_x(a, 1) = x^a.
        assert!(close(incomplete_beta(1.0, 1.0, 0.3), 0.3, 1e-10));
        assert!(close(incomplete_beta(3.0, 1.0, 0.5), 0.125, 1e-10));
    }

    #[test]
    fn binomial_tails_are_exact() {
        // P(X ≥ 8), X ~ Bin(10, 0.5) = (45 + 10 + 1) / 1024.
        assert!(close(binomial_sf(8, 10, 0.5), 56.0 / 1024.0, 1e-10));
        assert!(close(binomial_cdf(2, 10, 0.5), 56.0 / 1024.0, 1e-10));
        assert_eq!(binomial_sf(0, 10, 0.3), 1.0);
        assert_eq!(binomial_sf(11, 10, 0.3), 0.0);
        // P(X ≥ 1), X ~ Bin(n, p) = 1 − (1 − p)^n, also for large n.
        assert!(close(binomial_sf(1, 1_000_000, 1e-6), 1.0 - (1.0 - 1e-6f64).powi(1_000_000), 1e-9));
        // A tail far out: Bin(10^6, 0.01) has mean 10^4 and sd 99.5; P(X ≥ 10,500) ≈ 2.6e-7.
        let p = binomial_sf(10_500, 1_000_000, 0.01);
        assert!(p > 1e-7 && p < 6e-7, "{p}");
    }

    #[test]
    fn order_statistic_bounds_cover_the_quantile() {
        // With n = 1,000 and q = 0.99 the 95% upper bound is near rank 995.
        let r = quantile_upper_rank(1_000, 0.99, 0.95).unwrap();
        assert!((994..=997).contains(&r), "{r}");
        assert!(binomial_cdf(r - 1, 1_000, 0.99) >= 0.95);
        assert!(binomial_cdf(r - 2, 1_000, 0.99) < 0.95);
        // 100 values cannot bound a p99 at 95% (even the maximum covers it only 63% of the time).
        assert_eq!(quantile_upper_rank(100, 0.99, 0.95), None);
        assert!(quantile_upper_rank(300, 0.99, 0.95).is_some());
    }

    #[test]
    fn chi_square_quantiles_from_the_tables() {
        assert!(close(chi2_quantile(0.95, 10.0), 18.307_038, 1e-6));
        assert!(close(chi2_quantile(0.05, 5.0), 1.145_476, 1e-6));
        assert!(close(chi2_quantile(0.05, 1.0), 0.003_932_1, 1e-4));
        assert!(close(chi2_quantile(0.05, 2.0), 0.102_586_6, 1e-6));
        assert!(close(chi2_quantile(0.95, 1.0), 3.841_459, 1e-6));
    }

    /// One-sided normal tolerance factors for the 99th percentile at 95% confidence
    /// (published tables, e.g. NIST/SEMATECH e-Handbook 7.2.6.3): n = 5 → 5.741,
    /// n = 10 → 3.981, n = 20 → 3.295, n = 2 → 37.094.
    #[test]
    fn noncentral_t_reproduces_published_tolerance_factors() {
        let z = normal_quantile(0.99);
        for (n, k) in [(2u64, 37.094), (5, 5.741), (10, 3.981), (20, 3.295)] {
            let root_n = (n as f64).sqrt();
            let f = noncentral_t_cdf(k * root_n, (n - 1) as f64, z * root_n);
            assert!((f - 0.95).abs() < 1e-3, "n={n}: {f}");
            // The same as a confidence that the quantile is below mean + k·sd.
            let c = quantile_below_confidence((1.0 + k * 0.1f64).exp(), 1.0, 0.1, n, (n - 1) as f64, 0.99);
            assert!((c - 0.95).abs() < 1e-3, "n={n}: {c}");
        }
        // Central t: t(1) is Cauchy, P(T ≤ 1) = 0.75; t(10) at 1.812 is 0.95.
        assert!((noncentral_t_cdf(1.0, 1.0, 0.0) - 0.75).abs() < 1e-4);
        assert!((noncentral_t_cdf(1.812_461, 10.0, 0.0) - 0.95).abs() < 1e-4);
    }
}
