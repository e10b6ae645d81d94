//! The baselines, each a faithful replica of what users run today, and the oracles.

use std::collections::HashMap;

use autopilot_core::Minute;
use autopilot_sim::peak::poisson_upper_quantile;

use super::driver::{Action, MinuteObs, Policy};
use super::profile::Profile;
use super::setup;

/// On-demand only: nothing kept warm.
#[derive(Debug, Default)]
pub struct OnDemand;

impl Policy for OnDemand {
    fn act(&mut self, _now: Minute, _index: usize) -> Action {
        Action::default()
    }
}

/// A constant provisioned level for the whole run.
#[derive(Debug)]
pub struct StaticPc(pub u32);

impl Policy for StaticPc {
    fn act(&mut self, _now: Minute, index: usize) -> Action {
        Action { provisioned: (index == 0).then_some(self.0), ..Action::default() }
    }
}

/// Application Auto Scaling target tracking on `LambdaProvisionedConcurrencyUtilization` at
/// 0.7: 1-minute average utilisation; scale out after 3 consecutive points above the target,
/// scale in after 15 consecutive points below 90% of it (63%); capacity
/// `ceil(current × utilisation / target)`; minimum capacity 1; the pool's 2-minute
/// allocation delay. Utilisation is of the READY provisioned environments, as CloudWatch
/// reports it, so spill-over to on-demand is invisible to it (as in AWS).
#[derive(Debug)]
pub struct TargetTracking {
    target: f64,
    capacity: u32,
    above: u32,
    below: u32,
    pending: Option<u32>,
}

impl Default for TargetTracking {
    fn default() -> Self {
        Self { target: 0.7, capacity: 1, above: 0, below: 0, pending: Some(1) }
    }
}

impl Policy for TargetTracking {
    fn act(&mut self, _now: Minute, _index: usize) -> Action {
        Action { provisioned: self.pending.take(), ..Action::default() }
    }

    fn observe(&mut self, obs: &MinuteObs) {
        if obs.pc_ready == 0 {
            return; // still allocating: no datapoint
        }
        let utilisation = (obs.pc_busy_ms / (f64::from(obs.pc_ready) * 60_000.0)).min(1.0);
        if utilisation > self.target {
            self.above += 1;
            self.below = 0;
        } else if utilisation < 0.9 * self.target {
            self.below += 1;
            self.above = 0;
        } else {
            self.above = 0;
            self.below = 0;
        }
        let desired = (f64::from(self.capacity) * utilisation / self.target).ceil().max(1.0) as u32;
        if self.above >= 3 && desired > self.capacity {
            self.capacity = desired;
            self.pending = Some(desired);
            self.above = 0;
        } else if self.below >= 15 && desired < self.capacity {
            self.capacity = desired;
            self.pending = Some(desired);
            self.below = 0;
        }
    }
}

/// serverless-plugin-warmup style: `count` concurrent warm-up calls every 5 minutes.
#[derive(Debug)]
pub struct FixedPinger {
    pub count: u32,
    pub hold_ms: u32,
}

impl Policy for FixedPinger {
    fn act(&mut self, now: Minute, _index: usize) -> Action {
        let warm = if now.0 % 5 == 0 { self.count } else { 0 };
        Action { provisioned: None, warm, hold_ms: self.hold_ms }
    }
}

/// PC scheduled per hour of the week at the p90 of the peak concurrency seen in that hour
/// of the week in the history (what a team does with a CloudWatch histogram), requested
/// the allocation delay before the hour starts.
#[derive(Debug)]
pub struct HourOfWeek {
    levels: HashMap<i64, u32>,
    current: Option<u32>,
}

impl HourOfWeek {
    /// From per-minute invocations of the history: each minute's peak concurrency is the
    /// M/G/∞ bound (the Poisson quantile that one look per mean duration reaches once).
    pub fn from_history(history: &[(Minute, u64)]) -> Self {
        let mut by_hour: HashMap<i64, Vec<u32>> = HashMap::new();
        let looks = 60_000.0 / setup::MEAN_DURATION_MS;
        for &(minute, n) in history {
            let mean = n as f64 * setup::MEAN_DURATION_MS / 60_000.0;
            let peak = if n == 0 { 0 } else { poisson_upper_quantile(mean, 1.0 / looks) };
            by_hour.entry(minute.minute_of_week() / 60).or_default().push(peak);
        }
        let levels = by_hour
            .into_iter()
            .map(|(h, mut v)| {
                v.sort_unstable();
                let i = ((v.len() as f64 * 0.9).ceil() as usize).clamp(1, v.len()) - 1;
                (h, v[i])
            })
            .collect();
        Self { levels, current: None }
    }
}

impl Policy for HourOfWeek {
    fn act(&mut self, now: Minute, _index: usize) -> Action {
        let lead = (setup::PC_ALLOCATION_DELAY_MS / 60_000.0) as i64;
        let hour = |m: Minute| m.minute_of_week() / 60;
        let level = |h| self.levels.get(&h).copied().unwrap_or(0);
        // Raise for the coming hour early; lower when the hour that needed more is over.
        let want = level(hour(now.plus(lead))).max(level(hour(now)));
        let changed = self.current != Some(want);
        self.current = Some(want);
        Action { provisioned: changed.then_some(want), ..Action::default() }
    }
}

/// Perfect foresight of the exact concurrency: per slot, PC on the levels busy at least
/// `pc_share` of the slot (requested the allocation delay ahead), and optionally warm-up
/// rounds every `period` minutes covering the most callers the next `period` minutes see.
#[derive(Debug)]
pub struct Oracle<'a> {
    pub profile: &'a Profile,
    pub pc_share: f64,
    pub keep_warm: bool,
    pub period: u32,
    pub hold_ms: u32,
    pub current: Option<u32>,
}

impl Policy for Oracle<'_> {
    fn act(&mut self, _now: Minute, index: usize) -> Action {
        let lead = (setup::PC_ALLOCATION_DELAY_MS / 60_000.0) as usize;
        let pc_at = |m: usize| self.profile.levels_busy_at_least((m / 5).min(self.profile.slots() - 1), self.pc_share);
        let want = pc_at(index).max(pc_at(index + lead));
        let changed = self.current != Some(want);
        self.current = Some(want);
        let mut warm = 0;
        if self.keep_warm && index.is_multiple_of(self.period as usize) {
            let last = self.profile.slots() - 1;
            let (a, b) = (index / 5, ((index + self.period as usize) / 5).min(last));
            warm = (a.min(last)..=b).map(|s| self.profile.max[s]).max().unwrap_or(0);
            if warm <= want {
                warm = 0; // PC covers it
            }
        }
        Action { provisioned: changed.then_some(want), warm, hold_ms: self.hold_ms }
    }
}
