//! What "better" means at one memory size, as a function of the duration there.
//!
//! Every goal is affine in the mean billed duration `D` at a size `m`: `f(m, D) = A(m) + B(m)·D`
//! (cost is requests + duration + the INIT share, all proportional to `m`; latency is the
//! duration plus the INIT share; balanced mixes the two). Because `ln D` is Gaussian under the
//! surrogate, expected values, probabilities of improvement and expected improvements all
//! have closed forms (see [`Affine`]).

use crate::cost::CostModel;
use crate::domain::{Architecture, MemoryMb};
use crate::policy::Goal;

use super::stats::normal_cdf;

/// `A + B·D` at one size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f64,
    pub b: f64,
}

impl Affine {
    pub fn at(&self, d: f64) -> f64 {
        self.a + self.b * d
    }

    /// E[f] when ln D ~ N(mu, var).
    pub fn expected(&self, mu: f64, var: f64) -> f64 {
        self.a + self.b * (mu + var / 2.0).exp()
    }

    /// The duration at which f equals `target` (may be ≤ 0: unreachable).
    pub fn duration_for(&self, target: f64) -> f64 {
        (target - self.a) / self.b
    }

    /// P(f < target) when ln D ~ N(mu, var).
    pub fn prob_below(&self, target: f64, mu: f64, var: f64) -> f64 {
        let d = self.duration_for(target);
        if d <= 0.0 {
            return 0.0;
        }
        if var <= 1e-18 {
            return if mu < d.ln() { 1.0 } else { 0.0 };
        }
        normal_cdf((d.ln() - mu) / var.sqrt())
    }

    /// E[max(0, target − f)] when ln D ~ N(mu, var): the expected improvement over `target`.
    pub fn expected_improvement(&self, target: f64, mu: f64, var: f64) -> f64 {
        let d = self.duration_for(target);
        if d <= 0.0 {
            return 0.0;
        }
        if var <= 1e-18 {
            return (self.b * (d - mu.exp())).max(0.0);
        }
        let s = var.sqrt();
        let z = (d.ln() - mu) / s;
        // B·E[max(0, d − D)] for lognormal D: the Black–Scholes put.
        (self.b * (d * normal_cdf(z) - (mu + var / 2.0).exp() * normal_cdf(z - s))).max(0.0)
    }
}

/// Builds the objective of a goal at any size.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub goal: Goal,
    request_usd: f64,
    gb_s_usd: f64,
    /// Expected cold starts per invocation.
    pub cold_share: f64,
    /// Normalisers of the balanced goal: the best cost and latency known.
    pub cost_ref: f64,
    pub latency_ref: f64,
}

impl Objective {
    pub fn new(goal: Goal, cost: &CostModel, arch: Architecture, cold_share: f64) -> Self {
        Self {
            goal,
            request_usd: cost.prices().request_price(),
            gb_s_usd: cost.duration_gb_s(arch),
            cold_share,
            cost_ref: 1.0,
            latency_ref: 1.0,
        }
    }

    /// Cost per invocation (USD) as an affine function of the mean billed duration (ms),
    /// with the INIT of `init_ms` per cold start.
    pub fn cost(&self, memory: MemoryMb, init_ms: f64) -> Affine {
        let k = self.gb_s_usd * memory.gb() / 1000.0;
        Affine { a: self.request_usd + k * self.cold_share * init_ms, b: k }
    }

    /// Mean latency per invocation (ms): duration plus the INIT share.
    pub fn latency(&self, init_ms: f64) -> Affine {
        Affine { a: self.cold_share * init_ms, b: 1.0 }
    }

    /// The goal's objective (lower is better).
    pub fn of(&self, memory: MemoryMb, init_ms: f64) -> Affine {
        match self.goal {
            Goal::Cost => self.cost(memory, init_ms),
            Goal::Speed => self.latency(init_ms),
            Goal::Balanced { speed_weight: w } => {
                let (c, l) = (self.cost(memory, init_ms), self.latency(init_ms));
                let (wc, wl) = ((1.0 - w) / self.cost_ref, w / self.latency_ref);
                Affine { a: wc * c.a + wl * l.a, b: wc * c.b + wl * l.b }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(v: u64) -> MemoryMb {
        MemoryMb::new(v).unwrap()
    }

    #[test]
    fn cost_agrees_with_the_cost_model() {
        let model = CostModel::default();
        let o = Objective::new(Goal::Cost, &model, Architecture::Arm64, 0.0);
        let f = o.cost(mb(1024), 0.0).at(200.0);
        assert!((f - model.invocation(Architecture::Arm64, mb(1024), 200.0)).abs() < 1e-15);
        // With one cold start in ten, a tenth of a 300 ms INIT is billed per invocation.
        let o = Objective::new(Goal::Cost, &model, Architecture::Arm64, 0.1);
        let f = o.cost(mb(1024), 300.0).at(200.0);
        let want = model.invocation(Architecture::Arm64, mb(1024), 200.0)
            + 0.1 * model.init(Architecture::Arm64, mb(1024), 300.0);
        assert!((f - want).abs() < 1e-15);
    }

    #[test]
    fn closed_forms_agree_with_integration() {
        let f = Affine { a: 1.0, b: 0.01 };
        let (mu, var): (f64, f64) = (100f64.ln(), 0.09);
        let target = 2.0;
        // Midpoint integration over the normal.
        let (mut ei, mut below, mut mean) = (0.0, 0.0, 0.0);
        let steps = 20_000;
        for i in 0..steps {
            let z = -8.0 + 16.0 * (i as f64 + 0.5) / steps as f64;
            let w = super::super::stats::normal_pdf(z) * 16.0 / steps as f64;
            let v = f.at((mu + var.sqrt() * z).exp());
            ei += w * (target - v).max(0.0);
            below += w * f64::from(u8::from(v < target));
            mean += w * v;
        }
        assert!((f.expected_improvement(target, mu, var) - ei).abs() < 1e-6);
        assert!((f.prob_below(target, mu, var) - below).abs() < 1e-3);
        assert!((f.expected(mu, var) - mean).abs() < 1e-6);
        assert_eq!(f.expected_improvement(0.5, mu, var), 0.0, "below A nothing can improve");
    }
}
