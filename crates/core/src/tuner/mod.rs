//! The memory tuner: from what a function did at the sizes it ran at, the next memory
//! decision — keep, explore a size, resize, or roll back — with its reason, the expected
//! duration and cost at the chosen size, and a confidence.
//!
//! Pure: data and an explicit `now` in, a decision out. Pieces:
//! - [`evidence`]: per-size figures from [`crate::observe::Counters`] (mean billed duration,
//!   spread, p99 with a distribution-free bound, INIT per cold start, memory used, failures)
//!   and what belongs to the function (cold-start share, sizes proven infeasible);
//! - [`surrogate`]: the duration curve as a Gaussian process over ln(memory) with a
//!   CPU-share prior, so that unmeasured sizes have a mean *and* an uncertainty;
//! - [`objective`]: cost (requests + duration + INIT share), latency or a balance of both,
//!   affine in the duration, so expectations and expected improvements are closed-form;
//! - [`landscape`]: the three together, with the sizes the constraints allow;
//! - [`active`]: where to probe next with a budget of synthetic invocations, and the answer;
//! - [`bracket`]: passive steps past the measured sizes until the optimum is enclosed;
//! - [`passive`]: one production run — verdict, rollback, constraint fixes, bounded steps;
//! - [`verdict`]: the guardrail's exact tests; [`rollout`]: step bounds, canaries, bans;
//! - [`stats`]: the distributions behind them.

pub mod active;
pub mod bracket;
pub mod evidence;
pub mod landscape;
pub mod lookback;
pub mod objective;
pub mod passive;
pub mod rollout;
pub mod stats;
pub mod surrogate;
pub mod verdict;

pub use active::{Probe, Recommendation};
pub use passive::{Judged, Outcome, PassiveInput, decide};
pub use rollout::{Ban, PendingChange};

use surrogate::CurvePrior;

/// Tuner settings that are not policy: how precise an answer is worth paying for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Passive: stop exploring when no size within a step is expected to beat the best
    /// known by this share; move only for at least this much (a deployment and a window of
    /// production traffic are at stake). Default 0.01 (1%).
    pub tolerance: f64,
    /// Active: stop probing when no size is expected to beat the best measured by this
    /// share (a probe costs one invocation). Default 0.001 (0.1%).
    pub probe_tolerance: f64,
    /// Passive: an exploration must pay for itself within this many windows (its expected
    /// extra cost over the best known is charged against its expected improvement ÷ this).
    /// Default 7 (a week of daily runs).
    pub payback_windows: u32,
    /// A measured size is ranked by its mean plus this many standard errors (a pessimistic
    /// estimate: a size measured once does not win on one lucky invocation). Default 1.645,
    /// the one-sided 95% bound.
    pub selection_z: f64,
    /// Granularity of the sizes considered besides measured ones (MB). Default 64.
    pub grid_mb: u32,
    /// Relative error assumed of any measured mean beyond its sampling noise (the curve is
    /// not exactly a smooth function; windows differ a little). Default 0.01.
    pub model_noise_floor: f64,
    pub prior: CurvePrior,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tolerance: 0.01,
            probe_tolerance: 0.001,
            payback_windows: 7,
            selection_z: 1.645,
            grid_mb: 64,
            model_noise_floor: 0.01,
            prior: CurvePrior::default(),
        }
    }
}

#[cfg(test)]
mod tests;
