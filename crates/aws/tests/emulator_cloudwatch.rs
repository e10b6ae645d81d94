//! CloudWatch metrics (over the emulator's CBOR bridge) and CloudWatch Logs REPORT lines,
//! read back as minute stats.

mod common;

use autopilot_aws::calls::CLOUDWATCH_METRICS_REQUESTED;
use autopilot_aws::{CloudWatchMetrics, LambdaControl, LogReports};
use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
use autopilot_core::ports::{FunctionControl, MetricsSource};
use autopilot_testkit::unique_name;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_smithy_types::DateTime;

fn datum(f: &FunctionRef, name: &str, minute: Minute, values: &[f64], unit: StandardUnit) -> MetricDatum {
    let mut d = MetricDatum::builder()
        .metric_name(name)
        .dimensions(Dimension::builder().name("FunctionName").value(f.name()).build())
        .timestamp(DateTime::from_millis(minute.epoch_ms() + 5_000))
        .unit(unit);
    for v in values {
        d = d.values(*v);
    }
    d.build()
}

/// Puts what Lambda would publish for `n` invocations of the given durations in a minute.
async fn publish_minute(c: &autopilot_aws::Clients, f: &FunctionRef, minute: Minute, durations: &[f64], errors: f64) {
    let n = durations.len() as f64;
    c.cloudwatch
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(datum(f, "Invocations", minute, &[n], StandardUnit::Count))
        .metric_data(datum(f, "Duration", minute, durations, StandardUnit::Milliseconds))
        .metric_data(datum(f, "ConcurrentExecutions", minute, &[2.0], StandardUnit::Count))
        .metric_data(datum(f, "Errors", minute, &[errors], StandardUnit::Count))
        .metric_data(datum(f, "Throttles", minute, &[0.0], StandardUnit::Count))
        .send()
        .await
        .expect("PutMetricData");
}

#[tokio::test]
async fn metrics_of_many_functions_come_in_one_batched_request() {
    let c = common::clients().await;
    let a = FunctionRef::new(&unique_name("cwa"), None).unwrap();
    let b = FunctionRef::new(&unique_name("cwb"), None).unwrap();
    let m0 = common::this_minute().plus(-30);
    publish_minute(&c, &a, m0, &[100.0, 200.0, 600.0], 1.0).await;
    publish_minute(&c, &a, m0.plus(2), &[50.0], 0.0).await;
    publish_minute(&c, &b, m0.plus(1), &[10.0, 10.0], 0.0).await;
    publish_minute(&c, &a, m0.plus(20), &[1.0], 0.0).await; // outside the window

    let metrics = CloudWatchMetrics::new(&c);
    metrics.remember_memory(&a, MemoryMb::new(512).unwrap());
    metrics.remember_memory(&b, MemoryMb::new(256).unwrap());
    let before = c.calls.snapshot();
    let fleet = metrics.read_fleet(&[a.clone(), b.clone()], m0, m0.plus(10)).await.unwrap();
    let calls = c.calls.since(&before);
    assert_eq!(calls.get("CloudWatch.GetMetricData"), Some(&1), "{calls:?}");
    assert_eq!(calls.get(CLOUDWATCH_METRICS_REQUESTED), Some(&12), "6 billed metrics per function");

    let sa = &fleet[&a];
    assert_eq!(sa.iter().map(|s| s.minute).collect::<Vec<_>>(), [m0, m0.plus(2)]);
    let c0 = &sa[0].counters;
    assert_eq!((c0.invocations, c0.errors, c0.environments), (3, 1, 2));
    assert!((c0.duration.sum() - 900.0).abs() < 1e-6, "sum = average × count");
    assert!(c0.duration.max_bound().unwrap() >= 600.0);
    assert_eq!(sa[0].memory.get(), 512);
    let sb = &fleet[&b];
    assert_eq!((sb.len(), sb[0].counters.invocations, sb[0].memory.get()), (1, 2, 256));
}

#[tokio::test]
async fn metrics_without_a_known_memory_size_read_it_from_lambda() {
    let c = common::clients().await;
    let f = common::create_function(&c, "cwmem", 768, &[], None).await;
    let m0 = common::this_minute().plus(-10);
    publish_minute(&c, &f, m0, &[40.0], 0.0).await;
    let metrics = CloudWatchMetrics::new(&c);
    let before = c.calls.snapshot();
    let stats = metrics.read_minutes(&f, m0, m0.plus(1)).await.unwrap();
    assert_eq!(c.calls.since(&before).get("Lambda.GetFunctionConfiguration"), Some(&1));
    assert_eq!((stats.len(), stats[0].memory.get()), (1, 768));
    metrics.read_minutes(&f, m0, m0.plus(1)).await.unwrap();
    assert_eq!(c.calls.since(&before).get("Lambda.GetFunctionConfiguration"), Some(&1), "memory is remembered");
    let silent = metrics.read_minutes(&f, m0.plus(-100), m0.plus(-50)).await.unwrap();
    assert!(silent.is_empty());
}

#[tokio::test]
async fn report_lines_are_read_from_the_log_group() {
    let c = common::clients().await;
    let f = FunctionRef::new(&unique_name("logs"), None).unwrap();
    let group = LogReports::log_group(&f);
    c.logs.create_log_group().log_group_name(&group).send().await.unwrap();
    let m0 = common::this_minute().plus(-20);
    for stream in ["2026/11/27/[$LATEST]aaaa", "2026/11/27/[$LATEST]bbbb"] {
        c.logs.create_log_stream().log_group_name(&group).log_stream_name(stream).send().await.unwrap();
    }
    let event = |minute: Minute, s: i64, msg: String| {
        InputLogEvent::builder().timestamp(minute.epoch_ms() + s * 1000).message(msg).build().unwrap()
    };
    let report = |id: &str, ms: f64, init: Option<f64>| {
        let init = init.map(|i| format!("\tInit Duration: {i:.2} ms")).unwrap_or_default();
        format!(
            "REPORT RequestId: {id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: 256 MB\tMax Memory Used: 60 MB{init}",
            ms.ceil() as u64
        )
    };
    c.logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name("2026/11/27/[$LATEST]aaaa")
        .log_events(event(m0, 1, "START RequestId: r1 Version: $LATEST".into()))
        .log_events(event(m0, 2, report("r1", 120.5, Some(180.0))))
        .log_events(event(m0, 3, report("r2", 80.0, None)))
        .log_events(event(m0.plus(1), 4, report("r3", 70.0, None)))
        .send()
        .await
        .unwrap();
    c.logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name("2026/11/27/[$LATEST]bbbb")
        .log_events(event(m0, 30, report("r4", 90.0, Some(150.0))))
        .log_events(event(m0.plus(9), 0, report("r5", 90.0, None)))
        .send()
        .await
        .unwrap();

    let logs = LogReports::new(c.logs.clone());
    let (stats, tally) = logs.read_group(&group, &f, m0, m0.plus(5)).await.unwrap();
    assert_eq!(tally.reports, 4, "{tally:?}");
    assert_eq!(stats.len(), 2);
    let first = &stats[0].counters;
    assert_eq!((first.invocations, first.cold_starts, first.environments), (3, 2, 2));
    assert_eq!(first.init.count(), 2);
    assert_eq!(stats[0].memory.get(), 256);
    assert_eq!(stats[1].counters.invocations, 1);

    let absent = FunctionRef::new(&unique_name("nologs"), None).unwrap();
    assert!(logs.read_minutes(&absent, m0, m0.plus(5)).await.unwrap().is_empty(), "no log group: no invocations");
}

#[tokio::test]
async fn invocations_on_the_emulator_are_read_back_from_their_report_lines() {
    let c = common::clients().await;
    let f = common::create_function(&c, "logwarm", 128, &[], Some(&common::warm_bootstrap())).await;
    let start = common::this_minute();
    let warm = LambdaControl::new(&c).warm(&f, 2, 200).await.unwrap();
    assert_eq!(warm.failed, 0);
    let stats = LogReports::new(c.logs.clone()).read_minutes(&f, start, common::this_minute().plus(1)).await.unwrap();
    let total: u64 = stats.iter().map(|s| s.counters.invocations).sum();
    let cold: u64 = stats.iter().map(|s| s.counters.cold_starts).sum();
    assert_eq!((total, cold), (2, u64::from(warm.landed_cold)));
    assert!(stats.iter().all(|s| s.memory.get() == 128));
}
