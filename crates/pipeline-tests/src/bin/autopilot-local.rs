//! `autopilot-local`: the deployable pipeline on the local AWS emulator, for a person to watch.
//! Builds the six functions, creates the stack from `sam-template.yaml` and the ASL (tables,
//! functions on their real binaries, state machines with their substitutions), opts in one
//! function and writes two hours of its stats as the extension does, then runs a memory run
//! in recommend mode, the same in autopilot mode, the same again (a no-op), a manual rollback
//! and a concurrency run, printing each execution's path, result and the function's memory.
//!
//! `bash scripts/local-aws.sh start && cargo run -p autopilot-pipeline-tests --bin autopilot-local`
//! (a binary of the test crate, so that the `autopilot` CLI keeps the AWS SDK out of its tree).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Duration;

use autopilot_pipeline_tests::PipelineError;
use autopilot_pipeline_tests::local::{self, DeployOptions, Emulator, Execution, Traffic};
use autopilot_testkit::unique_name;
use serde_json::json;

const USAGE: &str = "usage: autopilot-local [--endpoint URL]\n\
    Runs the pipeline end to end on the local AWS emulator. The endpoint defaults to\n\
    AWS_ENDPOINT_URL, then to the one `bash scripts/local-aws.sh start` wrote to .local-aws/endpoint.";

/// Longest one execution may take (Retry waits take real time on the emulator).
const WAIT: Duration = Duration::from_secs(300);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint = match args.as_slice() {
        [] => default_endpoint(),
        [flag, url] if flag == "--endpoint" => Ok(url.clone()),
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!("unexpected arguments {args:?}\n{USAGE}")),
    };
    let result = endpoint.and_then(|endpoint| {
        if !Emulator::answers(&endpoint) {
            return Err(format!("no emulator answers on {endpoint}: run `bash scripts/local-aws.sh start` first"));
        }
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(scenario(&endpoint)).map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autopilot-local: {e}");
            ExitCode::FAILURE
        }
    }
}

fn default_endpoint() -> Result<String, String> {
    if let Ok(e) = std::env::var("AWS_ENDPOINT_URL")
        && !e.trim().is_empty()
    {
        return Ok(e.trim().to_owned());
    }
    let file = autopilot_pipeline_tests::root().join(".local-aws/endpoint");
    std::fs::read_to_string(&file).map(|s| s.trim().to_owned()).map_err(|_| {
        format!("no emulator endpoint: run `bash scripts/local-aws.sh start` first (or pass --endpoint)\n{USAGE}")
    })
}

fn show(title: &str, e: &Execution) {
    println!("\n== {title}: {} {}", e.name, e.status);
    println!("   path: {}", e.path.join(" -> "));
    match (&e.output, &e.error) {
        (Some(o), _) => println!("   output: {o}"),
        (None, Some(err)) => println!("   error: {err}: {}", e.cause.as_deref().unwrap_or("")),
        _ => {}
    }
}

async fn scenario(endpoint: &str) -> Result<(), PipelineError> {
    let root = autopilot_pipeline_tests::root();
    eprintln!("building the functions (cargo build) ...");
    let bin_dir = local::build_functions(&root)?;
    let em = Emulator::connect(endpoint).await;
    let prefix = unique_name("local");
    let stack =
        local::deploy(&em, &root, &prefix, &DeployOptions { bin_dir, env_overrides: Default::default() }).await?;
    println!("stack {prefix} on {endpoint}: tables {} and {}; state machines:", stack.stats_table, stack.control_table);
    for (id, arn) in &stack.state_machines {
        println!("   {id}: {arn}");
    }
    let orders = format!("{prefix}-orders");
    local::add_monitored(&em, &stack, &orders, 256, None).await?;
    let traffic = Traffic { memory_mb: 256, per_minute: 30, duration_ms: 100.0, used_mb: 240.0, errors: 0 };
    let items = local::steady_minutes(&format!("{orders}:$LATEST"), traffic, (125, 5))?;
    local::seed_stats(&em, &stack.stats_table, &items).await?;
    println!(
        "fleet: {orders} at 256 MB with two hours of stats (30 calls a minute, 100 ms, 240 MB used: out of headroom)"
    );

    let memory = stack.state_machine("MemoryRunStateMachine");
    for (title, mode) in [
        ("memory run, recommend (decides, publishes, changes nothing)", "recommend"),
        ("memory run, autopilot", "autopilot"),
        ("memory run again (the same input: nothing more to do)", "autopilot"),
    ] {
        let input = json!({"run": "memory", "policy": {"mode": mode}, "functions": [orders]});
        let e = local::run(&em, memory, &unique_name("mem"), &input, WAIT).await?;
        show(title, &e);
        println!("   {orders}: {} MB", local::memory_of(&em, &orders, None).await?);
    }
    let input = json!({"function": orders, "target": {"kind": "lastKnownGood"}, "reason": "autopilot-local"});
    let e = local::run(&em, stack.state_machine("RollbackStateMachine"), &unique_name("rb"), &input, WAIT).await?;
    show("manual rollback to the last known good configuration", &e);
    println!("   {orders}: {} MB", local::memory_of(&em, &orders, None).await?);

    let input =
        json!({"run": "concurrency", "policy": {"mode": "recommend"}, "functions": [orders], "windowMinutes": 120});
    let e =
        local::run(&em, stack.state_machine("ConcurrencyRunStateMachine"), &unique_name("pc"), &input, WAIT).await?;
    show("concurrency run, recommend", &e);
    Ok(())
}
