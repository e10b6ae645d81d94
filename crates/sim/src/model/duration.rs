//! Duration against memory. Lambda gives CPU in proportion to memory (1,769 MB = 1 vCPU, up
//! to 6 vCPU at 10,240 MB), so:
//! - CPU-bound code runs in `work / min(vCPU share, parallelism)`: single-threaded code stops
//!   gaining at 1,769 MB (cebert cpu-intensive nodejs22 x86_64: 21,605 ms at 128 MB, 1,590 ms
//!   at 1,769 MB, 1,384 ms at 2,048 MB);
//! - I/O-bound code waits the same whatever the memory, plus a small CPU part;
//! - memory-hungry code also pays garbage-collection pressure that falls as memory grows
//!   away from its working set, and dies below its memory floor (see `FunctionSpec`);
//! - a measured curve (cebert tables) is interpolated (see [`MeasuredCurve`]).
//!
//! Around the mean, each invocation's duration is lognormal with σ chosen so that p99/mean
//! matches the model's ratio: for a lognormal, p99/mean = exp(2.326·σ − σ²/2).

use autopilot_core::MemoryMb;
use serde::Serialize;

use super::curve::MeasuredCurve;

/// z of the 99th percentile of a standard normal.
pub const Z99: f64 = 2.326_347_874;

/// How the mean duration depends on memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Workload {
    /// `fixed_ms + work_ms / min(vCPU share, parallelism)`; `work_ms` is the time at 1 vCPU.
    CpuBound { work_ms: f64, parallelism: f64, fixed_ms: f64 },
    /// `io_ms + cpu_ms / min(vCPU share, 1)`.
    IoBound { io_ms: f64, cpu_ms: f64 },
    /// `work_ms / min(vCPU share, 1) × (1 + gc_factor / (memory / working_set − 0.9))`.
    MemoryHungry { work_ms: f64, working_set_mb: f64, gc_factor: f64 },
    /// Interpolated measurements.
    Measured(MeasuredCurve),
}

impl Workload {
    pub fn label(&self) -> &'static str {
        match self {
            Self::CpuBound { .. } => "cpu-bound",
            Self::IoBound { .. } => "io-bound",
            Self::MemoryHungry { .. } => "memory-hungry",
            Self::Measured(_) => "measured",
        }
    }
}

/// A slow path hit by a share of invocations below a memory size (GC pauses, swapping of a
/// cache that no longer fits): the p99 cliff that average-only tuning misses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlowPath {
    pub below_mb: u32,
    pub share: f64,
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DurationModel {
    pub workload: Workload,
    /// p99 / mean of the noise (ignored for measured curves, which carry their own).
    pub p99_over_mean: f64,
    pub slow_path: Option<SlowPath>,
}

/// The duration distribution at one memory size: a lognormal, possibly mixed with a slow path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationDist {
    /// Mean of the main lognormal (ms).
    pub mean_ms: f64,
    pub sigma: f64,
    /// (share, factor) of the slow path at this size.
    pub slow: Option<(f64, f64)>,
}

impl DurationDist {
    /// μ of the main lognormal (so that its mean is `mean_ms`).
    pub fn mu(&self) -> f64 {
        self.mean_ms.ln() - self.sigma * self.sigma / 2.0
    }

    /// Mean including the slow path.
    pub fn overall_mean_ms(&self) -> f64 {
        match self.slow {
            Some((share, factor)) => self.mean_ms * (1.0 - share + share * factor),
            None => self.mean_ms,
        }
    }

    /// Share of invocations longer than `limit_ms`.
    pub fn share_above(&self, limit_ms: f64) -> f64 {
        let tail = |scale: f64| {
            let z = ((limit_ms / scale).ln() - self.mu()) / self.sigma.max(1e-9);
            1.0 - crate::rng::normal_cdf(z)
        };
        match self.slow {
            Some((share, factor)) => (1.0 - share) * tail(1.0) + share * tail(factor),
            None => tail(1.0),
        }
    }
}

/// σ of a lognormal whose p99/mean is `ratio` (clamped to what a lognormal can reach).
pub fn sigma_for_p99_over_mean(ratio: f64) -> f64 {
    let ln_r = ratio.max(1.0).ln().min(Z99 * Z99 / 2.0);
    Z99 - (Z99 * Z99 - 2.0 * ln_r).sqrt()
}

impl DurationModel {
    pub fn new(workload: Workload, p99_over_mean: f64) -> Self {
        Self { workload, p99_over_mean, slow_path: None }
    }

    pub fn with_slow_path(mut self, slow: SlowPath) -> Self {
        self.slow_path = Some(slow);
        self
    }

    /// Mean duration (ms) of the main path at a memory size.
    pub fn mean_ms(&self, memory: MemoryMb) -> f64 {
        let vcpu = memory.vcpus();
        match &self.workload {
            Workload::CpuBound { work_ms, parallelism, fixed_ms } => {
                fixed_ms + work_ms / vcpu.min(parallelism.max(0.01))
            }
            Workload::IoBound { io_ms, cpu_ms } => io_ms + cpu_ms / vcpu.min(1.0),
            Workload::MemoryHungry { work_ms, working_set_mb, gc_factor } => {
                let headroom = f64::from(memory.get()) / working_set_mb.max(1.0);
                work_ms / vcpu.min(1.0) * (1.0 + gc_factor / (headroom - 0.9).max(0.1))
            }
            Workload::Measured(curve) => curve.mean_ms(f64::from(memory.get())),
        }
    }

    pub fn dist(&self, memory: MemoryMb) -> DurationDist {
        let ratio = match &self.workload {
            Workload::Measured(curve) => curve.p99_over_mean(f64::from(memory.get())),
            _ => self.p99_over_mean,
        };
        let slow = self.slow_path.filter(|s| memory.get() < s.below_mb).map(|s| (s.share, s.factor));
        DurationDist { mean_ms: self.mean_ms(memory), sigma: sigma_for_p99_over_mean(ratio), slow }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(v: u64) -> MemoryMb {
        MemoryMb::new(v).unwrap()
    }

    #[test]
    fn single_threaded_cpu_work_stops_gaining_at_one_vcpu() {
        let m = DurationModel::new(Workload::CpuBound { work_ms: 1_000.0, parallelism: 1.0, fixed_ms: 0.0 }, 1.1);
        assert!((m.mean_ms(mb(1769)) - 1_000.0).abs() < 1e-9);
        assert!((m.mean_ms(mb(3538)) - 1_000.0).abs() < 1e-9);
        assert!((m.mean_ms(mb(128)) - 1_000.0 * 1769.0 / 128.0).abs() < 1e-6);
        let parallel =
            DurationModel::new(Workload::CpuBound { work_ms: 1_000.0, parallelism: 4.0, fixed_ms: 0.0 }, 1.1);
        assert!((parallel.mean_ms(mb(3538)) - 500.0).abs() < 1e-9);
    }

    #[test]
    fn sigma_reproduces_the_p99_over_mean_ratio() {
        for ratio in [1.05, 1.3, 2.0, 5.0] {
            let s = sigma_for_p99_over_mean(ratio);
            assert!(((Z99 * s - s * s / 2.0).exp() - ratio).abs() < 1e-9, "{ratio}");
        }
    }

    #[test]
    fn the_slow_path_only_applies_below_its_threshold() {
        let m = DurationModel::new(Workload::IoBound { io_ms: 50.0, cpu_ms: 10.0 }, 1.2).with_slow_path(SlowPath {
            below_mb: 1024,
            share: 0.02,
            factor: 8.0,
        });
        assert!(m.dist(mb(512)).slow.is_some() && m.dist(mb(1024)).slow.is_none());
        let d = m.dist(mb(512));
        assert!(d.share_above(d.mean_ms * 4.0) > 0.019, "the slow path puts ~2% far above the mean");
    }
}
