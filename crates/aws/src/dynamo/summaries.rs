//! Window summaries written by collect and read by the later steps, in the control table.
//!
//! Stored as JSON, gzip-compressed, in a binary `body` attribute. Why JSON, not one
//! attribute per field: the summary is written once and read whole, and nobody queries
//! inside it. Why compressed: DynamoDB bills writes per KB and the per-minute load series is
//! most of the bytes (a day of load is 90–99 B of JSON per minute as rows).
//!
//! The JSON is the core's [`WindowSummary`] with its load turned into columns ([`Columns`]):
//! the minutes as steps from the one before, and the busy time per minute in whole ms, from
//! which the mean concurrency is worked out exactly as the summary worked it out (busy ms /
//! 60,000). Measured on a day of the demo fleet's 13 functions (the `emulator_bill` test of
//! the Lambdas): 108 KB of gzip as rows, about 60 KB as columns, 8.85 → 5.31 write units per
//! function and concurrency run; and the load reads back to the last bit, where a float
//! printed and parsed again may not. A summary whose
//! concurrency is not whole ms (none the collect step builds) is stored as rows, and rows
//! written before are still read.
//!
//! A summary larger than one item allows (400 KB) is split into parts of [`PART_BYTES`], each
//! carrying the part count and a write id; a reader takes a summary only when every part of
//! one write is there.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
use autopilot_core::observe::{Counters, MinuteLoad, WindowSummary};
use autopilot_core::ports::{ErrorKind, PortResult};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::control::{BODY, ControlTable, PARTS, SK, SUMMARY_PREFIX, SortKeys, TTL_ATTRIBUTE, WRITE_ID, function_key};
use crate::error::{ClassifyExt, port_error};

/// Largest body of one item (DynamoDB's item limit is 400 KB, keys and names included).
pub const PART_BYTES: usize = 350_000;

/// Sort-key prefix of one window's parts: `SUMMARY#<to>#<from>#`.
pub fn summary_prefix(from: Minute, to: Minute) -> String {
    format!("{SUMMARY_PREFIX}{:010}#{:010}#", to.0, from.0)
}

fn parse_window(sk: &str) -> Option<(Minute, Minute)> {
    let mut it = sk.strip_prefix(SUMMARY_PREFIX)?.split('#');
    let to = it.next()?.parse().ok()?;
    let from = it.next()?.parse().ok()?;
    Some((Minute(from), Minute(to)))
}

/// The stored form of a [`WindowSummary`]: the same fields, its load as [`Columns`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Stored {
    function: FunctionRef,
    from: Minute,
    to: Minute,
    by_memory: BTreeMap<MemoryMb, Counters>,
    columns: Columns,
}

/// A window's per-minute load, one column per field: a column of like numbers compresses
/// far better than rows that interleave them.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Columns {
    /// Each minute less the one before (the first less the window's start).
    minute_steps: Vec<i64>,
    invocations: Vec<u64>,
    busy_ms: Vec<u64>,
    environments: Vec<u64>,
    cold_starts: Vec<u64>,
}

/// The busy ms a mean concurrency was worked out from, if it was whole ms.
fn whole_busy_ms(concurrency: f64) -> Option<u64> {
    let ms = (concurrency * 60_000.0).round();
    let whole = (0.0..9.0e15).contains(&ms).then_some(ms as u64)?;
    (whole as f64 / 60_000.0 == concurrency).then_some(whole)
}

fn columns(summary: &WindowSummary) -> Option<Columns> {
    let mut c = Columns::default();
    let mut previous = summary.from;
    for l in &summary.load {
        c.minute_steps.push(l.minute.0 - previous.0);
        previous = l.minute;
        c.invocations.push(l.invocations);
        c.busy_ms.push(whole_busy_ms(l.concurrency)?);
        c.environments.push(l.environments);
        c.cold_starts.push(l.cold_starts);
    }
    Some(c)
}

fn rows(from: Minute, c: &Columns) -> Result<Vec<MinuteLoad>, String> {
    let n = c.minute_steps.len();
    if [c.invocations.len(), c.busy_ms.len(), c.environments.len(), c.cold_starts.len()].iter().any(|&l| l != n) {
        return Err(format!("load columns of unequal lengths ({n} minutes)"));
    }
    let mut minute = from;
    Ok((0..n)
        .map(|i| {
            minute = minute.plus(c.minute_steps[i]);
            MinuteLoad {
                minute,
                invocations: c.invocations[i],
                concurrency: c.busy_ms[i] as f64 / 60_000.0,
                environments: c.environments[i],
                cold_starts: c.cold_starts[i],
            }
        })
        .collect())
}

/// JSON of `value`, gzip-compressed: the body of every control item that is read whole.
pub(crate) fn gzip_json<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
    enc.write_all(&json).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

pub(crate) fn gunzip_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut json = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut json).map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

pub fn compress(summary: &WindowSummary) -> Result<Vec<u8>, String> {
    match columns(summary) {
        Some(columns) => gzip_json(&Stored {
            function: summary.function.clone(),
            from: summary.from,
            to: summary.to,
            by_memory: summary.by_memory.clone(),
            columns,
        }),
        None => gzip_json(summary),
    }
}

pub fn decompress(bytes: &[u8]) -> Result<WindowSummary, String> {
    let value: serde_json::Value = gunzip_json(bytes)?;
    // Columns, or rows as summaries were written before.
    if value.get("columns").is_none() {
        return serde_json::from_value(value).map_err(|e| e.to_string());
    }
    let Stored { function, from, to, by_memory, columns } = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(WindowSummary { function, from, to, by_memory, load: rows(from, &columns)? })
}

impl ControlTable {
    /// Writes the summary of `summary.function` over `[from, to)`, replacing the one of the
    /// same window; `expires_at` (Unix seconds) sets its TTL. Returns the bytes stored.
    pub async fn put_summary(&self, summary: &WindowSummary, expires_at: Option<i64>) -> PortResult<usize> {
        const OP: &str = "DynamoDB.PutItem";
        let body = compress(summary).map_err(|e| port_error(ErrorKind::InvalidInput, OP, e))?;
        let parts: Vec<&[u8]> = body.chunks(PART_BYTES).collect();
        let write_id = format!("{:016x}", fastrand::u64(..));
        let prefix = summary_prefix(summary.from, summary.to);
        for (i, part) in parts.iter().enumerate() {
            let mut req = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(Self::key(function_key(&summary.function), format!("{prefix}{i:03}"))))
                .item(BODY, AttributeValue::B(Blob::new(part.to_vec())))
                .item(PARTS, AttributeValue::N(parts.len().to_string()))
                .item(WRITE_ID, AttributeValue::S(write_id.clone()));
            if let Some(t) = expires_at {
                req = req.item(TTL_ATTRIBUTE, AttributeValue::N(t.to_string()));
            }
            req.send().await.classify(OP)?;
        }
        Ok(body.len())
    }

    /// The summary of exactly `[from, to)`, if one was written.
    pub async fn get_summary(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> PortResult<Option<WindowSummary>> {
        let items =
            self.query_function(function, SortKeys::Prefix(&summary_prefix(from, to)), (true, None), true).await?;
        assemble(&items)
    }

    /// The summary with the latest window end, if any.
    pub async fn latest_summary(&self, function: &FunctionRef) -> PortResult<Option<WindowSummary>> {
        let last = self.query_function(function, SortKeys::Prefix(SUMMARY_PREFIX), (false, Some(1)), true).await?;
        let Some(sk) = last.first().and_then(|i| i.get(SK)).and_then(|v| v.as_s().ok()) else { return Ok(None) };
        let Some((from, to)) = parse_window(sk) else {
            return Err(port_error(ErrorKind::Fatal, "DynamoDB.Query", format!("summary key {sk:?} is not valid")));
        };
        self.get_summary(function, from, to).await
    }
}

/// Joins the parts of one write, in order; `None` when there are none.
fn assemble(items: &[HashMap<String, AttributeValue>]) -> PortResult<Option<WindowSummary>> {
    const OP: &str = "DynamoDB.Query";
    let Some(first) = items.first() else { return Ok(None) };
    let field = |item: &HashMap<String, AttributeValue>, name: &str| item.get(name).cloned();
    let write_id = field(first, WRITE_ID);
    let parts: usize = match field(first, PARTS) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    let current: Vec<_> = items.iter().filter(|i| field(i, WRITE_ID) == write_id).take(parts).collect();
    if parts == 0 || current.len() != parts {
        return Err(port_error(
            ErrorKind::Conflict,
            OP,
            format!("window summary has {} of {parts} parts of one write (being rewritten?)", current.len()),
        ));
    }
    let mut body = Vec::new();
    for item in current {
        match item.get(BODY) {
            Some(AttributeValue::B(b)) => body.extend_from_slice(b.as_ref()),
            _ => return Err(port_error(ErrorKind::Fatal, OP, "window summary part without a binary body")),
        }
    }
    decompress(&body)
        .map(Some)
        .map_err(|e| port_error(ErrorKind::Fatal, OP, format!("window summary does not decode: {e}")))
}

#[cfg(test)]
mod tests {
    use autopilot_core::domain::MemoryMb;
    use autopilot_core::observe::{Counters, MinuteStats};

    use super::*;

    fn day_summary() -> WindowSummary {
        let f = FunctionRef::parse("orders:live").unwrap();
        let items: Vec<MinuteStats> = (0..1_440)
            .map(|m| {
                let mut counters = Counters {
                    invocations: 50 + m % 37,
                    busy_ms: 6_000 + (m * 13) % 900,
                    environments: 2,
                    ..Counters::default()
                };
                counters.duration.record_n(100.0 + (m % 50) as f64, counters.invocations);
                MinuteStats {
                    function: f.clone(),
                    minute: Minute(29_000_000 + m as i64),
                    memory: MemoryMb::new(512).unwrap(),
                    counters,
                }
            })
            .collect();
        WindowSummary::from_minutes(f, Minute(29_000_000), Minute(29_001_440), &items).0
    }

    fn rows_gzip(s: &WindowSummary) -> Vec<u8> {
        gzip_json(s).unwrap()
    }

    #[test]
    fn a_summary_is_stored_as_columns_and_reads_back_to_the_last_bit() {
        let s = day_summary();
        let json = serde_json::to_vec(&s).unwrap().len();
        let gz = compress(&s).unwrap();
        assert_eq!(decompress(&gz).unwrap(), s);
        let as_rows = rows_gzip(&s).len();
        assert!(gz.len() * 4 < json, "a day of load compresses at least 4x ({} -> {})", json, gz.len());
        assert!(gz.len() < as_rows, "columns {} B, rows {as_rows} B", gz.len());
    }

    #[test]
    fn summaries_stored_as_rows_still_read() {
        let s = day_summary();
        let back = decompress(&rows_gzip(&s)).unwrap();
        // serde_json parses floats to within one ulp (no `float_roundtrip`)
        assert_eq!((&back.function, back.from, back.to, &back.by_memory), (&s.function, s.from, s.to, &s.by_memory));
        assert_eq!(back.load.len(), s.load.len());
        for (a, b) in back.load.iter().zip(&s.load) {
            assert_eq!(
                (a.minute, a.invocations, a.environments, a.cold_starts),
                (b.minute, b.invocations, b.environments, b.cold_starts)
            );
            assert!((a.concurrency - b.concurrency).abs() <= 1e-12 * b.concurrency.abs().max(1.0));
        }
    }

    #[test]
    fn a_concurrency_that_is_not_whole_ms_is_stored_as_rows() {
        let mut s = day_summary();
        s.load[7].concurrency = 0.123_456_789; // 7,407.407 ms
        let gz = compress(&s).unwrap();
        let value: serde_json::Value = gunzip_json(&gz).unwrap();
        assert!(value.get("columns").is_none() && value.get("load").is_some());
        let back = decompress(&gz).unwrap();
        assert!((back.load[7].concurrency - 0.123_456_789).abs() < 1e-15);
        assert_eq!(whole_busy_ms(12_345.0 / 60_000.0), Some(12_345));
        assert_eq!(whole_busy_ms(-1.0), None);
    }

    #[test]
    fn columns_of_unequal_lengths_are_an_error_that_says_so() {
        let s = day_summary();
        let mut stored = serde_json::json!({
            "function": s.function, "from": s.from, "to": s.to, "byMemory": s.by_memory,
            "columns": { "minuteSteps": [0, 1], "invocations": [1, 2], "busyMs": [5], "environments": [1, 1],
                         "coldStarts": [0, 0] }
        });
        let gz = |v: &serde_json::Value| gzip_json(v).unwrap();
        let e = decompress(&gz(&stored)).unwrap_err();
        assert!(e.contains("unequal lengths"), "{e}");
        stored["columns"]["busyMs"] = serde_json::json!([5, 6]);
        assert_eq!(decompress(&gz(&stored)).unwrap().load[1].minute, s.from.plus(1));
    }

    #[test]
    fn window_keys_parse_back() {
        let p = summary_prefix(Minute(10), Minute(1_450));
        assert_eq!(p, "SUMMARY#0000001450#0000000010#");
        assert_eq!(parse_window(&format!("{p}000")), Some((Minute(10), Minute(1_450))));
        assert_eq!(parse_window("LEASE"), None);
    }
}
