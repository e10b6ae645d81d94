//! `autopilot bench scale`.

use std::io::Write;

use autopilot_bench::scale::{run_fleet, run_scale};
use clap::Args;

use crate::CliError;
use crate::progress::Progress;

/// Decisions per second and wall time of a large simulated fleet.
///
/// Simulates N synthetic functions (default 10,000) for a day with a placeholder policy that
/// lists every function through the control port and keeps it, on the real schedule (memory
/// daily, concurrency every 5 minutes); then times what `autopilot simulate --functions 1000
/// --days 14` simulates: the do-nothing baseline and the autopilot run (memory tuner and
/// concurrency planner). Figures are the last lines.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  autopilot bench scale\n  taskset -c 0 autopilot bench scale --functions 2000 --skip-fleet"
)]
pub struct ScaleArgs {
    /// Synthetic functions to simulate.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub functions: u32,
    /// Simulated days.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip the 1,000 functions × 14 days run.
    #[arg(long)]
    pub skip_fleet: bool,
}

pub fn run(args: &ScaleArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    if args.days == 0 {
        return Err(CliError::InvalidOption("--days must be at least 1".into()));
    }
    let mut bar = Progress::new("scale    ");
    let f = run_scale(args.functions as usize, f64::from(args.days), args.seed, &mut |d, t| bar.update(err, d, t));
    bar.finish(err);
    writeln!(
        out,
        "policy: keep-all placeholder (lists every function through the port and keeps it: the port round trip and the scheduling, not the engines)"
    )?;
    writeln!(
        out,
        "simulated {} function-days, {} invocations, {:.0} function-minutes/s",
        u64::from(args.functions) * u64::from(args.days),
        f.invocations,
        f.function_minutes_per_second
    )?;
    let fleet = if args.skip_fleet {
        None
    } else {
        let mut bar = Progress::new("1000×14d ");
        let r = run_fleet(1_000, 14.0, args.seed, &mut |d, t| bar.update(err, d, t));
        bar.finish(err);
        Some(r)
    };
    writeln!(
        out,
        "scale: {} functions × {} day(s): wall {:.2} s, {} decisions in {:.3} s of policy time = {:.0} decisions/s",
        f.functions, args.days, f.wall_seconds, f.decisions, f.policy_seconds, f.decisions_per_second
    )?;
    if let Some(f) = fleet {
        writeln!(
            out,
            "simulate --functions 1000 --days 14: wall {:.2} s (baseline {:.2} s, autopilot {:.2} s: memory tuner {:.2} s, concurrency planner {:.2} s of which {} plans {:.2} s; {} invocations)",
            f.wall_seconds(),
            f.baseline_seconds,
            f.autopilot_seconds,
            f.memory_seconds,
            f.concurrency_seconds,
            f.plans,
            f.planning_seconds,
            f.invocations
        )?;
    }
    Ok(())
}
