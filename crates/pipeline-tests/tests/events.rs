//! Every file in `events/` is read here, each as what it stands for; a file no rule knows
//! fails the test (every sample is executed).

use std::path::Path;

use autopilot_control::url::UrlRequest;
use autopilot_extension::telemetry::{Record, parse_record};
use autopilot_pipeline_tests::template::{Template, yaml_to_json};
use autopilot_runner::contract::{BatchInput, CollectInput, ManualRollbackInput, RollbackInput};
use serde_json::{Value, json};

/// What the state machine adds to the execution input (`$$.Execution.Name`, `StartTime`).
fn with_context(mut input: Value) -> Value {
    input["executionId"] = json!("sample-execution");
    input["now"] = json!("2026-11-27T10:15:00.123Z");
    input
}

fn collect_input(input: Value, file: &str) -> CollectInput {
    let parsed: CollectInput = serde_json::from_value(with_context(input)).unwrap_or_else(|e| panic!("{file}: {e}"));
    parsed.policy.validate().unwrap_or_else(|e| panic!("{file}: {e}"));
    parsed
}

fn rollback_input(input: Value, file: &str) -> RollbackInput {
    serde_json::from_value(with_context(input)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// True when `event` matches an EventBridge pattern (exact values, nested objects).
fn matches(pattern: &Value, event: &Value) -> bool {
    pattern.as_object().unwrap().iter().all(|(k, p)| match p {
        Value::Array(values) => values.contains(&event[k]),
        Value::Object(_) => matches(p, &event[k]),
        _ => false,
    })
}

/// The deployed state machines (default parameters) whose EventBridge rule matches `event`.
fn rule_targets(t: &Template, event: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for sm in t.deployed_state_machines(&t.parameter_defaults()).unwrap() {
        let events = &t.resource(&sm.logical_id).unwrap()["Properties"]["Events"];
        for (_, e) in events.as_mapping().into_iter().flatten() {
            if e["Type"].as_str() == Some("EventBridgeRule")
                && matches(&yaml_to_json(&e["Properties"]["Pattern"]), event)
            {
                assert_eq!(e["Properties"]["InputPath"].as_str(), Some("$.detail"));
                out.push(sm.logical_id.clone());
            }
        }
    }
    out
}

fn check(path: &Path, t: &Template) -> &'static str {
    let file = path.file_name().unwrap().to_str().unwrap().to_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let f = file.as_str();
    if f.starts_with("execution-") {
        collect_input(v, f);
        "execution input"
    } else if f.starts_with("schedule-") {
        let run = collect_input(v.clone(), f).run.to_string();
        let params = t.parameter_defaults();
        let rendered = t
            .state_machines()
            .iter()
            .flat_map(|sm| {
                let events = yaml_to_json(&t.resource(&sm.logical_id).unwrap()["Properties"]["Events"]);
                events.as_object().unwrap().values().cloned().collect::<Vec<_>>()
            })
            .filter(|e| e["Type"] == "ScheduleV2")
            .map(|e| {
                serde_json::from_str::<Value>(
                    &e["Properties"]["Input"]["!Sub"]
                        .as_str()
                        .map(|s| {
                            let mut s = s.to_owned();
                            for (k, val) in &params {
                                s = s.replace(&format!("${{{k}}}"), val);
                            }
                            s
                        })
                        .unwrap(),
                )
                .unwrap()
            })
            .find(|i| i["run"] == json!(run))
            .unwrap_or_else(|| panic!("{f}: no schedule of a {run} run"));
        assert_eq!(v, rendered, "{f}: differs from the template's schedule input with default parameters");
        "scheduled input"
    } else if f.starts_with("rollback-execution-") || f.starts_with("rollback-input") {
        let input = if f.starts_with("rollback-input") { v } else { with_context(v) };
        let _: RollbackInput = serde_json::from_value(input).unwrap_or_else(|e| panic!("{f}: {e}"));
        "rollback input"
    } else if f.starts_with("eventbridge-") {
        let targets = rule_targets(t, &v);
        assert_eq!(targets.len(), 1, "{f}: matched by {targets:?}");
        match v["detail-type"].as_str().unwrap() {
            "Run Requested" => drop(collect_input(v["detail"].clone(), f)),
            "Rollback Requested" => drop(rollback_input(v["detail"].clone(), f)),
            other => panic!("{f}: detail-type {other}"),
        }
        "EventBridge event"
    } else if f.starts_with("telemetry-batch-") {
        let records = v.as_array().unwrap_or_else(|| panic!("{f}: a batch is a JSON array"));
        let mut reports = 0;
        for r in records {
            match parse_record(r.to_string().as_bytes()).unwrap_or_else(|_| panic!("{f}: malformed record {r}")) {
                Record::Report { .. } => reports += 1,
                Record::Unknown => panic!("{f}: record type {} unknown to the extension", r["type"]),
                _ => {}
            }
        }
        assert!(reports > 0, "{f}: no platform.report");
        "telemetry batch"
    } else if f.starts_with("control-url-") {
        let req: UrlRequest = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(v["requestContext"]["http"]["path"], json!(req.raw_path), "{f}: rawPath vs http.path");
        assert!(req.caller().is_some(), "{f}: an AWS_IAM Function URL request names its caller");
        if req.request_context.http.method == "POST" {
            let body = req.body.as_deref().unwrap_or_else(|| panic!("{f}: no body"));
            let _: ManualRollbackInput = serde_json::from_str(body).unwrap_or_else(|e| panic!("{f}: body: {e}"));
        }
        "Function URL request"
    } else if f.starts_with("collect-input") {
        let _: CollectInput = serde_json::from_value(v).unwrap_or_else(|e| panic!("{f}: {e}"));
        "collect input"
    } else if ["forecast-input", "tune-memory-input", "apply-concurrency-input"].iter().any(|p| f.starts_with(p)) {
        let _: BatchInput = serde_json::from_value(v).unwrap_or_else(|e| panic!("{f}: {e}"));
        "batch input"
    } else {
        panic!("events/{f}: no test reads this kind of sample (add a rule in crates/pipeline-tests/tests/events.rs)")
    }
}

#[test]
fn every_sample_in_events_is_read_as_what_it_stands_for() {
    let t = Template::load(&autopilot_pipeline_tests::root()).unwrap();
    let dir = autopilot_pipeline_tests::root().join("events");
    let mut kinds = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        *kinds.entry(check(&path, &t)).or_insert(0) += 1;
    }
    for kind in [
        "execution input",
        "scheduled input",
        "rollback input",
        "EventBridge event",
        "telemetry batch",
        "Function URL request",
    ] {
        assert!(kinds.contains_key(kind), "no {kind} sample");
    }
}
