//! What the deployed concurrency loop did to a function, kept between its runs.
//!
//! The extension counts every invocation, and a warm-up call is one: the stats of a function
//! kept warm hold the autopilot's own calls beside its callers'. A forecast read from them
//! takes the rounds for traffic (a function called once an hour and kept warm by a call every
//! 5 minutes looks like 0.22 calls a minute instead of 0.017), and the cold starts of rounds
//! that found their environment gone for its callers'. apply-concurrency therefore records
//! what it did in each run that did something ([`ActRecord`]: the PC level it left in place and
//! the warm-up round it sent), and the forecast step takes the rounds back out of the load
//! ([`without_warmups`]) before forecasting. The same records give the idle evidence the
//! minutes that say nothing about AWS ([`round_minutes`], [`pc_minutes`]), the planner the
//! level the rounds keep warm ([`warm_top`]) and the spend ledger what PC and the rounds cost
//! ([`ledger_minutes`]).

use serde::{Deserialize, Serialize};

use super::ledger::LedgerMinute;
use crate::domain::{FunctionRef, Minute};
use crate::observe::MinuteLoad;

/// What one apply-concurrency run did to one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActRecord {
    /// The function, unqualified (the stats key the forecast reads).
    pub function: FunctionRef,
    /// The run's minute.
    pub minute: Minute,
    /// PC requested on the alias after the run (0: none).
    pub provisioned: u32,
    /// Warm-up calls sent, of them started cold, and failed (never ran: not in the stats).
    pub warm_sent: u32,
    pub warm_cold: u32,
    pub warm_failed: u32,
    /// How long each warm-up call held its environment (ms).
    pub warm_hold_ms: u32,
}

impl ActRecord {
    /// Warm-up calls that ran (and so are in the stats).
    pub fn warm_ran(&self) -> u32 {
        self.warm_sent.saturating_sub(self.warm_failed)
    }

    /// Whether the run did anything the next runs must know of.
    pub fn acted(&self) -> bool {
        self.provisioned > 0 || self.warm_sent > 0
    }
}

/// How many minutes after its run a round may still land in the stats: the run's calls go
/// out within seconds, but may cross into the next minute.
const SPILL_MINUTES: i64 = 1;

/// Takes the warm-up calls of `acts` out of `load` (ascending by minute, as the stats give
/// it): each round's calls from its run's minute first, the rest from the minute after;
/// their cold starts first among the minute's cold starts, their hold from its busy time,
/// and an environment per call from its environments (a minute that still has calls keeps
/// at least one). A minute left with no call stays, as a minute without traffic.
pub fn without_warmups(load: &mut [MinuteLoad], acts: &[ActRecord]) {
    for act in acts.iter().filter(|a| a.warm_ran() > 0) {
        let (mut calls, mut cold) = (u64::from(act.warm_ran()), u64::from(act.warm_cold));
        let start = load.partition_point(|l| l.minute < act.minute);
        for l in load[start..].iter_mut().take_while(|l| l.minute.0 <= act.minute.0 + SPILL_MINUTES) {
            if calls == 0 {
                break;
            }
            let take = calls.min(l.invocations);
            let take_cold = cold.min(l.cold_starts).min(take);
            l.invocations -= take;
            l.cold_starts -= take_cold;
            l.concurrency = (l.concurrency - take as f64 * f64::from(act.warm_hold_ms) / 60_000.0).max(0.0);
            l.environments = l.environments.saturating_sub(take).max(u64::from(l.invocations > 0));
            calls -= take;
            cold -= take_cold;
        }
    }
}

/// Minutes in which a round went out, ascending (what [`super::evidence::IdleEvidence`]
/// counts as touches of the function rather than calls).
pub fn round_minutes(acts: &[ActRecord]) -> Vec<Minute> {
    let mut out: Vec<Minute> = acts.iter().filter(|a| a.warm_sent > 0).map(|a| a.minute).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The PC level in place in each minute of `[from, to)`, from the runs' requests: a level holds
/// from its run until the next run's (each run that had PC records it, so a level lasts at
/// most `slot_minutes` past its run).
fn pc_levels(acts: &[ActRecord], from: Minute, to: Minute, slot_minutes: u32) -> Vec<u32> {
    let n = usize::try_from(to.0 - from.0).unwrap_or(0);
    let mut out = vec![0; n];
    let mut sorted: Vec<&ActRecord> = acts.iter().filter(|a| a.provisioned > 0).collect();
    sorted.sort_by_key(|a| a.minute);
    for (i, a) in sorted.iter().enumerate() {
        let mut end = a.minute.0 + i64::from(slot_minutes.max(1));
        if let Some(next) = sorted.get(i + 1) {
            end = end.min(next.minute.0);
        }
        for m in a.minute.0.max(from.0)..end.min(to.0) {
            out[(m - from.0) as usize] = a.provisioned;
        }
    }
    out
}

/// Minutes of `[from, to)` in which PC was in place, ascending.
pub fn pc_minutes(acts: &[ActRecord], from: Minute, to: Minute, slot_minutes: u32) -> Vec<Minute> {
    pc_levels(acts, from, to, slot_minutes)
        .iter()
        .enumerate()
        .filter(|&(_, &p)| p > 0)
        .map(|(i, _)| Minute(from.0 + i as i64))
        .collect()
}

/// The ledger's minutes over `[from, to)`: the callers' load (warm-ups already taken out),
/// PC in place with the callers' busy time it served (PC environments take calls first, so
/// as much of the minute's busy time as the level holds), and the rounds.
pub fn ledger_minutes(
    callers: &[MinuteLoad],
    acts: &[ActRecord],
    from: Minute,
    to: Minute,
    slot_minutes: u32,
) -> Vec<LedgerMinute> {
    let pc = pc_levels(acts, from, to, slot_minutes);
    let mut out: Vec<LedgerMinute> = (from.0..to.0)
        .zip(&pc)
        .map(|(m, &pc_ready)| LedgerMinute { minute: Minute(m), pc_ready, ..LedgerMinute::default() })
        .collect();
    for l in callers.iter().filter(|l| l.minute >= from && l.minute < to) {
        let o = &mut out[(l.minute.0 - from.0) as usize];
        o.invocations = l.invocations;
        o.cold_starts = l.cold_starts;
        o.pc_busy_ms = (l.concurrency * 60_000.0).min(f64::from(o.pc_ready) * 60_000.0);
    }
    for a in acts.iter().filter(|a| a.minute >= from && a.minute < to) {
        let o = &mut out[(a.minute.0 - from.0) as usize];
        o.warmups += a.warm_ran();
        o.warmups_cold += a.warm_cold;
    }
    out
}

/// Highest level the rounds keep warm at `now`: the last round's, if it went out less than
/// `reclaim_minutes` (how long an idle environment lives) before `now`; 0 otherwise.
pub fn warm_top(acts: &[ActRecord], now: Minute, reclaim_minutes: u32) -> u32 {
    acts.iter()
        .filter(|a| a.warm_ran() > 0 && a.minute <= now && now.0 - a.minute.0 < i64::from(reclaim_minutes))
        .max_by_key(|a| a.minute)
        .map_or(0, ActRecord::warm_ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(minute: i64, provisioned: u32, sent: u32, cold: u32) -> ActRecord {
        ActRecord {
            function: FunctionRef::parse("api").unwrap(),
            minute: Minute(minute),
            provisioned,
            warm_sent: sent,
            warm_cold: cold,
            warm_failed: 0,
            warm_hold_ms: 60,
        }
    }

    fn load(minute: i64, invocations: u64, cold: u64, environments: u64) -> MinuteLoad {
        MinuteLoad { minute: Minute(minute), invocations, concurrency: 0.01, environments, cold_starts: cold }
    }

    #[test]
    fn warm_up_calls_come_out_of_the_load_and_callers_stay() {
        // Minute 10: 2 rounds' calls (one cold) and 3 callers; minute 20: the round alone;
        // minute 30: a round of 4 whose last call landed in minute 31.
        let mut l = vec![load(10, 5, 2, 4), load(20, 1, 0, 1), load(30, 3, 3, 3), load(31, 1, 0, 1), load(40, 7, 1, 3)];
        l[1].concurrency = 30.0 / 60_000.0; // less than the round's 60 ms hold
        let acts = vec![act(10, 0, 2, 1), act(20, 0, 1, 0), act(30, 2, 4, 3)];
        without_warmups(&mut l, &acts);
        let got: Vec<(u64, u64, u64)> = l.iter().map(|l| (l.invocations, l.cold_starts, l.environments)).collect();
        assert_eq!(got, vec![(3, 1, 2), (0, 0, 0), (0, 0, 0), (0, 0, 0), (7, 1, 3)]);
        // 2 calls held 60 ms each: 120 ms of the 600 ms of minute 10.
        assert!((l[0].concurrency - (0.01 - 120.0 / 60_000.0)).abs() < 1e-12);
        assert_eq!(l[1].concurrency, 0.0, "busy time never goes below zero");
        // A failed call never ran: nothing to take out.
        let mut l = vec![load(10, 1, 0, 1)];
        without_warmups(&mut l, &[ActRecord { warm_failed: 1, ..act(10, 0, 1, 0) }]);
        assert_eq!(l[0].invocations, 1);
    }

    #[test]
    fn pc_holds_from_its_run_until_the_next_and_at_most_a_slot() {
        let acts = vec![act(100, 2, 0, 0), act(105, 3, 0, 0), act(120, 1, 0, 0), act(103, 0, 1, 0)];
        let pc = pc_levels(&acts, Minute(98), Minute(124), 5);
        let want: Vec<u32> = (98..124)
            .map(|m| match m {
                100..105 => 2,
                105..110 => 3,
                120..124 => 1,
                _ => 0,
            })
            .collect();
        assert_eq!(pc, want);
        assert_eq!(pc_minutes(&acts, Minute(98), Minute(124), 5).len(), 14);
        assert_eq!(round_minutes(&acts), vec![Minute(103)]);
    }

    #[test]
    fn the_ledger_sees_pc_serving_first_and_the_rounds_as_sent() {
        let mut callers = vec![load(100, 50, 0, 3)];
        callers[0].concurrency = 2.5;
        let acts = vec![act(100, 2, 0, 0), act(102, 0, 3, 1)];
        let m = ledger_minutes(&callers, &acts, Minute(100), Minute(104), 5);
        assert_eq!(m.len(), 4);
        assert_eq!((m[0].pc_ready, m[0].invocations), (2, 50));
        assert!((m[0].pc_busy_ms - 120_000.0).abs() < 1e-9, "2 levels serve at most 2 minutes of busy time");
        assert_eq!((m[2].warmups, m[2].warmups_cold, m[2].pc_ready), (3, 1, 2));
        assert_eq!(warm_top(&acts, Minute(106), 5), 3);
        assert_eq!(warm_top(&acts, Minute(107), 5), 0, "the environments of the last round are gone");
    }
}
