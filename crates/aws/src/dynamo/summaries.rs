//! Window summaries written by collect and read by the later steps, in the control table.
//!
//! Stored as the core's [`WindowSummary`] JSON, gzip-compressed, in a binary `body`
//! attribute. Why JSON, not one attribute per field: the summary is written once and read
//! whole, nobody queries inside it, and its serde form is already the one schema of the
//! type. Why compressed: DynamoDB bills writes per KB and the per-minute load series is
//! most of the bytes: a day of load is 90–99 B of JSON per minute and 3.6–10.5 B gzipped
//! (9–25× less, smooth vs random load; 5–15 write units a day-summary instead of ~140). A summary larger
//! than one item allows (400 KB) is split into parts of [`PART_BYTES`], each carrying the
//! part count and a write id; a reader takes a summary only when every part of one write
//! is there.

use std::collections::HashMap;
use std::io::{Read, Write};

use autopilot_core::domain::{FunctionRef, Minute};
use autopilot_core::observe::WindowSummary;
use autopilot_core::ports::{ErrorKind, PortResult};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

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

pub fn compress(summary: &WindowSummary) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(summary).map_err(|e| e.to_string())?;
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
    enc.write_all(&json).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

pub fn decompress(bytes: &[u8]) -> Result<WindowSummary, String> {
    let mut json = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut json).map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
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

    #[test]
    fn compression_round_trips_and_pays() {
        let s = day_summary();
        let json = serde_json::to_vec(&s).unwrap().len();
        let gz = compress(&s).unwrap();
        let back = decompress(&gz).unwrap();
        // serde_json parses floats to within one ulp (no `float_roundtrip`), so compare those
        // with a tolerance and everything else exactly.
        assert_eq!((&back.function, back.from, back.to, &back.by_memory), (&s.function, s.from, s.to, &s.by_memory));
        assert_eq!(back.load.len(), s.load.len());
        for (a, b) in back.load.iter().zip(&s.load) {
            assert_eq!(
                (a.minute, a.invocations, a.environments, a.cold_starts),
                (b.minute, b.invocations, b.environments, b.cold_starts)
            );
            assert!((a.concurrency - b.concurrency).abs() <= 1e-12 * b.concurrency.abs().max(1.0));
        }
        assert!(gz.len() * 4 < json, "a day of load compresses at least 4x ({} -> {})", json, gz.len());
    }

    #[test]
    fn window_keys_parse_back() {
        let p = summary_prefix(Minute(10), Minute(1_450));
        assert_eq!(p, "SUMMARY#0000001450#0000000010#");
        assert_eq!(parse_window(&format!("{p}000")), Some((Minute(10), Minute(1_450))));
        assert_eq!(parse_window("LEASE"), None);
    }
}
