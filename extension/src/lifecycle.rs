//! The extension's life: register → listen → subscribe → wait for SHUTDOWN → drain → final
//! write → one summary line → exit.
//!
//! Threads, not an async runtime: the blocking `/event/next` long poll on the main thread,
//! one listener thread (plus one per extra connection), one flusher thread. Nothing here is
//! ever between an invocation and its response: the extension registers for SHUTDOWN only.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::aggregate::{Aggregator, Lost};
use crate::config::{Config, DynamoTarget, Writer};
use crate::lambda_api::{Event, LambdaApi};
use crate::listener::{Delivery, Listener};
use crate::log;
use crate::telemetry;
use crate::writer::{DynamoWriter, WriteStats};

/// After SHUTDOWN, wait this long without a batch before the final write (the Telemetry API
/// delivers the last invocation's records after SHUTDOWN, within its 100 ms buffering).
pub const DRAIN_QUIET: Duration = Duration::from_millis(300);
/// Time kept for the final write and exit before the SHUTDOWN deadline.
pub const WRITE_RESERVE: Duration = Duration::from_millis(900);
/// Margin before the deadline at which the final write stops.
pub const EXIT_MARGIN: Duration = Duration::from_millis(150);
/// Used when SHUTDOWN carries no deadline (Lambda gives external extensions ~2 s).
pub const DEFAULT_SHUTDOWN_BUDGET: Duration = Duration::from_millis(2_000);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock (contained elsewhere) must not stop the extension.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// State shared by the listener, the flusher and the main thread.
#[derive(Debug)]
pub struct Shared {
    pub agg: Mutex<Aggregator>,
    accepting: AtomicBool,
    started: Instant,
    /// ms since `started` of the last batch and of the last flush.
    last_batch_ms: AtomicU64,
    last_flush_ms: AtomicU64,
    flush_interval: Duration,
    batches_after_stop: AtomicU64,
    oversized: AtomicU64,
    trigger: Trigger,
    /// Items taken by a flush that has not finished (reported if still in flight at exit).
    in_flight: Mutex<Lost>,
    writes: Mutex<WriteStats>,
}

/// Wakes the flusher: a flush request or stop.
#[derive(Debug, Default)]
struct Trigger {
    state: Mutex<(bool, bool)>, // (flush requested, stop)
    cv: Condvar,
}

impl Trigger {
    fn poke(&self, stop: bool) {
        let mut s = lock(&self.state);
        if stop {
            s.1 = true;
        } else {
            s.0 = true;
        }
        self.cv.notify_all();
    }

    /// Waits for a request, a stop or the timeout; returns whether to stop.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = lock(&self.state);
        let (mut s, _) =
            self.cv.wait_timeout_while(guard, timeout, |s| !s.0 && !s.1).unwrap_or_else(PoisonError::into_inner);
        s.0 = false;
        s.1
    }
}

impl Shared {
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(Self {
            agg: Mutex::new(Aggregator::new(config.memory)),
            accepting: AtomicBool::new(true),
            started: Instant::now(),
            last_batch_ms: AtomicU64::new(0),
            last_flush_ms: AtomicU64::new(0),
            flush_interval: config.flush_interval,
            batches_after_stop: AtomicU64::new(0),
            oversized: AtomicU64::new(0),
            trigger: Trigger::default(),
            in_flight: Mutex::new(Lost::default()),
            writes: Mutex::new(WriteStats::default()),
        })
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The listener's sink: parse and aggregate one batch; ask for a flush when due.
    pub fn on_batch(&self, delivery: Delivery<'_>) {
        if !self.accepting.load(Ordering::Acquire) {
            self.batches_after_stop.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Delivery::Body(body) = delivery else {
            self.oversized.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let now = now_ms();
        {
            let mut agg = lock(&self.agg);
            let stats = telemetry::for_each_record(body, |record| agg.apply(record, now));
            agg.intake.batches += 1;
            agg.intake.records += stats.records;
            agg.intake.unknown += stats.unknown;
            agg.intake.malformed += stats.malformed;
        }
        let t = self.elapsed_ms();
        self.last_batch_ms.store(t, Ordering::Release);
        // Telemetry for invocation N arrives during later activity, while the environment is
        // thawed: that is when a due flush can run.
        if t.saturating_sub(self.last_flush_ms.load(Ordering::Acquire)) >= self.flush_interval.as_millis() as u64 {
            self.trigger.poke(false);
        }
    }

    /// One flush: take everything pending, write it, put back what should be retried.
    fn flush(&self, writer: &mut DynamoWriter, deadline: Option<Instant>) {
        self.last_flush_ms.store(self.elapsed_ms(), Ordering::Release);
        let items = lock(&self.agg).take(&writer_function(writer));
        if items.is_empty() {
            return;
        }
        {
            let mut f = lock(&self.in_flight);
            for i in &items {
                f.add(i);
            }
        }
        let retry = writer.write_all(items, deadline);
        lock(&self.agg).restore(retry);
        *lock(&self.in_flight) = Lost::default();
        *lock(&self.writes) = writer.stats.clone();
    }
}

fn writer_function(writer: &DynamoWriter) -> autopilot_core::FunctionRef {
    writer.function().clone()
}

/// The flusher thread: flushes when poked (interval elapsed as telemetry arrives) or when
/// the interval passes while thawed; contains panics; stops when told.
fn spawn_flusher(shared: Arc<Shared>, target: DynamoTarget, retention_days: i64) -> Option<thread::JoinHandle<()>> {
    let spawned = thread::Builder::new().name("stats-flusher".into()).stack_size(256 * 1024).spawn(move || {
        let mut writer = DynamoWriter::new(target, retention_days);
        loop {
            if shared.trigger.wait(shared.flush_interval) {
                return;
            }
            let due = shared.elapsed_ms().saturating_sub(shared.last_flush_ms.load(Ordering::Acquire))
                >= shared.flush_interval.as_millis() as u64;
            if due && catch_unwind(AssertUnwindSafe(|| shared.flush(&mut writer, None))).is_err() {
                log::error("stats flush panicked; will try again next interval", &[]);
                *lock(&shared.in_flight) = Lost::default();
            }
        }
    });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            log::error("cannot start the flusher thread; stats are written at shutdown only", &[("error", &e)]);
            None
        }
    }
}

/// Runs the extension until SHUTDOWN; returns the process exit code.
pub fn run(config: &Config, name: &str) -> i32 {
    log::set_level(config.log_level);
    let api = LambdaApi::new(config.runtime_api.clone());
    // Binding looks up the sandbox's address (a DNS query where /etc/hosts lacks it): done
    // beside the registration round trip, not after it — init time is the customer's cold start.
    let binding = thread::Builder::new().name("telemetry-bind".into()).stack_size(128 * 1024).spawn(Listener::bind);
    let id = match register(&api, name) {
        Ok(id) => id,
        Err(e) => {
            log::error("cannot register with the Extensions API", &[("error", &e)]);
            return 1;
        }
    };
    let shared = Shared::new(config);
    let bound = match binding {
        Ok(handle) => handle.join().unwrap_or_else(|_| Err(std::io::Error::other("the bind thread panicked"))),
        Err(_) => Listener::bind(),
    };
    match bound {
        Ok(listener) => {
            let uri = listener.uri.clone();
            let sink_state = Arc::clone(&shared);
            let started = listener.spawn(Arc::new(move |d| sink_state.on_batch(d)));
            match started.map_err(|e| e.to_string()).and_then(|_| api.subscribe(&id, &uri).map_err(|e| e.to_string())) {
                Ok(()) => log::debug("subscribed to telemetry", &[("destination", &uri)]),
                Err(e) => log::warn("no telemetry subscription; nothing will be recorded", &[("error", &e)]),
            }
        }
        Err(e) => log::warn("cannot bind the telemetry listener; nothing will be recorded", &[("error", &e)]),
    }
    let target = match &config.writer {
        Writer::Dynamo(t) => Some(t.clone()),
        Writer::Disabled(reason) => {
            log::warn("stats are not written", &[("reason", reason)]);
            None
        }
    };
    let flusher = target.clone().and_then(|t| spawn_flusher(Arc::clone(&shared), t, config.retention_days));
    let (reason, deadline_ms) = wait_for_shutdown(&api, &id);
    let deadline = deadline_instant(deadline_ms);
    shutdown(&shared, target, config.retention_days, flusher, deadline, reason.as_deref());
    0
}

fn register(api: &LambdaApi, name: &str) -> Result<String, crate::lambda_api::ApiError> {
    let mut last = None;
    for attempt in 0..3 {
        match api.register(name) {
            Ok(id) => return Ok(id),
            Err(e) => last = Some(e),
        }
        thread::sleep(Duration::from_millis(20 << attempt));
    }
    Err(last.unwrap_or(crate::lambda_api::ApiError::Answer { what: "register", detail: "no attempt".into() }))
}

/// Blocks on `/event/next` until SHUTDOWN. Errors are retried with a short pause: the API
/// going away means the environment is ending anyway.
fn wait_for_shutdown(api: &LambdaApi, id: &str) -> (Option<String>, Option<i64>) {
    let mut failures = 0u32;
    loop {
        match api.next(id) {
            Ok(Event::Shutdown { reason, deadline_ms }) => return (reason, deadline_ms),
            Ok(Event::Invoke | Event::Other(_)) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    log::warn("event/next failed; retrying", &[("error", &e), ("failures", &failures)]);
                }
                if failures >= 50 {
                    // The Extensions API is gone: nothing left to serve. Write what we have.
                    return (Some("extensions-api-unavailable".into()), None);
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn deadline_instant(deadline_ms: Option<i64>) -> Instant {
    let now = Instant::now();
    match deadline_ms {
        Some(ms) => now + Duration::from_millis(ms.saturating_sub(now_ms()).clamp(0, 30_000) as u64),
        None => now + DEFAULT_SHUTDOWN_BUDGET,
    }
}

/// SHUTDOWN: drain late telemetry, stop intake, final write, one summary line.
fn shutdown(
    shared: &Arc<Shared>,
    target: Option<DynamoTarget>,
    retention_days: i64,
    flusher: Option<thread::JoinHandle<()>>,
    deadline: Instant,
    reason: Option<&str>,
) {
    let drain_until = deadline.checked_sub(WRITE_RESERVE).unwrap_or_else(Instant::now);
    loop {
        let now = Instant::now();
        if now >= drain_until {
            break;
        }
        let quiet_ms = shared.elapsed_ms().saturating_sub(shared.last_batch_ms.load(Ordering::Acquire));
        let owed = {
            let agg = lock(&shared.agg);
            agg.intake.starts > agg.intake.reports
        };
        if quiet_ms >= DRAIN_QUIET.as_millis() as u64 && !owed {
            break;
        }
        thread::sleep(Duration::from_millis(10).min(drain_until - now));
    }
    shared.accepting.store(false, Ordering::Release);
    lock(&shared.agg).finish();

    // Stop the background flusher; give it until the drain point to finish a write.
    shared.trigger.poke(true);
    if let Some(handle) = flusher {
        while !handle.is_finished() && Instant::now() < drain_until.max(Instant::now() + Duration::from_millis(50)) {
            thread::sleep(Duration::from_millis(5));
        }
    }
    let mut lost = *lock(&shared.in_flight);
    let mut stats = lock(&shared.writes).clone();
    if let Some(target) = target {
        let mut writer = DynamoWriter::new(target, retention_days);
        let final_deadline = deadline.checked_sub(EXIT_MARGIN).unwrap_or_else(Instant::now);
        shared.flush(&mut writer, Some(final_deadline));
        stats.items_written += writer.stats.items_written;
        stats.retries += writer.stats.retries;
        stats.ambiguous_retries += writer.stats.ambiguous_retries;
        stats.lost.items += writer.stats.lost.items;
        stats.lost.invocations += writer.stats.lost.invocations;
        if writer.stats.last_error.is_some() {
            stats.last_error = writer.stats.last_error.clone();
        }
        let mut agg = lock(&shared.agg);
        for item in agg.take(writer.function()) {
            lost.add(&item);
        }
        lost.items += agg.overflow.items + stats.lost.items;
        lost.invocations += agg.overflow.invocations + stats.lost.invocations;
    }
    let agg = lock(&shared.agg);
    let intake = agg.intake;
    let after_stop = shared.batches_after_stop.load(Ordering::Relaxed);
    let oversized = shared.oversized.load(Ordering::Relaxed);
    let fields: [(&str, &dyn std::fmt::Display); 13] = [
        ("reason", &reason.unwrap_or("unknown")),
        ("items_not_written", &lost.items),
        ("invocations_not_written", &lost.invocations),
        ("items_written", &stats.items_written),
        ("retries", &stats.retries),
        ("ambiguous_retries", &stats.ambiguous_retries),
        ("last_error", &stats.last_error.as_deref().unwrap_or("")),
        ("batches", &intake.batches),
        ("records", &intake.records),
        ("unknown_records", &intake.unknown),
        ("malformed_records", &intake.malformed),
        ("oversized_batches", &oversized),
        ("batches_after_shutdown", &after_stop),
    ];
    if lost.items > 0 {
        log::warn("shutdown: stats could not be written", &fields);
    } else {
        log::info("shutdown", &fields);
    }
}
