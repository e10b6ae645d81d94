//! Telemetry API batches, read leniently and one record at a time.
//!
//! Why our own types and not `lambda_extension::LambdaTelemetryRecord`: that enum is closed,
//! so one record of a type it does not know (SnapStart's `platform.restoreStart`, or whatever
//! AWS adds next) fails the whole batch, and its listener answers 400 — losing the
//! `platform.report` records in the same batch. Here each element of the batch is read on its
//! own (a broken one is counted and reading resumes at the next), unknown types and malformed
//! records are counted and skipped. A `platform.report` becomes the core's
//! [`PlatformReportRecord`] (the one lenient definition the project shares) and from it a
//! [`Report`].
//!
//! Reading cost (the extension runs inside customers' functions, three records per
//! invocation): the batch is read in one pass; each record's `type` is read first, whatever
//! the key order, and only the fields the stats need are read — none for `platform.start`,
//! the status for `platform.runtimeDone`, metrics and status for `platform.report` — the rest
//! is skipped by counting brackets and jumping over strings. Nothing is allocated on the
//! success path. The reader is in `telemetry/json.rs`.

mod batch;
mod json;
mod time;

use autopilot_core::report::{PlatformReportMetrics, PlatformReportRecord, Report};

pub use self::batch::for_each_record;
use self::json::{Scan, Str, Walk};

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

/// A record that is not valid JSON where it is read, lacks `type`, or has fields of the wrong
/// shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed telemetry record")]
pub struct Malformed;

/// A record's `type`, as far as the stats care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Report,
    RuntimeDone,
    InitReport,
    RestoreReport,
    Start,
    Ignored,
    Unknown,
}

impl Kind {
    fn of(s: Str<'_>) -> Result<Self, Malformed> {
        Ok(match Self::of_bytes(s.raw()) {
            // A type spelt with escapes: decode it and look again.
            Self::Unknown if s.has_escapes() => Self::of_bytes(s.text()?.as_bytes()),
            kind => kind,
        })
    }

    fn of_bytes(t: &[u8]) -> Self {
        match t {
            b"platform.report" => Self::Report,
            b"platform.start" => Self::Start,
            b"platform.runtimeDone" => Self::RuntimeDone,
            b"platform.initReport" => Self::InitReport,
            b"platform.restoreReport" => Self::RestoreReport,
            t if IGNORED_TYPES.iter().any(|i| i.as_bytes() == t) => Self::Ignored,
            _ => Self::Unknown,
        }
    }

    /// Whether the record's `time` is used.
    fn timed(self) -> bool {
        matches!(self, Self::Report | Self::InitReport | Self::RestoreReport)
    }
}

/// Reads records; remembers the last timestamp's minute (records of a batch share it).
#[derive(Debug, Default)]
pub struct Reader {
    clock: time::Clock,
}

/// Parses one record (one element of a batch) on its own.
pub fn parse_record(json: &[u8]) -> Result<Record, Malformed> {
    let mut s = Scan::new(json);
    let mut record = Record::Ignored;
    Reader::default().element(&mut s, &mut record)?;
    if !s.at_end() {
        return Err(Malformed);
    }
    Ok(record)
}

impl Reader {
    /// Reads the record that starts at `s` into `out` and leaves `s` after it: `type` first
    /// (whatever the key order), then only what that type needs; the rest is skipped by its
    /// brackets. (`out` is written in place: a record is a few hundred bytes, and moving it
    /// through return values costs more than reading a short one.)
    pub fn element(&mut self, s: &mut Scan<'_>, out: &mut Record) -> Result<(), Malformed> {
        let mut time: Option<Option<Str<'_>>> = None;
        let mut kind: Option<Kind> = None;
        let mut read = false;
        let mut record_at: Option<usize> = None;
        s.object(|key, s| {
            if key.is("type") {
                let k = Kind::of(s.string()?)?;
                kind = Some(k);
                // Nothing else is needed from these.
                return Ok(if matches!(k, Kind::Start | Kind::Ignored | Kind::Unknown) {
                    Walk::Done
                } else {
                    Walk::Next
                });
            }
            if key.is("time") {
                time = Some(s.string_or_null()?);
            } else if key.is("record") {
                match kind {
                    // Lambda's order (time, type, record): read what is needed, skip the rest.
                    Some(k) if time.is_some() || !k.timed() => {
                        read = read_body(k, s, out)?;
                        return Ok(Walk::Done);
                    }
                    // The time (or the type) comes later: step over the record, come back to it.
                    _ => {
                        record_at = Some(s.offset());
                        s.skip()?;
                    }
                }
            } else {
                s.skip()?;
            }
            Ok(Walk::Next)
        })?;
        let kind = kind.ok_or(Malformed)?;
        if !read && let Some(at) = record_at {
            read = read_body(kind, &mut s.fork_at(at), out)?;
        }
        match kind {
            Kind::Start => *out = Record::Start,
            Kind::Ignored => *out = Record::Ignored,
            Kind::Unknown => *out = Record::Unknown,
            // A restore report may come without a record; the others need theirs.
            Kind::RestoreReport if !read => *out = Record::RestoreReport { time_ms: None, duration_ms: None },
            _ if !read => return Err(Malformed),
            _ => {}
        }
        // The time of the records that use it.
        if let (
            Record::Report { time_ms, .. } | Record::InitReport { time_ms, .. } | Record::RestoreReport { time_ms, .. },
            Some(t),
        ) = (out, time.flatten())
        {
            // (Lambda's form holds no backslash: the decoded text is only needed otherwise.)
            *time_ms = match self.clock.ms(t.raw()) {
                None if t.has_escapes() => self.clock.ms(t.text()?.as_bytes()),
                ms => ms,
            };
        }
        Ok(())
    }
}

/// Reads the `record` member of a record of this kind into `out`; false when the kind needs
/// nothing from it. Timed records come without their time.
fn read_body(kind: Kind, s: &mut Scan<'_>, out: &mut Record) -> Result<bool, Malformed> {
    match kind {
        Kind::Report => report_body(s, out)?,
        Kind::RuntimeDone => *out = runtime_done_body(s)?,
        Kind::InitReport => *out = init_report_body(s)?,
        Kind::RestoreReport => *out = Record::RestoreReport { time_ms: None, duration_ms: duration_only(s)? },
        Kind::Start | Kind::Ignored | Kind::Unknown => {
            s.skip()?;
            return Ok(false);
        }
    }
    Ok(true)
}

fn owned(s: Option<Str<'_>>) -> Result<Option<String>, Malformed> {
    s.map(|s| s.text().map(|t| t.into_owned())).transpose()
}

/// `platform.report`'s record: `metrics`, then `status`; `errorType` only with a status other
/// than success (Lambda sends it only then) and `requestId` only without a status (to match
/// the `platform.runtimeDone`). Stops once those are read: in Lambda's order, before the
/// trace and spans.
fn report_body(s: &mut Scan<'_>, out: &mut Record) -> Result<(), Malformed> {
    let mut metrics = None;
    let (mut status, mut error_type, mut request_id) = (None, None, None);
    let mut error_type_seen = false;
    s.object(|key, s| {
        if key.is("metrics") {
            metrics = Some(report_metrics(s)?);
        } else if key.is("status") {
            status = Some(s.string_or_null()?);
        } else if key.is("errorType") {
            error_type = s.string_or_null()?;
            error_type_seen = true;
        } else if key.is("requestId") {
            request_id = s.string_or_null()?;
        } else {
            s.skip()?;
        }
        let success = matches!(status, Some(Some(st)) if st.is_ignore_ascii_case("success"));
        let done = metrics.is_some() && matches!(status, Some(Some(_))) && (success || error_type_seen);
        Ok(if done { Walk::Done } else { Walk::Next })
    })?;
    let status = status.flatten();
    let success = status.is_some_and(|st| st.is_ignore_ascii_case("success"));
    let record = PlatformReportRecord {
        request_id: if status.is_none() { owned(request_id)? } else { None },
        // The core reads any status but timeout/error/failure as a success: "success" is
        // passed as no status (same outcome, nothing allocated).
        status: if success { None } else { owned(status)? },
        error_type: if success { None } else { owned(error_type)? },
        metrics: metrics.ok_or(Malformed)?,
    };
    let report = Report::from(record);
    if !report.duration_ms.is_finite() || report.duration_ms < 0.0 {
        return Err(Malformed);
    }
    *out = Record::Report { time_ms: None, report, has_status: status.is_some() };
    Ok(())
}

/// `record.metrics` of a `platform.report`, as the core's [`PlatformReportMetrics`] reads it.
fn report_metrics(s: &mut Scan<'_>) -> Result<PlatformReportMetrics, Malformed> {
    let mut m = PlatformReportMetrics::default();
    let mut duration = false;
    let opt_f64 = |s: &mut Scan<'_>| if s.null()? { Ok(None) } else { s.f64().map(Some) };
    let u32_of = |s: &mut Scan<'_>| s.u64().and_then(|v| u32::try_from(v).map_err(|_| Malformed));
    s.object(|key, s| {
        match () {
            _ if key.is("durationMs") => {
                m.duration_ms = s.f64()?;
                duration = true;
            }
            _ if key.is("billedDurationMs") => m.billed_duration_ms = s.u64()?,
            _ if key.is("memorySizeMB") => m.memory_size_mb = u32_of(s)?,
            _ if key.is("maxMemoryUsedMB") => m.max_memory_used_mb = u32_of(s)?,
            _ if key.is("initDurationMs") => m.init_duration_ms = opt_f64(s)?,
            _ if key.is("restoreDurationMs") => m.restore_duration_ms = opt_f64(s)?,
            _ if key.is("billedRestoreDurationMs") => {
                m.billed_restore_duration_ms = if s.null()? { None } else { Some(s.u64()?) };
            }
            _ => s.skip()?,
        }
        Ok(Walk::Next)
    })?;
    // Required, as in the core's type; every other metric may be missing (Lambda Managed
    // Instances report only the duration).
    duration.then_some(m).ok_or(Malformed)
}

/// `platform.runtimeDone`'s record: the status, and for a failure its request id and error type.
fn runtime_done_body(s: &mut Scan<'_>) -> Result<Record, Malformed> {
    let (mut status, mut error_type, mut request_id) = (None, None, None);
    s.object(|key, s| {
        if key.is("status") {
            status = s.string_or_null()?;
            if status.is_some_and(|st| st.is_ignore_ascii_case("success")) {
                return Ok(Walk::Done);
            }
        } else if key.is("errorType") {
            error_type = s.string_or_null()?;
        } else if key.is("requestId") {
            request_id = s.string_or_null()?;
        } else {
            s.skip()?;
        }
        Ok(Walk::Next)
    })?;
    if status.is_some_and(|st| st.is_ignore_ascii_case("success")) {
        return Ok(Record::RuntimeDoneSuccess);
    }
    Ok(Record::RuntimeDone { request_id: owned(request_id)?, status: owned(status)?, error_type: owned(error_type)? })
}

/// `platform.initReport`'s record: how the environment was initialised and how long it took.
fn init_report_body(s: &mut Scan<'_>) -> Result<Record, Malformed> {
    let (mut snap, mut provisioned, mut duration_ms) = (false, false, None);
    s.object(|key, s| {
        if key.is("initializationType") {
            let t = s.string_or_null()?;
            snap |= t.is_some_and(|t| t.is("snap-start"));
            provisioned = t.is_some_and(|t| t.is("provisioned-concurrency"));
        } else if key.is("phase") {
            snap |= s.string_or_null()?.is_some_and(|p| p.is("snap-start"));
        } else if key.is("metrics") {
            duration_ms = duration_metric(s)?;
        } else {
            s.skip()?;
        }
        Ok(Walk::Next)
    })?;
    let init = if snap {
        InitKind::SnapStart
    } else if provisioned {
        InitKind::Provisioned
    } else {
        InitKind::OnDemand
    };
    Ok(Record::InitReport { time_ms: None, init, duration_ms })
}

/// A record whose only field of interest is `metrics.durationMs` (`platform.restoreReport`).
fn duration_only(s: &mut Scan<'_>) -> Result<Option<f64>, Malformed> {
    if s.null()? {
        return Ok(None);
    }
    let mut duration_ms = None;
    s.object(|key, s| {
        if key.is("metrics") {
            duration_ms = duration_metric(s)?;
            return Ok(Walk::Done);
        }
        s.skip()?;
        Ok(Walk::Next)
    })?;
    Ok(duration_ms)
}

/// `{"durationMs": …, …}` or `null`: the duration if it is a valid one.
fn duration_metric(s: &mut Scan<'_>) -> Result<Option<f64>, Malformed> {
    if s.null()? {
        return Ok(None);
    }
    let mut duration = None;
    s.object(|key, s| {
        if key.is("durationMs") {
            duration = if s.null()? { None } else { Some(s.f64()?) };
        } else {
            s.skip()?;
        }
        Ok(Walk::Next)
    })?;
    Ok(duration.filter(|x| *x >= 0.0))
}

#[cfg(test)]
mod tests;
