//! What the tuner knows: per-size figures read from the observed [`Counters`], plus the few
//! figures that belong to the function rather than to a size (cold-start share, the noise of
//! its durations, the memory it needs, sizes proven infeasible).

use std::collections::BTreeMap;

use crate::domain::MemoryMb;
use crate::histogram::bucket_value;
use crate::observe::Counters;

use super::stats::{chi2_quantile, normal_quantile, quantile_upper_rank};

/// Prior on the spread of ln(duration) within a size, used until replicates say otherwise:
/// warm durations of CPU- and memory-bound functions vary by a few percent (their p99 sits
/// 2–10% above the mean in published measurements).
pub const PRIOR_LOG_SD: f64 = 0.02;
/// Weight of that prior in degrees of freedom (as if from one extra replicate): two
/// replicates of a noisy function outweigh it.
pub const PRIOR_LOG_SD_DF: f64 = 1.0;
/// z of the 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874;

/// Figures of one memory size.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeEvidence {
    pub memory: MemoryMb,
    pub invocations: u64,
    /// Mean billed duration per invocation (ms), INIT excluded, rounding included.
    pub mean_billed_ms: f64,
    /// Mean measured duration (ms).
    pub mean_ms: f64,
    /// Mean and sample variance of ln(duration) (variance `None` below two values).
    pub log_mean: f64,
    pub log_var: Option<f64>,
    /// Observed 99th percentile (ms), within the histogram's 2%.
    pub p99_ms: Option<f64>,
    /// Distribution-free upper bound of the 99th percentile at the tuner's confidence
    /// (`None` when there are too few invocations for one).
    pub p99_upper_ms: Option<f64>,
    pub cold_starts: u64,
    pub billed_init_ms: u64,
    pub max_memory_used_mb: Option<f64>,
    pub errors: u64,
    pub timeouts: u64,
    pub out_of_memory: u64,
}

impl SizeEvidence {
    /// Reads one size; `None` when nothing ran there.
    pub fn from_counters(memory: MemoryMb, c: &Counters, confidence: f64) -> Option<Self> {
        if c.invocations == 0 {
            return None;
        }
        let n = c.invocations as f64;
        let (log_mean, log_var) = log_moments(c);
        let p99_upper_ms = quantile_upper_rank(c.duration.count(), 0.99, confidence)
            .and_then(|r| c.duration.quantile(rank_to_q(r, c.duration.count())));
        Some(Self {
            memory,
            invocations: c.invocations,
            mean_billed_ms: c.billed_ms as f64 / n,
            mean_ms: c.duration.mean().unwrap_or(c.billed_ms as f64 / n),
            log_mean,
            log_var,
            p99_ms: c.duration.quantile(0.99),
            p99_upper_ms,
            cold_starts: c.cold_starts + c.restores,
            billed_init_ms: c.billed_init_ms,
            max_memory_used_mb: c.max_memory_used_mb(),
            errors: c.errors,
            timeouts: c.timeouts,
            out_of_memory: c.out_of_memory,
        })
    }

    /// Mean billed INIT per cold start at this size (ms), if any cold start was seen.
    pub fn init_per_cold_start_ms(&self) -> Option<f64> {
        (self.cold_starts > 0).then(|| self.billed_init_ms as f64 / self.cold_starts as f64)
    }
}

/// The `q` at which [`crate::histogram::Histogram::quantile`] returns the `r`-th smallest of
/// `n` values (it reads rank `floor(q·(n−1))`, 0-based); half a rank added against rounding.
fn rank_to_q(r: u64, n: u64) -> f64 {
    if n <= 1 { 1.0 } else { (((r - 1) as f64 + 0.5) / (n - 1) as f64).min(1.0) }
}

/// Mean and variance of ln(duration) from the duration histogram (bucket values are within
/// 2% of the values in them); falls back to the mean billed duration.
fn log_moments(c: &Counters) -> (f64, Option<f64>) {
    let n = c.duration.count();
    if n == 0 {
        let mean = (c.billed_ms as f64 / c.invocations.max(1) as f64).max(1.0);
        return (mean.ln(), None);
    }
    let mut sum = 0.0;
    let mut sum_sq = 0.0;
    for (b, k) in c.duration.buckets() {
        let v = bucket_value(b).max(0.01).ln();
        sum += v * k as f64;
        sum_sq += v * v * k as f64;
    }
    let nf = n as f64;
    let mean = sum / nf;
    let var = (n > 1).then(|| ((sum_sq - nf * mean * mean) / (nf - 1.0)).max(0.0));
    (mean, var)
}

/// Everything the tuner reads, by size and for the function as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Sizes with at least one invocation, ascending.
    pub sizes: Vec<SizeEvidence>,
    /// Share of invocations that were cold starts (all sizes pooled: it follows traffic).
    pub cold_share: f64,
    /// Pooled within-size standard deviation of ln(duration), with [`PRIOR_LOG_SD`] mixed in.
    pub log_sd: f64,
    /// Degrees of freedom behind `log_sd` (data plus prior).
    pub log_sd_df: f64,
    /// Largest size at which an invocation ran out of memory: every size up to it fails.
    pub oom_at: Option<MemoryMb>,
    /// Largest size at which an invocation timed out: every size up to it is too slow.
    pub timeout_at: Option<MemoryMb>,
    /// Highest memory used anywhere (MB).
    pub max_memory_used_mb: Option<f64>,
}

impl Evidence {
    pub fn from_history(history: &BTreeMap<MemoryMb, Counters>, confidence: f64) -> Self {
        let sizes: Vec<SizeEvidence> =
            history.iter().filter_map(|(&m, c)| SizeEvidence::from_counters(m, c, confidence)).collect();
        let invocations: u64 = sizes.iter().map(|s| s.invocations).sum();
        let cold: u64 = sizes.iter().map(|s| s.cold_starts).sum();
        let (mut ss, mut df) = (PRIOR_LOG_SD * PRIOR_LOG_SD * PRIOR_LOG_SD_DF, PRIOR_LOG_SD_DF);
        for s in &sizes {
            if let Some(v) = s.log_var {
                let d = (s.invocations - 1) as f64;
                ss += v * d;
                df += d;
            }
        }
        let largest = |f: fn(&SizeEvidence) -> u64| sizes.iter().filter(|s| f(s) > 0).map(|s| s.memory).max();
        Self {
            cold_share: if invocations == 0 { 0.0 } else { cold as f64 / invocations as f64 },
            log_sd: (ss / df).sqrt(),
            log_sd_df: df,
            oom_at: largest(|s| s.out_of_memory),
            timeout_at: largest(|s| s.timeouts),
            max_memory_used_mb: sizes.iter().filter_map(|s| s.max_memory_used_mb).reduce(f64::max),
            sizes,
        }
    }

    pub fn get(&self, memory: MemoryMb) -> Option<&SizeEvidence> {
        self.sizes.iter().find(|s| s.memory == memory)
    }

    pub fn total_invocations(&self) -> u64 {
        self.sizes.iter().map(|s| s.invocations).sum()
    }

    /// Billed INIT per cold start at `memory` (ms): measured there, else at the nearest size
    /// (in ratio) where cold starts were seen; 0 when none was ever seen.
    pub fn init_per_cold_start_ms(&self, memory: MemoryMb) -> f64 {
        let distance = |s: &SizeEvidence| (f64::from(s.memory.get()) / f64::from(memory.get())).ln().abs();
        self.sizes
            .iter()
            .filter(|s| s.cold_starts > 0)
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))
            .and_then(SizeEvidence::init_per_cold_start_ms)
            .unwrap_or(0.0)
    }

    /// Upper confidence bound of a log standard deviation `sd` estimated with `df` degrees
    /// of freedom.
    pub fn log_sd_upper(sd: f64, df: f64, confidence: f64) -> f64 {
        sd * (df / chi2_quantile(1.0 - confidence, df).max(1e-9)).sqrt()
    }

    /// p99 ÷ mean of a lognormal with log-sd `sd`: how far the tail sits above the mean.
    pub fn lognormal_p99_ratio(sd: f64) -> f64 {
        (Z99 * sd - sd * sd / 2.0).exp()
    }

    /// The ratio of p99 to mean duration to use at `memory`, with an upper bound at
    /// `confidence`: measured at the nearest size with enough invocations for a
    /// distribution-free bound, else from a lognormal of spread `sd` (estimated with `df`
    /// degrees of freedom).
    pub fn p99_ratio(&self, memory: MemoryMb, confidence: f64, sd: f64, df: f64) -> (f64, f64) {
        self.p99_ratio_with(memory, sd, || Self::log_sd_upper(sd, df, confidence))
    }

    /// [`Self::p99_ratio`] with the upper bound of the spread, [`Self::log_sd_upper`], given
    /// (worked out only when no size measured its tail): for a caller that asks at many
    /// sizes sharing a few spreads.
    pub fn p99_ratio_with(&self, memory: MemoryMb, sd: f64, sd_upper: impl FnOnce() -> f64) -> (f64, f64) {
        let distance = |s: &SizeEvidence| (f64::from(s.memory.get()) / f64::from(memory.get())).ln().abs();
        let measured = self
            .sizes
            .iter()
            .filter(|s| s.p99_upper_ms.is_some() && s.mean_ms > 0.0)
            .min_by(|a, b| distance(a).total_cmp(&distance(b)));
        if let Some(s) = measured {
            let p99 = s.p99_ms.unwrap_or(s.mean_ms);
            return (p99 / s.mean_ms, s.p99_upper_ms.unwrap_or(p99) / s.mean_ms);
        }
        let upper = Self::lognormal_p99_ratio(sd_upper());
        (Self::lognormal_p99_ratio(sd), upper)
    }

    /// Standard error of ln(mean duration) at a size measured `n` times.
    pub fn log_mean_se(&self, n: u64) -> f64 {
        let cv2 = (self.log_sd * self.log_sd).exp_m1();
        (cv2 / n.max(1) as f64).sqrt()
    }

    /// One-sided z for `confidence`.
    pub fn z(confidence: f64) -> f64 {
        normal_quantile(confidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(v: u64) -> MemoryMb {
        MemoryMb::new(v).unwrap()
    }

    fn counters(durations: &[f64], cold: u64, init_ms: u64) -> Counters {
        let mut c = Counters { invocations: durations.len() as u64, cold_starts: cold, ..Counters::default() };
        for &d in durations {
            c.duration.record(d);
            c.billed_ms += d.ceil() as u64;
            c.memory_used.record(90.0);
        }
        c.billed_init_ms = init_ms;
        c
    }

    #[test]
    fn pools_what_belongs_to_the_function() {
        let mut h = BTreeMap::new();
        h.insert(mb(512), counters(&[100.0, 110.0, 90.0, 105.0], 1, 300));
        h.insert(mb(1024), counters(&[50.0, 55.0, 45.0, 52.0, 48.0, 51.0], 0, 0));
        let e = Evidence::from_history(&h, 0.95);
        assert_eq!(e.sizes.len(), 2);
        assert!((e.cold_share - 0.1).abs() < 1e-12);
        // The only measured INIT is used at every size.
        assert!((e.init_per_cold_start_ms(mb(2048)) - 300.0).abs() < 1e-12);
        let s = e.get(mb(512)).unwrap();
        assert!((s.mean_billed_ms - 101.25).abs() < 1e-12);
        assert!(s.p99_upper_ms.is_none(), "four values cannot bound a p99");
        // Spread: around 8% per size (8 degrees of freedom), pulled a little toward the prior.
        assert!(e.log_sd > 0.05 && e.log_sd < 0.09, "{}", e.log_sd);
        assert!(Evidence::log_sd_upper(e.log_sd, e.log_sd_df, 0.95) > e.log_sd);
        assert!(e.max_memory_used_mb.unwrap() >= 90.0);
        assert_eq!(e.oom_at, None);
    }

    #[test]
    fn failures_mark_sizes() {
        let mut h = BTreeMap::new();
        let mut c = counters(&[100.0; 10], 0, 0);
        c.out_of_memory = 1;
        h.insert(mb(256), c);
        let mut c = counters(&[100.0; 10], 0, 0);
        c.timeouts = 2;
        h.insert(mb(128), c);
        let e = Evidence::from_history(&h, 0.95);
        assert_eq!(e.oom_at, Some(mb(256)));
        assert_eq!(e.timeout_at, Some(mb(128)));
    }

    #[test]
    fn lognormal_ratio_matches_its_definition() {
        // σ = 0.5: p99/mean = exp(2.326·0.5 − 0.125).
        assert!((Evidence::lognormal_p99_ratio(0.5) - (2.326_347_874f64 * 0.5 - 0.125).exp()).abs() < 1e-12);
        assert!((Evidence::lognormal_p99_ratio(0.0) - 1.0).abs() < 1e-12);
    }
}
