//! Concurrency levels of one slot under the forecast: how busy each level is, how many
//! on-demand cold starts it sees, and what exposing it costs.
//!
//! Level `j` is the j-th environment in most-recently-used order; arrivals go to the lowest
//! free level (Lambda reuses the most recently used idle environment, and fills provisioned
//! environments first). With Poisson arrivals at rate λ and mean duration d (M/G/∞), the
//! concurrency N is Poisson(λd) whatever the duration distribution, so:
//! - level j is busy a share `P(N ≥ j)` of the time (what PC at level j is paid for);
//! - level j is entered at rate `u = λ·P(N = j−1)`; its environment is reclaimed when it stays
//!   idle longer than the reclaim time R, which for a level entered at rate u happens before
//!   a share `e^(−uR)` of the entries: on demand, level j sees `T·u·e^(−uR)` cold starts per
//!   slot of length T;
//! - in steady state a level's environment is alive at the start of the slot with probability
//!   `a = 1 − e^(−uR)` (entered within the last R); when it is alive with probability a' instead,
//!   its first entry of the slot (probability `1 − e^(−uT)`) is cold `(a − a')·(1 − e^(−uT))`
//!   more often. What is alive at the start of a slot is what the traffic before it used
//!   ([`LevelsAtStart`]): for the first slot, the environments observed in the last R; for the
//!   next ones, what the slot before used under its own forecast. So a rise in traffic — a
//!   morning ramp, or the forecast's upper quantiles when they say a burst may come — pays
//!   one cold start per level it newly reaches, which a steady-state model of the new rate
//!   alone never shows (at a busy rate every level is entered often, so it is never cold);
//! - a level whose environment is absent at the start of the slot (PC just lowered under it,
//!   and PC served its traffic before) pays its first entry cold: `exposed` is what that adds.
//!
//! The rate itself is uncertain: each quantile of the forecast is a scenario, weighted by
//! [`SCENARIO_WEIGHTS`], and every figure is the mixture's expectation. Consecutive slots'
//! scenarios are taken as independent (what was alive at a slot's start is the previous slot's
//! mixture): the forecast gives each slot's distribution, not how they move together, and
//! independence is the side that does not miss bursts.

use std::sync::LazyLock;

use super::evidence::IdleEvidence;
use crate::forecast::{Quantiles, SCENARIO_WEIGHTS};

/// Most levels a slot is modelled with (far above any function the planner is for; beyond
/// it the plan is capped and says so through `max_provisioned`).
pub const MAX_LEVELS: usize = 20_000;

/// Levels modelled beyond eight standard deviations of the busiest scenario's concurrency
/// (see [`SlotLevels::new`]).
const TAIL_LEVELS: f64 = 6.0;

/// Per-level figures of one slot; index `j - 1` is level j.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlotLevels {
    /// Share of the slot level j is busy.
    pub busy: Vec<f64>,
    /// Expected on-demand cold starts at level j in steady state.
    pub cold: Vec<f64>,
    /// Extra expected cold starts at level j when its environment is absent at slot start.
    pub exposed: Vec<f64>,
    /// Expected arrivals per second (mixture mean).
    pub mean_rate: f64,
    /// Expected entries of level 1 in the slot (calls finding the function idle).
    pub entries_first: Option<f64>,
    /// Probability that level j was entered within the last R of the slot: alive at the start
    /// of the next slot.
    pub alive_after: Vec<f64>,
    /// Probability that level j is alive when the slot starts (what the traffic before left):
    /// a warm-up round that starts keeping a level warm lands cold on it otherwise.
    pub alive_start: Vec<f64>,
    /// Level 1's cold starts as far as the history has shown them (see
    /// [`Self::calibrate_first_level`]); `None` = as `cold[0]`.
    pub first_cold_shown: Option<f64>,
    /// Mean concurrency (λ·d) of the lowest rate scenario: how busy PC is sure to be, which is
    /// what a budget may count on it saving ([`Self::count_sure_busy`]).
    pub low_load: f64,
    /// Share of the slot level j is sure to be busy (as busy as the lowest scenario keeps it),
    /// filled by [`Self::count_sure_busy`] for plans under a budget; empty otherwise.
    pub busy_sure: Vec<f64>,
}

/// Which environments are alive at the start of a slot, level by level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LevelsAtStart<'a> {
    /// As in steady state at the slot's own rate (nothing better known).
    Steady,
    /// The lowest `n` levels are alive (environments observed in the last R), none above.
    Alive(u32),
    /// What the previous slot left alive (its [`SlotLevels::alive_after`]).
    After(&'a [f64]),
}

impl LevelsAtStart<'_> {
    /// Writes the probability that each level is alive into `out` (level j at `j - 1`; 0 for
    /// all when steady: the scenarios' own apply).
    fn write(&self, out: &mut [f64]) {
        let known = match self {
            Self::Steady => 0,
            Self::Alive(n) => {
                let n = (*n as usize).min(out.len());
                out[..n].fill(1.0);
                n
            }
            Self::After(p) => {
                let n = p.len().min(out.len());
                out[..n].copy_from_slice(&p[..n]);
                n
            }
        };
        out[known..].fill(0.0);
    }
}

impl SlotLevels {
    /// `rate` is the forecast of invocations per minute (quantiles and mean); durations and
    /// times in seconds; `start` says which levels are alive when the slot begins.
    pub fn new(
        rate: &Quantiles,
        mean_per_minute: f64,
        duration_s: f64,
        times: (f64, f64),
        start: LevelsAtStart<'_>,
    ) -> Self {
        let mut out = Self::default();
        out.refill(rate, mean_per_minute, duration_s, times, start, &mut Vec::new());
        out
    }

    /// [`Self::new`] in `self`'s buffers, and `scratch` for the working ones: a plan's slots
    /// take over those of the plan before (see [`super::plan`]) rather than allocate six each.
    pub fn refill(
        &mut self,
        rate: &Quantiles,
        mean_per_minute: f64,
        duration_s: f64,
        (slot_s, reclaim_s): (f64, f64),
        start: LevelsAtStart<'_>,
        scratch: &mut Vec<f64>,
    ) {
        let lambdas = rate_scenarios(rate, mean_per_minute, slot_s);
        let rho_max = lambdas.iter().fold(0.0f64, |m, l| m.max(l * duration_s));
        // Enough levels that the busiest scenario exceeds them with a chance below 4e-13 at any
        // mean concurrency (the worst case, ρ ≈ 1.7; 8e-16 at large ρ): what lies beyond is
        // busy, and cold, too rarely to move any plan.
        let levels = if rho_max > 0.0 {
            ((rho_max + 8.0 * rho_max.sqrt() + TAIL_LEVELS).ceil() as usize).min(MAX_LEVELS)
        } else {
            0
        };
        for v in [&mut self.busy, &mut self.cold, &mut self.exposed, &mut self.alive_after, &mut self.alive_start] {
            zeroed(v, levels);
        }
        self.mean_rate = lambdas.iter().zip(SCENARIO_WEIGHTS).map(|(l, w)| l * w).sum();
        self.entries_first = None;
        self.first_cold_shown = None;
        self.low_load = lambdas[0] * duration_s;
        self.busy_sure.clear();
        let out = self;
        // Cold starts at each level with the environment alive at the start as in steady state
        // (the mixture's own), and with it absent: `exposed` sums the latter until it is made
        // the difference below.
        let mut entries_first = 0.0;
        // P(N = k) for k ≤ levels, and the chance that level k + 1 is alive at the start as
        // `start` has it (0 when steady: the scenario's own, below), in one buffer.
        zeroed(scratch, 2 * levels + 1);
        let (pmf, known) = scratch.split_at_mut(levels + 1);
        let steady_start = matches!(start, LevelsAtStart::Steady);
        start.write(&mut known[..levels]);
        let known = &known[..levels];
        let frame = Frame { duration_s, slot_s, reclaim_s, start_alive: (!steady_start).then_some(known) };
        for (lambda, weight) in distinct_scenarios(&lambdas) {
            if lambda <= 0.0 {
                for (a, k) in out.alive_start.iter_mut().zip(known) {
                    *a += weight * k;
                }
                continue;
            }
            entries_first += out.add_scenario(lambda, weight, pmf, &frame);
        }
        for (exposed, cold) in out.exposed.iter_mut().zip(&out.cold) {
            *exposed = (*exposed - cold).max(0.0);
        }
        out.entries_first = (levels > 0).then_some(entries_first);
    }

    /// Adds one rate scenario of weight `weight` to the per-level figures (`pmf`: a buffer of
    /// `levels + 1`); returns its expected entries of level 1 in the slot, weighted.
    fn add_scenario(&mut self, lambda: f64, weight: f64, pmf: &mut [f64], frame: &Frame<'_>) -> f64 {
        let Frame { duration_s, slot_s, reclaim_s, start_alive } = *frame;
        let levels = self.levels();
        poisson_pmf(lambda * duration_s, pmf);
        // Level j is busy while N ≥ j.
        let mut tail = 1.0 - pmf.iter().sum::<f64>().min(1.0); // P(N > levels)
        for (busy, p) in self.busy.iter_mut().zip(&pmf[1..]).rev() {
            tail += p;
            *busy += weight * tail.min(1.0);
        }
        // With the reclaim time one slot long (the policy's default), `e^(−uR)` is `e^(−uT)`.
        let same_times = reclaim_s == slot_s;
        let exps = |u: f64| {
            // Far in the Poisson tail both exponentials are 1 − x to the last bit: the
            // plan of a busy function has hundreds of such levels.
            if u * reclaim_s.max(slot_s) < 1e-12 {
                (1.0 - u * reclaim_s, u * slot_s)
            } else {
                let stay = (-u * reclaim_s).exp();
                (stay, 1.0 - if same_times { stay } else { (-u * slot_s).exp() })
            }
        };
        // Every per-level slice is `levels` long: indexing them needs no bound checks.
        let pmf_below = &pmf[..levels];
        let (cold, exposed) = (&mut self.cold[..levels], &mut self.exposed[..levels]);
        let (after, alive_start) = (&mut self.alive_after[..levels], &mut self.alive_start[..levels]);
        let mut add = |i: usize, u: f64, stay: f64, entered: f64, alive: f64| {
            let steady = slot_s * u * stay;
            cold[i] += weight * (steady + (1.0 - stay - alive) * entered).max(0.0);
            exposed[i] += weight * (steady + (1.0 - stay) * entered);
            after[i] += weight * (1.0 - stay);
            alive_start[i] += weight * alive;
        };
        // One loop per case of the start, so that neither asks which at every level. (Indexed:
        // the same loops over zipped iterators compile to ~2% more instructions per plan.)
        #[allow(clippy::needless_range_loop)]
        match start_alive {
            None => {
                for i in 0..levels {
                    let u = lambda * pmf_below[i];
                    let (stay, entered) = exps(u);
                    add(i, u, stay, entered, 1.0 - stay);
                }
            }
            Some(known) => {
                let known = &known[..levels];
                for i in 0..levels {
                    let u = lambda * pmf_below[i];
                    let (stay, entered) = exps(u);
                    add(i, u, stay, entered, known[i]);
                }
            }
        }
        weight * slot_s * lambda * pmf[0]
    }

    /// Replaces the model's cold starts at level 1 (the idle function's first call) by what
    /// the function's history shows: the cold starts per call of its own gap profile (which
    /// knows a timer from a Poisson stream), blended with the model's by how much history
    /// there is (the policy's assumed reclaim time is the prior of [`FirstLevelEvidence::new`]).
    ///
    /// Also keeps what the history has *shown* (reclaims observed, no prior fear of them):
    /// the INIT savings a budget may count on, so that a cap holds when the model's fear
    /// of cold starts is not borne out (a timer whose environments outlive its gaps).
    ///
    /// The evidence's rates are worked out once ([`FirstLevelEvidence::new`]): they do not
    /// depend on the slot, and a plan calibrates every slot with the same.
    pub fn calibrate_first_level(&mut self, e: &FirstLevelEvidence, slot_s: f64) {
        let Some(cold) = self.cold.first_mut() else { return };
        if let (Some(per_call), Some(shown)) = (e.per_call, e.shown) {
            let w = e.weight;
            let calls = self.mean_rate * slot_s;
            let model = *cold;
            *cold = w * per_call * calls + (1.0 - w) * model;
            self.first_cold_shown = Some((w * shown * calls + (1.0 - w) * model).min(*cold));
        }
    }

    /// Fills [`Self::busy_sure`]: under a budget, PC's duration saving counts only as far as
    /// the lowest rate scenario keeps it busy — a saving that needs the burst the upper
    /// quantiles fear is not money a cap may spend in advance (bought on it, PC idles through
    /// a burst that does not come, and on on/off traffic the cap is overrun many times over).
    pub fn count_sure_busy(&mut self) {
        let n = self.levels();
        self.busy_sure = busy_shares(self.low_load, n);
        for (sure, busy) in self.busy_sure.iter_mut().zip(&self.busy) {
            *sure = sure.min(*busy);
        }
    }

    /// How busy level j (index `i = j − 1`) counts as being: what is sure under a budget once
    /// [`Self::count_sure_busy`] has run, else the expectation.
    pub fn busy_counted(&self, i: usize, budgeted: bool) -> f64 {
        match self.busy_sure.get(i) {
            Some(sure) if budgeted => *sure,
            _ => self.busy[i],
        }
    }

    /// Level 1's cold starts a budget may count on saving.
    pub fn first_cold_for_budget(&self) -> f64 {
        self.first_cold_shown.or_else(|| self.cold.first().copied()).unwrap_or(0.0)
    }

    pub fn levels(&self) -> usize {
        self.busy.len()
    }
}

/// What the idle evidence says of the first level's cold starts per call, worked out once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirstLevelEvidence {
    per_call: Option<f64>,
    shown: Option<f64>,
    weight: f64,
}

impl FirstLevelEvidence {
    pub fn new(evidence: &IdleEvidence, prior_reclaim: u32) -> Self {
        Self {
            per_call: evidence.cold_per_call(prior_reclaim),
            shown: evidence.shown_cold_per_call(prior_reclaim),
            weight: evidence.profile_weight(),
        }
    }
}

/// Arrival rates (per second) of the scenarios at [`SCENARIO_WEIGHTS`]: mean `mean_per_minute`,
/// spread by the forecast's uncertainty about the *rate* only. The forecast quantiles are of
/// the observed counts, which already include the Poisson noise that [`SlotLevels`] models
/// within the slot; counting it twice would, for a sparse function, read "most slots see no
/// call" as "the rate is probably zero". So the count variance of the quantiles minus the
/// Poisson variance (= the mean) is the rate's variance, and the scenarios are the quantiles
/// drawn towards their centre until their spread is the rate's: the shape of the forecast is
/// kept (a bursty series whose slots are mostly idle and sometimes very busy stays so, where a
/// moment-matched smooth distribution would put its mass on middling rates that never occur),
/// then scaled to the forecast's mean.
pub fn rate_scenarios(rate: &Quantiles, mean_per_minute: f64, slot_s: f64) -> [f64; 6] {
    let minutes = slot_s / 60.0;
    let m = mean_per_minute.max(0.0) * minutes;
    if m <= 0.0 {
        return [0.0; 6];
    }
    let counts = rate.0.map(|q| q.max(0.0) * minutes);
    let centre: f64 = counts.iter().zip(SCENARIO_WEIGHTS).map(|(c, w)| c * w).sum();
    let variance: f64 = counts.iter().zip(SCENARIO_WEIGHTS).map(|(c, w)| w * (c - centre).powi(2)).sum();
    let excess = variance - m;
    if excess <= 1e-12 * m * m || centre <= 0.0 {
        return [m / slot_s; 6];
    }
    let shrink = (excess / variance).sqrt();
    counts.map(|c| (centre + shrink * (c - centre)) * m / centre / slot_s)
}

/// Makes `v` `len` zeros, in the memory it has (what it keeps is cleared at once, not
/// element by element).
fn zeroed(v: &mut Vec<f64>, len: usize) {
    v.truncate(len);
    v.fill(0.0);
    v.resize(len, 0.0);
}

/// What every rate scenario of a slot shares: the mean duration and the slot's and reclaim
/// times (s), and which levels are alive at the start when `start` says (`None`: steady state,
/// each scenario's own).
#[derive(Clone, Copy)]
struct Frame<'a> {
    duration_s: f64,
    slot_s: f64,
    reclaim_s: f64,
    start_alive: Option<&'a [f64]>,
}

/// The scenarios' rates with their weights, equal neighbours merged (a forecast without rate
/// uncertainty gives six equal ones): each distinct rate is worked out once.
fn distinct_scenarios(lambdas: &[f64; 6]) -> impl Iterator<Item = (f64, f64)> {
    let mut merged = [(0.0, 0.0); 6];
    let mut n = 0;
    for (&lambda, weight) in lambdas.iter().zip(SCENARIO_WEIGHTS) {
        if n > 0 && merged[n - 1].0 == lambda {
            merged[n - 1].1 += weight;
        } else {
            merged[n] = (lambda, weight);
            n += 1;
        }
    }
    merged.into_iter().take(n)
}

/// `P(N ≥ j)` for j = 1..=n, N ~ Poisson(`load`): the share of a slot level j is busy at that
/// mean concurrency.
fn busy_shares(load: f64, n: usize) -> Vec<f64> {
    let mut pmf = vec![0.0; n + 1];
    poisson_pmf(load, &mut pmf);
    let mut tail = 1.0 - pmf.iter().sum::<f64>().min(1.0); // P(N > n)
    let mut out = vec![0.0; n];
    for (busy, p) in out.iter_mut().zip(&pmf[1..]).rev() {
        tail += p;
        *busy = tail.min(1.0);
    }
    out
}

/// Fills `pmf[k] = P(N = k)` for N ~ Poisson(mean), k < pmf.len(), computed outwards from
/// the mode in log space so that large means neither underflow nor overflow.
fn poisson_pmf(mean: f64, pmf: &mut [f64]) {
    if pmf.is_empty() || mean <= 0.0 {
        pmf.iter_mut().enumerate().for_each(|(k, p)| *p = if k == 0 { 1.0 } else { 0.0 });
        return;
    }
    // Every k is written below: outwards from the mode to both ends.
    let mode = (mean.floor() as usize).min(pmf.len() - 1);
    let log_mode = -mean + mode as f64 * mean.ln() - ln_factorial(mode);
    pmf[mode] = log_mode.exp();
    // Each ratio apart from the running product: the divisions do not wait on one another.
    for k in mode + 1..pmf.len() {
        pmf[k] = pmf[k - 1] * (mean / k as f64);
    }
    for k in (0..mode).rev() {
        pmf[k] = pmf[k + 1] * ((k + 1) as f64 / mean);
    }
}

/// ln(k!) for k < 20, summed once: every slot of every plan starts its Poisson weights at a
/// small mode.
static LN_FACTORIAL_SMALL: LazyLock<[f64; 20]> =
    LazyLock::new(|| std::array::from_fn(|k| (2..=k).map(|i| (i as f64).ln()).sum()));

/// ln(k!), exact sum below 20 and Stirling's series above.
fn ln_factorial(k: usize) -> f64 {
    if let Some(exact) = LN_FACTORIAL_SMALL.get(k) {
        return *exact;
    }
    let n = k as f64;
    n * n.ln() - n + 0.5 * (std::f64::consts::TAU * n).ln() + 1.0 / (12.0 * n) - 1.0 / (360.0 * n.powi(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_pmf_is_a_distribution_for_small_and_large_means() {
        for mean in [0.01, 0.5, 3.0, 40.0, 900.0] {
            let mut pmf = vec![0.0; (mean * 3.0 + 60.0) as usize];
            poisson_pmf(mean, &mut pmf);
            let total: f64 = pmf.iter().sum();
            let first: f64 = pmf.iter().enumerate().map(|(k, p)| k as f64 * p).sum();
            assert!((total - 1.0).abs() < 1e-9, "mean {mean}: total {total}");
            assert!((first - mean).abs() < 1e-6 * mean.max(1.0), "mean {mean}: {first}");
        }
        assert!((ln_factorial(20) - (1..=20).map(|i| f64::from(i).ln()).sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn the_levels_cover_the_busiest_scenario_but_a_negligible_tail() {
        // P(N ≥ levels) of Poisson(ρ), from the weights past the last level, over the range
        // of mean concurrency a slot may have.
        for rho in [0.001, 0.05, 0.4, 1.0, 1.7, 3.0, 12.0, 120.0, 900.0] {
            let q = Quantiles([60.0 * rho; 6]);
            let levels = SlotLevels::new(&q, 60.0 * rho, 1.0, (300.0, 300.0), LevelsAtStart::Steady).levels();
            let mut pmf = vec![0.0; levels + 400];
            poisson_pmf(rho, &mut pmf);
            let beyond: f64 = pmf[levels..].iter().sum();
            assert!(beyond < 4e-13, "ρ {rho}: {levels} levels leave {beyond:e}");
        }
    }

    #[test]
    fn refilling_a_slot_that_held_another_gives_what_new_gives() {
        let q = |r: f64| Quantiles([0.8 * r, 0.9 * r, r, 1.1 * r, 1.2 * r, 1.4 * r]);
        let before = SlotLevels::new(&q(300.0), 300.0, 0.2, (300.0, 300.0), LevelsAtStart::Steady);
        let mut reused = SlotLevels::new(&q(3000.0), 3000.0, 0.2, (300.0, 600.0), LevelsAtStart::Alive(3));
        reused.first_cold_shown = Some(1.0);
        let mut work = vec![7.0; 3];
        for (rate, start) in [(60.0, LevelsAtStart::After(&before.alive_after)), (6000.0, LevelsAtStart::Steady)] {
            reused.refill(&q(rate), rate, 0.2, (300.0, 300.0), start, &mut work);
            assert_eq!(reused, SlotLevels::new(&q(rate), rate, 0.2, (300.0, 300.0), start), "{rate}");
        }
    }

    #[test]
    fn busy_shares_follow_littles_law() {
        // 10 req/s × 0.5 s: mean concurrency 5 = Σ_j P(N ≥ j).
        let lv = SlotLevels::new(&Quantiles([600.0; 6]), 600.0, 0.5, (300.0, 300.0), LevelsAtStart::Steady);
        let mean: f64 = lv.busy.iter().sum();
        assert!((mean - 5.0).abs() < 1e-6, "{mean}");
        assert!(lv.busy.windows(2).all(|w| w[0] >= w[1]), "lower levels are busier");
        assert!(lv.busy[0] > 0.99 && lv.busy[14] < 0.001);
    }

    #[test]
    fn scenarios_keep_the_mean_and_drop_the_poisson_noise() {
        // A busy slot whose quantiles spread more than Poisson: the rate is uncertain.
        let wide = rate_scenarios(&Quantiles([400.0, 500.0, 600.0, 700.0, 800.0, 1000.0]), 600.0, 300.0);
        let mean: f64 = wide.iter().zip(SCENARIO_WEIGHTS).map(|(r, w)| r * w).sum();
        assert!((mean - 10.0).abs() < 1e-9 && wide[0] < wide[5], "{wide:?}");
        // Sparse: counts of 0 or 1 per slot are Poisson around a steady rate.
        let sparse = rate_scenarios(&Quantiles([0.0, 0.0, 0.0, 0.0, 0.2, 0.2]), 0.05, 300.0);
        assert!(sparse.iter().all(|r| (r - 0.05 / 60.0).abs() < 1e-12), "{sparse:?}");
        // Bursty at 50 req/s on average: idle three slots in four, very busy in the others.
        // The scenarios stay idle-or-busy (no mass at a middling rate PC would be sized for).
        let bursty = rate_scenarios(&Quantiles([0.0, 0.0, 0.0, 6000.0, 12_000.0, 24_000.0]), 3000.0, 300.0);
        let mean: f64 = bursty.iter().zip(SCENARIO_WEIGHTS).map(|(r, w)| r * w).sum();
        assert!((mean - 50.0).abs() < 1e-9, "{bursty:?}");
        assert!(bursty[..3].iter().all(|r| *r < 1.0) && bursty[4] > 150.0, "{bursty:?}");
    }

    #[test]
    fn a_rise_in_traffic_pays_one_cold_start_per_level_it_newly_reaches() {
        // 50 req/s × 0.2 s (mean concurrency 10) after a slot at a tenth of that: at the new
        // rate alone the levels it uses (up to ~25 within five minutes) are entered often and
        // hardly ever cold; coming from a slot that kept ~7 alive, each level above is
        // reached once, cold.
        let q = |r: f64| Quantiles([r; 6]);
        let slots = (300.0, 300.0);
        let before = SlotLevels::new(&q(300.0), 300.0, 0.2, slots, LevelsAtStart::Steady);
        let steady = SlotLevels::new(&q(3000.0), 3000.0, 0.2, slots, LevelsAtStart::Steady);
        let rise = SlotLevels::new(&q(3000.0), 3000.0, 0.2, slots, LevelsAtStart::After(&before.alive_after));
        let (steady_cold, rise_cold): (f64, f64) = (steady.cold.iter().sum(), rise.cold.iter().sum());
        assert!(steady_cold < 2.0, "{steady_cold}");
        assert!((14.0..21.0).contains(&(rise_cold - steady_cold)), "{steady_cold} → {rise_cold}");
        let kept_before: f64 = before.alive_after.iter().sum();
        assert!((5.0..9.0).contains(&kept_before), "{kept_before}");
        // What was observed alive counts the same way; a steady rate after itself adds nothing.
        let seen = SlotLevels::new(&q(3000.0), 3000.0, 0.2, slots, LevelsAtStart::Alive(25));
        assert!(seen.cold.iter().sum::<f64>() <= steady_cold + 1e-9);
        let same = SlotLevels::new(&q(3000.0), 3000.0, 0.2, slots, LevelsAtStart::After(&steady.alive_after));
        assert!((same.cold.iter().sum::<f64>() - steady_cold).abs() < 1e-9);
    }

    #[test]
    fn sparse_traffic_is_all_cold_when_gaps_exceed_reclaim() {
        // One call per 20 minutes, reclaim after 5: nearly every call is cold. The quantiles
        // of a slot's count (mostly none, sometimes one) are Poisson noise, not rate doubt.
        let sparse = Quantiles([0.0, 0.0, 0.0, 0.0, 0.2, 0.2]);
        let lv = SlotLevels::new(&sparse, 0.05, 0.2, (300.0, 300.0), LevelsAtStart::Steady);
        let calls = 0.05 * 5.0;
        assert!((lv.cold[0] - calls * (-0.05f64 / 60.0 * 300.0).exp()).abs() < 1e-3);
        assert!(lv.cold[0] / calls > 0.75);
        // The same traffic with environments kept for an hour: mostly warm.
        let kept = SlotLevels::new(&sparse, 0.05, 0.2, (300.0, 3600.0), LevelsAtStart::Steady);
        assert!(kept.cold[0] / calls < 0.2);
        assert!(SlotLevels::new(&Quantiles::ZERO, 0.0, 0.2, (300.0, 300.0), LevelsAtStart::Steady).levels() == 0);
    }
}
