//! What a run produced: per function and for the fleet, the figures the CLI prints and
//! writes as JSON.

use autopilot_core::cost::{CostBreakdown, CostModel};
use autopilot_core::histogram::Histogram;
use autopilot_core::ports::WarmupOutcome;
use serde::Serialize;

use crate::world::SimFunction;

/// Totals of one function (or of the fleet, with `name` = "total").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionReport {
    pub name: String,
    pub archetype: String,
    pub runtime: String,
    pub architecture: String,
    pub workload: String,
    pub traffic: String,
    pub memory_start_mb: u32,
    pub memory_end_mb: u32,
    pub invocations: u64,
    pub cold_starts: u64,
    pub cold_start_share: f64,
    /// Duration percentiles (Lambda's Duration: INIT excluded).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// p99 of what callers wait: duration plus INIT for cold starts.
    pub p99_latency_ms: Option<f64>,
    pub errors: u64,
    pub timeouts: u64,
    pub out_of_memory: u64,
    pub throttles: u64,
    pub warmups: WarmupOutcome,
    /// Control-plane changes the autopilot applied.
    pub decisions: u64,
    pub cost: CostBreakdown,
    pub cost_usd: f64,
}

impl FunctionReport {
    /// Cold starts callers waited for: [`Self::cold_starts`] counts those of the warm-up calls
    /// that landed on a reclaimed environment too (their INIT is billed, but no caller waited).
    pub fn callers_cold_starts(&self) -> u64 {
        self.cold_starts.saturating_sub(u64::from(self.warmups.landed_cold))
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimReport {
    pub policy: String,
    pub functions: Vec<FunctionReport>,
    pub total: FunctionReport,
    /// Scheduled policy runs and the decisions they made.
    pub policy_runs: u64,
    pub decisions_evaluated: u64,
}

/// A function's report, with its duration and latency histograms for the fleet total.
pub(crate) fn function_report(f: &SimFunction, model: &CostModel) -> (FunctionReport, [Histogram; 2]) {
    let t = &f.totals;
    let hist = t.duration.to_histogram();
    let latency = t.latency.to_histogram();
    let cost = model.cost(f.spec.architecture, &f.usage);
    let report = FunctionReport {
        name: f.spec.name.clone(),
        archetype: f.spec.archetype.clone(),
        runtime: f.spec.runtime.lambda_id().to_owned(),
        architecture: f.spec.architecture.to_string(),
        workload: f.spec.duration.workload.label().to_owned(),
        traffic: f.spec.traffic.label(),
        memory_start_mb: f.spec.memory.get(),
        memory_end_mb: f.serving_memory().get(),
        invocations: t.invocations,
        cold_starts: t.cold_starts,
        cold_start_share: share(t.cold_starts, t.invocations),
        p50_ms: hist.quantile(0.5),
        p99_ms: hist.quantile(0.99),
        p99_latency_ms: latency.quantile(0.99),
        errors: t.errors,
        timeouts: t.timeouts,
        out_of_memory: t.out_of_memory,
        throttles: t.throttles,
        warmups: f.warmups,
        decisions: f.decisions,
        cost_usd: cost.total(),
        cost,
    };
    (report, [hist, latency])
}

fn share(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub(crate) fn total(functions: &[FunctionReport], hists: &[[Histogram; 2]]) -> FunctionReport {
    let (mut merged, mut latency) = (Histogram::new(), Histogram::new());
    for [d, l] in hists {
        merged.merge(d);
        latency.merge(l);
    }
    let sum = |f: fn(&FunctionReport) -> u64| functions.iter().map(f).sum::<u64>();
    let mut cost = CostBreakdown::default();
    let mut warmups = WarmupOutcome::default();
    for f in functions {
        cost += f.cost;
        warmups.sent += f.warmups.sent;
        warmups.landed_cold += f.warmups.landed_cold;
        warmups.failed += f.warmups.failed;
    }
    let invocations = sum(|f| f.invocations);
    let cold_starts = sum(|f| f.cold_starts);
    FunctionReport {
        name: "total".into(),
        archetype: format!("{} functions", functions.len()),
        runtime: String::new(),
        architecture: String::new(),
        workload: String::new(),
        traffic: String::new(),
        memory_start_mb: 0,
        memory_end_mb: 0,
        invocations,
        cold_starts,
        cold_start_share: share(cold_starts, invocations),
        p50_ms: merged.quantile(0.5),
        p99_ms: merged.quantile(0.99),
        p99_latency_ms: latency.quantile(0.99),
        errors: sum(|f| f.errors),
        timeouts: sum(|f| f.timeouts),
        out_of_memory: sum(|f| f.out_of_memory),
        throttles: sum(|f| f.throttles),
        warmups,
        decisions: sum(|f| f.decisions),
        cost_usd: cost.total(),
        cost,
    }
}
