//! The extension benchmark: `bash extension/bench.sh` (which builds the release layer first).
//!
//! Spawns the layer's binary against the fake Runtime/Extensions/Telemetry API of the test
//! suite and a fake DynamoDB on 127.0.0.1, replays the telemetry of 100,000 invocations in
//! Telemetry-API-sized batches, and prints, last line:
//! `extension: zip_bytes=N rss_kb=N init_ms=X cpu_ms_per_1k=Y critical_path_us=Z`
//! - init_ms: process spawn → Telemetry API subscription received (registered and subscribed),
//!   median of 7 fresh processes;
//! - cpu_ms_per_1k: the extension's user+system CPU (from /proc, 10 ms ticks) over the replay,
//!   flushes to DynamoDB included, per 1,000 invocations;
//! - rss_kb: peak resident set (VmHWM) at the end of the replay;
//! - critical_path_us: 0 when the extension does not register for INVOKE (Lambda then never
//!   waits for it between invocations); measured otherwise — not implemented, as it never does.

// A benchmark prints its figures on stdout by design.
#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

const INVOCATIONS: usize = 100_000;
const BATCH_RECORDS: usize = 999; // three records per invocation; Lambda's maxItems is 1,000
const PER_MINUTE: usize = 1_000;

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of the whole process, in ms (the kernel counts 100 ticks per second).
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after_name` starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 10
}

/// A DynamoDB stand-in that answers every call 200 `{}` (the bench measures the extension).
fn fake_dynamo() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicU64::new(0));
    let calls_in = Arc::clone(&calls);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let calls = Arc::clone(&calls_in);
            std::thread::spawn(move || {
                while read_request(&mut stream).is_some() {
                    calls.fetch_add(1, Ordering::Relaxed);
                    let _ = std::io::Write::write_all(
                        &mut stream,
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}",
                    );
                }
            });
        }
    });
    (endpoint, calls)
}

fn iso(ms: i64) -> String {
    // Lambda writes RFC 3339 with milliseconds; build it from the core's calendar.
    let days = ms.div_euclid(86_400_000);
    let (y, mo, d) = autopilot_core::calendar::civil_from_days(days);
    let rem = ms.rem_euclid(86_400_000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1_000 % 60,
        rem % 1_000
    )
}

/// The three platform records Lambda sends per invocation, in the documented shapes.
fn invocation(i: usize, t0: i64) -> [Value; 3] {
    let end = t0 + (i / PER_MINUTE) as i64 * 60_000 + (i % PER_MINUTE) as i64 * 59;
    let duration = 20.0 + (i % 97) as f64 * 3.17;
    let id = format!("{:08x}-1f2e-4d3c-8b7a-{:012x}", i, i * 7919);
    let trace = json!({"type": "X-Amzn-Trace-Id", "value": format!("Root=1-{:08x}-5ac6c58f5b5dbd6a7b4ca3e0;Parent=3f1b5b5e2c0a9d11;Sampled=1", i)});
    let mut metrics = json!({"durationMs": duration, "billedDurationMs": duration.ceil() as u64, "memorySizeMB": 512, "maxMemoryUsedMB": 70 + i % 13});
    if i == 0 {
        metrics["initDurationMs"] = json!(180.42);
    }
    [
        json!({"time": iso(end - duration as i64 - 1), "type": "platform.start", "record": {"requestId": id, "version": "$LATEST", "tracing": trace}}),
        json!({"time": iso(end - 1), "type": "platform.runtimeDone", "record": {"requestId": id, "status": "success", "tracing": trace,
            "spans": [{"name": "responseLatency", "start": iso(end - 2), "durationMs": 1.2}, {"name": "responseDuration", "start": iso(end - 1), "durationMs": 0.1}],
            "metrics": {"durationMs": duration - 0.4, "producedBytes": 53}}}),
        json!({"time": iso(end), "type": "platform.report", "record": {"requestId": id, "status": "success", "metrics": metrics, "tracing": trace,
            "spans": [{"name": "extensionOverhead", "start": iso(end - 1), "durationMs": 0.05}]}}),
    ]
}

/// Spawn → registered and subscribed, median of `runs` fresh processes (each then shut down).
fn init_ms_median(bin: &str, dynamo: &str, runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let fake = FakeLambda::start();
            let spawned = Instant::now();
            let mut child = extension_command(bin, &fake.addr, dynamo).spawn().expect("the layer binary starts");
            fake.wait_subscribed();
            let ms = spawned.elapsed().as_secs_f64() * 1_000.0;
            fake.shutdown(now_ms() + 2_000);
            assert!(child.wait().unwrap().success());
            ms
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn extension_command(bin: &str, runtime_api: &str, dynamo: &str) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ENDPOINT_URL", dynamo)
        .env("AUTOPILOT_STATS_TABLE", "bench-stats")
        .env("AUTOPILOT_FLUSH_INTERVAL_SECONDS", "1")
        .stderr(Stdio::inherit());
    c
}

fn main() {
    let bin = std::env::var("AUTOPILOT_EXTENSION_BIN")
        .expect("AUTOPILOT_EXTENSION_BIN: the layer's binary (bench.sh sets it)");
    let zip_bytes: u64 =
        std::env::var("AUTOPILOT_EXTENSION_ZIP").ok().and_then(|z| std::fs::metadata(z).ok()).map_or(0, |m| m.len());
    let (dynamo, calls) = fake_dynamo();
    let fake = FakeLambda::start();

    // Build the batches first, so the replay measures the extension, not the generator.
    let t0 = (now_ms() / 60_000 - 120) * 60_000;
    let mut batches: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    for i in 0..INVOCATIONS {
        current.extend(invocation(i, t0));
        if current.len() >= BATCH_RECORDS {
            batches.push(serde_json::to_vec(&current).unwrap());
            current.clear();
        }
    }
    if !current.is_empty() {
        batches.push(serde_json::to_vec(&current).unwrap());
    }
    let bytes: usize = batches.iter().map(Vec::len).sum();

    let init_ms = init_ms_median(&bin, &dynamo, 7);
    let spawned = Instant::now();
    let mut child = extension_command(&bin, &fake.addr, &dynamo).spawn().expect("the layer binary starts");
    let destination = fake.wait_subscribed();
    let pid = child.id();
    let registered_for_invoke = fake.seen.lock().unwrap().events.iter().any(|e| e == "INVOKE");
    let register_ms = fake.seen.lock().unwrap().registered_at.map_or(0.0, |t| (t - spawned).as_secs_f64() * 1_000.0);

    let cpu_before = cpu_ms(pid);
    let replay = Instant::now();
    let url = autopilot_extension::http::Url::parse(&destination).unwrap();
    let mut conn = autopilot_extension::http::connect(&url, Duration::from_secs(5), None).unwrap();
    for body in &batches {
        autopilot_extension::http::write_request(
            &mut conn,
            "POST",
            &url.host_header(),
            "/",
            &[("Content-Type", "application/json")],
            body,
        )
        .unwrap();
        let resp = autopilot_extension::http::read_response(&mut conn).unwrap().unwrap();
        assert_eq!(resp.status, 200);
    }
    // Let the last batch be aggregated and one more flush run.
    std::thread::sleep(Duration::from_millis(1_500));
    let replay_s = replay.elapsed().as_secs_f64();
    let cpu = cpu_ms(pid) - cpu_before;
    let rss_kb = proc_field(pid, "status", "VmHWM:").unwrap_or(0);

    fake.shutdown(now_ms() + 2_000);
    let status = child.wait().unwrap();
    assert!(status.success());
    let cpu_per_1k = cpu as f64 / (INVOCATIONS as f64 / 1_000.0);
    let critical_path_us = if registered_for_invoke { u64::MAX } else { 0 };
    println!(
        "invocations={INVOCATIONS} batches={} telemetry_bytes={bytes} replay_s={replay_s:.2} (includes a 1.5 s wait) dynamo_calls={} cpu_ms_total={cpu} (10 ms resolution) register_ms={register_ms:.2}",
        batches.len(),
        calls.load(Ordering::Relaxed)
    );
    println!(
        "extension: zip_bytes={zip_bytes} rss_kb={rss_kb} init_ms={init_ms:.2} cpu_ms_per_1k={cpu_per_1k:.2} critical_path_us={critical_path_us}"
    );
}
