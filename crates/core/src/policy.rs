//! The `Policy`: what a group of functions should be optimised for, within which limits,
//! and how far the autopilot may act. Carried in the execution input; every field has a
//! documented default, and [`Policy::validate`] rejects contradictions at the boundary.

use serde::{Deserialize, Serialize};

use crate::domain::MemoryMb;

/// What the autopilot may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Collect and summarise only.
    Observe,
    /// Decide and publish recommendations; change nothing. The default: a new group
    /// earns autopilot by showing its recommendations first.
    #[default]
    Recommend,
    /// Decide and apply.
    Autopilot,
}

impl Mode {
    pub fn applies_changes(self) -> bool {
        self == Self::Autopilot
    }
}

/// What "better" means for a function.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Goal {
    /// Lowest cost per invocation that meets the constraints. The default.
    #[default]
    Cost,
    /// Lowest duration that meets the constraints (cost ceiling included).
    Speed,
    /// Minimise `(1 − speedWeight)·cost/cost_min + speedWeight·duration/duration_min`.
    Balanced {
        /// 0 = cost only, 1 = speed only.
        #[serde(rename = "speedWeight")]
        speed_weight: f64,
    },
}

/// Hard limits every memory decision respects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Constraints {
    /// p99 duration must stay at or below this (ms). Default: none.
    pub p99_slo_ms: Option<f64>,
    /// Cost per million invocations (requests + duration + INIT share) must stay at or
    /// below this (USD). Default: none.
    pub cost_ceiling_per_million_usd: Option<f64>,
    /// Memory must stay ≥ max memory used × (1 + headroom). Default 0.25.
    pub memory_headroom: f64,
    /// Lowest memory the autopilot may choose. Default 128 MB.
    pub min_memory_mb: MemoryMb,
    /// Highest memory the autopilot may choose. Default 10,240 MB.
    pub max_memory_mb: MemoryMb,
    /// One run changes memory by at most this factor up or down. Default 2.0.
    pub max_step_factor: f64,
    /// Changes smaller than this are not worth a deployment (MB). Default 64.
    pub min_step_mb: u32,
}

impl Default for Constraints {
    fn default() -> Self {
        Self {
            p99_slo_ms: None,
            cost_ceiling_per_million_usd: None,
            memory_headroom: 0.25,
            min_memory_mb: MemoryMb::MIN,
            max_memory_mb: MemoryMb::MAX,
            max_step_factor: 2.0,
            min_step_mb: 64,
        }
    }
}

/// Limits on the cold-start planner (provisioned concurrency and keep-warm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ConcurrencyPolicy {
    /// Plan and manage provisioned concurrency at all. Default true.
    pub enabled: bool,
    /// Keep-warm invocations are allowed (they invoke the function). Default false: opt-in.
    pub keep_warm: bool,
    /// Price of one cold start in USD, on top of its INIT cost: how much latency matters.
    /// Default 0.0001 (a cold start is worth avoiding if it costs less than 1/100 cent).
    pub cold_start_penalty_usd: f64,
    /// Most provisioned environments per alias. Default: none.
    pub max_provisioned: Option<u32>,
    /// Most extra spend per function per day on PC and keep-warm (USD), spread evenly over
    /// the day's slots; like `maxExtraCostPct`, a budget to spend on fewer cold starts.
    /// Default: none.
    pub budget_per_day_usd: Option<f64>,
    /// Planning horizon (minutes). Default 60.
    pub horizon_minutes: u32,
    /// Slot length of a plan (minutes); PC bills in 5-minute steps. Default 5.
    pub slot_minutes: u32,
    /// Keep-warm rounds are sent every this many minutes. Must be shorter than the shortest
    /// time AWS may keep an idle environment (undocumented; 5 minutes is the shortest seen).
    /// Default 4.
    pub keep_warm_period_minutes: u32,
    /// Each warm-up invocation holds its environment this long (ms), so the calls of one
    /// round overlap and land on distinct environments. Default 50.
    pub keep_warm_hold_ms: u32,
    /// Idle time after which the planner assumes an on-demand environment is reclaimed
    /// (minutes). AWS does not document it; the shortest plausible value is the safe one.
    /// Default 5.
    pub assumed_reclaim_minutes: u32,
    /// Time provisioned concurrency takes to become READY (minutes); PC is requested this
    /// much before the slot that needs it. Default 2.
    pub allocation_lead_minutes: u32,
    /// A budget instead of a price of latency: each slot may add at most this share of the
    /// function's expected on-demand cost (PC and keep-warm, minus the INIT and duration they
    /// save), in percent, and within it the planner removes as many cold starts as it can.
    /// Savings count only as far as they are sure (PC's as busy as the forecast's lowest
    /// scenario keeps it), and a share unspent may be spent later, never ahead of its slot
    /// (one-offs such as raising PC excepted: the hour's total pays for them).
    /// 0 = cost-neutral. Default: none (`coldStartPenaltyUsd` decides).
    pub max_extra_cost_pct: Option<f64>,
}

impl ConcurrencyPolicy {
    /// The group states a money cap (`maxExtraCostPct` or `budgetPerDayUsd`).
    pub fn is_capped(&self) -> bool {
        self.max_extra_cost_pct.is_some() || self.budget_per_day_usd.is_some()
    }
}

impl Default for ConcurrencyPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_warm: false,
            cold_start_penalty_usd: 0.0001,
            max_provisioned: None,
            budget_per_day_usd: None,
            horizon_minutes: 60,
            slot_minutes: 5,
            keep_warm_period_minutes: 4,
            keep_warm_hold_ms: 50,
            assumed_reclaim_minutes: 5,
            allocation_lead_minutes: 2,
            max_extra_cost_pct: None,
        }
    }
}

/// When a change is judged, and when a judged-bad size may be tried again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Guardrails {
    /// Invocations needed at a size before its figures are trusted. Default 50
    /// (Compute Optimizer's minimum, for comparison).
    pub min_invocations: u64,
    /// Confidence of the regression test that compares windows. Default 0.95.
    pub confidence: f64,
    /// Hours a size stays off-limits after it regressed. Default 168 (one week).
    pub cooling_hours: u32,
    /// Practical significance of a p99 change when no SLO is set: a change regresses p99
    /// only if p99 exceeds what the tuner predicted (or, without a prediction, the p99
    /// before) by more than this share. With an SLO, the SLO is the limit. Default 0.25.
    pub p99_margin: f64,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self { min_invocations: 50, confidence: 0.95, cooling_hours: 168, p99_margin: 0.25 }
    }
}

/// Everything that steers decisions for a group of functions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Policy {
    pub mode: Mode,
    pub goal: Goal,
    pub constraints: Constraints,
    pub concurrency: ConcurrencyPolicy,
    pub guardrails: Guardrails,
}

/// A policy that contradicts itself or is out of range; says which field and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid policy: {field} {problem}")]
pub struct PolicyError {
    pub field: &'static str,
    pub problem: String,
}

impl Policy {
    /// Parses a policy from JSON (unknown fields rejected) and validates it.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let p: Self =
            serde_json::from_str(json).map_err(|e| PolicyError { field: "policy", problem: e.to_string() })?;
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        let fail = |field, problem: String| Err(PolicyError { field, problem });
        let c = &self.constraints;
        if let Goal::Balanced { speed_weight } = self.goal
            && !(0.0..=1.0).contains(&speed_weight)
        {
            return fail("goal.speedWeight", format!("must be within 0..=1, got {speed_weight}"));
        }
        if let Some(slo) = c.p99_slo_ms
            && !(slo.is_finite() && slo > 0.0)
        {
            return fail("constraints.p99SloMs", format!("must be a positive number of ms, got {slo}"));
        }
        if let Some(ceiling) = c.cost_ceiling_per_million_usd
            && !(ceiling.is_finite() && ceiling > 0.0)
        {
            return fail("constraints.costCeilingPerMillionUsd", format!("must be positive, got {ceiling}"));
        }
        if !(0.0..=4.0).contains(&c.memory_headroom) {
            return fail("constraints.memoryHeadroom", format!("must be within 0..=4, got {}", c.memory_headroom));
        }
        if c.min_memory_mb > c.max_memory_mb {
            return fail(
                "constraints.minMemoryMb",
                format!("{} is above maxMemoryMb {}", c.min_memory_mb, c.max_memory_mb),
            );
        }
        if !(c.max_step_factor.is_finite() && c.max_step_factor > 1.0) {
            return fail("constraints.maxStepFactor", format!("must be above 1, got {}", c.max_step_factor));
        }
        let k = &self.concurrency;
        if !(k.cold_start_penalty_usd.is_finite() && k.cold_start_penalty_usd >= 0.0) {
            return fail("concurrency.coldStartPenaltyUsd", format!("must be ≥ 0, got {}", k.cold_start_penalty_usd));
        }
        if k.slot_minutes == 0
            || k.horizon_minutes < k.slot_minutes
            || !k.horizon_minutes.is_multiple_of(k.slot_minutes)
        {
            return fail(
                "concurrency.horizonMinutes",
                format!("must be a positive multiple of slotMinutes ({}), got {}", k.slot_minutes, k.horizon_minutes),
            );
        }
        if let Some(b) = k.budget_per_day_usd
            && !(b.is_finite() && b >= 0.0)
        {
            return fail("concurrency.budgetPerDayUsd", format!("must be ≥ 0, got {b}"));
        }
        if k.keep_warm_period_minutes == 0 || k.keep_warm_period_minutes >= k.assumed_reclaim_minutes {
            return fail(
                "concurrency.keepWarmPeriodMinutes",
                format!(
                    "must be positive and shorter than assumedReclaimMinutes ({}), got {}",
                    k.assumed_reclaim_minutes, k.keep_warm_period_minutes
                ),
            );
        }
        if !(1..=10_000).contains(&k.keep_warm_hold_ms) {
            return fail(
                "concurrency.keepWarmHoldMs",
                format!("must be within 1..=10000, got {}", k.keep_warm_hold_ms),
            );
        }
        if k.allocation_lead_minutes > k.slot_minutes {
            return fail(
                "concurrency.allocationLeadMinutes",
                format!("must be at most slotMinutes ({}), got {}", k.slot_minutes, k.allocation_lead_minutes),
            );
        }
        if let Some(pct) = k.max_extra_cost_pct
            && !(pct.is_finite() && pct >= 0.0)
        {
            return fail("concurrency.maxExtraCostPct", format!("must be ≥ 0, got {pct}"));
        }
        let g = &self.guardrails;
        if !(0.5..1.0).contains(&g.confidence) {
            return fail("guardrails.confidence", format!("must be within 0.5..1, got {}", g.confidence));
        }
        if !(g.p99_margin.is_finite() && g.p99_margin >= 0.0) {
            return fail("guardrails.p99Margin", format!("must be ≥ 0, got {}", g.p99_margin));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_gives_the_documented_defaults() {
        let p = Policy::from_json("{}").unwrap();
        assert_eq!(p.mode, Mode::Recommend);
        assert_eq!(p.goal, Goal::Cost);
        assert_eq!(p.constraints.memory_headroom, 0.25);
        assert_eq!(p.constraints.max_step_factor, 2.0);
        assert!(!p.concurrency.keep_warm);
        assert_eq!(p.guardrails.min_invocations, 50);
        assert_eq!(p, Policy::default());
    }

    #[test]
    fn a_full_policy_parses() {
        let p = Policy::from_json(
            r#"{"mode":"autopilot","goal":{"kind":"balanced","speedWeight":0.3},
                "constraints":{"p99SloMs":800,"minMemoryMb":256},
                "concurrency":{"keepWarm":true,"budgetPerDayUsd":2.5}}"#,
        )
        .unwrap();
        assert!(p.mode.applies_changes());
        assert_eq!(p.goal, Goal::Balanced { speed_weight: 0.3 });
        assert_eq!(p.constraints.p99_slo_ms, Some(800.0));
        assert_eq!(p.constraints.min_memory_mb.get(), 256);
        assert!(p.concurrency.keep_warm);
    }

    #[test]
    fn bad_policies_name_the_field() {
        for (json, field) in [
            (r#"{"goal":{"kind":"balanced","speedWeight":1.5}}"#, "speedWeight"),
            (r#"{"constraints":{"p99SloMs":-1}}"#, "p99SloMs"),
            (r#"{"constraints":{"minMemoryMb":4096,"maxMemoryMb":1024}}"#, "minMemoryMb"),
            (r#"{"constraints":{"maxStepFactor":1.0}}"#, "maxStepFactor"),
            (r#"{"guardrails":{"p99Margin":-0.1}}"#, "p99Margin"),
            (r#"{"concurrency":{"horizonMinutes":7}}"#, "horizonMinutes"),
            (r#"{"concurrency":{"keepWarmPeriodMinutes":5}}"#, "keepWarmPeriodMinutes"),
            (r#"{"concurrency":{"keepWarmHoldMs":0}}"#, "keepWarmHoldMs"),
            (r#"{"concurrency":{"allocationLeadMinutes":9}}"#, "allocationLeadMinutes"),
            (r#"{"concurrency":{"maxExtraCostPct":-1}}"#, "maxExtraCostPct"),
            (r#"{"constraints":{"minMemoryMb":64}}"#, "128..=10240"),
            (r#"{"mode":"yolo"}"#, "yolo"),
            (r#"{"modes":"observe"}"#, "modes"),
        ] {
            let e = Policy::from_json(json).unwrap_err().to_string();
            assert!(e.contains(field), "{json}: {e}");
        }
    }
}
