//! Telemetry API batches, parsed leniently and one record at a time.
//!
//! Why our own types and not `lambda_extension::LambdaTelemetryRecord`: that enum is closed,
//! so one record of a type it does not know (SnapStart's `platform.restoreStart`, or whatever
//! AWS adds next) fails the whole batch, and its listener answers 400 — losing the
//! `platform.report` records in the same batch. Here the batch is split into its elements
//! first, each element is parsed on its own, unknown types and malformed records are
//! counted and skipped. The `platform.report` record itself is read with the core's
//! [`PlatformReportRecord`], the one lenient definition the whole project shares.

use std::borrow::Cow;

use autopilot_core::calendar::parse_timestamp_ms;
use autopilot_core::report::{PlatformReportRecord, Report};
use serde::Deserialize;

/// One record the aggregator acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// `platform.report`: one per invocation. `has_status` is false when the record carried
    /// no `status` (the aggregator then uses the matching `platform.runtimeDone`).
    Report { time_ms: Option<i64>, report: Report, has_status: bool },
    /// `platform.runtimeDone`: only its status is kept (a fallback for reports without one).
    RuntimeDone { request_id: Option<String>, status: Option<String>, error_type: Option<String> },
    /// `platform.initReport`.
    InitReport { time_ms: Option<i64>, init: InitKind, duration_ms: Option<f64> },
    /// `platform.restoreReport` (SnapStart).
    RestoreReport { time_ms: Option<i64>, duration_ms: Option<f64> },
    /// `platform.start`.
    Start,
    /// A type we know and do not need (`platform.initStart`, `platform.extension`, …).
    Ignored,
    /// A type we do not know: counted, skipped.
    Unknown,
}

/// How an environment was initialised (`initializationType`, or `phase: snap-start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitKind {
    /// A caller waited for it: a cold start.
    OnDemand,
    /// Ahead of traffic: no caller waited.
    Provisioned,
    /// The snapshot INIT of a SnapStart version, at publish time: no caller waited, and the
    /// snapshot copies this process's memory into every restored environment.
    SnapStart,
}

/// Types that are known and carry nothing the stats need.
const IGNORED_TYPES: &[&str] = &[
    "platform.initStart",
    "platform.initRuntimeDone",
    "platform.restoreStart",
    "platform.restoreRuntimeDone",
    "platform.extension",
    "platform.telemetrySubscription",
    "platform.logsDropped",
    "function",
    "extension",
];

/// What happened to the records of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub records: u64,
    pub unknown: u64,
    pub malformed: u64,
}

impl BatchStats {
    pub fn add(&mut self, o: BatchStats) {
        self.records += o.records;
        self.unknown += o.unknown;
        self.malformed += o.malformed;
    }
}

/// The fields read from every record in one pass; `platform.report` records are parsed
/// again into the core's type.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    record: Option<HeadRecord<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HeadRecord<'a> {
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    initialization_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    phase: Option<Cow<'a, str>>,
    #[serde(default)]
    metrics: Option<DurationMetric>,
}

#[derive(Deserialize, Default)]
struct DurationMetric {
    #[serde(rename = "durationMs", default)]
    duration_ms: Option<f64>,
}

#[derive(Deserialize)]
struct ReportEvent {
    record: PlatformReportRecord,
}

/// A record that is not valid JSON, lacks `type`, or has fields of the wrong shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed telemetry record")]
pub struct Malformed;

/// Parses one record (one element of a batch).
pub fn parse_record(json: &[u8]) -> Result<Record, Malformed> {
    let head: Head<'_> = serde_json::from_slice(json).map_err(|_| Malformed)?;
    let time_ms = head.time.as_deref().and_then(|t| parse_timestamp_ms(t).ok());
    let kind = head.kind.as_ref();
    let record = match kind {
        "platform.report" => {
            let ev: ReportEvent = serde_json::from_slice(json).map_err(|_| Malformed)?;
            let has_status = ev.record.status.is_some();
            let report = Report::from(ev.record);
            if !report.duration_ms.is_finite() || report.duration_ms < 0.0 {
                return Err(Malformed);
            }
            Record::Report { time_ms, report, has_status }
        }
        "platform.start" => Record::Start,
        "platform.runtimeDone" => {
            let r = head.record.ok_or(Malformed)?;
            Record::RuntimeDone {
                request_id: r.request_id.map(Cow::into_owned),
                status: r.status.map(Cow::into_owned),
                error_type: r.error_type.map(Cow::into_owned),
            }
        }
        "platform.initReport" => {
            let r = head.record.ok_or(Malformed)?;
            let snap = |v: &Option<Cow<'_, str>>| v.as_deref() == Some("snap-start");
            let init = if snap(&r.initialization_type) || snap(&r.phase) {
                InitKind::SnapStart
            } else if r.initialization_type.as_deref() == Some("provisioned-concurrency") {
                InitKind::Provisioned
            } else {
                InitKind::OnDemand
            };
            Record::InitReport { time_ms, init, duration_ms: valid_ms(r.metrics.and_then(|m| m.duration_ms)) }
        }
        "platform.restoreReport" => {
            let r = head.record.unwrap_or_default();
            Record::RestoreReport { time_ms, duration_ms: valid_ms(r.metrics.and_then(|m| m.duration_ms)) }
        }
        k if IGNORED_TYPES.contains(&k) => Record::Ignored,
        _ => Record::Unknown,
    };
    Ok(record)
}

fn valid_ms(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite() && *x >= 0.0)
}

/// Calls `each` with every record of a batch body (a JSON array), parsed on its own; counts
/// unknown and malformed records. A body that is not an array counts as one malformed record.
pub fn for_each_record(body: &[u8], mut each: impl FnMut(Record)) -> BatchStats {
    let mut stats = BatchStats::default();
    let ok = split_array(body, |element| {
        stats.records += 1;
        match parse_record(element) {
            Ok(Record::Unknown) => stats.unknown += 1,
            Ok(record) => each(record),
            Err(Malformed) => stats.malformed += 1,
        }
    });
    if !ok {
        stats.malformed += 1;
    }
    stats
}

/// Splits a top-level JSON array into its elements without parsing them: a byte scanner that
/// tracks strings, escapes and nesting. Returns false when the body is not an array; an
/// element that is itself broken is still handed out (and fails to parse on its own).
pub fn split_array(body: &[u8], mut element: impl FnMut(&[u8])) -> bool {
    let mut i = 0;
    while i < body.len() && body[i].is_ascii_whitespace() {
        i += 1;
    }
    if body.get(i) != Some(&b'[') {
        return false;
    }
    i += 1;
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut start = i;
    while i < body.len() {
        let b = body[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 0 => depth -= 1,
                b',' | b']' if depth == 0 => {
                    let e = trim(&body[start..i]);
                    if !e.is_empty() {
                        element(e);
                    }
                    if b == b']' {
                        return true;
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    // Truncated body: hand out what is there; it will fail to parse and be counted.
    let e = trim(&body[start..]);
    if !e.is_empty() {
        element(e);
    }
    true
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use autopilot_core::report::Outcome;

    use super::*;

    #[test]
    fn splits_arrays_with_tricky_strings() {
        let body = br#" [ {"a":"x,]}\"["}, [1,[2]] ,"s" , 3 ] "#;
        let mut parts = Vec::new();
        assert!(split_array(body, |e| parts.push(String::from_utf8(e.to_vec()).unwrap())));
        assert_eq!(parts, [r#"{"a":"x,]}\"["}"#, "[1,[2]]", "\"s\"", "3"]);
        assert!(!split_array(b"{}", |_| {}));
        let mut n = 0;
        assert!(split_array(b"[]", |_| n += 1));
        assert_eq!(n, 0);
    }

    #[test]
    fn reads_the_documented_records() {
        // Shapes from the AWS Telemetry API schema reference (2022-12-13).
        let report = br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"metrics":{"billedDurationMs":694,"durationMs":693.92,"initDurationMs":397.68,"maxMemoryUsedMB":84,"memorySizeMB":128},"requestId":"6d68ca91","status":"timeout","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"},"spans":[]}}"#;
        let Ok(Record::Report { time_ms, report, has_status: true }) = parse_record(report) else { panic!() };
        assert_eq!(time_ms, Some(1_665_532_875_000));
        assert_eq!((report.billed_ms, report.init_ms, report.outcome), (694, Some(397.68), Outcome::Timeout));
        let init = br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.initReport","record":{"initializationType":"on-demand","status":"success","phase":"init","metrics":{"durationMs":125.33},"spans":[]}}"#;
        assert_eq!(
            parse_record(init),
            Ok(Record::InitReport {
                time_ms: Some(1_665_532_875_000),
                init: InitKind::OnDemand,
                duration_ms: Some(125.33)
            })
        );
        let pc = br#"{"type":"platform.initReport","record":{"initializationType":"provisioned-concurrency","phase":"init","metrics":{"durationMs":1}}}"#;
        assert!(matches!(parse_record(pc), Ok(Record::InitReport { init: InitKind::Provisioned, .. })));
        let snap = br#"{"type":"platform.initReport","record":{"initializationType":"snap-start","phase":"init","metrics":{"durationMs":1}}}"#;
        assert!(matches!(parse_record(snap), Ok(Record::InitReport { init: InitKind::SnapStart, .. })));
        let restore = br#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.restoreReport","record":{"status":"success","metrics":{"durationMs":15.19}}}"#;
        assert!(matches!(parse_record(restore), Ok(Record::RestoreReport { duration_ms: Some(d), .. }) if d == 15.19));
        let done = br#"{"type":"platform.runtimeDone","record":{"requestId":"r1","status":"error","errorType":"Runtime.ExitError","metrics":{"durationMs":140.0,"producedBytes":16}}}"#;
        assert!(matches!(parse_record(done), Ok(Record::RuntimeDone { status: Some(ref s), .. }) if s == "error"));
        assert_eq!(parse_record(br#"{"type":"platform.restoreStart","record":{}}"#), Ok(Record::Ignored));
        assert_eq!(parse_record(br#"{"type":"platform.somethingNew","record":{"x":1}}"#), Ok(Record::Unknown));
    }

    #[test]
    fn malformed_records_are_counted_and_do_not_stop_the_batch() {
        let body = br#"[
            {"type":"platform.start","record":{"requestId":"a"}},
            {"type":"platform.report","record":{"metrics":"n/a"}},
            42,
            {"record":{}},
            {"type":"platform.brandNew"},
            {"time":"2024-01-01T00:00:00Z","type":"platform.report","record":{"requestId":"a","status":"success","metrics":{"durationMs":5,"billedDurationMs":5,"memorySizeMB":128,"maxMemoryUsedMB":20}}}
        ]"#;
        let mut seen = Vec::new();
        let stats = for_each_record(body, |r| seen.push(r));
        assert_eq!(stats, BatchStats { records: 6, unknown: 1, malformed: 3 });
        assert_eq!(seen.len(), 2);
        assert!(matches!(seen[1], Record::Report { .. }));
        assert_eq!(for_each_record(b"not json", |_| {}), BatchStats { records: 0, unknown: 0, malformed: 1 });
    }
}
