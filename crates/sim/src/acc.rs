//! Accumulators: a dense histogram with the core's bucket layout (cheap to add to in the hot
//! loop, converted to the core's `Histogram` when read), one minute's counters, and a
//! function's totals.

use autopilot_core::cost::Usage;
use autopilot_core::histogram::{Histogram, bucket_count, bucket_of};
use autopilot_core::observe::Counters;

/// A count as a float, as `n as f64`: below 2^63 through i64, which x86-64 converts in one
/// instruction where u64 takes six (the same value: both round the same integer). For the
/// loops that weigh every bucket of a minute by its count.
#[inline]
pub(crate) fn count_f64(n: u64) -> f64 {
    // The other branch out of line: inlined, the optimiser sees both arms compute `n as f64`
    // and merges them back into the six-instruction conversion.
    if n < 1 << 63 { n as i64 as f64 } else { huge_count_f64(n) }
}

#[cold]
#[inline(never)]
fn huge_count_f64(n: u64) -> f64 {
    n as f64
}

/// Counts per bucket of [`autopilot_core::histogram`], stored densely.
#[derive(Debug, Clone, Default)]
pub struct DenseHist {
    counts: Vec<u64>,
    sum: f64,
    /// Buckets that went from zero to nonzero since the last clear (for cheap reset).
    touched: Vec<u16>,
}

impl DenseHist {
    pub fn record(&mut self, value: f64, n: u64) {
        // Nothing to add: no bucket to look up (a logarithm). A busy minute records its
        // timeouts, OOMs and INITs at the mean this way, and most minutes have none.
        if n == 0 {
            return;
        }
        self.add_bucket(bucket_of(value), n, value.max(0.0) * count_f64(n));
    }

    /// Called for every simulated call: inlined, with the one-time allocation out of line.
    #[inline]
    pub fn add_bucket(&mut self, bucket: u16, n: u64, sum: f64) {
        if n == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.allocate();
        }
        let b = usize::from(bucket).min(self.counts.len() - 1);
        let count = &mut self.counts[b];
        if *count == 0 {
            self.touched.push(b as u16);
        }
        *count += n;
        self.sum += sum;
    }

    #[cold]
    fn allocate(&mut self) {
        self.counts = vec![0; usize::from(bucket_count())];
    }

    /// Moves one value recorded in `bucket` to the bucket of `value` (the sum is not
    /// corrected: only the counts of a histogram whose sum is not read may be moved).
    pub fn move_one(&mut self, bucket: u16, value: f64) {
        let b = usize::from(bucket).min(self.counts.len().saturating_sub(1));
        let Some(count) = self.counts.get_mut(b).filter(|c| **c > 0) else { return };
        *count -= 1;
        if *count == 0 {
            // A bucket back at zero leaves `touched`, which holds each nonzero bucket once.
            self.touched.retain(|&t| usize::from(t) != b);
        }
        self.add_bucket(bucket_of(value), 1, 0.0);
    }

    /// Adds counts per bucket, no sum (as [`Self::add_bucket`] with a sum of 0 for each): the
    /// checks that do not depend on the bucket are made once.
    pub fn add_counts(&mut self, parts: impl Iterator<Item = (u16, u64)>) {
        if self.counts.is_empty() {
            self.allocate();
        }
        let last = self.counts.len() - 1;
        for (bucket, n) in parts {
            if n == 0 {
                continue;
            }
            let b = usize::from(bucket).min(last);
            let count = &mut self.counts[b];
            if *count == 0 {
                self.touched.push(b as u16);
            }
            *count += n;
        }
    }

    /// Adds this histogram's counts and sum to `other`. Run for every simulated minute: one
    /// pass over the touched buckets with `other`'s checks hoisted out of it (each touched
    /// bucket holds a nonzero count; no per-bucket sum to add).
    pub fn merge_into(&self, other: &mut Self) {
        if !self.touched.is_empty() {
            if other.counts.is_empty() {
                other.allocate();
            }
            let last = other.counts.len() - 1;
            for &b in &self.touched {
                let n = self.counts[usize::from(b)];
                let to = usize::from(b).min(last);
                let count = &mut other.counts[to];
                if *count == 0 {
                    other.touched.push(to as u16);
                }
                *count += n;
            }
        }
        other.sum += self.sum;
    }

    pub fn count(&self) -> u64 {
        self.touched.iter().map(|&b| self.counts[usize::from(b)]).sum()
    }

    /// Adds to the sum alone (of values whose counts are kept elsewhere).
    pub fn add_sum(&mut self, sum: f64) {
        self.sum += sum;
    }

    /// Sum of the values recorded.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Nonzero buckets and their counts, in the order they were first touched.
    pub fn parts(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.touched.iter().map(|&b| (b, self.counts[usize::from(b)]))
    }

    pub fn to_histogram(&self) -> Histogram {
        Histogram::from_parts(self.parts(), self.sum.max(0.0)).unwrap_or_default()
    }

    pub fn clear(&mut self) {
        for &b in &self.touched {
            self.counts[usize::from(b)] = 0;
        }
        self.touched.clear();
        self.sum = 0.0;
    }
}

/// What happened to one function version in one minute (or, see [`Tally::add_to_totals`],
/// over a whole run).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub invocations: u64,
    pub cold_starts: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub out_of_memory: u64,
    pub throttles: u64,
    pub billed_ms: u64,
    pub billed_init_ms: u64,
    pub busy_ms: f64,
    pub environments: u64,
    /// Invocations served by provisioned environments and their billed ms.
    pub pc_invocations: u64,
    pub pc_billed_ms: u64,
    pub duration: DenseHist,
    pub init: DenseHist,
    pub memory_used: DenseHist,
    /// What callers wait: duration, plus INIT for a cold start (not part of `MinuteStats`,
    /// whose duration is Lambda's, INIT excluded).
    pub latency: DenseHist,
}

impl Tally {
    /// Adds this minute to a function's totals: every counter, and the duration histogram a
    /// report reads. INIT and memory used are read per minute, from the stats items, and are
    /// not totalled; latency, read only in total, is recorded straight into the totals by
    /// whoever simulates the minute.
    pub fn add_to_totals(&self, t: &mut Self) {
        t.invocations += self.invocations;
        t.cold_starts += self.cold_starts;
        t.errors += self.errors;
        t.timeouts += self.timeouts;
        t.out_of_memory += self.out_of_memory;
        t.throttles += self.throttles;
        t.billed_ms += self.billed_ms;
        t.billed_init_ms += self.billed_init_ms;
        t.busy_ms += self.busy_ms;
        t.environments += self.environments;
        t.pc_invocations += self.pc_invocations;
        t.pc_billed_ms += self.pc_billed_ms;
        self.duration.merge_into(&mut t.duration);
    }

    /// Back to zero, keeping the histograms' buffers. Field by field (every field is named, so
    /// a new one cannot be missed): building a default tally to assign would move and drop a
    /// whole one every simulated minute.
    pub fn clear(&mut self) {
        let Self {
            invocations,
            cold_starts,
            errors,
            timeouts,
            out_of_memory,
            throttles,
            billed_ms,
            billed_init_ms,
            busy_ms,
            environments,
            pc_invocations,
            pc_billed_ms,
            duration,
            init,
            memory_used,
            latency,
        } = self;
        for c in [
            invocations,
            cold_starts,
            errors,
            timeouts,
            out_of_memory,
            throttles,
            billed_ms,
            billed_init_ms,
            environments,
            pc_invocations,
            pc_billed_ms,
        ] {
            *c = 0;
        }
        *busy_ms = 0.0;
        for h in [duration, init, memory_used, latency] {
            h.clear();
        }
    }

    /// Billable usage at a memory size (INIT of on-demand cold starts included).
    pub fn usage(&self, memory: autopilot_core::MemoryMb) -> Usage {
        let od = self.invocations - self.pc_invocations;
        let mut u = Usage::invocations(memory, od, self.billed_ms - self.pc_billed_ms)
            + Usage::pc_invocations(memory, self.pc_invocations, self.pc_billed_ms);
        u.init_mb_ms = u128::from(memory.get()) * u128::from(self.billed_init_ms);
        u
    }

    /// The counters the extension would write for this minute.
    pub fn counters(&self) -> Counters {
        Counters {
            invocations: self.invocations,
            cold_starts: self.cold_starts,
            restores: 0,
            errors: self.errors,
            timeouts: self.timeouts,
            out_of_memory: self.out_of_memory,
            throttles: self.throttles,
            billed_ms: self.billed_ms,
            billed_init_ms: self.billed_init_ms,
            busy_ms: self.busy_ms.round() as u64,
            environments: self.environments,
            duration: self.duration.to_histogram(),
            init: self.init.to_histogram(),
            memory_used: self.memory_used.to_histogram(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_a_value_keeps_the_count_and_each_bucket_listed_once() {
        let mut d = DenseHist::default();
        d.record(10.0, 2);
        d.move_one(bucket_of(10.0), 500.0);
        assert_eq!(d.parts().collect::<Vec<_>>(), [(bucket_of(10.0), 1), (bucket_of(500.0), 1)]);
        d.move_one(bucket_of(10.0), 500.0);
        d.record(10.0, 1);
        assert_eq!(d.parts().collect::<Vec<_>>(), [(bucket_of(500.0), 2), (bucket_of(10.0), 1)]);
        // Nothing recorded in the bucket: nothing to move.
        d.move_one(bucket_of(77.0), 500.0);
        assert_eq!(d.count(), 3);
    }

    #[test]
    fn counts_convert_to_floats_as_a_cast_does() {
        for n in [0, 1, 3, (1 << 53) + 1, (1 << 63) - 1, 1 << 63, u64::MAX] {
            assert_eq!(count_f64(n).to_bits(), (n as f64).to_bits(), "{n}");
        }
    }

    #[test]
    fn dense_histograms_read_back_as_core_histograms() {
        let mut d = DenseHist::default();
        let mut h = Histogram::new();
        for v in [1.0, 2.5, 2.5, 100.0, 4_000.0] {
            d.record(v, 1);
            h.record(v);
        }
        assert_eq!(d.to_histogram().buckets().collect::<Vec<_>>(), h.buckets().collect::<Vec<_>>());
        assert!((d.to_histogram().sum() - h.sum()).abs() < 1e-9);
        let mut total = DenseHist::default();
        d.merge_into(&mut total);
        d.clear();
        assert_eq!(d.count(), 0);
        assert_eq!(total.count(), 5);
    }
}
