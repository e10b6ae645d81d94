//! A memory run and two concurrency runs over a fleet of 200 emulated functions (half behind
//! an alias), the handlers over the AWS adapters: all finish, and the API calls they make per
//! function per run — what sets the autopilot's own AWS bill — are printed and bounded. The
//! first concurrency run fits every function's forecaster and keeps it; the second, 5 minutes
//! later, is the common case (the kept model read and advanced).
//!
//! `cargo test -p autopilot-lambda --test emulator_fleet -- --nocapture` prints the table.

mod emulator;

use std::collections::BTreeMap;

use autopilot_aws::calls::total_calls;
use autopilot_core::policy::{ConcurrencyPolicy, Mode, Policy};
use autopilot_core::{FunctionRef, Minute};
use autopilot_runner::contract::RunKind;
use autopilot_runner::fakes::Steady;
use autopilot_testkit::unique_name;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use emulator::Env;
use emulator::aws_common::{create_role, empty_zip};

const FLEET: usize = 200;
const NOW: Minute = Minute(29_929_140);
/// Minutes of stats per function (one query page each: the call count does not depend on it).
const STATS_MINUTES: i64 = 15;

async fn create_fleet(env: &Env) -> Vec<FunctionRef> {
    let role = create_role();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..FLEET {
        let (lambda, role, tag) = (env.clients.lambda.clone(), role.clone(), env.opt_in_tag.clone());
        tasks.spawn(async move {
            let name = unique_name(&format!("fleet{i:03}"));
            lambda
                .create_function()
                .function_name(&name)
                .runtime(Runtime::Providedal2023)
                .role(role)
                .handler("bootstrap")
                .memory_size(512)
                .code(FunctionCode::builder().zip_file(Blob::new(empty_zip())).build())
                .tags(tag, "true")
                .send()
                .await
                .unwrap();
            if i % 2 == 0 {
                let v = lambda.publish_version().function_name(&name).send().await.unwrap();
                lambda
                    .create_alias()
                    .function_name(&name)
                    .name("live")
                    .function_version(v.version().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            (FunctionRef::new(&name, None).unwrap(), i % 2 == 0)
        });
    }
    let created = tasks.join_all().await;
    let mut items = Vec::new();
    for (f, aliased) in &created {
        let version = if *aliased { "1" } else { "$LATEST" };
        let traffic = Steady { memory_used_mb: 90.0, ..Steady::new(512, 20, 120.0) };
        items.extend(traffic.minutes(
            &f.with_qualifier(Some(version)).unwrap(),
            NOW.plus(-STATS_MINUTES),
            STATS_MINUTES,
        ));
    }
    env.write_stats(&items).await;
    created.into_iter().map(|(f, _)| f).collect()
}

/// Runs collect and then the run's steps on every batch at `now`; the calls of each step.
async fn run(env: &Env, run: RunKind, id: &str, now: Minute) -> (BTreeMap<&'static str, BTreeMap<String, u64>>, usize) {
    let policy = Policy {
        mode: Mode::Autopilot,
        concurrency: ConcurrencyPolicy { max_provisioned: Some(5), ..ConcurrencyPolicy::default() },
        ..Policy::default()
    };
    let (calls, changed, functions) = env.run_steps(run, policy, id, now, Some(60)).await;
    assert_eq!(functions, FLEET);
    (calls, changed)
}

fn report(run: &str, calls: &BTreeMap<&'static str, BTreeMap<String, u64>>, changed: usize) -> f64 {
    let n = FLEET as f64;
    let mut total = 0;
    eprintln!("\n{run} run over {FLEET} functions ({changed} changed): API calls per function per run");
    for (step, ops) in calls {
        let t = total_calls(ops);
        total += t;
        eprintln!("  {step:<18} {:>6.2}", t as f64 / n);
        for (op, c) in ops {
            eprintln!("    {op:<44} {:>6.2}", *c as f64 / n);
        }
    }
    eprintln!("  {:<18} {:>6.2}", "total", total as f64 / n);
    total as f64 / n
}

#[tokio::test]
async fn a_fleet_of_200_runs_both_loops_and_its_calls_per_function_are_counted() {
    let env = Env::new().await;
    create_fleet(&env).await;
    let (memory, changed_memory) = run(&env, RunKind::Memory, "fleet-memory", NOW).await;
    let (first, changed_first) = run(&env, RunKind::Concurrency, "fleet-concurrency", NOW).await;
    let (next, changed_pc) = run(&env, RunKind::Concurrency, "fleet-concurrency-next", NOW.plus(5)).await;
    let m = report("memory", &memory, changed_memory);
    let fit = report("first concurrency", &first, changed_first);
    let c = report("concurrency", &next, changed_pc);
    // The bill's bound: a fixed number of calls per function per run, whatever the fleet size
    // (discovery pages are shared by 100 functions). The memory run here changes every
    // function (its worst case: record, lease, update, wait, event); the concurrency run
    // changes none (its common case: read, forecast, plan).
    assert_eq!(changed_memory, FLEET, "every function of this fleet is out of its measured optimum");
    // 18.5 before tune-memory read and wrote the tuner's look-back (one get, one put).
    assert!(m <= 21.0, "memory run: {m:.2} calls per function");
    // 10 before the forecast read the rounds and PC apply-concurrency recorded (one query), 11
    // before it read the model it keeps (one get); a refit reads the history and writes both.
    assert!(c <= 13.0, "concurrency run: {c:.2} calls per function");
    assert!(fit <= c + 4.0, "first concurrency run: {fit:.2} calls per function");
    let puts = |calls: &BTreeMap<&'static str, BTreeMap<String, u64>>| {
        calls.get("forecast").and_then(|ops| ops.get("DynamoDB.PutItem")).copied().unwrap_or(0)
    };
    // Every function's forecast, history and model on the first run; forecasts and the few
    // whose refit time came in the 5 minutes between (about 200 × 5 / 720) on the next.
    assert_eq!(puts(&first), 3 * FLEET as u64);
    assert!(puts(&next) < FLEET as u64 + 2 * 10, "{}", puts(&next));
}
