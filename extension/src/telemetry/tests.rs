use std::borrow::Cow;

use autopilot_core::calendar::parse_timestamp_ms;
use autopilot_core::report::Outcome;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

/// The reference reading: serde over the core's [`PlatformReportRecord`] and plain structs,
/// every field visited. The reader must agree with it wherever a record is valid JSON.
fn reference(json: &[u8]) -> Result<Record, Malformed> {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow, default)]
        time: Option<Cow<'a, str>>,
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        #[serde(default)]
        record: Option<Value>,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Other {
        request_id: Option<String>,
        status: Option<String>,
        error_type: Option<String>,
        initialization_type: Option<String>,
        phase: Option<String>,
        metrics: Option<DurationMetric>,
    }
    #[derive(Deserialize, Default)]
    struct DurationMetric {
        #[serde(rename = "durationMs")]
        duration_ms: Option<f64>,
    }
    let head: Head<'_> = serde_json::from_slice(json).map_err(|_| Malformed)?;
    let time_ms = head.time.as_deref().and_then(|t| parse_timestamp_ms(t).ok());
    let other = |v: Option<Value>| -> Result<Other, Malformed> {
        serde_json::from_value(v.ok_or(Malformed)?).map_err(|_| Malformed)
    };
    let valid = |m: Option<DurationMetric>| m.and_then(|m| m.duration_ms).filter(|d| *d >= 0.0);
    Ok(match head.kind.as_ref() {
        "platform.report" => {
            let mut r: PlatformReportRecord =
                serde_json::from_value(head.record.ok_or(Malformed)?).map_err(|_| Malformed)?;
            let has_status = r.status.is_some();
            if has_status {
                r.request_id = None;
            }
            let report = Report::from(r);
            if !report.duration_ms.is_finite() || report.duration_ms < 0.0 {
                return Err(Malformed);
            }
            return Ok(Record::Report { time_ms, report, has_status });
        }
        "platform.start" => Record::Start,
        "platform.runtimeDone" => {
            let r = other(head.record)?;
            match r.status.as_deref() {
                Some(s) if s.eq_ignore_ascii_case("success") => Record::RuntimeDoneSuccess,
                _ => Record::RuntimeDone { request_id: r.request_id, status: r.status, error_type: r.error_type },
            }
        }
        "platform.initReport" => {
            let r = other(head.record)?;
            let snap = |v: &Option<String>| v.as_deref() == Some("snap-start");
            let init = if snap(&r.initialization_type) || snap(&r.phase) {
                InitKind::SnapStart
            } else if r.initialization_type.as_deref() == Some("provisioned-concurrency") {
                InitKind::Provisioned
            } else {
                InitKind::OnDemand
            };
            Record::InitReport { time_ms, init, duration_ms: valid(r.metrics) }
        }
        "platform.restoreReport" => {
            let r = match head.record {
                None | Some(Value::Null) => Other::default(),
                v => other(v)?,
            };
            Record::RestoreReport { time_ms, duration_ms: valid(r.metrics) }
        }
        k if IGNORED_TYPES.contains(&k) => Record::Ignored,
        _ => Record::Unknown,
    })
}

#[test]
fn reads_the_documented_records() {
    // Shapes from the AWS Telemetry API schema reference (2022-12-13).
    let report = br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"metrics":{"billedDurationMs":694,"durationMs":693.92,"initDurationMs":397.68,"maxMemoryUsedMB":84,"memorySizeMB":128},"requestId":"6d68ca91","status":"timeout","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"},"spans":[]}}"#;
    let Ok(Record::Report { time_ms, report, has_status: true }) = parse_record(report) else { panic!() };
    assert_eq!(time_ms, Some(1_665_532_875_000));
    assert_eq!((report.billed_ms, report.init_ms, report.outcome), (694, Some(397.68), Outcome::Timeout));
    let init = br#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.initReport","record":{"initializationType":"on-demand","status":"success","phase":"init","metrics":{"durationMs":125.33},"spans":[]}}"#;
    assert_eq!(
        parse_record(init),
        Ok(Record::InitReport {
            time_ms: Some(1_665_532_875_000),
            init: InitKind::OnDemand,
            duration_ms: Some(125.33)
        })
    );
    let pc = br#"{"type":"platform.initReport","record":{"initializationType":"provisioned-concurrency","phase":"init","metrics":{"durationMs":1}}}"#;
    assert!(matches!(parse_record(pc), Ok(Record::InitReport { init: InitKind::Provisioned, .. })));
    let snap = br#"{"type":"platform.initReport","record":{"initializationType":"snap-start","phase":"init","metrics":{"durationMs":1}}}"#;
    assert!(matches!(parse_record(snap), Ok(Record::InitReport { init: InitKind::SnapStart, .. })));
    let restore = br#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.restoreReport","record":{"status":"success","metrics":{"durationMs":15.19}}}"#;
    assert!(matches!(parse_record(restore), Ok(Record::RestoreReport { duration_ms: Some(d), .. }) if d == 15.19));
    let done = br#"{"type":"platform.runtimeDone","record":{"requestId":"r1","status":"error","errorType":"Runtime.ExitError","metrics":{"durationMs":140.0,"producedBytes":16}}}"#;
    assert!(matches!(parse_record(done), Ok(Record::RuntimeDone { status: Some(ref s), .. }) if s == "error"));
    assert_eq!(parse_record(br#"{"type":"platform.restoreStart","record":{}}"#), Ok(Record::Ignored));
    assert_eq!(parse_record(br#"{"type":"platform.somethingNew","record":{"x":1}}"#), Ok(Record::Unknown));
}

#[test]
fn a_report_with_only_a_duration_is_read() {
    // Lambda Managed Instances: no billed duration and no memory figures.
    let r = br#"{"time":"2025-12-01T10:00:00.250Z","type":"platform.report","record":{"requestId":"m1","metrics":{"durationMs":12.5},"status":"success"}}"#;
    let Ok(Record::Report { report, .. }) = parse_record(r) else { panic!("{:?}", parse_record(r)) };
    assert_eq!(
        (report.duration_ms, report.billed_ms, report.memory_size_mb, report.max_memory_used_mb),
        (12.5, 0, 0, 0)
    );
    assert_eq!(report.outcome, Outcome::Success);
    assert_eq!(parse_record(r), reference(r));
}

/// Records in Lambda's shapes, for the agreement checks below.
const VARIANTS: &[&str] = &[
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"requestId":"6d68","metrics":{"durationMs":693.92,"billedDurationMs":694,"memorySizeMB":128,"maxMemoryUsedMB":84,"initDurationMs":397.68},"tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"},"spans":[{"name":"extensionOverhead","start":"2022-10-12T00:01:15.000Z","durationMs":0.1}],"status":"error","errorType":"Runtime.ExitError"}}"#,
    r#"{"time":"2022-10-12T00:01:15.5Z","type":"platform.report","record":{"requestId":"q","metrics":{"durationMs":1,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":128}}}"#,
    r#"{"time":"2022-10-12T00:01:15Z","type":"platform.report","record":{"status" : "timeout","metrics" : {"durationMs":3000,"billedDurationMs":3000,"memorySizeMB":256,"maxMemoryUsedMB":40,"restoreDurationMs":15.5,"billedRestoreDurationMs":75}}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"metrics":{"durationMs":2,"billedDurationMs":2,"memorySizeMB":128,"maxMemoryUsedMB":9,"initDurationMs":null},"requestId":"a","status":"SUCCESS","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"}}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"metrics":{"durationMs":2,"billedDurationMs":2,"memorySizeMB":128,"maxMemoryUsedMB":9},"status":null,"requestId":"n\u0031"}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.runtimeDone","record":{"requestId":"a","status":"success","metrics":{"durationMs":1}}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.runtimeDone","record":{"requestId":"a","status":"failure","errorType":"Runtime.OutOfMemory","spans":[]}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.start","record":{"requestId":"a"}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":5}}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"snap-start","metrics":{"durationMs":-1}}}"#,
    r#"{"time":null,"type":"platform.restoreReport"}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.restore\u0052eport","record":null}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.logsDropped","record":{"reason":"x"}}"#,
    r#"{"time":"2022-10-12T00:01:15.000Z","type":"function","record":"a log line"}"#,
];

#[test]
fn the_reader_agrees_with_the_full_parse_in_every_key_order() {
    for v in VARIANTS {
        let value: serde_json::Map<String, Value> = serde_json::from_str(v).unwrap();
        let members: Vec<(String, Value)> = value.into_iter().collect();
        // Every order of the top-level members (Lambda sends time, type, record).
        for order in permutations(members.len()) {
            let json = object(order.iter().map(|&i| (&members[i].0, members[i].1.to_string())));
            assert_eq!(parse_record(json.as_bytes()), reference(json.as_bytes()), "{json}");
        }
        assert_eq!(parse_record(v.as_bytes()), reference(v.as_bytes()), "{v}");
    }
}

#[test]
fn a_batch_reads_the_same_in_lambdas_layout_and_in_any_other() {
    // Lambda's layout is read by the records' heads alone; reordered, by the exact pass.
    let lambda: Vec<&str> = VARIANTS.iter().copied().filter(|v| v.starts_with(r#"{"time":""#)).collect();
    assert!(lambda.len() > 10);
    let reordered: Vec<String> = lambda
        .iter()
        .map(|v| {
            let map: serde_json::Map<String, Value> = serde_json::from_str(v).unwrap();
            let members: Vec<(String, Value)> = map.into_iter().rev().collect();
            object(members.iter().map(|(k, v)| (k, v.to_string())))
        })
        .collect();
    assert!(reordered.iter().all(|r| !r.starts_with(r#"{"time""#)));
    let read = |records: Vec<String>| {
        let mut out = Vec::new();
        let stats = for_each_record(format!("[{}]", records.join(",")).as_bytes(), |r| out.push(r.clone()));
        (stats, out)
    };
    let (stats, records) = read(lambda.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(stats.malformed, 0);
    assert_eq!((stats, records), read(reordered));
}

fn object<'a>(members: impl Iterator<Item = (&'a String, String)>) -> String {
    let body: Vec<String> = members.map(|(k, v)| format!("{}:{v}", Value::from(k.as_str()))).collect();
    format!("{{{}}}", body.join(","))
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn malformed_records_are_counted_and_do_not_stop_the_batch() {
    let body = br#"[
        {"type":"platform.start","record":{"requestId":"a"}},
        {"type":"platform.report","record":{"metrics":"n/a"}},
        42,
        {"record":{}},
        {"type":"platform.brandNew"},
        {"time":"2024-01-01T00:00:00Z","type":"platform.report","record":{"requestId":"a","status":"success","metrics":{"durationMs":5,"billedDurationMs":5,"memorySizeMB":128,"maxMemoryUsedMB":20}}}
    ]"#;
    let mut seen = Vec::new();
    let stats = for_each_record(body, |r| seen.push(r.clone()));
    assert_eq!(stats, BatchStats { records: 6, unknown: 1, malformed: 3 });
    assert_eq!(seen.len(), 2);
    assert!(matches!(seen[1], Record::Report { .. }));
    assert_eq!(for_each_record(b"not json", |_| {}), BatchStats { records: 0, unknown: 0, malformed: 1 });
    // A truncated batch: the complete records count, the broken tail is malformed.
    let truncated = br#"[{"time":"t1","type":"platform.start"},{"time":"t2","ty"#;
    assert_eq!(for_each_record(truncated, |_| {}), BatchStats { records: 2, unknown: 0, malformed: 1 });
}

#[test]
fn records_that_are_not_what_their_type_needs_are_malformed() {
    for bad in [
        r#"{"time":"2024-01-01T00:00:00Z","type":"platform.report","record":{"metrics":{"billedDurationMs":5}}}"#,
        r#"{"type":"platform.report","record":{"metrics":{"durationMs":-5},"status":"success"}}"#,
        r#"{"type":"platform.report","record":{"metrics":{"durationMs":5,"memorySizeMB":5000000000},"status":"success"}}"#,
        r#"{"type":"platform.report","record":{"metrics":{"durationMs":5,"billedDurationMs":5.5},"status":"success"}}"#,
        r#"{"type":"platform.report","record":{"status":"success"}}"#,
        r#"{"type":"platform.report"}"#,
        r#"{"type":"platform.runtimeDone","record":null}"#,
        r#"{"type":"platform.initReport"}"#,
        r#"{"time":5,"type":"platform.report","record":{"metrics":{"durationMs":5},"status":"success"}}"#,
        r#"{"type":7}"#,
        r#"{"time":"2024-01-01T00:00:00Z","record":{}}"#,
        r#"{"type":"platform.report","record":{"metrics":{"durationMs":5},"status":"success"}} trailing"#,
        r#"{"record":{"metrics":{"durationMs":5},"status":"success"},"type":"platform.report""#,
    ] {
        assert_eq!(parse_record(bad.as_bytes()), Err(Malformed), "{bad}");
    }
}

#[test]
fn a_success_status_settles_the_outcome() {
    // Lambda sends errorType only with a failure status; with "success" the reader stops
    // before it (an errorType after a success status is not read).
    let r = br#"{"type":"platform.report","record":{"metrics":{"durationMs":5,"memorySizeMB":128,"maxMemoryUsedMB":20},"status":"success","errorType":"X"}}"#;
    let Ok(Record::Report { report, has_status: true, .. }) = parse_record(r) else { panic!() };
    assert_eq!(report.outcome, Outcome::Success);
    // Memory used reaching the size is an out-of-memory end whatever the status.
    let oom = br#"{"type":"platform.report","record":{"metrics":{"durationMs":5,"memorySizeMB":128,"maxMemoryUsedMB":128},"status":"success"}}"#;
    let Ok(Record::Report { report, .. }) = parse_record(oom) else { panic!() };
    assert_eq!(report.outcome, Outcome::OutOfMemory);
}

/// A generated `platform.report`: metrics present or not, statuses, ids, extra members.
fn arb_report() -> impl Strategy<Value = Value> {
    let status = prop_oneof![
        Just(None),
        Just(Some(json!("success"))),
        Just(Some(json!("timeout"))),
        Just(Some(json!("error"))),
        Just(Some(json!("failure"))),
        Just(Some(Value::Null)),
    ];
    (
        status,
        proptest::option::of("[a-f0-9-]{0,36}"),
        proptest::option::of(prop_oneof![Just("Runtime.ExitError"), Just("Runtime.OutOfMemory")]),
        (0.0f64..1e6, proptest::option::of(0u64..1_000_000), proptest::option::of(128u32..10_241)),
        (proptest::option::of(1u32..10_241), proptest::option::of(0.0f64..1e4), any::<bool>()),
        any::<u64>(),
    )
        .prop_map(|(status, id, error_type, (duration, billed, size), (used, init, extras), seed)| {
            // Lambda writes ms with at most 3 decimals. (On longer fractions serde_json, without
            // its float_roundtrip feature, may be an ulp off; std's parse used here is exact.)
            let ms = |x: f64| (x * 1_000.0).round() / 1_000.0;
            let (duration, init) = (ms(duration), init.map(ms));
            let mut metrics = json!({ "durationMs": duration });
            for (k, v) in [
                ("billedDurationMs", billed.map(Value::from)),
                ("memorySizeMB", size.map(Value::from)),
                ("maxMemoryUsedMB", used.map(Value::from)),
                ("initDurationMs", init.map(Value::from)),
            ] {
                if let Some(v) = v {
                    metrics[k] = v;
                }
            }
            let mut record = json!({ "metrics": metrics });
            if let Some(s) = status {
                // Lambda sends an errorType only with a failure status.
                if s.as_str().is_some_and(|s| s != "success")
                    && let Some(e) = error_type
                {
                    record["errorType"] = json!(e);
                }
                record["status"] = s;
            }
            if let Some(id) = id {
                record["requestId"] = json!(id);
            }
            if extras {
                record["tracing"] = json!({"type": "X-Amzn-Trace-Id", "value": "Root=1-a;Sampled=1"});
                record["spans"] = json!([{"name": "responseLatency", "start": "x", "durationMs": 1.5}]);
            }
            json!({"seed": seed, "record": record})
        })
}

/// A JSON object with its members in an order drawn from `seed`.
fn shuffled(v: &Value, seed: u64) -> String {
    match v {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            let n = members.len();
            for i in 0..n {
                let j =
                    (seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i as u64 * 1_442_695_040_888_963_407)
                        >> 33) as usize
                        % n;
                members.swap(i, j);
            }
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), shuffled(v, seed / 3 + 1)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        other => other.to_string(),
    }
}

proptest! {
    /// Reports in any key order, with any subset of the optional fields, read as serde reads
    /// them into the core's type.
    #[test]
    fn reports_in_any_key_order_read_as_serde_reads_them(generated in arb_report()) {
        let seed = generated["seed"].as_u64().unwrap();
        let event = json!({"time": "2024-05-01T12:34:56.789Z", "type": "platform.report", "record": generated["record"]});
        let json = shuffled(&event, seed);
        prop_assert_eq!(parse_record(json.as_bytes()), reference(json.as_bytes()), "{}", json);
    }
}
