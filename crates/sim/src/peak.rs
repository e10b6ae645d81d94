//! The aggregate model of a busy minute: Poisson arrivals into an M/G/∞ system.
//!
//! With arrival rate λ and mean service time E(S), the number of busy environments at a
//! random instant is Poisson with mean L = λ·E(S) (M/G/∞, any service distribution). The
//! busiest instant of a span is drawn from the rate at which arrivals push the count up
//! (see [`draw_peak`]). That peak, not the mean, is how many environments the span needs; those beyond the provisioned and idle ones are
//! cold starts. At a concurrency limit c, the share of requests throttled is Erlang's loss
//! formula B(c, L). Durations are spread over histogram buckets by their expected counts.

use autopilot_core::histogram::{bucket_of, bucket_upper, bucket_value};

use crate::rng::{Rng, ln_factorial, normal_cdf, normal_upper_quantile};

/// Draws the peak concurrency of a span with mean occupancy `load` and `arrivals` arrivals.
///
/// By PASTA an arrival finds k environments busy with probability p_k (Poisson pmf), so the
/// span crosses from k up to k + 1 about `arrivals · p_k` times; treating crossings as rare
/// independent events, P(peak ≤ k) ≈ F(k) · exp(−arrivals · p_k). The draw inverts that.
pub fn draw_peak(rng: &mut Rng, load: f64, arrivals: u64) -> u32 {
    if load.is_nan() || load <= 0.0 || arrivals == 0 {
        return 0;
    }
    let u = rng.uniform();
    let n = arrivals as f64;
    // Start far enough below the mean that the peak is certainly above.
    let k0 = if load > 50.0 { (load - 6.0 * load.sqrt()).floor().max(0.0) } else { 0.0 };
    let mut k = k0;
    let mut pmf = (k * load.ln() - load - ln_factorial(k)).exp();
    let mut cdf = if k0 == 0.0 { pmf } else { normal_cdf((k + 0.5 - load) / load.sqrt()) };
    let limit = n.min(load + 40.0 * load.sqrt() + 40.0);
    while k < limit {
        if cdf * (-n * pmf).exp() >= u {
            break;
        }
        k += 1.0;
        pmf *= load / k;
        cdf = (cdf + pmf).min(1.0);
    }
    k as u32
}

/// Smallest x with P(X > x) ≤ q for X ~ Poisson(mean).
pub fn poisson_upper_quantile(mean: f64, q: f64) -> u32 {
    if mean > 200.0 {
        // Cornish–Fisher expansion of the Poisson quantile.
        let z = normal_upper_quantile(q);
        return (mean + z * mean.sqrt() + (z * z - 1.0) / 6.0).ceil().max(0.0) as u32;
    }
    let mut pmf = (-mean).exp();
    let mut cdf = pmf;
    let mut x = 0u32;
    while 1.0 - cdf > q && x < 100_000 {
        x += 1;
        pmf *= mean / f64::from(x);
        cdf += pmf;
    }
    x
}

/// Erlang B: the share of arrivals blocked with `servers` servers and offered load `load`.
pub fn erlang_b(servers: u32, load: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=servers {
        b = load * b / (f64::from(k) + load * b);
    }
    b
}

/// E(min(X, c)) / E(X) for X ~ Poisson(mean): the share of busy time that `c` environments
/// serving first (provisioned concurrency) carry.
pub fn share_served_by_first(mean: f64, c: u32) -> f64 {
    if mean.is_nan() || mean <= 0.0 {
        return 1.0;
    }
    if mean > 200.0 {
        let sd = mean.sqrt();
        let z = (f64::from(c) - mean) / sd;
        // E(min(X,c)) = c − E((c − X)+) for a normal X.
        let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let e_short = sd * (z * normal_cdf(z) + phi);
        return ((f64::from(c) - e_short) / mean).clamp(0.0, 1.0);
    }
    let mut pmf = (-mean).exp();
    let mut below = 0.0; // Σ_{k<c} k·p_k
    let mut cdf = 0.0;
    for k in 0..c {
        below += f64::from(k) * pmf;
        cdf += pmf;
        pmf *= mean / f64::from(k + 1);
    }
    ((below + f64::from(c) * (1.0 - cdf)) / mean).clamp(0.0, 1.0)
}

/// A distribution over histogram buckets: (bucket, probability, representative value), and
/// the probabilities' total, summed once (it scales every [`spread`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketDist {
    pub buckets: Vec<(u16, f64, f64)>,
    pub total: f64,
}

impl BucketDist {
    pub fn new(buckets: Vec<(u16, f64, f64)>) -> Self {
        let total = buckets.iter().map(|b| b.1).sum();
        Self { buckets, total }
    }
}

/// Probability of each histogram bucket under a mixture of lognormals (weight, μ, σ),
/// restricted to values ≤ `cap`: (bucket, probability, representative value). The
/// probabilities sum to the mixture's mass below `cap`.
pub fn lognormal_buckets(components: &[(f64, f64, f64)], cap: f64) -> BucketDist {
    let cdf = |x: f64| -> f64 {
        components.iter().map(|&(w, mu, sigma)| w * normal_cdf((x.max(1e-12).ln() - mu) / sigma.max(1e-9))).sum()
    };
    // ±5σ: each tail beyond holds under 3e-7 of the mass.
    let lo = components.iter().map(|&(_, mu, s)| (mu - 5.0 * s).exp()).fold(f64::INFINITY, f64::min);
    let hi = components.iter().map(|&(_, mu, s)| (mu + 5.0 * s).exp()).fold(0.0, f64::max).min(cap);
    let (b0, b1) = (bucket_of(lo), bucket_of(hi.max(lo)));
    let mut out = Vec::with_capacity(usize::from(b1 - b0) + 1);
    let mut prev = cdf(if b0 == 0 { 0.0 } else { bucket_upper(b0 - 1) });
    for b in b0..=b1 {
        let upper = bucket_upper(b).min(cap);
        let c = cdf(upper);
        let p = c - prev;
        prev = c;
        if p > 1e-8 {
            out.push((b, p, bucket_value(b).min(cap)));
        }
    }
    BucketDist::new(out)
}

/// Spreads `n` values over buckets by their probabilities: systematic sampling (one
/// uniform offset, then each bucket gets the whole values its cumulative expected count
/// crosses), so every bucket's count is its expected count rounded up or down, unbiased, and
/// exactly `n` values are spread.
pub fn spread(rng: &mut Rng, n: u64, dist: &BucketDist, out: &mut Vec<(u16, u64, f64)>) {
    out.clear();
    let buckets = &dist.buckets[..];
    if n == 0 || buckets.is_empty() {
        return;
    }
    let offset = rng.uniform();
    // Counts below 2^62 (every real one) convert through i64: one instruction each way on
    // x86-64 where u64 takes a dozen, the same values (the running total stays below n + 2).
    if n < 1 << 62 {
        fill(n, dist, offset, out, |x| x as i64 as u64, |k| k as i64 as f64);
    } else {
        fill(n, dist, offset, out, |x| x as u64, |k| k as f64);
    }
}

/// Draws from `rng` what [`spread`] of `n` values over `dist` would, spreading nothing: for a
/// caller that does not read the spread but must leave the stream where `spread` leaves it.
pub fn skip_spread(rng: &mut Rng, n: u64, dist: &BucketDist) {
    if n > 0 && !dist.buckets.is_empty() {
        rng.uniform();
    }
}

/// [`spread`] after its uniform draw, with the float-to-count conversions given.
#[inline(always)]
fn fill(
    n: u64,
    dist: &BucketDist,
    offset: f64,
    out: &mut Vec<(u16, u64, f64)>,
    floor: impl Fn(f64) -> u64,
    float: impl Fn(u64) -> f64,
) {
    let buckets = &dist.buckets[..];
    let scale = n as f64 / dist.total;
    let mut cumulative = 0.0;
    let mut given = 0u64;
    // The next whole number the running total must reach for a bucket to get a value: most
    // buckets of a wide distribution get none, and this skips them with one comparison.
    let mut next = 1.0;
    for &(b, p, v) in buckets {
        cumulative += p * scale;
        let reached = cumulative + offset;
        if reached >= next {
            // Truncation is the floor here (never negative), without `f64::floor`'s library call.
            let upto = floor(reached).min(n);
            if upto > given {
                out.push((b, upto - given, v));
                given = upto;
                next = float(given) + 1.0;
            }
        }
    }
    if given < n {
        // Rounding left the last value(s) out: they belong to the last bucket.
        let &(b, _, v) = buckets.last().unwrap_or(&(0, 0.0, 0.0));
        out.push((b, n - given, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_quantiles() {
        // Poisson(2): P(X > 5) = 0.0166, P(X > 6) = 0.0045.
        assert_eq!(poisson_upper_quantile(2.0, 0.01), 6);
        assert_eq!(poisson_upper_quantile(2.0, 0.02), 5);
        let big = poisson_upper_quantile(10_000.0, 0.5);
        assert!((9_999..=10_001).contains(&big), "{big}");
    }

    #[test]
    fn erlang_b_known_values() {
        // B(1, 1) = 0.5; B(10, 5) ≈ 0.0184 (standard tables).
        assert!((erlang_b(1, 1.0) - 0.5).abs() < 1e-12);
        assert!((erlang_b(10, 5.0) - 0.018_4).abs() < 2e-4);
    }

    #[test]
    fn pc_share() {
        assert!((share_served_by_first(3.0, 0) - 0.0).abs() < 1e-12);
        assert!(share_served_by_first(3.0, 30) > 0.999_999);
        let s = share_served_by_first(3.0, 3);
        assert!(s > 0.6 && s < 0.95, "{s}");
        let big = share_served_by_first(1_000.0, 1_000);
        assert!(big > 0.97 && big < 0.99, "{big}");
    }

    #[test]
    fn buckets_hold_the_mass_below_the_cap_and_spread_keeps_the_count() {
        let b = lognormal_buckets(&[(1.0, 100f64.ln(), 0.3)], f64::INFINITY);
        let mass: f64 = b.buckets.iter().map(|x| x.1).sum();
        assert!((mass - 1.0).abs() < 1e-6, "{mass}");
        let capped = lognormal_buckets(&[(1.0, 100f64.ln(), 0.3)], 100.0);
        let mass: f64 = capped.buckets.iter().map(|x| x.1).sum();
        assert!((mass - 0.5).abs() < 0.02, "{mass}");
        let mut rng = Rng::seed(3);
        let mut out = Vec::new();
        for n in [1, 7, 1_000, 123_457] {
            spread(&mut rng, n, &b, &mut out);
            assert_eq!(out.iter().map(|x| x.1).sum::<u64>(), n);
        }
        // Skipping a spread leaves the stream where spreading leaves it (nothing drawn for none).
        for dist in [&b, &BucketDist::default()] {
            for n in [0, 1, 7, 123_457] {
                let (mut spreading, mut skipping) = (rng.clone(), rng.clone());
                spread(&mut spreading, n, dist, &mut out);
                skip_spread(&mut skipping, n, dist);
                assert_eq!(spreading.next_u64(), skipping.next_u64(), "{n}");
            }
        }
        // Unbiased: over many minutes each bucket receives its expected share.
        let mut totals = std::collections::BTreeMap::new();
        for _ in 0..20_000 {
            spread(&mut rng, 7, &b, &mut out);
            for &(bucket, k, _) in &out {
                *totals.entry(bucket).or_insert(0u64) += k;
            }
        }
        for &(bucket, p, _) in b.buckets.iter().filter(|x| x.1 > 0.02) {
            let got = totals[&bucket] as f64 / (20_000.0 * 7.0);
            assert!((got - p).abs() < 0.1 * p, "bucket {bucket}: {got} vs {p}");
        }
    }
}
