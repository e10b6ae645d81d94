//! The extension's lifecycle against a fake Runtime/Extensions/Telemetry API on 127.0.0.1,
//! writing to DynamoDB on the local emulator: the real binary, spawned as Lambda would.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autopilot_core::domain::Minute;
use autopilot_core::stats_item;
use serde_json::{Value, json};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_autopilot-extension");

fn spawn_extension(fake: &FakeLambda, dynamo_endpoint: &str, table: &str, function: &str) -> Child {
    Command::new(BIN)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &fake.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "7")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "session")
        .env("AWS_ENDPOINT_URL", dynamo_endpoint)
        .env("AUTOPILOT_STATS_TABLE", table)
        .env("AUTOPILOT_FLUSH_INTERVAL_SECONDS", "1")
        .env("AUTOPILOT_LOG_LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the extension binary starts")
}

/// Waits for the process to exit on its own (it must, after SHUTDOWN); kills it otherwise.
fn wait_exit(mut child: Child, limit: Duration) -> (std::process::ExitStatus, String) {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status, err);
        }
        if Instant::now() > until {
            child.kill().unwrap();
            panic!("the extension did not exit after SHUTDOWN");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ts(ms: i64) -> String {
    ms.to_string()
}

fn report(time: i64, id: &str, status: &str, metrics: &Value) -> Value {
    json!({"time": ts(time), "type": "platform.report", "record": {"requestId": id, "status": status, "metrics": metrics,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-5e1b4151-5ac6c58f5b5dbd6a7b4ca3e0"},
        "spans": [{"name": "responseLatency", "start": "2022-10-12T00:00:15.064Z", "durationMs": 1.5}]}})
}

fn start(time: i64, id: &str) -> Value {
    json!({"time": ts(time), "type": "platform.start", "record": {"requestId": id, "version": "7"}})
}

fn metrics(duration: f64, billed: u64, used: u32) -> Value {
    json!({"durationMs": duration, "billedDurationMs": billed, "memorySizeMB": 512, "maxMemoryUsedMB": used})
}

/// Environment A: an on-demand cold start, errors, a timeout, an out-of-memory, plus an
/// unknown record type and malformed records in the same batches.
fn environment_a(t0: i64) -> Vec<Vec<Value>> {
    let mut cold = metrics(100.25, 301, 80);
    cold["initDurationMs"] = json!(200.4);
    vec![
        vec![
            json!({"time": ts(t0 + 9_000), "type": "platform.initStart", "record": {"initializationType": "on-demand", "phase": "init", "functionName": "orders", "functionVersion": "7"}}),
            json!({"time": ts(t0 + 9_100), "type": "platform.telemetrySubscription", "record": {"name": "autopilot-extension", "state": "Subscribed", "types": ["platform"]}}),
            json!({"time": ts(t0 + 10_000), "type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "status": "success", "metrics": {"durationMs": 200.4}}}),
            start(t0 + 19_600, "a1"),
            json!({"time": ts(t0 + 19_700), "type": "platform.somethingAwsAddsNext", "record": {"whatever": [1, {"x": "]"}]}}),
            json!({"time": ts(t0 + 19_800), "type": "platform.report", "record": {"requestId": "zz", "metrics": "not an object"}}),
            json!(["not", "a", "record"]),
            report(t0 + 20_000, "a1", "success", &cold),
            start(t0 + 29_950, "a2"),
            json!({"time": ts(t0 + 30_000), "type": "platform.runtimeDone", "record": {"requestId": "a2", "status": "error", "errorType": "Runtime.ExitError", "metrics": {"durationMs": 50.0}}}),
            report(t0 + 30_000, "a2", "error", &metrics(50.0, 50, 81)),
        ],
        vec![
            start(t0 + 67_000, "a3"),
            report(t0 + 70_000, "a3", "timeout", &metrics(3_000.0, 3_000, 90)),
            start(t0 + 79_979, "a4"),
            report(t0 + 80_000, "a4", "error", &metrics(20.5, 21, 512)),
        ],
    ]
}

/// Environment B: a SnapStart restore (its snapshot INIT ignored), in minute 1 only.
fn environment_b(t0: i64) -> Vec<Vec<Value>> {
    let mut restored = metrics(100.0, 100, 70);
    restored["restoreDurationMs"] = json!(15.19);
    restored["billedRestoreDurationMs"] = json!(75);
    vec![vec![
        json!({"time": ts(t0 - 3_600_000), "type": "platform.initReport", "record": {"initializationType": "snap-start", "phase": "init", "status": "success", "metrics": {"durationMs": 3_000.0}}}),
        json!({"time": ts(t0 + 60_500), "type": "platform.restoreStart", "record": {"functionName": "orders", "functionVersion": "7"}}),
        json!({"time": ts(t0 + 61_000), "type": "platform.restoreReport", "record": {"status": "success", "metrics": {"durationMs": 15.19}}}),
        start(t0 + 61_880, "b1"),
        report(t0 + 62_000, "b1", "success", &restored),
        start(t0 + 62_990, "b2"),
        report(t0 + 63_000, "b2", "success", &metrics(10.0, 10, 71)),
    ]]
}

/// Runs one environment through its whole life; returns its stderr.
fn run_environment(dynamo: &str, table: &str, function: &str, batches: &[Vec<Value>]) -> String {
    let fake = FakeLambda::start();
    let child = spawn_extension(&fake, dynamo, table, function);
    let destination = fake.wait_subscribed();
    {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.name.as_deref(), Some("autopilot-extension"), "registers under its file name");
        assert_eq!(seen.events, ["SHUTDOWN"], "never on the invoke path");
        assert_eq!(seen.subscription.as_ref().unwrap()["types"], json!(["platform"]));
    }
    assert!(destination.starts_with("http://127.0.0.1:"), "{destination}");
    for batch in batches {
        assert_eq!(post_batch(&destination, batch), 200, "every batch is answered 200");
    }
    fake.shutdown(now_ms() + 2_000);
    let (status, stderr) = wait_exit(child, Duration::from_secs(30));
    assert!(status.success(), "exit {status}: {stderr}");
    stderr
}

#[test]
fn lifecycle_writes_exact_per_minute_totals_to_dynamodb() {
    let endpoint = autopilot_testkit::emulator_endpoint();
    let table = autopilot_testkit::unique_name("ext-stats");
    create_stats_table(&endpoint, &table);
    let t0 = (now_ms() / 60_000 - 3) * 60_000;
    let function = "orders";

    let a_log = run_environment(&endpoint, &table, function, &environment_a(t0));
    let summary: Value =
        serde_json::from_str(a_log.lines().find(|l| l.contains("\"shutdown\"")).expect(&a_log)).unwrap();
    assert_eq!(summary["items_not_written"], 0, "{a_log}");
    assert_eq!(summary["unknown_records"], 1, "{a_log}");
    assert_eq!(summary["malformed_records"], 2, "{a_log}");
    let b_log = run_environment(&endpoint, &table, function, &environment_b(t0));
    assert!(!b_log.contains("WARN"), "{b_log}");

    let items = read_items(&endpoint, &table, "orders:7");
    let m0 = Minute::from_epoch_ms(t0);
    let key = |m: Minute| stats_item::sort_key(m, autopilot_core::MemoryMb::new(512).unwrap());
    assert_eq!(items.keys().cloned().collect::<Vec<_>>(), [key(m0), key(m0.plus(1))]);

    let c0 = &items[&key(m0)].counters;
    assert_eq!(
        (c0.invocations, c0.cold_starts, c0.restores, c0.errors, c0.timeouts, c0.out_of_memory),
        (2, 1, 0, 1, 0, 0)
    );
    // 301 ms billed for 100.25 ms + a 200.4 ms INIT: 101 ms duration, 200 ms INIT.
    assert_eq!((c0.billed_ms, c0.billed_init_ms, c0.busy_ms, c0.environments), (151, 200, 301 + 50, 1));
    assert_eq!((c0.duration.count(), c0.init.count(), c0.memory_used.count()), (2, 1, 2));
    assert!((c0.duration.sum() - 150.25).abs() < 1e-6 && (c0.init.sum() - 200.4).abs() < 1e-6);

    let c1 = &items[&key(m0.plus(1))].counters;
    assert_eq!(
        (c1.invocations, c1.cold_starts, c1.restores, c1.errors, c1.timeouts, c1.out_of_memory),
        (4, 0, 1, 0, 1, 1),
        "both environments' items merged by ADD"
    );
    assert_eq!((c1.billed_ms, c1.billed_init_ms, c1.environments), (3_000 + 21 + 100 + 10, 75, 2));
    assert_eq!(c1.busy_ms, 3_000 + 21 + 115 + 10);
    assert_eq!((c1.init.count(), c1.duration.count()), (1, 4));
    // Nearest rank on q·(n−1): of 10, 20.5, 100 and 3,000 ms, p50 is 20.5 and the max 3,000,
    // each within the histogram's 2%.
    let (p50, max) = (c1.duration.quantile(0.5).unwrap(), c1.duration.quantile(1.0).unwrap());
    assert!((p50 - 20.5).abs() <= 0.02 * 20.5 && (max - 3_000.0).abs() <= 0.02 * 3_000.0, "{p50} {max}");
}

#[test]
fn throttling_and_errors_do_not_block_telemetry_and_counts_arrive_after_recovery() {
    let emulator = autopilot_testkit::emulator_endpoint();
    let table = autopilot_testkit::unique_name("ext-throttle");
    create_stats_table(&emulator, &table);
    let flaky = FlakyDynamo::start(&emulator, 3);
    let fake = FakeLambda::start();
    let child = spawn_extension(&fake, &flaky.endpoint, &table, "payments");
    let destination = fake.wait_subscribed();
    let t0 = (now_ms() / 60_000 - 2) * 60_000;
    let mut sent = 0;
    // Keep delivering telemetry while DynamoDB fails: every batch is still answered 200.
    let until = Instant::now() + Duration::from_secs(20);
    while flaky.failed.load(std::sync::atomic::Ordering::SeqCst) < 3 && Instant::now() < until {
        let id = format!("r{sent}");
        let batch =
            [start(t0 + 10_000 + sent, &id), report(t0 + 10_010 + sent, &id, "success", &metrics(10.0, 10, 60))];
        assert_eq!(post_batch(&destination, &batch), 200);
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(flaky.failed.load(std::sync::atomic::Ordering::SeqCst), 3, "DynamoDB failed three calls");
    fake.shutdown(now_ms() + 2_000);
    let (status, stderr) = wait_exit(child, Duration::from_secs(30));
    assert!(status.success(), "{stderr}");
    assert!(flaky.forwarded.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let items = read_items(&emulator, &table, "payments:7");
    let total: u64 = items.values().map(|i| i.counters.invocations).sum();
    assert_eq!(total, sent as u64, "every invocation arrived after recovery: {stderr}");
    assert!(!stderr.contains("could not be written"), "{stderr}");
}

#[test]
fn a_missing_table_disables_writing_but_the_extension_still_serves() {
    let fake = FakeLambda::start();
    let child = Command::new(BIN)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &fake.addr)
        .env("AUTOPILOT_FLUSH_INTERVAL_SECONDS", "often")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let destination = fake.wait_subscribed();
    assert_eq!(post_batch(&destination, &[report(now_ms(), "x", "success", &metrics(1.0, 1, 10))]), 200);
    fake.shutdown(now_ms() + 2_000);
    let (status, stderr) = wait_exit(child, Duration::from_secs(30));
    assert!(status.success(), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("\"ERROR\"")).collect();
    assert_eq!(errors.len(), 1, "one clear error for the invalid value: {stderr}");
    assert!(errors[0].contains("AUTOPILOT_FLUSH_INTERVAL_SECONDS"), "{stderr}");
}
