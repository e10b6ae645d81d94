//! End to end on the local emulator: the stack built from the template and the ASL (with its
//! substitutions), the six real binaries, a small fleet with stats written as the extension
//! writes them, executions of the real state machines, and what they left behind: the
//! functions' memory and PC, the change log, the decision events an EventBridge rule
//! delivered, the control endpoint's answers.
//!
//! Needs the emulator (`bash scripts/local-aws.sh start`, or the README's test command). Each
//! test deploys its own stack under a unique prefix; each execution has a unique name.

use std::collections::BTreeMap;
use std::time::Duration;

use autopilot_pipeline_tests::local::{self, DeployOptions, Emulator, EventCapture, Execution, Stack, Traffic};
use autopilot_testkit::{emulator_endpoint, unique_name};
use serde_json::{Value, json};

/// Longest an execution may take (Retry waits take real time on the emulator).
const WAIT: Duration = Duration::from_secs(240);

struct Fixture {
    em: Emulator,
    stack: Stack,
    events: EventCapture,
}

async fn fixture(overrides: BTreeMap<String, BTreeMap<String, String>>) -> Fixture {
    let root = autopilot_pipeline_tests::root();
    let bin_dir = local::build_functions(&root).unwrap();
    let em = Emulator::connect(&emulator_endpoint()).await;
    let prefix = unique_name("pl");
    let stack = local::deploy(&em, &root, &prefix, &DeployOptions { bin_dir, env_overrides: overrides }).await.unwrap();
    let events = EventCapture::create(&em, &stack).await.unwrap();
    Fixture { em, stack, events }
}

impl Fixture {
    /// A function at 256 MB whose invocations use 240 MB (out of headroom: the tuner sizes it
    /// up): two hours of minutes, 30 invocations of 100 ms each.
    async fn cramped(&self, name: &str) -> String {
        let f = format!("{}-{name}", self.stack.prefix);
        local::add_monitored(&self.em, &self.stack, &f, 256, None).await.unwrap();
        let traffic = Traffic { memory_mb: 256, per_minute: 30, duration_ms: 100.0, used_mb: 240.0, errors: 0 };
        self.seed(&format!("{f}:$LATEST"), traffic).await;
        f
    }

    /// A function behind alias `live` keeping ten environments busy for two hours (version 1).
    async fn busy(&self, name: &str) -> String {
        let f = format!("{}-{name}", self.stack.prefix);
        local::add_monitored(&self.em, &self.stack, &f, 1024, Some("live")).await.unwrap();
        let traffic = Traffic { memory_mb: 1024, per_minute: 600, duration_ms: 1_000.0, used_mb: 300.0, errors: 0 };
        self.seed(&format!("{f}:1"), traffic).await;
        f
    }

    async fn seed(&self, resource: &str, traffic: Traffic) {
        let items = local::steady_minutes(resource, traffic, (125, 5)).unwrap();
        local::seed_stats(&self.em, &self.stack.stats_table, &items).await.unwrap();
    }

    async fn run(&self, machine: &str, input: Value) -> Execution {
        let arn = self.stack.state_machine(machine);
        local::run(&self.em, arn, &unique_name("x"), &input, WAIT).await.unwrap()
    }

    async fn memory_run(&self, mode: &str, f: &str) -> Execution {
        self.run("MemoryRunStateMachine", json!({"run": "memory", "policy": {"mode": mode}, "functions": [f]})).await
    }

    async fn concurrency_run(&self, mode: &str, f: &str) -> Execution {
        let input = json!({"run": "concurrency", "policy": {"mode": mode, "concurrency": {"maxProvisioned": 20}},
            "functions": [f], "windowMinutes": 120});
        self.run("ConcurrencyRunStateMachine", input).await
    }

    async fn memory(&self, f: &str) -> i32 {
        local::memory_of(&self.em, f, None).await.unwrap()
    }

    async fn events_for(&self, f: &str) -> Vec<String> {
        self.events.kinds_for(&self.em, f).await.unwrap()
    }

    async fn control_keys(&self, f: &str) -> Vec<String> {
        local::control_table_keys(&self.em, &self.stack, f).await.unwrap()
    }

    async fn control(&self, method: &str, path: &str, query: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
        local::invoke_control(&self.em, &self.stack, method, path, query, body).await.unwrap()
    }
}

const MEMORY_PATH: [&str; 7] = ["Prepare", "Collect", "Route", "MemoryBatches", "TuneMemory", "Verdict", "Done"];

fn succeeded(e: &Execution) {
    assert_eq!(e.status, "SUCCEEDED", "{e}");
}

/// Recommend changes nothing and its event arrives; autopilot applies once; the same run
/// again is a no-op; the control endpoint reports the runs and the change and starts a
/// manual rollback that restores the recorded configuration.
#[tokio::test(flavor = "multi_thread")]
async fn memory_runs_recommend_apply_once_then_nothing_and_the_control_endpoint_rolls_back() {
    let x = fixture(BTreeMap::new()).await;
    let f = x.cramped("orders").await;

    let recommend = x.memory_run("recommend", &f).await;
    succeeded(&recommend);
    assert_eq!(recommend.path, MEMORY_PATH, "{recommend}");
    let r = recommend.results();
    assert_eq!((r.len(), &r[0]["outcome"]), (1, &json!("recommended")), "{recommend}");
    assert_eq!(x.memory(&f).await, 256, "recommend mode changes nothing");
    // what it observed is kept (the window's summary, the tuner's look-back), no change
    let keys = x.control_keys(&f).await;
    assert!(keys.iter().all(|k| k.starts_with("SUMMARY#") || k == "SIZES"), "no change recorded: {keys:?}");
    assert!(keys.iter().any(|k| k == "SIZES"), "the tuner's look-back is kept: {keys:?}");
    assert_eq!(x.events_for(&f).await, ["Recommendation"], "the recommendation reached the rule's target");

    let apply = x.memory_run("autopilot", &f).await;
    succeeded(&apply);
    let r = apply.results();
    assert_eq!(r[0]["outcome"], "applied", "{apply}");
    let to = r[0]["to"].as_i64().unwrap();
    assert!(to > 256, "sized up out of the 240 MB squeeze: {apply}");
    assert_eq!(i64::from(x.memory(&f).await), to);
    assert_eq!(x.events_for(&f).await, ["Recommendation", "Memory Changed"]);

    let again = x.memory_run("autopilot", &f).await;
    succeeded(&again);
    assert!(again.results().iter().all(|r| r["outcome"] != "applied"), "a second run changes nothing: {again}");
    assert_eq!(i64::from(x.memory(&f).await), to);
    assert_eq!(x.events_for(&f).await.len(), 2, "and publishes nothing");

    // The control endpoint: the runs, the change, a manual rollback.
    let (status, body) = x.control("GET", "/status", &[("limit", "5")], None).await;
    assert_eq!(status, 200, "{body}");
    let runs: BTreeMap<&str, &str> = body["memoryRuns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    for e in [&recommend, &apply, &again] {
        assert_eq!(runs.get(e.name.as_str()), Some(&"SUCCEEDED"), "{body}");
    }
    let (status, body) = x.control("GET", "/changes", &[("function", &f)], None).await;
    assert_eq!(status, 200, "{body}");
    let changes = body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{body}");
    assert_eq!((&changes[0]["status"], &changes[0]["change"]["to"]), (&json!("applied"), &json!(to)));

    let request = json!({"function": f, "target": {"kind": "lastKnownGood"}, "reason": "e2e"});
    let (status, body) = x.control("POST", "/rollback", &[], Some(&request)).await;
    assert_eq!(status, 202, "{body}");
    let rb = local::wait(&x.em, body["executionArn"].as_str().unwrap(), WAIT).await.unwrap();
    succeeded(&rb);
    assert_eq!(rb.path, ["Prepare", "Rollback"], "{rb}");
    assert_eq!(x.memory(&f).await, 256, "the recorded configuration is back");
    assert_eq!(x.events_for(&f).await.last().map(String::as_str), Some("Rolled Back"));
    let (_, body) = x.control("GET", "/status", &[], None).await;
    assert_eq!(body["rollbacks"][0]["name"], json!(rb.name), "{body}");
}

/// A change that regresses (errors at the new size, as the extension would report them) is
/// judged by the next run and rolled back inline to the configuration the change log
/// recorded.
#[tokio::test(flavor = "multi_thread")]
async fn an_injected_regression_is_rolled_back_to_the_recorded_configuration() {
    let x = fixture(BTreeMap::new()).await;
    let f = x.cramped("checkout").await;
    let apply = x.memory_run("autopilot", &f).await;
    succeeded(&apply);
    let to = apply.results()[0]["to"].as_u64().unwrap_or_else(|| panic!("{apply}"));
    assert_eq!(u64::try_from(x.memory(&f).await).unwrap(), to);

    // At the new size one invocation in ten fails.
    let bad = Traffic { memory_mb: to, per_minute: 30, duration_ms: 90.0, used_mb: 200.0, errors: 3 };
    x.seed(&format!("{f}:$LATEST"), bad).await;
    let judged = x.memory_run("autopilot", &f).await;
    succeeded(&judged);
    let r = judged.results();
    assert_eq!((r.len(), &r[0]["action"], &r[0]["to"]), (1, &json!("rollback"), &json!(256)), "{judged}");
    assert_eq!(judged.output.as_ref().unwrap()["batches"][0]["rolledBack"], json!([f]), "{judged}");
    assert_eq!(x.memory(&f).await, 256, "the recorded configuration is back");
    assert_eq!(x.events_for(&f).await, ["Memory Changed", "Rolled Back"]);
    let (_, body) = x.control("GET", "/changes", &[("function", &f)], None).await;
    let statuses: Vec<&str> =
        body["changes"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["applied", "rolledBack"], "the rollback, then the change it undid: {body}");
}

/// A failure after the change (the events cannot be published: the bus does not exist) is
/// caught by the state machine, whose undo branch restores the recorded memory; the run
/// fails as rolled back.
#[tokio::test(flavor = "multi_thread")]
async fn a_failure_after_a_change_is_undone_by_the_state_machine() {
    let bad_bus = BTreeMap::from([("AUTOPILOT_EVENT_BUS".to_owned(), "no-such-bus".to_owned())]);
    let x = fixture(BTreeMap::from([("TuneMemoryFunction".to_owned(), bad_bus)])).await;
    let f = x.cramped("orders").await;
    let e = x.memory_run("autopilot", &f).await;
    assert_eq!(e.status, "FAILED", "{e}");
    assert_eq!(e.error.as_deref(), Some("Autopilot.GuardrailTripped"), "{e}");
    assert_eq!((e.entered("UndoChange"), e.entered("BatchRolledBack")), (1, 1), "{e}");
    assert_eq!(x.memory(&f).await, 256, "the recorded configuration is back");
    let (_, body) = x.control("GET", "/changes", &[("function", &f)], None).await;
    let statuses: Vec<&str> =
        body["changes"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["applied", "rolledBack"], "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrency_run_sets_pc_and_a_second_identical_run_changes_nothing() {
    let x = fixture(BTreeMap::new()).await;
    let f = x.busy("api").await;
    let live = format!("{f}:live");

    let e = x.concurrency_run("autopilot", &f).await;
    succeeded(&e);
    assert_eq!(
        e.path,
        ["Prepare", "Collect", "Route", "ConcurrencyBatches", "Forecast", "ApplyConcurrency", "Verdict", "Done"],
        "{e}"
    );
    let r = e.results();
    assert_eq!((r.len(), &r[0]["target"], &r[0]["outcome"]), (1, &json!(live), &json!("applied")), "{e}");
    let to = r[0]["to"].as_i64().unwrap();
    assert!((5..=20).contains(&to), "ten busy environments, at most 20: {e}");
    assert_eq!(local::provisioned_of(&x.em, &f, "live").await.unwrap().map(i64::from), Some(to));
    assert_eq!(x.events_for(&live).await, ["Concurrency Changed"]);

    let again = x.concurrency_run("autopilot", &f).await;
    succeeded(&again);
    assert!(again.results().is_empty(), "the plan is already in place: {again}");
    assert_eq!(local::provisioned_of(&x.em, &f, "live").await.unwrap().map(i64::from), Some(to));
    assert_eq!(x.events_for(&live).await.len(), 1, "nothing published the second time");
}

/// Observe mode: collect summarises, nothing is decided, recorded, published or changed.
#[tokio::test(flavor = "multi_thread")]
async fn observe_mode_writes_only_summaries() {
    let x = fixture(BTreeMap::new()).await;
    let (cramped, busy) = (x.cramped("orders").await, x.busy("api").await);

    let memory = x.memory_run("observe", &cramped).await;
    succeeded(&memory);
    assert_eq!(memory.path, MEMORY_PATH, "{memory}");
    let batch = &memory.output.as_ref().unwrap()["batches"][0];
    assert_eq!((&batch["mode"], &batch["evaluated"]), (&json!("observe"), &json!(0)), "{memory}");
    let concurrency = x.concurrency_run("observe", &busy).await;
    succeeded(&concurrency);
    assert!(concurrency.results().is_empty(), "{concurrency}");

    assert_eq!(x.memory(&cramped).await, 256);
    assert_eq!(local::provisioned_of(&x.em, &busy, "live").await.unwrap(), None);
    for f in [&cramped, &busy] {
        let keys = x.control_keys(f).await;
        assert!(!keys.is_empty() && keys.iter().all(|k| k.starts_with("SUMMARY#")), "{f}: {keys:?}");
    }
    for f in [cramped.clone(), busy.clone(), format!("{busy}:live")] {
        assert!(x.events_for(&f).await.is_empty(), "{f}: nothing published");
    }
}
