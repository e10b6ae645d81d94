//! What the passive tuner has observed per memory size over its look-back: the windows of
//! earlier runs, kept between runs.
//!
//! A deployed memory run is a Lambda that starts from one window (a day) of stats. Without
//! the windows before it, the sizes measured on earlier days are forgotten the day the
//! function moves on, and the tuner brackets its optimum from a single size each run. On the
//! simulator's demo fleet the deployed steps ended far from the sizes the simulator's slot
//! (which keeps every window) reached: `checkout-api` at 443 MB against 313, `feed-ranker` at
//! 1,448 against 1,024, `report-cron` never moved. [`SizeHistory`] is that look-back, kept
//! in the control table by the deployed steps and in memory by the slot: one rule for both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{MemoryMb, Minute};
use crate::observe::{Counters, WindowSummary};

/// How far back the tuner's observations reach (days).
pub const LOOKBACK_DAYS: i64 = 14;

/// One window's counters per size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptWindow {
    pub from: Minute,
    pub to: Minute,
    pub by_memory: BTreeMap<MemoryMb, Counters>,
}

/// The windows of the look-back, oldest first; no two overlap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeHistory {
    pub windows: Vec<KeptWindow>,
}

impl SizeHistory {
    /// The look-back after a run at `now` that summarised `current`: the windows it overlaps
    /// give way to it (a run again of the same window, or runs closer together than their
    /// windows, count each minute once), and those that ended more than [`LOOKBACK_DAYS`]
    /// before `now` go.
    #[must_use]
    pub fn with(mut self, current: &WindowSummary, now: Minute) -> Self {
        let oldest = now.plus(-LOOKBACK_DAYS * Minute::PER_DAY);
        self.windows.retain(|w| w.to > oldest && (w.to <= current.from || w.from >= current.to));
        let at = self.windows.partition_point(|w| w.to <= current.from);
        let window = KeptWindow { from: current.from, to: current.to, by_memory: current.by_memory.clone() };
        self.windows.insert(at, window);
        self
    }

    /// Everything observed per size in the look-back.
    pub fn merged(&self) -> BTreeMap<MemoryMb, Counters> {
        let mut out: BTreeMap<MemoryMb, Counters> = BTreeMap::new();
        for w in &self.windows {
            for (memory, c) in &w.by_memory {
                out.entry(*memory).or_default().merge(c);
            }
        }
        out
    }

    /// A window that ended at or before `at` is kept (the runs before it were seen).
    pub fn has_window_before(&self, at: Minute) -> bool {
        self.windows.iter().any(|w| w.to <= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FunctionRef;

    fn mem(mb: u32) -> MemoryMb {
        MemoryMb::new(u64::from(mb)).unwrap()
    }

    fn window(from: i64, to: i64, sizes: &[(u32, u64)]) -> WindowSummary {
        WindowSummary {
            function: FunctionRef::new("f", None).unwrap(),
            from: Minute(from),
            to: Minute(to),
            by_memory: sizes
                .iter()
                .map(|&(m, n)| (mem(m), Counters { invocations: n, ..Counters::default() }))
                .collect(),
            load: Vec::new(),
        }
    }

    const DAY: i64 = Minute::PER_DAY;

    #[test]
    fn sizes_measured_on_earlier_days_are_remembered() {
        let h = SizeHistory::default()
            .with(&window(0, DAY, &[(512, 100)]), Minute(DAY))
            .with(&window(DAY, 2 * DAY, &[(512, 10), (768, 90)]), Minute(2 * DAY))
            .with(&window(2 * DAY, 3 * DAY, &[(1024, 50)]), Minute(3 * DAY));
        let merged = h.merged();
        let n = |m| merged.get(&mem(m)).map_or(0, |c| c.invocations);
        assert_eq!((n(512), n(768), n(1024)), (110, 90, 50));
        assert!(h.has_window_before(Minute(2 * DAY)) && !h.has_window_before(Minute(DAY - 1)));
    }

    #[test]
    fn a_window_run_again_or_overlapping_counts_each_minute_once() {
        let day1 = window(0, DAY, &[(512, 100)]);
        let again = SizeHistory::default().with(&day1, Minute(DAY)).with(&day1, Minute(DAY));
        assert_eq!(again.windows.len(), 1);
        assert_eq!(again.merged()[&mem(512)].invocations, 100);
        // a run six hours later over the last day replaces the window it overlaps
        let later = again.with(&window(DAY / 4, DAY + DAY / 4, &[(512, 120)]), Minute(DAY + DAY / 4));
        assert_eq!(later.windows.len(), 1);
        assert_eq!(later.merged()[&mem(512)].invocations, 120);
    }

    #[test]
    fn windows_older_than_the_look_back_go_and_order_is_kept() {
        let mut h = SizeHistory::default();
        for d in 0..20 {
            h = h.with(&window(d * DAY, (d + 1) * DAY, &[(512, 1)]), Minute((d + 1) * DAY));
        }
        assert_eq!(h.windows.len(), LOOKBACK_DAYS as usize);
        assert_eq!(h.merged()[&mem(512)].invocations, LOOKBACK_DAYS as u64);
        // an old execution run again slots its window in by time
        let h = h.with(&window(10 * DAY + 1, 10 * DAY + 2, &[(640, 1)]), Minute(20 * DAY));
        assert!(h.windows.windows(2).all(|w| w[0].to <= w[1].from));
        assert_eq!(h.windows.len(), LOOKBACK_DAYS as usize, "it replaced the day it overlaps");
    }

    #[test]
    fn json_round_trip() {
        let h = SizeHistory::default().with(&window(0, DAY, &[(512, 3)]), Minute(DAY));
        let back: SizeHistory = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(back, h);
    }
}
