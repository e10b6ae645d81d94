//! [`MetricsSource`] over the function's CloudWatch Logs: its `REPORT` lines (text, or JSON
//! `platform.report` records), parsed with [`autopilot_core::report::parse_log_line`].
//! Unlike the metrics, they carry every invocation's duration, billed duration, memory size
//! and memory used, init (cold start) and SnapStart restore, and outcome.
//!
//! `FilterLogEvents` on `/aws/lambda/<name>` (or another log group) over the window, with a
//! filter pattern that keeps REPORT lines, `platform.report` records and timeout notices,
//! followed page by page. Lines that are not REPORTs are skipped (emulators may ignore the
//! pattern). A log group that does not exist means no invocation: no minutes.
//!
//! Mapping, following the extension's conventions: the minute is the REPORT's timestamp;
//! busy time = duration + init/restore wait; billed INIT = billed − ⌈duration⌉ capped at
//! ⌈init⌉ (since 2025-08-01 on-demand billed duration includes INIT); environments = distinct
//! log streams (one per execution environment) per minute; a `Task timed out` line marks its
//! request's REPORT as a timeout. Throttles never reach a log (0). Alias or version
//! qualifiers cannot be told apart in the log group: all versions are read.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
use autopilot_core::observe::{Counters, MinuteStats};
use autopilot_core::ports::{ErrorKind, MetricsSource, PortResult};
use autopilot_core::report::{LogEvent, Outcome, Report, parse_log_line};

use crate::error::ClassifyExt;

/// Keeps text REPORTs, JSON platform.report records and timeout notices.
pub const REPORT_FILTER: &str = r#"?"REPORT RequestId" ?"platform.report" ?"Task timed out""#;

/// One log event as FilterLogEvents returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp_ms: i64,
    pub stream: String,
    pub message: String,
}

/// What reading a window found, besides the minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogTally {
    pub reports: u64,
    /// Lines matched by the filter that are not REPORTs or timeout notices.
    pub skipped: u64,
    pub pages: u32,
}

#[derive(Debug, Clone)]
pub struct LogReports {
    client: aws_sdk_cloudwatchlogs::Client,
}

impl LogReports {
    pub fn new(client: aws_sdk_cloudwatchlogs::Client) -> Self {
        Self { client }
    }

    /// The default log group of a function.
    pub fn log_group(function: &FunctionRef) -> String {
        format!("/aws/lambda/{}", function.name())
    }

    /// Every matching line of `log_group` in `[from, to)`.
    pub async fn read_lines(&self, log_group: &str, from: Minute, to: Minute) -> PortResult<(Vec<LogLine>, u32)> {
        const OP: &str = "CloudWatchLogs.FilterLogEvents";
        let (mut lines, mut pages, mut token) = (Vec::new(), 0, None);
        loop {
            let page = match self
                .client
                .filter_log_events()
                .log_group_name(log_group)
                .start_time(from.epoch_ms())
                .end_time(to.epoch_ms() - 1)
                .filter_pattern(REPORT_FILTER)
                .set_next_token(token.take())
                .send()
                .await
                .classify(OP)
            {
                Ok(page) => page,
                Err(e) if e.kind == ErrorKind::NotFound => return Ok((lines, pages)),
                Err(e) => return Err(e),
            };
            pages += 1;
            lines.extend(page.events().iter().filter_map(|e| {
                Some(LogLine {
                    timestamp_ms: e.timestamp()?,
                    stream: e.log_stream_name().unwrap_or_default().to_owned(),
                    message: e.message()?.to_owned(),
                })
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok((lines, pages)),
            }
        }
    }

    /// Minutes of `function` read from `log_group`, and the tally.
    pub async fn read_group(
        &self,
        log_group: &str,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> PortResult<(Vec<MinuteStats>, LogTally)> {
        let (lines, pages) = self.read_lines(log_group, from, to).await?;
        let (stats, mut tally) = aggregate(function, &lines);
        tally.pages = pages;
        Ok((stats, tally))
    }
}

/// Aggregates log lines into minute stats (any order of lines).
pub fn aggregate(function: &FunctionRef, lines: &[LogLine]) -> (Vec<MinuteStats>, LogTally) {
    let mut tally = LogTally::default();
    let mut reports: Vec<(&LogLine, Report)> = Vec::new();
    let mut timed_out: HashSet<String> = HashSet::new();
    for line in lines {
        match parse_log_line(&line.message) {
            Ok(LogEvent::Report(r)) => reports.push((line, r)),
            Ok(LogEvent::TimedOut { request_id: Some(id), .. }) => {
                timed_out.insert(id);
            }
            Ok(LogEvent::TimedOut { .. }) => {}
            Err(_) => tally.skipped += 1,
        }
    }
    let mut buckets: BTreeMap<(Minute, MemoryMb), Counters> = BTreeMap::new();
    let mut served: BTreeSet<(Minute, MemoryMb, &str)> = BTreeSet::new();
    for (line, mut r) in reports {
        let Ok(memory) = MemoryMb::new(u64::from(r.memory_size_mb)) else {
            tally.skipped += 1;
            continue;
        };
        tally.reports += 1;
        if r.outcome == Outcome::Success && r.request_id.as_ref().is_some_and(|id| timed_out.contains(id)) {
            r.outcome = Outcome::Timeout;
        }
        let minute = Minute::from_epoch_ms(line.timestamp_ms);
        let c = buckets.entry((minute, memory)).or_default();
        add_report(c, &r);
        if served.insert((minute, memory, line.stream.as_str())) {
            c.environments += 1;
        }
    }
    let stats = buckets
        .into_iter()
        .map(|((minute, memory), counters)| MinuteStats { function: function.clone(), minute, memory, counters })
        .collect();
    (stats, tally)
}

fn add_report(c: &mut Counters, r: &Report) {
    c.invocations += 1;
    match r.outcome {
        Outcome::Success => {}
        Outcome::Error { .. } => c.errors += 1,
        Outcome::Timeout => c.timeouts += 1,
        Outcome::OutOfMemory => c.out_of_memory += 1,
    }
    let billed_init = match r.init_ms {
        Some(init) => r.billed_ms.saturating_sub(r.duration_ms.ceil() as u64).min(init.ceil() as u64),
        None => 0,
    };
    c.billed_ms += r.billed_ms - billed_init;
    c.billed_init_ms += billed_init + r.billed_restore_ms.unwrap_or(0);
    c.busy_ms += (r.duration_ms + r.init_ms.unwrap_or(0.0) + r.restore_ms.unwrap_or(0.0)).round() as u64;
    c.duration.record(r.duration_ms);
    c.memory_used.record(f64::from(r.max_memory_used_mb));
    if let Some(init) = r.init_ms {
        c.cold_starts += 1;
        c.init.record(init);
    } else if let Some(restore) = r.restore_ms {
        c.restores += 1;
        c.init.record(restore);
    }
}

impl MetricsSource for LogReports {
    async fn read_minutes(&self, function: &FunctionRef, from: Minute, to: Minute) -> PortResult<Vec<MinuteStats>> {
        Ok(self.read_group(&Self::log_group(function), function, from, to).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ms: i64, stream: &str, message: &str) -> LogLine {
        LogLine { timestamp_ms: ms, stream: stream.to_owned(), message: message.to_owned() }
    }

    const ID1: &str = "3604209a-e9a3-11e6-939a-754dd98c7be3";
    const ID2: &str = "4604209a-e9a3-11e6-939a-754dd98c7be3";

    #[test]
    fn reports_become_minutes() {
        let f = FunctionRef::parse("orders").unwrap();
        let t0 = Minute(29_000_000).epoch_ms();
        let lines = vec![
            line(
                t0 + 1_000,
                "a",
                &format!(
                    "REPORT RequestId: {ID1}\tDuration: 100.25 ms\tBilled Duration: 313 ms\tMemory Size: 512 MB\tMax Memory Used: 80 MB\tInit Duration: 212.10 ms"
                ),
            ),
            line(
                t0 + 2_000,
                "a",
                "REPORT RequestId: x\tDuration: 50.00 ms\tBilled Duration: 50 ms\tMemory Size: 512 MB\tMax Memory Used: 81 MB",
            ),
            line(t0 + 3_000, "b", &format!("2024-01-01T00:00:03.012Z {ID2} Task timed out after 3.00 seconds")),
            line(
                t0 + 3_001,
                "b",
                &format!(
                    "REPORT RequestId: {ID2}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB"
                ),
            ),
            line(
                t0 + 61_000,
                "a",
                r#"{"time":"x","type":"platform.report","record":{"requestId":"y","status":"error","metrics":{"durationMs":10.0,"billedDurationMs":10,"memorySizeMB":1024,"maxMemoryUsedMB":70}}}"#,
            ),
            line(t0 + 61_500, "a", "START RequestId: y Version: $LATEST"),
        ];
        let (stats, tally) = aggregate(&f, &lines);
        assert_eq!((tally.reports, tally.skipped), (4, 1));
        assert_eq!(stats.len(), 2);
        let c = &stats[0].counters;
        assert_eq!(stats[0].memory.get(), 512);
        assert_eq!((c.invocations, c.cold_starts, c.timeouts, c.errors, c.environments), (3, 1, 1, 0, 2));
        assert_eq!((c.billed_ms, c.billed_init_ms), (101 + 50 + 3000, 212));
        assert_eq!(c.busy_ms, 312 + 50 + 3000);
        assert_eq!(c.init.count(), 1);
        assert_eq!(c.memory_used.count(), 3);
        let c = &stats[1].counters;
        assert_eq!((stats[1].minute, stats[1].memory.get()), (Minute(29_000_001), 1024));
        assert_eq!((c.invocations, c.errors, c.environments), (1, 1, 1));
    }
}
