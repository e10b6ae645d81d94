//! What a function's own history says about idle environments. The level model assumes
//! Poisson arrivals and a reclaim time AWS does not document; a timer firing every 15
//! minutes is cold every time whatever a Poisson model says, one firing every minute never
//! idles at all (a Poisson stream of the same rate does, now and then, for five minutes), and
//! one firing every 5 minutes is never cold if environments live 15. So the planner also reads
//! two kinds of evidence:
//! - **how the traffic returns from idle** (all calls, kept warm or not, since warm-ups do not
//!   move callers): how many calls come after a gap of each length;
//! - **what AWS did after idle spells**: each time an environment we know was alive (a call
//!   or a warm-up touched it) idled a whole minute or more and was then called again — by a
//!   caller or by a warm-up round — whether that call found it or started cold. PC in place
//!   in between says nothing (PC served the level).
//!
//! From the second, the chance that an idle spell of g minutes ends with the environment gone
//! ([`IdleEvidence::gone_after`]): spells at least g long that survived say it stays, spells at
//! most g long that ended cold say it goes, and the policy's assumed reclaim time is the prior
//! (worth [`PRIOR_CALLS`] observations). The reclaim time the planner then works with is where
//! that chance passes one half ([`IdleEvidence::reclaim_minutes`]).

use serde::{Deserialize, Serialize};

use crate::domain::Minute;
use crate::observe::MinuteLoad;

/// How the traffic returns from idle, and what idle spells did to environments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdleEvidence {
    /// Spells observed (a whole idle minute or more, nothing of ours in between) ...
    pub after_idle: u64,
    /// ... and how many of them ended cold.
    pub cold: u64,
    /// Calls seen, and minutes with calls (the gap profile's denominators).
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub active_minutes: u64,
    /// `gaps[i]`: minutes with calls that came `i + 2` minutes after the previous such minute
    /// (a whole idle minute or more between them); the last bin holds every longer gap.
    #[serde(default)]
    pub gaps: [u64; GAP_BINS],
    /// Idle spells of `i + 2` minutes (the last bin: longer) after which the environment was
    /// found alive / gone.
    #[serde(default)]
    pub survived: [u64; GAP_BINS],
    #[serde(default)]
    pub reclaimed: [u64; GAP_BINS],
}

/// Gap lengths told apart: 2 to 31 minutes, then longer (treated as always past the reclaim
/// time: AWS has not been seen to keep idle environments that long reliably).
pub const GAP_BINS: usize = 30;

/// [`IdleEvidence`] gathered minute by minute, for a process that keeps it between runs
/// rather than rebuilding it from the whole history each time ([`IdleEvidence::from_history`]
/// is this over a history at once). It never forgets: over a run longer than the history a
/// rebuild would read, it holds more spells, which only sharpens the estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdleTracker {
    pub evidence: IdleEvidence,
    last_active: Option<Minute>,
}

impl IdleTracker {
    /// The last minute with calls pushed.
    pub fn last_active(&self) -> Option<Minute> {
        self.last_active
    }

    /// Takes the next minute of load (minutes without calls are skipped), with the warm-up
    /// rounds and PC minutes known so far (ascending; only those before the minute are read).
    pub fn push(&mut self, l: &MinuteLoad, rounds: &[Minute], pc: &[Minute], observed_from: Minute) {
        if l.invocations == 0 || self.last_active.is_some_and(|m| l.minute <= m) {
            return;
        }
        let e = &mut self.evidence;
        e.calls += l.invocations;
        e.active_minutes += 1;
        let Some(prev) = self.last_active.replace(l.minute) else { return };
        let next = l.minute;
        if next.0 - prev.0 < 2 {
            return; // no whole idle minute between them
        }
        e.gaps[bin(next.0 - prev.0)] += 1;
        let last_before = |list: &[Minute], m: Minute| {
            let i = list.partition_point(|c| *c < m);
            i.checked_sub(1).map(|i| list[i])
        };
        if prev < observed_from || last_before(pc, next).is_some_and(|m| m >= prev) {
            return;
        }
        // The environment idled since the last touch: the previous call or a later round.
        let touched = last_before(rounds, next).map_or(prev, |r| r.max(prev));
        e.observe(next.0 - touched.0, l.cold_starts > 0);
    }
}

fn bin(minutes: i64) -> usize {
    ((minutes - 2).max(0) as usize).min(GAP_BINS - 1)
}

/// The prior's chance that an idle spell of `minutes` ends with the environment gone: past
/// `prior_reclaim` (and in the last bin) it is, at it half the time, before it never.
fn prior_gone(minutes: i64, prior_reclaim: u32) -> f64 {
    let r = i64::from(prior_reclaim);
    if minutes > r || bin(minutes) == GAP_BINS - 1 {
        1.0
    } else if minutes == r {
        0.5
    } else {
        0.0
    }
}

/// Spells that ended gone, of those seen, with a prior chance worth `prior_weight` spells.
fn gone_share(gone: u64, stayed: u64, prior: f64, prior_weight: f64) -> f64 {
    let seen = (gone + stayed) as f64 + prior_weight;
    if seen <= 0.0 { 0.0 } else { (gone as f64 + prior_weight * prior) / seen }
}

impl IdleEvidence {
    /// From per-minute load (ascending or not), the minutes in which the autopilot sent
    /// warm-up rounds (`rounds`) and those in which it had PC in place (`pc`), both ascending.
    /// Cold starts are read only from `observed_from` on (history loaded from elsewhere may
    /// not have them); the gap profile from all of it.
    pub fn from_history(load: &[MinuteLoad], rounds: &[Minute], pc: &[Minute], observed_from: Minute) -> Self {
        let mut active: Vec<&MinuteLoad> = load.iter().filter(|l| l.invocations > 0).collect();
        active.sort_by_key(|l| l.minute);
        let mut tracker = IdleTracker::default();
        for l in active {
            tracker.push(l, rounds, pc, observed_from);
        }
        tracker.evidence
    }

    /// Records a warm-up round sent `spell_minutes` after the environment was last touched,
    /// and whether it started cold.
    pub fn add_probe(&mut self, spell_minutes: i64, cold: bool) {
        self.observe(spell_minutes, cold);
    }

    fn observe(&mut self, spell_minutes: i64, cold: bool) {
        if spell_minutes < 2 {
            return;
        }
        self.after_idle += 1;
        self.cold += u64::from(cold);
        let b = bin(spell_minutes);
        if cold {
            self.reclaimed[b] += 1;
        } else {
            self.survived[b] += 1;
        }
    }

    /// Chance that an idle spell of `minutes` ends with the environment gone: what longer
    /// spells that survived and shorter ones that ended cold say, with `prior_reclaim`
    /// (gone past it, half the time at it) worth [`PRIOR_CALLS`] observations.
    pub fn gone_after(&self, minutes: i64, prior_reclaim: u32) -> f64 {
        self.gone_after_with(minutes, prior_reclaim, PRIOR_CALLS)
    }

    /// As [`Self::gone_after`] with the prior worth `prior_weight` observations; 0 = what the
    /// evidence alone has shown (no reclaim without an observed cold start).
    fn gone_after_with(&self, minutes: i64, prior_reclaim: u32, prior_weight: f64) -> f64 {
        let b = bin(minutes);
        let gone: u64 = self.reclaimed[..=b].iter().sum();
        let stayed: u64 = self.survived[b..].iter().sum();
        gone_share(gone, stayed, prior_gone(minutes, prior_reclaim), prior_weight)
    }

    /// The reclaim time the evidence points to: the shortest idle spell more likely than not
    /// to end cold (`prior_reclaim` without evidence), at least `floor`.
    pub fn reclaim_minutes(&self, prior_reclaim: u32, floor: u32) -> u32 {
        let first = self.gone_by_bin(prior_reclaim, PRIOR_CALLS).position(|gone| gone >= 0.5);
        first.map_or(GAP_BINS as u32 + 2, |i| i as u32 + 2).max(floor)
    }

    /// Share of post-idle calls that ended cold, pulled towards `prior` as if it had been
    /// seen [`PRIOR_CALLS`] times.
    pub fn cold_share(&self, prior: f64) -> f64 {
        (self.cold as f64 + prior * PRIOR_CALLS) / (self.after_idle as f64 + PRIOR_CALLS)
    }

    /// Cold starts per call of the traffic returning from idle: the calls that come back after
    /// a gap, each gone with the chance [`Self::gone_after`] gives its gap (a call whose minute
    /// is g minutes after the previous one idled about g minutes). `None` before any call.
    pub fn cold_per_call(&self, prior_reclaim: u32) -> Option<f64> {
        self.cold_per_call_with(prior_reclaim, PRIOR_CALLS)
    }

    /// As [`Self::cold_per_call`], counting only the reclaims the evidence has shown: the
    /// INIT savings keep-warm is sure of, which is what a budget may count on.
    pub fn shown_cold_per_call(&self, prior_reclaim: u32) -> Option<f64> {
        self.cold_per_call_with(prior_reclaim, 0.0)
    }

    fn cold_per_call_with(&self, prior_reclaim: u32, prior_weight: f64) -> Option<f64> {
        if self.calls == 0 {
            return None;
        }
        // A bin without calls adds 0 × its share (finite): 0, without the share worked out.
        let gone: f64 = self
            .spells_by_bin()
            .zip(self.gaps)
            .enumerate()
            .map(|(i, ((gone, stayed), n))| {
                if n == 0 {
                    0.0
                } else {
                    n as f64 * gone_share(gone, stayed, prior_gone(i as i64 + 2, prior_reclaim), prior_weight)
                }
            })
            .sum();
        Some(gone / self.calls as f64)
    }

    /// [`Self::gone_after_with`] for the spells of each gap bin in turn (2 minutes, 3, ...).
    fn gone_by_bin(&self, prior_reclaim: u32, prior_weight: f64) -> impl Iterator<Item = f64> + '_ {
        self.spells_by_bin().enumerate().map(move |(i, (gone, stayed))| {
            gone_share(gone, stayed, prior_gone(i as i64 + 2, prior_reclaim), prior_weight)
        })
    }

    /// For each gap bin in turn, the spells at most that long that ended cold and those at
    /// least that long that survived, carried from bin to bin rather than summed afresh:
    /// every run and every plan reads these.
    fn spells_by_bin(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (mut gone, mut stayed) = (0u64, self.survived.iter().sum::<u64>());
        (0..GAP_BINS).map(move |i| {
            gone += self.reclaimed[i];
            let spells = (gone, stayed);
            stayed -= self.survived[i];
            spells
        })
    }

    /// Observations (spells that ended alive or cold) bearing on the gaps this function's
    /// traffic actually has, averaged over its gap profile: how well the evidence covers the
    /// cold starts that matter for it (`None` without gaps: it never idles a whole minute).
    pub fn coverage(&self) -> Option<f64> {
        let returns: u64 = self.gaps.iter().sum();
        if returns == 0 {
            return None;
        }
        let seen =
            |b: usize| (self.reclaimed[..=b].iter().sum::<u64>() + self.survived[b..].iter().sum::<u64>()) as f64;
        Some((0..GAP_BINS).map(|b| self.gaps[b] as f64 * seen(b)).sum::<f64>() / returns as f64)
    }

    /// The median gap (minutes) of the traffic's returns from idle.
    pub fn typical_gap(&self) -> Option<i64> {
        let returns: u64 = self.gaps.iter().sum();
        let mut acc = 0;
        for (b, &n) in self.gaps.iter().enumerate() {
            acc += n;
            if returns > 0 && 2 * acc >= returns {
                return Some(b as i64 + 2);
            }
        }
        None
    }

    /// How far the gap profile is trusted over the Poisson model: its transitions between
    /// minutes with calls, against [`PRIOR_CALLS`].
    pub fn profile_weight(&self) -> f64 {
        let transitions = self.active_minutes.saturating_sub(1) as f64;
        transitions / (transitions + PRIOR_CALLS)
    }
}

/// Weight of the model's own estimate, in observations.
pub const PRIOR_CALLS: f64 = 4.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn call(minute: i64, cold: u64) -> MinuteLoad {
        MinuteLoad { minute: Minute(minute), invocations: 1, concurrency: 0.0, environments: 1, cold_starts: cold }
    }

    #[test]
    fn counts_idle_spells_since_the_last_touch_and_none_under_pc() {
        // A 15-minute timer, always cold; a warm-up round at minute 50 shortens one spell to
        // 10 minutes, PC at minute 70 hides another.
        let load = [call(0, 1), call(15, 1), call(30, 1), call(45, 1), call(60, 0), call(61, 0), call(75, 0)];
        let e = IdleEvidence::from_history(&load, &[Minute(50)], &[Minute(70)], Minute(0));
        assert_eq!((e.after_idle, e.cold, e.calls, e.active_minutes), (4, 3, 7, 7));
        assert_eq!((e.reclaimed[13], e.survived[8]), (3, 1), "three 15-minute spells cold, one of 10 survived");
        assert_eq!((e.gaps[13], e.gaps[12]), (4, 1), "four returns after 15 minutes, one after 14");
        assert!((e.cold_share(0.5) - (3.0 + 2.0) / 8.0).abs() < 1e-12);
        // Cold starts before `observed_from` are not evidence; the gaps still are.
        let later = IdleEvidence::from_history(&load, &[], &[], Minute(30));
        assert_eq!((later.after_idle, later.gaps[13]), (3, 4));
    }

    #[test]
    fn the_gap_profile_tells_timers_from_poisson_traffic() {
        // Every minute: never back from idle, never cold, whatever the reclaim time.
        let every: Vec<MinuteLoad> = (0..120).map(|m| call(m, 0)).collect();
        assert_eq!(IdleEvidence::from_history(&every, &[], &[], Minute(0)).cold_per_call(5), Some(0.0));
        // Every 15 minutes: each call comes back after 15 idle minutes: cold at R = 5, half
        // of them at R = 15 (they idled about 15 minutes), none at R = 30.
        let quarter: Vec<MinuteLoad> = (0..9).map(|k| call(15 * k, 0)).collect();
        let e = IdleEvidence::from_history(&quarter, &[], &[], Minute(1000));
        assert_eq!(e.cold_per_call(5), Some(8.0 / 9.0));
        assert_eq!(e.cold_per_call(15), Some(8.0 / 9.0 * 0.5));
        assert_eq!(e.cold_per_call(30), Some(0.0));
        assert!(e.profile_weight() > 0.6 && IdleEvidence::default().profile_weight() == 0.0);
        // Nothing observed yet: the model fears cold starts the evidence has not shown.
        assert_eq!(e.shown_cold_per_call(5), Some(0.0));
        let mut seen = e;
        (0..3).for_each(|_| seen.add_probe(15, true));
        assert_eq!(seen.shown_cold_per_call(5), Some(8.0 / 9.0));
    }

    #[test]
    fn spells_that_survive_move_the_reclaim_time_out_and_cold_ones_in() {
        let prior = IdleEvidence::default();
        assert_eq!(prior.reclaim_minutes(5, 2), 5);
        assert_eq!(prior.gone_after(4, 5), 0.0);
        // Eight 8-minute spells survived (warm-up rounds after a skipped one): environments
        // live at least that long, and a 5-minute timer's calls are rarely cold.
        let mut kept = IdleEvidence::default();
        (0..8).for_each(|_| kept.add_probe(8, false));
        assert_eq!(kept.reclaim_minutes(5, 2), 9);
        assert!((kept.gone_after(5, 5) - 2.0 / 12.0).abs() < 1e-12);
        assert!((kept.gone_after(9, 5) - 1.0).abs() < 1e-12, "nothing seen past 8 minutes");
        // Four 3-minute spells that ended cold: environments go sooner than assumed.
        let mut short = IdleEvidence::default();
        (0..4).for_each(|_| short.add_probe(3, true));
        assert_eq!(short.reclaim_minutes(5, 2), 3);
        assert_eq!(short.reclaim_minutes(5, 4), 4, "never below the floor");
    }

    #[test]
    fn the_running_sums_give_each_bin_what_gone_after_gives() {
        let mut e = IdleEvidence::default();
        for (spell, cold) in [(3, false), (3, true), (7, false), (12, true), (12, false), (40, true), (6, false)] {
            e.add_probe(spell, cold);
        }
        for prior in [2, 5, 15] {
            let carried: Vec<f64> = e.gone_by_bin(prior, PRIOR_CALLS).collect();
            let afresh: Vec<f64> = (2..=GAP_BINS as i64 + 1).map(|m| e.gone_after(m, prior)).collect();
            assert_eq!(carried, afresh, "prior {prior}");
        }
    }

    #[test]
    fn coverage_counts_the_evidence_on_the_gaps_the_traffic_has() {
        let mut e = IdleEvidence { calls: 10, active_minutes: 10, ..Default::default() };
        assert_eq!((e.coverage(), e.typical_gap()), (None, None));
        e.gaps[3] = 6; // six returns after 5 minutes
        e.gaps[13] = 3; // three after 15
        assert_eq!((e.coverage(), e.typical_gap()), (Some(0.0), Some(5)));
        e.add_probe(8, false); // alive after 8: also alive after 5, says nothing about 15
        e.add_probe(20, true); // gone after 20: says nothing about 5 or 15
        assert_eq!(e.coverage(), Some(6.0 / 9.0));
    }
}
