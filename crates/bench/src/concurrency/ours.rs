//! The autopilot as the benchmark runs it: every 5 minutes, the core forecaster on the
//! per-minute history it has observed, then the core planner; the PC level is requested a
//! lead time ahead, warm-up rounds go out every `keepWarmPeriodMinutes`.

use std::collections::VecDeque;

use autopilot_core::decision::ConcurrencyPlan;
use autopilot_core::forecast::{ForecastConfig, forecast_load};
use autopilot_core::observe::MinuteLoad;
use autopilot_core::planner::evidence::IdleEvidence;
use autopilot_core::planner::{PlannerState, plan};
use autopilot_core::policy::ConcurrencyPolicy;
use autopilot_core::{FunctionRef, Minute};

use super::driver::{Action, MinuteObs, Policy};
use super::setup;

/// Post-idle calls the autopilot wants to have seen before it stops exploring.
pub const ENOUGH_EVIDENCE: u64 = 8;
/// While exploring, one warm-up round in this many is skipped.
pub const EXPLORE_EVERY: u64 = 3;

#[derive(Debug)]
pub struct Autopilot {
    policy: ConcurrencyPolicy,
    config: ForecastConfig,
    function: FunctionRef,
    history: VecDeque<MinuteLoad>,
    history_from: Minute,
    plan: Option<ConcurrencyPlan>,
    requested: u32,
    /// Minutes in which this autopilot kept the function warm (warm-ups sent or PC in place):
    /// the history there says nothing about how AWS treats idle environments.
    covered: Vec<Minute>,
    /// The history handed over at the start holds counts only (no cold starts): evidence
    /// about idle environments starts after it.
    observed_from: Minute,
    /// Too little evidence about idle environments: while only one environment is kept warm,
    /// every [`EXPLORE_EVERY`]-th warm-up round is skipped so that some idle spell goes
    /// uncovered and shows what AWS does (a 5-minute timer needs no warm-up if environments
    /// live 15 minutes, and only such a spell can tell).
    explore: bool,
    rounds: u64,
    /// Plans made and time spent planning (forecast + plan), for the benchmark's figures.
    pub plans: u64,
}

impl Autopilot {
    /// `history` is what the stats table holds before the window (may be empty).
    pub fn new(policy: ConcurrencyPolicy, history: Vec<MinuteLoad>, history_from: Minute) -> Self {
        let observed_from = history.last().map_or(history_from, |l| l.minute.plus(1));
        Self {
            policy,
            config: ForecastConfig::default(),
            function: FunctionRef::parse("bench:live").expect("a constant alias is valid"),
            history: history.into(),
            history_from,
            plan: None,
            requested: 0,
            covered: Vec::new(),
            observed_from,
            explore: true,
            rounds: 0,
            plans: 0,
        }
    }

    fn replan(&mut self, now: Minute) {
        let keep = i64::from(self.config.max_history_days) * Minute::PER_DAY;
        while self.history.front().is_some_and(|l| l.minute.0 < now.0 - keep) {
            self.history.pop_front();
        }
        let load = self.history.make_contiguous();
        let forecast = forecast_load(load, &[], self.history_from, now, self.policy.horizon_minutes, &self.config);
        let state = PlannerState { provisioned: self.requested };
        let observed = load.partition_point(|l| l.minute < self.observed_from);
        let evidence = IdleEvidence::from_history(&load[observed..], &self.covered);
        self.explore = evidence.after_idle < ENOUGH_EVIDENCE;
        let profile = setup::profile(Some(evidence));
        let p = plan(&self.function, now, &forecast, &profile, &state, &self.policy, &setup::cost_model());
        self.plans += 1;
        self.plan = Some(p);
    }
}

impl Policy for Autopilot {
    fn act(&mut self, now: Minute, _index: usize) -> Action {
        let slot = self.policy.slot_minutes;
        if now.0.rem_euclid(i64::from(slot)) == 0 || self.plan.is_none() {
            self.replan(now);
        }
        let Some(plan) = &self.plan else { return Action::default() };
        let mut action = Action { hold_ms: self.policy.keep_warm_hold_ms, ..Action::default() };
        if now.0.rem_euclid(i64::from(slot)) == 0 {
            let level = plan.provisioned_to_request(now, slot, self.policy.allocation_lead_minutes);
            if level != self.requested {
                self.requested = level;
                action.provisioned = Some(level);
            }
        }
        let period = i64::from(self.policy.keep_warm_period_minutes.max(1));
        if self.policy.keep_warm && now.0.rem_euclid(period) == 0 {
            action.warm = plan.slot_at(now, slot).map_or(0, |s| s.keep_warm);
            if action.warm > 0 {
                self.rounds += 1;
                // Only a function that idles (one environment kept warm) has idle spells to
                // learn from; a busy one never would, and skipping its rounds costs cold starts.
                if self.explore && action.warm == 1 && self.rounds.is_multiple_of(EXPLORE_EVERY) {
                    action.warm = 0;
                }
            }
        }
        if action.warm > 0 || self.requested > 0 {
            self.covered.push(now);
        }
        action
    }

    fn observe(&mut self, obs: &MinuteObs) {
        if obs.invocations > 0 {
            self.history.push_back(obs.load());
        }
    }
}
