//! The passive scenario: the function serves production traffic at its current size; each
//! daily run of the autopilot sees that day's window (warm and cold invocations, INIT billed)
//! and may move memory one bounded step, judged by the guardrail the next day. No synthetic
//! invocation. Power Tuning has no counterpart.

use std::collections::BTreeMap;

use autopilot_core::cost::{CostModel, billed_ms};
use autopilot_core::decision::MemoryDecision;
use autopilot_core::observe::Counters;
use autopilot_core::policy::Policy;
use autopilot_core::tuner::{Ban, Judged, PassiveInput, PendingChange, Settings, decide};
use autopilot_core::{MemoryMb, Minute};

use autopilot_sim::rng::Rng;

use super::truth::Truth;

/// How production looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Invocations per daily window.
    pub window: u64,
    /// Share of invocations that are cold starts.
    pub cold_share: f64,
}

/// One day of production at size `m`.
pub fn window(truth: &Truth, m: MemoryMb, traffic: Traffic, rng: &mut Rng) -> Counters {
    let mut c = Counters { invocations: traffic.window, ..Counters::default() };
    let (warm, cold, init) = (truth.warm(m), truth.cold(m), truth.init(m));
    for _ in 0..traffic.window {
        let is_cold = rng.bernoulli(traffic.cold_share);
        let d = if is_cold { cold.sample(rng) } else { warm.sample(rng) };
        c.duration.record(d);
        c.billed_ms += billed_ms(d);
        if is_cold {
            c.cold_starts += 1;
            if let Some(init) = init {
                let i = init.sample(rng);
                c.init.record(i);
                c.billed_init_ms += billed_ms(i);
            }
        }
    }
    c
}

/// What happened over the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PassiveRun {
    /// Size during each window (the first is the seeded start).
    pub sizes: Vec<MemoryMb>,
    pub optimum: MemoryMb,
    /// Runs until the size is first within [`ARRIVED`] of the optimal cost (`None`: never
    /// within the horizon).
    pub runs_needed: Option<usize>,
    /// Runs until it is within [`ARRIVED`] and stays there to the end of the horizon.
    pub runs_to_settle: Option<usize>,
    /// Regret of the size at the end of the horizon (%).
    pub final_regret_pct: f64,
    /// Extra cost over the horizon against running at the optimum all along (%).
    pub extra_cost_pct: f64,
    /// Saving at the end against the start (%).
    pub saving_pct: f64,
    /// Windows run at a size that breaks the SLO (true p99 above it).
    pub violations: usize,
    /// Of those, windows at a size the tuner moved to from a size that met the SLO (the
    /// others are the climb out of a start that broke it).
    pub caused_violations: usize,
    pub rollbacks: usize,
    /// The decision of each run (for diagnostics).
    pub decisions: Vec<MemoryDecision>,
}

/// Within this share of the optimal cost counts as arrived.
pub const ARRIVED: f64 = 0.02;

/// Runs `runs` daily windows from `start`.
pub fn run(
    truth: &Truth,
    policy: &Policy,
    traffic: Traffic,
    start: MemoryMb,
    runs: usize,
    settings: &Settings,
    rng: &mut Rng,
) -> PassiveRun {
    let cost = CostModel::default();
    let slo = policy.constraints.p99_slo_ms;
    let true_p99 = |m: MemoryMb| production_p99(truth, m, traffic.cold_share);
    let feasible = |m: MemoryMb| slo.is_none_or(|s| true_p99(m) <= s);
    let price = |m: MemoryMb| truth.production_cost(&cost, m, traffic.cold_share);
    let (optimum, best) = truth.optimum(|m| if feasible(m) { price(m) } else { f64::INFINITY });

    let mut history: BTreeMap<MemoryMb, Counters> = BTreeMap::new();
    let mut bans: Vec<Ban> = Vec::new();
    let mut pending: Option<(PendingChange, Counters)> = None;
    let mut current = start;
    let mut sizes = Vec::with_capacity(runs + 1);
    let mut rollbacks = 0;
    let mut decisions = Vec::with_capacity(runs);
    for day in 0..runs {
        sizes.push(current);
        let now = Minute(i64::try_from(day + 1).unwrap_or(i64::MAX) * Minute::PER_DAY);
        let today = window(truth, current, traffic, rng);
        history.entry(current).or_default().merge(&today);
        let judged = pending.as_ref().map(|(change, before)| Judged { change, before, after: &today });
        let input = PassiveInput {
            arch: truth.arch,
            current,
            history: &history,
            pending: judged,
            bans: &bans,
            via_alias: false,
            now,
        };
        let outcome = decide(&input, policy, &cost, settings);
        bans.extend(outcome.new_ban);
        pending = match &outcome.decision {
            MemoryDecision::Explore { from, to, expected, rollout, .. }
            | MemoryDecision::Resize { from, to, expected, rollout, .. } => Some((
                PendingChange { at: now, from: *from, to: *to, rollout: *rollout, expected: Some(*expected) },
                today,
            )),
            MemoryDecision::Rollback { .. } => {
                rollbacks += 1;
                None
            }
            // Still judging: keep the same comparison for the next window.
            MemoryDecision::Keep { .. }
                if outcome
                    .verdict
                    .as_ref()
                    .is_some_and(|v| matches!(v, autopilot_core::decision::Verdict::Inconclusive { .. })) =>
            {
                pending
            }
            MemoryDecision::Keep { .. } => None,
        };
        current = outcome.decision.target();
        decisions.push(outcome.decision);
    }
    sizes.push(current);
    let within = |m: MemoryMb| feasible(m) && price(m) <= best * (1.0 + ARRIVED);
    let runs_needed = (0..sizes.len()).find(|&i| within(sizes[i]));
    let runs_to_settle = (0..sizes.len()).find(|&i| sizes[i..].iter().all(|&m| within(m)));
    let paid: f64 = sizes[..runs].iter().map(|&m| price(m)).sum();
    PassiveRun {
        optimum,
        runs_needed,
        runs_to_settle,
        final_regret_pct: 100.0 * (price(current) / best - 1.0),
        extra_cost_pct: 100.0 * (paid / (best * runs as f64) - 1.0),
        saving_pct: 100.0 * (1.0 - price(current) / price(start)),
        violations: sizes[..runs].iter().filter(|&&m| !feasible(m)).count(),
        caused_violations: sizes[..runs].windows(2).filter(|w| feasible(w[0]) && !feasible(w[1])).count(),
        rollbacks,
        sizes,
        decisions,
    }
}

/// True p99 of production durations at a size: the 99th percentile of the warm/cold mix.
pub fn production_p99(truth: &Truth, m: MemoryMb, cold_share: f64) -> f64 {
    let (warm, cold) = (truth.warm(m), truth.cold(m));
    let cdf = |x: f64| (1.0 - cold_share) * warm.cdf(x) + cold_share * cold.cdf(x);
    let (mut lo, mut hi) = (0.0, warm.p99_ms().max(cold.p99_ms()) * 4.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < 0.99 { lo = mid } else { hi = mid }
    }
    hi
}
