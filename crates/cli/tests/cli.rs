//! The `autopilot` command: argument parsing, a small simulation and its JSON, bad input.

use std::path::PathBuf;
use std::process::Command;

use autopilot_cli::cmd::bench::BenchCommand;
use autopilot_cli::{Cli, Command as Sub, run};
use clap::Parser;

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(autopilot_testkit::unique_name(name))
}

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("autopilot").chain(args.iter().copied()))
}

#[test]
fn arguments_parse_with_their_documented_defaults() {
    let Sub::Simulate(a) = parse(&["simulate"]).unwrap().command else { panic!("simulate") };
    assert_eq!((a.functions, a.days, a.seed, a.keep_alive_minutes, a.concurrency_every), (13, 7.0, 1, 10.0, 5));
    assert!(a.trace.is_none() && a.json.is_none());
    let Sub::Simulate(a) =
        parse(&["simulate", "--functions", "1000", "--days", "14", "--seed", "7", "--json", "o.json"]).unwrap().command
    else {
        panic!("simulate")
    };
    assert_eq!((a.functions, a.days, a.seed), (1000, 14.0, 7));
    let Sub::Bench(BenchCommand::Scale(s)) = parse(&["bench", "scale"]).unwrap().command else { panic!("scale") };
    assert_eq!((s.functions, s.days, s.skip_fleet), (10_000, 1, false));
    for bad in [
        &["simulate", "--functions", "0"][..],
        &["simulate", "--days", "-1"],
        &["simulate", "--days", "many"],
        &["simulate", "--keep-alive-minutes", "0"],
        &["simulate", "--concurrency-every", "1441"],
        &["simulate", "--colour"],
        &["simulat"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn simulate_runs_a_small_fleet_and_writes_the_documented_json() {
    let json_path = tmp("sim.json");
    let cli =
        parse(&["simulate", "--functions", "14", "--days", "1.5", "--json", json_path.to_str().unwrap()]).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run(cli, &mut out, &mut err).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("memory-tuner") && text.contains("checkout-api") && text.contains("total"), "{text}");
    assert!(text.contains("Memory tuner") && text.contains("rollback"), "{text}");
    assert!(text.contains("Cold starts (forecast + plan every 5 min") && text.contains("PC util"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    // The planner's table and the summary count the cold starts callers waited for apart from
    // the warm-up calls that landed cold.
    let total = &v["autopilot"]["total"];
    let landed_cold = total["warmups"]["landedCold"].as_u64().unwrap();
    assert!(landed_cold > 0, "some rounds landed on reclaimed environments: the two counts differ");
    let callers = total["coldStarts"].as_u64().unwrap() - landed_cold;
    let planner_total = text.lines().rfind(|l| l.starts_with("total")).unwrap_or_default();
    let digits: String = planner_total.split_whitespace().nth(2).unwrap_or_default().replace(',', "");
    assert!(text.contains("callers cold") && digits == callers.to_string(), "{callers}: {planner_total}");
    std::fs::remove_file(&json_path).unwrap();
    assert_eq!(v["schema"], "autopilot.simulate.v1");
    assert_eq!(v["config"]["functions"], 14);
    assert_eq!(v["autopilotPolicy"], "memory-tuner + concurrency-planner");
    assert!(v["autopilot"]["total"]["warmups"]["sent"].as_u64().unwrap() > 0, "keep-warm rounds went out");
    assert_eq!(v["autopilotIsBaseline"], false);
    // One daily memory run (at the end of day one) decided for every function.
    let memory = v["memoryAutopilot"].as_array().unwrap();
    assert_eq!(memory.len(), 14);
    for field in ["function", "startMb", "endMb", "path", "explorations", "resizes", "rollbacks"] {
        assert!(memory[0].get(field).is_some(), "memoryAutopilot[0].{field}");
    }
    for run in ["baseline", "autopilot"] {
        let functions = v[run]["functions"].as_array().unwrap();
        assert_eq!(functions.len(), 14);
        for field in [
            "name",
            "invocations",
            "coldStarts",
            "p99Ms",
            "p99LatencyMs",
            "costUsd",
            "decisions",
            "cost",
            "outOfMemory",
        ] {
            assert!(functions[0].get(field).is_some(), "{run}.functions[0].{field}");
        }
        assert!(v[run]["total"]["invocations"].as_u64().unwrap() > 0);
    }
}

#[test]
fn a_malformed_trace_is_an_error_naming_the_file_and_line() {
    let path = tmp("bad-trace.csv");
    std::fs::write(&path, "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,lots\n").unwrap();
    let cli = parse(&["simulate", "--days", "0.1", "--trace", path.to_str().unwrap()]).unwrap();
    let e = run(cli, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    let msg = e.to_string();
    assert!(msg.contains(path.to_str().unwrap()) && msg.contains(":3:") && msg.contains("not a number"), "{msg}");
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn a_valid_trace_shapes_the_traffic() {
    let path = tmp("trace.csv");
    let mut text = String::from("time,requests\n");
    for i in 0..48 {
        text.push_str(&format!("2024-01-01 {:02}:{:02}:00,{}\n", i / 2, (i % 2) * 30, if i < 24 { 10 } else { 0 }));
    }
    std::fs::write(&path, text).unwrap();
    let cli =
        parse(&["simulate", "--days", "1", "--concurrency-every", "0", "--trace", path.to_str().unwrap()]).unwrap();
    let mut out = Vec::new();
    run(cli, &mut out, &mut Vec::new()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("traffic shaped by"), "{text}");
    assert!(text.contains("Autopilot slot: memory-tuner (autopilot mode, concurrency runs off)"), "{text}");
    assert!(!text.contains("PC util"), "planner left out: {text}");
}

#[test]
fn the_binary_teaches_and_fails_clearly() {
    let bin = env!("CARGO_BIN_EXE_autopilot");
    let help = Command::new(bin).args(["simulate", "--help"]).output().unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    for needle in ["--functions", "[default: 13]", "[default: 7]", "--trace", "--json", "Examples:"] {
        assert!(text.contains(needle), "simulate --help lacks {needle}:\n{text}");
    }
    let missing =
        Command::new(bin).args(["simulate", "--trace", "no/such/file.csv", "--days", "0.1"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8(missing.stderr).unwrap();
    assert!(err.contains("no/such/file.csv") && err.contains("cannot read"), "{err}");
}

#[test]
fn a_diagnosis_runs_one_case_of_a_traces_folder_minute_by_minute() {
    let dir = tmp("diagnose-traces");
    std::fs::create_dir_all(&dir).unwrap();
    // Three hours, busy for the first and the last: the planner has something to keep warm.
    let mut text = String::from("timestamp,value\n");
    for m in 0..180 {
        text.push_str(&format!(
            "2024-01-01 {:02}:{:02}:00,{}\n",
            m / 60,
            m % 60,
            if (60..120).contains(&m) { 1 } else { 40 }
        ));
    }
    std::fs::write(dir.join("shape.csv"), text).unwrap();
    let folder = dir.to_str().unwrap();
    let cli =
        parse(&["bench", "concurrency", "--traces", folder, "--diagnose", "shape @1/s", "--reclaim", "15"]).unwrap();
    let mut out = Vec::new();
    run(cli, &mut out, &mut Vec::new()).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("shape @1/s (ours), reclaim 15 min, minute by minute:"), "{text}");
    assert!(text.contains("| plan: PC ") && text.contains("calls "), "{text}");
    assert!(
        text.contains("shape @1/s at reclaim 15 min: cold starts ") && text.contains("the plans expected"),
        "{text}"
    );
    // A case no label contains, a policy that is not ours: errors that say so.
    let none = parse(&["bench", "concurrency", "--traces", folder, "--diagnose", "other"]).unwrap();
    let e = run(none, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("\"other\"") && e.exit_code() == 2, "{e}");
    let bad =
        parse(&["bench", "concurrency", "--traces", folder, "--diagnose", "shape", "--policy", "pinger"]).unwrap();
    let e = run(bad, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("ours-capped") && e.exit_code() == 2, "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(parse(&["bench", "concurrency", "--reclaim", "15"]).is_err(), "--reclaim needs --diagnose");
}
