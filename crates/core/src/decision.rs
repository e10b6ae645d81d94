//! Decisions and the reasons they carry. A decision explains itself: logs, EventBridge
//! events, the change log and reports all print what is in here, nothing more.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{FunctionRef, MemoryMb, Minute};

/// What the tuner expects at the size it chose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expectation {
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Cost per million invocations including requests and the INIT share (USD).
    pub cost_per_million_usd: f64,
    /// 0..=1: how sure the model is that this size is within tolerance of the best.
    pub confidence: f64,
    /// Upper credible bound of the p99 at the policy's confidence (ms): a change whose p99
    /// lands above this (plus the guardrail's margin) did not do what was expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_upper_ms: Option<f64>,
}

/// Why the tuner decided what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "code")]
pub enum MemoryReason {
    /// Not enough invocations to judge.
    InsufficientData { invocations: u64, needed: u64 },
    /// The current size is the best known within tolerance.
    AtOptimum,
    /// Another size is cheaper (goal: cost or balanced).
    Cheaper { saving_pct: f64 },
    /// Another size is faster (goal: speed or balanced).
    Faster { p99_gain_pct: f64 },
    /// The current size breaks a hard constraint.
    ConstraintViolated { constraint: Constraint },
    /// A sample at this size most reduces the uncertainty about the optimum.
    Exploring { uncertainty_pct: f64 },
    /// The previous change made things worse.
    Regressed { verdict: Verdict },
    /// The mode forbids changes; the decision is a recommendation.
    RecommendOnly,
    /// The canary at the new size passed its verdict: shift all traffic to it.
    CanaryHealthy,
}

/// A hard constraint of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Constraint {
    P99Slo { slo_ms: f64, observed_ms: f64 },
    CostCeiling { ceiling_usd: f64, observed_usd: f64 },
    MemoryHeadroom { needed_mb: f64, configured_mb: u32 },
    OutOfMemory,
    Timeout,
}

/// How a memory change goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Rollout {
    /// Update the function's configuration directly (callers invoke `$LATEST` or nothing
    /// routes through an alias).
    Direct,
    /// Publish a version at the new size and shift this share (percent) of the alias's
    /// traffic to it first.
    AliasCanary { weight_pct: u8 },
}

/// The memory decision for one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum MemoryDecision {
    Keep {
        memory: MemoryMb,
        reason: MemoryReason,
    },
    /// Try a size to learn about it (active probe or a passive step).
    Explore {
        from: MemoryMb,
        to: MemoryMb,
        reason: MemoryReason,
        expected: Expectation,
        rollout: Rollout,
    },
    Resize {
        from: MemoryMb,
        to: MemoryMb,
        reason: MemoryReason,
        expected: Expectation,
        rollout: Rollout,
    },
    /// Go back to the recorded previous size.
    Rollback {
        from: MemoryMb,
        to: MemoryMb,
        verdict: Verdict,
    },
}

impl MemoryDecision {
    /// The size the function should run at after this decision.
    pub fn target(&self) -> MemoryMb {
        match self {
            Self::Keep { memory, .. } => *memory,
            Self::Explore { to, .. } | Self::Resize { to, .. } | Self::Rollback { to, .. } => *to,
        }
    }

    /// True when applying the decision changes the function.
    pub fn changes(&self) -> bool {
        !matches!(self, Self::Keep { .. })
    }
}

/// A guardrail metric compared across a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    ErrorRate,
    TimeoutRate,
    OutOfMemoryRate,
    ThrottleRate,
    P99DurationMs,
    CostPerInvocation,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ErrorRate => "error rate",
            Self::TimeoutRate => "timeout rate",
            Self::OutOfMemoryRate => "out-of-memory rate",
            Self::ThrottleRate => "throttle rate",
            Self::P99DurationMs => "p99 duration",
            Self::CostPerInvocation => "cost per invocation",
        })
    }
}

/// The guardrail's judgement of a change, comparing the window after it with the one before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "verdict")]
pub enum Verdict {
    Healthy,
    /// Not enough evidence yet either way.
    Inconclusive {
        invocations: u64,
        needed: u64,
    },
    /// Significantly worse on `metric` (at the policy's confidence).
    Regressed {
        metric: Metric,
        before: f64,
        after: f64,
    },
}

/// Why a slot of a concurrency plan keeps what it keeps warm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "code")]
pub enum ConcurrencyReason {
    /// These levels are forecast busy above the PC break-even utilisation.
    BusyAboveBreakEven { utilisation: f64, break_even: f64 },
    /// Keep-warm is cheaper than the cold starts it prevents, and than PC.
    KeepWarmCheaper { expected_cold_starts: f64 },
    /// Expected cold starts cost less than preventing them.
    ColdStartsCheaper { expected_cold_starts: f64 },
    /// Nothing forecast: scale to zero.
    Idle,
    /// Held to avoid exposing traffic to reclaimed environments or flapping.
    Hysteresis,
    /// Capped by the policy's budget or maximum.
    Capped { limit: String },
    /// Not enough history to forecast.
    InsufficientHistory { minutes: u64 },
}

/// What to keep warm in one slot of the horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedSlot {
    pub start: Minute,
    /// Provisioned concurrency to have READY at `start`.
    pub provisioned: u32,
    /// Overlapping keep-warm invocations to send in each round of the slot (every
    /// [`ConcurrencyPlan::keep_warm_period_minutes`]). Lambda routes invocations to idle
    /// provisioned environments first, so this count includes the provisioned ones: the
    /// environments kept warm on demand are `keep_warm - provisioned`. 0 = no warm-up.
    pub keep_warm: u32,
    /// Why `provisioned` is what it is.
    pub reason: ConcurrencyReason,
    /// Why `keep_warm` is what it is (`None` when keep-warm is off for the group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_warm_reason: Option<ConcurrencyReason>,
    /// Forecast p99 of invocations per minute in the slot.
    #[serde(default)]
    pub forecast_p99_per_minute: f64,
    /// Cold starts the plan still expects in the slot.
    #[serde(default)]
    pub expected_cold_starts: f64,
}

/// The cold-start plan of one function alias over the planning horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcurrencyPlan {
    pub function: FunctionRef,
    pub made_at: Minute,
    pub slots: Vec<PlannedSlot>,
    /// Expected cost of the plan over the horizon and of doing nothing (USD).
    pub expected_cost_usd: f64,
    pub baseline_cost_usd: f64,
    pub expected_cold_starts: f64,
    pub baseline_cold_starts: f64,
    /// Minutes between keep-warm rounds, and how long each warm-up call holds (ms).
    #[serde(default)]
    pub keep_warm_period_minutes: u32,
    #[serde(default)]
    pub keep_warm_hold_ms: u32,
}

impl ConcurrencyPlan {
    /// Provisioned concurrency to request at `now`: the most any slot needs that starts
    /// before `now + slot + lead` (raise early enough to be READY, never lower under a slot
    /// that still needs it). 0 for an empty plan.
    pub fn provisioned_to_request(&self, now: Minute, slot_minutes: u32, lead_minutes: u32) -> u32 {
        let until = now.plus(i64::from(slot_minutes) + i64::from(lead_minutes));
        self.slots
            .iter()
            .filter(|s| s.start < until && s.start.plus(i64::from(slot_minutes)) > now)
            .map(|s| s.provisioned)
            .max()
            .unwrap_or(0)
    }

    /// Environments a warm-up round sent at `now` keeps warm: the most any slot needs that
    /// overlaps `[now, until)`, `until` being when the next round goes out. A round that
    /// warmed for its own slot alone would leave the next one short from its first minute
    /// until that round, and the slots a rhythm needs most (a batch or a timer's at the top
    /// of the hour) start with their calls. 0 for an empty plan.
    pub fn keep_warm_until(&self, now: Minute, until: Minute, slot_minutes: u32) -> u32 {
        self.slots
            .iter()
            .filter(|s| s.start < until.max(now.plus(1)) && s.start.plus(i64::from(slot_minutes)) > now)
            .map(|s| s.keep_warm)
            .max()
            .unwrap_or(0)
    }

    /// The slot that covers `now`, if any.
    pub fn slot_at(&self, now: Minute, slot_minutes: u32) -> Option<&PlannedSlot> {
        self.slots.iter().find(|s| s.start <= now && now < s.start.plus(i64::from(slot_minutes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_serialize_with_their_reason() {
        let d = MemoryDecision::Rollback {
            from: MemoryMb::new(256).unwrap(),
            to: MemoryMb::new(512).unwrap(),
            verdict: Verdict::Regressed { metric: Metric::OutOfMemoryRate, before: 0.0, after: 0.04 },
        };
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["action"], "rollback");
        assert_eq!(json["verdict"]["metric"], "outOfMemoryRate");
        assert_eq!(d.target().get(), 512);
        assert!(d.changes());
        let back: MemoryDecision = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn a_round_keeps_warm_what_the_slots_until_the_next_round_need() {
        let slot = |start: i64, keep_warm: u32| PlannedSlot {
            start: Minute(start),
            provisioned: 0,
            keep_warm,
            reason: ConcurrencyReason::Idle,
            keep_warm_reason: None,
            forecast_p99_per_minute: 0.0,
            expected_cold_starts: 0.0,
        };
        let plan = ConcurrencyPlan {
            function: FunctionRef::parse("batches:live").unwrap(),
            made_at: Minute(100),
            slots: vec![slot(100, 1), slot(105, 6), slot(110, 2)],
            expected_cost_usd: 0.0,
            baseline_cost_usd: 0.0,
            expected_cold_starts: 0.0,
            baseline_cold_starts: 0.0,
            keep_warm_period_minutes: 4,
            keep_warm_hold_ms: 50,
        };
        let w = |now: i64, until: i64| plan.keep_warm_until(Minute(now), Minute(until), 5);
        // A round at minute 2 of the first slot, the next at minute 6: the batch slot counts.
        assert_eq!(w(102, 106), 6);
        // The next round at the batch slot's start: that round warms for it.
        assert_eq!((w(101, 105), w(105, 109)), (1, 6));
        // Past the batch: only what is left; `until` not after `now` is the slot at `now`.
        assert_eq!((w(107, 111), w(112, 112), w(112, 100)), (6, 2, 2));
        // Beyond the plan: nothing.
        assert_eq!(w(115, 119), 0);
    }
}
