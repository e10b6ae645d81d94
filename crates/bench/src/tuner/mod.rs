//! `autopilot bench tuner`: our memory tuner against a faithful Power Tuning replica on
//! real duration curves (the cebert tables), in three scenarios — active with a cost goal,
//! active under a p99 SLO, and passive from production traffic — plus the same on held-out
//! synthetic curves.
//!
//! Definitions (every figure is computed in-process, same curves and seeds for everyone):
//! - **curve**: runtime × architecture × workload of the tables with at least three warm
//!   sizes; its truth is described in [`truth`];
//! - **regret**: true cost at the chosen size ÷ true optimal cost − 1, cost per invocation
//!   with requests (warm invocations in the active scenarios; warm, cold and INIT in the
//!   passive one). Percentiles pool every curve × repetition;
//! - **budget**: Power Tuning's invocations at `num` (its default power values brought into
//!   the curve's range, × num); ours gets exactly as many and may stop early;
//! - **SLO rule**: p99 SLO = [`SLO_FACTOR`] × the lowest p99 the curve reaches at any
//!   measured size (warm invocations for the active scenario; the warm/cold mix of
//!   production for the passive one). A violation is a chosen size (active) or a window run
//!   at a size (passive) whose true p99 is above the SLO;
//! - **passive runs needed** (R): daily runs until the size is first within 2% of the
//!   optimal cost, as the issue defines it (never within the horizon counts as horizon + 1);
//!   R is its 90th percentile pooled over curves × repetitions. The runs until it is within
//!   2% and stays there to the end of the horizon are reported beside it ("settled").

pub mod active;
pub mod diagnose;
pub mod passive;
pub mod power_tuning;
pub mod report;
pub mod sim_slot;
pub mod synthetic;
pub mod truth;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use autopilot_core::MemoryMb;
use autopilot_core::cost::CostModel;
use autopilot_core::policy::Policy;
use autopilot_core::tuner::Settings;

use autopilot_datasets::cebert::{self, CebertError};
use autopilot_sim::model::Interpolation;
use autopilot_sim::rng::Rng;
use truth::Truth;

/// The `num` values the active scenarios run at.
pub const NUMS: [u64; 3] = [1, 2, 10];
/// The `num` whose figures make the summary line.
pub const SUMMARY_NUM: u64 = 2;
/// SLO = this × the lowest p99 the curve reaches.
pub const SLO_FACTOR: f64 = 1.5;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub seed: u64,
    /// Repetitions (noise draws) per curve and active scenario.
    pub repetitions: u64,
    /// Repetitions (start size, cold share, traffic draws) per curve in the passive scenario.
    pub passive_repetitions: u64,
    /// Daily runs in the passive scenario.
    pub passive_runs: usize,
    /// Production invocations per daily window.
    pub window: u64,
    /// Cold-start share of production, drawn log-uniformly per curve and repetition.
    pub cold_share: (f64, f64),
    /// Held-out synthetic curves.
    pub synthetic_curves: usize,
    /// How the ground truth joins measured sizes (see [`truth`]).
    pub truth: Interpolation,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seed: 20_251_122,
            repetitions: 20,
            passive_repetitions: 10,
            passive_runs: 30,
            window: 2_000,
            cold_share: (0.001, 0.05),
            synthetic_curves: 40,
            truth: Interpolation::MonotoneCubic,
        }
    }
}

/// Cost of warm invocations at every size, and the optimum.
pub fn warm_optimum(truth: &Truth, slo: Option<f64>) -> (MemoryMb, f64) {
    let cost = CostModel::default();
    truth
        .optimum(|m| if slo.is_none_or(|s| truth.warm_p99(m) <= s) { truth.warm_cost(&cost, m) } else { f64::INFINITY })
}

/// Regret of a choice under an optional warm p99 SLO.
pub fn regret(truth: &Truth, m: MemoryMb, slo: Option<f64>) -> f64 {
    let (_, best) = warm_optimum(truth, slo);
    truth.warm_cost(&CostModel::default(), m) / best - 1.0
}

/// A curve's policy for the benchmark: its feasible range as min/max memory.
pub fn policy_for(truth: &Truth, slo: Option<f64>) -> Policy {
    let mut p = Policy::default();
    p.constraints.min_memory_mb = truth.lo;
    p.constraints.max_memory_mb = truth.hi;
    p.constraints.p99_slo_ms = slo;
    p
}

/// The active scenario's SLO: [`SLO_FACTOR`] × the lowest warm p99 at a measured size.
pub fn active_slo(truth: &Truth) -> f64 {
    SLO_FACTOR * measured(truth).map(|m| truth.warm_p99(m)).fold(f64::INFINITY, f64::min)
}

/// The passive scenario's SLO: the same rule on the p99 of production (warm and cold mixed).
pub fn passive_slo(truth: &Truth, cold_share: f64) -> f64 {
    SLO_FACTOR * measured(truth).map(|m| passive::production_p99(truth, m, cold_share)).fold(f64::INFINITY, f64::min)
}

fn measured(truth: &Truth) -> impl Iterator<Item = MemoryMb> + '_ {
    truth.measured.iter().filter_map(|&m| MemoryMb::new(u64::from(m)).ok())
}

/// Log-uniform in [lo, hi].
pub fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.uniform()).exp()
}

/// Percentile (0..=100) of values, nearest rank.
pub fn percentile(values: &[f64], pct: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((pct / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

/// One curve in one active scenario at one `num`: regrets per repetition.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveCell {
    pub num: u64,
    pub budget: u64,
    pub ours: Vec<f64>,
    pub pt: Vec<f64>,
    pub ours_invocations: f64,
    pub ours_violations: usize,
    pub pt_violations: usize,
}

/// Runs an active scenario (cost goal, with an SLO when `slo` is set) on one curve.
pub fn active_curve(t: &Truth, slo: Option<f64>, opts: &Options, settings: &Settings) -> Vec<ActiveCell> {
    let policy = policy_for(t, slo);
    let violates = |m: MemoryMb| slo.is_some_and(|s| t.warm_p99(m) > s);
    NUMS.iter()
        .map(|&num| {
            let budget = active::budget(t, num);
            let mut cell = ActiveCell {
                num,
                budget,
                ours: Vec::new(),
                pt: Vec::new(),
                ours_invocations: 0.0,
                ours_violations: 0,
                pt_violations: 0,
            };
            for rep in 0..opts.repetitions {
                let mut noise = active::Noise::new(opts.seed, &t.name, rep * 100 + num);
                let pt = active::power_tuning(t, num, &mut noise);
                let ours = active::ours(t, &policy, budget, &mut noise, settings);
                cell.pt.push(regret(t, pt.memory, slo));
                cell.ours.push(regret(t, ours.memory, slo));
                cell.ours_invocations += ours.invocations as f64 / opts.repetitions as f64;
                cell.pt_violations += usize::from(violates(pt.memory));
                cell.ours_violations += usize::from(violates(ours.memory));
            }
            cell
        })
        .collect()
}

/// One curve in the passive scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct PassiveCell {
    pub runs: Vec<passive::PassiveRun>,
    pub cold_shares: Vec<f64>,
    pub slos: Vec<Option<f64>>,
}

impl PassiveCell {
    /// Runs needed per repetition (unsettled = horizon + 1).
    pub fn runs_needed(&self, horizon: usize) -> Vec<f64> {
        self.runs.iter().map(|r| r.runs_needed.unwrap_or(horizon + 1) as f64).collect()
    }
}

/// Runs the passive scenario on one curve (with the passive SLO when `with_slo`).
pub fn passive_curve(t: &Truth, with_slo: bool, opts: &Options, settings: &Settings) -> PassiveCell {
    let mut cell = PassiveCell { runs: Vec::new(), cold_shares: Vec::new(), slos: Vec::new() };
    for rep in 0..opts.passive_repetitions {
        let mut rng = Rng::stream(opts.seed, &t.name, &format!("passive/{rep}"));
        let cold_share = log_uniform(&mut rng, opts.cold_share.0, opts.cold_share.1);
        let start = MemoryMb::clamped(log_uniform(&mut rng, f64::from(t.lo.get()), f64::from(t.hi.get())));
        let slo = with_slo.then(|| passive_slo(t, cold_share));
        let policy = policy_for(t, slo);
        let traffic = passive::Traffic { window: opts.window, cold_share };
        cell.runs.push(passive::run(t, &policy, traffic, start, opts.passive_runs, settings, &mut rng));
        cell.cold_shares.push(cold_share);
        cell.slos.push(slo);
    }
    cell
}

/// Everything measured on one curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveResult {
    pub name: String,
    pub lo: MemoryMb,
    pub hi: MemoryMb,
    pub optimum: MemoryMb,
    pub cost: Vec<ActiveCell>,
    pub slo_ms: f64,
    /// The unconstrained cost optimum breaks the SLO.
    pub slo_binds: bool,
    pub slo: Vec<ActiveCell>,
    pub passive: PassiveCell,
    pub passive_slo: PassiveCell,
}

pub fn run_curve(t: &Truth, opts: &Options, settings: &Settings) -> CurveResult {
    let slo = active_slo(t);
    let (optimum, _) = warm_optimum(t, None);
    CurveResult {
        name: t.name.clone(),
        lo: t.lo,
        hi: t.hi,
        optimum,
        cost: active_curve(t, None, opts, settings),
        slo_ms: slo,
        slo_binds: t.warm_p99(optimum) > slo,
        slo: active_curve(t, Some(slo), opts, settings),
        passive: passive_curve(t, false, opts, settings),
        passive_slo: passive_curve(t, true, opts, settings),
    }
}

/// The whole benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct TunerBench {
    pub options: Options,
    pub curves: Vec<CurveResult>,
    pub synthetic: Vec<CurveResult>,
}

/// The curves of a folder in the layout of the cebert tables (`<workload>-warm.md`,
/// `<workload>-cold.md`), those with enough warm sizes to be a curve.
pub fn load_curves(dir: &Path, interpolation: Interpolation) -> Result<Vec<Truth>, CebertError> {
    Ok(cebert::load_dir(dir)?.iter().filter_map(|c| Truth::from_cebert(c, interpolation)).collect())
}

/// Runs every scenario on the real curves and on the held-out synthetic ones, on `threads`
/// threads (curves are independent; results do not depend on the thread count).
/// `progress(done, total, curve)` is called after each curve.
pub fn run(
    real: &[Truth],
    opts: &Options,
    threads: usize,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> TunerBench {
    let settings = Settings::default();
    let synthetic = synthetic::curves(opts.seed, opts.synthetic_curves, opts.truth);
    let all: Vec<&Truth> = real.iter().chain(&synthetic).collect();
    let done = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<CurveResult>> = vec![None; all.len()];
    let slots: Vec<Mutex<&mut Option<CurveResult>>> = results.iter_mut().map(Mutex::new).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = all.get(i) else { break };
                    let r = run_curve(t, opts, &settings);
                    if let Ok(mut slot) = slots[i].lock() {
                        **slot = Some(r);
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, all.len(), &t.name);
                }
            });
        }
    });
    drop(slots);
    let mut results: Vec<CurveResult> = results.into_iter().flatten().collect();
    let synthetic = results.split_off(real.len().min(results.len()));
    TunerBench { options: opts.clone(), curves: results, synthetic }
}
