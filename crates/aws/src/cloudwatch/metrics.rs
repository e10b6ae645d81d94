//! [`MetricsSource`] over CloudWatch metrics, the fallback for functions without the
//! extension: `AWS/Lambda` Invocations (Sum), Duration (Average and Maximum),
//! ConcurrentExecutions (Maximum), Errors (Sum) and Throttles (Sum) at a 60-s period, read
//! with `GetMetricData`, as many functions per request as fit (500 queries: 83 functions).
//! Every metric requested is billed, whatever the batching ([`CLOUDWATCH_METRICS_REQUESTED`]
//! counts them): read rarely and narrowly.
//!
//! What CloudWatch cannot say, and how each [`MinuteStats`] field is filled:
//! - durations: the histogram gets `n−1` values at `(sum − max)/(n−1)` and one at the max, so
//!   count, sum (= average × n) and maximum are exact, and percentiles are coarse (p99 is
//!   the max below 100 calls a minute). Percentile statistics are not requested: each costs
//!   another billed metric and the local emulator cannot serve them.
//! - billed ms: each duration rounded up to 1 ms, from that reconstruction (an estimate).
//! - busy ms: the duration sum. Environments: the ConcurrentExecutions maximum when
//!   present, else the busy time's lower bound `⌈busy/60 s⌉`.
//! - errors include timeouts and out-of-memory (CloudWatch does not separate them); cold
//!   starts, init durations and memory used are unknown (0 / empty): the REPORT-line reader
//!   ([`super::LogReports`]) has them.
//! - memory size: the function's current configuration (CloudWatch does not record it), from
//!   [`CloudWatchMetrics::remember_memory`] or one `GetFunctionConfiguration`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
use autopilot_core::observe::{Counters, MinuteStats};
use autopilot_core::ports::{ErrorKind, MetricsSource, PortResult};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;

use crate::calls::{ApiCalls, CLOUDWATCH_METRICS_REQUESTED};
use crate::clients::Clients;
use crate::error::{ClassifyExt, port_error};

const NAMESPACE: &str = "AWS/Lambda";
const PERIOD_S: i32 = 60;
/// GetMetricData's limit of queries per request.
pub const MAX_QUERIES_PER_REQUEST: usize = 500;

/// The series read per function: (metric, statistic).
pub const SERIES: [(&str, &str); 6] = [
    ("Invocations", "Sum"),
    ("Duration", "Average"),
    ("Duration", "Maximum"),
    ("ConcurrentExecutions", "Maximum"),
    ("Errors", "Sum"),
    ("Throttles", "Sum"),
];
const INV: usize = 0;
const AVG: usize = 1;
const MAX: usize = 2;
const CONC: usize = 3;
const ERR: usize = 4;
const THR: usize = 5;

/// One minute of the six series (`None`: no data point).
pub type MinutePoints = [Option<f64>; SERIES.len()];

#[derive(Debug)]
pub struct CloudWatchMetrics {
    cloudwatch: aws_sdk_cloudwatch::Client,
    lambda: aws_sdk_lambda::Client,
    calls: ApiCalls,
    memory: Mutex<HashMap<String, MemoryMb>>,
}

impl CloudWatchMetrics {
    pub fn new(clients: &Clients) -> Self {
        Self {
            cloudwatch: clients.cloudwatch.clone(),
            lambda: clients.lambda.clone(),
            calls: clients.calls.clone(),
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// The memory size to attribute a function's minutes to (collect knows it already).
    pub fn remember_memory(&self, function: &FunctionRef, memory: MemoryMb) {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner).insert(function.name().to_owned(), memory);
    }

    async fn memory_of(&self, function: &FunctionRef) -> PortResult<MemoryMb> {
        const OP: &str = "Lambda.GetFunctionConfiguration";
        if let Some(m) = self.memory.lock().unwrap_or_else(PoisonError::into_inner).get(function.name()) {
            return Ok(*m);
        }
        let c = self.lambda.get_function_configuration().function_name(function.name()).send().await.classify(OP)?;
        let m = MemoryMb::new(u64::try_from(c.memory_size().unwrap_or(128)).unwrap_or(0))
            .map_err(|e| port_error(ErrorKind::Fatal, OP, e.to_string()))?;
        self.remember_memory(function, m);
        Ok(m)
    }

    /// Minutes `[from, to)` of many functions, batched into as few requests as the query
    /// limit allows. Functions without data map to an empty list.
    pub async fn read_fleet(
        &self,
        functions: &[FunctionRef],
        from: Minute,
        to: Minute,
    ) -> PortResult<HashMap<FunctionRef, Vec<MinuteStats>>> {
        let mut out = HashMap::new();
        let per_request = MAX_QUERIES_PER_REQUEST / SERIES.len();
        for batch in functions.chunks(per_request) {
            let points = self.fetch(batch, from, to).await?;
            for (i, f) in batch.iter().enumerate() {
                let memory = self.memory_of(f).await?;
                let empty = BTreeMap::new();
                out.insert(f.clone(), minute_stats(f, memory, points.get(&i).unwrap_or(&empty)));
            }
        }
        Ok(out)
    }

    /// One GetMetricData exchange (paginated) for up to 83 functions: points by function
    /// index and minute.
    async fn fetch(
        &self,
        batch: &[FunctionRef],
        from: Minute,
        to: Minute,
    ) -> PortResult<HashMap<usize, BTreeMap<Minute, MinutePoints>>> {
        const OP: &str = "CloudWatch.GetMetricData";
        let queries: Vec<MetricDataQuery> = batch
            .iter()
            .enumerate()
            .flat_map(|(i, f)| SERIES.iter().enumerate().map(move |(s, series)| query(i, s, f, *series)))
            .collect();
        self.calls.add(CLOUDWATCH_METRICS_REQUESTED, queries.len() as u64);
        let mut points: HashMap<usize, BTreeMap<Minute, MinutePoints>> = HashMap::new();
        let mut token = None;
        loop {
            let page = self
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(DateTime::from_millis(from.epoch_ms()))
                .end_time(DateTime::from_millis(to.epoch_ms()))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.take())
                .send()
                .await
                .classify(OP)?;
            for r in page.metric_data_results() {
                let Some((i, s)) = r.id().and_then(parse_id) else { continue };
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    let ms = t.to_millis().map_err(|e| port_error(ErrorKind::Fatal, OP, e.to_string()))?;
                    let minute = Minute::from_epoch_ms(ms);
                    if (from..to).contains(&minute) {
                        points.entry(i).or_default().entry(minute).or_default()[s] = Some(*v);
                    }
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(points),
            }
        }
    }
}

/// Query ids must match `^[a-z][a-zA-Z0-9_]*$`: `f<function>_<series>`.
fn query(i: usize, s: usize, f: &FunctionRef, (metric, stat): (&str, &str)) -> MetricDataQuery {
    let mut m = Metric::builder()
        .namespace(NAMESPACE)
        .metric_name(metric)
        .dimensions(Dimension::builder().name("FunctionName").value(f.name()).build());
    if f.qualifier().is_some() {
        m = m.dimensions(Dimension::builder().name("Resource").value(f.resource_id()).build());
    }
    MetricDataQuery::builder()
        .id(format!("f{i}_{s}"))
        .metric_stat(MetricStat::builder().metric(m.build()).period(PERIOD_S).stat(stat).build())
        .return_data(true)
        .build()
}

fn parse_id(id: &str) -> Option<(usize, usize)> {
    let (i, s) = id.strip_prefix('f')?.split_once('_')?;
    Some((i.parse().ok()?, s.parse().ok()?))
}

fn count(v: Option<f64>) -> u64 {
    v.filter(|x| x.is_finite() && *x > 0.0).map_or(0, |x| x.round() as u64)
}

/// Maps one function's points into minute stats (see the module docs for each field).
pub fn minute_stats(
    function: &FunctionRef,
    memory: MemoryMb,
    points: &BTreeMap<Minute, MinutePoints>,
) -> Vec<MinuteStats> {
    let mut out = Vec::new();
    for (&minute, p) in points {
        let n = count(p[INV]);
        let mut c = Counters { invocations: n, errors: count(p[ERR]), throttles: count(p[THR]), ..Counters::default() };
        if let (true, Some(avg)) = (n > 0, p[AVG].filter(|a| a.is_finite() && *a >= 0.0)) {
            let sum = avg * n as f64;
            match p[MAX].filter(|m| n > 1 && m.is_finite() && *m >= avg && *m <= sum) {
                Some(max) => {
                    let rest = (sum - max) / (n - 1) as f64;
                    c.duration.record_n(rest, n - 1);
                    c.duration.record(max);
                    c.billed_ms = (n - 1) * rest.ceil() as u64 + max.ceil() as u64;
                }
                None => {
                    c.duration.record_n(avg, n);
                    c.billed_ms = n * avg.ceil() as u64;
                }
            }
            c.busy_ms = sum.round() as u64;
        }
        c.environments = match count(p[CONC]) {
            0 if c.busy_ms > 0 => c.busy_ms.div_ceil(60_000),
            k => k,
        };
        if c == Counters::default() {
            continue;
        }
        out.push(MinuteStats { function: function.clone(), minute, memory, counters: c });
    }
    out
}

impl MetricsSource for CloudWatchMetrics {
    async fn read_minutes(&self, function: &FunctionRef, from: Minute, to: Minute) -> PortResult<Vec<MinuteStats>> {
        let mut all = self.read_fleet(std::slice::from_ref(function), from, to).await?;
        Ok(all.remove(function).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconstruction_keeps_count_sum_and_max() {
        let f = FunctionRef::parse("orders").unwrap();
        let mem = MemoryMb::new(512).unwrap();
        let mut points = BTreeMap::new();
        points.insert(Minute(5), [Some(10.0), Some(120.0), Some(480.0), Some(3.0), Some(1.0), Some(2.0)]);
        points.insert(Minute(6), [Some(1.0), Some(99.2), None, None, None, None]);
        points.insert(Minute(7), [Some(0.0), None, None, None, None, None]);
        let stats = minute_stats(&f, mem, &points);
        assert_eq!(stats.len(), 2, "a minute with nothing in it is left out");
        let c = &stats[0].counters;
        assert_eq!((c.invocations, c.errors, c.throttles, c.environments), (10, 1, 2, 3));
        assert_eq!(c.duration.count(), 10);
        assert!((c.duration.sum() - 1_200.0).abs() < 1e-9);
        let max = c.duration.max_bound().unwrap();
        assert!((480.0..=480.0 * 1.05).contains(&max), "{max}");
        assert_eq!(c.busy_ms, 1_200);
        assert_eq!(c.billed_ms, 9 * 80 + 480);
        let c = &stats[1].counters;
        assert_eq!((c.invocations, c.billed_ms, c.busy_ms, c.environments), (1, 100, 99, 1));
    }

    #[test]
    fn query_ids_round_trip() {
        let f = FunctionRef::parse("orders:live").unwrap();
        let q = query(12, 3, &f, SERIES[3]);
        assert_eq!(q.id(), Some("f12_3"));
        assert_eq!(parse_id("f12_3"), Some((12, 3)));
        let dims = q.metric_stat().unwrap().metric().unwrap().dimensions();
        assert_eq!(dims.len(), 2);
        assert_eq!(dims[1].value(), Some("orders:live"));
    }
}
