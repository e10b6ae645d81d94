//! What the autopilot observes of a function: mergeable per-minute counters (written by the
//! extension, read by collect, produced by the simulator) and the window summaries that the
//! decision engines read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{FunctionRef, MemoryMb, Minute};
use crate::histogram::{Histogram, Percentiles};

/// Mergeable counters of invocations. Every field merges by addition, so environments,
/// minutes and memory sizes combine in any order with the same result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub invocations: u64,
    /// On-demand cold starts (an INIT phase ran before the invocation).
    pub cold_starts: u64,
    /// SnapStart restores (counted apart from cold starts; their duration is in `init`).
    pub restores: u64,
    /// Invocations that ended in a function error (timeouts and OOM excluded).
    pub errors: u64,
    pub timeouts: u64,
    pub out_of_memory: u64,
    /// Requests Lambda refused for lack of concurrency (CloudWatch only: a throttled request
    /// never reaches an environment, so the extension cannot see it).
    pub throttles: u64,
    /// Sum of billed duration (ms), INIT excluded.
    pub billed_ms: u64,
    /// Sum of billed INIT / restore time (ms).
    pub billed_init_ms: u64,
    /// Busy time in ms; concurrency over a minute = busy_ms / 60,000.
    pub busy_ms: u64,
    /// Environment-minutes: each environment counts once per minute it served.
    pub environments: u64,
    /// Durations (ms).
    pub duration: Histogram,
    /// INIT and SnapStart restore durations (ms).
    pub init: Histogram,
    /// Max memory used per invocation (MB).
    pub memory_used: Histogram,
}

impl Counters {
    pub fn merge(&mut self, o: &Self) {
        self.invocations += o.invocations;
        self.cold_starts += o.cold_starts;
        self.restores += o.restores;
        self.errors += o.errors;
        self.timeouts += o.timeouts;
        self.out_of_memory += o.out_of_memory;
        self.throttles += o.throttles;
        self.billed_ms += o.billed_ms;
        self.billed_init_ms += o.billed_init_ms;
        self.busy_ms += o.busy_ms;
        self.environments += o.environments;
        self.duration.merge(&o.duration);
        self.init.merge(&o.init);
        self.memory_used.merge(&o.memory_used);
    }

    /// Share of invocations that were on-demand cold starts or restores.
    pub fn cold_start_share(&self) -> f64 {
        ratio(self.cold_starts + self.restores, self.invocations)
    }

    /// Share of invocations that failed in any way (error, timeout, out of memory).
    pub fn failure_share(&self) -> f64 {
        ratio(self.errors + self.timeouts + self.out_of_memory, self.invocations)
    }

    pub fn duration_percentiles(&self) -> Option<Percentiles> {
        self.duration.percentiles()
    }

    /// Mean billed duration per invocation (ms).
    pub fn mean_billed_ms(&self) -> Option<f64> {
        (self.invocations > 0).then(|| self.billed_ms as f64 / self.invocations as f64)
    }

    /// Highest memory used, to within the histogram's 2% (an upper bound).
    pub fn max_memory_used_mb(&self) -> Option<f64> {
        self.memory_used.max_bound()
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One minute of one function at one memory size: one item of the stats table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteStats {
    pub function: FunctionRef,
    pub minute: Minute,
    pub memory: MemoryMb,
    #[serde(flatten)]
    pub counters: Counters,
}

impl MinuteStats {
    /// Mean concurrency over the minute (Little's law: busy time / wall time).
    pub fn mean_concurrency(&self) -> f64 {
        self.counters.busy_ms as f64 / 60_000.0
    }
}

/// Load of one minute, all memory sizes together: the input of the forecaster.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteLoad {
    pub minute: Minute,
    pub invocations: u64,
    /// Mean concurrency (busy ms / 60,000).
    pub concurrency: f64,
    /// Environments that served in the minute: an upper bound on the minute's peak concurrency
    /// (environments that served one after the other count once each).
    pub environments: u64,
    pub cold_starts: u64,
}

/// What one stats item adds to its minute's load, and the INIT time it measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemLoad {
    pub minute: Minute,
    pub invocations: u64,
    pub busy_ms: u64,
    pub environments: u64,
    /// Cold starts and SnapStart restores.
    pub cold_starts: u64,
    /// INIT and restore durations measured: how many, and their sum (ms).
    pub inits: u64,
    pub init_ms: f64,
}

impl From<&MinuteStats> for ItemLoad {
    fn from(item: &MinuteStats) -> Self {
        let c = &item.counters;
        Self {
            minute: item.minute,
            invocations: c.invocations,
            busy_ms: c.busy_ms,
            environments: c.environments,
            cold_starts: c.cold_starts + c.restores,
            inits: c.init.count(),
            init_ms: c.init.sum(),
        }
    }
}

/// The load of a window, all memory sizes together, and the INIT time measured in it: what
/// the forecaster and the idle evidence read, without the histograms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadWindow {
    /// Per-minute load, ascending, only minutes with data.
    pub load: Vec<MinuteLoad>,
    /// INIT and restore durations measured: how many, and their sum (ms).
    pub inits: u64,
    pub init_ms: f64,
}

impl LoadWindow {
    /// From items in any order, several per minute (one per memory size); the figures of a
    /// minute are added in the order its items come.
    pub fn from_items(items: impl IntoIterator<Item = ItemLoad>) -> Self {
        let mut out = Self::default();
        for i in items {
            out.inits += i.inits;
            out.init_ms += i.init_ms;
            out.load.push(MinuteLoad {
                minute: i.minute,
                invocations: i.invocations,
                concurrency: i.busy_ms as f64 / 60_000.0,
                environments: i.environments,
                cold_starts: i.cold_starts,
            });
        }
        if !out.load.is_sorted_by_key(|l| l.minute) {
            out.load.sort_by_key(|l| l.minute);
        }
        out.load.dedup_by(|later, kept| {
            let same = later.minute == kept.minute;
            if same {
                kept.invocations += later.invocations;
                kept.concurrency += later.concurrency;
                kept.environments += later.environments;
                kept.cold_starts += later.cold_starts;
            }
            same
        });
        out
    }

    /// From stats items in any order.
    pub fn from_minutes(items: &[MinuteStats]) -> Self {
        Self::from_items(items.iter().map(ItemLoad::from))
    }

    /// Mean INIT duration (ms); `None` when none was measured.
    pub fn mean_init_ms(&self) -> Option<f64> {
        (self.inits > 0).then(|| self.init_ms / self.inits as f64)
    }
}

/// Everything observed of one function over a window, split by memory size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowSummary {
    pub function: FunctionRef,
    /// First minute of the window (inclusive).
    pub from: Minute,
    /// End of the window (exclusive).
    pub to: Minute,
    /// Counters per memory size the function ran at during the window.
    pub by_memory: BTreeMap<MemoryMb, Counters>,
    /// Per-minute load, ascending, only minutes with data (absent minutes had no traffic
    /// or no data; `from`/`to` tell which span was read).
    pub load: Vec<MinuteLoad>,
}

impl WindowSummary {
    /// Builds the summary of a window from minute items (any order, any memory sizes).
    /// Items outside `[from, to)` or of another function are ignored and counted.
    pub fn from_minutes(function: FunctionRef, from: Minute, to: Minute, items: &[MinuteStats]) -> (Self, usize) {
        let mut by_memory: BTreeMap<MemoryMb, Counters> = BTreeMap::new();
        let mut loads = Vec::with_capacity(items.len());
        let mut ignored = 0;
        for item in items {
            if item.function != function || item.minute < from || item.minute >= to {
                ignored += 1;
                continue;
            }
            by_memory.entry(item.memory).or_default().merge(&item.counters);
            loads.push(ItemLoad::from(item));
        }
        let load = LoadWindow::from_items(loads).load;
        (Self { function, from, to, by_memory, load }, ignored)
    }

    /// All memory sizes together.
    pub fn total(&self) -> Counters {
        let mut t = Counters::default();
        for c in self.by_memory.values() {
            t.merge(c);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(minute: i64, memory: u64, invocations: u64, busy_ms: u64) -> MinuteStats {
        let mut counters = Counters { invocations, busy_ms, environments: 1, ..Counters::default() };
        counters.duration.record_n(100.0, invocations);
        MinuteStats {
            function: FunctionRef::parse("orders:live").unwrap(),
            minute: Minute(minute),
            memory: MemoryMb::new(memory).unwrap(),
            counters,
        }
    }

    #[test]
    fn window_summary_splits_by_memory_and_sums_minutes() {
        let f = FunctionRef::parse("orders:live").unwrap();
        let items =
            [item(10, 512, 5, 30_000), item(10, 1024, 3, 30_000), item(11, 1024, 2, 6_000), item(99, 1024, 9, 1)];
        let (s, ignored) = WindowSummary::from_minutes(f, Minute(10), Minute(20), &items);
        assert_eq!(ignored, 1);
        assert_eq!(s.by_memory[&MemoryMb::new(1024).unwrap()].invocations, 5);
        assert_eq!(s.total().invocations, 10);
        assert_eq!(s.load.len(), 2);
        assert!((s.load[0].concurrency - 1.0).abs() < 1e-12);
        assert_eq!(s.load[0].environments, 2);
    }

    #[test]
    fn load_windows_add_a_minute_s_memory_sizes_whatever_the_order() {
        let mut cold = item(11, 512, 2, 6_000);
        cold.counters.cold_starts = 1;
        cold.counters.init.record(300.0);
        let mut restored = item(10, 1024, 3, 30_000);
        restored.counters.restores = 1;
        restored.counters.init.record(100.0);
        let items = [cold, item(10, 512, 5, 30_000), restored];
        let w = LoadWindow::from_minutes(&items);
        assert_eq!(w.load.iter().map(|l| (l.minute.0, l.invocations)).collect::<Vec<_>>(), [(10, 8), (11, 2)]);
        assert_eq!((w.load[0].environments, w.load[0].cold_starts, w.load[1].cold_starts), (2, 1, 1));
        assert!((w.load[0].concurrency - 1.0).abs() < 1e-12);
        assert_eq!(w.mean_init_ms(), Some(200.0));
        assert_eq!(LoadWindow::default().mean_init_ms(), None);
        let f = FunctionRef::parse("orders:live").unwrap();
        assert_eq!(WindowSummary::from_minutes(f, Minute(0), Minute(60), &items).0.load, w.load);
    }

    #[test]
    fn shares() {
        let c = Counters {
            invocations: 200,
            cold_starts: 1,
            restores: 1,
            errors: 2,
            timeouts: 1,
            out_of_memory: 1,
            ..Counters::default()
        };
        assert!((c.cold_start_share() - 0.01).abs() < 1e-12);
        assert!((c.failure_share() - 0.02).abs() < 1e-12);
        assert!(Counters::default().cold_start_share().abs() < f64::EPSILON);
    }
}
