//! The benchmark's cases, built from any folder of traces the loaders accept.
//!
//! - every aggregate series (a two-column `timestamp,count` file, a request log) runs at two
//!   scalings, mean 1 req/s and mean 50 req/s, with Poisson arrivals from its per-minute shape
//!   (a request log keeps its exact timestamps instead: each request becomes Poisson(scale)
//!   arrivals within its second, so second-level bursts survive the scaling);
//! - every Azure Functions 2019 function runs on its own at its real per-minute counts;
//! - each of those at both reclaim times (5 and 15 minutes idle): one case each.
//!
//! Long traces are simulated over their last [`EVAL_DAYS`] days; up to [`HISTORY_DAYS`] days
//! before that are the history the forecasting policies start from (per-minute counts drawn
//! from the same trace, as the stats table would hold them).
//!
//! A trace with no history before its window (the Azure functions' 8 hours, request logs)
//! starts with no environment alive and nothing known: its first call is cold for every policy
//! but those that act blindly before any traffic (static PC, a pinger, the oracles), although
//! the function was running before the trace began. So its first [`WARMUP_MINUTES`] are a
//! warm-up every policy runs through (pool state and observations carry on) but that is not
//! scored; the benchmark prints the unscored figures too.

use std::path::Path;
use std::sync::Arc;

use autopilot_core::Minute;
use autopilot_datasets::traces::{self, TraceError, TraceFormat};
use autopilot_sim::traffic::TraceShape;

pub const EVAL_DAYS: usize = 7;
pub const HISTORY_DAYS: usize = 28;
/// Unscored warm-up of a trace without history: one planning horizon (the policy default,
/// 60 minutes), the least a forecaster needs to have seen before its first full plan.
pub const WARMUP_MINUTES: usize = 60;
/// The two reclaim times every case runs at (minutes idle).
pub const RECLAIM_MINUTES: [u32; 2] = [5, 15];

/// How a case's traffic was scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Mean 1 request per second.
    Mean1,
    /// Mean 50 requests per second.
    Mean50,
    /// The trace's own counts (Azure functions).
    Real,
}

impl Scaling {
    pub fn label(self) -> &'static str {
        match self {
            Self::Mean1 => "1/s",
            Self::Mean50 => "50/s",
            Self::Real => "real",
        }
    }
}

/// Where arrivals come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Expected arrivals of each minute; Poisson draws when `poisson`, else exact counts.
    PerMinute { rate: Arc<[f32]>, poisson: bool },
    /// Exact request times (ms from the trace start), each yielding Poisson(`factor`) arrivals.
    Timestamps { times_ms: Arc<[i64]>, factor: f64 },
}

/// One traffic source at one scaling (the reclaim time is applied when it runs).
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub scaling: Scaling,
    /// Clock minute of the first minute of the trace (history included).
    pub start: Minute,
    /// Minutes before the simulated window (history only).
    pub history_minutes: usize,
    /// Minutes simulated.
    pub eval_minutes: usize,
    /// The first minutes of the simulated window that are run but not scored (a trace without
    /// history, see [`WARMUP_MINUTES`]).
    pub warmup_minutes: usize,
    pub source: Source,
    /// Azure trigger, when known.
    pub trigger: Option<String>,
}

impl Workload {
    /// Expected arrivals in minute `i` of the trace (history included).
    pub fn expected(&self, i: usize) -> f64 {
        match &self.source {
            Source::PerMinute { rate, .. } => rate.get(i).map_or(0.0, |v| f64::from(*v)),
            Source::Timestamps { .. } => 0.0,
        }
    }

    /// Minutes scored.
    pub fn scored_minutes(&self) -> usize {
        self.eval_minutes - self.warmup_minutes
    }

    pub fn label(&self) -> String {
        format!("{} @{}", self.name, self.scaling.label())
    }
}

/// Loads every trace of `dir` and turns it into workloads.
pub fn workloads(dir: &Path) -> Result<Vec<Workload>, TraceError> {
    let mut out = Vec::new();
    for trace in traces::load_dir(dir)? {
        match trace.format {
            TraceFormat::AzureFunctions2019 => {
                for s in &trace.series {
                    let rate: Vec<f32> = s.filled().iter().map(|v| *v as f32).collect();
                    if rate.iter().all(|v| *v <= 0.0) {
                        continue;
                    }
                    let len = rate.len();
                    out.push(Workload {
                        name: short(&s.name),
                        scaling: Scaling::Real,
                        start: Minute::from_epoch_ms(s.start_ms),
                        history_minutes: 0,
                        eval_minutes: len,
                        warmup_minutes: WARMUP_MINUTES.min(len / 2),
                        source: Source::PerMinute { rate: rate.into(), poisson: false },
                        trigger: s.trigger.clone(),
                    });
                }
            }
            TraceFormat::RequestLog => {
                let (Some(times), Some(series)) = (trace.timestamps_ms.as_ref(), trace.series.first()) else {
                    continue;
                };
                let (Some(&first), Some(&last)) = (times.first(), times.last()) else { continue };
                let minutes = ((last - first) / 60_000 + 1) as usize;
                let mean_per_s = times.len() as f64 / (minutes as f64 * 60.0);
                let rel: Arc<[i64]> = times.iter().map(|t| t - first).collect();
                for (scaling, target) in [(Scaling::Mean1, 1.0), (Scaling::Mean50, 50.0)] {
                    out.push(Workload {
                        name: series.name.clone(),
                        scaling,
                        start: Minute::from_epoch_ms(first),
                        history_minutes: 0,
                        eval_minutes: minutes,
                        warmup_minutes: WARMUP_MINUTES.min(minutes / 2),
                        source: Source::Timestamps { times_ms: rel.clone(), factor: target / mean_per_s },
                        trigger: None,
                    });
                }
            }
            TraceFormat::TimestampCount => {
                for s in &trace.series {
                    let Some(shape) = TraceShape::from_series(s) else { continue };
                    let len = shape.per_minute.len();
                    let eval = len.min(EVAL_DAYS * 1440);
                    let history = (len - eval).min(HISTORY_DAYS * 1440);
                    let skip = len - eval - history;
                    for (scaling, per_minute) in [(Scaling::Mean1, 60.0), (Scaling::Mean50, 3000.0)] {
                        let rate: Arc<[f32]> = shape.per_minute[skip..].iter().map(|v| v * per_minute).collect();
                        out.push(Workload {
                            name: s.name.clone(),
                            scaling,
                            start: Minute::from_epoch_ms(s.start_ms).plus(skip as i64),
                            history_minutes: history,
                            eval_minutes: eval,
                            warmup_minutes: if history == 0 { WARMUP_MINUTES.min(eval / 2) } else { 0 },
                            source: Source::PerMinute { rate, poisson: true },
                            trigger: None,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// First 8 characters of a hash-like name.
fn short(name: &str) -> String {
    name.chars().take(8).collect()
}
