//! The stats table's item schema: one definition shared by the extension (which writes it
//! with atomic `ADD` updates) and by collect (which reads it).
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `resourceId` | S, partition key | function, qualified by version or alias (`orders:live`) |
//! | `bucket` | S, sort key | `MMMMMMMMMM#SSSSS`: minute since the Unix epoch (10 digits) `#` memory MB (5 digits) |
//! | `expiresAt` | N | TTL, Unix seconds |
//! | `inv` `cold` `rst` `err` `tmo` `oom` `thr` | N | invocations, cold starts, SnapStart restores, errors, timeouts, out-of-memory, throttles |
//! | `billedMs` `billedInitMs` `busyMs` | N | billed duration, billed INIT/restore, busy time (ms) |
//! | `envs` | N | environment-minutes (each environment adds 1 per minute it served) |
//! | `dSum` `iSum` `mSum` | N | exact sums of durations (ms), init durations (ms), memory used (MB) |
//! | `d<k>` `i<k>` `m<k>` | N | histogram bucket `k` (see [`crate::histogram`]) of duration, init, memory used |
//!
//! Every counter merges by addition, so any number of environments can `ADD` into the same
//! item and the totals are exact. Names are short because DynamoDB bills writes per KB.

use crate::domain::{DomainError, FunctionRef, MemoryMb, Minute};
use crate::histogram::{Histogram, HistogramError};
use crate::observe::{Counters, MinuteStats};

pub const PARTITION_KEY: &str = "resourceId";
pub const SORT_KEY: &str = "bucket";
pub const TTL_ATTRIBUTE: &str = "expiresAt";

pub const INVOCATIONS: &str = "inv";
pub const COLD_STARTS: &str = "cold";
pub const RESTORES: &str = "rst";
pub const ERRORS: &str = "err";
pub const TIMEOUTS: &str = "tmo";
pub const OUT_OF_MEMORY: &str = "oom";
pub const THROTTLES: &str = "thr";
pub const BILLED_MS: &str = "billedMs";
pub const BILLED_INIT_MS: &str = "billedInitMs";
pub const BUSY_MS: &str = "busyMs";
pub const ENVIRONMENTS: &str = "envs";
/// Histogram attribute prefixes; `<prefix>Sum` holds the exact sum.
pub const DURATION_PREFIX: &str = "d";
pub const INIT_PREFIX: &str = "i";
pub const MEMORY_PREFIX: &str = "m";

/// Default retention of stats items (the TTL set on write).
pub const DEFAULT_RETENTION_DAYS: i64 = 35;

/// A problem with a stored item; names the item and the attribute.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ItemError {
    #[error("sort key {0:?} is not MMMMMMMMMM#SSSSS (minute#memory)")]
    BadSortKey(String),
    #[error("attribute {name} = {value:?} is not a valid number")]
    BadNumber { name: String, value: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("attribute {name}: {source}")]
    Histogram { name: String, source: HistogramError },
}

/// The sort key of a minute at a memory size.
pub fn sort_key(minute: Minute, memory: MemoryMb) -> String {
    format!("{:010}#{:05}", minute.0, memory.get())
}

/// Inclusive sort-key bounds for a `BETWEEN` query of minutes `[from, to)`.
pub fn sort_key_range(from: Minute, to: Minute) -> (String, String) {
    (format!("{:010}#", from.0), format!("{:010}#~", to.0 - 1))
}

pub fn parse_sort_key(sk: &str) -> Result<(Minute, MemoryMb), ItemError> {
    let bad = || ItemError::BadSortKey(sk.to_owned());
    let (m, mem) = sk.split_once('#').ok_or_else(bad)?;
    if m.len() != 10 || mem.len() != 5 {
        return Err(bad());
    }
    let minute = m.parse::<i64>().map_err(|_| bad())?;
    let memory = mem.parse::<u64>().map_err(|_| bad())?;
    Ok((Minute(minute), MemoryMb::new(memory)?))
}

/// TTL of an item for a minute: Unix seconds, `retention_days` after the minute.
pub fn expires_at(minute: Minute, retention_days: i64) -> i64 {
    minute.plus(retention_days * Minute::PER_DAY).epoch_ms() / 1000
}

/// A number to `ADD`: counters are integers, sums may be fractional.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Increment {
    Int(u64),
    Float(f64),
}

impl Increment {
    /// The DynamoDB `N` string.
    pub fn to_dynamo_number(self) -> String {
        match self {
            Self::Int(n) => n.to_string(),
            // Three decimals: sums of ms are reported by Lambda with two.
            Self::Float(x) => format!("{:.3}", x),
        }
    }
}

/// Every nonzero counter of `c` as (attribute, increment): the `ADD` clause of an update.
pub fn increments(c: &Counters) -> Vec<(String, Increment)> {
    let mut out = Vec::new();
    for (name, n) in [
        (INVOCATIONS, c.invocations),
        (COLD_STARTS, c.cold_starts),
        (RESTORES, c.restores),
        (ERRORS, c.errors),
        (TIMEOUTS, c.timeouts),
        (OUT_OF_MEMORY, c.out_of_memory),
        (THROTTLES, c.throttles),
        (BILLED_MS, c.billed_ms),
        (BILLED_INIT_MS, c.billed_init_ms),
        (BUSY_MS, c.busy_ms),
        (ENVIRONMENTS, c.environments),
    ] {
        if n > 0 {
            out.push((name.to_owned(), Increment::Int(n)));
        }
    }
    for (prefix, h) in [(DURATION_PREFIX, &c.duration), (INIT_PREFIX, &c.init), (MEMORY_PREFIX, &c.memory_used)] {
        if h.is_empty() {
            continue;
        }
        out.push((format!("{prefix}Sum"), Increment::Float(h.sum())));
        out.extend(h.buckets().map(|(b, n)| (format!("{prefix}{b}"), Increment::Int(n))));
    }
    out
}

/// Reads an item. `numbers` are the item's `N` attributes as (name, DynamoDB number
/// string); unknown names are ignored so that newer writers stay readable.
pub fn from_item<'a>(
    resource_id: &str,
    sort_key: &str,
    numbers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<MinuteStats, ItemError> {
    let function = FunctionRef::parse(resource_id)?;
    let (minute, memory) = parse_sort_key(sort_key)?;
    let mut c = Counters::default();
    let mut hist: [(Vec<(u16, u64)>, f64); 3] = Default::default();
    for (name, value) in numbers {
        let int = || {
            value.parse::<u64>().map_err(|_| ItemError::BadNumber { name: name.to_owned(), value: value.to_owned() })
        };
        let slot = match name {
            INVOCATIONS => &mut c.invocations,
            COLD_STARTS => &mut c.cold_starts,
            RESTORES => &mut c.restores,
            ERRORS => &mut c.errors,
            TIMEOUTS => &mut c.timeouts,
            OUT_OF_MEMORY => &mut c.out_of_memory,
            THROTTLES => &mut c.throttles,
            BILLED_MS => &mut c.billed_ms,
            BILLED_INIT_MS => &mut c.billed_init_ms,
            BUSY_MS => &mut c.busy_ms,
            ENVIRONMENTS => &mut c.environments,
            _ => {
                read_histogram_attribute(name, value, &mut hist)?;
                continue;
            }
        };
        *slot = int()?;
    }
    let [d, i, m] = hist;
    let build = |name: &str, (buckets, sum): (Vec<(u16, u64)>, f64)| {
        Histogram::from_parts(buckets, sum).map_err(|source| ItemError::Histogram { name: name.to_owned(), source })
    };
    c.duration = build(DURATION_PREFIX, d)?;
    c.init = build(INIT_PREFIX, i)?;
    c.memory_used = build(MEMORY_PREFIX, m)?;
    Ok(MinuteStats { function, minute, memory, counters: c })
}

fn read_histogram_attribute(name: &str, value: &str, hist: &mut [(Vec<(u16, u64)>, f64); 3]) -> Result<(), ItemError> {
    let bad = || ItemError::BadNumber { name: name.to_owned(), value: value.to_owned() };
    let idx = match name.get(..1) {
        Some(DURATION_PREFIX) => 0,
        Some(INIT_PREFIX) => 1,
        Some(MEMORY_PREFIX) => 2,
        _ => return Ok(()),
    };
    let rest = &name[1..];
    if rest == "Sum" {
        hist[idx].1 = value.parse::<f64>().map_err(|_| bad())?;
    } else if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
        let bucket = rest.parse::<u16>().map_err(|_| bad())?;
        hist[idx].0.push((bucket, value.parse::<u64>().map_err(|_| bad())?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_order_by_minute_then_memory_and_round_trip() {
        let m = MemoryMb::new(512).unwrap();
        let k = sort_key(Minute(29_929_901), m);
        assert_eq!(k, "0029929901#00512");
        assert_eq!(parse_sort_key(&k).unwrap(), (Minute(29_929_901), m));
        let (lo, hi) = sort_key_range(Minute(29_929_901), Minute(29_929_903));
        assert!(lo.as_str() <= k.as_str() && k.as_str() <= hi.as_str());
        assert!(sort_key(Minute(29_929_902), MemoryMb::MAX).as_str() <= hi.as_str());
        assert!(sort_key(Minute(29_929_903), MemoryMb::MIN).as_str() > hi.as_str());
        assert!(parse_sort_key("29929901#512").is_err());
        assert!(matches!(parse_sort_key("0029929901#00064"), Err(ItemError::Domain(_))));
    }

    #[test]
    fn increments_read_back_as_the_same_counters() {
        let mut c = Counters {
            invocations: 3,
            cold_starts: 1,
            billed_ms: 301,
            busy_ms: 300,
            environments: 1,
            ..Counters::default()
        };
        for d in [99.5, 100.25, 100.25] {
            c.duration.record(d);
            c.memory_used.record(61.0);
        }
        c.init.record(212.4);
        let adds = increments(&c);
        assert!(adds.iter().all(|(n, _)| n.len() <= 12), "attribute names stay short");
        let strings: Vec<(String, String)> = adds.iter().map(|(n, v)| (n.clone(), v.to_dynamo_number())).collect();
        let back = from_item("orders:live", "0029929901#00512", strings.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .unwrap();
        assert_eq!(back.counters.invocations, 3);
        assert_eq!(back.counters.duration.buckets().collect::<Vec<_>>(), c.duration.buckets().collect::<Vec<_>>());
        assert!((back.counters.duration.sum() - 300.0).abs() < 1e-9);
        assert_eq!(back.counters.init.count(), 1);
        assert_eq!(back.counters.memory_used.count(), 3);
    }

    #[test]
    fn bad_items_say_which_attribute() {
        let e = from_item("orders", "0029929901#00512", [("inv", "three")]).unwrap_err().to_string();
        assert!(e.contains("inv") && e.contains("three"), "{e}");
        let e = from_item("orders", "0029929901#00512", [("d99999", "1")]).unwrap_err().to_string();
        assert!(e.contains('d') && e.contains("99999"), "{e}");
        assert!(from_item("orders", "0029929901#00512", [("futureCounter", "7"), ("note", "x")]).is_ok());
    }

    #[test]
    fn ttl() {
        assert_eq!(expires_at(Minute(0), 1), 86_400);
    }
}
