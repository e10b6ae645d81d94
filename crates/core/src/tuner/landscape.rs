//! The tuner's picture of one function: the evidence, the fitted duration curve, the goal,
//! and the sizes it may choose. Both samplers (active probes and passive steps) read the
//! same landscape; they differ only in which sizes they may try next.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::decision::{Constraint, Expectation};
use crate::domain::MemoryMb;
use crate::histogram::RELATIVE_ACCURACY;
use crate::policy::{Constraints, Goal, Policy};

use super::Settings;
use super::evidence::{Evidence, SizeEvidence};
use super::objective::{Affine, Objective};
use super::rollout::Ban;
use super::stats::{normal_cdf, quantile_below_confidence};
use super::surrogate::{Averaged, CurvePrior, Point, Surrogate};

/// The sizes the tuner may choose at all: the policy's range, raised to the memory the
/// function needs and above any size that ran out of memory or timed out, minus bans.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub lo: MemoryMb,
    pub hi: MemoryMb,
    pub bans: Vec<Ban>,
    /// The constraint that raised `lo`, if one did.
    pub raised_by: Option<Constraint>,
}

impl Bounds {
    pub fn new(c: &Constraints, evidence: &Evidence, bans: Vec<Ban>, current: MemoryMb) -> Self {
        let mut lo = c.min_memory_mb;
        let mut raised_by = None;
        if let Some(used) = evidence.max_memory_used_mb {
            let needed = used * (1.0 + c.memory_headroom);
            let m = MemoryMb::clamped(needed.ceil());
            if m > lo {
                lo = m;
                raised_by = Some(Constraint::MemoryHeadroom { needed_mb: needed, configured_mb: current.get() });
            }
        }
        for (at, constraint) in [(evidence.oom_at, Constraint::OutOfMemory), (evidence.timeout_at, Constraint::Timeout)]
        {
            if let Some(m) = at {
                let above = MemoryMb::clamped(f64::from(m.get()) + 1.0);
                if above > lo {
                    lo = above;
                    raised_by = Some(constraint);
                }
            }
        }
        let hi = c.max_memory_mb.max(lo);
        Self { lo: lo.min(hi), hi, bans, raised_by }
    }

    pub fn allows(&self, m: MemoryMb) -> bool {
        m >= self.lo && m <= self.hi && !self.bans.iter().any(|b| b.covers(m))
    }
}

/// Roughness levels (sd of departures from the power laws) the fit chooses among.
const ROUGHNESS_GRID: [f64; 7] = [0.02, 0.035, 0.06, 0.1, 0.16, 0.25, 0.4];
/// Prior on the roughness: log-normal around 0.2 (a fifth in ln-duration per correlation
/// length), sd 0.7 in ln — weak enough for a handful of precise sizes to overrule it.
const ROUGHNESS_PRIOR: (f64, f64) = (0.2, 0.7);

/// Fits the surrogate: each size's mean weighted by its noise (the pooled within-size spread
/// of the evidence — replicates, with the prior mixed in — over its invocations, plus the
/// model's floor), averaged over the roughness grid with weights ∝ marginal likelihood × the
/// log-normal prior (see [`Averaged`]). Returns the surrogate, the spread and its degrees of
/// freedom.
///
/// Why the noise comes from replicates and not from the likelihood: measured once per size,
/// noise and a real bend of the curve explain the data equally well; only replicates separate
/// them. Given the noise, how bendy the curve is near the data *is* identified by the
/// likelihood; far from the data it is not, which is why the roughness is averaged over and
/// not chosen.
pub fn fit_noise(evidence: &Evidence, settings: &Settings) -> (Averaged, f64, f64) {
    let floor = settings.model_noise_floor * settings.model_noise_floor;
    let cv2 = (evidence.log_sd * evidence.log_sd).exp_m1();
    let points: Vec<Point> = evidence
        .sizes
        .iter()
        .map(|s| Point {
            x: f64::from(s.memory.get()).ln(),
            y: s.mean_billed_ms.max(0.5).ln(),
            noise_var: cv2 / s.invocations as f64 + floor,
        })
        .collect();
    let (centre, sd) = ROUGHNESS_PRIOR;
    let fits = ROUGHNESS_GRID
        .iter()
        .map(|&r| {
            let s = Surrogate::fit(&points, CurvePrior { roughness_sd: r, ..settings.prior });
            let log_prior = -0.5 * ((r / centre).ln() / sd).powi(2);
            (s.log_likelihood() + log_prior, s)
        })
        .collect();
    (Averaged::new(fits), evidence.log_sd, evidence.log_sd_df)
}

/// Spread assumed for the tail of a size measured only once: p99 ≈ 3.5 × the mean, as heavy
/// as the warm tails of published measurements get (light Node.js functions at 128 MB).
pub const TAIL_PRIOR_LOG_SD: f64 = 0.6;

/// What the landscape says about one size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub memory: MemoryMb,
    /// Posterior of ln(mean billed ms).
    pub mu: f64,
    pub var: f64,
    pub objective: Affine,
    /// E[objective].
    pub expected: f64,
    pub cost_usd: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Upper credible bound of the p99 at the policy's confidence.
    pub p99_upper_ms: f64,
    /// Probability the size meets the p99 SLO and the cost ceiling.
    pub p_feasible: f64,
    pub observed: bool,
    /// The objective from this size's own measurements alone (its mean billed duration),
    /// when it was measured: what a final choice among measured sizes ranks by, free of the
    /// curve model's smoothing.
    pub measured: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Landscape<'a> {
    pub evidence: &'a Evidence,
    pub policy: &'a Policy,
    pub settings: &'a Settings,
    pub bounds: Bounds,
    pub objective: Objective,
    surrogate: Averaged,
    /// Within-size spread of ln(duration), chosen by the likelihood (see [`fit_noise`]).
    pub log_sd: f64,
    pub log_sd_df: f64,
    /// Every prediction made so far, by size: one run asks about the same sizes many times
    /// (each candidate, the bounded path to each, the confidence over the step range), and
    /// what the landscape says about a size does not change once it is built.
    predictions: RefCell<BTreeMap<MemoryMb, Prediction>>,
    /// [`Evidence::log_sd_upper`] (a chi-square quantile by bisection) per spread and degrees
    /// of freedom (as bits): sizes share the few spreads [`Self::spread_at`] gives.
    sd_uppers: RefCell<Vec<((u64, u64), f64)>>,
}

impl Prediction {
    /// The size's own measured objective if measured, else the model's expectation.
    pub fn score(&self) -> f64 {
        self.measured.unwrap_or(self.expected)
    }
}

impl<'a> Landscape<'a> {
    pub fn new(
        evidence: &'a Evidence,
        policy: &'a Policy,
        settings: &'a Settings,
        objective: Objective,
        bounds: Bounds,
    ) -> Self {
        let (surrogate, log_sd, log_sd_df) = fit_noise(evidence, settings);
        let mut l = Self {
            evidence,
            policy,
            settings,
            bounds,
            objective,
            surrogate,
            log_sd,
            log_sd_df,
            predictions: RefCell::default(),
            sd_uppers: RefCell::default(),
        };
        if let Goal::Balanced { .. } = policy.goal {
            // Normalise by the best cost and latency among measured sizes (1 without any).
            let (mut c, mut t) = (f64::INFINITY, f64::INFINITY);
            for s in &evidence.sizes {
                let (mu, var) = l.posterior(s.memory);
                let init = evidence.init_per_cold_start_ms(s.memory);
                c = c.min(l.objective.cost(s.memory, init).expected(mu, var));
                t = t.min(l.objective.latency(init).expected(mu, var));
            }
            if c.is_finite() {
                l.objective.cost_ref = c;
                l.objective.latency_ref = t;
            }
        }
        l
    }

    fn posterior(&self, m: MemoryMb) -> (f64, f64) {
        self.surrogate.predict(f64::from(m.get()).ln())
    }

    pub fn predict(&self, m: MemoryMb) -> Prediction {
        if let Some(p) = self.predictions.borrow().get(&m) {
            return *p;
        }
        let p = self.predict_afresh(m);
        self.predictions.borrow_mut().insert(m, p);
        p
    }

    fn predict_afresh(&self, m: MemoryMb) -> Prediction {
        let (mu, var) = self.posterior(m);
        let init = self.evidence.init_per_cold_start_ms(m);
        let objective = self.objective.of(m, init);
        let cost = self.objective.cost(m, init);
        let observed = self.evidence.get(m);
        let conf = self.policy.guardrails.confidence;
        let (sd, df) = self.spread_at(m);
        let (ratio, ratio_upper) = self.evidence.p99_ratio_with(m, sd, || self.sd_upper(sd, df));
        let mean_ms = (mu + var / 2.0).exp();
        let measured_p99 = observed.and_then(|s| Some((s.p99_ms?, s.p99_upper_ms?)));
        let z = Evidence::z(conf);
        let ratio_var = ((ratio_upper / ratio).ln() / z).powi(2);
        let (p99_ms, p99_upper_ms) =
            measured_p99.unwrap_or((mean_ms * ratio, mean_ms * ratio * (z * (var + ratio_var).sqrt()).exp()));
        let p50_ms = observed
            .filter(|s| s.invocations >= self.policy.guardrails.min_invocations)
            .map_or(mean_ms * (-self.log_sd.powi(2) / 2.0).exp(), |s| s.log_mean.exp());
        let p_feasible = self.p_slo(observed, mu, var, ratio, ratio_upper) * self.p_ceiling(cost, mu, var);
        Prediction {
            memory: m,
            mu,
            var,
            objective,
            expected: objective.expected(mu, var),
            cost_usd: cost.expected(mu, var),
            p50_ms,
            p99_ms,
            p99_upper_ms,
            p_feasible,
            observed: observed.is_some(),
            measured: observed
                .map(|s| objective.at(self.own_mean(s) * (self.settings.selection_z * self.own_se(s)).exp())),
        }
    }

    /// [`Evidence::log_sd_upper`] at the policy's confidence, remembered per `(sd, df)`.
    fn sd_upper(&self, sd: f64, df: f64) -> f64 {
        let key = (sd.to_bits(), df.to_bits());
        if let Some(&(_, upper)) = self.sd_uppers.borrow().iter().find(|(k, _)| *k == key) {
            return upper;
        }
        let upper = Evidence::log_sd_upper(sd, df, self.policy.guardrails.confidence);
        self.sd_uppers.borrow_mut().push((key, upper));
        upper
    }

    /// A size's own estimate of its mean billed duration. Durations are heavy-tailed
    /// (lognormal): from three invocations on, the lognormal estimate `exp(mean of ln +
    /// var of ln / 2)` (plus the rounding Lambda adds) is steadier than the plain mean, which
    /// one slow invocation can double.
    fn own_mean(&self, s: &SizeEvidence) -> f64 {
        match s.log_var {
            Some(v) if s.invocations >= 3 => (s.log_mean + v / 2.0).exp() + (s.mean_billed_ms - s.mean_ms).max(0.0),
            _ => s.mean_billed_ms,
        }
    }

    /// Standard error of ln(own mean).
    fn own_se(&self, s: &SizeEvidence) -> f64 {
        let sd = if s.invocations >= 3 { s.log_var.unwrap_or(0.0).sqrt().max(self.log_sd) } else { self.log_sd };
        ((sd * sd).exp_m1() / s.invocations as f64).sqrt()
    }

    /// The spread of ln(duration) to assume at a size for its tail, with its degrees of
    /// freedom. Spread does not grow with memory (more CPU, less throttling jitter), so the
    /// spread at `m` is bounded by the spread pooled over replicated sizes at or below `m`
    /// (prior included); with no replicate at or below `m`, by [`TAIL_PRIOR_LOG_SD`] — a tail
    /// that was never measured is assumed as heavy as published warm tails get.
    fn spread_at(&self, m: MemoryMb) -> (f64, f64) {
        let (mut ss, mut df) = (0.0, 0.0);
        for s in self.evidence.sizes.iter().filter(|s| s.memory <= m && s.invocations >= 2) {
            let d = (s.invocations - 1) as f64;
            ss += s.log_var.unwrap_or(0.0) * d;
            df += d;
        }
        if df == 0.0 {
            return (self.log_sd.max(TAIL_PRIOR_LOG_SD), 1.0);
        }
        let prior = super::evidence::PRIOR_LOG_SD;
        let prior_df = super::evidence::PRIOR_LOG_SD_DF;
        (((ss + prior * prior * prior_df) / (df + prior_df)).sqrt(), df + prior_df)
    }

    fn p_slo(&self, observed: Option<&SizeEvidence>, mu: f64, var: f64, ratio: f64, ratio_upper: f64) -> f64 {
        let Some(slo) = self.policy.constraints.p99_slo_ms else { return 1.0 };
        if let Some((p99, upper)) = observed.and_then(|s| Some((s.p99_ms?, s.p99_upper_ms?))) {
            // Enough invocations for a distribution-free bound: trust the measurement.
            return if upper <= slo {
                1.0
            } else if p99 > slo {
                0.0
            } else {
                0.5
            };
        }
        let z = Evidence::z(self.policy.guardrails.confidence);
        let ratio_var = ((ratio_upper / ratio).ln() / z).powi(2);
        let sd = (var + ratio_var).sqrt().max(1e-9);
        let modelled = normal_cdf(((slo / ratio).ln() - mu) / sd);
        match observed {
            // Too few invocations for a distribution-free bound: only the size's own
            // invocations say how heavy its tail is (the spread of durations changes with
            // memory: pooling it from other sizes, or from a prior, claims a tail that was
            // never measured). The exact confidence of a lognormal quantile below the SLO
            // from n values and their own spread; a size run once cannot show its tail.
            Some(s) if s.invocations >= 2 => own_tail_confidence(s, slo),
            Some(_) => modelled.min(0.5),
            None => modelled,
        }
    }

    fn p_ceiling(&self, cost: Affine, mu: f64, var: f64) -> f64 {
        match self.policy.constraints.cost_ceiling_per_million_usd {
            Some(ceiling) => cost.prob_below(ceiling / 1e6, mu, var),
            None => 1.0,
        }
    }

    /// Sizes in `[lo, hi]` the tuner may choose: the ends, every multiple of the grid step
    /// and every measured size, that the bounds allow.
    pub fn candidates(&self, lo: MemoryMb, hi: MemoryMb) -> Vec<MemoryMb> {
        let (lo, hi) = (lo.max(self.bounds.lo), hi.min(self.bounds.hi));
        if lo > hi {
            return Vec::new();
        }
        let step = self.settings.grid_mb.max(1);
        let mut out = vec![lo, hi];
        let mut m = lo.get().div_ceil(step) * step;
        while m <= hi.get() {
            out.push(MemoryMb::clamped(f64::from(m)));
            m += step;
        }
        out.extend(self.evidence.sizes.iter().map(|s| s.memory).filter(|&m| m >= lo && m <= hi));
        out.retain(|&m| self.bounds.allows(m));
        out.sort();
        out.dedup();
        out
    }

    /// The best measured size that is feasible and has at least `min_invocations` behind it,
    /// ranked by its own measurements (pessimistically: mean plus standard errors, see
    /// [`Settings::selection_z`]; a size's mean is unbiased, the curve model's is smoothed
    /// toward its neighbours).
    ///
    /// Feasible means feasible at the policy's confidence *after* a Bonferroni correction
    /// over the sizes compared: picking the cheapest of k sizes that pass a test at level α
    /// picks an infeasible one with probability up to k·α, so each is tested at α/k.
    pub fn best_measured(&self, min_invocations: u64) -> Option<Prediction> {
        let sizes: Vec<_> = self
            .evidence
            .sizes
            .iter()
            .filter(|s| s.invocations >= min_invocations && self.bounds.allows(s.memory))
            .collect();
        let alpha = (1.0 - self.policy.guardrails.confidence) / sizes.len().max(1) as f64;
        sizes
            .iter()
            .map(|s| self.predict(s.memory))
            .filter(|p| p.p_feasible >= 1.0 - alpha)
            .min_by(|a, b| a.score().total_cmp(&b.score()).then(a.memory.cmp(&b.memory)))
    }

    /// Expected improvement of `p` over `best`, weighted by the chance it is feasible.
    pub fn improvement(&self, p: &Prediction, best: f64) -> f64 {
        p.objective.expected_improvement(best, p.mu, p.var) * p.p_feasible
    }

    /// How sure the landscape is that nothing among `candidates` beats `chosen` by more than
    /// the tolerance: 1 − the largest probability that one does.
    pub fn confidence_in(&self, chosen: &Prediction, candidates: &[MemoryMb]) -> f64 {
        let target = chosen.expected * (1.0 - self.settings.tolerance);
        let worst = candidates
            .iter()
            .filter(|&&m| m != chosen.memory)
            .map(|&m| {
                let p = self.predict(m);
                p.objective.prob_below(target, p.mu, p.var) * p.p_feasible
            })
            .fold(0.0, f64::max);
        1.0 - worst
    }

    /// What the decision records as expected at a size.
    pub fn expectation(&self, p: &Prediction, confidence: f64) -> Expectation {
        Expectation {
            p50_ms: p.p50_ms,
            p99_ms: p.p99_ms,
            cost_per_million_usd: p.cost_usd * 1e6,
            confidence: confidence.clamp(0.0, 1.0),
            p99_upper_ms: Some(p.p99_upper_ms),
        }
    }

    /// The curve prior in use.
    pub fn prior(&self) -> CurvePrior {
        self.settings.prior
    }
}

/// Confidence that a size's p99 is within `slo`, from its own invocations only (lognormal
/// tail, exact noncentral-t test; see [`super::stats::quantile_below_confidence`]). The
/// spread is floored at the duration histogram's resolution: values that share a bucket
/// are known only to within its width, not to be equal.
pub fn own_tail_confidence(s: &SizeEvidence, slo: f64) -> f64 {
    let width = ((1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)).ln();
    let var = s.log_var.unwrap_or(0.0).max(width * width / 12.0);
    let df = s.invocations.saturating_sub(1) as f64;
    quantile_below_confidence(slo, s.log_mean, var.sqrt(), s.invocations, df, 0.99)
}
