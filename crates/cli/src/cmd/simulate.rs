//! `autopilot simulate`: the demo fleet with the autopilot slot vs the do-nothing baseline.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use autopilot_bench::slot::simulate_slot;
use autopilot_bench::tuner::sim_slot::MemorySummary;
use autopilot_datasets::traces;
use autopilot_sim::fleet::{apply_trace, demo_fleet};
use autopilot_sim::model::FunctionSpec;
use autopilot_sim::traffic::TraceShape;
use autopilot_sim::{Autopilot, DoNothing, FunctionReport, SimConfig, SimReport, Simulation};
use clap::Args;
use serde::Serialize;

use crate::CliError;
use crate::progress::Progress;
use crate::table::Table;

/// Version of the `--json` layout; bump on any incompatible change.
pub const JSON_SCHEMA: &str = "autopilot.simulate.v1";

/// Simulate a fleet for some days, with the autopilot and without it, and compare.
///
/// Runs the built-in demo fleet — a dozen functions of mixed runtimes (Rust, Python, Node,
/// Java), architectures, workloads (CPU-bound, I/O-bound, memory-hungry near its OOM floor,
/// one with a p99 cliff) and traffic (busy APIs with daily/weekly cycles, bursts, sparse
/// timers, queue batches, a level shift), most of them mis-sized — through a simulated
/// Lambda: execution environments with keep-alive, cold starts, provisioned concurrency,
/// throttling, all billed at us-east-1 list prices. Prints per function and in total:
/// invocations, cold starts, p99 duration, cost and decisions, autopilot vs baseline.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  autopilot simulate\n  autopilot simulate --functions 1000 --days 14 --concurrency-every 0 --json results.json\n  autopilot simulate --trace ../shared/data/traces/nyc_taxi.csv --days 3"
)]
pub struct SimulateArgs {
    /// Number of functions: the 13 demo archetypes, cycled with per-function jitter beyond 13.
    #[arg(long, default_value_t = 13, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub functions: u32,
    /// Simulated days (fractions allowed).
    #[arg(long, default_value_t = 7.0, value_parser = parse_days)]
    pub days: f64,
    /// Seed of every random stream; the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Drive every function's arrival shape from a trace file (timestamp,count CSV, Azure
    /// Functions 2019 per-minute CSV, or one-row-per-request log); each function keeps its
    /// own mean rate.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
    /// Minutes an idle environment lives before it is reaped (AWS does not document it).
    #[arg(long, default_value_t = 10.0, value_parser = parse_keep_alive)]
    pub keep_alive_minutes: f64,
    /// Minutes between two concurrency runs (read the new minutes, forecast, replan when the
    /// plan in force no longer holds, apply, for every function); 0 leaves the concurrency
    /// planner out and runs the memory tuner alone.
    #[arg(long, value_name = "MINUTES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1_440))]
    pub concurrency_every: u32,
    /// Most per-function rows printed (the total and --json cover every function).
    #[arg(long, default_value_t = 40)]
    pub rows: usize,
}

fn parse_days(s: &str) -> Result<f64, String> {
    let d: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of days"))?;
    if d.is_finite() && d > 0.0 && d <= 366.0 { Ok(d) } else { Err(format!("days must be within (0, 366], got {s}")) }
}

fn parse_keep_alive(s: &str) -> Result<f64, String> {
    let m: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of minutes"))?;
    if m.is_finite() && m > 0.0 && m <= 1_440.0 {
        Ok(m)
    } else {
        Err(format!("keep-alive must be within (0, 1440] minutes, got {s}"))
    }
}

/// The machine-readable result (`--json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulateOutput {
    pub schema: &'static str,
    pub config: RunConfig,
    /// Name of the policy in the autopilot slot.
    pub autopilot_policy: String,
    /// True when the autopilot slot holds the do-nothing policy, so both runs are the same.
    pub autopilot_is_baseline: bool,
    pub baseline: SimReport,
    pub autopilot: SimReport,
    /// What the memory tuner did to each function: sizes, explorations, resizes, rollbacks.
    pub memory_autopilot: Vec<MemorySummary>,
    pub wall_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunConfig {
    pub functions: u32,
    pub days: f64,
    pub seed: u64,
    pub trace: Option<PathBuf>,
    pub keep_alive_minutes: f64,
    pub aggregate_threshold: u64,
    pub region: String,
}

/// The fleet of a run: the demo fleet, reshaped by a trace if one is given.
pub fn fleet(args: &SimulateArgs) -> Result<Vec<FunctionSpec>, CliError> {
    let mut specs = demo_fleet(args.functions as usize, args.seed);
    if let Some(path) = &args.trace {
        let trace = traces::load(path)?;
        let shapes: Vec<TraceShape> = trace.series.iter().filter_map(TraceShape::from_series).collect();
        if shapes.is_empty() {
            return Err(CliError::BadInput { path: path.clone(), problem: "the trace has no arrivals at all".into() });
        }
        apply_trace(&mut specs, &shapes, args.seed);
    }
    Ok(specs)
}

pub fn config(args: &SimulateArgs) -> SimConfig {
    let mut cfg =
        SimConfig { seed: args.seed, minutes: (args.days * 1_440.0).round().max(1.0) as u64, ..SimConfig::default() };
    cfg.pool.keep_alive_ms = args.keep_alive_minutes * 60_000.0;
    cfg
}

pub fn run(args: &SimulateArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let specs = fleet(args)?;
    let cfg = config(args);
    let mut bar = Progress::new("baseline ");
    let baseline = Simulation::new(cfg.clone(), specs.clone(), DoNothing).run(&mut |d, t| bar.update(err, d, t));
    bar.finish(err);
    // The autopilot slot: the memory tuner (daily, passive) and the concurrency planner
    // (every 5 minutes, keep-warm on: the demo functions answer warm-up calls), in autopilot
    // mode with the documented defaults otherwise.
    let slot = simulate_slot(args.concurrency_every > 0);
    let autopilot_is_baseline = slot.is_do_nothing();
    let mut sim = Simulation::new(cfg.clone(), specs, slot);
    sim.schedule.concurrency_every_minutes = u64::from(args.concurrency_every.max(1));
    let mut bar = Progress::new("autopilot");
    sim.run_all(&mut |d, t| bar.update(err, d, t));
    bar.finish(err);
    let memory = sim.autopilot.memory.summaries();
    let plans = sim.autopilot.concurrency.as_ref().map(|c| (c.plans, c.plans + c.kept));
    let policy = sim.autopilot.name().to_owned();
    let autopilot = sim.finish();
    let wall_seconds = started.elapsed().as_secs_f64();
    print_report(args, &baseline, &autopilot, autopilot_is_baseline, wall_seconds, out)?;
    print_memory(&baseline, &autopilot, &memory, out)?;
    if args.concurrency_every > 0 {
        print_cold_starts(args, &cfg, &baseline, &autopilot, plans, out)?;
    }
    if let Some(path) = &args.json {
        let output = SimulateOutput {
            schema: JSON_SCHEMA,
            config: RunConfig {
                functions: args.functions,
                days: args.days,
                seed: args.seed,
                trace: args.trace.clone(),
                keep_alive_minutes: args.keep_alive_minutes,
                aggregate_threshold: cfg.aggregate_threshold,
                region: cfg.cost_model.prices().region.to_string(),
            },
            autopilot_policy: policy,
            autopilot_is_baseline,
            baseline,
            autopilot,
            memory_autopilot: memory,
            wall_seconds,
        };
        let json = serde_json::to_vec_pretty(&output).map_err(|e| CliError::Output(e.into()))?;
        std::fs::write(path, json).map_err(|source| CliError::Write { path: path.clone(), source })?;
        writeln!(out, "JSON results written to {}", path.display())?;
    }
    Ok(())
}

/// The memory tuner's work per function: sizes it moved through, cost saved, p99 change,
/// rollbacks (and the metric that triggered each).
fn print_memory(
    base: &SimReport,
    auto: &SimReport,
    memory: &[MemorySummary],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    writeln!(out)?;
    writeln!(
        out,
        "Memory tuner (cost goal, daily passive runs, steps of at most ×2, guardrail at 95%): per function, \
         the sizes it ran at, cost and p99 against the baseline, explorations, resizes and rollbacks."
    )?;
    let mut t = Table::new(&[
        "function",
        "memory MB path",
        "cost saved",
        "p99 ms base",
        "p99 ms auto",
        "explore",
        "resize",
        "rollback",
    ]);
    let (mut rollbacks, mut changed) = (0, 0);
    for (b, a) in base.functions.iter().zip(&auto.functions) {
        let Some(m) = memory.iter().find(|m| m.function == b.name) else { continue };
        rollbacks += m.rollbacks;
        changed += usize::from(m.end_mb != m.start_mb);
        let path: Vec<String> = m.path.iter().map(u32::to_string).collect();
        let rb = if m.rollbacks == 0 {
            "0".to_owned()
        } else {
            format!("{} ({})", m.rollbacks, m.rollback_reasons.join(", "))
        };
        t.row(vec![
            b.name.clone(),
            path.join("→"),
            format!("{:+.1}%", 0.0 - pct_change(b.cost_usd, a.cost_usd) + 0.0),
            ms(b.p99_ms),
            ms(a.p99_ms),
            m.explorations.to_string(),
            m.resizes.to_string(),
            rb,
        ]);
    }
    t.write(out)?;
    writeln!(
        out,
        "Memory changed on {changed} of {} functions; {rollbacks} rollback{} by the guardrail.",
        memory.len(),
        if rollbacks == 1 { "" } else { "s" }
    )?;
    Ok(())
}

/// The concurrency planner's work per function: cold starts avoided, what provisioned
/// concurrency cost and how busy it was, warm-up calls, and the cost change of the whole
/// autopilot (memory changes included).
fn print_cold_starts(
    args: &SimulateArgs,
    cfg: &SimConfig,
    base: &SimReport,
    auto: &SimReport,
    plans: Option<(u64, u64)>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    writeln!(out)?;
    writeln!(
        out,
        "Cold starts (forecast + plan every {} min, PC on aliases, keep-warm on): per function, the cold starts \
         callers waited for and the share avoided, provisioned concurrency's cost and utilisation (busy share of \
         the GB-s allocated), warm-up calls and those that landed on a reclaimed environment (a cold start no \
         caller waited for, its INIT billed), and the total cost change with the memory tuner's changes.",
        args.concurrency_every
    )?;
    let prices = cfg.cost_model.prices();
    let utilisation = |f: &FunctionReport| -> String {
        let Ok(arch) = f.architecture.parse::<autopilot_core::Architecture>() else { return "-".into() };
        let p = prices.arch(arch);
        let allocated_gb_s = f.cost.pc_allocated / p.pc_allocated_gb_s;
        if allocated_gb_s <= 0.0 {
            return "-".into();
        }
        format!("{:.0}%", 100.0 * (f.cost.pc_duration / p.pc_duration_gb_s) / allocated_gb_s)
    };
    let mut t = Table::new(&[
        "function",
        "traffic",
        "cold base",
        "callers cold",
        "avoided",
        "PC $",
        "PC util",
        "warm-ups",
        "landed cold",
        "cost change",
    ]);
    let row = |b: &FunctionReport, a: &FunctionReport| {
        vec![
            b.name.clone(),
            b.traffic.clone(),
            thousands(b.cold_starts),
            thousands(a.callers_cold_starts()),
            format!("{:+.0}%", 0.0 - pct_change(b.cold_starts as f64, a.callers_cold_starts() as f64) + 0.0),
            dollars(a.cost.pc()),
            utilisation(a),
            thousands(u64::from(a.warmups.sent)),
            thousands(u64::from(a.warmups.landed_cold)),
            format!("{:+.1}%", pct_change(b.cost_usd, a.cost_usd)),
        ]
    };
    for (b, a) in base.functions.iter().zip(&auto.functions).take(args.rows) {
        t.row(row(b, a));
    }
    t.rule();
    t.row(row(&base.total, &auto.total));
    t.write(out)?;
    if let Some((made, runs)) = plans {
        writeln!(
            out,
            "Plans made: {} in {} function-runs (the others applied the plan in force: its forecast still held).",
            thousands(made),
            thousands(runs)
        )?;
    }
    Ok(())
}

fn print_report(
    args: &SimulateArgs,
    base: &SimReport,
    auto: &SimReport,
    same: bool,
    wall: f64,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let shape = match &args.trace {
        Some(p) => format!("traffic shaped by {}", p.display()),
        None => "built-in traffic".to_owned(),
    };
    writeln!(
        out,
        "Simulated {} functions for {} day{} (seed {}, keep-alive {} min, {shape}, us-east-1 prices) in {wall:.1} s.",
        args.functions,
        args.days,
        if args.days == 1.0 { "" } else { "s" },
        args.seed,
        args.keep_alive_minutes
    )?;
    if same {
        writeln!(out, "Autopilot slot: the do-nothing policy, so the autopilot columns equal the baseline.")?;
    } else {
        writeln!(
            out,
            "Autopilot slot: {} ({}) vs the do-nothing baseline (same fleet, same seeds).",
            auto.policy,
            if args.concurrency_every > 0 {
                "autopilot mode, keep-warm on"
            } else {
                "autopilot mode, concurrency runs off"
            }
        )?;
    }
    writeln!(out)?;
    let mut t = Table::new(&[
        "function",
        "runtime",
        "arch",
        "MB",
        "invocations",
        "cold base",
        "cold auto",
        "p99 ms base",
        "p99 ms auto",
        "cost $ base",
        "cost $ auto",
        "decisions",
    ]);
    let row = |b: &FunctionReport, a: &FunctionReport| {
        let mb = if b.memory_start_mb == 0 {
            String::new()
        } else if a.memory_end_mb == b.memory_start_mb {
            b.memory_start_mb.to_string()
        } else {
            format!("{}→{}", b.memory_start_mb, a.memory_end_mb)
        };
        vec![
            b.name.clone(),
            b.runtime.clone(),
            b.architecture.clone(),
            mb,
            thousands(b.invocations),
            thousands(b.cold_starts),
            thousands(a.cold_starts),
            ms(b.p99_ms),
            ms(a.p99_ms),
            dollars(b.cost_usd),
            dollars(a.cost_usd),
            thousands(a.decisions),
        ]
    };
    for (b, a) in base.functions.iter().zip(&auto.functions).take(args.rows) {
        t.row(row(b, a));
    }
    let hidden = base.functions.len().saturating_sub(args.rows);
    if hidden > 0 {
        t.row(vec![format!("… {hidden} more (all in --json)")]);
    }
    t.rule();
    t.row(row(&base.total, &auto.total));
    t.write(out)?;
    let (b, a) = (&base.total, &auto.total);
    writeln!(out)?;
    writeln!(
        out,
        "Cost: baseline ${:.2}, autopilot ${:.2} ({:+.1}%). Cold starts: {} → {} ({:.3}% → {:.3}% of invocations), \
         {} of them callers waited for.",
        b.cost_usd,
        a.cost_usd,
        pct_change(b.cost_usd, a.cost_usd),
        thousands(b.cold_starts),
        thousands(a.cold_starts),
        100.0 * b.cold_start_share,
        100.0 * a.cold_start_share,
        thousands(a.callers_cold_starts())
    )?;
    writeln!(
        out,
        "Fleet p99 latency (duration + INIT when cold): baseline {} ms, autopilot {} ms.",
        ms(b.p99_latency_ms),
        ms(a.p99_latency_ms)
    )?;
    writeln!(
        out,
        "Baseline cost by line: requests ${:.2}, duration ${:.2}, init ${:.2}, provisioned ${:.2}. \
         Failures: {} errors, {} timeouts, {} out of memory, {} throttled.",
        b.cost.requests,
        b.cost.duration,
        b.cost.init,
        b.cost.pc(),
        thousands(b.errors),
        thousands(b.timeouts),
        thousands(b.out_of_memory),
        thousands(b.throttles)
    )?;
    writeln!(
        out,
        "Autopilot cost by line: requests ${:.2}, duration ${:.2}, init ${:.2}, provisioned ${:.2}; \
         {} warm-up calls ({} landed on a cold environment).",
        a.cost.requests,
        a.cost.duration,
        a.cost.init,
        a.cost.pc(),
        thousands(u64::from(a.warmups.sent)),
        thousands(u64::from(a.warmups.landed_cold)),
    )?;
    Ok(())
}

fn pct_change(from: f64, to: f64) -> f64 {
    if from == 0.0 { 0.0 } else { 100.0 * (to - from) / from }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| if v < 100.0 { format!("{v:.1}") } else { thousands(v.round() as u64) })
}

fn dollars(v: f64) -> String {
    if v < 100.0 { format!("{v:.4}") } else { format!("{v:.2}") }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
