//! Passive tuning: the function runs in production at its current size; each run of the
//! autopilot reads what production did, judges the last change, and may move memory one
//! bounded step. No synthetic invocation, no payload.
//!
//! Order of business in one run:
//! 1. judge the pending change (verdict); regressed → roll back to the recorded size and ban
//!    the bad side for the cooling period; inconclusive → wait; healthy canary → promote;
//! 2. too little traffic at the current size → wait;
//! 3. a hard constraint broken at the current size (out of memory, timeouts, headroom, p99
//!    SLO, cost ceiling) → move toward sizes that meet it;
//! 4. the optimum not yet bracketed by measured sizes (or a side of the bracket wider than
//!    a quarter step) → step past the measured sizes, or halve the side (see [`super::bracket`]);
//! 5. the size anywhere in the allowed range whose expected improvement, net of the
//!    expected extra cost of the bounded steps to it, is largest, if it reaches the
//!    tolerance and it and every step on the way meet the constraints at the policy's
//!    confidence → explore it (one bounded step toward it);
//! 6. else a measured size better than the current one by the tolerance → move toward it;
//! 7. else keep: the optimum is known within tolerance.

use std::collections::BTreeMap;

use crate::cost::CostModel;
use crate::decision::{Constraint, MemoryDecision, MemoryReason, Verdict};
use crate::domain::{Architecture, MemoryMb, Minute};
use crate::observe::Counters;
use crate::policy::Policy;

use super::Settings;
use super::active::gain_reason;
use super::bracket;
use super::evidence::Evidence;
use super::landscape::{Bounds, Landscape, Prediction};
use super::objective::Objective;
use super::rollout::{Ban, PendingChange, bounded, next_hop, rollout_for, step_range, worth_a_change};
use super::verdict::{Expected, judge};

/// The change under evaluation and the windows either side of it.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub change: &'a PendingChange,
    /// The window at `change.from` before the change.
    pub before: &'a Counters,
    /// The window at `change.to` since the change.
    pub after: &'a Counters,
}

/// Everything one passive run decides from.
#[derive(Debug, Clone, Copy)]
pub struct PassiveInput<'a> {
    pub arch: Architecture,
    pub current: MemoryMb,
    /// Everything observed per size over the look-back (this window and earlier ones).
    pub history: &'a BTreeMap<MemoryMb, Counters>,
    pub pending: Option<Judged<'a>>,
    /// Bans recorded by earlier rollbacks (expired ones are ignored).
    pub bans: &'a [Ban],
    /// Callers invoke the function through an alias (changes go out as a canary).
    pub via_alias: bool,
    pub now: Minute,
}

/// The decision, plus what the shell must record: the verdict on the last change and a new
/// ban when it rolled back.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decision: MemoryDecision,
    pub verdict: Option<Verdict>,
    pub new_ban: Option<Ban>,
}

pub fn decide(input: &PassiveInput, policy: &Policy, cost: &CostModel, settings: &Settings) -> Outcome {
    let mut verdict = None;
    if let Some(j) = input.pending {
        let expected = Expected {
            p99_ms: j.change.expected.map(|e| e.p99_upper_ms.unwrap_or(e.p99_ms)),
            slo_ms: policy.constraints.p99_slo_ms,
        };
        let v = judge(j.before, j.after, expected, &policy.guardrails);
        match &v {
            Verdict::Regressed { metric, before, .. } => {
                let mut ban = Ban::after_regression(
                    j.change.from,
                    j.change.to,
                    *metric,
                    input.now,
                    policy.guardrails.cooling_hours,
                );
                if *metric == crate::decision::Metric::P99DurationMs && before.is_finite() {
                    ban.p99_limit_ms = Some(before * (1.0 + policy.guardrails.p99_margin));
                }
                let decision = MemoryDecision::Rollback { from: j.change.to, to: j.change.from, verdict: v.clone() };
                return Outcome { decision, verdict: Some(v), new_ban: Some(ban) };
            }
            Verdict::Inconclusive { invocations, needed } => {
                let reason = MemoryReason::InsufficientData { invocations: *invocations, needed: *needed };
                let decision = MemoryDecision::Keep { memory: input.current, reason };
                return Outcome { decision, verdict: Some(v), new_ban: None };
            }
            Verdict::Healthy => {}
        }
        verdict = Some(v);
        if let crate::decision::Rollout::AliasCanary { .. } = j.change.rollout
            && input.current != j.change.to
        {
            let decision = MemoryDecision::Resize {
                from: input.current,
                to: j.change.to,
                reason: MemoryReason::CanaryHealthy,
                expected: j.change.expected.unwrap_or(crate::decision::Expectation {
                    p50_ms: f64::NAN,
                    p99_ms: f64::NAN,
                    cost_per_million_usd: f64::NAN,
                    confidence: 0.0,
                    p99_upper_ms: None,
                }),
                rollout: crate::decision::Rollout::Direct,
            };
            return Outcome { decision, verdict, new_ban: None };
        }
    }
    // A p99 regression's limit is an SLO until its ban expires.
    let limit = input.bans.iter().filter(|b| b.is_active(input.now)).filter_map(|b| b.p99_limit_ms).reduce(f64::min);
    let decision = match limit {
        Some(limit) => {
            let mut held = policy.clone();
            held.constraints.p99_slo_ms = Some(held.constraints.p99_slo_ms.map_or(limit, |s| s.min(limit)));
            tune(input, &held, cost, settings)
        }
        None => tune(input, policy, cost, settings),
    };
    Outcome { decision, verdict, new_ban: None }
}

fn tune(input: &PassiveInput, policy: &Policy, cost: &CostModel, settings: &Settings) -> MemoryDecision {
    let g = &policy.guardrails;
    let evidence = Evidence::from_history(input.history, g.confidence);
    let current = input.current;
    let seen = evidence.get(current).map_or(0, |s| s.invocations);
    if seen < g.min_invocations {
        // Out of memory or timeouts need no statistics: a size that failed is infeasible.
        if evidence.oom_at.is_none_or(|m| m < current) && evidence.timeout_at.is_none_or(|m| m < current) {
            let reason = MemoryReason::InsufficientData { invocations: seen, needed: g.min_invocations };
            return MemoryDecision::Keep { memory: current, reason };
        }
    }
    let bans: Vec<Ban> = input.bans.iter().copied().filter(|b| b.is_active(input.now)).collect();
    let bounds = Bounds::new(&policy.constraints, &evidence, bans, current);
    let objective = Objective::new(policy.goal, cost, input.arch, evidence.cold_share);
    let l = Landscape::new(&evidence, policy, settings, objective, bounds);
    let rollout = rollout_for(input.via_alias);
    let (step_lo, step_hi) = step_range(current, &policy.constraints);
    let candidates: Vec<MemoryMb> = l
        .candidates(step_lo, step_hi)
        .into_iter()
        .filter(|&m| worth_a_change(current, m, &policy.constraints))
        .collect();
    let here = l.predict(current);
    let resize = |to: &Prediction, reason: MemoryReason| {
        let confidence = l.confidence_in(to, &candidates);
        MemoryDecision::Resize {
            from: current,
            to: to.memory,
            reason,
            expected: l.expectation(to, confidence),
            rollout,
        }
    };

    // 3. A hard constraint broken here.
    if let Some(constraint) = broken_here(&l, &here) {
        let conf = g.confidence;
        // The cheapest size within one step that meets it, else the furthest step toward it.
        let fixes =
            candidates.iter().map(|&m| l.predict(m)).filter(|p| p.p_feasible >= conf && l.bounds.allows(p.memory));
        let to = fixes.min_by(|a, b| a.expected.total_cmp(&b.expected)).unwrap_or_else(|| {
            let toward =
                if l.bounds.lo > current || l.policy.constraints.p99_slo_ms.is_some() { step_hi } else { step_lo };
            l.predict(bounded(current, toward.max(l.bounds.lo).min(l.bounds.hi), &policy.constraints))
        });
        if to.memory == current {
            return MemoryDecision::Keep { memory: current, reason: MemoryReason::ConstraintViolated { constraint } };
        }
        return resize(&to, MemoryReason::ConstraintViolated { constraint });
    }

    // 4. The optimum is not bracketed by measured sizes yet: step past them, or halve a side
    //    of the bracket wider than a quarter step (see [`bracket`]).
    if let Some(b) = bracket::step(&l, current) {
        let confidence = l.confidence_in(&b.target, &candidates);
        return MemoryDecision::Explore {
            from: current,
            to: b.first.memory,
            reason: MemoryReason::Exploring { uncertainty_pct: 100.0 * b.gain },
            expected: l.expectation(&b.first, confidence),
            rollout,
        };
    }

    // 5. Explore where the expected improvement over the best known is largest, anywhere in
    //    the allowed range, net of what the windows on the way there are expected to cost
    //    over the best known, spread over the windows the gain would pay back in. A size
    //    beyond one step is approached one bounded step at a time: the step bound limits how
    //    far one run moves, not where the optimum may be (a CPU-bound curve whose cost is
    //    flat for a decade and dips near one vCPU is not found by looking one step around a
    //    local minimum). Exploring comes before returning to the best measured size: the
    //    exploration's value is already net of what it forgoes against the best.
    let tol = settings.tolerance;
    let best = l.best_measured(g.min_invocations);
    let reference = here.score().min(best.map_or(f64::INFINITY, |b| b.score()));
    if let Some((gain, first, target)) = exploration(&l, current, reference, settings)
        && gain >= tol * reference
    {
        let confidence = l.confidence_in(&target, &candidates);
        let to = if first.memory == target.memory { target } else { first };
        return MemoryDecision::Explore {
            from: current,
            to: to.memory,
            reason: MemoryReason::Exploring { uncertainty_pct: 100.0 * gain / reference },
            expected: l.expectation(&to, confidence),
            rollout,
        };
    }

    // 6. A measured size is better by the tolerance: move toward it.
    if let Some(best) = best
        && best.memory != current
        && best.score() < here.score() * (1.0 - tol)
    {
        let target = next_hop(current, best.memory, &policy.constraints);
        let to = if target == best.memory { best } else { l.predict(target) };
        if l.bounds.allows(to.memory) && worth_a_change(current, to.memory, &policy.constraints) {
            return resize(&to, gain_reason(&l, &to, &here));
        }
    }

    // 7. Nothing is worth a change.
    MemoryDecision::Keep { memory: current, reason: MemoryReason::AtOptimum }
}

/// The best exploration from `current`: over every size the bounds allow whose
/// constraints hold at the policy's confidence, the expected improvement over `reference`
/// less the expected extra cost of every window on the bounded path to it (each step as far
/// as the policy allows, each size on the way safe too) divided by the payback windows.
/// Returns the net gain, the first step and the target.
fn exploration(
    l: &Landscape,
    current: MemoryMb,
    reference: f64,
    settings: &Settings,
) -> Option<(f64, Prediction, Prediction)> {
    let c = &l.policy.constraints;
    let conf = l.policy.guardrails.confidence;
    let payback = f64::from(settings.payback_windows.max(1));
    let mut best: Option<(f64, Prediction, Prediction)> = None;
    for m in l.candidates(l.bounds.lo, l.bounds.hi) {
        if !worth_a_change(current, m, c) {
            continue;
        }
        let target = l.predict(m);
        if target.p_feasible < conf {
            continue;
        }
        let gain = l.improvement(&target, reference);
        if gain <= 0.0 || best.as_ref().is_some_and(|b| gain <= b.0) {
            continue;
        }
        // The path: bounded steps until the target is reached.
        let (mut at, mut cost, mut first, mut safe) = (current, 0.0, None, true);
        while at != m {
            let next = next_hop(at, m, c);
            if !worth_a_change(at, next, c) || !l.bounds.allows(next) {
                safe = false;
                break;
            }
            let p = if next == m { target } else { l.predict(next) };
            if p.p_feasible < conf {
                safe = false;
                break;
            }
            cost += (p.expected - reference).max(0.0);
            first.get_or_insert(p);
            at = next;
        }
        let Some(first) = first.filter(|f| safe && worth_a_change(current, f.memory, c)) else { continue };
        let net = gain - cost / payback;
        if best.as_ref().is_none_or(|b| net > b.0 || (net == b.0 && m < b.2.memory)) {
            best = Some((net, first, target));
        }
    }
    best
}

/// The hard constraint the current size breaks, if any.
fn broken_here(l: &Landscape, here: &Prediction) -> Option<Constraint> {
    let m = here.memory;
    let c = &l.policy.constraints;
    if !l.bounds.allows(m) {
        if m < l.bounds.lo {
            return Some(l.bounds.raised_by.unwrap_or(Constraint::MemoryHeadroom {
                needed_mb: f64::from(l.bounds.lo.get()),
                configured_mb: m.get(),
            }));
        }
        if m > l.bounds.hi {
            return Some(Constraint::MemoryHeadroom {
                needed_mb: f64::from(l.bounds.hi.get()),
                configured_mb: m.get(),
            });
        }
    }
    let s = l.evidence.get(m)?;
    if let Some(slo) = c.p99_slo_ms
        && let Some(p99) = s.p99_ms
        && p99 > slo
        && here.p_feasible < 0.5
    {
        return Some(Constraint::P99Slo { slo_ms: slo, observed_ms: p99 });
    }
    if let Some(ceiling) = c.cost_ceiling_per_million_usd
        && here.cost_usd * 1e6 > ceiling
        && here.p_feasible < 0.5
    {
        return Some(Constraint::CostCeiling { ceiling_usd: ceiling, observed_usd: here.cost_usd * 1e6 });
    }
    None
}
