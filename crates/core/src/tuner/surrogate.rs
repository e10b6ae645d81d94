//! The duration curve as a Gaussian process over ln(memory).
//!
//! What is modelled is `y = ln(mean billed duration)` against `x = ln(memory MB)`. The prior
//! says what Lambda's CPU allocation implies and no more:
//! - a power law `d ∝ m^β` on each side of one vCPU (1,769 MB), with slopes unknown but in
//!   the range a CPU-share model allows. Below one vCPU, CPU-bound code has β = −1 (cost
//!   flat) and code that waits on I/O β = 0 (cost ∝ memory): β ~ N(−0.5, 0.5²). Above it,
//!   only code that runs threads in parallel gets faster: β ~ N(−0.25, 0.5²);
//! - a free level (the function's own speed) with a flat prior;
//! - smooth departures from the power law (super-linear speed-ups from less garbage
//!   collection or less CPU throttling, the cap of parallelism) as an Ornstein–Uhlenbeck
//!   term with sd [`CurvePrior::roughness_sd`] and correlation length [`CurvePrior::length`]
//!   (the landscape picks the roughness the data make most probable).
//!
//! The posterior mean passes close to the measured sizes (as close as their noise says) and
//! the posterior variance grows with the distance to the nearest measured size, which is what
//! lets the search weigh where a new measurement teaches the most. No parameter is fitted to
//! any data set: the prior is Lambda's CPU model, the posterior is the function's own data.

/// Hyperparameters of the curve prior (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePrior {
    /// Slope of ln(duration) on ln(memory) below the knee: mean and sd.
    pub slope_mean: f64,
    pub slope_sd: f64,
    /// The same above the knee.
    pub slope_above_mean: f64,
    pub slope_above_sd: f64,
    pub level_sd: f64,
    pub roughness_sd: f64,
    /// Correlation length of the departures, in units of ln(memory).
    pub length: f64,
    /// ln(memory) of the knee (one vCPU), where the two slopes meet.
    pub anchor: f64,
}

impl Default for CurvePrior {
    fn default() -> Self {
        Self {
            slope_mean: -0.5,
            slope_sd: 0.5,
            slope_above_mean: -0.25,
            slope_above_sd: 0.5,
            level_sd: 10.0,
            roughness_sd: 0.2,
            length: 1.0,
            anchor: 1_769f64.ln(),
        }
    }
}

impl CurvePrior {
    /// Distance below and above the knee.
    fn sides(&self, x: f64) -> (f64, f64) {
        ((x - self.anchor).min(0.0), (x - self.anchor).max(0.0))
    }

    fn mean(&self, x: f64) -> f64 {
        let (below, above) = self.sides(x);
        self.slope_mean * below + self.slope_above_mean * above
    }

    fn kernel(&self, a: f64, b: f64) -> f64 {
        self.kernel_from(self.kernel_parts(a, b))
    }

    /// The kernel but for the roughness: the level and slope terms, and the correlation of
    /// the departures. Priors that differ only in their roughness share both.
    fn kernel_parts(&self, a: f64, b: f64) -> (f64, f64) {
        let ((a1, a2), (b1, b2)) = (self.sides(a), self.sides(b));
        let trend = self.level_sd * self.level_sd
            + self.slope_sd * self.slope_sd * a1 * b1
            + self.slope_above_sd * self.slope_above_sd * a2 * b2;
        (trend, (-(a - b).abs() / self.length).exp())
    }

    fn kernel_from(&self, (trend, correlation): (f64, f64)) -> f64 {
        trend + self.roughness_sd * self.roughness_sd * correlation
    }

    /// True when `self` and `other` differ at most in their roughness (to the bit: their
    /// kernels' other parts are the same numbers).
    fn same_but_roughness(&self, other: &Self) -> bool {
        let rest = |p: &Self| [p.slope_sd, p.slope_above_sd, p.level_sd, p.length, p.anchor].map(f64::to_bits);
        rest(self) == rest(other)
    }
}

/// One measured point: ln(memory), ln(mean billed duration) and the variance of that mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub noise_var: f64,
}

/// The fitted posterior.
#[derive(Debug, Clone, PartialEq)]
pub struct Surrogate {
    prior: CurvePrior,
    xs: Vec<f64>,
    /// Lower Cholesky factor of K + noise, row-major.
    chol: Vec<Vec<f64>>,
    /// (K + noise)⁻¹ (y − prior mean).
    alpha: Vec<f64>,
    /// ln p(y | prior, noise): how well this prior and these noise levels explain the data.
    log_likelihood: f64,
}

impl Surrogate {
    pub fn fit(points: &[Point], prior: CurvePrior) -> Self {
        let n = points.len();
        let xs: Vec<f64> = points.iter().map(|p| p.x).collect();
        let mut k = vec![vec![0.0; n]; n];
        for i in 0..n {
            for j in 0..=i {
                k[i][j] = prior.kernel(xs[i], xs[j]);
                k[j][i] = k[i][j];
            }
            // A floor on the noise keeps the factorisation stable when points coincide.
            k[i][i] += points[i].noise_var.max(1e-8);
        }
        let chol = cholesky(&k);
        let resid: Vec<f64> = points.iter().map(|p| p.y - prior.mean(p.x)).collect();
        let alpha = solve_upper_t(&chol, &solve_lower(&chol, &resid));
        let fit: f64 = resid.iter().zip(&alpha).map(|(r, a)| r * a).sum();
        let log_det: f64 = (0..n).map(|i| chol[i][i].ln()).sum();
        let log_likelihood = -0.5 * fit - log_det - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
        Self { prior, xs, chol, alpha, log_likelihood }
    }

    /// Log marginal likelihood of the points the surrogate was fitted to (how well the prior
    /// and the noise levels explain them).
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// Posterior mean and variance of ln(mean billed duration) at ln(memory) `x`.
    pub fn predict(&self, x: f64) -> (f64, f64) {
        let parts: Vec<(f64, f64)> = self.xs.iter().map(|&xi| self.prior.kernel_parts(x, xi)).collect();
        self.predict_from(x, &parts, self.prior.kernel_parts(x, x), &mut Vec::new())
    }

    /// [`Self::predict`] from the kernel's parts ([`CurvePrior::kernel_parts`]) between `x`
    /// and each point, and between `x` and itself; `work` is scratch space.
    fn predict_from(&self, x: f64, parts: &[(f64, f64)], own: (f64, f64), work: &mut Vec<f64>) -> (f64, f64) {
        work.clear();
        work.extend(parts.iter().map(|&p| self.prior.kernel_from(p)));
        let mean = self.prior.mean(x) + work.iter().zip(&self.alpha).map(|(a, b)| a * b).sum::<f64>();
        solve_lower_in_place(&self.chol, work);
        let var = self.prior.kernel_from(own) - work.iter().map(|a| a * a).sum::<f64>();
        (mean, var.max(0.0))
    }
}

/// Surrogates fitted under several priors, averaged with weights proportional to how
/// probable each prior is given the data (Bayesian model averaging). A handful of points
/// close together cannot tell a smooth curve from a bendy one far from them: choosing the
/// single most probable prior (typically the smoothest, when the points line up) would
/// claim to know the curve a decade away; the average keeps what the data cannot exclude.
#[derive(Debug, Clone, PartialEq)]
pub struct Averaged {
    members: Vec<(f64, Surrogate)>,
    /// The members share their points and differ only in the roughness of their priors (as
    /// the landscape fits them): the kernel's other parts are worked out once per prediction.
    shared: bool,
}

impl Averaged {
    /// `fits` with their log posterior weights (unnormalised); members whose weight is
    /// below 1e-4 of the largest are dropped.
    pub fn new(fits: Vec<(f64, Surrogate)>) -> Self {
        let top = fits.iter().map(|f| f.0).fold(f64::NEG_INFINITY, f64::max);
        let mut members: Vec<(f64, Surrogate)> =
            fits.into_iter().map(|(w, s)| ((w - top).exp(), s)).filter(|(w, _)| *w >= 1e-4).collect();
        let total: f64 = members.iter().map(|m| m.0).sum();
        for m in &mut members {
            m.0 /= total;
        }
        let shared = members
            .windows(2)
            .all(|w| same_bits(&w[0].1.xs, &w[1].1.xs) && w[0].1.prior.same_but_roughness(&w[1].1.prior));
        Self { members, shared }
    }

    /// Mean and variance of the mixture of the members' posteriors at `x`.
    pub fn predict(&self, x: f64) -> (f64, f64) {
        let shared = match self.members.first() {
            Some((_, first)) if self.shared => {
                let parts: Vec<(f64, f64)> = first.xs.iter().map(|&xi| first.prior.kernel_parts(x, xi)).collect();
                Some((parts, first.prior.kernel_parts(x, x)))
            }
            _ => None,
        };
        let (mut mean, mut second) = (0.0, 0.0);
        let mut work = Vec::new();
        for (w, s) in &self.members {
            let (m, v) = match &shared {
                Some((parts, own)) => s.predict_from(x, parts, *own, &mut work),
                None => s.predict(x),
            };
            mean += w * m;
            second += w * (v + m * m);
        }
        (mean, (second - mean * mean).max(0.0))
    }
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn cholesky(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                l[i][j] = (a[i][i] - s).max(1e-12).sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    l
}

/// Solves L·z = b.
fn solve_lower(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let mut z = b.to_vec();
    solve_lower_in_place(l, &mut z);
    z
}

/// Solves L·z = b, `b` given in `z` and overwritten: z[i] needs only b[i] and the z before it.
fn solve_lower_in_place(l: &[Vec<f64>], z: &mut [f64]) {
    for i in 0..z.len() {
        let s: f64 = (0..i).map(|k| l[i][k] * z[k]).sum();
        z[i] = (z[i] - s) / l[i][i];
    }
}

/// Solves Lᵀ·z = b.
fn solve_upper_t(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut z = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k][i] * z[k]).sum();
        z[i] = (b[i] - s) / l[i][i];
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(mb: f64, ms: f64, noise_var: f64) -> Point {
        Point { x: mb.ln(), y: ms.ln(), noise_var }
    }

    #[test]
    fn passes_through_precise_points_and_is_unsure_between_far_ones() {
        let s = Surrogate::fit(&[pt(256.0, 1000.0, 1e-6), pt(2048.0, 140.0, 1e-6)], CurvePrior::default());
        let (m, v) = s.predict(256f64.ln());
        assert!((m - 1000f64.ln()).abs() < 0.01 && v < 1e-5, "{m} {v}");
        let (_, v_mid) = s.predict(724f64.ln());
        let (_, v_far) = s.predict(10_240f64.ln());
        assert!(v_mid > 1e-3 && v_far > v_mid, "{v_mid} {v_far}");
    }

    #[test]
    fn a_single_point_extrapolates_with_the_prior_slope() {
        let s = Surrogate::fit(&[pt(1024.0, 400.0, 1e-6)], CurvePrior::default());
        let (m, _) = s.predict(512f64.ln());
        // Slope −0.5 below one vCPU: halving memory multiplies the duration by √2.
        assert!((m.exp() - 400.0 * 2f64.sqrt()).abs() < 5.0, "{}", m.exp());
        // Above one vCPU the prior expects less gain.
        let (m, _) = s.predict(3538f64.ln());
        let want = 400.0 * (1769f64 / 1024.0).powf(-0.5) * 2f64.powf(-0.25);
        assert!((m.exp() - want).abs() < 5.0, "{} vs {want}", m.exp());
    }

    #[test]
    fn the_data_override_the_prior_slope() {
        // A CPU-bound curve, d ∝ 1/m, measured at four sizes.
        let pts: Vec<Point> = [128.0, 256.0, 512.0, 1024.0].iter().map(|&m| pt(m, 128_000.0 / m, 1e-4)).collect();
        let s = Surrogate::fit(&pts, CurvePrior::default());
        let (m, _) = s.predict(1536f64.ln());
        assert!((m.exp() - 83.3).abs() / 83.3 < 0.05, "{}", m.exp());
    }

    #[test]
    fn members_sharing_their_points_predict_as_each_alone() {
        let pts = [pt(256.0, 900.0, 1e-3), pt(512.0, 480.0, 4e-3), pt(1024.0, 300.0, 1e-2), pt(3008.0, 200.0, 1e-3)];
        let fits = [0.02, 0.1, 0.4]
            .iter()
            .map(|&r| {
                let s = Surrogate::fit(&pts, CurvePrior { roughness_sd: r, ..CurvePrior::default() });
                (s.log_likelihood(), s)
            })
            .collect();
        let shared = Averaged::new(fits);
        assert!(shared.shared && shared.members.len() > 1);
        let alone = Averaged { shared: false, ..shared.clone() };
        for mb in [128.0, 300.0, 512.0, 1769.0, 2000.0, 10_240.0] {
            let (a, b) = (shared.predict(f64::ln(mb)), alone.predict(f64::ln(mb)));
            assert_eq!((a.0.to_bits(), a.1.to_bits()), (b.0.to_bits(), b.1.to_bits()), "{mb}");
        }
        // Points or priors that differ in more than the roughness are not shared.
        let other = Surrogate::fit(&pts[..2], CurvePrior::default());
        let longer = Surrogate::fit(&pts, CurvePrior { length: 2.0, ..CurvePrior::default() });
        for s in [other, longer] {
            let mixed = Averaged::new(vec![(0.0, shared.members[0].1.clone()), (0.0, s)]);
            assert!(!mixed.shared);
        }
    }

    #[test]
    fn noisy_points_are_smoothed() {
        let pts = [pt(512.0, 100.0, 0.25), pt(512.0, 300.0, 0.25)];
        let s = Surrogate::fit(&pts, CurvePrior::default());
        let (m, v) = s.predict(512f64.ln());
        assert!((m - (100f64 * 300.0).sqrt().ln()).abs() < 0.05 && v < 0.2, "{m} {v}");
    }
}
