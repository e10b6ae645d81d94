//! Writing aggregated items to DynamoDB: signed `UpdateItem` calls over one connection per
//! flush, retried with bounded, jittered backoff.
//!
//! Background flushing only progresses while the environment is thawed. A request in flight
//! when Lambda freezes the environment may fail when it thaws: such failures are retried
//! (the request may or may not have reached DynamoDB; we prefer a rare double count of one
//! flush of one item to losing it, and count these "ambiguous" retries). Items still failing
//! after the retries go back to the aggregator and are written with the next flush; what
//! cannot be written before the SHUTDOWN deadline is counted and reported once at exit.

use std::collections::BTreeSet;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use autopilot_core::observe::MinuteStats;

use crate::aggregate::Lost;
use crate::config::DynamoTarget;
use crate::dynamo::{self, Answer};
use crate::http::{self, Conn};
use crate::log;
use crate::sigv4;

/// Attempts per item per flush, and the backoff before the 2nd, 3rd, … attempt.
pub const ATTEMPTS: u32 = 4;
pub const BACKOFF_BASE: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_millis(1_600);
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// Running totals of the writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub calls_ok: u64,
    pub items_written: u64,
    pub retries: u64,
    /// Retries after a request had been fully sent (outcome unknown).
    pub ambiguous_retries: u64,
    /// Items given up: a non-retryable answer, or retries exhausted at shutdown.
    pub lost: Lost,
    pub last_error: Option<String>,
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    Retryable { reason: String, ambiguous: bool },
    Fatal(String),
}

/// Writes items to the stats table.
#[derive(Debug)]
pub struct DynamoWriter {
    target: DynamoTarget,
    retention_days: i64,
    conn: Option<Conn>,
    fatal_seen: BTreeSet<String>,
    jitter: u64,
    pub stats: WriteStats,
}

fn tls() -> io::Result<Arc<rustls::ClientConfig>> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    TLS.get_or_init(|| http::tls_config().map_err(|e| e.to_string())).clone().map_err(io::Error::other)
}

impl DynamoWriter {
    pub fn new(target: DynamoTarget, retention_days: i64) -> Self {
        let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Self {
            target,
            retention_days,
            conn: None,
            fatal_seen: BTreeSet::new(),
            jitter: seed | 1,
            stats: WriteStats::default(),
        }
    }

    /// The function every item is written for.
    pub fn function(&self) -> &autopilot_core::FunctionRef {
        &self.target.function
    }

    /// Writes `items`; returns those that should be retried with a later flush. Stops early
    /// (returning the rest) when `deadline` passes. A fresh connection per flush: after a
    /// freeze the previous one is likely dead.
    pub fn write_all(&mut self, items: Vec<MinuteStats>, deadline: Option<Instant>) -> Vec<MinuteStats> {
        self.conn = None;
        let mut retry_later = Vec::new();
        for item in items {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                retry_later.push(item);
                continue;
            }
            if !self.write_item(&item, deadline) {
                retry_later.push(item);
            }
        }
        self.conn = None;
        retry_later
    }

    /// True when the item was written or given up as fatal (counted); false to retry later.
    fn write_item(&mut self, item: &MinuteStats, deadline: Option<Instant>) -> bool {
        let bodies = dynamo::update_item_bodies(&self.target.table, item, self.retention_days);
        // An item split over several updates (only items with hundreds of histogram buckets)
        // cannot go back whole once one part has landed: its remaining parts are retried
        // here and, if they still fail, the item is counted as lost.
        for (part, body) in bodies.iter().enumerate() {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.call(body, deadline) {
                    Ok(()) => break,
                    Err(Failure::Fatal(reason)) => {
                        self.give_up(item, reason);
                        return true;
                    }
                    Err(Failure::Retryable { reason, ambiguous }) => {
                        self.conn = None;
                        let wait = self.backoff(attempt);
                        let out_of_time = deadline.is_some_and(|d| Instant::now() + wait >= d);
                        if attempt >= ATTEMPTS || out_of_time {
                            if part > 0 {
                                self.give_up(item, format!("{reason} (after {part} of {} parts)", bodies.len()));
                                return true;
                            }
                            self.stats.last_error = Some(reason);
                            return false;
                        }
                        self.stats.retries += 1;
                        if ambiguous {
                            self.stats.ambiguous_retries += 1;
                        }
                        std::thread::sleep(wait);
                    }
                }
            }
        }
        self.stats.items_written += 1;
        true
    }

    fn give_up(&mut self, item: &MinuteStats, reason: String) {
        self.stats.lost.add(item);
        if self.fatal_seen.insert(reason.split(':').next().unwrap_or("").to_owned()) {
            log::warn(
                "stats write failed for good; such items are dropped and counted",
                &[("table", &self.target.table), ("error", &reason)],
            );
        }
        self.stats.last_error = Some(reason);
    }

    fn backoff(&mut self, attempt: u32) -> Duration {
        // xorshift64: jitter without a random-number crate.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let base = BACKOFF_BASE.saturating_mul(4u32.saturating_pow(attempt.saturating_sub(1))).min(BACKOFF_MAX);
        // 50-100% of the exponential step.
        base.mul_f64(0.5 + (self.jitter % 1_000) as f64 / 2_000.0)
    }

    /// One signed `UpdateItem` call.
    fn call(&mut self, body: &[u8], deadline: Option<Instant>) -> Result<(), Failure> {
        let timeout = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(IO_TIMEOUT).max(Duration::from_millis(1)),
            None => IO_TIMEOUT,
        };
        let endpoint = &self.target.endpoint;
        let transport = |e: io::Error, ambiguous| Failure::Retryable { reason: format!("transport: {e}"), ambiguous };
        let reused = self.conn.is_some();
        if self.conn.is_none() {
            let tls = if endpoint.tls { Some(tls().map_err(|e| transport(e, false))?) } else { None };
            self.conn = Some(http::connect(endpoint, timeout, tls.as_ref()).map_err(|e| transport(e, false))?);
        }
        let conn = self.conn.as_mut().ok_or_else(|| transport(io::Error::other("no connection"), false))?;
        conn.set_timeout(Some(timeout)).map_err(|e| transport(e, false))?;
        let host = endpoint.host_header();
        let url = format!("{endpoint}/");
        let base = [("host", host.as_str()), ("content-type", dynamo::CONTENT_TYPE), ("x-amz-target", dynamo::TARGET)];
        let request = sigv4::Signable { method: "POST", url: &url, headers: &base, body };
        let signed =
            sigv4::sign_headers(&self.target.credentials, &self.target.region, "dynamodb", request, SystemTime::now())
                .map_err(|e| Failure::Fatal(e.to_string()))?;
        let mut headers: Vec<(&str, &str)> =
            vec![("Content-Type", dynamo::CONTENT_TYPE), ("X-Amz-Target", dynamo::TARGET)];
        headers.extend(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        http::write_request(conn, "POST", &host, &format!("{}/", endpoint.path), &headers, body)
            .map_err(|e| transport(e, false))?;
        let response = match http::read_response(conn) {
            Ok(Some(r)) => r,
            // The server closed a reused idle connection before reading: not processed.
            Ok(None) if reused => return Err(transport(io::Error::other("idle connection closed"), false)),
            Ok(None) => return Err(transport(io::Error::other("closed without an answer"), true)),
            Err(e) => return Err(transport(e, true)),
        };
        if response.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            self.conn = None;
        }
        match dynamo::classify(response.status, &response.body) {
            Answer::Ok => {
                self.stats.calls_ok += 1;
                Ok(())
            }
            Answer::Retryable(reason) => Err(Failure::Retryable { reason, ambiguous: false }),
            Answer::Fatal(reason) => Err(Failure::Fatal(format!("{reason}: {}", response.body_text()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let target = DynamoTarget {
            table: "t".into(),
            function: autopilot_core::FunctionRef::parse("f:1").unwrap(),
            region: "us-east-1".into(),
            endpoint: http::Url::parse("http://127.0.0.1:1").unwrap(),
            credentials: crate::config::Credentials {
                access_key_id: "a".into(),
                secret_access_key: "s".into(),
                session_token: None,
            },
        };
        let mut w = DynamoWriter::new(target, 35);
        for attempt in 1..10 {
            let d = w.backoff(attempt);
            let step = BACKOFF_BASE.saturating_mul(4u32.saturating_pow(attempt - 1)).min(BACKOFF_MAX);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
    }
}
