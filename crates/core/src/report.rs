//! Lambda's per-invocation REPORT, in both forms it takes: the text line of the classic log
//! format and the JSON `platform.report` record (Telemetry API, and logs in JSON format).
//!
//! ```text
//! REPORT RequestId: 8f5e…  Duration: 469.40 ms  Billed Duration: 500 ms  Memory Size: 128 MB  Max Memory Used: 18 MB  Init Duration: 100.99 ms
//! ```
//! SnapStart functions report `Restore Duration` and `Billed Restore Duration` instead of an
//! init; newer lines add `Status: timeout|error` and `Error Type: …`.

use serde::Deserialize;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Outcome {
    #[default]
    Success,
    /// The function returned or raised an error.
    Error {
        error_type: Option<String>,
    },
    Timeout,
    /// The environment ran out of memory (`Runtime.OutOfMemory`, or memory used reached
    /// the configured size).
    OutOfMemory,
}

/// One parsed REPORT.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub request_id: Option<String>,
    pub duration_ms: f64,
    pub billed_ms: u64,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u32,
    pub init_ms: Option<f64>,
    pub restore_ms: Option<f64>,
    pub billed_restore_ms: Option<u64>,
    pub outcome: Outcome,
}

impl Report {
    /// Wall time the caller waited: duration + INIT + SnapStart restore.
    pub fn total_ms(&self) -> f64 {
        self.duration_ms + self.init_ms.unwrap_or(0.0) + self.restore_ms.unwrap_or(0.0)
    }

    /// Everything billed as duration: billed duration + billed restore.
    pub fn total_billed_ms(&self) -> u64 {
        self.billed_ms + self.billed_restore_ms.unwrap_or(0)
    }

    /// An on-demand cold start (an INIT phase preceded this invocation).
    pub fn is_cold_start(&self) -> bool {
        self.init_ms.is_some()
    }

    pub fn is_restore(&self) -> bool {
        self.restore_ms.is_some()
    }

    /// Applies the rules that need several fields: memory used at or above the configured
    /// size means the environment ran out of memory, whatever the status said.
    fn settle_outcome(mut self, status: Option<&str>, error_type: Option<String>) -> Self {
        let oom_type = error_type.as_deref().is_some_and(|t| t.contains("OutOfMemory"));
        self.outcome = if oom_type || (self.memory_size_mb > 0 && self.max_memory_used_mb >= self.memory_size_mb) {
            Outcome::OutOfMemory
        } else {
            match status.map(str::to_ascii_lowercase).as_deref() {
                Some("timeout") => Outcome::Timeout,
                Some("error" | "failure") => Outcome::Error { error_type },
                _ if error_type.is_some() => Outcome::Error { error_type },
                _ => Outcome::Success,
            }
        };
        self
    }
}

/// A log line the parser understood.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEvent {
    Report(Report),
    /// `… Task timed out after 3.00 seconds`.
    TimedOut {
        request_id: Option<String>,
        after_seconds: f64,
    },
}

/// Why a line is not a usable REPORT.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    #[error("not a Lambda REPORT or timeout line: {0:?}")]
    NotAReport(String),
    #[error("REPORT line lacks the field {0:?}")]
    MissingField(&'static str),
    #[error("REPORT field {field:?} has an unreadable value {value:?}")]
    BadValue { field: &'static str, value: String },
    #[error("platform.report record is not valid: {0}")]
    BadJson(String),
}

/// Parses one log line: a text REPORT, a JSON `platform.report`, or a timeout notice.
pub fn parse_log_line(line: &str) -> Result<LogEvent, ReportError> {
    let trimmed = line.trim();
    if trimmed.starts_with('{') {
        return parse_platform_report(trimmed).map(LogEvent::Report);
    }
    if let Some(pos) = trimmed.find("REPORT RequestId:") {
        return parse_text_report(&trimmed[pos + "REPORT ".len()..]).map(LogEvent::Report);
    }
    if let Some(pos) = trimmed.find("Task timed out after") {
        let after = trimmed[pos + "Task timed out after".len()..].trim_start();
        let secs = after.split_whitespace().next().unwrap_or("");
        let after_seconds = secs
            .parse::<f64>()
            .map_err(|_| ReportError::BadValue { field: "Task timed out after", value: secs.to_owned() })?;
        let request_id = trimmed[..pos].split_whitespace().find(|t| looks_like_request_id(t)).map(str::to_owned);
        return Ok(LogEvent::TimedOut { request_id, after_seconds });
    }
    Err(ReportError::NotAReport(truncate(trimmed)))
}

fn looks_like_request_id(t: &str) -> bool {
    t.len() == 36
        && t.bytes().filter(|&b| b == b'-').count() == 4
        && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Parses the fields of a text REPORT (after `REPORT `): `Key: value [unit]` pairs, separated
/// by tabs or spaces.
fn parse_text_report(fields: &str) -> Result<Report, ReportError> {
    let mut r = Report::default();
    let (mut duration, mut billed, mut size, mut used) = (None, None, None, None);
    let (mut status, mut error_type) = (None, None);
    let tokens: Vec<&str> = fields.split_whitespace().collect();
    let mut key: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        i += 1;
        let Some(last) = t.strip_suffix(':') else {
            key.push(t);
            continue;
        };
        key.push(last);
        let name = key.join(" ");
        key.clear();
        let value = tokens.get(i).copied().unwrap_or("");
        i += 1;
        if matches!(tokens.get(i), Some(&("ms" | "MB"))) {
            i += 1;
        }
        match name.as_str() {
            "RequestId" => r.request_id = Some(value.to_owned()),
            "Duration" => duration = Some(number(value, "Duration")?),
            "Billed Duration" => billed = Some(integer(value, "Billed Duration")?),
            "Memory Size" => size = Some(integer(value, "Memory Size")?),
            "Max Memory Used" => used = Some(integer(value, "Max Memory Used")?),
            "Init Duration" => r.init_ms = Some(number(value, "Init Duration")?),
            "Restore Duration" => r.restore_ms = Some(number(value, "Restore Duration")?),
            "Billed Restore Duration" => r.billed_restore_ms = Some(integer(value, "Billed Restore Duration")?),
            "Status" => status = Some(value.to_owned()),
            "Error Type" => error_type = Some(value.to_owned()),
            _ => {} // XRAY TraceId, SegmentId, Sampled and fields AWS may add.
        }
    }
    r.duration_ms = duration.ok_or(ReportError::MissingField("Duration"))?;
    r.billed_ms = billed.ok_or(ReportError::MissingField("Billed Duration"))?;
    r.memory_size_mb = u32::try_from(size.ok_or(ReportError::MissingField("Memory Size"))?)
        .map_err(|_| ReportError::BadValue { field: "Memory Size", value: format!("{size:?}") })?;
    r.max_memory_used_mb = u32::try_from(used.ok_or(ReportError::MissingField("Max Memory Used"))?)
        .map_err(|_| ReportError::BadValue { field: "Max Memory Used", value: format!("{used:?}") })?;
    Ok(r.settle_outcome(status.as_deref(), error_type))
}

fn number(v: &str, field: &'static str) -> Result<f64, ReportError> {
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| ReportError::BadValue { field, value: v.to_owned() })
}

fn integer(v: &str, field: &'static str) -> Result<u64, ReportError> {
    v.parse::<u64>().map_err(|_| ReportError::BadValue { field, value: v.to_owned() })
}

/// The `record` of a `platform.report` event; unknown fields are ignored (AWS adds them).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PlatformReportRecord {
    pub request_id: Option<String>,
    pub status: Option<String>,
    pub error_type: Option<String>,
    pub metrics: PlatformReportMetrics,
}

/// `record.metrics` of a `platform.report` event. Only `durationMs` is required: Lambda
/// Managed Instances report the duration alone, and a missing billed duration or memory figure
/// reads as 0 (no memory size is ever 0 MB, so 0 means "not reported").
#[derive(Debug, Clone, Deserialize, Default)]
pub struct PlatformReportMetrics {
    #[serde(rename = "durationMs")]
    pub duration_ms: f64,
    #[serde(rename = "billedDurationMs", default)]
    pub billed_duration_ms: u64,
    #[serde(rename = "memorySizeMB", default)]
    pub memory_size_mb: u32,
    #[serde(rename = "maxMemoryUsedMB", default)]
    pub max_memory_used_mb: u32,
    #[serde(rename = "initDurationMs")]
    pub init_duration_ms: Option<f64>,
    #[serde(rename = "restoreDurationMs")]
    pub restore_duration_ms: Option<f64>,
    #[serde(rename = "billedRestoreDurationMs")]
    pub billed_restore_duration_ms: Option<u64>,
}

impl From<PlatformReportRecord> for Report {
    fn from(rec: PlatformReportRecord) -> Self {
        let m = rec.metrics;
        Report {
            request_id: rec.request_id,
            duration_ms: m.duration_ms,
            billed_ms: m.billed_duration_ms,
            memory_size_mb: m.memory_size_mb,
            max_memory_used_mb: m.max_memory_used_mb,
            init_ms: m.init_duration_ms,
            restore_ms: m.restore_duration_ms,
            billed_restore_ms: m.billed_restore_duration_ms,
            outcome: Outcome::Success,
        }
        .settle_outcome(rec.status.as_deref(), rec.error_type)
    }
}

/// Parses a JSON `platform.report` event (`{"time":…,"type":"platform.report","record":{…}}`).
pub fn parse_platform_report(json: &str) -> Result<Report, ReportError> {
    #[derive(Deserialize)]
    struct Event {
        #[serde(rename = "type")]
        kind: String,
        record: serde_json::Value,
    }
    let ev: Event = serde_json::from_str(json).map_err(|e| ReportError::BadJson(e.to_string()))?;
    if ev.kind != "platform.report" {
        return Err(ReportError::NotAReport(format!("event type {}", ev.kind)));
    }
    let rec: PlatformReportRecord =
        serde_json::from_value(ev.record).map_err(|e| ReportError::BadJson(e.to_string()))?;
    Ok(rec.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(line: &str) -> Report {
        match parse_log_line(line).unwrap() {
            LogEvent::Report(r) => r,
            other => panic!("expected a report, got {other:?}"),
        }
    }

    const COLD: &str = "REPORT RequestId: 3604209a-e9a3-11e6-939a-754dd98c7be3\tDuration: 469.40 ms\tBilled Duration: 500 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 100.99 ms";

    #[test]
    fn cold_start_line() {
        let r = report(COLD);
        assert_eq!(r.request_id.as_deref(), Some("3604209a-e9a3-11e6-939a-754dd98c7be3"));
        assert_eq!((r.duration_ms, r.init_ms, r.billed_ms), (469.40, Some(100.99), 500));
        assert!((r.total_ms() - 570.39).abs() < 1e-9);
        assert!(r.is_cold_start() && r.outcome == Outcome::Success);
    }

    #[test]
    fn snapstart_restore_line_with_spaces() {
        let r = report(
            "REPORT RequestId: 3604209a-e9a3-11e6-939a-754dd98c7be3 Duration: 469.40 ms Billed Duration: 500 ms \
             Memory Size: 128 MB Max Memory Used: 18 MB Restore Duration: 474.16 ms Billed Restore Duration: 75 ms",
        );
        assert!((r.total_ms() - 943.56).abs() < 1e-9, "{}", r.total_ms());
        assert_eq!(r.total_billed_ms(), 575);
        assert!(r.is_restore() && !r.is_cold_start());
    }

    #[test]
    fn out_of_memory_and_timeouts() {
        let oom = report(&COLD.replace("Max Memory Used: 18 MB", "Max Memory Used: 129 MB"));
        assert_eq!(oom.outcome, Outcome::OutOfMemory);
        let oom = report(
            "REPORT RequestId: x Duration: 9.0 ms Billed Duration: 9 ms Memory Size: 128 MB Max Memory Used: 100 MB Status: error Error Type: Runtime.OutOfMemory",
        );
        assert_eq!(oom.outcome, Outcome::OutOfMemory);
        let t = report(
            "REPORT RequestId: x Duration: 3000.00 ms Billed Duration: 3000 ms Memory Size: 128 MB Max Memory Used: 50 MB Status: timeout",
        );
        assert_eq!(t.outcome, Outcome::Timeout);
        let e = report(
            "REPORT RequestId: x Duration: 5 ms Billed Duration: 5 ms Memory Size: 128 MB Max Memory Used: 50 MB Status: error Error Type: Runtime.ExitError",
        );
        assert_eq!(e.outcome, Outcome::Error { error_type: Some("Runtime.ExitError".into()) });
        let line = "2024-01-01T00:00:03.012Z 3604209a-e9a3-11e6-939a-754dd98c7be3 Task timed out after 3.00 seconds";
        assert_eq!(
            parse_log_line(line).unwrap(),
            LogEvent::TimedOut { request_id: Some("3604209a-e9a3-11e6-939a-754dd98c7be3".into()), after_seconds: 3.0 }
        );
    }

    #[test]
    fn json_platform_report() {
        let r = report(
            r#"{"time":"2024-01-01T00:00:00.000Z","type":"platform.report","record":{"requestId":"abc","status":"success",
                "metrics":{"durationMs":469.4,"billedDurationMs":500,"memorySizeMB":128,"maxMemoryUsedMB":18,"initDurationMs":100.99},
                "tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"},"spans":[]}}"#,
        );
        assert_eq!((r.duration_ms, r.init_ms, r.billed_ms), (469.4, Some(100.99), 500));
        let t = report(
            r#"{"type":"platform.report","record":{"status":"timeout","metrics":{"durationMs":3000,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":40}}}"#,
        );
        assert_eq!(t.outcome, Outcome::Timeout);
    }

    #[test]
    fn json_platform_report_with_only_a_duration() {
        // Lambda Managed Instances: the report carries durationMs alone. It is read (not
        // rejected) with the absent figures at 0.
        let r = report(
            r#"{"time":"2025-12-01T00:00:00.000Z","type":"platform.report","record":{"requestId":"abc","status":"success","metrics":{"durationMs":12.5}}}"#,
        );
        assert_eq!((r.duration_ms, r.billed_ms, r.memory_size_mb, r.max_memory_used_mb), (12.5, 0, 0, 0));
        assert_eq!((r.init_ms, r.outcome), (None, Outcome::Success));
        assert!(matches!(
            parse_log_line(r#"{"type":"platform.report","record":{"metrics":{"billedDurationMs":5}}}"#),
            Err(ReportError::BadJson(_))
        ));
    }

    #[test]
    fn garbage_gets_a_clear_error() {
        assert!(matches!(parse_log_line("START RequestId: x Version: $LATEST"), Err(ReportError::NotAReport(_))));
        assert_eq!(
            parse_log_line("REPORT RequestId: x Duration: 1.0 ms Memory Size: 128 MB Max Memory Used: 18 MB"),
            Err(ReportError::MissingField("Billed Duration"))
        );
        assert_eq!(
            parse_log_line(
                "REPORT RequestId: x Duration: fast ms Billed Duration: 1 ms Memory Size: 128 MB Max Memory Used: 18 MB"
            ),
            Err(ReportError::BadValue { field: "Duration", value: "fast".into() })
        );
        assert!(matches!(parse_log_line("{not json"), Err(ReportError::BadJson(_))));
        assert!(matches!(parse_log_line(r#"{"type":"platform.start","record":{}}"#), Err(ReportError::NotAReport(_))));
    }
}
