//! The autopilot as the benchmark runs it: every 5 minutes, the core forecaster on the
//! per-minute history it has observed, then the core planner; the PC level is requested a
//! lead time ahead, and a warm-up round goes out when the plan's top level has idled
//! `keepWarmPeriodMinutes` (callers that keep it busy make the round unnecessary).

use std::collections::VecDeque;

use autopilot_core::decision::ConcurrencyPlan;
use autopilot_core::forecast::{ForecastConfig, forecast_load};
use autopilot_core::observe::MinuteLoad;
use autopilot_core::planner::evidence::IdleEvidence;
use autopilot_core::planner::ledger::{LedgerMinute, SpendLedger};
use autopilot_core::planner::prices::UnitPrices;
use autopilot_core::planner::warmup::{LevelTouches, round_hold_ms};
use autopilot_core::planner::{PlannerState, plan};
use autopilot_core::policy::ConcurrencyPolicy;
use autopilot_core::{FunctionRef, Minute};

use super::driver::{Action, MinuteObs, Policy};
use super::setup;

/// Idle spells bearing on the function's own gaps ([`IdleEvidence::coverage`]) that the
/// autopilot wants to have seen end (alive or cold) before it stops probing: twice the
/// weight the planner gives its prior.
pub const ENOUGH_EVIDENCE: f64 = 8.0;
/// Minutes before a slot that its warm-up rounds go out.
pub const WARM_LEAD_MINUTES: i64 = 1;
/// While exploring, one warm-up round in this many starts a probe.
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
    /// Minutes in which this autopilot sent warm-up rounds, and had PC in place: evidence
    /// about idle environments counts idle spells from the last touch, and none under PC.
    rounds_sent: Vec<Minute>,
    pc_minutes: Vec<Minute>,
    /// The history handed over at the start holds counts only (no cold starts): evidence
    /// about idle environments starts after it.
    observed_from: Minute,
    /// Too little evidence about idle spells as long as the function's own gaps: while only
    /// one environment is kept warm, every [`EXPLORE_EVERY`]-th round starts a probe — rounds
    /// are held back until a caller comes or the environment has idled a typical gap, and
    /// that call or the round that follows shows whether it survived (a 5-minute timer needs
    /// no warm-up if environments live 15 minutes, and only such a spell can tell).
    explore: bool,
    probing: bool,
    probe_spell: i64,
    reclaim_minutes: u32,
    rounds: u64,
    /// The idle spell a round sent this minute ends (its outcome comes with the minute's
    /// observation).
    pending_probe: Option<(Minute, i64)>,
    probes: Vec<(i64, bool)>,
    /// When each level was last in use: a round goes out only when its top level idled a
    /// keep-warm period (traffic that keeps its environments busy needs no warm-up calls).
    touched: LevelTouches,
    /// What PC and warm-ups actually cost against the calls (for a cap), and the prices it
    /// is kept in.
    ledger: SpendLedger,
    prices: UnitPrices,
    /// Plans made and time spent planning (forecast + plan), for the benchmark's figures.
    pub plans: u64,
}

impl Autopilot {
    /// `history` is what the stats table holds before the window (may be empty).
    pub fn new(policy: ConcurrencyPolicy, history: Vec<MinuteLoad>, history_from: Minute) -> Self {
        let prices = setup::unit_prices(&policy);
        let observed_from = history.last().map_or(history_from, |l| l.minute.plus(1));
        Self {
            policy,
            config: ForecastConfig::default(),
            function: FunctionRef::parse("bench:live").expect("a constant alias is valid"),
            history: history.into(),
            history_from,
            plan: None,
            requested: 0,
            rounds_sent: Vec::new(),
            pc_minutes: Vec::new(),
            observed_from,
            explore: true,
            probing: false,
            probe_spell: 0,
            reclaim_minutes: ConcurrencyPolicy::default().assumed_reclaim_minutes,
            rounds: 0,
            pending_probe: None,
            probes: Vec::new(),
            touched: LevelTouches::default(),
            ledger: SpendLedger::default(),
            prices,
            plans: 0,
        }
    }

    /// The plan in force (for reports and tests).
    pub fn plan(&self) -> Option<&ConcurrencyPlan> {
        self.plan.as_ref()
    }

    fn replan(&mut self, now: Minute) {
        let keep = i64::from(self.config.max_history_days) * Minute::PER_DAY;
        while self.history.front().is_some_and(|l| l.minute.0 < now.0 - keep) {
            self.history.pop_front();
        }
        let load = self.history.make_contiguous();
        let forecast = forecast_load(load, &[], self.history_from, now, self.policy.horizon_minutes, &self.config);
        // The rounds going out keep the plan's top warm (the history holds only minutes with
        // calls, so the environments the rounds alone keep are not among those seen alive).
        let warm_top =
            self.plan.as_ref().and_then(|p| p.slot_at(now, self.policy.slot_minutes)).map_or(0, |s| s.keep_warm);
        let overspent = self.ledger.overspent_usd(&self.policy, now) > 0.0;
        let state = PlannerState { provisioned: self.requested, warm_top, overspent };
        let mut evidence = IdleEvidence::from_history(load, &self.rounds_sent, &self.pc_minutes, self.observed_from);
        for &(spell, cold) in &self.probes {
            evidence.add_probe(spell, cold);
        }
        let floor = self.policy.keep_warm_period_minutes + 1;
        self.reclaim_minutes = evidence.reclaim_minutes(self.policy.assumed_reclaim_minutes, floor);
        self.explore = evidence.coverage().is_some_and(|c| c < ENOUGH_EVIDENCE);
        self.probe_spell = evidence.typical_gap().unwrap_or(i64::from(self.reclaim_minutes));
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
        // The next slot's rounds go out a minute early: a round that finds an environment
        // gone lands cold and holds it through its INIT, and a caller then would start cold too.
        let top = plan.keep_warm_until(now, now.plus(WARM_LEAD_MINUTES + 1), slot);
        if self.policy.keep_warm && self.touched.round_due(top, now, self.policy.keep_warm_period_minutes, 1) {
            action.warm = top;
            // Only a function that idles (one environment kept warm, no PC) has idle spells to
            // learn from; a busy one never would, and holding its rounds costs cold starts.
            let single = action.warm == 1 && self.requested == 0;
            // Since a call or a round last touched the function (level 1).
            let spell = self.touched.idle_minutes(1, now);
            if !single {
                self.probing = false;
            } else if self.probing {
                if spell.is_some_and(|s| s < self.probe_spell) {
                    action.warm = 0; // still idling towards the probed spell
                } else {
                    self.probing = false;
                }
            } else if action.warm > 0 {
                self.rounds += 1;
                if self.explore && self.rounds.is_multiple_of(EXPLORE_EVERY) {
                    self.probing = true;
                    action.warm = 0;
                }
            }
            if action.warm > 0 {
                self.touched.touch(now, u64::from(action.warm));
                if let Some(s) = spell.filter(|_| single) {
                    self.pending_probe = Some((now, s));
                }
                self.rounds_sent.push(now);
            }
            action.hold_ms = round_hold_ms(action.warm, self.policy.keep_warm_hold_ms);
        }
        if self.requested > 0 {
            self.pc_minutes.push(now);
        }
        action
    }

    fn observe(&mut self, obs: &MinuteObs) {
        let minute = LedgerMinute {
            minute: obs.minute,
            invocations: obs.invocations,
            cold_starts: obs.cold_starts,
            pc_ready: obs.pc_ready,
            pc_busy_ms: obs.pc_busy_ms,
            warmups: obs.warmups,
            warmups_cold: obs.warmups_cold,
        };
        self.ledger.record(&minute, &self.prices, self.policy.slot_minutes, self.reclaim_minutes);
        self.touched.touch(obs.minute, u64::from(obs.peak_busy));
        if let Some((minute, spell)) = self.pending_probe.take()
            && minute == obs.minute
        {
            self.probes.push((spell, obs.warmups_cold > 0));
        }
        if obs.invocations > 0 {
            self.history.push_back(obs.load());
            self.probing = false; // a caller ended the spell: its call is the evidence
        }
    }
}
