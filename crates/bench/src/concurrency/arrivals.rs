//! Arrivals and service times of one workload, the same for every policy: each purpose draws
//! from its own seeded stream, so a policy's choices never shift another's arrivals.

use autopilot_sim::model::{DurationModel, InitModel, Runtime, Workload as Shape};
use autopilot_sim::rng::Rng;

use super::cases::{Source, Workload};
use super::setup;

/// The function every case runs: durations and INIT from the simulator's families.
#[derive(Debug, Clone, Copy)]
pub struct ServiceModel {
    mu: f64,
    sigma: f64,
    init_mu: f64,
    init_sigma: f64,
    init_offset_ms: f64,
}

impl ServiceModel {
    /// I/O-bound, 200 ms mean with p99 three times the mean (lognormal); Node.js runtime INIT
    /// plus 160 ms of application init (≈ 300 ms billed INIT): DESIGN.md's study setup.
    pub fn standard() -> Self {
        let dist = DurationModel::new(Shape::IoBound { io_ms: setup::MEAN_DURATION_MS, cpu_ms: 0.0 }, 3.0)
            .dist(setup::memory());
        let init: InitModel = Runtime::Node.default_init();
        Self {
            mu: dist.mu(),
            sigma: dist.sigma,
            init_mu: init.mu(),
            init_sigma: init.sigma,
            init_offset_ms: setup::INIT_MS - init.mean_ms,
        }
    }

    pub fn duration(&self, rng: &mut Rng) -> f64 {
        (self.mu + self.sigma * rng.normal()).exp()
    }

    pub fn init(&self, rng: &mut Rng) -> f64 {
        (self.init_mu + self.init_sigma * rng.normal()).exp() + self.init_offset_ms
    }
}

/// Minute-by-minute arrival times (ms on the run's clock, ascending) of a workload's window.
#[derive(Debug)]
pub struct Arrivals<'a> {
    workload: &'a Workload,
    counts: Rng,
    times: Rng,
    cursor: usize,
}

impl<'a> Arrivals<'a> {
    pub fn new(workload: &'a Workload, seed: u64) -> Self {
        let key = workload.label();
        Self { workload, counts: Rng::stream(seed, &key, "counts"), times: Rng::stream(seed, &key, "times"), cursor: 0 }
    }

    /// Fills `out` with the arrivals of window minute `m` (0-based), in ms from the window start.
    pub fn minute(&mut self, m: usize, out: &mut Vec<f64>) {
        out.clear();
        let base = m as f64 * 60_000.0;
        match &self.workload.source {
            Source::PerMinute { rate, poisson } => {
                let expected = rate.get(self.workload.history_minutes + m).map_or(0.0, |v| f64::from(*v));
                let n = if *poisson { self.counts.poisson(expected) } else { expected.round().max(0.0) as u64 };
                uniform_sorted(&mut self.times, n as usize, base, 60_000.0, out);
            }
            Source::Timestamps { times_ms, factor } => {
                let end = (m as i64 + 1) * 60_000;
                while self.cursor < times_ms.len() && times_ms[self.cursor] < end {
                    let t = times_ms[self.cursor] as f64;
                    for _ in 0..self.counts.poisson(*factor) {
                        // Within the logged request's second, not past the minute.
                        out.push((t + self.times.uniform() * 1000.0).min(base + 59_999.0));
                    }
                    self.cursor += 1;
                }
                out.sort_unstable_by(f64::total_cmp);
            }
        }
    }
}

/// `n` sorted uniform points in `[start, start + span)`, from normalised exponential spacings.
fn uniform_sorted(rng: &mut Rng, n: usize, start: f64, span: f64, out: &mut Vec<f64>) {
    if n == 0 {
        return;
    }
    let mut acc = 0.0;
    for _ in 0..n {
        acc += rng.exp();
        out.push(acc);
    }
    let total = acc + rng.exp();
    for t in out.iter_mut() {
        *t = start + *t / total * span;
    }
}
