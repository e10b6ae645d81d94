//! Ground truth of one benchmark curve: what a function measured by cebert really does at
//! every size in its measured range, and how its invocations are drawn.
//!
//! - Between measured sizes, mean durations (warm and cold) and the INIT duration follow the
//!   simulator's [`MeasuredCurve`]: the **monotone piecewise-cubic Hermite interpolant of
//!   Fritsch and Carlson in log-log space** (`ln ms` against `ln MB`), which passes through
//!   every measured point and never overshoots between two of them; the p99/mean ratio is
//!   interpolated linearly in ln(MB).
//! - The feasible range is the measured range (smaller sizes ran out of memory or were not
//!   measured; larger ones were not measured).
//! - A duration is lognormal with the interpolated mean and a spread calibrated so that its
//!   p99 equals the interpolated p99.
//! - The true cost of an invocation is the cost model's, with the billed duration's
//!   expectation taken as mean + 0.5 ms (Lambda rounds every duration up to the next ms).

use autopilot_core::cost::CostModel;
use autopilot_core::{Architecture, MemoryMb};
use autopilot_datasets::cebert::{Curve, CurvePoint};
use autopilot_sim::model::duration::sigma_for_p99_over_mean;
use autopilot_sim::model::{Interpolation, MeasuredCurve};
use autopilot_sim::rng::Rng;

/// z of the 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874;

/// A lognormal duration law: mean and log-sd.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Law {
    pub mean_ms: f64,
    pub log_sd: f64,
}

impl Law {
    pub fn from_mean_p99(mean_ms: f64, p99_ms: f64) -> Self {
        Self { mean_ms, log_sd: sigma_for_p99_over_mean(p99_ms / mean_ms) }
    }

    pub fn p99_ms(&self) -> f64 {
        self.mean_ms * (Z99 * self.log_sd - self.log_sd * self.log_sd / 2.0).exp()
    }

    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let mu = self.mean_ms.ln() - self.log_sd * self.log_sd / 2.0;
        if self.log_sd <= 0.0 {
            return if x < self.mean_ms { 0.0 } else { 1.0 };
        }
        autopilot_core::tuner::stats::normal_cdf((x.ln() - mu) / self.log_sd)
    }

    pub fn sample(&self, rng: &mut Rng) -> f64 {
        self.at(rng.normal())
    }

    /// The duration at standard-normal quantile `z`.
    pub fn at(&self, z: f64) -> f64 {
        let mu = self.mean_ms.ln() - self.log_sd * self.log_sd / 2.0;
        (mu + self.log_sd * z).exp()
    }
}

/// The truth about one function.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub name: String,
    pub arch: Architecture,
    pub lo: MemoryMb,
    pub hi: MemoryMb,
    /// Sizes that were measured.
    pub measured: Vec<u32>,
    warm: MeasuredCurve,
    cold: Option<MeasuredCurve>,
    init: Option<MeasuredCurve>,
}

impl Truth {
    /// The truth of a cebert curve; `None` when it has fewer than three warm sizes with
    /// both a mean and a p99 (too little to call a curve).
    pub fn from_cebert(c: &Curve, interpolation: Interpolation) -> Option<Self> {
        let warm: Vec<(u32, f64, Option<f64>)> = c.warm().into_iter().filter(|w| w.2.is_some() && w.1 > 0.0).collect();
        if warm.len() < 3 {
            return None;
        }
        let curve = |what: &str, f: fn(&CurvePoint) -> (Option<f64>, Option<f64>)| {
            let pts: Vec<(u32, f64, Option<f64>)> = c
                .points
                .iter()
                .filter_map(|p| {
                    let (mean, p99) = f(p);
                    mean.filter(|&m| m > 0.0).map(|m| (p.memory_mb, m, p99))
                })
                .collect();
            MeasuredCurve::new(format!("cebert {} {} {} {what}", c.runtime, c.architecture, c.workload), &pts)
                .map(|m| m.with_interpolation(interpolation))
        };
        Some(Self {
            name: format!("{}/{}/{}", c.workload, c.runtime, c.architecture),
            arch: c.architecture,
            lo: MemoryMb::new(u64::from(warm[0].0)).ok()?,
            hi: MemoryMb::new(u64::from(warm[warm.len() - 1].0)).ok()?,
            measured: warm.iter().map(|w| w.0).collect(),
            warm: MeasuredCurve::new(format!("cebert {} {} {} warm", c.runtime, c.architecture, c.workload), &warm)?
                .with_interpolation(interpolation),
            cold: curve("cold", |p| (p.cold_mean_ms, p.cold_p99_ms)),
            init: curve("init", |p| (p.init_mean_ms, p.init_p99_ms)),
        })
    }

    /// A synthetic truth from (MB, mean ms, p99 ms) per measured size and a flat INIT.
    pub fn from_points(
        name: &str,
        arch: Architecture,
        warm: &[(u32, f64, f64)],
        init_ms: Option<f64>,
        interpolation: Interpolation,
    ) -> Self {
        let lo = MemoryMb::new(u64::from(warm[0].0)).expect("valid size");
        let hi = MemoryMb::new(u64::from(warm[warm.len() - 1].0)).expect("valid size");
        let pts: Vec<(u32, f64, Option<f64>)> = warm.iter().map(|&(m, mean, p99)| (m, mean, Some(p99))).collect();
        Self {
            name: name.to_owned(),
            arch,
            lo,
            hi,
            measured: warm.iter().map(|w| w.0).collect(),
            warm: MeasuredCurve::new(name, &pts).expect("positive means").with_interpolation(interpolation),
            cold: None,
            init: init_ms.and_then(|v| MeasuredCurve::new(name, &[(lo.get(), v, Some(1.2 * v))])),
        }
    }

    fn law(curve: &MeasuredCurve, m: MemoryMb) -> Law {
        let x = f64::from(m.get());
        let mean = curve.mean_ms(x);
        Law::from_mean_p99(mean, mean * curve.p99_over_mean(x))
    }

    pub fn warm(&self, m: MemoryMb) -> Law {
        Self::law(&self.warm, m)
    }

    /// The first invocation of a new environment: slower than warm ones (class loading,
    /// JIT, lazy imports); never faster. Same as warm when the cold tables say nothing.
    pub fn cold(&self, m: MemoryMb) -> Law {
        let warm = self.warm(m);
        match &self.cold {
            Some(c) => {
                let law = Self::law(c, m);
                if law.mean_ms >= warm.mean_ms { law } else { warm }
            }
            None => warm,
        }
    }

    /// The INIT phase; `None` when the tables report none.
    pub fn init(&self, m: MemoryMb) -> Option<Law> {
        self.init.as_ref().map(|c| Self::law(c, m))
    }

    pub fn warm_p99(&self, m: MemoryMb) -> f64 {
        self.warm(m).p99_ms()
    }

    /// Expected cost of one warm invocation (USD): what active tuning optimises.
    pub fn warm_cost(&self, cost: &CostModel, m: MemoryMb) -> f64 {
        price(cost, self.arch, m, self.warm(m).mean_ms + 0.5)
    }

    /// Expected cost of one production invocation with `cold_share` cold starts (USD):
    /// warm and cold durations and the INIT, all billed.
    pub fn production_cost(&self, cost: &CostModel, m: MemoryMb, cold_share: f64) -> f64 {
        let warm = self.warm(m).mean_ms + 0.5;
        let cold = self.cold(m).mean_ms + 0.5;
        let init = self.init(m).map_or(0.0, |l| l.mean_ms + 0.5);
        price(cost, self.arch, m, (1.0 - cold_share) * warm + cold_share * (cold + init))
    }

    /// Every whole-MB size of the feasible range.
    pub fn sizes(&self) -> impl Iterator<Item = MemoryMb> + '_ {
        (self.lo.get()..=self.hi.get()).filter_map(|m| MemoryMb::new(u64::from(m)).ok())
    }

    /// The size minimising `f` over the feasible range (ties: the smaller size) and its value.
    pub fn optimum(&self, f: impl Fn(MemoryMb) -> f64) -> (MemoryMb, f64) {
        self.sizes()
            .map(|m| (m, f(m)))
            .fold((self.lo, f64::INFINITY), |best, (m, v)| if v < best.1 { (m, v) } else { best })
    }
}

/// Requests + duration for a mean billed duration (ms) at a size.
fn price(cost: &CostModel, arch: Architecture, m: MemoryMb, billed_ms: f64) -> f64 {
    cost.prices().request_price() + cost.duration_gb_s(arch) * m.gb() * billed_ms / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_calibration_reproduces_the_p99() {
        for ratio in [1.01, 1.1, 2.0, 3.5] {
            let law = Law::from_mean_p99(100.0, 100.0 * ratio);
            assert!((law.p99_ms() - 100.0 * ratio).abs() < 1e-6, "{ratio}");
        }
        let law = Law::from_mean_p99(100.0, 300.0);
        let mut rng = Rng::seed(7);
        let mut v: Vec<f64> = (0..200_000).map(|_| law.sample(&mut rng)).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.sort_by(f64::total_cmp);
        assert!((mean - 100.0).abs() < 1.5, "{mean}");
        assert!((v[198_000] - 300.0).abs() < 9.0, "{}", v[198_000]);
    }

    #[test]
    fn a_cpu_bound_curve_has_its_optimum_where_it_should() {
        // Duration ∝ 1/m up to 1,024 MB, flat after: cost flat, then rising.
        let warm = [(128, 8000.0, 8100.0), (256, 4000.0, 4050.0), (1024, 1000.0, 1010.0), (2048, 1000.0, 1010.0)];
        let t = Truth::from_points("t", Architecture::X86_64, &warm, None, Interpolation::PowerLaw);
        let cost = CostModel::default();
        let (m, _) = t.optimum(|m| t.warm_cost(&cost, m));
        assert!(m.get() <= 1024, "{m}");
        assert!(
            t.warm_cost(&cost, MemoryMb::new(2048).unwrap()) > 1.9 * t.warm_cost(&cost, MemoryMb::new(1024).unwrap())
        );
    }
}
