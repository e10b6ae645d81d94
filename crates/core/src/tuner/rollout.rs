//! How far one run may move memory, how a change goes out, and what a regression leaves
//! behind: the previous size to return to and a range of sizes off-limits for a while.

use serde::{Deserialize, Serialize};

use crate::decision::{Expectation, Metric, Rollout};
use crate::domain::{MemoryMb, Minute};
use crate::policy::Constraints;

/// Share of an alias's traffic a canary version receives first.
pub const CANARY_WEIGHT_PCT: u8 = 10;

/// Sizes the tuner may not choose until `until`: left behind by a rolled-back change.
///
/// A regression moving down in memory bans the bad size and everything below it (less memory
/// is less CPU and less room: it can only be as bad); moving up bans the bad size and
/// everything above it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ban {
    pub lowest: MemoryMb,
    pub highest: MemoryMb,
    /// The size that regressed.
    pub regressed_at: MemoryMb,
    pub metric: Metric,
    /// First minute at which the ban no longer applies.
    pub until: Minute,
    /// After a p99 regression: the p99 the function had at the good size, plus the
    /// guardrail's margin. Until the ban expires it is an SLO the tuner keeps (sizes that
    /// share the cliff are off-limits too, not only the one that showed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_limit_ms: Option<f64>,
}

impl Ban {
    pub fn after_regression(good: MemoryMb, bad: MemoryMb, metric: Metric, now: Minute, cooling_hours: u32) -> Self {
        let (lowest, highest) = if bad < good { (MemoryMb::MIN, bad) } else { (bad, MemoryMb::MAX) };
        Self {
            lowest,
            highest,
            regressed_at: bad,
            metric,
            until: now.plus(i64::from(cooling_hours) * Minute::PER_HOUR),
            p99_limit_ms: None,
        }
    }

    pub fn is_active(&self, now: Minute) -> bool {
        now < self.until
    }

    pub fn covers(&self, memory: MemoryMb) -> bool {
        (self.lowest..=self.highest).contains(&memory)
    }
}

/// A change whose effect has not been judged yet: what the shell records when it applies a
/// decision, and hands back to the next run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingChange {
    pub at: Minute,
    pub from: MemoryMb,
    pub to: MemoryMb,
    pub rollout: Rollout,
    /// What the tuner expected at `to`.
    pub expected: Option<Expectation>,
}

/// The sizes one run may move to from `current`: within `max_step_factor` either way and
/// within the policy's memory range.
pub fn step_range(current: MemoryMb, c: &Constraints) -> (MemoryMb, MemoryMb) {
    let cur = f64::from(current.get());
    let lo = MemoryMb::clamped((cur / c.max_step_factor).ceil()).max(c.min_memory_mb);
    let hi = MemoryMb::clamped((cur * c.max_step_factor).floor()).min(c.max_memory_mb);
    (lo.min(hi), hi.max(lo))
}

/// `target` brought within one run's step of `current`.
pub fn bounded(current: MemoryMb, target: MemoryMb, c: &Constraints) -> MemoryMb {
    let (lo, hi) = step_range(current, c);
    target.clamp(lo, hi)
}

/// The next size on the way from `current` to `target`, one run's move: the target when one
/// run reaches it, else a full step toward it — unless that step would stop short of the
/// target by less than a change worth deploying (from which no run could finish the way),
/// in which case the rest of the way is split into two equal ratios. Every path the tuner
/// plans is walked with this function, so a path it weighs is the path it takes.
pub fn next_hop(current: MemoryMb, target: MemoryMb, c: &Constraints) -> MemoryMb {
    let full = bounded(current, target, c);
    if full == target || worth_a_change(full, target, c) {
        return full;
    }
    let mid =
        bounded(current, MemoryMb::clamped((f64::from(current.get()) * f64::from(target.get())).sqrt().round()), c);
    if worth_a_change(current, mid, c) { mid } else { full }
}

/// True when moving from `current` to `target` is a change worth deploying: at least the
/// policy's smallest step, or at least half of it onto an end of the policy's range (nothing
/// lies beyond an end, so no larger change could reach it: at 184 MB the smallest step of
/// 64 MB is a third of the memory, and 128 MB would stay out of reach; a size within half a
/// smallest step of the end counts as the end).
pub fn worth_a_change(current: MemoryMb, target: MemoryMb, c: &Constraints) -> bool {
    let step = current.get().abs_diff(target.get());
    step >= c.min_step_mb.max(1)
        || (step * 2 >= c.min_step_mb.max(1) && (target == c.min_memory_mb || target == c.max_memory_mb))
}

/// How a change goes out: a weighted canary where callers come through an alias.
pub fn rollout_for(via_alias: bool) -> Rollout {
    if via_alias { Rollout::AliasCanary { weight_pct: CANARY_WEIGHT_PCT } } else { Rollout::Direct }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(v: u64) -> MemoryMb {
        MemoryMb::new(v).unwrap()
    }

    #[test]
    fn steps_are_bounded_by_the_factor_and_the_range() {
        let c = Constraints::default();
        assert_eq!(step_range(mb(1024), &c), (mb(512), mb(2048)));
        assert_eq!(step_range(mb(200), &c), (mb(128), mb(400)));
        assert_eq!(step_range(mb(8000), &c), (mb(4000), mb(10_240)));
        assert_eq!(bounded(mb(1024), mb(128), &c), mb(512));
        let narrow = Constraints { min_memory_mb: mb(512), max_memory_mb: mb(768), ..c.clone() };
        assert_eq!(step_range(mb(1024), &narrow), (mb(512), mb(768)));
        assert!(!worth_a_change(mb(1024), mb(1060), &c));
        assert!(worth_a_change(mb(1024), mb(1088), &c));
        // The end of the range is worth reaching even by less than the smallest step.
        assert!(worth_a_change(mb(184), mb(128), &c) && !worth_a_change(mb(184), mb(130), &c));
        assert!(!worth_a_change(mb(150), mb(128), &c), "within half a step of the end is the end");
        assert!(!worth_a_change(mb(128), mb(128), &c));
    }

    #[test]
    fn a_path_never_ends_short_of_its_target_by_less_than_a_step() {
        let c = Constraints::default();
        // A full step from 400 toward 140 lands at 200, 60 MB short: no run could finish.
        assert_eq!(bounded(mb(400), mb(140), &c), mb(200));
        let first = next_hop(mb(400), mb(140), &c);
        assert_eq!(first, mb(237));
        assert_eq!(next_hop(first, mb(140), &c), mb(140));
        // Far targets: full steps; reachable targets: the target.
        assert_eq!(next_hop(mb(175), mb(1480), &c), mb(350));
        assert_eq!(next_hop(mb(1024), mb(1480), &c), mb(1480));
    }

    #[test]
    fn a_ban_covers_the_bad_side() {
        let now = Minute(1_000);
        let down = Ban::after_regression(mb(1024), mb(512), Metric::P99DurationMs, now, 168);
        assert!(down.covers(mb(128)) && down.covers(mb(512)) && !down.covers(mb(513)));
        assert!(down.is_active(now.plus(167 * 60)) && !down.is_active(now.plus(168 * 60)));
        let up = Ban::after_regression(mb(512), mb(1024), Metric::ErrorRate, now, 1);
        assert!(up.covers(mb(10_240)) && !up.covers(mb(1000)));
        let json = serde_json::to_value(up).unwrap();
        assert_eq!(json["metric"], "errorRate");
        assert_eq!(serde_json::from_value::<Ban>(json).unwrap(), up);
    }

    #[test]
    fn canary_only_through_an_alias() {
        assert_eq!(rollout_for(false), Rollout::Direct);
        assert_eq!(rollout_for(true), Rollout::AliasCanary { weight_pct: 10 });
    }
}
