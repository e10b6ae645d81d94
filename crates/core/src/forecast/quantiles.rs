//! Forecast quantiles at fixed levels, and the empirical quantile used to fit them.

use serde::{Deserialize, Serialize};

/// The levels every forecast carries, ascending. p50, p90 and p99 are what the planner and
/// reports read; the others shape the distribution between them.
pub const LEVELS: [f64; 6] = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99];

/// Probability mass the planner gives each level when it turns the quantiles into a
/// handful of scenarios (mid-points between neighbouring levels; sums to 1).
pub const SCENARIO_WEIGHTS: [f64; 6] = [0.175, 0.2, 0.25, 0.2, 0.125, 0.05];

/// Values at [`LEVELS`], non-decreasing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quantiles(pub [f64; 6]);

impl Quantiles {
    pub const ZERO: Self = Self([0.0; 6]);

    pub fn p50(&self) -> f64 {
        self.0[2]
    }

    pub fn p90(&self) -> f64 {
        self.0[4]
    }

    pub fn p99(&self) -> f64 {
        self.0[5]
    }

    /// The value at any level, linear between the stored ones and flat beyond them.
    pub fn at(&self, level: f64) -> f64 {
        if level <= LEVELS[0] {
            return self.0[0];
        }
        for i in 1..LEVELS.len() {
            if level <= LEVELS[i] {
                let t = (level - LEVELS[i - 1]) / (LEVELS[i] - LEVELS[i - 1]);
                return self.0[i - 1] + t * (self.0[i] - self.0[i - 1]);
            }
        }
        self.0[LEVELS.len() - 1]
    }

    /// Mean of the scenario mixture the planner uses.
    pub fn scenario_mean(&self) -> f64 {
        self.0.iter().zip(SCENARIO_WEIGHTS).map(|(v, w)| v * w).sum()
    }

    /// Applies a monotone map to every level (keeps the order).
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        let mut out = self.0.map(f);
        for i in 1..out.len() {
            out[i] = out[i].max(out[i - 1]);
        }
        Self(out)
    }
}

/// Empirical quantiles at [`LEVELS`] of `values` (possibly reordered; linear interpolation
/// between order statistics). `None` for an empty slice. The forecaster calls this for every
/// horizon of every function at each refit, on a week of errors: rather than selecting each
/// level's order statistics out of all the values ([`by_selection`], about 140 instructions a
/// value), it buckets the values by where they fall between the smallest and the largest
/// (buckets in value order), counts each bucket, and sorts only the few buckets that hold the
/// order statistics wanted (about 60 a value). Same order statistics, so the same quantiles
/// to the bit; the few inputs where the two could round apart (`NaN`, infinities, a zero of
/// either sign next to a level) take [`by_selection`].
pub(crate) fn empirical(values: &mut [f64]) -> Option<[f64; 6]> {
    if values.is_empty() {
        return None;
    }
    by_buckets(values).or_else(|| by_selection(values))
}

/// The order statistics each level interpolates between: `(rank, weight of the next rank)`.
fn level_ranks(n: usize) -> [(usize, f64); 6] {
    LEVELS.map(|q| {
        let pos = q * (n - 1) as f64;
        let lo = pos.floor() as usize;
        (lo, pos - lo as f64)
    })
}

/// The quantile between order statistics `v_lo` (rank `lo`) and the next, `next()`, as
/// [`by_selection`] works it out.
fn interpolate(v_lo: f64, frac: f64, next: impl FnOnce() -> f64) -> f64 {
    let v_hi = if frac > 0.0 { next().min(f64::MAX) } else { v_lo };
    let v_hi = if v_hi.is_finite() { v_hi } else { v_lo };
    v_lo + frac * (v_hi - v_lo)
}

/// [`empirical`] by counting values in buckets of equal width between the extremes: `None`
/// when it cannot promise [`by_selection`]'s result to the bit.
fn by_buckets(values: &[f64]) -> Option<[f64; 6]> {
    let n = values.len();
    let (mut min, mut max, mut nan) = (f64::INFINITY, f64::NEG_INFINITY, false);
    for &v in values {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
        nan |= v.is_nan();
    }
    let range = max - min;
    if nan || !range.is_finite() {
        return None;
    }
    // Correctly rounded arithmetic is monotone, so the bucket never decreases with the value:
    // bucket by bucket, the values come in order.
    let buckets = (n / 2).next_power_of_two();
    let scale = if range > 0.0 { buckets as f64 / range } else { 0.0 };
    let top = (buckets - 1) as u32;
    // starts[b] = how many values fall below bucket b (the rank of its first), once summed.
    let mut starts = vec![0u32; buckets + 1];
    let bucket_of: Vec<u32> = values
        .iter()
        .map(|&v| {
            let b = (((v - min) * scale) as u32).min(top);
            starts[b as usize + 1] += 1;
            b
        })
        .collect();
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    let bucket_of_rank = |r: usize| starts.partition_point(|&s| s as usize <= r) - 1;
    // The buckets holding each level's two order statistics, gathered one after another.
    let ranks = level_ranks(n);
    let mut slot = vec![0u8; buckets]; // 1 + index in `gathered`, 0 = not wanted
    let mut gathered: Vec<(usize, usize)> = Vec::with_capacity(12); // (rank of its first, offset)
    let mut len = 0;
    for r in ranks.iter().flat_map(|&(lo, _)| [lo, (lo + 1).min(n - 1)]) {
        let b = bucket_of_rank(r);
        if slot[b] == 0 {
            gathered.push((starts[b] as usize, len));
            len += (starts[b + 1] - starts[b]) as usize;
            slot[b] = gathered.len() as u8;
        }
    }
    let mut sorted = vec![0.0; len];
    let mut fill: Vec<usize> = gathered.iter().map(|g| g.1).collect();
    for (&v, &b) in values.iter().zip(&bucket_of) {
        let k = slot[b as usize];
        if k != 0 {
            let at = &mut fill[usize::from(k) - 1];
            sorted[*at] = v;
            *at += 1;
        }
    }
    for (&(_, from), &to) in gathered.iter().zip(&fill) {
        sorted[from..to].sort_unstable_by(f64::total_cmp);
    }
    let at = |r: usize| {
        let (first, offset) = gathered[usize::from(slot[bucket_of_rank(r)]) - 1];
        sorted[offset + r - first]
    };
    // by_selection takes the next order statistic as the least of the values above, by
    // `f64::min`: the same value, but of either sign if it is a zero and both signs occur.
    let zeros_of_both_signs = || {
        let (mut pos, mut neg) = (false, false);
        for &v in values.iter().filter(|v| **v == 0.0) {
            if v.is_sign_negative() { neg = true } else { pos = true }
        }
        pos && neg
    };
    let mut out = [0.0; 6];
    for (q, &(lo, frac)) in out.iter_mut().zip(&ranks) {
        if frac > 0.0 && at(lo + 1) == 0.0 && zeros_of_both_signs() {
            return None;
        }
        *q = interpolate(at(lo), frac, || at(lo + 1));
    }
    Some(out)
}

/// [`empirical`] by selecting each level's order statistic out of what is left above the
/// previous one (reorders `values`).
fn by_selection(values: &mut [f64]) -> Option<[f64; 6]> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let mut out = [0.0; 6];
    let mut done = 0; // values[..done] are all ≤ the order statistics selected so far
    for (slot, (lo, frac)) in out.iter_mut().zip(level_ranks(n)) {
        let lo = lo.max(done);
        let (_, v_lo, right) = values[done..].select_nth_unstable_by(lo - done, f64::total_cmp);
        let v_lo = *v_lo;
        *slot = interpolate(v_lo, frac, || right.iter().copied().fold(f64::INFINITY, f64::min));
        done = lo;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_levels_interpolate() {
        assert!((SCENARIO_WEIGHTS.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let q = Quantiles([1.0, 2.0, 3.0, 4.0, 5.0, 9.0]);
        assert_eq!(q.at(0.5), 3.0);
        assert!((q.at(0.95) - (5.0 + 4.0 * 5.0 / 9.0)).abs() < 1e-9);
        assert_eq!(q.at(0.999), 9.0);
        assert_eq!(q.at(0.01), 1.0);
    }

    #[test]
    fn empirical_quantiles_of_a_uniform_grid() {
        let mut v: Vec<f64> = (0..=100).rev().map(f64::from).collect();
        let q = empirical(&mut v).unwrap();
        assert_eq!(q, [10.0, 25.0, 50.0, 75.0, 90.0, 99.0]);
        assert!(empirical(&mut []).is_none());
    }

    /// Bit for bit what selection gives, on heavy tails, ties, a constant, one or two values,
    /// zeros of both signs, infinities and `NaN`.
    #[test]
    fn bucketing_gives_the_quantiles_of_selection_to_the_bit() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut cases: Vec<Vec<f64>> = Vec::new();
        for n in [1, 2, 3, 7, 24, 100, 1000, 2016, 4000] {
            // Logistic with rare large errors, and the same rounded to a coarse grid (ties).
            let heavy: Vec<f64> = (0..n)
                .map(|_| {
                    let u = uniform().clamp(1e-12, 1.0 - 1e-12);
                    0.3 * (u / (1.0 - u)).ln() + if uniform() < 0.03 { 5.0 * uniform() } else { 0.0 }
                })
                .collect();
            cases.push(heavy.iter().map(|v| (v * 4.0).round() / 4.0).collect());
            cases.push(heavy);
            cases.push(vec![1.5; n]);
            cases.push((0..n).map(|i| if i % 3 == 0 { -0.0 } else { 0.0 }).collect());
            cases.push((0..n).map(|i| if i % 2 == 0 { 0.0 } else { uniform() }).collect());
            cases.push((0..n).map(|i| if i % 5 == 0 { -0.0 } else { uniform() - 0.1 }).collect());
            cases.push((0..n).map(|i| if i == n / 2 { f64::INFINITY } else { uniform() }).collect());
            cases.push((0..n).map(|i| if i == 0 { f64::NAN } else { uniform() }).collect());
            cases.push((0..n).map(|i| if i % 7 == 0 { 1e300 } else { -1e300 * uniform() }).collect());
        }
        for values in cases {
            let fast = empirical(&mut values.clone()).unwrap();
            let slow = by_selection(&mut values.clone()).unwrap();
            assert_eq!(fast.map(f64::to_bits), slow.map(f64::to_bits), "{} values: {fast:?} vs {slow:?}", values.len());
        }
    }
}
