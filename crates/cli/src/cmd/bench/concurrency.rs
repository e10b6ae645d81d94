//! `autopilot bench concurrency [--traces DIR]`.

use std::io::Write;
use std::path::PathBuf;

use autopilot_bench::concurrency::diagnose::{DIAGNOSED, diagnose, policy_named};
use autopilot_bench::concurrency::{POLICIES, Selection, cases, run_dir};
use autopilot_datasets::data_dir::require_dir;
use clap::Args;

use crate::CliError;

/// Cold starts and cost of the cold-start planner on real traces, against on-demand, static
/// PC (peak and median need), Application Auto Scaling target tracking at 0.7, a fixed
/// keep-warm pinger, an hour-of-week schedule and perfect-foresight oracles.
///
/// Every aggregate series runs at mean 1 req/s and 50 req/s, every Azure function at its
/// real counts, each at reclaim times of 5 and 15 minutes; long traces over their last 7
/// days with up to 28 days of history before. Request by request on the simulator's
/// environment pool; 512 MB x86_64, 200 ms lognormal durations, ≈ 300 ms INIT.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  autopilot bench concurrency\n  autopilot bench concurrency --traces my-traces/\n  autopilot bench concurrency --diagnose 'nyc_taxi @50/s' --reclaim 15 --policy ours-capped"
)]
pub struct ConcurrencyArgs {
    /// Folder of trace CSVs (timestamp,count; Azure Functions 2019; request logs).
    #[arg(long, default_value = "../shared/data/traces")]
    pub traces: PathBuf,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Only the cases whose label (`name @scaling trigger`, e.g. `@50/s`, `timer`) contains
    /// this; repeat for several. For development runs: the summary line is then of a subset.
    #[arg(long)]
    pub only: Vec<String>,
    /// Only the half (0 or 1) of the traces whose name hashes to it, for hold-out checks.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub half: Option<u8>,
    /// Instead of the benchmark: one case (the first whose label, `name @scaling trigger`,
    /// contains this), minute by minute — each plan's slot and its reasons, PC requests,
    /// warm-up rounds, calls, cold starts — then the run against on-demand, with the cold
    /// starts the plans expected beside those that came.
    #[arg(long)]
    pub diagnose: Option<String>,
    /// Reclaim time of the diagnosed case (minutes idle).
    #[arg(long, default_value_t = 5, requires = "diagnose")]
    pub reclaim: u32,
    /// Which of our policies the diagnosed case runs: ours, ours-capped, ours-pc-only,
    /// ours-pc-only-cap.
    #[arg(long, default_value = "ours", requires = "diagnose")]
    pub policy: String,
}

pub fn run(args: &ConcurrencyArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let dir = require_dir(&args.traces)
        .map_err(|e| CliError::BadInput { path: args.traces.clone(), problem: e.to_string() })?;
    if let Some(case) = &args.diagnose {
        return diagnose_case(&dir, case, args, out);
    }
    writeln!(err, "concurrency: simulating every case of {} on {} threads ...", dir.display(), args.threads)?;
    // Progress from the worker threads goes to the process's stderr (the `err` writer is
    // not shareable across threads).
    let selection = Selection { only: args.only.clone(), half: args.half };
    let report = run_dir(&dir, &selection, args.threads, &|done, total, label| {
        let _ = writeln!(std::io::stderr(), "  [{done}/{total}] {label}");
    })?;
    writeln!(out, "policies: {}", POLICIES[1..].join(", "))?;
    writeln!(
        out,
        "ours = core forecaster + planner every 5 min with the default policy and keepWarm on; ours-capped = the same with maxExtraCostPct 5; ours-pc-only(-cap) = both without keep-warm"
    )?;
    writeln!(
        out,
        "cells: cold-start reduction % / cost delta % vs on-demand; need = median/peak concurrency of a 5-min slot"
    )?;
    write!(out, "{}", report.case_table())?;
    writeln!(out)?;
    write!(out, "{}", report.group_table())?;
    writeln!(out, "{}", report.added_cold_starts_line())?;
    writeln!(out, "{}", report.whole_window_line())?;
    writeln!(out, "{}", report.warmup_line())?;
    writeln!(out, "{}", report.target_tracking_line())?;
    writeln!(out, "wall time: {:.1} s", report.seconds)?;
    writeln!(out, "{}", report.summary_line())?;
    Ok(())
}

fn diagnose_case(
    dir: &std::path::Path,
    case: &str,
    args: &ConcurrencyArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let policy = policy_named(&args.policy)
        .ok_or_else(|| CliError::InvalidOption(format!("--policy {}: one of {}", args.policy, DIAGNOSED.join(", "))))?;
    if args.reclaim == 0 {
        return Err(CliError::InvalidOption("--reclaim must be at least 1 minute".into()));
    }
    let workloads = cases::workloads(dir)?;
    let selection = Selection { only: vec![case.to_string()], half: None };
    let Some(workload) = workloads.iter().find(|w| selection.keeps(w)) else {
        return Err(CliError::BadInput {
            path: dir.to_path_buf(),
            problem: format!("no case's label (`name @scaling trigger`) contains {case:?}"),
        });
    };
    let d = diagnose(workload, args.reclaim, policy);
    writeln!(out, "{} ({}), reclaim {} min, minute by minute:", d.label, args.policy, args.reclaim)?;
    for line in &d.lines {
        writeln!(out, "{line}")?;
    }
    write!(out, "{}", d.summary())?;
    Ok(())
}
