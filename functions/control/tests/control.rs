//! The control endpoint with in-memory fakes, fed from the Function URL samples in
//! `events/`: each route's answer, what it reads and starts, and every error status.

use std::collections::HashMap;
use std::future::{Future, ready};
use std::sync::Mutex;

use autopilot_control::url::UrlRequest;
use autopilot_control::{Config, Deps, Input, MEMORY_RUN_STATE_MACHINE, Output, ROLLBACK_STATE_MACHINE, handler};
use autopilot_core::ports::{
    Change, ChangeLog, ChangeRecord, ChangeStatus, ErrorKind, FunctionState, PortError, PortResult, WorkflowRun,
    Workflows,
};
use autopilot_core::{FunctionRef, MemoryMb, Minute};
use autopilot_sim::block_on;
use autopilot_sim::fakes::InMemoryChangeLog;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

const MEMORY_RUN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:autopilot-MemoryRun";
const ROLLBACK: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:autopilot-Rollback";

/// Step Functions in memory: canned runs per state machine, the executions started.
#[derive(Debug, Default)]
struct FakeWorkflows {
    runs: HashMap<String, Vec<WorkflowRun>>,
    started: Mutex<Vec<(String, String, Value)>>,
    /// Every call fails with this kind.
    failing: Option<ErrorKind>,
    asked: Mutex<Vec<(String, usize)>>,
}

impl Workflows for FakeWorkflows {
    fn recent_runs(
        &self,
        state_machine: &str,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<WorkflowRun>>> + Send {
        self.asked.lock().unwrap().push((state_machine.to_owned(), limit));
        ready(match self.failing {
            Some(kind) => Err(PortError::new(kind, "StepFunctions.ListExecutions", "injected")),
            None => Ok(self.runs.get(state_machine).into_iter().flatten().take(limit).cloned().collect()),
        })
    }

    fn start(&self, state_machine: &str, name: &str, input: &Value) -> impl Future<Output = PortResult<String>> + Send {
        if let Some(kind) = self.failing {
            return ready(Err(PortError::new(kind, "StepFunctions.StartExecution", "injected")));
        }
        self.started.lock().unwrap().push((state_machine.to_owned(), name.to_owned(), input.clone()));
        let machine = state_machine.rsplit(':').next().unwrap_or_default();
        ready(Ok(format!("arn:aws:states:us-east-1:123456789012:execution:{machine}:{name}")))
    }
}

fn sample(file: &str) -> UrlRequest {
    let path = autopilot_testkit::workspace_root().join("events").join(file);
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    autopilot_lambda::parse_event::<Input>(LambdaEvent::new(raw, Context::default()))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .payload
}

fn run(n: u32, status: &str) -> WorkflowRun {
    WorkflowRun {
        name: format!("run-{n}"),
        status: status.to_owned(),
        started_at: format!("2026-11-2{n}T03:00:00Z"),
        stopped_at: None,
        output: (status == "SUCCEEDED").then(|| json!({"status": "succeeded", "outcomes": ["applied"]})),
        error: None,
        cause: None,
    }
}

fn deps(workflows: FakeWorkflows) -> Deps<InMemoryChangeLog, FakeWorkflows> {
    let config = Config::from_lookup(|k| {
        Some(
            match k {
                "AUTOPILOT_CONTROL_TABLE" => "control",
                MEMORY_RUN_STATE_MACHINE => MEMORY_RUN,
                ROLLBACK_STATE_MACHINE => ROLLBACK,
                _ => return None,
            }
            .to_owned(),
        )
    })
    .unwrap();
    Deps { changes: InMemoryChangeLog::default(), workflows, state_machines: config.state_machines }
}

fn call(req: UrlRequest, deps: &Deps<InMemoryChangeLog, FakeWorkflows>) -> Output {
    block_on(handler(LambdaEvent::new(req, Context::default()), deps)).unwrap()
}

fn with(mut req: UrlRequest, method: &str, path: &str, query: &[(&str, &str)]) -> UrlRequest {
    req.request_context.http.method = method.to_owned();
    req.raw_path = path.to_owned();
    req.query_string_parameters =
        (!query.is_empty()).then(|| query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
    req
}

#[test]
fn status_lists_the_recent_runs_of_both_state_machines_newest_first() {
    let mut wf = FakeWorkflows::default();
    wf.runs.insert(MEMORY_RUN.to_owned(), (0..8).rev().map(|n| run(n, "SUCCEEDED")).collect());
    wf.runs.insert(ROLLBACK.to_owned(), vec![run(1, "FAILED")]);
    let d = deps(wf);
    let out = call(sample("control-url-status.json"), &d);
    assert_eq!(out.status_code, 200, "{}", out.body);
    assert_eq!(out.headers["content-type"], "application/json");
    let body = out.body_json();
    let names: Vec<&str> = body["memoryRuns"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["run-7", "run-6", "run-5"], "the sample asks for 3");
    assert_eq!(body["memoryRuns"][0]["output"]["outcomes"], json!(["applied"]));
    assert_eq!(body["rollbacks"][0]["status"], "FAILED");
    assert_eq!(*d.workflows.asked.lock().unwrap(), [(MEMORY_RUN.to_owned(), 3), (ROLLBACK.to_owned(), 3)]);

    // Default and bounds of `limit`.
    let out = call(with(sample("control-url-status.json"), "GET", "/status/", &[]), &d);
    assert_eq!(out.status_code, 200);
    assert_eq!(d.workflows.asked.lock().unwrap().last().unwrap().1, 5);
    for bad in ["0", "21", "five", "-1"] {
        let out = call(with(sample("control-url-status.json"), "GET", "/status", &[("limit", bad)]), &d);
        assert_eq!(out.status_code, 400, "limit={bad}");
        assert!(out.body_json()["error"].as_str().unwrap().contains("limit"), "{}", out.body);
    }
}

fn record(function: &str, id: &str, at: i64, to: u64) -> ChangeRecord {
    let mb = |v| MemoryMb::new(v).unwrap();
    ChangeRecord {
        id: id.to_owned(),
        function: FunctionRef::parse(function).unwrap(),
        at: Minute(at),
        change: Change::Memory { from: mb(256), to: mb(to) },
        previous: FunctionState { memory: mb(256), alias: None, provisioned: None },
        status: ChangeStatus::Applied,
        reason: json!({"decision": {"action": "resize"}}),
    }
}

#[test]
fn changes_reads_one_functions_decisions_from_the_change_log() {
    let d = deps(FakeWorkflows::default());
    for (i, to) in [(1, 320), (2, 384)] {
        block_on(d.changes.record(&record("orders-api", &format!("run-{i}#orders-api#memory"), 100 * i, to))).unwrap();
    }
    block_on(d.changes.record(&record("other", "run-1#other#memory", 100, 512))).unwrap();
    let out = call(sample("control-url-changes.json"), &d);
    assert_eq!(out.status_code, 200, "{}", out.body);
    let body = out.body_json();
    assert_eq!(body["function"], "orders-api");
    let ids: Vec<&str> = body["changes"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["run-2#orders-api#memory", "run-1#orders-api#memory"], "newest first, this function only");
    assert_eq!(body["changes"][0]["change"], json!({"kind": "memory", "from": 256, "to": 384}));
    assert_eq!(body["changes"][0]["time"], Minute(200).to_string());
    assert_eq!(body["changes"][0]["status"], "applied");

    let out = call(with(sample("control-url-changes.json"), "GET", "/changes", &[("limit", "5")]), &d);
    assert_eq!(out.status_code, 400, "function is required: {}", out.body);
    let out = call(with(sample("control-url-changes.json"), "GET", "/changes", &[("function", "not a name")]), &d);
    assert_eq!(out.status_code, 400, "{}", out.body);
}

#[test]
fn rollback_starts_the_rollback_state_machine_with_the_caller_in_the_reason() {
    let d = deps(FakeWorkflows::default());
    let req = sample("control-url-rollback.json");
    let out = call(req.clone(), &d);
    assert_eq!(out.status_code, 202, "{}", out.body);
    let started = d.workflows.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    let (machine, name, input) = &started[0];
    assert_eq!(machine, ROLLBACK);
    assert_eq!(name, &format!("manual-{}", req.request_context.request_id));
    assert_eq!(input["function"], "orders-api");
    assert_eq!(input["target"], json!({"kind": "lastKnownGood"}));
    assert_eq!(
        input["reason"],
        "p99 alarm after the nightly memory change (requested by arn:aws:iam::123456789012:user/ops through the control endpoint)"
    );
    let body = out.body_json();
    assert!(body["executionArn"].as_str().unwrap().ends_with(&format!(":{name}")), "{body}");
    // What the state machine is started with is what it accepts.
    let _: autopilot_runner::contract::ManualRollbackInput = serde_json::from_value(input.clone()).unwrap();

    for (body, why) in [
        (r#"{"function":"orders-api","target":{"kind":"lastKnownGood"}}"#, "reason missing"),
        (r#"{"function":"orders-api","target":{"kind":"lastKnownGood"},"reason":" "}"#, "reason empty"),
        (r#"{"function":"orders-api","target":{"kind":"latest"},"reason":"x"}"#, "unknown target"),
        (r#"{"function":"orders-api","target":{"kind":"lastKnownGood"},"reason":"x","force":true}"#, "unknown field"),
        ("not json", "not JSON"),
    ] {
        let mut r = req.clone();
        r.body = Some(body.to_owned());
        let out = call(r, &d);
        assert_eq!(out.status_code, 400, "{why}: {}", out.body);
    }
    let mut r = req;
    r.is_base64_encoded = true;
    assert_eq!(call(r, &d).status_code, 400);
    assert_eq!(d.workflows.started.lock().unwrap().len(), 1, "nothing else was started");
}

#[test]
fn unknown_routes_wrong_methods_and_failing_ports_answer_their_status() {
    let d = deps(FakeWorkflows::default());
    let base = sample("control-url-status.json");
    for (method, path, status) in [
        ("GET", "/", 404),
        ("GET", "/nope", 404),
        ("POST", "/status", 405),
        ("DELETE", "/changes", 405),
        ("GET", "/rollback", 405),
    ] {
        let out = call(with(base.clone(), method, path, &[]), &d);
        assert_eq!(out.status_code, status, "{method} {path}: {}", out.body);
        assert!(out.body_json()["error"].is_string());
    }
    for (kind, status) in [(ErrorKind::Retryable, 503), (ErrorKind::Conflict, 503), (ErrorKind::AccessDenied, 502)] {
        let d = deps(FakeWorkflows { failing: Some(kind), ..FakeWorkflows::default() });
        assert_eq!(call(base.clone(), &d).status_code, status, "{kind:?}");
        assert_eq!(call(sample("control-url-rollback.json"), &d).status_code, status, "{kind:?}");
    }
}

#[test]
fn config_reads_exactly_its_variables_strictly() {
    let vars = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k: &str| map.get(k).cloned()
    };
    let ok = [
        ("AUTOPILOT_CONTROL_TABLE", "ctl"),
        (MEMORY_RUN_STATE_MACHINE, MEMORY_RUN),
        (ROLLBACK_STATE_MACHINE, ROLLBACK),
    ];
    let c = Config::from_lookup(vars(&ok)).unwrap();
    assert_eq!((c.state_machines.memory_run.as_str(), c.state_machines.rollback.as_str()), (MEMORY_RUN, ROLLBACK));
    assert_eq!(Config::VARS.len(), 4);
    let e = Config::from_lookup(vars(&ok[..2])).unwrap_err();
    assert!(e.to_string().contains(ROLLBACK_STATE_MACHINE), "{e}");
    let bad = [ok[0], ok[1], (ROLLBACK_STATE_MACHINE, "autopilot-Rollback")];
    let e = Config::from_lookup(vars(&bad)).unwrap_err();
    assert!(e.to_string().contains("state machine ARN"), "{e}");
}
