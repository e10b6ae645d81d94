//! Active scenarios: a budget of synthetic invocations, ours against the Power Tuning
//! replica on the same curve with the same noise (common random numbers: the j-th
//! invocation at a size draws the same noise for both tuners).

use std::collections::BTreeMap;

use autopilot_core::MemoryMb;
use autopilot_core::cost::{CostModel, billed_ms};
use autopilot_core::observe::Counters;
use autopilot_core::policy::Policy;
use autopilot_core::tuner::Settings;
use autopilot_core::tuner::active::{next_probe, recommend};
use autopilot_core::tuner::evidence::Evidence;
use autopilot_core::tuner::landscape::{Bounds, Landscape};
use autopilot_core::tuner::objective::Objective;

use super::power_tuning::{DEFAULT_DISCARD_TOP_BOTTOM, PowerStats, Strategy, pick, power_values_within};
use autopilot_sim::rng::Rng;

use super::truth::Truth;

/// Common random numbers: the `j`-th warm invocation at size `m` in repetition `rep` draws
/// the same standard normal for every tuner, so that differences between tuners are their
/// choices, not their luck.
#[derive(Debug, Clone)]
pub struct Noise {
    seed: u64,
    curve: String,
    rep: u64,
    drawn: BTreeMap<MemoryMb, (Rng, Vec<f64>)>,
}

impl Noise {
    pub fn new(seed: u64, curve: &str, rep: u64) -> Self {
        Self { seed, curve: curve.to_owned(), rep, drawn: BTreeMap::new() }
    }

    pub fn warm_ms(&mut self, truth: &Truth, m: MemoryMb, j: u64) -> f64 {
        let (seed, curve, rep) = (self.seed, &self.curve, self.rep);
        let (rng, z) = self
            .drawn
            .entry(m)
            .or_insert_with(|| (Rng::stream(seed, curve, &format!("warm/{rep}/{}", m.get())), Vec::new()));
        while z.len() <= j as usize {
            z.push(rng.normal());
        }
        truth.warm(m).at(z[j as usize])
    }
}

/// What one tuner chose and what it spent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub memory: MemoryMb,
    pub invocations: u64,
}

/// The replica at `num` invocations per power value.
pub fn power_tuning(truth: &Truth, num: u64, noise: &mut Noise) -> Choice {
    let values = power_values_within(truth.lo.get(), truth.hi.get());
    let stats: Vec<PowerStats> = values
        .iter()
        .map(|&v| {
            let m = MemoryMb::new(u64::from(v)).expect("within the curve's range");
            let billed: Vec<f64> = (0..num).map(|j| billed_ms(noise.warm_ms(truth, m, j)) as f64).collect();
            PowerStats::from_billed(truth.arch, v, &billed, DEFAULT_DISCARD_TOP_BOTTOM)
        })
        .collect();
    let best = pick(&stats, Strategy::Cost).expect("at least one power value");
    Choice {
        memory: MemoryMb::new(u64::from(best.power)).expect("a power value"),
        invocations: values.len() as u64 * num,
    }
}

/// Power Tuning's invocation count for `num` on this curve: the budget we get too.
pub fn budget(truth: &Truth, num: u64) -> u64 {
    power_values_within(truth.lo.get(), truth.hi.get()).len() as u64 * num
}

/// Our active tuner with `budget` invocations.
pub fn ours(truth: &Truth, policy: &Policy, budget: u64, noise: &mut Noise, settings: &Settings) -> Choice {
    run_ours(truth, policy, budget, noise, settings, false)
}

/// The same, printing each probe to stderr (for investigating one curve).
pub fn ours_traced(truth: &Truth, policy: &Policy, budget: u64, noise: &mut Noise, settings: &Settings) -> Choice {
    run_ours(truth, policy, budget, noise, settings, true)
}

#[allow(clippy::print_stderr)]
fn run_ours(
    truth: &Truth,
    policy: &Policy,
    budget: u64,
    noise: &mut Noise,
    settings: &Settings,
    trace: bool,
) -> Choice {
    let cost = CostModel::default();
    let mut history: BTreeMap<MemoryMb, Counters> = BTreeMap::new();
    let mut counts: BTreeMap<MemoryMb, u64> = BTreeMap::new();
    loop {
        let evidence = Evidence::from_history(&history, policy.guardrails.confidence);
        let bounds = Bounds::new(&policy.constraints, &evidence, Vec::new(), truth.lo);
        let objective = Objective::new(policy.goal, &cost, truth.arch, evidence.cold_share);
        let l = Landscape::new(&evidence, policy, settings, objective, bounds);
        match next_probe(&l, budget) {
            Some(probe) => {
                if trace {
                    let p = l.predict(probe.memory);
                    eprintln!(
                        "  probe {} {:?} predicted {:.1} ms ±{:.1}%",
                        probe.memory,
                        probe.reason,
                        p.mu.exp(),
                        100.0 * p.var.sqrt()
                    );
                }
                for _ in 0..probe.invocations {
                    let j = counts.entry(probe.memory).or_default();
                    let d = noise.warm_ms(truth, probe.memory, *j);
                    *j += 1;
                    let c = history.entry(probe.memory).or_default();
                    c.invocations += 1;
                    c.billed_ms += billed_ms(d);
                    c.duration.record(d);
                }
            }
            None => {
                let used = evidence.total_invocations();
                let memory = recommend(&l, truth.lo).map_or(truth.hi, |r| r.memory);
                if trace {
                    for s in &evidence.sizes {
                        let p = l.predict(s.memory);
                        eprintln!(
                            "  measured {} n={} mean {:.1} → cost/M {:.4} score {:.4} p99 {:.0} up {:.0} pf {:.3} (sd {:.3} df {:.1})",
                            s.memory,
                            s.invocations,
                            s.mean_billed_ms,
                            p.expected * 1e6,
                            p.score() * 1e6,
                            p.p99_ms,
                            p.p99_upper_ms,
                            p.p_feasible,
                            l.log_sd,
                            l.log_sd_df
                        );
                    }
                }
                return Choice { memory, invocations: used };
            }
        }
    }
}
