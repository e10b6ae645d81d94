//! A small seeded random number generator and the distributions the simulator draws from.
//!
//! Our own rather than `rand` + `rand_distr`: a simulation must give the same fleet for the
//! same seed forever, and rand documents that its generators' and distributions' value
//! streams may change between versions. xoshiro256++ (Blackman & Vigna) seeded through
//! SplitMix64; normals by Marsaglia's polar method; Poisson by multiplication below λ = 30 and by
//! Hörmann's transformed rejection (PTRS, 1993) above; exponentials and normals for the
//! per-call path also by the ziggurat ([`ziggurat`]).

use std::f64::consts::PI;

mod ziggurat;

/// xoshiro256++ with a cached second normal.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
    zig: &'static ziggurat::Tables,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn seed(seed: u64) -> Self {
        let mut st = seed;
        Self {
            s: [splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st)],
            spare_normal: None,
            zig: ziggurat::tables(),
        }
    }

    /// An independent stream for one purpose of one entity (e.g. the arrivals of function
    /// 17): the seed, the entity's key and the purpose are hashed together, so adding an
    /// entity or a purpose never shifts another stream.
    pub fn stream(seed: u64, key: &str, purpose: &str) -> Self {
        let mut h: u64 = 0xCBF2_9CE4_8422_2325; // FNV-1a
        for b in key.bytes().chain([0xFF]).chain(purpose.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        let mut st = seed ^ h.rotate_left(17);
        Self::seed(splitmix64(&mut st) ^ h)
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in the open interval (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // Marsaglia's polar method: no trigonometry, one log per two normals.
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(v * f);
                return u * f;
            }
        }
    }

    /// Exponential with mean 1.
    pub fn exp(&mut self) -> f64 {
        -self.uniform().ln()
    }

    /// Poisson with mean `lambda`.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let limit = (-lambda).exp();
            let mut k = 0;
            let mut p = self.uniform();
            while p > limit {
                k += 1;
                p *= self.uniform();
            }
            return k;
        }
        let slam = lambda.sqrt();
        let loglam = lambda.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.024_83 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln() <= -lambda + k * loglam - ln_factorial(k) {
                return k as u64;
            }
        }
    }

    /// Binomial(n, p): exact for small n, Poisson for rare events, normal otherwise.
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n == 0 || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        if n <= 32 {
            return (0..n).filter(|_| self.bernoulli(p)).count() as u64;
        }
        let mean = n as f64 * p;
        if mean < 20.0 {
            return self.poisson(mean).min(n);
        }
        if n as f64 * (1.0 - p) < 20.0 {
            return n - self.poisson(n as f64 * (1.0 - p)).min(n);
        }
        let x = (mean + self.normal() * (mean * (1.0 - p)).sqrt()).round();
        x.clamp(0.0, n as f64) as u64
    }
}

/// ln(k!) for a whole number k ≥ 0 (Stirling series above 10).
pub fn ln_factorial(k: f64) -> f64 {
    if k < 10.0 {
        return (2..=k as u64).map(|i| (i as f64).ln()).sum();
    }
    let x = k + 1.0;
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * PI).ln() + 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x * x)
}

/// Complementary error function, fractional error below 1.2e-7 (Chebyshev fit, Press et al.).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ans = t * poly.exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

/// Standard normal CDF.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The z whose upper tail 1 − Φ(z) equals `q` (0 < q < 1), by Newton steps from a
/// rational first guess; accurate to ~1e-7 in z.
pub fn normal_upper_quantile(q: f64) -> f64 {
    let q = q.clamp(1e-300, 1.0 - 1e-16);
    // Abramowitz & Stegun 26.2.23 (error < 4.5e-4) as the starting point.
    let tail_guess = |q: f64| {
        let t = (-2.0 * q.ln()).sqrt();
        t - (2.515_517 + 0.802_853 * t + 0.010_328 * t * t)
            / (1.0 + 1.432_788 * t + 0.189_269 * t * t + 0.001_308 * t * t * t)
    };
    let mut z = if q < 0.5 { tail_guess(q) } else { -tail_guess(1.0 - q) };
    for _ in 0..8 {
        let tail = 0.5 * erfc(z / std::f64::consts::SQRT_2);
        let density = (-0.5 * z * z).exp() / (2.0 * PI).sqrt();
        if density < 1e-300 {
            break;
        }
        let step = (tail - q) / density;
        z += step;
        if step.abs() < 1e-9 {
            break;
        }
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        (m, xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64)
    }

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, "fn-1", "arrivals").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::stream(7, "fn-1", "arrivals");
        let mut y = Rng::stream(7, "fn-2", "arrivals");
        let mut z = Rng::stream(7, "fn-1", "service");
        let (xs, ys, zs): (Vec<u64>, Vec<u64>, Vec<u64>) =
            (0..3).map(|_| (x.next_u64(), y.next_u64(), z.next_u64())).fold((vec![], vec![], vec![]), |mut acc, v| {
                acc.0.push(v.0);
                acc.1.push(v.1);
                acc.2.push(v.2);
                acc
            });
        assert_ne!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn poisson_and_normal_have_their_moments() {
        let mut r = Rng::seed(1);
        for lambda in [0.3, 4.0, 29.0, 31.0, 500.0, 20_000.0] {
            let xs: Vec<f64> = (0..40_000).map(|_| r.poisson(lambda) as f64).collect();
            let (m, v) = mean_var(&xs);
            assert!((m - lambda).abs() < 0.03 * lambda + 0.02, "λ={lambda}: mean {m}");
            assert!((v - lambda).abs() < 0.06 * lambda + 0.03, "λ={lambda}: var {v}");
        }
        let zs: Vec<f64> = (0..40_000).map(|_| r.normal()).collect();
        let (m, v) = mean_var(&zs);
        assert!(m.abs() < 0.02 && (v - 1.0).abs() < 0.03, "{m} {v}");
        let bs: Vec<f64> = (0..20_000).map(|_| r.binomial(1_000, 0.3) as f64).collect();
        let (m, v) = mean_var(&bs);
        assert!((m - 300.0).abs() < 1.0 && (v - 210.0).abs() < 12.0, "{m} {v}");
    }

    /// Share of draws above each threshold against the exact tail, for thresholds inside the
    /// layers, at the wedges and beyond the ziggurat's base (the tail algorithm); mean and
    /// variance too. 2 million draws: a tail share of p is known to ±5·sqrt(p/2e6).
    #[test]
    fn ziggurat_draws_have_the_exact_distributions() {
        let n = 2_000_000;
        let check = |name: &str, draws: &[f64], tails: &[(f64, f64)]| {
            for &(at, exact) in tails {
                let share = draws.iter().filter(|&&x| x > at).count() as f64 / draws.len() as f64;
                let tolerance = 5.0 * (exact / draws.len() as f64).sqrt() + 1e-7;
                assert!((share - exact).abs() < tolerance, "{name}: P(X > {at}) = {share}, exact {exact}");
            }
        };
        let mut r = Rng::seed(3);
        let e: Vec<f64> = (0..n).map(|_| r.exp_ziggurat()).collect();
        let (m, v) = mean_var(&e);
        assert!((m - 1.0).abs() < 0.003 && (v - 1.0).abs() < 0.01, "exp: {m} {v}");
        let exp_tails: Vec<(f64, f64)> = [0.01f64, 0.5, 1.0, 2.0, 4.0, 7.0, 7.7, 9.0].map(|x| (x, (-x).exp())).to_vec();
        check("exp", &e, &exp_tails);
        let z: Vec<f64> = (0..n).map(|_| r.normal_ziggurat()).collect();
        let (m, v) = mean_var(&z);
        assert!(m.abs() < 0.003 && (v - 1.0).abs() < 0.005, "normal: {m} {v}");
        let normal_tails: Vec<(f64, f64)> =
            [-2.0, -0.5, 0.0, 0.3, 1.0, 1.96, 3.0, 3.7, 4.2].map(|x| (x, 1.0 - normal_cdf(x))).to_vec();
        check("normal", &z, &normal_tails);
    }

    #[test]
    fn ziggurat_tables_close_at_the_peak() {
        use ziggurat::*;
        assert!((tables().exp.last_top(EXP_V) - 1.0).abs() < 1e-6);
        assert!((tables().normal.last_top(NORMAL_V) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn normal_tails() {
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-2.326_348) - 0.01).abs() < 1e-6);
        for q in [0.5, 0.1, 0.01, 1e-4, 1e-9] {
            let z = normal_upper_quantile(q);
            let tail = 0.5 * erfc(z / std::f64::consts::SQRT_2);
            assert!((tail - q).abs() < q * 1e-4, "q={q} z={z}");
        }
        assert!((ln_factorial(12.0) - 479_001_600f64.ln()).abs() < 1e-7);
    }
}
