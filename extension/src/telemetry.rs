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
use std::sync::LazyLock;

use autopilot_core::calendar::parse_timestamp_ms;
use autopilot_core::report::{PlatformReportRecord, Report};
use serde::Deserialize;

/// One record the aggregator acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// `platform.report`: one per invocation. `has_status` is false when the record carried
    /// no `status` (the aggregator then uses the matching `platform.runtimeDone`).
    Report { time_ms: Option<i64>, report: Report, has_status: bool },
    /// `platform.runtimeDone` with status `success`.
    RuntimeDoneSuccess,
    /// `platform.runtimeDone` otherwise: its status is kept (a fallback for reports without one).
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
///
/// Fast path first: Lambda serialises every record as `{"time":"…","type":"…","record":{…}}`,
/// so the type is read without a parser, records that need nothing (`platform.start`,
/// successful `platform.runtimeDone`, known ignored and unknown types) are not parsed at all,
/// and of a `platform.report` only `metrics`, `status`, then `errorType` (unless the status is
/// `success`) and `requestId` (when there is no status) are read. Anything that does not have that exact shape goes through
/// the full, lenient serde parse below — the fast path only ever answers or steps aside.
pub fn parse_record(json: &[u8]) -> Result<Record, Malformed> {
    if let Some((time, kind)) = fast_head(json) {
        match kind {
            "platform.start" => return Ok(Record::Start),
            "platform.runtimeDone" if finder(Pattern::StatusSuccess).find(json).is_some() => {
                return Ok(Record::RuntimeDoneSuccess);
            }
            "platform.report" => {
                if let Some(record) = fast_report(json) {
                    return report_record(Some(time), record);
                }
            }
            "platform.runtimeDone" | "platform.initReport" | "platform.restoreReport" => {}
            k if IGNORED_TYPES.contains(&k) => return Ok(Record::Ignored),
            _ => return Ok(Record::Unknown),
        }
    }
    parse_record_slow(json)
}

fn report_record(time: Option<&str>, record: PlatformReportRecord) -> Result<Record, Malformed> {
    let has_status = record.status.is_some();
    let report = Report::from(record);
    if !report.duration_ms.is_finite() || report.duration_ms < 0.0 {
        return Err(Malformed);
    }
    Ok(Record::Report { time_ms: time.and_then(time_ms), report, has_status })
}

/// `{"time":"T","type":"K",` → (T, K), without escapes.
fn fast_head(json: &[u8]) -> Option<(&str, &str)> {
    let rest = json.strip_prefix(br#"{"time":""#)?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    let (time, rest) = rest.split_at(end);
    let rest = rest.strip_prefix(br#"","type":""#)?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' {
        return None;
    }
    Some((std::str::from_utf8(time).ok()?, std::str::from_utf8(&rest[..end]).ok()?))
}

/// The string value of the first `"key":"value"` (no escapes), if any.
fn string_field(json: &[u8], key: Pattern) -> Option<&str> {
    let f = finder(key);
    let at = f.find(json)? + f.needle().len();
    let rest = json[at..].trim_ascii_start().strip_prefix(b":")?.trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    (rest[end] == b'"').then(|| std::str::from_utf8(&rest[..end]).ok()).flatten()
}

/// The fields of a `platform.report` that the stats need, read by search: `metrics` is a flat
/// object of numbers; `status`/`errorType`/`requestId` occur once, at the record's top level,
/// in Lambda's serialisation. `None` (→ full parse) on anything unexpected.
fn fast_report(json: &[u8]) -> Option<PlatformReportRecord> {
    let f = finder(Pattern::Metrics);
    let at = f.find(json)? + f.needle().len();
    let rest = json[at..].trim_ascii_start().strip_prefix(b":")?.trim_ascii_start();
    if rest.first() != Some(&b'{') {
        return None;
    }
    let end = memchr::memchr(b'}', rest)?;
    let metrics = serde_json::from_slice(&rest[..=end]).ok()?;
    let status = string_field(json, Pattern::Status);
    let success = status == Some("success");
    Some(PlatformReportRecord {
        // Only needed to match a `platform.runtimeDone` when the report has no status.
        request_id: if status.is_none() { string_field(json, Pattern::RequestId).map(str::to_owned) } else { None },
        status: status.map(str::to_owned),
        // Lambda sends an errorType only with a failure status: no search on the hot path.
        error_type: if success { None } else { string_field(json, Pattern::ErrorType).map(str::to_owned) },
        metrics,
    })
}

/// Unix ms of Lambda's `YYYY-MM-DDTHH:MM:SS[.fff…]Z` without allocating; anything else goes
/// to the core's lenient parser.
fn time_ms(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0i64, |n, &c| n * 10 + i64::from(c - b'0')))
    };
    let canonical = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z';
    if canonical {
        let frac = &b[19..b.len() - 1];
        let frac_ok =
            frac.is_empty() || (frac[0] == b'.' && frac.len() > 1 && frac[1..].iter().all(u8::is_ascii_digit));
        if let (true, Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) =
            (frac_ok, num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19))
        {
            let valid = (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s <= 60;
            if valid {
                // Fraction of a second rounded to the ms, as the core's parser does.
                let digits = frac.iter().skip(1).take(9);
                let (num, den) = digits.fold((0i64, 1i64), |(n, d), &c| (n * 10 + i64::from(c - b'0'), d * 10));
                let ms = (num * 1_000 + den / 2) / den;
                let days = autopilot_core::calendar::days_from_civil(y, mo as u32, d as u32);
                return Some(days * 86_400_000 + ((h * 60 + mi) * 60 + s) * 1_000 + ms);
            }
        }
    }
    parse_timestamp_ms(t).ok()
}

/// The full, lenient parse of one record.
fn parse_record_slow(json: &[u8]) -> Result<Record, Malformed> {
    let head: Head<'_> = serde_json::from_slice(json).map_err(|_| Malformed)?;
    let time_ms = || head.time.as_deref().and_then(time_ms);
    let kind = head.kind.as_ref();
    let record = match kind {
        "platform.report" => {
            let ev: ReportEvent = serde_json::from_slice(json).map_err(|_| Malformed)?;
            return report_record(head.time.as_deref(), ev.record);
        }
        "platform.start" => Record::Start,
        "platform.runtimeDone" => {
            let r = head.record.ok_or(Malformed)?;
            match r.status.as_deref() {
                Some(s) if s.eq_ignore_ascii_case("success") => Record::RuntimeDoneSuccess,
                _ => Record::RuntimeDone {
                    request_id: r.request_id.map(Cow::into_owned),
                    status: r.status.map(Cow::into_owned),
                    error_type: r.error_type.map(Cow::into_owned),
                },
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
            Record::InitReport {
                time_ms: time_ms(),
                init,
                duration_ms: valid_ms(r.metrics.and_then(|m| m.duration_ms)),
            }
        }
        "platform.restoreReport" => {
            let r = head.record.unwrap_or_default();
            Record::RestoreReport { time_ms: time_ms(), duration_ms: valid_ms(r.metrics.and_then(|m| m.duration_ms)) }
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

/// How every record Lambda sends begins.
const RECORD_START: &[u8] = br#"{"time":""#;

/// Substring searchers, built once (building one per record costs more than the search).
fn finder(which: Pattern) -> &'static memchr::memmem::Finder<'static> {
    use memchr::memmem::Finder;
    static FINDERS: LazyLock<[Finder<'static>; 6]> = LazyLock::new(|| {
        [
            Finder::new(RECORD_START),
            Finder::new(br#""status":"success""#),
            Finder::new(br#""metrics""#),
            Finder::new(br#""status""#),
            Finder::new(br#""requestId""#),
            Finder::new(br#""errorType""#),
        ]
    });
    &FINDERS[which as usize]
}

#[derive(Clone, Copy)]
enum Pattern {
    RecordStart,
    StatusSuccess,
    Metrics,
    Status,
    RequestId,
    ErrorType,
}

/// Splits a top-level JSON array into its elements without parsing them. Returns false when
/// the body is not an array; an element that is itself broken is still handed out (and fails
/// to parse on its own).
///
/// Fast path, for Lambda's own serialisation (`[{"time":"…",…},{"time":"…",…}]`): elements
/// begin at `{"time":"` preceded by `,` or `[`. That byte sequence cannot occur inside a JSON
/// string (its quotes would be escaped), and no nested object of a platform record begins
/// with a `time` key, so a SIMD substring search finds the boundaries without reading the
/// bytes in between. Any other body goes through the exact scanner.
pub fn split_array(body: &[u8], mut element: impl FnMut(&[u8])) -> bool {
    let trimmed = body.trim_ascii();
    let Some(inner) = trimmed.strip_prefix(b"[") else { return false };
    let inner = inner.trim_ascii_start();
    if !inner.starts_with(RECORD_START) {
        return split_array_exact(body, element);
    }
    let finder = finder(Pattern::RecordStart);
    let mut start = 0;
    let mut from = 1;
    while let Some(off) = finder.find(&inner[from..]) {
        let next = from + off;
        let before = inner[start..next].trim_ascii_end();
        if let Some(prev) = before.strip_suffix(b",")
            && prev.trim_ascii_end().ends_with(b"}")
        {
            element(prev.trim_ascii());
            start = next;
        }
        from = next + 1;
    }
    let last = inner[start..].trim_ascii_end();
    let last = last.strip_suffix(b"]").unwrap_or(last).trim_ascii_end();
    if !last.is_empty() {
        element(last);
    }
    true
}

/// The exact splitter: a byte scanner that tracks strings, escapes and nesting.
fn split_array_exact(body: &[u8], mut element: impl FnMut(&[u8])) -> bool {
    let mut i = 0;
    while i < body.len() && body[i].is_ascii_whitespace() {
        i += 1;
    }
    if body.get(i) != Some(&b'[') {
        return false;
    }
    i += 1;
    let mut depth = 0usize;
    let mut start = i;
    while i < body.len() {
        match body[i] {
            b'"' => {
                // Jump through the string: most of a record's bytes are inside strings.
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &body[i.min(body.len())..]) {
                        Some(off) if body[i + off] == b'\\' => i += off + 2,
                        Some(off) => {
                            i += off;
                            break;
                        }
                        None => {
                            i = body.len();
                            break;
                        }
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b @ (b',' | b']') if depth == 0 => {
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
        i += 1;
    }
    // Truncated body: hand out what is there; it will fail to parse and be counted.
    let e = trim(&body[start.min(body.len())..]);
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
    fn the_fast_splitter_finds_lambdas_records_and_agrees_with_the_exact_one() {
        let body = br#"[{"time":"t1","type":"a","record":{"errorType":"x,{\"time\":\"y","spans":[{"name":"n"}]}}, {"time":"t2","type":"b","record":{}} ,{"time":"t3","type":"c"}]"#;
        let (mut fast, mut exact) = (Vec::new(), Vec::new());
        assert!(split_array(body, |e| fast.push(e.to_vec())));
        assert!(split_array_exact(body, |e| exact.push(e.to_vec())));
        assert_eq!(fast.len(), 3);
        assert_eq!(fast, exact);
        // A truncated batch: the broken tail is handed out and fails on its own.
        let mut parts = Vec::new();
        assert!(split_array(br#"[{"time":"t1","type":"a"},{"time":"t2","ty"#, |e| parts.push(e.to_vec())));
        assert_eq!(parts.len(), 2);
        assert_eq!(parse_record(&parts[1]), Err(Malformed));
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
    fn the_fast_path_agrees_with_the_full_parse() {
        let variants: &[&[u8]] = &[
            br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"requestId":"6d68","metrics":{"durationMs":693.92,"billedDurationMs":694,"memorySizeMB":128,"maxMemoryUsedMB":84,"initDurationMs":397.68},"tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"},"spans":[{"name":"extensionOverhead","start":"2022-10-12T00:01:15.000Z","durationMs":0.1}],"status":"error","errorType":"Runtime.ExitError"}}"#,
            br#"{"time":"2022-10-12T00:01:15.5Z","type":"platform.report","record":{"requestId":"q","metrics":{"durationMs":1,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":128}}}"#,
            br#"{"time":"2022-10-12T00:01:15Z","type":"platform.report","record":{"status" : "timeout","metrics" : {"durationMs":3000,"billedDurationMs":3000,"memorySizeMB":256,"maxMemoryUsedMB":40,"restoreDurationMs":15.5,"billedRestoreDurationMs":75}}}"#,
            br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.runtimeDone","record":{"requestId":"a","status":"success","metrics":{"durationMs":1}}}"#,
            br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.start","record":{"requestId":"a"}}"#,
            br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":5}}}"#,
        ];
        // The fast path leaves out the request id when a status makes it unnecessary.
        let without_id = |r: Result<Record, Malformed>| match r {
            Ok(Record::Report { time_ms, mut report, has_status: true }) => {
                report.request_id = None;
                Ok(Record::Report { time_ms, report, has_status: true })
            }
            other => other,
        };
        for v in variants {
            assert_eq!(without_id(parse_record(v)), without_id(parse_record_slow(v)), "{}", String::from_utf8_lossy(v));
        }
        // Not Lambda's key order: the full parse reads it all the same.
        let reordered = br#"{"type":"platform.report","time":"2022-10-12T00:01:15.000Z","record":{"metrics":{"durationMs":2,"billedDurationMs":2,"memorySizeMB":128,"maxMemoryUsedMB":9},"status":"success"}}"#;
        assert!(matches!(parse_record(reordered), Ok(Record::Report { time_ms: Some(1_665_532_875_000), .. })));
    }

    #[test]
    fn lambda_timestamps_are_read_without_the_slow_parser_and_agree_with_it() {
        for t in
            ["2022-10-12T00:01:15.000Z", "2026-11-27T15:41:00Z", "2024-02-29T23:59:59.9999Z", "2022-10-12T00:01:15.5Z"]
        {
            assert_eq!(time_ms(t), parse_timestamp_ms(t).ok(), "{t}");
        }
        assert_eq!(time_ms("1665532875000"), Some(1_665_532_875_000));
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
