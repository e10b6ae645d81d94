//! A mergeable log-bucket histogram for durations (ms) and memory (MB).
//!
//! Bucket `i` holds values in `(γ^(i−1), γ^i]` with `γ = (1+α)/(1−α)` and α = 2%, the
//! mapping DDSketch uses (Masson et al., VLDB 2019): any quantile read back is within 2% of
//! a value in the data. The bucket numbering is fixed, so histograms built anywhere — in the
//! extension, in DynamoDB `ADD` counters, in the simulator — merge exactly by adding counts.
//! We own this (rather than use `sketches-ddsketch`) because the bucket indices are a storage
//! contract: they are DynamoDB attribute names, and a crate's internal mapping is not.
//!
//! The nonzero buckets are kept as a sorted vector: a minute of one function fills a few dozen
//! of them, and the simulator and the tuner build, clone, merge and drop millions of such
//! histograms, which a vector does in one allocation where a tree map needs one per node.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Relative accuracy of every quantile.
pub const RELATIVE_ACCURACY: f64 = 0.02;
/// Smallest value resolved; smaller values (and zero) land in bucket 0.
pub const MIN_VALUE: f64 = 0.01;
/// Values above this land in the last bucket (Lambda's limits: 900 s runs, 10,240 MB).
pub const MAX_VALUE: f64 = 1e6;

const GAMMA: f64 = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);

/// Offset that makes the bucket of [`MIN_VALUE`] equal 1.
fn offset() -> i32 {
    1 - raw_index(MIN_VALUE)
}

fn raw_index(value: f64) -> i32 {
    raw_index_of_ln(value.ln())
}

/// `⌈ln v / ln γ⌉` from `ln v`. The ceiling is taken on the integer conversion: `f64::ceil`
/// is a library call on baseline x86-64 (no SSE4.1), and this runs once per simulated call.
fn raw_index_of_ln(ln_value: f64) -> i32 {
    let q = ln_value / GAMMA.ln();
    let t = q as i32;
    if f64::from(t) < q { t + 1 } else { t }
}

/// Number of buckets: 0 (below [`MIN_VALUE`]) through the bucket of [`MAX_VALUE`].
pub fn bucket_count() -> u16 {
    bucket_of(MAX_VALUE) + 1
}

/// The bucket of a value. NaN and values ≤ [`MIN_VALUE`]/γ map to 0.
pub fn bucket_of(value: f64) -> u16 {
    if value.is_nan() || value < MIN_VALUE {
        return 0;
    }
    (raw_index(value.min(MAX_VALUE)) + offset()).max(1) as u16
}

/// The bucket of `e^ln_value`, for callers that drew the value in log space (a lognormal
/// duration): the same bucket as [`bucket_of`] without taking the logarithm back.
pub fn bucket_of_ln(ln_value: f64) -> u16 {
    if ln_value.is_nan() || ln_value < MIN_VALUE.ln() {
        return 0;
    }
    (raw_index_of_ln(ln_value.min(MAX_VALUE.ln())) + offset()).max(1) as u16
}

/// Upper bound of a bucket (inclusive).
pub fn bucket_upper(bucket: u16) -> f64 {
    if bucket == 0 {
        return MIN_VALUE;
    }
    GAMMA.powi(i32::from(bucket) - offset())
}

/// The value a bucket reports: within α of every value in it.
pub fn bucket_value(bucket: u16) -> f64 {
    if bucket == 0 {
        return 0.0;
    }
    2.0 * bucket_upper(bucket) / (GAMMA + 1.0)
}

/// Counts per bucket plus an exact count and sum. Never holds more than
/// [`bucket_count`] entries, whatever the number of values recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Nonzero buckets, ascending; serialized as a map from bucket to count.
    #[serde(serialize_with = "buckets_as_map", deserialize_with = "buckets_from_map")]
    buckets: Vec<(u16, u64)>,
    count: u64,
    sum: f64,
}

fn buckets_as_map<S: Serializer>(buckets: &[(u16, u64)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(buckets.iter().map(|(b, n)| (b, n)))
}

fn buckets_from_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(u16, u64)>, D::Error> {
    let map = BTreeMap::<u16, u64>::deserialize(d)?;
    Ok(map.into_iter().filter(|&(_, n)| n > 0).collect())
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a histogram from stored bucket counts and an exact sum, validating buckets.
    pub fn from_parts(buckets: impl IntoIterator<Item = (u16, u64)>, sum: f64) -> Result<Self, HistogramError> {
        if !sum.is_finite() || sum < 0.0 {
            return Err(HistogramError::BadSum(sum));
        }
        let mut list: Vec<(u16, u64)> = Vec::new();
        let mut count = 0;
        for (bucket, n) in buckets {
            if bucket >= bucket_count() {
                return Err(HistogramError::BucketOutOfRange(bucket));
            }
            if n > 0 {
                list.push((bucket, n));
                count += n;
            }
        }
        if !list.is_sorted_by(|a, b| a.0 < b.0) {
            list.sort_unstable_by_key(|e| e.0);
            list.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    kept.1 += later.1;
                }
                same
            });
        }
        Ok(Self { buckets: list, count, sum })
    }

    /// The counter of a bucket, inserted at its place when new.
    fn slot(&mut self, bucket: u16) -> &mut u64 {
        let i = match self.buckets.binary_search_by_key(&bucket, |e| e.0) {
            Ok(i) => i,
            Err(i) => {
                self.buckets.insert(i, (bucket, 0));
                i
            }
        };
        &mut self.buckets[i].1
    }

    pub fn record(&mut self, value: f64) {
        self.record_n(value, 1);
    }

    /// Records `n` copies of `value`.
    pub fn record_n(&mut self, value: f64, n: u64) {
        if n == 0 || value.is_nan() {
            return;
        }
        *self.slot(bucket_of(value)) += n;
        self.count += n;
        self.sum += value.max(0.0) * n as f64;
    }

    /// Adds `n` values to one bucket directly, with the sum they contribute; for simulators
    /// that spread expected counts over buckets without drawing each value.
    pub fn record_bucket(&mut self, bucket: u16, n: u64, sum: f64) {
        if n == 0 {
            return;
        }
        *self.slot(bucket.min(bucket_count() - 1)) += n;
        self.count += n;
        self.sum += sum.max(0.0);
    }

    /// Adds every count of `other` (exact: merge is associative and commutative).
    pub fn merge(&mut self, other: &Self) {
        if self.buckets.is_empty() {
            self.buckets.clone_from(&other.buckets);
        } else if !other.buckets.is_empty() {
            let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
            let (mut a, mut b) = (self.buckets.iter().peekable(), other.buckets.iter().peekable());
            while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
                if x.0 < y.0 {
                    merged.push(x);
                    a.next();
                } else if y.0 < x.0 {
                    merged.push(y);
                    b.next();
                } else {
                    merged.push((x.0, x.1 + y.1));
                    a.next();
                    b.next();
                }
            }
            merged.extend(a);
            merged.extend(b);
            self.buckets = merged;
        }
        self.count += other.count;
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// Nonzero buckets in ascending order.
    pub fn buckets(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.buckets.iter().copied()
    }

    /// The q-quantile (0 ≤ q ≤ 1) by the nearest-rank rule on `q·(n−1)`, within
    /// [`RELATIVE_ACCURACY`] of the exact value.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0;
        for &(b, n) in &self.buckets {
            seen += n;
            if seen > rank {
                return Some(bucket_value(b));
            }
        }
        self.buckets.last().map(|&(b, _)| bucket_value(b))
    }

    /// Upper bound of the highest nonempty bucket: a value no recorded value exceeds.
    pub fn max_bound(&self) -> Option<f64> {
        self.buckets.last().map(|&(b, _)| bucket_upper(b))
    }

    /// Share of values above `threshold` (by bucket: values in the threshold's bucket count
    /// as not above it).
    pub fn share_above(&self, threshold: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let b = bucket_of(threshold);
        let from = self.buckets.partition_point(|e| e.0 <= b);
        let above: u64 = self.buckets[from..].iter().map(|e| e.1).sum();
        above as f64 / self.count as f64
    }

    /// p50, p90 and p99 together.
    pub fn percentiles(&self) -> Option<Percentiles> {
        Some(Percentiles { p50: self.quantile(0.50)?, p90: self.quantile(0.90)?, p99: self.quantile(0.99)? })
    }
}

/// The same buckets as [`Histogram`], counted in an array that spans the buckets seen so far:
/// recording is an index, not a tree search. For hot paths (the extension records every
/// invocation); [`DenseHistogram::to_histogram`] gives the exact [`Histogram`]. Never holds
/// more than [`bucket_count`] counters.
#[derive(Debug, Clone, Default)]
pub struct DenseHistogram {
    /// The bucket of `counts[0]`.
    first: u16,
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl DenseHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, value: f64) {
        self.record_n(value, 1);
    }

    /// Records `n` copies of `value`, as [`Histogram::record_n`] does.
    pub fn record_n(&mut self, value: f64, n: u64) {
        if n == 0 || value.is_nan() {
            return;
        }
        *self.slot(bucket_of(value)) += n;
        self.count += n;
        self.sum += value.max(0.0) * n as f64;
    }

    /// The counter of a bucket, widening the array to reach it.
    fn slot(&mut self, bucket: u16) -> &mut u64 {
        if self.counts.is_empty() {
            self.first = bucket;
        } else if bucket < self.first {
            let grow = usize::from(self.first - bucket);
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = bucket;
        }
        let at = usize::from(bucket - self.first);
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        &mut self.counts[at]
    }

    /// Adds every count of a [`Histogram`].
    pub fn merge_histogram(&mut self, other: &Histogram) {
        for (b, n) in other.buckets() {
            *self.slot(b) += n;
        }
        self.count += other.count;
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The same counts as a [`Histogram`].
    pub fn to_histogram(&self) -> Histogram {
        let buckets = (self.first..).zip(&self.counts).filter(|(_, n)| **n > 0).map(|(b, n)| (b, *n)).collect();
        Histogram { buckets, count: self.count, sum: self.sum }
    }
}

/// The three percentiles decisions read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

/// A stored histogram that cannot be right.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramError {
    #[error("histogram bucket {0} does not exist (buckets are 0..{max})", max = bucket_count())]
    BucketOutOfRange(u16),
    #[error("histogram sum {0} is not a finite non-negative number")]
    BadSum(f64),
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bucket_layout() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(MIN_VALUE), 1);
        assert_eq!(bucket_count(), 463, "stored attribute names depend on this layout");
        assert_eq!(bucket_of(1e9), bucket_count() - 1);
        for v in [0.01, 0.5, 1.0, 12.34, 469.4, 2_716.51, 900_000.0] {
            let b = bucket_of(v);
            let rel = (bucket_value(b) - v).abs() / v;
            assert!(rel <= RELATIVE_ACCURACY + 1e-12, "{v} → bucket {b} reports {} ({rel})", bucket_value(b));
            assert!(v <= bucket_upper(b) * (1.0 + 1e-12) && v > bucket_upper(b - 1) * (1.0 - 1e-12));
        }
    }

    #[test]
    fn rejects_corrupt_stored_histograms() {
        assert!(Histogram::from_parts([(9_999, 1)], 1.0).is_err());
        assert!(Histogram::from_parts([(5, 1)], f64::NAN).is_err());
        assert_eq!(Histogram::from_parts([(5, 2), (5, 3), (6, 0)], 1.0).unwrap().count(), 5);
    }

    #[test]
    fn serializes_buckets_as_a_map_and_reads_them_back_in_any_order() {
        let h = Histogram::from_parts([(300, 2), (5, 1), (300, 1)], 10.0).unwrap();
        assert_eq!(h.buckets().collect::<Vec<_>>(), [(5, 1), (300, 3)]);
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json, serde_json::json!({"buckets": {"5": 1, "300": 3}, "count": 4, "sum": 10.0}));
        let back: Histogram =
            serde_json::from_value(serde_json::json!({"buckets": {"300": 3, "5": 1, "7": 0}, "count": 4, "sum": 10.0}))
                .unwrap();
        assert_eq!(back, h);
    }

    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn a_value_drawn_in_log_space_lands_in_its_bucket_even_on_bucket_bounds() {
        for b in 1..bucket_count() {
            for v in [bucket_upper(b), bucket_upper(b) * (1.0 + 1e-12), bucket_value(b)] {
                assert_eq!(bucket_of_ln(v.ln()), bucket_of(v), "{v}");
            }
        }
        assert_eq!(bucket_of_ln(f64::NAN), 0);
        assert_eq!(bucket_of_ln(f64::NEG_INFINITY), 0);
        assert_eq!(bucket_of_ln(f64::INFINITY), bucket_count() - 1);
    }

    proptest! {
        #[test]
        fn the_bucket_from_the_logarithm_is_the_bucket_of_the_value(v in 0.01f64..2e6) {
            prop_assert_eq!(bucket_of_ln(v.ln()), bucket_of(v));
        }

        #[test]
        fn quantiles_are_within_the_stated_relative_error(
            values in prop::collection::vec(0.02f64..800_000.0, 1..400),
            q in 0.0f64..=1.0,
        ) {
            let mut h = Histogram::new();
            for &v in &values { h.record(v); }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let exact = exact_quantile(&sorted, q);
            let got = h.quantile(q).unwrap();
            prop_assert!((got - exact).abs() <= RELATIVE_ACCURACY * exact * (1.0 + 1e-9), "q={q} exact={exact} got={got}");
        }

        #[test]
        fn the_dense_histogram_counts_what_the_histogram_counts(
            values in prop::collection::vec(prop_oneof![0.0f64..2e6, Just(f64::NAN), Just(0.0), 1e-9f64..0.02], 0..200),
            stored in prop::collection::vec((0u16..463, 1u64..5), 0..20),
        ) {
            let (mut sparse, mut dense) = (Histogram::new(), DenseHistogram::new());
            for (i, &v) in values.iter().enumerate() {
                sparse.record_n(v, 1 + i as u64 % 3);
                dense.record_n(v, 1 + i as u64 % 3);
            }
            let restored = Histogram::from_parts(stored, 12.5).unwrap();
            sparse.merge(&restored);
            dense.merge_histogram(&restored);
            prop_assert_eq!(dense.to_histogram(), sparse.clone());
            prop_assert_eq!((dense.count(), dense.is_empty()), (sparse.count(), sparse.is_empty()));
            prop_assert!(dense.counts.len() <= usize::from(bucket_count()));
        }

        #[test]
        fn merge_is_associative_and_commutative(
            a in prop::collection::vec(0.0f64..1e6, 0..50),
            b in prop::collection::vec(0.0f64..1e6, 0..50),
            c in prop::collection::vec(0.0f64..1e6, 0..50),
        ) {
            let h = |vs: &[f64]| { let mut h = Histogram::new(); for &v in vs { h.record(v); } h };
            let (ha, hb, hc) = (h(&a), h(&b), h(&c));
            let mut left = ha.clone(); left.merge(&hb); left.merge(&hc);
            let mut bc = hb.clone(); bc.merge(&hc);
            let mut right = ha.clone(); right.merge(&bc);
            let mut swapped = hc.clone(); swapped.merge(&hb); swapped.merge(&ha);
            prop_assert_eq!(left.buckets().collect::<Vec<_>>(), right.buckets().collect::<Vec<_>>());
            prop_assert_eq!(left.buckets().collect::<Vec<_>>(), swapped.buckets().collect::<Vec<_>>());
            prop_assert_eq!(left.count(), (a.len() + b.len() + c.len()) as u64);
            let all: Vec<f64> = a.iter().chain(&b).chain(&c).copied().collect();
            prop_assert_eq!(left.buckets().collect::<Vec<_>>(), h(&all).buckets().collect::<Vec<_>>());
        }
    }
}
