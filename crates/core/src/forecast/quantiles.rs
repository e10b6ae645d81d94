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

/// Empirical quantiles at [`LEVELS`] of `values` (reordered in place; linear interpolation
/// between order statistics). `None` for an empty slice. Selection, not a full sort: the
/// forecaster calls this for every horizon of every function.
pub(crate) fn empirical(values: &mut [f64]) -> Option<[f64; 6]> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let mut out = [0.0; 6];
    let mut done = 0; // values[..done] are all ≤ the order statistics selected so far
    for (slot, q) in out.iter_mut().zip(LEVELS) {
        let pos = q * (n - 1) as f64;
        let lo = (pos.floor() as usize).max(done);
        let (_, v_lo, right) = values[done..].select_nth_unstable_by(lo - done, f64::total_cmp);
        let v_lo = *v_lo;
        let v_hi =
            if pos > lo as f64 { right.iter().copied().fold(f64::INFINITY, f64::min).min(f64::MAX) } else { v_lo };
        let v_hi = if v_hi.is_finite() { v_hi } else { v_lo };
        *slot = v_lo + (pos - lo as f64) * (v_hi - v_lo);
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
}
