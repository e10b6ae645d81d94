//! The stats items a function's extension would have written, kept over the retention window
//! in a compact form: per item its counters and where its histograms' buckets are in one
//! shared queue. Items are built only when read — the concurrency planner reads counters
//! every few minutes, the memory tuner a day's merged histograms once a day; neither needs a
//! `MinuteStats` per function-minute.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use autopilot_core::histogram::Histogram;
use autopilot_core::observe::{Counters, ItemLoad, LoadWindow, MinuteStats, WindowSummary};
use autopilot_core::{FunctionRef, MemoryMb, Minute};

use crate::acc::{DenseHist, Tally};

/// Bits of a packed bucket entry that hold the count; the bucket number (under 512) is above
/// them. A larger count is kept as several entries of the same bucket, which every read adds.
const COUNT_BITS: u32 = 23;
const COUNT_MASK: u32 = (1 << COUNT_BITS) - 1;

/// Packed entries of one bucket's count.
fn pack(bucket: u16, n: u64) -> impl Iterator<Item = u32> {
    let (full, rest) = (n / u64::from(COUNT_MASK), (n % u64::from(COUNT_MASK)) as u32);
    let b = u32::from(bucket) << COUNT_BITS;
    std::iter::repeat_n(b | COUNT_MASK, full as usize).chain((rest > 0).then_some(b | rest))
}

/// A packed entry's bucket and count.
fn unpack(&e: &u32) -> (u16, u64) {
    ((e >> COUNT_BITS) as u16, u64::from(e & COUNT_MASK))
}

/// One item: the counters of a minute at a memory size, its histograms' sums and where their
/// buckets are.
#[derive(Debug, Clone)]
struct Item {
    minute: Minute,
    memory: MemoryMb,
    /// Every counter of `Counters` but the histograms.
    counts: Counts,
    /// Duration, INIT, memory used: sums and number of nonzero buckets.
    sums: [f64; 3],
    lens: [u32; 3],
    /// Position of the item's first bucket entry, counted from the first entry ever kept.
    first: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    invocations: u64,
    cold_starts: u64,
    errors: u64,
    timeouts: u64,
    out_of_memory: u64,
    throttles: u64,
    billed_ms: u64,
    billed_init_ms: u64,
    busy_ms: u64,
    environments: u64,
}

impl Counts {
    fn add_to(&self, c: &mut Counters) {
        c.invocations += self.invocations;
        c.cold_starts += self.cold_starts;
        c.errors += self.errors;
        c.timeouts += self.timeouts;
        c.out_of_memory += self.out_of_memory;
        c.throttles += self.throttles;
        c.billed_ms += self.billed_ms;
        c.billed_init_ms += self.billed_init_ms;
        c.busy_ms += self.busy_ms;
        c.environments += self.environments;
    }
}

/// A function's stats items, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatsLog {
    items: VecDeque<Item>,
    /// Nonzero buckets of the kept items' histograms, `bucket << 23 | count`, in item order.
    buckets: VecDeque<u32>,
    /// Entries dropped from the front of `buckets` so far.
    dropped: u64,
}

impl StatsLog {
    /// Keeps what the extension would write for a version's minute (as `Tally::counters`).
    pub fn push(&mut self, minute: Minute, memory: MemoryMb, tally: &Tally) {
        let first = self.dropped + self.buckets.len() as u64;
        let mut sums = [0.0; 3];
        let mut lens = [0; 3];
        for (k, h) in [&tally.duration, &tally.init, &tally.memory_used].into_iter().enumerate() {
            // What `DenseHist::to_histogram` keeps: an invalid sum empties the histogram.
            let sum = h.sum().max(0.0);
            if !sum.is_finite() {
                continue;
            }
            sums[k] = sum;
            let before = self.buckets.len();
            // One entry per bucket, extended in one go (the length is known: one capacity check,
            // contiguous writes) ...
            let mut wide = false;
            self.buckets.extend(h.parts().map(|(b, n)| {
                wide |= n > u64::from(COUNT_MASK);
                u32::from(b) << COUNT_BITS | n.min(u64::from(COUNT_MASK)) as u32
            }));
            // ... unless a count needs several entries (millions of calls in one bucket in a
            // minute): then again, entry by entry.
            if wide {
                self.buckets.truncate(before);
                for (b, n) in h.parts() {
                    self.buckets.extend(pack(b, n));
                }
            }
            lens[k] = (self.buckets.len() - before) as u32;
        }
        let counts = Counts {
            invocations: tally.invocations,
            cold_starts: tally.cold_starts,
            errors: tally.errors,
            timeouts: tally.timeouts,
            out_of_memory: tally.out_of_memory,
            throttles: tally.throttles,
            billed_ms: tally.billed_ms,
            billed_init_ms: tally.billed_init_ms,
            busy_ms: tally.busy_ms.round() as u64,
            environments: tally.environments,
        };
        self.items.push_back(Item { minute, memory, counts, sums, lens, first });
    }

    /// Forgets the items of minutes before `from`.
    pub fn forget_before(&mut self, from: Minute) {
        while self.items.front().is_some_and(|i| i.minute < from) {
            if let Some(item) = self.items.pop_front() {
                let n = item.lens.iter().map(|&l| l as usize).sum::<usize>();
                self.buckets.drain(..n);
                self.dropped += n as u64;
            }
        }
    }

    /// Indices of the items of minutes `[from, to)` (items are in minute order). Reads are
    /// mostly of the last few minutes: walked back from the end, by bisection beyond that.
    fn range(&self, from: Minute, to: Minute) -> Range<usize> {
        const WALK: usize = 16;
        let before = |minute: Minute, below: usize| {
            let mut i = below;
            while i > 0 && below - i < WALK {
                if self.items[i - 1].minute < minute {
                    return i;
                }
                i -= 1;
            }
            if i == 0 { 0 } else { self.items.partition_point(|x| x.minute < minute) }
        };
        let end = before(to, self.items.len());
        before(from.min(to), end)..end
    }

    /// The bucket entries of an item's histograms, one slice range per histogram.
    fn entries(&self, item: &Item) -> [Range<usize>; 3] {
        let mut at = (item.first - self.dropped) as usize;
        item.lens.map(|l| {
            let r = at..at + l as usize;
            at = r.end;
            r
        })
    }

    fn unpack(&self, r: Range<usize>) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.buckets.range(r).map(unpack)
    }

    /// The entries of `r` as the (at most two) contiguous slices of the queue holding them, in
    /// order: for the reads that walk a day of entries, a plain slice walk each.
    fn slices(&self, r: Range<usize>) -> [&[u32]; 2] {
        let (front, back) = self.buckets.as_slices();
        let split = front.len();
        [&front[r.start.min(split)..r.end.min(split)], &back[r.start.max(split) - split..r.end.max(split) - split]]
    }

    /// The items of minutes `[from, to)`, as the stats table holds them.
    pub fn read(&self, function: &FunctionRef, from: Minute, to: Minute) -> Vec<MinuteStats> {
        self.items
            .range(self.range(from, to))
            .map(|item| {
                let mut counters = Counters::default();
                item.counts.add_to(&mut counters);
                let [d, i, m] = self.entries(item);
                let hist = |r: Range<usize>, sum: f64| Histogram::from_parts(self.unpack(r), sum).unwrap_or_default();
                counters.duration = hist(d, item.sums[0]);
                counters.init = hist(i, item.sums[1]);
                counters.memory_used = hist(m, item.sums[2]);
                MinuteStats { function: function.clone(), minute: item.minute, memory: item.memory, counters }
            })
            .collect()
    }

    /// `LoadWindow::from_minutes` of [`Self::read`], without building the items.
    pub fn load(&self, from: Minute, to: Minute) -> LoadWindow {
        LoadWindow::from_items(self.items.range(self.range(from, to)).map(|item| {
            let c = &item.counts;
            ItemLoad {
                minute: item.minute,
                invocations: c.invocations,
                busy_ms: c.busy_ms,
                environments: c.environments,
                cold_starts: c.cold_starts,
                inits: self
                    .slices(self.entries(item)[1].clone())
                    .iter()
                    .flat_map(|p| p.iter())
                    .map(|e| unpack(e).1)
                    .sum(),
                init_ms: item.sums[1],
            }
        }))
    }

    /// `WindowSummary::from_minutes` of [`Self::read`], merging each memory size's histograms
    /// densely instead of item by item.
    pub fn summary(&self, function: &FunctionRef, from: Minute, to: Minute) -> WindowSummary {
        let mut by_memory: BTreeMap<MemoryMb, (Counters, [DenseHist; 3], [f64; 3])> = BTreeMap::new();
        let range = self.range(from, to);
        for item in self.items.range(range.clone()) {
            let (counters, hists, sums) = by_memory.entry(item.memory).or_default();
            item.counts.add_to(counters);
            for (k, r) in self.entries(item).into_iter().enumerate() {
                for part in self.slices(r) {
                    if !part.is_empty() {
                        hists[k].add_counts(part.iter().map(unpack));
                    }
                }
                sums[k] += item.sums[k];
            }
        }
        let by_memory = by_memory
            .into_iter()
            .map(|(memory, (mut c, [d, i, m], [ds, is, ms]))| {
                let hist = |h: &DenseHist, sum: f64| Histogram::from_parts(h.parts(), sum).unwrap_or_default();
                c.duration = hist(&d, ds);
                c.init = hist(&i, is);
                c.memory_used = hist(&m, ms);
                (memory, c)
            })
            .collect();
        let load = self.load(from, to).load;
        WindowSummary { function: function.clone(), from, to, by_memory, load }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(invocations: u64, seed: f64) -> Tally {
        let mut t = Tally { invocations, cold_starts: 1, busy_ms: 1_234.6, environments: 2, ..Tally::default() };
        for k in 0..invocations {
            t.duration.record(seed * (1.0 + k as f64), 1);
            t.memory_used.record(100.0 + k as f64, 1);
        }
        t.init.record(seed * 300.0, 1);
        t
    }

    /// Minutes 0..6 at 512 MB, minutes 3..6 at 1,024 MB too.
    fn log() -> (StatsLog, Vec<MinuteStats>) {
        let f = FunctionRef::parse("orders").unwrap();
        let (mut log, mut items) = (StatsLog::default(), Vec::new());
        for minute in 0..6 {
            for (memory, seed) in [(512, 1.5), (1024, 0.7)] {
                if memory == 1024 && minute < 3 {
                    continue;
                }
                let (m, memory) = (Minute(minute), MemoryMb::new(memory).unwrap());
                let t = tally(3 + minute as u64, seed + minute as f64);
                log.push(m, memory, &t);
                items.push(MinuteStats { function: f.clone(), minute: m, memory, counters: t.counters() });
            }
        }
        (log, items)
    }

    #[test]
    fn items_read_back_as_the_extension_would_have_written_them() {
        let (mut log, items) = log();
        let f = FunctionRef::parse("orders").unwrap();
        assert_eq!(log.read(&f, Minute(0), Minute(6)), items);
        assert_eq!(log.read(&f, Minute(2), Minute(4)), items[2..5]);
        log.forget_before(Minute(4));
        assert_eq!(log.read(&f, Minute(0), Minute(6)), items[5..]);
        assert!(log.read(&f, Minute(6), Minute(9)).is_empty());
    }

    #[test]
    fn counts_beyond_an_entry_s_width_read_back_whole() {
        let f = FunctionRef::parse("orders").unwrap();
        let mut t = tally(2, 1.0);
        let huge = 3 * (1 << COUNT_BITS) + 5;
        t.duration.add_bucket(300, huge, 0.0);
        t.invocations += huge;
        let mut log = StatsLog::default();
        log.push(Minute(0), MemoryMb::new(512).unwrap(), &t);
        let read = log.read(&f, Minute(0), Minute(1));
        assert_eq!(read[0].counters, t.counters());
        assert_eq!(read[0].counters.duration.count(), huge + 2);
        let summary = log.summary(&f, Minute(0), Minute(1));
        assert_eq!(summary, WindowSummary::from_minutes(f.clone(), Minute(0), Minute(1), &read).0);
    }

    #[test]
    fn reads_find_their_minutes_near_the_end_and_far_from_it() {
        let mut log = StatsLog::default();
        let memory = MemoryMb::new(512).unwrap();
        // Minutes 0, 2, 4, ..., 198; minute 100 twice (two memory sizes).
        for minute in (0..200).step_by(2) {
            log.push(Minute(minute), memory, &tally(1, 1.0));
            if minute == 100 {
                log.push(Minute(minute), MemoryMb::new(1024).unwrap(), &tally(1, 1.0));
            }
        }
        let minutes = |from: i64, to: i64| -> Vec<i64> {
            log.range(Minute(from), Minute(to)).map(|i| log.items[i].minute.0).collect()
        };
        let expected = |from: i64, to: i64| -> Vec<i64> {
            (0..200)
                .step_by(2)
                .filter(|m| (from..to).contains(m))
                .flat_map(|m| if m == 100 { vec![m, m] } else { vec![m] })
                .collect()
        };
        for (from, to) in
            [(190, 200), (197, 300), (0, 200), (10, 21), (99, 101), (100, 102), (50, 40), (-5, 1), (300, 400)]
        {
            assert_eq!(minutes(from, to), expected(from, to), "[{from}, {to})");
        }
    }

    #[test]
    fn load_and_summary_reads_equal_the_core_s_over_the_items() {
        let (mut log, items) = log();
        let f = FunctionRef::parse("orders").unwrap();
        log.forget_before(Minute(1));
        let kept = &items[1..];
        for (from, to) in [(0, 6), (2, 5), (3, 4), (5, 9)] {
            let (from, to) = (Minute(from), Minute(to));
            let inside: Vec<MinuteStats> = kept.iter().filter(|i| i.minute >= from && i.minute < to).cloned().collect();
            assert_eq!(log.load(from, to), LoadWindow::from_minutes(&inside));
            assert_eq!(log.summary(&f, from, to), WindowSummary::from_minutes(f.clone(), from, to, &inside).0);
        }
    }
}
