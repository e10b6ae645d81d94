//! Per-environment aggregation: telemetry records in, one [`MinuteStats`] per minute and
//! memory size out, ready for one `ADD` update each.
//!
//! Memory is bounded whatever the traffic: at most [`MAX_PENDING_BUCKETS`] minute buckets
//! wait to be written, each a fixed set of counters plus three histograms of at most
//! [`autopilot_core::histogram::bucket_count`] entries. Past the bound the oldest bucket is
//! dropped and counted as unwritten (reported at shutdown, never silently).
//!
//! Cost per invocation (this runs for every invocation of the customer's function): the
//! bucket of the current minute is found without a search (the last one used is checked
//! first), histograms are arrays ([`DenseHistogram`]), nothing is allocated.
//!
//! Attribution rules (documented in extension/README.md):
//! - an invocation counts in the minute of its `platform.report` record's `time` (its end);
//! - busy time (duration + INIT/restore, rounded to whole ms per invocation) is spread over
//!   the minutes it overlaps, ending at that time; every minute with busy time or an
//!   invocation adds 1 to `envs` once for this environment;
//! - a cold start (on-demand INIT) or SnapStart restore counts exactly once per environment,
//!   in the minute of the first invocation it delayed (or in the INIT's own minute if the
//!   environment shuts down before serving one). Provisioned-concurrency INITs are not cold
//!   starts (no caller waited); the SnapStart snapshot INIT runs at publish time and is
//!   ignored: anything counted then would be copied into every restored environment.

use std::collections::BTreeSet;

use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
use autopilot_core::histogram::DenseHistogram;
use autopilot_core::observe::{Counters, MinuteStats};
use autopilot_core::report::{Outcome, Report};

use crate::telemetry::{InitKind, Record};

/// Minute buckets kept while writes fail (3 hours of minutes at one memory size).
pub const MAX_PENDING_BUCKETS: usize = 180;
/// Minutes remembered as already counted in `envs` (older, late records may count twice).
const SERVED_MEMORY: usize = 32;
/// Longest busy span spread over minutes (Lambda's 15-minute limit plus a 10-minute INIT).
const MAX_BUSY_MS: i64 = 25 * 60_000;

/// Whether this environment's cold start (or restore) is still to be counted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum InitState {
    /// Nothing seen yet.
    Fresh,
    /// An INIT or restore was reported; counted with the next invocation.
    Pending { restore: bool, minute: Minute, duration_ms: Option<f64> },
    /// Counted (or nothing to count: provisioned concurrency).
    Done,
}

/// Counts of what came in, for the shutdown summary and the drain logic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Intake {
    pub batches: u64,
    pub records: u64,
    pub unknown: u64,
    pub malformed: u64,
    /// `platform.start` and `platform.report` records seen (equal when no report is owed).
    pub starts: u64,
    pub reports: u64,
}

/// What could not be kept or written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lost {
    pub items: u64,
    pub invocations: u64,
}

impl Lost {
    pub fn add(&mut self, item: &MinuteStats) {
        self.items += 1;
        self.invocations += item.counters.invocations;
    }
}

/// One pending minute × memory size. The histograms are counted in `duration` / `init` /
/// `memory_used` while pending; `counters` holds everything else (and the histograms of items
/// put back after a failed write).
#[derive(Debug, Clone)]
struct Bucket {
    key: (Minute, MemoryMb),
    counters: Counters,
    duration: DenseHistogram,
    init: DenseHistogram,
    memory_used: DenseHistogram,
}

impl Bucket {
    fn new(key: (Minute, MemoryMb)) -> Self {
        Self {
            key,
            counters: Counters::default(),
            duration: DenseHistogram::new(),
            init: DenseHistogram::new(),
            memory_used: DenseHistogram::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.counters == Counters::default()
            && self.duration.is_empty()
            && self.init.is_empty()
            && self.memory_used.is_empty()
    }

    fn into_counters(self) -> Counters {
        let mut c = self.counters;
        for (h, dense) in
            [(&mut c.duration, &self.duration), (&mut c.init, &self.init), (&mut c.memory_used, &self.memory_used)]
        {
            if !dense.is_empty() {
                h.merge(&dense.to_histogram());
            }
        }
        c
    }
}

/// The aggregation state of one execution environment.
#[derive(Debug, Clone)]
pub struct Aggregator {
    env_memory: Option<MemoryMb>,
    /// Sorted by key; telemetry arrives in time order, so new buckets go at the end.
    pending: Vec<Bucket>,
    /// Index in `pending` of the bucket used last.
    last: usize,
    served: BTreeSet<Minute>,
    last_served: Option<Minute>,
    init: InitState,
    /// The last `platform.runtimeDone` that was not a success: (request id, status, error type).
    last_failure: Option<(Option<String>, String, Option<String>)>,
    pub intake: Intake,
    /// Buckets dropped because [`MAX_PENDING_BUCKETS`] was reached.
    pub overflow: Lost,
}

impl Aggregator {
    pub fn new(env_memory: Option<MemoryMb>) -> Self {
        Self {
            env_memory,
            pending: Vec::new(),
            last: 0,
            served: BTreeSet::new(),
            last_served: None,
            init: InitState::Fresh,
            last_failure: None,
            intake: Intake::default(),
            overflow: Lost::default(),
        }
    }

    /// Applies one record; `now_ms` stands in for a missing or unreadable `time`.
    pub fn apply(&mut self, record: &Record, now_ms: i64) {
        match record {
            Record::Report { time_ms, report, has_status } => {
                self.intake.reports += 1;
                self.report(time_ms.unwrap_or(now_ms), report, *has_status);
            }
            Record::Start => self.intake.starts += 1,
            Record::RuntimeDoneSuccess => self.last_failure = None,
            Record::RuntimeDone { request_id, status, error_type } => {
                self.last_failure = match status {
                    Some(s) if !s.eq_ignore_ascii_case("success") => {
                        Some((request_id.clone(), s.clone(), error_type.clone()))
                    }
                    _ => None,
                };
            }
            Record::InitReport { time_ms, init, duration_ms } => {
                let minute = Minute::from_epoch_ms(time_ms.unwrap_or(now_ms));
                match (init, self.init) {
                    (_, InitState::Done) | (InitKind::SnapStart, _) => {}
                    (InitKind::Provisioned, _) => self.init = InitState::Done,
                    (InitKind::OnDemand, _) => {
                        self.init = InitState::Pending { restore: false, minute, duration_ms: *duration_ms };
                    }
                }
            }
            Record::RestoreReport { time_ms, duration_ms } => {
                if self.init != InitState::Done {
                    let minute = Minute::from_epoch_ms(time_ms.unwrap_or(now_ms));
                    self.init = InitState::Pending { restore: true, minute, duration_ms: *duration_ms };
                }
            }
            Record::Ignored | Record::Unknown => {}
        }
    }

    fn report(&mut self, time_ms: i64, report: &Report, has_status: bool) {
        let Some(memory) = MemoryMb::new(u64::from(report.memory_size_mb)).ok().or(self.env_memory) else {
            self.intake.malformed += 1;
            return;
        };
        let outcome = if has_status { report.outcome.clone() } else { self.fallback_outcome(report) };
        let minute = Minute::from_epoch_ms(time_ms);
        let duration_ceil = report.duration_ms.ceil() as u64;
        // Since 2025-08-01 the billed duration of an on-demand cold start includes the INIT
        // (earlier, managed runtimes showed it unbilled): the part above the invoke's own
        // duration is the billed INIT, whichever regime produced the record.
        let billed_init = match report.init_ms {
            Some(init) => report.billed_ms.saturating_sub(duration_ceil).min(init.ceil() as u64),
            None => 0,
        };
        let first = self.take_cold_start(report);
        // The environment was busy for the INIT/restore the caller waited for, too.
        let init_wait = first.and_then(|(_, d)| d).unwrap_or(0.0);
        let busy_ms = (report.duration_ms + init_wait).round() as i64;
        let b = self.bucket(minute, memory);
        let c = &mut b.counters;
        c.invocations += 1;
        match outcome {
            Outcome::Success => {}
            Outcome::Error { .. } => c.errors += 1,
            Outcome::Timeout => c.timeouts += 1,
            Outcome::OutOfMemory => c.out_of_memory += 1,
        }
        c.billed_ms += report.billed_ms - billed_init;
        c.billed_init_ms += billed_init + report.billed_restore_ms.unwrap_or(0);
        if let Some((restore, _)) = first {
            if restore {
                c.restores += 1;
            } else {
                c.cold_starts += 1;
            }
        }
        b.duration.record(report.duration_ms);
        // 0: not reported (Lambda Managed Instances report the duration alone).
        if report.max_memory_used_mb > 0 {
            b.memory_used.record(f64::from(report.max_memory_used_mb));
        }
        if let Some((_, Some(d))) = first {
            b.init.record(d);
        }
        self.mark_served(minute, memory);
        self.add_busy(time_ms, busy_ms, memory);
    }

    /// The cold start or restore this report carries or follows, once per environment.
    fn take_cold_start(&mut self, report: &Report) -> Option<(bool, Option<f64>)> {
        let found = match self.init {
            InitState::Done => None,
            _ if report.init_ms.is_some() => Some((false, report.init_ms)),
            _ if report.restore_ms.is_some() => Some((true, report.restore_ms)),
            InitState::Pending { restore, duration_ms, .. } => Some((restore, duration_ms)),
            InitState::Fresh => None,
        };
        // Exactly once: after the first invocation nothing else can be this environment's
        // cold start.
        self.init = InitState::Done;
        found
    }

    fn fallback_outcome(&self, report: &Report) -> Outcome {
        let Some((id, status, error_type)) = &self.last_failure else { return report.outcome.clone() };
        if id.is_some() && id != &report.request_id {
            return report.outcome.clone();
        }
        let oom = error_type.as_deref().is_some_and(|t| t.contains("OutOfMemory"));
        match status.to_ascii_lowercase().as_str() {
            _ if oom => Outcome::OutOfMemory,
            "timeout" => Outcome::Timeout,
            _ => Outcome::Error { error_type: error_type.clone() },
        }
    }

    fn bucket(&mut self, minute: Minute, memory: MemoryMb) -> &mut Bucket {
        let key = (minute, memory);
        if self.pending.get(self.last).is_some_and(|b| b.key == key) {
            return &mut self.pending[self.last];
        }
        let at = match self.pending.binary_search_by(|b| b.key.cmp(&key)) {
            Ok(at) => at,
            Err(mut at) => {
                if self.pending.len() >= MAX_PENDING_BUCKETS {
                    let oldest = self.pending.remove(0).into_counters();
                    self.overflow.items += 1;
                    self.overflow.invocations += oldest.invocations;
                    at = at.saturating_sub(1);
                }
                self.pending.insert(at, Bucket::new(key));
                at
            }
        };
        self.last = at;
        &mut self.pending[at]
    }

    fn mark_served(&mut self, minute: Minute, memory: MemoryMb) {
        if self.last_served == Some(minute) {
            return;
        }
        self.last_served = Some(minute);
        if self.served.insert(minute) {
            self.bucket(minute, memory).counters.environments += 1;
            while self.served.len() > SERVED_MEMORY {
                self.served.pop_first();
            }
        }
    }

    /// Spreads `busy_ms` (ending at `end_ms`) over the minutes it overlaps.
    fn add_busy(&mut self, end_ms: i64, busy_ms: i64, memory: MemoryMb) {
        let start_ms = end_ms - busy_ms.clamp(0, MAX_BUSY_MS);
        let mut minute = Minute::from_epoch_ms(start_ms);
        loop {
            let from = start_ms.max(minute.epoch_ms());
            let to = end_ms.min(minute.plus(1).epoch_ms());
            if to > from {
                self.bucket(minute, memory).counters.busy_ms += (to - from) as u64;
                self.mark_served(minute, memory);
            }
            if minute.plus(1).epoch_ms() >= end_ms {
                break;
            }
            minute = minute.plus(1);
        }
    }

    /// At shutdown: a cold start or restore that no invocation followed counts in its own
    /// minute (at the environment's memory size).
    pub fn finish(&mut self) {
        if let InitState::Pending { restore, minute, duration_ms } = self.init {
            self.init = InitState::Done;
            let Some(memory) = self.env_memory else { return };
            let b = self.bucket(minute, memory);
            if restore {
                b.counters.restores += 1;
            } else {
                b.counters.cold_starts += 1;
            }
            if let Some(d) = duration_ms {
                b.init.record(d);
            }
        }
    }

    /// Takes every pending bucket that has something to write (idle ones are skipped).
    pub fn take(&mut self, function: &FunctionRef) -> Vec<MinuteStats> {
        self.last = 0;
        std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|b| !b.is_empty())
            .map(|b| {
                let (minute, memory) = b.key;
                MinuteStats { function: function.clone(), minute, memory, counters: b.into_counters() }
            })
            .collect()
    }

    /// Puts items whose write failed back, merged with anything recorded since.
    pub fn restore(&mut self, items: Vec<MinuteStats>) {
        for item in items {
            self.bucket(item.minute, item.memory).counters.merge(&item.counters);
        }
    }

    /// True when nothing waits to be written.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn pending_buckets(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests;
