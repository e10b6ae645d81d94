//! Active tuning: probes (invocations of a test payload at a temporary version) for
//! functions with too little traffic to learn from, the way Power Tuning works, but choosing
//! where to probe.
//!
//! 1. A ladder across the allowed range, one invocation per rung: Power Tuning's default
//!    power values (128, 256, 512, 1024, 1536, 3008 MB), brought into the range, plus the top
//!    of the range when it lies beyond them. At equal budgets this ladder is hard to beat on
//!    real curves (doublings where cost is flat, a rung just under one vCPU where CPU-bound
//!    code is cheapest); with fewer invocations than rungs, an evenly spread subset.
//! 2. If the budget allows, one more invocation at each of the two best rungs: replicates are
//!    the only way to learn how noisy the function is (measured once per size, noise and a
//!    real bend of the curve look the same), and these two are the comparison that matters.
//! 3. Then each further invocation goes where the expected improvement over the best
//!    measured size is largest (any size on the grid, or a repeat of a measured one when its
//!    noise hides the answer), weighted by the chance that size meets the constraints. The
//!    improvement is counted against what the best size is expected to cost (the curve's
//!    posterior there), not against the pessimistic score that ranks it for the answer: that
//!    score sits some standard errors above the expectation on purpose, and measured against
//!    it a repeat of the best size itself looks like a gain of its own margin — a gain no
//!    repeat can deliver, since choosing the same size again changes nothing. On noisy
//!    functions that margin outweighed every real prospect and most of a large budget went
//!    to repeats of one size, often the wrong one (this is the "plug-in" target of EI
//!    under noise).
//! 4. Stop when no size is expected to improve on the best by the tolerance, or when the
//!    budget is spent.
//!
//! The answer is always a size that was measured (a model's guess of an unmeasured size is a
//! reason to measure it, never the answer).

use crate::decision::{Constraint, MemoryReason};
use crate::domain::MemoryMb;
use crate::policy::Goal;

use super::landscape::{Landscape, Prediction};

/// One probe: invoke the payload this many times at this size.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub memory: MemoryMb,
    pub invocations: u64,
    pub reason: MemoryReason,
}

/// The active tuner's answer once its probes are done.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub memory: MemoryMb,
    pub prediction: Prediction,
    pub confidence: f64,
    pub reason: MemoryReason,
}

/// Power Tuning's default power values (MB): the first rungs of the ladder.
pub const LADDER_MB: [u32; 6] = [128, 256, 512, 1024, 1536, 3008];

/// The sizes probed first: [`LADDER_MB`] brought into `[lo, hi]`, plus `hi` when it is more
/// than an octave above them and the budget has room for it and the confirmations; with
/// fewer invocations than rungs,
/// a subset spread evenly over the rungs, keeping both ends.
pub fn ladder(lo: MemoryMb, hi: MemoryMb, budget: u64) -> Vec<MemoryMb> {
    let mut rungs: Vec<MemoryMb> = LADDER_MB.iter().map(|&m| MemoryMb::clamped(f64::from(m)).clamp(lo, hi)).collect();
    rungs.dedup();
    if let Some(&top) = rungs.last()
        && f64::from(hi.get()) > 2.0 * f64::from(top.get())
        && budget >= (rungs.len() + 1 + CONFIRMATIONS) as u64
    {
        rungs.push(hi);
    }
    let k = (budget.max(1) as usize).min(rungs.len());
    if k == rungs.len() {
        return rungs;
    }
    // An evenly spread subset that keeps both ends.
    let mut out: Vec<MemoryMb> = (0..k)
        .map(|i| if k == 1 { rungs[0] } else { rungs[(i * (rungs.len() - 1) + (k - 1) / 2) / (k - 1)] })
        .collect();
    out.dedup();
    out
}

/// `rungs` sizes spaced evenly in ln(memory) from `lo` to `hi`, rounded to whole MB.
pub fn geometric(lo: MemoryMb, hi: MemoryMb, rungs: usize) -> Vec<MemoryMb> {
    if rungs <= 1 || lo == hi {
        return vec![lo];
    }
    let (a, b) = (f64::from(lo.get()).ln(), f64::from(hi.get()).ln());
    let mut out: Vec<MemoryMb> =
        (0..rungs).map(|i| MemoryMb::clamped((a + (b - a) * i as f64 / (rungs - 1) as f64).exp())).collect();
    out.dedup();
    out
}

/// The next probe, or `None` when the optimum is known within tolerance or the budget is
/// spent. `budget` counts every probe invocation, those already run included.
pub fn next_probe(l: &Landscape, budget: u64) -> Option<Probe> {
    let spent = l.evidence.total_invocations();
    if spent >= budget {
        return None;
    }
    let (lo, hi) = (l.bounds.lo, l.bounds.hi);
    // Under a p99 SLO, keep room for the confirmations: they are the only measure of spread.
    let slo = l.policy.constraints.p99_slo_ms.is_some();
    let rung_budget = if slo { budget.saturating_sub(CONFIRMATIONS as u64).max(2) } else { budget };
    let rungs = ladder(lo, hi, rung_budget);
    for &m in &rungs {
        if l.bounds.allows(m) && l.evidence.get(m).is_none() {
            return Some(Probe {
                memory: m,
                invocations: 1,
                reason: MemoryReason::Exploring { uncertainty_pct: 100.0 },
            });
        }
    }
    if let Some(m) = confirmation(l, &rungs, budget - spent) {
        return Some(Probe { memory: m, invocations: 1, reason: MemoryReason::Exploring { uncertainty_pct: 100.0 } });
    }
    if let Some(m) = resolve_feasibility(l) {
        return Some(Probe { memory: m, invocations: 1, reason: MemoryReason::Exploring { uncertainty_pct: 100.0 } });
    }
    let candidates = l.candidates(lo, hi);
    let Some(best) = l.best_measured(1) else {
        // Nothing measured meets the constraints yet: go where they are most surely met (the
        // lowest p99 bound; a probability near ½ only says nothing is known there).
        let m = candidates
            .iter()
            .filter(|&&m| l.evidence.get(m).is_none())
            .map(|&m| l.predict(m))
            .min_by(|a, b| a.p99_upper_ms.total_cmp(&b.p99_upper_ms).then(b.memory.cmp(&a.memory)))?;
        return Some(Probe {
            memory: m.memory,
            invocations: 1,
            reason: MemoryReason::Exploring { uncertainty_pct: 100.0 * (1.0 - m.p_feasible) },
        });
    };
    let (gain, m) = candidates
        .iter()
        .map(|&m| (l.improvement(&l.predict(m), best.expected), m))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))?;
    let relative = gain / best.expected;
    (relative >= l.settings.probe_tolerance).then_some(Probe {
        memory: m,
        invocations: 1,
        reason: MemoryReason::Exploring { uncertainty_pct: 100.0 * relative },
    })
}

/// The second invocation at one of the two best rungs, while fewer than two rungs have been
/// measured twice and the budget allows.
fn confirmation(l: &Landscape, rungs: &[MemoryMb], remaining: u64) -> Option<MemoryMb> {
    let replicated = l.evidence.sizes.iter().filter(|s| s.invocations >= 2).count();
    let needed = CONFIRMATIONS.saturating_sub(replicated) as u64;
    if needed == 0 || remaining < needed {
        return None;
    }
    let mut best: Vec<_> = rungs.iter().filter(|&&m| l.bounds.allows(m)).map(|&m| l.predict(m)).collect();
    best.sort_by(|a, b| a.expected.total_cmp(&b.expected));
    best.iter().take(CONFIRMATIONS).map(|p| p.memory).find(|&m| l.evidence.get(m).is_some_and(|s| s.invocations < 2))
}

/// Under a p99 SLO: the cheapest measured size that would beat the best confidently
/// feasible one and whose measured p99 meets the SLO, but whose feasibility is not yet
/// established (too few invocations there to bound its tail) — measure it again.
fn resolve_feasibility(l: &Landscape) -> Option<MemoryMb> {
    let slo = l.policy.constraints.p99_slo_ms?;
    let best = l.best_measured(1).map_or(f64::INFINITY, |b| b.score());
    let alpha = (1.0 - l.policy.guardrails.confidence) / l.evidence.sizes.len().max(1) as f64;
    l.evidence
        .sizes
        .iter()
        .filter(|s| l.bounds.allows(s.memory) && s.p99_ms.is_some_and(|p| p <= slo))
        .map(|s| l.predict(s.memory))
        .filter(|p| p.p_feasible < 1.0 - alpha && p.score() < best)
        .min_by(|a, b| a.score().total_cmp(&b.score()))
        .map(|p| p.memory)
}

/// Rungs measured twice before the model-guided probes.
const CONFIRMATIONS: usize = 2;

/// The best measured size, with how sure the tuner is and why it beats `current`.
pub fn recommend(l: &Landscape, current: MemoryMb) -> Option<Recommendation> {
    let all = l.candidates(l.bounds.lo, l.bounds.hi);
    if let Some(best) = l.best_measured(1) {
        let confidence = l.confidence_in(&best, &all);
        let here = l.predict(current);
        let reason = if best.memory == current { MemoryReason::AtOptimum } else { gain_reason(l, &best, &here) };
        return Some(Recommendation { memory: best.memory, prediction: best, confidence, reason });
    }
    // Nothing measured is confidently feasible within the budget: under an SLO, the largest
    // size the policy allows (duration, hence p99, does not grow with memory: the safest
    // bet, and the decision says the SLO is not confirmed); under a cost ceiling, the
    // cheapest measured size.
    let p = if l.policy.constraints.p99_slo_ms.is_some() {
        l.predict(l.bounds.hi)
    } else {
        l.evidence
            .sizes
            .iter()
            .filter(|s| l.bounds.allows(s.memory))
            .map(|s| l.predict(s.memory))
            .min_by(|a, b| a.score().total_cmp(&b.score()))?
    };
    let constraint = match l.policy.constraints.p99_slo_ms {
        Some(slo) => Constraint::P99Slo { slo_ms: slo, observed_ms: p.p99_ms },
        None => Constraint::CostCeiling {
            ceiling_usd: l.policy.constraints.cost_ceiling_per_million_usd.unwrap_or(0.0),
            observed_usd: p.cost_usd * 1e6,
        },
    };
    Some(Recommendation {
        memory: p.memory,
        prediction: p,
        confidence: p.p_feasible,
        reason: MemoryReason::ConstraintViolated { constraint },
    })
}

/// Why `to` beats `from` under the goal.
pub fn gain_reason(l: &Landscape, to: &Prediction, from: &Prediction) -> MemoryReason {
    match l.policy.goal {
        Goal::Speed => MemoryReason::Faster { p99_gain_pct: 100.0 * (1.0 - to.p99_ms / from.p99_ms.max(1e-9)) },
        Goal::Cost | Goal::Balanced { .. } => {
            MemoryReason::Cheaper { saving_pct: 100.0 * (1.0 - to.cost_usd / from.cost_usd.max(1e-18)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::tuner::Settings;
    use crate::tuner::evidence::Evidence;
    use crate::tuner::tests::{history_of, landscape};

    fn mb(v: u64) -> MemoryMb {
        MemoryMb::new(v).unwrap()
    }

    #[test]
    fn ladders_start_where_power_tuning_does() {
        let v = |xs: &[u64]| xs.iter().map(|&x| mb(x)).collect::<Vec<_>>();
        assert_eq!(ladder(mb(128), mb(2048), 12), v(&[128, 256, 512, 1024, 1536, 2048]));
        assert_eq!(ladder(mb(128), mb(10_240), 60), v(&[128, 256, 512, 1024, 1536, 3008, 10_240]));
        assert_eq!(ladder(mb(128), mb(10_240), 6), v(&[128, 256, 512, 1024, 1536, 3008]));
        assert_eq!(ladder(mb(128), mb(10_240), 4), v(&[128, 512, 1024, 3008]));
        assert_eq!(ladder(mb(1024), mb(10_240), 3), v(&[1024, 1536, 3008]));
        assert_eq!(ladder(mb(1024), mb(10_240), 6), v(&[1024, 1536, 3008, 10_240]));
        assert_eq!(ladder(mb(1024), mb(10_240), 5), v(&[1024, 1536, 3008]));
        assert_eq!(ladder(mb(1024), mb(1024), 4), v(&[1024]));
        assert_eq!(geometric(mb(128), mb(2048), 5), v(&[128, 256, 512, 1024, 2048]));
    }

    /// The next probe after `measured` ((size, durations) on arm64, range 128-2,048 MB) with
    /// `budget` invocations in all.
    fn next_after(measured: &[(u64, &[f64])], budget: u64) -> Option<MemoryMb> {
        let mut policy = Policy::default();
        policy.constraints.max_memory_mb = mb(2048);
        let settings = Settings::default();
        let evidence = Evidence::from_history(&history_of(measured), policy.guardrails.confidence);
        next_probe(&landscape(&evidence, &policy, &settings), budget).map(|p| p.memory)
    }

    #[test]
    fn a_repeat_of_the_best_size_is_not_credited_with_its_own_margin() {
        // Each rung once, the two best twice, then the best three more times: 512 MB is
        // ranked by its mean plus 1.645 standard errors (≈ 4% here), and counted against
        // that pessimistic score a sixth invocation there looked like a 4% gain. Choosing
        // 512 MB again changes nothing; the sizes beside it, never measured, are where an
        // invocation can still change the answer.
        let measured: [(u64, &[f64]); 6] = [
            (128, &[4000.0]),
            (256, &[1900.0]),
            (512, &[800.0, 880.0, 760.0, 840.0, 790.0]),
            (1024, &[450.0, 460.0]),
            (1536, &[330.0]),
            (2048, &[270.0]),
        ];
        let next = next_after(&measured, 60);
        assert!(next.is_some_and(|m| m != mb(512)), "{next:?}");
    }
}
