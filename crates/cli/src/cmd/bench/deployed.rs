//! `autopilot bench deployed`.

use std::io::Write;

use autopilot_bench::deployed::run_deployed;
use autopilot_sim::SimReport;
use clap::Args;

use crate::CliError;

/// The deployed steps against the simulator's slot and doing nothing, on the demo fleet.
///
/// Runs what the five Lambdas run (crates/runner: collect, forecast and apply-concurrency every
/// 5 minutes, collect and tune-memory daily, each starting from the stats of its window as a
/// Lambda does) in the simulator, and what `autopilot simulate` runs (the same engines kept
/// alive for the whole simulation), on the same fleet and seeds. Per function and in total:
/// cold starts callers waited for and cost of each. Figures are the last line.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  autopilot bench deployed\n  autopilot bench deployed --days 14 --seed 7")]
pub struct DeployedArgs {
    /// Functions of the demo fleet (the 13 archetypes, cycled with jitter beyond 13).
    #[arg(long, default_value_t = 13, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub functions: u32,
    /// Simulated days (fractions allowed).
    #[arg(long, default_value_t = 7.0)]
    pub days: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn pct(after: f64, before: f64) -> f64 {
    if before > 0.0 { 100.0 * (after - before) / before } else { 0.0 }
}

/// Cold starts callers waited for, in total ([`autopilot_sim::FunctionReport::callers_cold_starts`]).
fn cold(r: &SimReport) -> f64 {
    r.total.callers_cold_starts() as f64
}

pub fn run(args: &DeployedArgs, out: &mut dyn Write, _err: &mut dyn Write) -> Result<(), CliError> {
    if !(args.days > 0.0 && args.days <= 60.0) {
        return Err(CliError::InvalidOption(format!("--days {}: expected more than 0 and at most 60", args.days)));
    }
    let f = run_deployed(args.functions as usize, args.days, args.seed).map_err(|e| CliError::Step(e.to_string()))?;
    writeln!(
        out,
        "demo fleet of {} functions, {} day(s), seed {}: do nothing / the simulator's slot (`autopilot simulate`) / the deployed steps",
        args.functions, args.days, args.seed
    )?;
    writeln!(
        out,
        "{:<22} {:<14} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
        "function", "traffic", "cold", "slot", "deployed", "cost $", "slot", "deployed"
    )?;
    let rows = f.baseline.functions.iter().zip(&f.slot.functions).zip(&f.deployed.functions);
    for ((b, s), d) in rows.chain(std::iter::once(((&f.baseline.total, &f.slot.total), &f.deployed.total))) {
        let name = if std::ptr::eq(b, &f.baseline.total) { "total" } else { b.name.as_str() };
        writeln!(
            out,
            "{:<22} {:<14} {:>9} {:>9} {:>9} {:>10.4} {:>10.4} {:>10.4}",
            name,
            b.traffic,
            b.callers_cold_starts(),
            s.callers_cold_starts(),
            d.callers_cold_starts(),
            b.cost_usd,
            s.cost_usd,
            d.cost_usd
        )?;
    }
    writeln!(
        out,
        "cold starts: those callers waited for; warm-up calls: slot {} ({} landed cold), deployed {} ({} landed cold)",
        f.slot.total.warmups.sent,
        f.slot.total.warmups.landed_cold,
        f.deployed_warm_sent,
        f.deployed.total.warmups.landed_cold
    )?;
    writeln!(
        out,
        "the deployed forecast step fitted and kept a model {} times: {:.2} per function per day (each a read of the history and two writes)",
        f.deployed_refits,
        f.deployed_refits as f64 / (args.functions as f64 * args.days)
    )?;
    writeln!(
        out,
        "deployed: functions={} days={} cost_delta_pct={:.1} cold_start_delta_pct={:.1} slot_cost_delta_pct={:.1} slot_cold_start_delta_pct={:.1}",
        args.functions,
        args.days,
        pct(f.deployed.total.cost_usd, f.baseline.total.cost_usd),
        pct(cold(&f.deployed), cold(&f.baseline)),
        pct(f.slot.total.cost_usd, f.baseline.total.cost_usd),
        pct(cold(&f.slot), cold(&f.baseline)),
    )?;
    Ok(())
}
