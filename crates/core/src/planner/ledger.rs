//! The realised side of a cap: what the autopilot's own means (provisioned concurrency and
//! warm-up rounds) have cost over the last week, against what the function's calls cost.
//!
//! A plan checks `maxExtraCostPct` and `budgetPerDayUsd` against its forecast only, so a
//! forecast that expected calls (or a burst) that did not come overruns the cap, slot after
//! slot. The ledger keeps the money as observed, minute by minute over the last week, and
//! while it is over its allowance the next plans get no budget: they do only what pays for itself until the calls
//! have earned the cap back ([`PlannerState::overspent_usd`](super::PlannerState)).
//!
//! What is counted:
//! - the calls, at what they would have cost on demand: requests and duration at the mean,
//!   and INIT for the cold starts they had or would have had (below);
//! - PC: allocation for every minute it was ready, minus the duration saving of the time it
//!   served calls (PC duration is billed below the on-demand rate);
//! - warm-up calls, and INIT for those that landed cold;
//! - INIT saved: a call after an idle spell longer than the reclaim time would have started
//!   cold on demand; when it did not, the round or PC that kept its environment gets the
//!   credit. Cold starts a burst would have had above the first level are not credited: they
//!   are a forecast again, and the ledger counts only what was seen.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::prices::UnitPrices;
use crate::domain::Minute;
use crate::policy::ConcurrencyPolicy;

/// One observed minute of a function, as the ledger needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LedgerMinute {
    pub minute: Minute,
    /// Callers' invocations and their cold starts.
    pub invocations: u64,
    pub cold_starts: u64,
    /// PC ready in the minute, and the time it spent serving calls (ms).
    pub pc_ready: u32,
    pub pc_busy_ms: f64,
    /// Warm-up calls sent in the minute, and how many of them started cold.
    pub warmups: u32,
    pub warmups_cold: u32,
}

/// How far back the ledger counts: a week, so that a cap holds over any week (months of money
/// saved do not pay for a week of overrun) and a function's spend follows its weekly rhythm.
pub const WINDOW_HOURS: i64 = 7 * 24;

/// One hour of the ledger (USD).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hour {
    hour: i64,
    /// What the calls cost, or would have on demand.
    calls: f64,
    /// What PC and warm-up rounds added, less the duration and INIT they saved.
    extra: f64,
}

/// The money of the last [`WINDOW_HOURS`], hour by hour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpendLedger {
    hours: VecDeque<Hour>,
    first: Option<Minute>,
    last_call: Option<Minute>,
}

/// What minutes add to a ledger, in the units its prices turn into money: the same whatever
/// the function's memory and architecture, so that one step can count them and another, which
/// knows the function's configuration, price them (the deployed forecast and apply steps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpendCounts {
    /// Callers' invocations.
    pub invocations: f64,
    /// Cold starts the calls had, or would have had on demand (see [`SpendLedger::count`]).
    pub on_demand_cold: f64,
    /// Of those, the ones that did not happen: INIT a round or PC kept away.
    pub init_saved: f64,
    /// PC ready, in level-minutes, and the time it served calls (ms).
    pub pc_level_minutes: f64,
    pub pc_busy_ms: f64,
    /// Warm-up calls in rounds of one (held for nothing), in rounds of several, and those
    /// that started cold.
    pub single_pings: f64,
    pub held_pings: f64,
    pub pings_cold: f64,
}

impl SpendCounts {
    /// What the calls cost, or would have on demand (USD).
    pub fn calls_usd(&self, prices: &UnitPrices) -> f64 {
        self.invocations * prices.invocation + self.on_demand_cold * prices.init
    }

    /// What PC and the rounds added, net of what they saved (USD), PC priced per slot of
    /// `slot_minutes`.
    pub fn extra_usd(&self, prices: &UnitPrices, slot_minutes: u32) -> f64 {
        let slot_minutes = f64::from(slot_minutes.max(1));
        let pc = self.pc_level_minutes * prices.pc_level / slot_minutes
            - self.pc_busy_ms / (slot_minutes * 60_000.0) * prices.pc_busy_saving;
        let rounds = self.single_pings * prices.ping_single
            + self.held_pings * prices.ping_on_demand
            + self.pings_cold * prices.init;
        pc + rounds - self.init_saved * prices.init
    }

    fn add(&mut self, o: &Self) {
        self.invocations += o.invocations;
        self.on_demand_cold += o.on_demand_cold;
        self.init_saved += o.init_saved;
        self.pc_level_minutes += o.pc_level_minutes;
        self.pc_busy_ms += o.pc_busy_ms;
        self.single_pings += o.single_pings;
        self.held_pings += o.held_pings;
        self.pings_cold += o.pings_cold;
    }
}

/// The counts of `minutes` (ascending) taken together: what a run that reads a window at once
/// hands on, `reclaim_minutes` as in [`SpendLedger::count`].
pub fn count_window(minutes: &[LedgerMinute], reclaim_minutes: u32) -> SpendCounts {
    let mut ledger = SpendLedger::default();
    let mut total = SpendCounts::default();
    for m in minutes {
        total.add(&ledger.count(m, reclaim_minutes));
    }
    total
}

/// Money spent beyond what `policy`'s cap allows, given what the calls cost and what PC and
/// the rounds added over `seen_minutes` (0 when within it, and without a cap); a daily budget
/// counts the days seen.
pub fn overspent(policy: &ConcurrencyPolicy, calls_usd: f64, extra_usd: f64, seen_minutes: i64) -> f64 {
    let share = policy.max_extra_cost_pct.map(|pct| pct / 100.0 * calls_usd);
    let budget = policy.budget_per_day_usd.map(|b| b * seen_minutes.max(0) as f64 / Minute::PER_DAY as f64);
    let allowed = match (share, budget) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return 0.0,
    };
    (extra_usd - allowed).max(0.0)
}

impl SpendLedger {
    /// What minute `m` (minutes in ascending order) adds, in counts; `reclaim_minutes` is how
    /// long an idle environment is taken to live (the evidence's estimate): a call after a
    /// longer spell without calls would have started cold on demand.
    pub fn count(&mut self, m: &LedgerMinute, reclaim_minutes: u32) -> SpendCounts {
        self.first.get_or_insert(m.minute);
        let mut first_cold = 0.0;
        if m.invocations > 0 {
            let idle = self.last_call.is_none_or(|last| m.minute.0 - last.0 > i64::from(reclaim_minutes));
            if idle {
                first_cold = 1.0;
            }
            self.last_call = Some(m.minute);
        }
        let cold = m.cold_starts as f64;
        let on_demand_cold = cold.max(first_cold);
        // A round of one call holds nothing (see `UnitPrices::ping_single`).
        let (single_pings, held_pings) =
            if m.warmups == 1 { (f64::from(m.warmups), 0.0) } else { (0.0, f64::from(m.warmups)) };
        SpendCounts {
            invocations: m.invocations as f64,
            on_demand_cold,
            init_saved: on_demand_cold - cold,
            pc_level_minutes: f64::from(m.pc_ready),
            pc_busy_ms: m.pc_busy_ms,
            single_pings,
            held_pings,
            pings_cold: f64::from(m.warmups_cold),
        }
    }

    /// Adds minute `m` (minutes in ascending order), priced with the function's `prices` for
    /// slots of `slot_minutes`; `reclaim_minutes` as in [`Self::count`].
    pub fn record(&mut self, m: &LedgerMinute, prices: &UnitPrices, slot_minutes: u32, reclaim_minutes: u32) {
        let counts = self.count(m, reclaim_minutes);
        let calls = counts.calls_usd(prices);
        let extra = counts.extra_usd(prices, slot_minutes);
        let hour = m.minute.0.div_euclid(60);
        match self.hours.back_mut() {
            Some(h) if h.hour == hour => {
                h.calls += calls;
                h.extra += extra;
            }
            _ => self.hours.push_back(Hour { hour, calls, extra }),
        }
        while self.hours.front().is_some_and(|h| h.hour <= hour - WINDOW_HOURS) {
            self.hours.pop_front();
        }
    }

    /// Money spent beyond what the policy's cap allows over the window (0 when within it, and
    /// without a cap); a daily budget counts the days of the window the ledger has seen.
    pub fn overspent_usd(&self, policy: &ConcurrencyPolicy, now: Minute) -> f64 {
        let seen = self.first.map_or(0, |first| (now.0 - first.0).clamp(0, WINDOW_HOURS * 60));
        overspent(policy, self.calls_usd(), self.extra_usd(), seen)
    }

    /// What PC and warm-ups added over the window, net of what they saved (USD).
    pub fn extra_usd(&self) -> f64 {
        self.hours.iter().map(|h| h.extra).sum()
    }

    /// What the calls cost over the window, or would have on demand (USD).
    pub fn calls_usd(&self) -> f64 {
        self.hours.iter().map(|h| h.calls).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::CostModel;
    use crate::domain::{Architecture, MemoryMb};

    fn prices() -> UnitPrices {
        let memory = MemoryMb::new(512).unwrap();
        UnitPrices::new(
            &CostModel::default(),
            Architecture::X86_64,
            memory,
            200.0,
            300.0,
            &ConcurrencyPolicy::default(),
        )
    }

    fn capped(pct: f64) -> ConcurrencyPolicy {
        ConcurrencyPolicy { max_extra_cost_pct: Some(pct), ..ConcurrencyPolicy::default() }
    }

    #[test]
    fn warm_up_rounds_that_save_nothing_overrun_the_cap_and_those_that_keep_a_cold_start_away_do_not() {
        let p = prices();
        let minute = |m: i64, invocations, cold_starts, warmups| LedgerMinute {
            minute: Minute(m),
            invocations,
            cold_starts,
            warmups,
            ..LedgerMinute::default()
        };
        // A call every 20 minutes, a round of one every 4 minutes in between: one call's INIT
        // saved against 5 rounds.
        let mut kept_warm = SpendLedger::default();
        let mut wasted = SpendLedger::default();
        for spell in 0..72 {
            for k in 0..5 {
                let round = minute(spell * 20 + 4 * k, 0, 0, 1);
                kept_warm.record(&round, &p, 5, 10);
                wasted.record(&round, &p, 5, 10);
            }
            // Kept warm, the call finds its environment; wasted, it starts cold anyway.
            kept_warm.record(&minute(spell * 20 + 19, 1, 0, 0), &p, 5, 10);
            wasted.record(&minute(spell * 20 + 19, 1, 1, 0), &p, 5, 10);
        }
        let end = Minute(24 * 60);
        // The calls cost the same (the cold start they had or would have had), and the rounds
        // the same; only the INIT they kept away differs.
        assert!((kept_warm.calls_usd() - wasted.calls_usd()).abs() < 1e-15);
        assert!((wasted.extra_usd() - kept_warm.extra_usd() - 72.0 * p.init).abs() < 1e-12);
        assert!(wasted.overspent_usd(&capped(5.0), end) > 0.0);
        assert!(
            kept_warm.extra_usd() < 0.0 && kept_warm.overspent_usd(&capped(5.0), end) == 0.0,
            "5 rounds ({:.2e}) cost less than one INIT ({:.2e})",
            5.0 * p.ping_single,
            p.init
        );
        // Without a cap nothing is ever overspent.
        assert_eq!(wasted.overspent_usd(&ConcurrencyPolicy::default(), end), 0.0);
    }

    #[test]
    fn busy_pc_pays_for_itself_and_idle_pc_spends_the_budget_of_its_days() {
        let p = prices();
        let pc = |busy_share: f64| LedgerMinute {
            minute: Minute(0),
            invocations: 300,
            pc_ready: 10,
            pc_busy_ms: busy_share * 10.0 * 60_000.0,
            ..LedgerMinute::default()
        };
        let mut busy = SpendLedger::default();
        let mut idle = SpendLedger::default();
        for m in 0..1_440 {
            busy.record(&LedgerMinute { minute: Minute(m), ..pc(0.9) }, &p, 5, 10);
            idle.record(&LedgerMinute { minute: Minute(m), ..pc(0.1) }, &p, 5, 10);
        }
        // Above the break-even utilisation (60%) PC saves; below it, it costs.
        assert!(busy.extra_usd() < 0.0 && idle.extra_usd() > 0.0);
        let day_budget = ConcurrencyPolicy { budget_per_day_usd: Some(idle.extra_usd()), ..Default::default() };
        assert_eq!(idle.overspent_usd(&day_budget, Minute(1_440)), 0.0);
        assert!(idle.overspent_usd(&day_budget, Minute(720)) > 0.0, "half a day's budget");
    }

    #[test]
    fn overruns_and_the_allowance_of_calls_are_both_forgotten_a_week_later() {
        let p = prices();
        let cap = capped(5.0);
        let at = |minute: i64, invocations: u64, warmups: u32| LedgerMinute {
            minute: Minute(minute),
            invocations,
            warmups,
            ..LedgerMinute::default()
        };
        let mut ledger = SpendLedger::default();
        let day = Minute::PER_DAY;
        let week = WINDOW_HOURS * 60;
        // A day of rounds with no call: over the cap.
        (0..day).for_each(|m| ledger.record(&at(m, 0, 3), &p, 5, 10));
        assert!(ledger.overspent_usd(&cap, Minute(day)) > 0.0);
        // A week of calls and no round: the day of rounds has left the window (what is left is
        // the credit for the first call, which found its environment although it came after
        // a day without calls).
        (day..day + week).for_each(|m| ledger.record(&at(m, 10, 0), &p, 5, 10));
        assert!((ledger.extra_usd() + p.init).abs() < 1e-15);
        assert_eq!(ledger.overspent_usd(&cap, Minute(day + week)), 0.0);
        let earned = 0.05 * ledger.calls_usd();
        // A quiet week: the calls leave the window too, and with them what they allowed. An
        // hour of rounds costing a tenth of that allowance is then over the cap.
        (day + week..day + 2 * week).for_each(|m| ledger.record(&at(m, 0, 0), &p, 5, 10));
        (day + 2 * week..day + 2 * week + 60).for_each(|m| ledger.record(&at(m, 0, 3), &p, 5, 10));
        assert!(ledger.extra_usd() < 0.1 * earned);
        assert!(ledger.overspent_usd(&cap, Minute(day + 2 * week + 60)) > 0.0);
    }

    #[test]
    fn a_window_counted_at_once_and_priced_later_costs_what_the_ledger_recorded() {
        let p = prices();
        let minutes: Vec<LedgerMinute> = (0..600)
            .map(|m| LedgerMinute {
                minute: Minute(m),
                invocations: if m % 37 == 0 { 3 } else { 0 },
                cold_starts: u64::from(m % 111 == 0),
                pc_ready: if (200..300).contains(&m) { 2 } else { 0 },
                pc_busy_ms: if (200..300).contains(&m) { 30_000.0 } else { 0.0 },
                warmups: (m % 4 == 1) as u32 * (1 + (m % 3) as u32),
                warmups_cold: u32::from(m % 40 == 1),
            })
            .collect();
        let mut ledger = SpendLedger::default();
        minutes.iter().for_each(|m| ledger.record(m, &p, 5, 10));
        let counts = count_window(&minutes, 10);
        assert!((counts.calls_usd(&p) - ledger.calls_usd()).abs() < 1e-12 * ledger.calls_usd().abs());
        assert!((counts.extra_usd(&p, 5) - ledger.extra_usd()).abs() < 1e-12 * ledger.extra_usd().abs());
        // Rounds of one are priced as single calls, the others as held ones, INIT is credited.
        assert!(counts.single_pings > 0.0 && counts.held_pings > 0.0 && counts.init_saved > 0.0);
        let cap = capped(5.0);
        let seen = 600;
        assert_eq!(
            overspent(&cap, counts.calls_usd(&p), counts.extra_usd(&p, 5), seen) > 0.0,
            ledger.overspent_usd(&cap, Minute(seen)) > 0.0
        );
    }
}
