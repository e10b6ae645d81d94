//! Every sample in `events/` is read into the type it is a sample of: `<function>-input*.json`
//! into that function's input; `execution-*`/`schedule-*` into the run state machine's
//! execution input, `rollback-execution-*` into the rollback state machine's, and the `detail`
//! of `eventbridge-*` into either; `telemetry-*` (the extension's input) is read by the
//! pipeline tests. A file no rule covers fails.

use std::path::PathBuf;

use autopilot_runner::contract::{
    BatchInput, CollectInput, ExecutionInput, ManualRollbackInput, RollbackInput, RunKind,
};

fn samples() -> Vec<(String, String)> {
    let dir: PathBuf = autopilot_testkit::workspace_root().join("events");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn execution(name: &str, json: &str) {
    let e: ExecutionInput = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
    e.policy.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn batch(name: &str, json: &str, run: RunKind) {
    let b: BatchInput = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(b.run, run, "{name}: this step belongs to {run} runs");
    assert!(!b.functions.is_empty() && b.window.minutes() > 0, "{name}");
    b.policy.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn every_sample_event_reads_as_its_steps_input() {
    let all = samples();
    let mut handler_inputs = 0;
    for (name, json) in &all {
        if name.starts_with("collect-input") {
            let c: CollectInput = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            c.policy.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("forecast-input") || name.starts_with("apply-concurrency-input") {
            batch(name, json, RunKind::Concurrency);
        } else if name.starts_with("tune-memory-input") {
            batch(name, json, RunKind::Memory);
        } else if name.starts_with("rollback-input") {
            serde_json::from_str::<RollbackInput>(json).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("execution-") || name.starts_with("schedule-") {
            execution(name, json);
            continue;
        } else if name.starts_with("rollback-execution-") {
            serde_json::from_str::<ManualRollbackInput>(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            continue;
        } else if name.starts_with("eventbridge-") {
            // An EventBridge event whose `detail` is an execution input.
            let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            let detail = v["detail"].to_string();
            let scheduled = serde_json::from_str::<ExecutionInput>(&detail);
            let manual = serde_json::from_str::<ManualRollbackInput>(&detail);
            assert!(
                scheduled.is_ok() != manual.is_ok(),
                "{name}: detail is no execution input: {scheduled:?} {manual:?}"
            );
            continue;
        } else if name.starts_with("telemetry-") {
            continue; // the extension's input, read by the pipeline tests with its parser
        } else if name.starts_with("control-url-") {
            continue; // Function URL requests of the control endpoint, read by its own tests
        } else {
            panic!("{name}: no rule says which type this sample is (name it after its type)");
        }
        handler_inputs += 1;
    }
    for step in ["collect", "forecast", "tune-memory", "apply-concurrency", "rollback"] {
        let prefix = format!("{step}-input");
        assert!(all.iter().any(|(n, _)| n.starts_with(&prefix)), "no sample input for {step}");
    }
    assert!(handler_inputs >= 7, "{handler_inputs} handler samples");
}
